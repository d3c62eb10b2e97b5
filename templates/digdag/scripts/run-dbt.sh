#!/usr/bin/env bash
# run-dbt.sh: runs one `dbt build` for a Digdag task, either as a Kubernetes
# Job (rendered by `helm template`, applied by `kubectl apply`, then watched)
# or locally. Every generated workflow calls it from the project directory:
#
#   +dbt_build:
#     sh>: bash scripts/run-dbt.sh
#     _env: { GEN_RUNNER: ..., GEN_WORKFLOW: ..., GEN_SELECTS: ..., ... }
#
# Inputs (environment):
#   GEN_RUNNER             "k8s" (default) or "local"
#   GEN_WORKFLOW           [A-Za-z_][A-Za-z0-9_]*, <= 200 chars
#   GEN_JOB_SLUG           [a-z0-9]([a-z0-9-]*[a-z0-9])?, <= 30 chars
#   GEN_SESSION_TIME       ISO-8601 timestamp with offset, e.g. 2024-03-02T00:00:00+09:00
#   GEN_SESSION_ID         digits
#   GEN_ATTEMPT_ID         digits
#   GEN_SELECTS            JSON array of strings (passed on as-is, never re-encoded)
#   GEN_VARS               JSON object (passed on as-is; empty means {})
#   GEN_DBT_ARGS           JSON array of extra dbt flags, e.g. ["--indirect-selection", "buildable"]
#   GEN_SESSION_TIME_MODE  "vars" (default): --vars gets digdag_session_time;
#                          "env": only the env var. DIGDAG_SESSION_TIME is always set.
#   k8s runner:
#   GEN_K8S_NAMESPACE      DNS label (required)
#   GEN_K8S_CONTEXT        kube context (optional)
#   GEN_CHART              local chart dir relative to cwd, or oci://..., or repo/chart
#   GEN_CHART_VERSION      exact chart version; required for a remote chart
#   GEN_IMAGE_TAG          optional image tag override (or sha256:<64 hex> digest)
#   GEN_VALUES_FILE        optional values file relative to cwd (your settings)
#   GEN_TIMEOUT_SECONDS    wait at most this long for the Job (default 3600)
#   GEN_POLL_SECONDS       poll interval (default 10; fractions allowed)
#   GEN_START_TIMEOUT_SECONDS  fail when the pod has not started after this long (default 600)
#   GEN_STUCK_GRACE_SECONDS    fail when a pod stays in ImagePullBackOff, ErrImagePull,
#                          CreateContainerConfigError, ... this long (default 60)
#   GEN_DRY_RUN            "true": render and print the manifests, apply nothing
#   GEN_HELM, GEN_KUBECTL  helm / kubectl executables (default: found on PATH)
#   local runner:
#   GEN_DBT_PROJECT_DIR    dbt project dir (required)
#   GEN_DBT_PROFILES_DIR   dbt profiles dir (optional)
#   GEN_PYTHON             python with dbt installed (default python3)
#   GEN_DBT                dbt executable (default dbt)
#
# Job name: dbt-<slug>-<first 10 hex of sha256("<workflow>|<session_time>|<attempt_id>")>.
# A retried attempt gets a new Job; re-running the same attempt finds the Job
# that already exists and waits on / reports it instead of starting a new one.
#
# Exit codes:
#   0  success (dbt build succeeded)
#   1  dbt failed: the Job failed (its logs are printed above)
#   2  invalid input (bad or missing GEN_* variable, missing values file)
#   3  tooling error: helm/kubectl missing, `helm template` or `kubectl apply` failed,
#      the chart rendered no Job with the expected name, the Job vanished
#   4  timeout: the Job did not finish within GEN_TIMEOUT_SECONDS (the Job is deleted)
#   5  the pod never started (image pull error, bad config, unschedulable or
#      pending past GEN_START_TIMEOUT_SECONDS; the Job is deleted)
#   130/143  interrupted / killed (the Job this run created is deleted)
#   local runner: dbt's own exit code (dbt: 1 = failure, 2 = error), or 2 for
#   invalid input.
set -euo pipefail

