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
#   GEN_SELECTS            JSON array of strings
#   GEN_VARS               JSON object (empty means {})
#   GEN_DBT_ARGS           JSON array of extra dbt flags, e.g. ["--indirect-selection", "buildable"]
#   GEN_SESSION_TIME_MODE  "env" (default, as in gen): only the env var DIGDAG_SESSION_TIME;
#                          "vars": --vars also gets digdag_session_time.
#   The JSON inputs are decoded by helm (k8s runner: --set-json, then checked
#   against the chart's values.schema.json) or by python (local runner); this
#   script never parses JSON itself.
#   k8s runner:
#   GEN_K8S_NAMESPACE      DNS label (required)
#   GEN_K8S_CONTEXT        kube context (optional; KUBECONFIG is honoured as usual)
#   GEN_CHART              local chart dir relative to cwd, or oci://..., or repo/chart
#   GEN_CHART_VERSION      exact chart version; required for a remote chart
#   GEN_IMAGE_TAG          optional image tag override (or sha256:<64 hex> digest)
#   GEN_VALUES_FILE        optional values file relative to cwd (your settings)
#   GEN_TIMEOUT_SECONDS    deadline of the whole run: the Job must finish within this
#                          many seconds of the script's start (default 3600)
#   GEN_POLL_SECONDS       poll interval (default 10; fractions allowed)
#   GEN_START_TIMEOUT_SECONDS  fail when the pod has not started after this long (default 600)
#   GEN_STUCK_GRACE_SECONDS    fail when a pod stays in ImagePullBackOff, ErrImagePull,
#                          CreateContainerConfigError, ... this long (default 60)
#   GEN_REQUEST_TIMEOUT_SECONDS  longest single Kubernetes API request (default 30; never
#                          past the deadline)
#   GEN_API_RETRY_SECONDS  how long the API may fail with transient errors (unreachable,
#                          5xx, 429, timeouts) before the run gives up (default 300)
#   GEN_RETRY_BACKOFF_SECONDS  first pause between retries, doubled up to 30 s (default 1)
#   GEN_LOG_DRAIN_SECONDS  after the Job ends, how long the log stream may take to
#                          deliver its last lines (default 10)
#   GEN_DRY_RUN            "true": render and print the manifests, apply nothing
#   GEN_HELM, GEN_KUBECTL  helm / kubectl executables (default: found on PATH)
#   local runner:
#   GEN_DBT_PROJECT_DIR    dbt project dir (required)
#   GEN_DBT_PROFILES_DIR   dbt profiles dir (optional)
#   GEN_PYTHON             python with dbt installed (default python3)
#   GEN_DBT                dbt executable (default dbt)
#
# Jobs: every Job of one Digdag attempt of this task carries the label
# digdag.io/attempt-key=<first 16 hex of sha256("<workflow>|<session_time>|<attempt_id>")>
# and a try number (label digdag.io/try); it is named dbt-<slug>-<first 10 hex>-<try>.
# Before applying, the script looks at the attempt's latest try:
#   none, or failed, or being deleted -> start the next try (a task `_retry:` keeps
#                                        the attempt id, so it lands here and runs dbt again)
#   running or pending                -> wait on it (the same try run again, e.g. after an
#                                        agent restart: dbt is not started twice)
#   succeeded                         -> report it (exit 0) without running dbt again
# `digdag retry` makes a new attempt id, hence a new attempt key and a fresh try 1.
#
# Every kubectl call has a request timeout that never reaches past the deadline (and
# a hard `timeout` around it); transient API errors are retried with back-off for at
# most GEN_API_RETRY_SECONDS. Before creating anything, `kubectl auth can-i` checks every
# permission the run will need (see the README's Role), so a missing one fails at once.
# The pod's logs are streamed into the task log while it runs (`kubectl logs -f`,
# resumed when the stream drops).
#
# Exit codes:
#   0  success (dbt build succeeded)
#   1  dbt failed: the Job failed (its logs are printed above)
#   2  invalid input (bad or missing GEN_* variable, missing values file)
#   3  tooling error: helm/kubectl missing, `helm template` or `kubectl apply` failed,
#      a missing RBAC permission, the Kubernetes API unreachable for GEN_API_RETRY_SECONDS,
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
oneline() { tr '\n\t' '  ' <"$1" | sed 's/  */ /g; s/^ //; s/ $//' | cut -c1-1500; }

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

