{#-
  Session-time helpers for models run by Digdag.

  Digdag passes the session time of the workflow attempt, e.g.
      dbt build --vars '{"digdag_session_time": "${session_time}"}'
  which arrives as ISO 8601 with an offset: 2024-03-02T00:00:00+09:00.

  Lookup order: var('digdag_session_time'), then env var DIGDAG_SESSION_TIME,
  else error. While dbt parses the project (`execute` is false) a placeholder is
  used instead, so `dbt parse` / `dbt ls` work without the var.

  The window is computed in the wall-clock of the session time's own offset
  (a daily session at 2024-03-02T00:00:00+09:00 is the Tokyo day 2024-03-02),
  then converted to UTC, because the raw data is stored as UTC timestamps:
      session_start('day') -> cast('2024-03-01 15:00:00' as timestamp)
      session_end('day')   -> cast('2024-03-02 15:00:00' as timestamp)
  Windows are half-open: ts >= session_start(grain) and ts < session_end(grain).
-#}

{% macro session_time_raw() %}
  {%- set value = var('digdag_session_time', none) -%}
  {%- if value is none or (value | string | trim) == '' -%}
    {%- set value = env_var('DIGDAG_SESSION_TIME', '') -%}
  {%- endif -%}
  {%- set value = value | string | trim -%}
  {%- if value == '' -%}
    {%- if execute -%}
      {{ exceptions.raise_compiler_error(
          "No Digdag session time given. This model processes one session window; pass it with "
          ~ "--vars '{\"digdag_session_time\": \"2024-03-02T00:00:00+09:00\"}' "
          ~ "(Digdag: --vars '{\"digdag_session_time\": \"${session_time}\"}') "
          ~ "or set the DIGDAG_SESSION_TIME environment variable.") }}
    {%- endif -%}
    {#- parse time: any valid placeholder will do -#}
    {%- set value = '1970-01-01T00:00:00+00:00' -%}
  {%- endif -%}
  {{ return(value) }}
{% endmacro %}


{#- The session time as a timezone-aware Python datetime (naive input is taken as UTC). -#}
{% macro session_time() %}
  {%- set raw = session_time_raw() -%}
  {%- set pattern = '^\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?([Zz]|[+-]\\d{2}:\\d{2})?$' -%}
  {%- if not modules.re.match(pattern, raw) -%}
    {{ exceptions.raise_compiler_error(
        "digdag_session_time must look like 2024-03-02T00:00:00+09:00 (ISO 8601), got: " ~ raw) }}
  {%- endif -%}
  {%- if raw[-1:] in ['Z', 'z'] -%}
    {%- set raw = raw[:-1] ~ '+00:00' -%}
  {%- endif -%}
  {%- set ts = modules.datetime.datetime.fromisoformat(raw) -%}
  {%- if ts.tzinfo is none -%}
    {%- set ts = ts.replace(tzinfo=modules.pytz.utc) -%}
  {%- endif -%}
  {{ return(ts) }}
{% endmacro %}


{#- Start of the session's window (aware datetime, in the session's offset). -#}
{% macro session_window_start_dt(grain) %}
  {%- set ts = session_time() -%}
  {%- if grain in ['hour', 'hourly'] -%}
    {{ return(ts.replace(minute=0, second=0, microsecond=0)) }}
  {%- elif grain in ['day', 'daily'] -%}
    {{ return(ts.replace(hour=0, minute=0, second=0, microsecond=0)) }}
  {%- else -%}
    {{ exceptions.raise_compiler_error("session window grain must be 'hour' or 'day', got: " ~ grain) }}
  {%- endif -%}
{% endmacro %}


{% macro session_window_length(grain) %}
  {%- if grain in ['hour', 'hourly'] -%}
    {{ return(modules.datetime.timedelta(hours=1)) }}
  {%- else -%}
    {{ return(modules.datetime.timedelta(days=1)) }}
  {%- endif -%}
{% endmacro %}


{% macro utc_timestamp_literal(ts) %}
  {%- set utc = ts.astimezone(modules.pytz.utc) -%}
  {{ return("cast('" ~ utc.strftime('%Y-%m-%d %H:%M:%S') ~ "' as timestamp)") }}
{% endmacro %}


{#- SQL literal: inclusive start of the session window, as a UTC timestamp. -#}
{% macro session_start(grain='day') %}
  {{ return(utc_timestamp_literal(session_window_start_dt(grain))) }}
{% endmacro %}


{#- SQL literal: exclusive end of the session window, as a UTC timestamp. -#}
{% macro session_end(grain='day') %}
  {{ return(utc_timestamp_literal(session_window_start_dt(grain) + session_window_length(grain))) }}
{% endmacro %}


{#- SQL literal: the session's calendar date in its own offset (e.g. the Tokyo date). -#}
{% macro session_date() %}
  {{ return("cast('" ~ session_time().strftime('%Y-%m-%d') ~ "' as date)") }}
{% endmacro %}


{#- SQL predicate: `column` lies in the session window. -#}
{% macro in_session_window(column, grain='day') %}
  {{ return(column ~ " >= " ~ session_start(grain) ~ " and " ~ column ~ " < " ~ session_end(grain)) }}
{% endmacro %}


{#-
  pre_hook for incremental models: on incremental runs delete the whole session
  window first, so rows that vanished from the source disappear too. Together with
  unique_key + incremental_strategy='delete+insert' a re-run of a session is idempotent.
-#}
{% macro delete_session_window(column, grain='day') %}
  {%- if is_incremental() -%}
    delete from {{ this }} where {{ in_session_window(column, grain) }}
  {%- endif -%}
{% endmacro %}
