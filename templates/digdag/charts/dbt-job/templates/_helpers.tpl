{{/*
Every user-supplied string is emitted with toJson: a JSON string is a valid
YAML scalar, so quotes, `$`, `{{`, backticks, newlines and non-ASCII text are
carried through exactly and can never change the structure of the manifest.
No value is ever passed through `tpl`.
*/}}

{{- define "dbt-job.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Job name is the release name: run-dbt.sh chooses it. */}}
{{- define "dbt-job.fullname" -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" .Release.Name) -}}
{{- fail (printf "release name %q is not a DNS-1123 label (lowercase alphanumerics and '-')" .Release.Name) -}}
{{- end -}}
{{- if gt (len .Release.Name) 63 -}}
{{- fail (printf "release name %q is longer than 63 characters" .Release.Name) -}}
{{- end -}}
{{- .Release.Name -}}
{{- end -}}

{{/* Turns any string into a valid label value: [A-Za-z0-9_.-], <= 63, alphanumeric ends. */}}
{{- define "dbt-job.labelValue" -}}
{{- regexReplaceAll "[^A-Za-z0-9_.-]" (toString .) "_" | trunc 63 | trimAll "_.-" -}}
{{- end -}}

{{- define "dbt-job.workflowLabel" -}}
{{- include "dbt-job.labelValue" (default .Values.digdag.workflow .Values.digdag.jobSlug) -}}
{{- end -}}

{{/* Labels that do not change from run to run (used on the shared profiles ConfigMap), as YAML. */}}
{{- define "dbt-job.staticLabels" -}}
{{- $own := dict
      "app.kubernetes.io/name" (include "dbt-job.name" .)
      "app.kubernetes.io/managed-by" (include "dbt-job.labelValue" .Values.managedBy)
      "helm.sh/chart" (printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63) -}}
{{- toYaml (merge $own (deepCopy (default (dict) .Values.labels))) -}}
{{- end -}}

{{/* Labels of the Job (and, with podLabels, of its Pod), as YAML. Chart labels win over user labels. */}}
{{- define "dbt-job.labels" -}}
{{- $own := dict
      "app.kubernetes.io/instance" (include "dbt-job.fullname" .)
      "app.kubernetes.io/component" "dbt"
      "digdag.io/workflow" (include "dbt-job.workflowLabel" .)
      "digdag.io/session-id" (include "dbt-job.labelValue" .Values.digdag.sessionId)
      "digdag.io/attempt-id" (include "dbt-job.labelValue" .Values.digdag.attemptId) -}}
{{- with .Values.digdag.attemptKey -}}
{{- $_ := set $own "digdag.io/attempt-key" . -}}
{{- $_ := set $own "digdag.io/try" (toString (int64 $.Values.digdag.try)) -}}
{{- end -}}
{{- toYaml (merge $own (include "dbt-job.staticLabels" . | fromYaml)) -}}
{{- end -}}

{{- define "dbt-job.podLabels" -}}
{{- toYaml (merge (include "dbt-job.labels" . | fromYaml) (deepCopy (default (dict) .Values.podLabels))) -}}
{{- end -}}

{{/* Annotations carrying the exact (possibly long) Digdag identifiers. */}}
{{- define "dbt-job.digdagAnnotations" -}}
digdag.io/workflow: {{ .Values.digdag.workflow | toString | toJson }}
digdag.io/session-time: {{ .Values.digdag.sessionTime | toString | toJson }}
digdag.io/session-id: {{ .Values.digdag.sessionId | toString | toJson }}
digdag.io/attempt-id: {{ .Values.digdag.attemptId | toString | toJson }}
{{- end -}}

{{- define "dbt-job.image" -}}
{{- $img := .Values.image -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (toString $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* profiles.yml text, or "" when the chart does not manage profiles. */}}
{{- define "dbt-job.profilesYaml" -}}
{{- $p := .Values.dbt.profiles -}}
{{- if kindIs "string" $p -}}
{{- $p -}}
{{- else if $p -}}
{{- toYaml $p -}}
{{- end -}}
{{- end -}}

{{- define "dbt-job.profilesConfigMapName" -}}
{{- if .Values.dbt.existingProfilesConfigMap -}}
{{- .Values.dbt.existingProfilesConfigMap -}}
{{- else -}}
{{- $yaml := include "dbt-job.profilesYaml" . -}}
{{- if $yaml -}}
{{- printf "%s-profiles-%s" (include "dbt-job.name" . | trunc 40 | trimSuffix "-") (sha256sum $yaml | trunc 10) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Fails when a credential-like key in profiles holds a literal instead of an
env_var() reference. Called with (dict "path" "profiles" "value" <tree>).
*/}}
{{- define "dbt-job.assertNoPlaintextSecrets" -}}
{{- $path := .path -}}
{{- if kindIs "map" .value -}}
{{- range $k, $v := .value -}}
{{- $p := printf "%s.%s" $path $k -}}
{{- if regexMatch "(?i)^(password|pass|passphrase|private_key|private_key_passphrase|token|secret|client_secret|keyfile_json|api_key|access_token|refresh_token)$" $k -}}
{{- if not (and (kindIs "string" $v) (contains "env_var(" $v)) -}}
{{- fail (printf "dbt.profiles: %s must not hold a credential: read it with env_var('SOME_VAR') and set SOME_VAR from a Secret with secretEnv (or set dbt.allowPlaintextSecrets=true)" $p) -}}
{{- end -}}
{{- end -}}
{{- include "dbt-job.assertNoPlaintextSecrets" (dict "path" $p "value" $v) -}}
{{- end -}}
{{- else if kindIs "slice" .value -}}
{{- range $i, $v := .value -}}
{{- include "dbt-job.assertNoPlaintextSecrets" (dict "path" (printf "%s[%d]" $path $i) "value" $v) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* dbt --vars object: vars, plus digdag_session_time in "vars" mode. */}}
{{- define "dbt-job.varsJson" -}}
{{- $vars := deepCopy (default (dict) .Values.dbtRunParameters.vars) -}}
{{- if eq .Values.dbtRunParameters.sessionTimeMode "vars" -}}
{{- $_ := set $vars "digdag_session_time" (toString .Values.digdag.sessionTime) -}}
{{- end -}}
{{- toJson $vars -}}
{{- end -}}

{{/* Container args as a list, one element per argument (no shell). */}}
{{- define "dbt-job.args" -}}
{{- $d := .Values.dbt -}}
{{- $args := list $d.subcommand -}}
{{- if $d.projectDir -}}
{{- $args = concat $args (list "--project-dir" $d.projectDir) -}}
{{- end -}}
{{- if $d.target -}}
{{- $args = concat $args (list "--target" $d.target) -}}
{{- end -}}
{{- range .Values.dbtRunParameters.selects -}}
{{- $args = concat $args (list "--select" (toString .)) -}}
{{- end -}}
{{- $args = concat $args (list "--vars" (include "dbt-job.varsJson" .)) -}}
{{- $args = concat $args (default (list) .Values.dbtRunParameters.extraArgs) -}}
{{- $args = concat $args (default (list) $d.extraArgs) -}}
{{- toJson $args -}}
{{- end -}}

{{- define "dbt-job.activeDeadlineSeconds" -}}
{{- $ads := int64 (default 0 .Values.activeDeadlineSeconds) -}}
{{- if and (eq $ads 0) (gt (int64 (default 0 .Values.digdag.timeoutSeconds)) 0) -}}
{{- $ads = add (int64 .Values.digdag.timeoutSeconds) (int64 (default 0 .Values.digdag.deadlineGraceSeconds)) -}}
{{- end -}}
{{- if gt (int64 $ads) 0 -}}{{ $ads }}{{- end -}}
{{- end -}}

{{- define "dbt-job.annotations" -}}
{{- toYaml (merge (include "dbt-job.digdagAnnotations" . | fromYaml) (deepCopy (default (dict) .Values.annotations))) -}}
{{- end -}}

{{- define "dbt-job.podAnnotations" -}}
{{- toYaml (merge (include "dbt-job.digdagAnnotations" . | fromYaml) (deepCopy (default (dict) .Values.podAnnotations))) -}}
{{- end -}}