# has_yaml_unsafe_text TEXT: TEXT holds a character the rendered YAML manifest
# cannot carry: U+007F-U+009F (but U+0085), U+FFFE or U+FFFF, raw or as a \u
# escape. A pattern search over the raw text; nothing is decoded.
has_yaml_unsafe_text() {
  local LC_ALL=C s=${1//\\\\/}
  local escaped='\\u(007[fF]|008[0-46-9a-fA-F]|009[0-9a-fA-F]|[fF][fF][fF][eEfF])'
  local raw=$'\x7f|\xc2[\x80-\x84\x86-\x9f]|\xef\xbf[\xbe\xbf]'
  [[ $s =~ $escaped || $s =~ $raw ]]
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
SESSION_TIME_MODE=${GEN_SESSION_TIME_MODE:-env}
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
for _name in GEN_SELECTS GEN_VARS GEN_DBT_ARGS; do
  case $_name in
    GEN_SELECTS) _text=$SELECTS ;;
    GEN_VARS) _text=$VARS ;;
    *) _text=$DBT_ARGS ;;
  esac
  if has_yaml_unsafe_text "$_text"; then
    invalid "$_name contains text a Kubernetes manifest cannot carry: U+007F-U+009F (but U+0085), U+FFFE or U+FFFF"
  fi
  # helm gets each value as one command-line argument, and Linux caps one argument at 128 KiB.
  _bytes=$(
    LC_ALL=C
    echo "${#_text}"
  )
  if ((_bytes > 131000)); then
    invalid "$_name is too long ($_bytes bytes; at most 131000): split the workflow's selects"
  fi
done
unset _name _text _bytes

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

  # JSON is decoded by python and handed to dbt as an argv list: no shell
  # ever sees the values. exec replaces this process, so dbt's exit code is ours.
  RUN_DBT_EXE=$dbt RUN_DBT_PROJECT_DIR=$project_dir RUN_DBT_PROFILES_DIR=$profiles_dir \
    RUN_DBT_SELECTS=$SELECTS RUN_DBT_VARS=$VARS RUN_DBT_ARGS=$DBT_ARGS RUN_DBT_MODE=$SESSION_TIME_MODE \
    exec "$python" -c '
import json, os, sys
env = os.environ
def bad(name, what, detail=""):
    sys.stderr.write("[run-dbt] ERROR: %s must be %s%s\n" % (name, what, detail))
    sys.exit(2)
def load(name, key):
    try:
        return json.loads(env[key])
    except ValueError as e:
        return bad(name, "valid JSON", " (%s)" % e)
selects = load("GEN_SELECTS", "RUN_DBT_SELECTS")
dbt_vars = load("GEN_VARS", "RUN_DBT_VARS")
extra = load("GEN_DBT_ARGS", "RUN_DBT_ARGS")
if not isinstance(selects, list) or not all(isinstance(s, str) for s in selects):
    bad("GEN_SELECTS", "a JSON array of strings")
if not isinstance(dbt_vars, dict):
    bad("GEN_VARS", "a JSON object")
if not isinstance(extra, list) or not all(isinstance(s, str) for s in extra):
    bad("GEN_DBT_ARGS", "a JSON array of strings")
print("[run-dbt] runner=local workflow=%s session_time=%s attempt=%s selects=%d"
      % (env["DIGDAG_WORKFLOW"], env["DIGDAG_SESSION_TIME"], env["DIGDAG_ATTEMPT_ID"], len(selects)))
print("[run-dbt] project_dir=%s profiles_dir=%s dbt=%s"
      % (env["RUN_DBT_PROJECT_DIR"], env["RUN_DBT_PROFILES_DIR"] or "<dbt default>", env["RUN_DBT_EXE"]))
if env["RUN_DBT_MODE"] == "vars":
    dbt_vars["digdag_session_time"] = env["DIGDAG_SESSION_TIME"]
argv = [env["RUN_DBT_EXE"], "build", "--project-dir", env["RUN_DBT_PROJECT_DIR"]]
if env["RUN_DBT_PROFILES_DIR"]:
    argv += ["--profiles-dir", env["RUN_DBT_PROFILES_DIR"]]
for s in selects:
    argv += ["--select", s]
argv += ["--vars", json.dumps(dbt_vars, ensure_ascii=False)]
argv += extra
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

