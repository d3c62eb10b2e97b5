#!/usr/bin/env bash
# Build (once, cached) the binaries of a real Kubernetes control plane for the tests of run-dbt.sh and the
# chart: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and KWOK, which simulates the node
# and its pods. Everything is built with the ordinary `go` command from Go modules; nothing is committed.
#
#   scripts/install-kube-cluster.sh          # build, or a fast no-op when the binaries are there
#   GEN_KUBE_HOME=/some/dir scripts/install-kube-cluster.sh
#   scripts/install-kube-cluster.sh --check  # print the bin directory if built, else fail (never builds)
#
# The binaries (about 400 MiB) and the wrapper modules live in $GEN_KUBE_HOME (default
# ~/.cache/gen/kube/<versions>), outside the repository, so a clean clone on the same machine reuses them.
# A cold build takes about 35 minutes on 2 cores (kube-apiserver alone about 20); with a warm Go build
# cache it takes well under a minute. Prints the bin directory on stdout.
set -euo pipefail

ETCD_VERSION=v3.6.16
K8S_VERSION=v1.36.3
K8S_STAGING_VERSION=v0.36.3
KWOK_VERSION=v0.8.0
# The staging modules gen's build does not need; the others are taken at $K8S_STAGING_VERSION, but for
# sample-apiserver, which is published only from the next patch on.
SKIP_STAGING="k8s.io/sample-cli-plugin k8s.io/sample-controller"
declare -A STAGING_OVERRIDE=([k8s.io/sample-apiserver]=v0.36.4)

RECIPE="etcd=$ETCD_VERSION kubernetes=$K8S_VERSION staging=$K8S_STAGING_VERSION kwok=$KWOK_VERSION"
HOME_DIR="${GEN_KUBE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/gen/kube/$K8S_VERSION-$ETCD_VERSION-$KWOK_VERSION}"
BIN="$HOME_DIR/bin"
STAMP="$HOME_DIR/.built"
BINARIES="etcd kube-apiserver kube-controller-manager kube-scheduler kwok"

die() { echo "install-kube-cluster: ERROR: $*" >&2; exit 1; }
log() { echo "install-kube-cluster: $*" >&2; }

have_all() {
    [[ -f "$STAMP" && "$(cat "$STAMP")" == "$RECIPE" ]] || return 1
    for b in $BINARIES; do [[ -x "$BIN/$b" ]] || return 1; done
}
if have_all; then echo "$BIN"; exit 0; fi
if [[ ${1:-} == --check ]]; then
    echo "install-kube-cluster: the control plane ($RECIPE) is not built in $BIN; run: make setup-kube" >&2
    exit 1
fi

command -v go >/dev/null 2>&1 || die "go not found on PATH (the control plane is built from Go modules; install Go >= 1.26)."
mkdir -p "$BIN" "$HOME_DIR/src"
# One build at a time per cache folder (CI and a developer's shell may start it together).
exec 9>"$HOME_DIR/.lock"
flock 9
if have_all; then echo "$BIN"; exit 0; fi

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
BUILD=(go build -trimpath -ldflags "-s -w")

# A wrapper module per upstream project: their own go.mod files replace their sibling modules with
# relative paths, which only hold inside their source trees.
wrapper() {  # <dir> <module require line...>
    local dir="$HOME_DIR/src/$1"; shift
    mkdir -p "$dir"
    {
        echo "module gen.local/kube-build/$(basename "$dir")"
        echo
        echo "go 1.26"
        echo
        for req in "$@"; do echo "require $req"; done
    } >"$dir/go.mod"
    echo "$dir"
}

build() {  # <dir> <output> <package>
    local dir=$1 out=$2 pkg=$3
    if [[ -x "$BIN/$out" && -f "$BIN/.$out.recipe" && "$(cat "$BIN/.$out.recipe")" == "$RECIPE" ]]; then
        return 0
    fi
    log "building $out ($pkg)"
    local started=$SECONDS
    (cd "$dir" && "${BUILD[@]}" -o "$BIN/$out.new" "$pkg") || die "go build of $pkg failed (see above)."
    mv -f "$BIN/$out.new" "$BIN/$out"
    echo "$RECIPE" >"$BIN/.$out.recipe"
    log "built $out in $((SECONDS - started)) s"
}

# etcd: the server module's main package.
etcd_dir=$(wrapper etcd "go.etcd.io/etcd/server/v3 $ETCD_VERSION")
(cd "$etcd_dir" && go mod download go.etcd.io/etcd/server/v3 >/dev/null) || die "cannot download etcd $ETCD_VERSION."
build "$etcd_dir" etcd go.etcd.io/etcd/server/v3

# kwok: the standalone binary.
kwok_dir=$(wrapper kwok "sigs.k8s.io/kwok $KWOK_VERSION")
build "$kwok_dir" kwok sigs.k8s.io/kwok/cmd/kwok

# Kubernetes: require k8s.io/kubernetes and replace each staging module (required there as v0.0.0) with
# its published release.
k8s_dir=$(wrapper kubernetes "k8s.io/kubernetes $K8S_VERSION")
k8s_mod=$(cd "$k8s_dir" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" \
    | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
[[ -s "$k8s_mod" ]] || die "cannot download the go.mod of k8s.io/kubernetes $K8S_VERSION."
while read -r module; do
    [[ " $SKIP_STAGING " == *" $module "* ]] && continue
    echo "replace $module => $module ${STAGING_OVERRIDE[$module]:-$K8S_STAGING_VERSION}" >>"$k8s_dir/go.mod"
done < <(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$k8s_mod" | sort -u)
for cmd in kube-scheduler kube-controller-manager kube-apiserver; do
    build "$k8s_dir" "$cmd" "k8s.io/kubernetes/cmd/$cmd"
done

echo "$RECIPE" >"$STAMP"
log "ready in $BIN"
echo "$BIN"
