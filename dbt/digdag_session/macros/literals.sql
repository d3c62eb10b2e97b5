{#-
  SQL literals, dispatched per adapter (override one with a macro named <adapter>__<name> in your
  project and `dispatch: [{macro_namespace: digdag_session, search_order: [<project>, digdag_session]}]`).

  digdag_timestamp_literal(wall, utc=true): `wall` is a naive datetime.
    utc=true:  `wall` is UTC wall clock. Engines whose timestamp type has no zone (DuckDB, PostgreSQL,
               Redshift, Snowflake TIMESTAMP_NTZ, Trino/Athena) get the UTC wall clock, the usual
               convention for event timestamps; BigQuery TIMESTAMP and Spark/Databricks TIMESTAMP
               are instants, so they get the instant with an explicit UTC offset, independent of the
               session's time zone setting.
    utc=false: local wall clock; a zone-less timestamp everywhere (BigQuery DATETIME, Spark TIMESTAMP_NTZ).
  digdag_date_literal(d): a date.
-#}

{% macro digdag_timestamp_literal(wall, utc=true) %}
  {{ return(adapter.dispatch('digdag_timestamp_literal', 'digdag_session')(wall, utc)) }}
{% endmacro %}

{% macro digdag_date_literal(d) %}
  {{ return(adapter.dispatch('digdag_date_literal', 'digdag_session')(d)) }}
{% endmacro %}

{% macro digdag_wall_text(wall) %}
  {%- set text = wall.strftime('%Y-%m-%d %H:%M:%S') -%}
  {{ return(text ~ ('.%06d' % wall.microsecond if wall.microsecond else '')) }}
{% endmacro %}


{% macro default__digdag_timestamp_literal(wall, utc) %}
  {{ return("cast('" ~ digdag_session.digdag_wall_text(wall) ~ "' as timestamp)") }}
{% endmacro %}

{% macro duckdb__digdag_timestamp_literal(wall, utc) %}
  {{ return("timestamp '" ~ digdag_session.digdag_wall_text(wall) ~ "'") }}
{% endmacro %}

{% macro postgres__digdag_timestamp_literal(wall, utc) %}
  {{ return("'" ~ digdag_session.digdag_wall_text(wall) ~ "'::timestamp") }}
{% endmacro %}

{% macro redshift__digdag_timestamp_literal(wall, utc) %}
  {{ return("'" ~ digdag_session.digdag_wall_text(wall) ~ "'::timestamp") }}
{% endmacro %}

{#- Snowflake's plain TIMESTAMP follows TIMESTAMP_TYPE_MAPPING; name the zone-less type. -#}
{% macro snowflake__digdag_timestamp_literal(wall, utc) %}
  {{ return("'" ~ digdag_session.digdag_wall_text(wall) ~ "'::timestamp_ntz") }}
{% endmacro %}

{% macro bigquery__digdag_timestamp_literal(wall, utc) %}
  {%- if utc -%}
    {{ return("timestamp '" ~ digdag_session.digdag_wall_text(wall) ~ "+00:00'") }}
  {%- endif -%}
  {{ return("datetime '" ~ digdag_session.digdag_wall_text(wall) ~ "'") }}
{% endmacro %}

{% macro trino__digdag_timestamp_literal(wall, utc) %}
  {{ return("timestamp '" ~ digdag_session.digdag_wall_text(wall) ~ "'") }}
{% endmacro %}

{% macro athena__digdag_timestamp_literal(wall, utc) %}
  {{ return(digdag_session.trino__digdag_timestamp_literal(wall, utc)) }}
{% endmacro %}

{% macro spark__digdag_timestamp_literal(wall, utc) %}
  {%- if utc -%}
    {{ return("timestamp '" ~ digdag_session.digdag_wall_text(wall) ~ "+00:00'") }}
  {%- endif -%}
  {{ return("cast('" ~ digdag_session.digdag_wall_text(wall) ~ "' as timestamp_ntz)") }}
{% endmacro %}

{% macro databricks__digdag_timestamp_literal(wall, utc) %}
  {{ return(digdag_session.spark__digdag_timestamp_literal(wall, utc)) }}
{% endmacro %}


{% macro default__digdag_date_literal(d) %}
  {{ return("date '" ~ d.strftime('%Y-%m-%d') ~ "'") }}
{% endmacro %}

{% macro duckdb__digdag_date_literal(d) %}
  {{ return("date '" ~ d.strftime('%Y-%m-%d') ~ "'") }}
{% endmacro %}

{% macro postgres__digdag_date_literal(d) %}
  {{ return("'" ~ d.strftime('%Y-%m-%d') ~ "'::date") }}
{% endmacro %}

{% macro redshift__digdag_date_literal(d) %}
  {{ return("'" ~ d.strftime('%Y-%m-%d') ~ "'::date") }}
{% endmacro %}

{% macro snowflake__digdag_date_literal(d) %}
  {{ return("'" ~ d.strftime('%Y-%m-%d') ~ "'::date") }}
{% endmacro %}

{% macro bigquery__digdag_date_literal(d) %}
  {{ return("date '" ~ d.strftime('%Y-%m-%d') ~ "'") }}
{% endmacro %}

{% macro trino__digdag_date_literal(d) %}
  {{ return("date '" ~ d.strftime('%Y-%m-%d') ~ "'") }}
{% endmacro %}

{% macro athena__digdag_date_literal(d) %}
  {{ return(digdag_session.trino__digdag_date_literal(d)) }}
{% endmacro %}

{% macro spark__digdag_date_literal(d) %}
  {{ return("date '" ~ d.strftime('%Y-%m-%d') ~ "'") }}
{% endmacro %}

{% macro databricks__digdag_date_literal(d) %}
  {{ return(digdag_session.spark__digdag_date_literal(d)) }}
{% endmacro %}