# --- k8s runner: inputs --------------------------------------------------------

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
REQUEST_TIMEOUT=${GEN_REQUEST_TIMEOUT_SECONDS:-30}
API_RETRY=${GEN_API_RETRY_SECONDS:-300}
BACKOFF=${GEN_RETRY_BACKOFF_SECONDS:-1}
LOG_DRAIN=${GEN_LOG_DRAIN_SECONDS:-10}
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
SECONDS_RE='^[0-9]{1,5}(\.[0-9]{1,3})?$'
require_match GEN_TIMEOUT_SECONDS "$TIMEOUT" '^[1-9][0-9]{0,7}$' 'a positive number of seconds'
require_match GEN_POLL_SECONDS "$POLL" "$SECONDS_RE" 'a number of seconds'
require_match GEN_START_TIMEOUT_SECONDS "$START_TIMEOUT" '^[0-9]{1,8}$' 'a number of seconds'
require_match GEN_STUCK_GRACE_SECONDS "$STUCK_GRACE" '^[0-9]{1,8}$' 'a number of seconds'
require_match GEN_REQUEST_TIMEOUT_SECONDS "$REQUEST_TIMEOUT" '^[1-9][0-9]{0,4}$' 'a positive number of seconds'
require_match GEN_API_RETRY_SECONDS "$API_RETRY" '^[0-9]{1,6}$' 'a number of seconds'
require_match GEN_RETRY_BACKOFF_SECONDS "$BACKOFF" "$SECONDS_RE" 'a number of seconds'
require_match GEN_LOG_DRAIN_SECONDS "$LOG_DRAIN" "$SECONDS_RE" 'a number of seconds'
[[ $DRY_RUN == true || $DRY_RUN == false ]] || invalid "GEN_DRY_RUN must be \"true\" or \"false\""

HASH=$(sha256_hex "$WORKFLOW|$SESSION_TIME|$ATTEMPT_ID")
ATTEMPT_KEY=${HASH:0:16}
JOB_PREFIX="dbt-$JOB_SLUG-${HASH:0:10}"

command -v "$HELM" >/dev/null 2>&1 || die "$EXIT_TOOLING" "helm not found: $HELM (install helm or set GEN_HELM)"

KUBE=("$KUBECTL")
[[ -z $CONTEXT ]] || KUBE+=(--context "$CONTEXT")
KUBE+=(--namespace "$NAMESPACE")

# Hard limit around every outside call, on top of kubectl's own --request-timeout:
# credential plugins (e.g. `aws eks get-token`) and helm's chart downloads have none.
# --foreground keeps the command in this script's process group, so a task killed as a group
# (Digdag, an agent going down) takes it along; busybox's timeout lacks the flag.
HAVE_TIMEOUT=false
TIMEOUT_CMD=()
if timeout --foreground -k 1 5 true >/dev/null 2>&1; then
  HAVE_TIMEOUT=true TIMEOUT_CMD=(timeout --foreground -k 5)
elif timeout -k 1 5 true >/dev/null 2>&1; then
  HAVE_TIMEOUT=true TIMEOUT_CMD=(timeout -k 5)
fi
bounded() { # bounded SECONDS CMD...: runs CMD, killed after SECONDS (exit 124/137)
  local secs=$1
  shift
  if $HAVE_TIMEOUT; then
    "${TIMEOUT_CMD[@]}" "$secs" "$@"
  else
    "$@"
  fi
}

START=$SECONDS
DEADLINE=$((START + TIMEOUT))
WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/run-dbt.XXXXXXXX")
JOB=""
CREATED_JOB=false
FINISHED=false
FOLLOW_PID=""

