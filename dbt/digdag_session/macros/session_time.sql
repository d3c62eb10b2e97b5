{#-
  The Digdag session time, read at run time.

  Where it comes from, first match wins:
    1. var('digdag_session_time')      compatibility: run-dbt.sh in session_time_mode "vars"
    2. env var DIGDAG_SESSION_TIME      the default path: run-dbt.sh always sets it
  Neither is read while dbt parses (`execute` is false): parsing uses a fixed placeholder, so
  `dbt parse` / `dbt ls` work without a session time, and because no env_var() call happens at
  parse time dbt does not record the variable; a new session time therefore keeps partial parsing.
  At run time, with neither set, the model fails with a message that says how to pass one.
-#}

{% macro digdag_session_time() %}
  {%- if not execute -%}
    {{ return('1970-01-01T00:00:00+00:00') }}
  {%- endif -%}
  {%- set value = var('digdag_session_time', none) -%}
  {%- if value is none or (value | string | trim) == '' -%}
    {%- set value = env_var('DIGDAG_SESSION_TIME', '') -%}
  {%- endif -%}
  {%- set value = value | string | trim -%}
  {%- if value == '' -%}
    {%- set where = (' (' ~ model.original_file_path ~ ')') if model is defined and model and model.original_file_path is defined else '' -%}
    {{ exceptions.raise_compiler_error(
        "digdag_session: no Digdag session time" ~ where ~ ". This model processes one session window. "
        ~ "Digdag's run-dbt.sh sets it; by hand, run with the environment variable "
        ~ "DIGDAG_SESSION_TIME=2024-03-02T00:00:00+09:00 (or, compatibility mode, "
        ~ "--vars '{\"digdag_session_time\": \"2024-03-02T00:00:00+09:00\"}').") }}
  {%- endif -%}
  {{ return(value) }}
{% endmacro %}


{#- The session time as an aware Python datetime, in `tz` (an IANA name) when given, else in the
    default zone (var digdag_session_timezone) or the session time's own UTC offset. -#}
{% macro digdag_session_datetime(tz=none) %}
  {%- set raw = digdag_session.digdag_session_time() -%}
  {%- set m = modules.re.match('^(\\d{4}-\\d{2}-\\d{2})[T ](\\d{2}:\\d{2}:\\d{2}(?:\\.\\d{1,6})?)\\d*(Z|z|[+-]\\d{2}:?\\d{2})?$', raw) -%}
  {%- if not m -%}
    {{ exceptions.raise_compiler_error(
        "digdag_session: the session time must be ISO 8601 like 2024-03-02T00:00:00+09:00, got: " ~ raw) }}
  {%- endif -%}
  {%- set offset = m.group(3) or '+00:00' -%}
  {%- set offset = '+00:00' if offset in ['Z', 'z'] else offset -%}
  {%- set offset = offset if ':' in offset else offset[:3] ~ ':' ~ offset[3:] -%}
  {%- set ts = modules.datetime.datetime.fromisoformat(m.group(1) ~ 'T' ~ m.group(2) ~ offset) -%}
  {%- set zone = digdag_session.digdag_session_zone(tz) -%}
  {{ return(ts.astimezone(zone) if zone is not none else ts) }}
{% endmacro %}


{#- The pytz zone for `tz`, else for var('digdag_session_timezone'); none means "the session time's
    own offset" (Digdag writes session_time in the workflow's timezone). -#}
{% macro digdag_session_zone(tz=none) %}
  {%- set name = tz if tz else var('digdag_session_timezone', none) -%}
  {%- if not name -%}
    {{ return(none) }}
  {%- endif -%}
  {%- if name not in modules.pytz.all_timezones_set -%}
    {{ exceptions.raise_compiler_error(
        "digdag_session: unknown timezone " ~ (name | string) ~ " (use an IANA name such as Asia/Tokyo or UTC)") }}
  {%- endif -%}
  {{ return(modules.pytz.timezone(name)) }}
{% endmacro %}