EXIT_DBT_FAILED=1
EXIT_INVALID=2
EXIT_TOOLING=3
EXIT_TIMEOUT=4
EXIT_NEVER_STARTED=5

log() { printf '[run-dbt] %s\n' "$*"; }
die() { # die CODE MESSAGE
  local code=$1
  shift
  printf '[run-dbt] ERROR: %s\n' "$*" >&2
  exit "$code"
}
invalid() { die "$EXIT_INVALID" "$*"; }

# --- validation helpers ------------------------------------------------------

# require_match NAME VALUE REGEX DESCRIPTION [MAXLEN]
require_match() {
  local name=$1 value=$2 re=$3 what=$4 max=${5:-0}
  local LC_ALL=C
  if [[ ! $value =~ $re ]]; then
    invalid "$name must be $what (got ${#value} chars: $(printf '%q' "${value:0:80}"))"
  fi
  if ((max > 0 && ${#value} > max)); then
    invalid "$name must be at most $max characters (got ${#value})"
  fi
}

# JSON string literal (RFC 8259): no raw control characters, valid escapes only.
JSON_STRING_RE='"([^"\\[:cntrl:]]|\\["\\/bfnrtu])*"'
# (\u must be followed by 4 hex digits; checked separately below.)

# json_strip_strings TEXT: prints TEXT with every JSON string literal replaced
# by "" (so brackets inside strings no longer count); fails on a bad string.
json_strip_strings() {
  local LC_ALL=C
  local rest=$1 out="" re="^([^\"]*)(${JSON_STRING_RE})(.*)\$" str
  while [[ $rest == *'"'* ]]; do
    if [[ ! $rest =~ $re ]]; then
      return 1
    fi
    str=${BASH_REMATCH[2]}
    out+="${BASH_REMATCH[1]}\"\""
    rest=${BASH_REMATCH[4]}
    # every \u escape needs exactly four hex digits
    local probe=${str//\\\\/}
    while [[ $probe == *'\u'* ]]; do
      probe=${probe#*\\u}
      [[ $probe =~ ^[0-9a-fA-F]{4} ]] || return 1
    done
  done
  printf '%s' "$out$rest"
}

# is_json_string_array TEXT: TEXT is exactly one JSON array of strings.
is_json_string_array() {
  local LC_ALL=C stripped ws='[[:space:]]*'
  stripped=$(json_strip_strings "$1") || return 1
  [[ $stripped =~ ^${ws}\[${ws}(\"\"${ws}(,${ws}\"\"${ws})*)?\]${ws}$ ]]
}

# is_single_json_object TEXT: TEXT (strings aside) consists of JSON tokens and
# is exactly one {...} whose brackets balance and close only at the end, so it
# cannot add keys next to it when embedded in the values document. Its inner
# grammar is then checked by helm's parser.
is_single_json_object() {
  local LC_ALL=C stripped compact i c depth=0 n
  stripped=$(json_strip_strings "$1") || return 1
  [[ $stripped =~ ^[][{}:,\"[:space:]0-9eE.+a-z-]*$ ]] || return 1
  compact=${stripped//[[:space:]]/}
  [[ $compact == '{'*'}' ]] || return 1
  n=${#compact}
  for ((i = 0; i < n; i++)); do
    c=${compact:i:1}
    case $c in
      '{' | '[') depth=$((depth + 1)) ;;
      '}' | ']')
        depth=$((depth - 1))
        if ((depth == 0 && i != n - 1)) || ((depth < 0)); then
          return 1
        fi
        ;;
    esac
  done
  ((depth == 0))
}

# has_yaml_unsafe_text TEXT: TEXT holds something JSON allows but helm's YAML
# parser rejects (or that cannot be rendered back into a manifest): the \/
# escape, UTF-16 surrogate escapes (\uD83D\uDE80: write such characters
# literally, i.e. json.dumps(..., ensure_ascii=False)), and U+007F-U+009F
# (but U+0085), U+FFFE, U+FFFF whether escaped or raw.
has_yaml_unsafe_text() {
  local LC_ALL=C s=${1//\\\\/}
  local escaped='\\(/|u[dD][89abAB]|u[fF][fF][fF][eEfF]|u007[fF]|u008[0-46-9a-fA-F]|u009[0-9a-fA-F])'
  local raw=$'\xc2[\x80-\x84\x86-\x9f]|\xef\xbf[\xbe\xbf]'
  [[ $s =~ $escaped || $s =~ $raw ]]
}

count_json_strings() { # count_json_strings ARRAY_TEXT
  local stripped
  stripped=$(json_strip_strings "$1")
  stripped=${stripped//[^\"]/}
  echo $((${#stripped} / 2))
}

sha256_hex() { # sha256_hex TEXT
  if command -v sha256sum >/dev/null 2>&1; then
    printf '%s' "$1" | sha256sum | cut -c1-64
  elif command -v shasum >/dev/null 2>&1; then
    printf '%s' "$1" | shasum -a 256 | cut -c1-64
  elif command -v openssl >/dev/null 2>&1; then
    printf '%s' "$1" | openssl dgst -sha256 -r | cut -c1-64
  else
    die "$EXIT_TOOLING" "need sha256sum, shasum or openssl to name the Job"
  fi
}

# --- common inputs -------------------------------------------------------------

RUNNER=${GEN_RUNNER:-k8s}
[[ $RUNNER == k8s || $RUNNER == local ]] || invalid "GEN_RUNNER must be \"k8s\" or \"local\" (got $(printf '%q' "$RUNNER"))"

WORKFLOW=${GEN_WORKFLOW:-}
JOB_SLUG=${GEN_JOB_SLUG:-}
SESSION_TIME=${GEN_SESSION_TIME:-}
SESSION_ID=${GEN_SESSION_ID:-}
ATTEMPT_ID=${GEN_ATTEMPT_ID:-}
SESSION_TIME_MODE=${GEN_SESSION_TIME_MODE:-vars}
SELECTS=${GEN_SELECTS:-}
VARS=${GEN_VARS:-}
[[ -n ${VARS//[[:space:]]/} ]] || VARS='{}'
DBT_ARGS=${GEN_DBT_ARGS:-}
[[ -n ${DBT_ARGS//[[:space:]]/} ]] || DBT_ARGS='[]'

require_match GEN_WORKFLOW "$WORKFLOW" '^[A-Za-z_][A-Za-z0-9_]*$' 'a workflow name matching [A-Za-z_][A-Za-z0-9_]*' 200
require_match GEN_JOB_SLUG "$JOB_SLUG" '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$' 'a DNS-safe slug matching [a-z0-9]([a-z0-9-]*[a-z0-9])?' 30
require_match GEN_SESSION_TIME "$SESSION_TIME" \
  '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])$' \
  'an ISO-8601 timestamp with offset, e.g. 2024-03-02T00:00:00+09:00'
require_match GEN_SESSION_ID "$SESSION_ID" '^[0-9]{1,19}$' 'digits'
require_match GEN_ATTEMPT_ID "$ATTEMPT_ID" '^[0-9]{1,19}$' 'digits'
[[ $SESSION_TIME_MODE == vars || $SESSION_TIME_MODE == env ]] ||
  invalid "GEN_SESSION_TIME_MODE must be \"vars\" or \"env\" (got $(printf '%q' "$SESSION_TIME_MODE"))"
[[ -n ${SELECTS//[[:space:]]/} ]] || invalid "GEN_SELECTS must be a JSON array of strings (it is empty)"
is_json_string_array "$SELECTS" || invalid "GEN_SELECTS must be a JSON array of strings"
is_single_json_object "$VARS" || invalid "GEN_VARS must be a JSON object"
is_json_string_array "$DBT_ARGS" || invalid "GEN_DBT_ARGS must be a JSON array of strings"
for _name in GEN_SELECTS GEN_VARS GEN_DBT_ARGS; do
  case $_name in
    GEN_SELECTS) _text=$SELECTS ;;
    GEN_VARS) _text=$VARS ;;
    *) _text=$DBT_ARGS ;;
  esac
  if has_yaml_unsafe_text "$_text"; then
    invalid "$_name contains text helm cannot carry: a \\/ escape, a UTF-16 surrogate escape such as \\uD83D (write such characters literally: json.dumps(..., ensure_ascii=False)), or U+007F-U+009F/U+FFFE/U+FFFF"
  fi
done
unset _name _text
SELECT_COUNT=$(count_json_strings "$SELECTS")

export DIGDAG_SESSION_TIME=$SESSION_TIME
export DIGDAG_WORKFLOW=$WORKFLOW
export DIGDAG_SESSION_ID=$SESSION_ID
export DIGDAG_ATTEMPT_ID=$ATTEMPT_ID

# --- local runner --------------------------------------------------------------

run_local() {
  local project_dir=${GEN_DBT_PROJECT_DIR:-} profiles_dir=${GEN_DBT_PROFILES_DIR:-}
  local python=${GEN_PYTHON:-python3} dbt=${GEN_DBT:-dbt}
  [[ -n $project_dir ]] || invalid "GEN_DBT_PROJECT_DIR must be set for the local runner"
  [[ -d $project_dir ]] || invalid "GEN_DBT_PROJECT_DIR is not a directory: $project_dir"
  [[ -z $profiles_dir || -d $profiles_dir ]] || invalid "GEN_DBT_PROFILES_DIR is not a directory: $profiles_dir"
  command -v "$python" >/dev/null 2>&1 || die "$EXIT_TOOLING" "python not found: $python (set GEN_PYTHON)"
  # dbt runs from the dbt project's folder, as a developer runs it, so relative paths in profiles.yml
  # resolve there and nothing dbt writes (a DuckDB file, logs/) lands in the Digdag project.
  project_dir=$(cd "$project_dir" && pwd)
  [[ -z $profiles_dir ]] || profiles_dir=$(cd "$profiles_dir" && pwd)
  [[ $dbt != */* || $dbt == /* ]] || dbt=$PWD/$dbt
  cd "$project_dir"

  log "runner=local workflow=$WORKFLOW session_time=$SESSION_TIME attempt=$ATTEMPT_ID selects=$SELECT_COUNT"
  log "project_dir=$project_dir profiles_dir=${profiles_dir:-<dbt default>} dbt=$dbt"
  # JSON is decoded by python and handed to dbt as an argv list: no shell
  # ever sees the values. exec replaces this process, so dbt's exit code is ours.
  RUN_DBT_EXE=$dbt RUN_DBT_PROJECT_DIR=$project_dir RUN_DBT_PROFILES_DIR=$profiles_dir \
    RUN_DBT_SELECTS=$SELECTS RUN_DBT_VARS=$VARS RUN_DBT_ARGS=$DBT_ARGS RUN_DBT_MODE=$SESSION_TIME_MODE \
    exec "$python" -c '
import json, os, sys
env = os.environ
try:
    selects = json.loads(env["RUN_DBT_SELECTS"])
    dbt_vars = json.loads(env["RUN_DBT_VARS"])
    extra = json.loads(env["RUN_DBT_ARGS"])
except ValueError as e:
    sys.stderr.write("[run-dbt] ERROR: GEN_SELECTS/GEN_VARS is not valid JSON: %s\n" % e)
    sys.exit(2)
if not isinstance(selects, list) or not all(isinstance(s, str) for s in selects):
    sys.stderr.write("[run-dbt] ERROR: GEN_SELECTS must be a JSON array of strings\n")
    sys.exit(2)
if not isinstance(dbt_vars, dict):
    sys.stderr.write("[run-dbt] ERROR: GEN_VARS must be a JSON object\n")
    sys.exit(2)
if env["RUN_DBT_MODE"] == "vars":
    dbt_vars["digdag_session_time"] = env["DIGDAG_SESSION_TIME"]
argv = [env["RUN_DBT_EXE"], "build", "--project-dir", env["RUN_DBT_PROJECT_DIR"]]
if env["RUN_DBT_PROFILES_DIR"]:
    argv += ["--profiles-dir", env["RUN_DBT_PROFILES_DIR"]]
for s in selects:
    argv += ["--select", s]
argv += ["--vars", json.dumps(dbt_vars, ensure_ascii=False)]
argv += [str(a) for a in extra]
for k in [k for k in env if k.startswith("RUN_DBT_")]:
    del os.environ[k]
sys.stdout.flush()
try:
    os.execvp(argv[0], argv)
except OSError as e:
    sys.stderr.write("[run-dbt] ERROR: cannot run %s: %s\n" % (argv[0], e))
    sys.exit(3)
'
}

if [[ $RUNNER == local ]]; then
  run_local
fi

# --- k8s runner ----------------------------------------------------------------

NAMESPACE=${GEN_K8S_NAMESPACE:-}
CONTEXT=${GEN_K8S_CONTEXT:-}
CHART=${GEN_CHART:-charts/dbt-job}
CHART_VERSION=${GEN_CHART_VERSION:-}
IMAGE_TAG=${GEN_IMAGE_TAG:-}
VALUES_FILE=${GEN_VALUES_FILE:-}
TIMEOUT=${GEN_TIMEOUT_SECONDS:-3600}
POLL=${GEN_POLL_SECONDS:-10}
START_TIMEOUT=${GEN_START_TIMEOUT_SECONDS:-600}
STUCK_GRACE=${GEN_STUCK_GRACE_SECONDS:-60}
DRY_RUN=${GEN_DRY_RUN:-false}
HELM=${GEN_HELM:-helm}
KUBECTL=${GEN_KUBECTL:-kubectl}

require_match GEN_K8S_NAMESPACE "$NAMESPACE" '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$' 'a DNS label (namespace)' 63
[[ -z $CONTEXT ]] || require_match GEN_K8S_CONTEXT "$CONTEXT" '^[A-Za-z0-9_][A-Za-z0-9_.:/@+-]*$' 'a kube context name' 253
require_match GEN_CHART "$CHART" '^[A-Za-z0-9_.][A-Za-z0-9_./:@+-]*$' 'a chart path relative to the project dir, oci://... or repo/chart' 500
[[ -z $CHART_VERSION ]] || require_match GEN_CHART_VERSION "$CHART_VERSION" '^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$' 'an exact chart version such as 0.1.0' 100
if [[ $CHART == *://* || ! -e $CHART ]]; then
  [[ -n $CHART_VERSION ]] || invalid "GEN_CHART_VERSION must be set for the remote chart $CHART (no local path $CHART exists)"
fi
IMAGE_KEY=""
if [[ -n $IMAGE_TAG ]]; then
  if [[ $IMAGE_TAG =~ ^sha256:[a-f0-9]{64}$ ]]; then
    IMAGE_KEY=digest
  else
    require_match GEN_IMAGE_TAG "$IMAGE_TAG" '^[A-Za-z0-9_][A-Za-z0-9_.-]*$' 'an image tag or sha256:<64 hex> digest' 128
    IMAGE_KEY=tag
  fi
fi
if [[ -n $VALUES_FILE ]]; then
  require_match GEN_VALUES_FILE "$VALUES_FILE" '^[A-Za-z0-9_.][A-Za-z0-9_./-]*$' 'a values file path relative to the project dir' 500
  [[ -f $VALUES_FILE ]] || invalid "GEN_VALUES_FILE does not exist: $VALUES_FILE (cwd $(pwd))"
fi
require_match GEN_TIMEOUT_SECONDS "$TIMEOUT" '^[1-9][0-9]{0,7}$' 'a positive number of seconds'
require_match GEN_POLL_SECONDS "$POLL" '^[0-9]{1,5}(\.[0-9]{1,3})?$' 'a number of seconds'
require_match GEN_START_TIMEOUT_SECONDS "$START_TIMEOUT" '^[0-9]{1,8}$' 'a number of seconds'
require_match GEN_STUCK_GRACE_SECONDS "$STUCK_GRACE" '^[0-9]{1,8}$' 'a number of seconds'
[[ $DRY_RUN == true || $DRY_RUN == false ]] || invalid "GEN_DRY_RUN must be \"true\" or \"false\""

HASH=$(sha256_hex "$WORKFLOW|$SESSION_TIME|$ATTEMPT_ID")
JOB="dbt-$JOB_SLUG-${HASH:0:10}"

command -v "$HELM" >/dev/null 2>&1 || die "$EXIT_TOOLING" "helm not found: $HELM (install helm or set GEN_HELM)"
command -v "$KUBECTL" >/dev/null 2>&1 || die "$EXIT_TOOLING" "kubectl not found: $KUBECTL (install kubectl or set GEN_KUBECTL)"

KUBE=("$KUBECTL")
[[ -z $CONTEXT ]] || KUBE+=(--context "$CONTEXT")
KUBE+=(--namespace "$NAMESPACE")

WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/run-dbt.XXXXXXXX")
CREATED_JOB=false
FINISHED=false
cleanup() { rm -rf "$WORKDIR"; }
on_signal() { # on_signal EXIT_CODE
  trap - INT TERM
  if [[ $CREATED_JOB == true && $FINISHED == false ]]; then
    log "interrupted: deleting Job $JOB so that dbt does not keep running"
    "${KUBE[@]}" delete job "$JOB" --cascade=background --ignore-not-found --wait=false || true
  fi
  exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

log "runner=k8s workflow=$WORKFLOW session_time=$SESSION_TIME session_id=$SESSION_ID attempt=$ATTEMPT_ID"
log "job=$JOB namespace=$NAMESPACE${CONTEXT:+ context=$CONTEXT} chart=$CHART${CHART_VERSION:+@$CHART_VERSION} selects=$SELECT_COUNT timeout=${TIMEOUT}s"

# The values document is JSON assembled from already-valid JSON pieces and
# validated scalars; nothing is decoded or re-encoded here.
{
  printf '{\n  "dbtRunParameters": {\n    "selects": %s,\n    "vars": %s,\n' "$SELECTS" "$VARS"
  printf '    "extraArgs": %s,\n' "$DBT_ARGS"
  printf '    "sessionTimeMode": "%s"\n  },\n' "$SESSION_TIME_MODE"
  printf '  "digdag": {\n    "workflow": "%s",\n    "jobSlug": "%s",\n    "sessionTime": "%s",\n' "$WORKFLOW" "$JOB_SLUG" "$SESSION_TIME"
  printf '    "sessionId": "%s",\n    "attemptId": "%s",\n    "timeoutSeconds": %s\n  }' "$SESSION_ID" "$ATTEMPT_ID" "$TIMEOUT"
  if [[ -n $IMAGE_KEY ]]; then
    printf ',\n  "image": {\n    "%s": "%s"\n  }' "$IMAGE_KEY" "$IMAGE_TAG"
  fi
  printf '\n}\n'
} >"$WORKDIR/values.json"

HELM_ARGS=(template "$JOB" "$CHART")
[[ -z $CHART_VERSION ]] || HELM_ARGS+=(--version "$CHART_VERSION")
HELM_ARGS+=(--namespace "$NAMESPACE")
[[ -z $VALUES_FILE ]] || HELM_ARGS+=(-f "$VALUES_FILE")
HELM_ARGS+=(-f "$WORKDIR/values.json")
if ! "$HELM" "${HELM_ARGS[@]}" >"$WORKDIR/manifest.yaml" 2>"$WORKDIR/helm.err"; then
  cat "$WORKDIR/helm.err" >&2
  die "$EXIT_TOOLING" "helm template failed for chart $CHART (see above)"
fi
grep -q '^kind: Job' "$WORKDIR/manifest.yaml" || die "$EXIT_TOOLING" "chart $CHART rendered no Job"

if [[ $DRY_RUN == true ]]; then
  log "dry run: rendered manifests follow; nothing is applied"
  cat "$WORKDIR/manifest.yaml"
  exit 0
fi

# --- apply (unless this attempt's Job exists already) ----------------------------

if ! existing=$("${KUBE[@]}" get job "$JOB" --ignore-not-found -o name 2>"$WORKDIR/kubectl.err"); then
  cat "$WORKDIR/kubectl.err" >&2
  die "$EXIT_TOOLING" "cannot look up Job $JOB (kubectl get failed)"
fi
if [[ -n $existing ]]; then
  log "Job $JOB already exists: this attempt (workflow, session time, attempt id) was started before."
  log "Not starting a new run; waiting on / reporting the existing Job instead."
else
  if ! applied=$("${KUBE[@]}" apply -f "$WORKDIR/manifest.yaml" -o name 2>"$WORKDIR/kubectl.err"); then
    cat "$WORKDIR/kubectl.err" >&2
    die "$EXIT_TOOLING" "kubectl apply failed for Job $JOB"
  fi
  printf '%s\n' "$applied" | sed 's/^/[run-dbt] applied /'
  grep -qx "job.batch/$JOB" <<<"$applied" ||
    die "$EXIT_TOOLING" "the chart did not create a Job named $JOB (applied: $(tr '\n' ' ' <<<"$applied"))"
  CREATED_JOB=true
  log "Job $JOB created; waiting for it to finish (poll every ${POLL}s)"
fi

# --- wait ------------------------------------------------------------------------

print_logs() {
  log "----- logs of Job $JOB -----"
  if ! "${KUBE[@]}" logs "job/$JOB" --all-containers=true --tail=-1 2>"$WORKDIR/logs.err"; then
    log "(could not read the logs: $(tr '\n' ' ' <"$WORKDIR/logs.err"))"
  fi
  log "----- end of logs -----"
}

delete_job() { # delete_job REASON
  log "deleting Job $JOB ($1) with propagation Background so that its pod stops"
  "${KUBE[@]}" delete job "$JOB" --cascade=background --ignore-not-found --wait=false ||
    log "WARNING: could not delete Job $JOB; delete it by hand"
}

JOB_JSONPATH='{range .status.conditions[*]}{.type}={.status}={.reason}{"\n"}{end}'
# one line per pod: name|phase|waiting reasons of containers|PodScheduled reason|waiting messages
POD_JSONPATH='{range .items[*]}{.metadata.name}{"|"}{.status.phase}{"|"}{range .status.initContainerStatuses[*]}{.state.waiting.reason}{","}{end}{range .status.containerStatuses[*]}{.state.waiting.reason}{","}{end}{"|"}{range .status.conditions[*]}{.type}{"="}{.status}{"="}{.reason}{","}{end}{"|"}{range .status.initContainerStatuses[*]}{.state.waiting.message}{" "}{end}{range .status.containerStatuses[*]}{.state.waiting.message}{" "}{end}{"\n"}{end}'

start=$SECONDS
stuck_since=-1
stuck_reason=""
last_state=""
last_report=$SECONDS
while :; do
  if ! conds=$("${KUBE[@]}" get job "$JOB" -o "jsonpath=$JOB_JSONPATH" 2>"$WORKDIR/kubectl.err"); then
    if grep -q NotFound "$WORKDIR/kubectl.err"; then
      FINISHED=true
      die "$EXIT_TOOLING" "Job $JOB no longer exists (deleted by someone else, or removed by its TTL)"
    fi
    log "WARNING: kubectl get job failed, retrying: $(tr '\n' ' ' <"$WORKDIR/kubectl.err")"
    conds=""
  fi
  if grep -q '^Complete=True' <<<"$conds"; then
    FINISHED=true
    print_logs
    log "Job $JOB succeeded"
    exit 0
  fi
  if grep -q '^Failed=True' <<<"$conds"; then
    FINISHED=true
    reason=$(grep '^Failed=True' <<<"$conds" | head -n1 | cut -d= -f3)
    print_logs
    log "Job $JOB failed (${reason:-unknown reason}): dbt build did not succeed"
    exit "$EXIT_DBT_FAILED"
  fi

  elapsed=$((SECONDS - start))
  pods=$("${KUBE[@]}" get pods -l "job-name=$JOB" -o "jsonpath=$POD_JSONPATH" 2>/dev/null || true)
  started=false
  bad_reason=""
  pod_msg=""
  pod_name=""
  while IFS='|' read -r name phase waiting conditions messages; do
    [[ -n $name ]] || continue
    pod_name=$name
    case $phase in
      Running | Succeeded | Failed) started=true ;;
    esac
    for r in ${waiting//,/ }; do
      case $r in
        ImagePullBackOff | ErrImagePull | ErrImageNeverPull | InvalidImageName | CreateContainerConfigError | CreateContainerError)
          bad_reason=$r
          pod_msg=$messages
          ;;
      esac
    done
    if [[ -z $bad_reason && ,$conditions == *,PodScheduled=False=Unschedulable,* ]]; then
      pod_msg="pod $name is Unschedulable (no node fits its requests, selectors or tolerations)"
    fi
  done <<<"$pods"

  state="pending"
  $started && state="running"
  [[ -z $bad_reason ]] || state="stuck:$bad_reason"
  if [[ $state != "$last_state" ]]; then
    log "Job $JOB: pod ${pod_name:-<not created yet>} is $state"
    last_state=$state
  elif ((SECONDS - last_report >= 60)); then
    log "Job $JOB: still $state after ${elapsed}s"
    last_report=$SECONDS
  fi

  if ! $started; then
    if [[ -n $bad_reason ]]; then
      [[ $stuck_reason == "$bad_reason" ]] || stuck_since=$SECONDS
      stuck_reason=$bad_reason
      if ((SECONDS - stuck_since >= STUCK_GRACE)); then
        FINISHED=true
        log "pod ${pod_name} never started: $bad_reason${pod_msg:+: $pod_msg}"
        delete_job "pod never started"
        die "$EXIT_NEVER_STARTED" "Job $JOB never started: $bad_reason (check image.repository/tag, imagePullSecrets, and the Secrets/ConfigMaps it references)"
      fi
    else
      stuck_reason=""
      if ((elapsed >= START_TIMEOUT)); then
        FINISHED=true
        log "pod ${pod_name:-<none>} still Pending after ${elapsed}s${pod_msg:+: $pod_msg}"
        delete_job "pod never started"
        die "$EXIT_NEVER_STARTED" "Job $JOB never started within GEN_START_TIMEOUT_SECONDS=${START_TIMEOUT}s${pod_msg:+ ($pod_msg)}"
      fi
    fi
  fi

  if ((elapsed >= TIMEOUT)); then
    FINISHED=true
    print_logs
    log "timeout: Job $JOB did not finish within GEN_TIMEOUT_SECONDS=${TIMEOUT}s"
    delete_job "timeout"
    die "$EXIT_TIMEOUT" "Job $JOB timed out after ${TIMEOUT}s and was deleted"
  fi
  sleep "$POLL"
done