stop_follow() {
  if [[ -n $FOLLOW_PID ]]; then
    kill "$FOLLOW_PID" 2>/dev/null || true
    wait "$FOLLOW_PID" 2>/dev/null || true
    FOLLOW_PID=""
  fi
}
cleanup() {
  stop_follow
  rm -rf "$WORKDIR"
}
on_signal() { # on_signal EXIT_CODE
  trap - INT TERM
  stop_follow
  if [[ $CREATED_JOB == true && $FINISHED == false ]]; then
    log "interrupted: deleting Job $JOB so that dbt does not keep running"
    bounded 20 "${KUBE[@]}" delete job "$JOB" --cascade=background --ignore-not-found --wait=false \
      --request-timeout=15s >/dev/null 2>&1 || log "WARNING: could not delete Job $JOB; delete it by hand"
  fi
  exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# --- Kubernetes API calls: deadlines and retries ---------------------------------

# Errors worth retrying: the API server or the network path to it is unavailable,
# overloaded or slow. Anything else (Forbidden, NotFound, Invalid, a bad kubeconfig)
# is final.
TRANSIENT_RE='connection refused|connection reset|broken pipe|no route to host|network is unreachable|i/o timeout|TLS handshake timeout|Client\.Timeout|context deadline exceeded|request canceled|unexpected EOF|: EOF|http2: |Unable to connect to the server|was refused - did you specify|currently unable to handle the request|ServiceUnavailable|InternalError|Internal error occurred|\(Timeout\)|TooManyRequests|Too many requests|etcdserver|unable to return a response in the time allotted|the server has received too many requests|timed out waiting'

request_timeout() { # seconds a request may take now: REQUEST_TIMEOUT, but never past the deadline
  local left=$((DEADLINE - SECONDS))
  ((left < 1)) && left=1
  ((left < REQUEST_TIMEOUT)) && echo "$left" || echo "$REQUEST_TIMEOUT"
}

# sleep_ms MS: a sleep that a SIGTERM interrupts at once (bash runs traps during `wait`, not
# while a foreground command runs).
sleep_ms() {
  sleep "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))" &
  wait $! || true
}
to_ms() { # to_ms 1.5 -> 1500
  local whole=${1%%.*} frac=000
  [[ $1 == *.* ]] && frac="${1#*.}000"
  echo $((10#$whole * 1000 + 10#${frac:0:3}))
}
BACKOFF_MS=$(to_ms "$BACKOFF")
POLL_MS=$(to_ms "$POLL")

# kube WHAT [--cleanup] ARGS...: runs kubectl ARGS with a request timeout,
# retrying transient errors with back-off for at most GEN_API_RETRY_SECONDS (and never past the
# deadline, unless --cleanup: then one bounded try after it). stdout goes to $KUBE_OUT, the last
# error to the file $KUBE_ERR. Returns 0, or 1 with KUBE_ERR_KIND=final (not worth retrying),
# transient (still failing after GEN_API_RETRY_SECONDS) or deadline (no time left to retry).
KUBE_OUT=""
KUBE_ERR_KIND=""
KUBE_ERR=$WORKDIR/kube.err
KUBE_QUIET=false # true: retry without a warning per retry
kube() {
  local what=$1 cleanup=false
  shift
  if [[ ${1:-} == --cleanup ]]; then
    cleanup=true
    shift
  fi
  local first_failure=-1 delay=$BACKOFF_MS rt rc
  while :; do
    if $cleanup; then rt=$REQUEST_TIMEOUT; else rt=$(request_timeout); fi
    rc=0
    KUBE_OUT=$(bounded $((rt + 10)) "${KUBE[@]}" --request-timeout="${rt}s" "$@" 2>"$KUBE_ERR") || rc=$?
    if ((rc == 0)); then
      ((first_failure < 0)) || $KUBE_QUIET || log "the Kubernetes API answers again ($what)"
      return 0
    fi
    ((rc == 124 || rc == 137)) && echo "kubectl did not return within $((rt + 10))s" >>"$KUBE_ERR"
    if ! grep -Eq "$TRANSIENT_RE" "$KUBE_ERR" && ((rc != 124 && rc != 137)); then
      KUBE_ERR_KIND=final
      return 1
    fi
    ((first_failure >= 0)) || first_failure=$SECONDS
    local down=$((SECONDS - first_failure))
    if $cleanup || ((down >= API_RETRY)); then
      KUBE_ERR_KIND=transient
      return 1
    fi
    if ((SECONDS + delay / 1000 >= DEADLINE)); then
      KUBE_ERR_KIND=deadline # no time left to retry before the deadline
      return 1
    fi
    $KUBE_QUIET || log "WARNING: $what: Kubernetes API error, retrying in $((delay / 1000)).$(printf '%03d' $((delay % 1000)))s (failing for ${down}s; limit ${API_RETRY}s): $(oneline "$KUBE_ERR")"
    sleep_ms "$delay"
    delay=$((delay * 2))
    ((delay <= 30000)) || delay=30000
  done
}

# kube_fail WHAT: exit 3 for the kube call that just failed, saying what failed and why.
kube_fail() {
  local what=$1
  if [[ $KUBE_ERR_KIND == transient || $KUBE_ERR_KIND == deadline ]]; then
    die "$EXIT_TOOLING" "$what: the Kubernetes API did not answer (unreachable or failing for GEN_API_RETRY_SECONDS=${API_RETRY}s, or until the deadline): $(oneline "$KUBE_ERR")${JOB:+; Job $JOB may still exist: kubectl -n $NAMESPACE get job $JOB}"
  fi
  if grep -q Forbidden "$KUBE_ERR"; then
    die "$EXIT_TOOLING" "$what: permission denied (the README's Role lists the rules run-dbt.sh needs): $(oneline "$KUBE_ERR")"
  fi
  die "$EXIT_TOOLING" "$what failed: $(oneline "$KUBE_ERR")"
}
kube_or_die() { # kube_or_die WHAT ARGS...: kube, or exit 3 (kube_fail)
  kube "$@" || kube_fail "$1"
}

log "runner=k8s workflow=$WORKFLOW session_time=$SESSION_TIME session_id=$SESSION_ID attempt=$ATTEMPT_ID"
log "attempt_key=$ATTEMPT_KEY namespace=$NAMESPACE${CONTEXT:+ context=$CONTEXT} chart=$CHART${CHART_VERSION:+@$CHART_VERSION} timeout=${TIMEOUT}s"

# --- render --------------------------------------------------------------------

# render TRY: helm template for the Job of that try into $WORKDIR/manifest.yaml. The JSON inputs
# reach helm as --set-json values, which helm decodes and checks against values.schema.json.
render() {
  local try=$1
  JOB="$JOB_PREFIX-$try"
  {
    printf '{\n  "dbtRunParameters": {"sessionTimeMode": "%s"},\n' "$SESSION_TIME_MODE"
    printf '  "digdag": {\n    "workflow": "%s",\n    "jobSlug": "%s",\n    "sessionTime": "%s",\n' "$WORKFLOW" "$JOB_SLUG" "$SESSION_TIME"
    printf '    "sessionId": "%s",\n    "attemptId": "%s",\n    "attemptKey": "%s",\n    "try": %s,\n' "$SESSION_ID" "$ATTEMPT_ID" "$ATTEMPT_KEY" "$try"
    printf '    "timeoutSeconds": %s\n  }' "$TIMEOUT"
    if [[ -n $IMAGE_KEY ]]; then
      printf ',\n  "image": {\n    "%s": "%s"\n  }' "$IMAGE_KEY" "$IMAGE_TAG"
    fi
    printf '\n}\n'
  } >"$WORKDIR/values.json"
  local args=(template "$JOB" "$CHART")
  [[ -z $CHART_VERSION ]] || args+=(--version "$CHART_VERSION")
  args+=(--namespace "$NAMESPACE")
  [[ -z $VALUES_FILE ]] || args+=(-f "$VALUES_FILE")
  args+=(-f "$WORKDIR/values.json")
  args+=(--set-json "dbtRunParameters.selects=$SELECTS")
  args+=(--set-json "dbtRunParameters.vars=$VARS")
  args+=(--set-json "dbtRunParameters.extraArgs=$DBT_ARGS")
  local rc=0
  bounded 300 "$HELM" "${args[@]}" >"$WORKDIR/manifest.yaml" 2>"$WORKDIR/helm.err" || rc=$?
  if ((rc != 0)); then
    local err
    err=$(oneline "$WORKDIR/helm.err")
    # The per-run JSON inputs are the caller's input: report them as invalid input (exit 2).
    case $err in
      *"--set-json data dbtRunParameters.selects="* | *"/dbtRunParameters/selects"*)
        invalid "GEN_SELECTS must be a JSON array of strings (helm: ${err:0:400})" ;;
      *"--set-json data dbtRunParameters.vars="* | *"/dbtRunParameters/vars"*)
        invalid "GEN_VARS must be a JSON object (helm: ${err:0:400})" ;;
      *"--set-json data dbtRunParameters.extraArgs="* | *"/dbtRunParameters/extraArgs"*)
        invalid "GEN_DBT_ARGS must be a JSON array of strings (helm: ${err:0:400})" ;;
    esac
    cat "$WORKDIR/helm.err" >&2
    ((rc == 124 || rc == 137)) && die "$EXIT_TOOLING" "helm template did not finish within 300s for chart $CHART"
    die "$EXIT_TOOLING" "helm template failed for chart $CHART (see above)"
  fi
  grep -q '^kind: Job' "$WORKDIR/manifest.yaml" || die "$EXIT_TOOLING" "chart $CHART rendered no Job"
  SELECT_COUNT=$(grep -c '^ *- "--select"$' "$WORKDIR/manifest.yaml" || true)
}

if [[ $DRY_RUN == true ]]; then
  render 1
  log "job=$JOB selects=$SELECT_COUNT"
  log "dry run: rendered manifests follow; nothing is applied"
  cat "$WORKDIR/manifest.yaml"
  exit 0
fi

command -v "$KUBECTL" >/dev/null 2>&1 || die "$EXIT_TOOLING" "kubectl not found: $KUBECTL (install kubectl or set GEN_KUBECTL)"

# --- permissions -----------------------------------------------------------------

# Everything the run may need, checked before anything is created: a missing permission
# fails now, not an hour later when a timed-out Job cannot be deleted or logs cannot be read.
check_permissions() {
  local checks=("create jobs.batch" "get jobs.batch" "list jobs.batch" "delete jobs.batch"
    "list pods" "get pods" "get pods --subresource=log")
  if grep -q '^kind: ConfigMap' "$WORKDIR/manifest.yaml"; then
    checks+=("get configmaps" "create configmaps")
  fi
  local i pids=() missing=()
  for i in "${!checks[@]}"; do # in parallel: each kubectl may run a slow credential plugin
    (
      KUBE_ERR=$WORKDIR/can-i.$i.err
      ((i == 0)) || KUBE_QUIET=true # one voice for the parallel checks
      rc=0
      # shellcheck disable=SC2086 # a check is a verb and a resource (and a flag)
      kube "kubectl auth can-i ${checks[i]}" auth can-i ${checks[i]} || rc=$?
      printf '%s %s %s\n' "$rc" "${KUBE_ERR_KIND:-none}" "${KUBE_OUT%%$'\n'*}" >"$WORKDIR/can-i.$i"
    ) &
    pids+=($!)
  done
  wait "${pids[@]}" || true
  for i in "${!checks[@]}"; do
    local rc=1 kind=none answer=""
    read -r rc kind answer <"$WORKDIR/can-i.$i" || true
    ((rc == 0)) && continue
    if [[ $kind == final && $answer == no* ]]; then # can-i says "no" with exit 1
      missing+=("${checks[i]}")
    else
      KUBE_ERR=$WORKDIR/can-i.$i.err KUBE_ERR_KIND=$kind kube_fail "kubectl auth can-i ${checks[i]}"
    fi
  done
  if ((${#missing[@]} > 0)); then
    local list
    list=$(printf '%s, ' "${missing[@]}")
    die "$EXIT_TOOLING" "missing Kubernetes permission(s) in namespace $NAMESPACE: ${list%, } (kubectl auth can-i said no; the README's Role lists every rule run-dbt.sh needs)"
  fi
}

# --- which try: this attempt's Jobs ------------------------------------------------

TRY_JSONPATH='{range .items[*]}{.metadata.labels.digdag\.io/try}{"|"}{.metadata.name}{"|"}{.metadata.deletionTimestamp}{"|"}{range .status.conditions[*]}{.type}={.status},{end}{"\n"}{end}'

render 1 # a first render checks the inputs before anything touches the cluster
check_permissions
kube_or_die "looking up the Jobs of this attempt" get jobs -l "digdag.io/attempt-key=$ATTEMPT_KEY" -o "jsonpath=$TRY_JSONPATH"
latest_try=0 latest_name="" latest_deleting="" latest_conds=""
while IFS='|' read -r t name deleting conds; do
  [[ $t =~ ^[0-9]+$ ]] || continue
  if ((10#$t > latest_try)); then
    latest_try=$((10#$t)) latest_name=$name latest_deleting=$deleting latest_conds=$conds
  fi
done <<<"$KUBE_OUT"

wait_on_existing=false
if ((latest_try == 0)); then
  next_try=1
elif [[ -n $latest_deleting ]]; then
  next_try=$((latest_try + 1))
  log "try $latest_try of this attempt (Job $latest_name) is being deleted (timed out or interrupted): starting try $next_try"
elif [[ ,$latest_conds == *,Failed=True,* || ,$latest_conds == *,FailureTarget=True,* ]]; then
  next_try=$((latest_try + 1))
  log "try $latest_try of this attempt (Job $latest_name) failed: this is a retry of the task; starting try $next_try"
else
  wait_on_existing=true
  JOB=$latest_name
  if [[ ,$latest_conds == *,Complete=True,* || ,$latest_conds == *,SuccessCriteriaMet=True,* ]]; then
    log "Job $JOB (try $latest_try of this attempt) already succeeded: reporting it; dbt is not run again"
  else
    log "Job $JOB (try $latest_try of this attempt) is still running: this task was started again (e.g. after an agent restart); waiting on it instead of starting dbt twice"
  fi
fi

# --- apply ---------------------------------------------------------------------------

if ! $wait_on_existing; then
  ((next_try == 1)) || render "$next_try"
  log "job=$JOB try=$next_try selects=$SELECT_COUNT"
  # Applying the same manifests again is harmless, so a retried apply cannot start dbt twice.
  kube_or_die "kubectl apply of Job $JOB" apply -f "$WORKDIR/manifest.yaml" -o name
  printf '%s\n' "$KUBE_OUT" | sed 's/^/[run-dbt] applied /'
  grep -qx "job.batch/$JOB" <<<"$KUBE_OUT" ||
    die "$EXIT_TOOLING" "the chart did not create a Job named $JOB (applied: $(tr '\n' ' ' <<<"$KUBE_OUT"))"
  CREATED_JOB=true
  log "Job $JOB created; waiting for it to finish (poll every ${POLL}s, deadline in $((DEADLINE - SECONDS))s)"
fi

# --- logs ------------------------------------------------------------------------------

FOLLOW_POD=""      # the pod whose logs are (or were) streamed
FOLLOW_SINCE=""    # RFC 3339 time the stream was last seen alive: a resumed stream starts there
FOLLOW_RESTARTS=0  # resumed streams of FOLLOW_POD
FOLLOW_GAVE_UP=false

now_rfc3339() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# follow_logs POD: keeps `kubectl logs -f` running for POD while it runs, writing into this task's
# log. A stream that ends while the pod still runs (API server restart, network) is resumed from
# the last time it was seen alive: a few lines may repeat, none is lost. At most 20 resumes.
follow_logs() {
  local pod=$1
  if [[ -n $FOLLOW_PID ]] && kill -0 "$FOLLOW_PID" 2>/dev/null; then
    if [[ $FOLLOW_POD == "$pod" ]]; then
      FOLLOW_SINCE=$(now_rfc3339)
      return 0
    fi
    stop_follow # a newer pod (backoffLimit > 0): follow that one
  fi
  local args=(logs "pod/$pod" --all-containers=true -f)
  if [[ $FOLLOW_POD == "$pod" ]]; then
    $FOLLOW_GAVE_UP && return 0
    if ((FOLLOW_RESTARTS >= 20)); then
      FOLLOW_GAVE_UP=true
      log "WARNING: the log stream of pod $pod keeps ending ($(oneline "$WORKDIR/follow.err")); its logs are printed when the Job ends"
      return 0
    fi
    FOLLOW_RESTARTS=$((FOLLOW_RESTARTS + 1))
    args+=(--since-time="$FOLLOW_SINCE")
    log "log stream of pod $pod ended while it runs${FOLLOW_ERR:+ ($FOLLOW_ERR)}; resuming from $FOLLOW_SINCE (lines may repeat)"
  else
    FOLLOW_RESTARTS=0
    FOLLOW_GAVE_UP=false
    log "----- logs of pod $pod (streamed while it runs) -----"
  fi
  FOLLOW_POD=$pod
  FOLLOW_SINCE=$(now_rfc3339)
  local left=$((DEADLINE - SECONDS + 5))
  # exec: $! is the streaming process itself, so stop_follow ends it rather than orphaning it
  if $HAVE_TIMEOUT; then
    (exec "${TIMEOUT_CMD[@]}" $((left + 10)) "${KUBE[@]}" --request-timeout="${left}s" "${args[@]}" 2>"$WORKDIR/follow.err") &
  else
    (exec "${KUBE[@]}" --request-timeout="${left}s" "${args[@]}" 2>"$WORKDIR/follow.err") &
  fi
  FOLLOW_PID=$!
}

# reap_follow: notices a stream that ended, keeping its error for the resume message.
FOLLOW_ERR=""
reap_follow() {
  if [[ -n $FOLLOW_PID ]] && ! kill -0 "$FOLLOW_PID" 2>/dev/null; then
    wait "$FOLLOW_PID" 2>/dev/null || true
    FOLLOW_PID=""
    FOLLOW_ERR=$(oneline "$WORKDIR/follow.err")
  fi
}

# print_logs POD [SINCE] BANNER: one bounded read of a pod's logs into the task log.
print_logs() {
  local pod=$1 since=$2 banner=$3
  local args=(logs "pod/$pod" --all-containers=true)
  [[ -z $since ]] || args+=(--since-time="$since")
  if kube "reading the logs of pod $pod" --cleanup "${args[@]}"; then
    log "$banner"
    [[ -z $KUBE_OUT ]] || printf '%s\n' "$KUBE_OUT"
    log "----- end of logs -----"
  else
    log "(could not read the logs of pod $pod: $(oneline "$KUBE_ERR"))"
  fi
}

# finish_logs POD: after the Job ended. A running stream gets GEN_LOG_DRAIN_SECONDS to deliver its
# last lines (it ends by itself when the container exits); what a cut stream missed is read once
# more from where it was last seen alive; a pod that was never streamed has its logs read whole.
finish_logs() {
  local pod=$1
  [[ -n $pod ]] || {
    log "(no logs: Job $JOB has no pod)"
    return 0
  }
  if [[ $FOLLOW_POD != "$pod" ]]; then
    stop_follow
    print_logs "$pod" "" "----- logs of pod $pod -----"
    return 0
  fi
  local clean=false
  if [[ -n $FOLLOW_PID ]]; then
    local waited=0 drain_ms rc=0
    drain_ms=$(to_ms "$LOG_DRAIN")
    while kill -0 "$FOLLOW_PID" 2>/dev/null && ((waited < drain_ms)); do
      sleep 0.1
      waited=$((waited + 100))
    done
    if ! kill -0 "$FOLLOW_PID" 2>/dev/null; then
      wait "$FOLLOW_PID" 2>/dev/null || rc=$?
      FOLLOW_PID=""
      ((rc == 0)) && clean=true
    fi
    stop_follow
  fi
  if $clean; then
    log "----- end of logs -----"
  else
    print_logs "$pod" "$FOLLOW_SINCE" "----- logs of pod $pod since $FOLLOW_SINCE (the stream did not end by itself; lines may repeat) -----"
  fi
}

delete_job() { # delete_job REASON
  log "deleting Job $JOB ($1) with propagation Background so that its pod stops"
  kube "deleting Job $JOB" --cleanup delete job "$JOB" --cascade=background --ignore-not-found --wait=false ||
    log "WARNING: could not delete Job $JOB ($(oneline "$KUBE_ERR")); delete it by hand: kubectl -n $NAMESPACE delete job $JOB"
}

# --- wait ------------------------------------------------------------------------------

JOB_JSONPATH='{range .status.conditions[*]}{.type}={.status}={.reason}{"\n"}{end}'
# one line per pod: name|phase|waiting reasons of containers|conditions|waiting messages|creation time
POD_JSONPATH='{range .items[*]}{.metadata.name}{"|"}{.status.phase}{"|"}{range .status.initContainerStatuses[*]}{.state.waiting.reason}{","}{end}{range .status.containerStatuses[*]}{.state.waiting.reason}{","}{end}{"|"}{range .status.conditions[*]}{.type}{"="}{.status}{"="}{.reason}{","}{end}{"|"}{range .status.initContainerStatuses[*]}{.state.waiting.message}{" "}{end}{range .status.containerStatuses[*]}{.state.waiting.message}{" "}{end}{"|"}{.metadata.creationTimestamp}{"\n"}{end}'

wait_start=$SECONDS
stuck_since=-1
stuck_reason=""
last_state=""
last_report=$SECONDS
pod_name=""
while :; do
  reap_follow
  api_away=false
  if kube "polling Job $JOB" get job "$JOB" -o "jsonpath=$JOB_JSONPATH"; then
    conds=$KUBE_OUT
  elif [[ $KUBE_ERR_KIND == final ]] && grep -q NotFound "$KUBE_ERR"; then
    FINISHED=true
    if [[ -n $FOLLOW_POD ]]; then
      stop_follow
      log "----- end of logs (the Job vanished; its logs up to then are above) -----"
    elif [[ -n $pod_name ]]; then
      print_logs "$pod_name" "" "----- logs of pod $pod_name (its Job is gone) -----"
    else
      log "(no logs: no pod of Job $JOB had started before the Job vanished)"
    fi
    die "$EXIT_TOOLING" "Job $JOB no longer exists: it was deleted by someone else (or by its ttlSecondsAfterFinished) while this task waited on it"
  elif [[ $KUBE_ERR_KIND == deadline ]]; then
    api_away=true # the deadline comes while the API is away: a timeout (below)
    conds=""
  else
    kube_fail "polling Job $JOB"
  fi

  pods=""
  if ! $api_away; then
    if kube "listing the pods of Job $JOB" get pods -l "job-name=$JOB" -o "jsonpath=$POD_JSONPATH"; then
      pods=$KUBE_OUT
    elif [[ $KUBE_ERR_KIND != deadline ]]; then
      kube_fail "listing the pods of Job $JOB"
    fi
  fi
  started=false
  bad_reason=""
  pod_msg=""
  pod_phase=""
  newest=""
  while IFS='|' read -r name phase waiting conditions messages created; do
    [[ -n $name ]] || continue
    # the newest pod is the one that counts (backoffLimit > 0 makes several)
    [[ -z $newest || ! $created < $newest ]] || continue
    newest=$created
    pod_name=$name
    pod_phase=$phase
    bad_reason=""
    pod_msg=""
    started=false
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
  [[ $pod_phase != Running ]] || follow_logs "$pod_name"

  if grep -Eq '^(Complete|SuccessCriteriaMet)=True' <<<"$conds"; then
    FINISHED=true
    finish_logs "$pod_name"
    log "Job $JOB succeeded"
    exit 0
  fi
  if grep -q '^Failed=True' <<<"$conds"; then
    FINISHED=true
    reason=$(grep '^Failed=True' <<<"$conds" | head -n1 | cut -d= -f3)
    finish_logs "$pod_name"
    log "Job $JOB failed (${reason:-unknown reason}): dbt build did not succeed"
    [[ $reason != DeadlineExceeded ]] || log "(the Job's activeDeadlineSeconds passed: the cluster stopped dbt)"
    exit "$EXIT_DBT_FAILED"
  fi

  elapsed=$((SECONDS - wait_start))
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

  if ! $started && ! $api_away; then
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

  if ((SECONDS >= DEADLINE)); then
    FINISHED=true
    stop_follow
    [[ -z $FOLLOW_POD ]] || log "----- end of logs (cut at the deadline; the logs so far are above) -----"
    log "timeout: Job $JOB did not finish within GEN_TIMEOUT_SECONDS=${TIMEOUT}s"
    delete_job "timeout"
    die "$EXIT_TIMEOUT" "Job $JOB timed out after ${TIMEOUT}s and was deleted"
  fi
  sleep_ms "$POLL_MS"
done
