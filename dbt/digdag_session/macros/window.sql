{#-
  The session's data window, computed in Jinja so the SQL compares against constants (partition
  pruning works, and a re-run of the same session compiles to the same SQL).

  grain:  'hour' | 'day' | 'week' | 'month' (also 'hourly', 'daily', 'weekly', 'monthly')
          hour:  the hour that contains the session time
          day:   the session's calendar date in the zone
          week:  7 days from the session's date (Digdag's weekly> session time is the midnight of
                 the scheduled weekday)
          month: the calendar month that contains the session's date
  tz:     IANA zone whose wall clock defines hours, days and months; default: var
          digdag_session_timezone, else the session time's own UTC offset (Digdag writes it in the
          workflow's timezone). Pass tz for zones with daylight saving time.
  window: 'current' (the window that starts at the session) or 'previous' (the one before it;
          gen's `window: previous`)
  local:  false (default): the literals are UTC wall clock (naive timestamp columns hold UTC);
          true: wall clock in the zone (naive columns that hold local time).
  Windows are half-open: column >= start and column < end.
-#}

{% macro digdag_session_grain(grain) %}
  {%- set names = {'hour': 'hour', 'hourly': 'hour', 'day': 'day', 'daily': 'day', 'week': 'week',
                   'weekly': 'week', 'month': 'month', 'monthly': 'month'} -%}
  {%- set key = (grain | string | lower | trim) -%}
  {%- if key not in names -%}
    {{ exceptions.raise_compiler_error(
        "digdag_session: grain must be one of hour, day, week, month, got: " ~ (grain | string)) }}
  {%- endif -%}
  {{ return(names[key]) }}
{% endmacro %}


{#- [start, end) of the window as aware datetimes in the zone. -#}
{% macro digdag_session_bounds(grain='day', tz=none, window='current') %}
  {%- set unit = digdag_session.digdag_session_grain(grain) -%}
  {%- if window not in ['current', 'previous'] -%}
    {{ exceptions.raise_compiler_error(
        "digdag_session: window must be 'current' or 'previous', got: " ~ (window | string)) }}
  {%- endif -%}
  {%- set ts = digdag_session.digdag_session_datetime(tz) -%}
  {%- set bounds = digdag_session.digdag_window_around(ts, unit) -%}
  {%- if window == 'previous' -%}
    {%- set bounds = digdag_session.digdag_window_around(bounds[0] - modules.datetime.timedelta(microseconds=1), unit) -%}
  {%- endif -%}
  {{ return(bounds) }}
{% endmacro %}


{#- [start, end) of the `unit` window that contains the aware datetime `ts`, in ts's zone. -#}
{% macro digdag_window_around(ts, unit) %}
  {%- set td = modules.datetime.timedelta -%}
  {%- if unit == 'hour' -%}
    {#- on the instant, so hours stay right across daylight-saving changes -#}
    {%- set start = ts - td(minutes=ts.minute, seconds=ts.second, microseconds=ts.microsecond) -%}
    {{ return([start, digdag_session.digdag_in_zone(start + td(hours=1), ts)]) }}
  {%- endif -%}
  {%- set day = ts.replace(tzinfo=none, hour=0, minute=0, second=0, microsecond=0) -%}
  {%- if unit == 'day' -%}
    {%- set first, after = day, day + td(days=1) -%}
  {%- elif unit == 'week' -%}
    {%- set first, after = day, day + td(days=7) -%}
  {%- else -%}
    {%- set first = day.replace(day=1) -%}
    {%- set after = (first + td(days=32)).replace(day=1) -%}
  {%- endif -%}
  {{ return([digdag_session.digdag_localize(first, ts), digdag_session.digdag_localize(after, ts)]) }}
{% endmacro %}


{#- The naive wall-clock datetime `wall` in the zone of the aware datetime `like`. -#}
{% macro digdag_localize(wall, like) %}
  {%- set zone = like.tzinfo -%}
  {%- if zone.localize is defined -%}
    {%- set zone = modules.pytz.timezone(zone.zone) -%}
    {{ return(zone.normalize(zone.localize(wall))) }}
  {%- endif -%}
  {{ return(wall.replace(tzinfo=zone)) }}
{% endmacro %}


{% macro digdag_in_zone(ts, like) %}
  {%- set zone = like.tzinfo -%}
  {%- if zone.localize is defined -%}
    {{ return(ts.astimezone(modules.pytz.timezone(zone.zone))) }}
  {%- endif -%}
  {{ return(ts.astimezone(zone)) }}
{% endmacro %}


{#- SQL literal of an aware datetime: UTC wall clock, or the zone's wall clock when local. -#}
{% macro digdag_session_literal(ts, local=false) %}
  {%- set shown = ts if local else ts.astimezone(modules.pytz.utc) -%}
  {{ return(digdag_session.digdag_timestamp_literal(shown.replace(tzinfo=none), utc=not local)) }}
{% endmacro %}


{#- SQL: inclusive start of the session window. -#}
{% macro digdag_session_start(grain='day', tz=none, window='current', local=false) %}
  {{ return(digdag_session.digdag_session_literal(digdag_session.digdag_session_bounds(grain, tz, window)[0], local)) }}
{% endmacro %}


{#- SQL: exclusive end of the session window. -#}
{% macro digdag_session_end(grain='day', tz=none, window='current', local=false) %}
  {{ return(digdag_session.digdag_session_literal(digdag_session.digdag_session_bounds(grain, tz, window)[1], local)) }}
{% endmacro %}


{#- SQL: the session time itself as a timestamp. -#}
{% macro digdag_session_timestamp(tz=none, local=false) %}
  {{ return(digdag_session.digdag_session_literal(digdag_session.digdag_session_datetime(tz), local)) }}
{% endmacro %}


{#- SQL: the session's calendar date in the zone (the first day of the window). -#}
{% macro digdag_session_date(tz=none, window='current') %}
  {%- set start = digdag_session.digdag_session_bounds('day', tz, window)[0] -%}
  {{ return(digdag_session.digdag_date_literal(start.date())) }}
{% endmacro %}


{#- SQL predicate: `column` lies in the session window. -#}
{% macro digdag_window_filter(column, grain='day', tz=none, window='current', local=false) %}
  {%- set bounds = digdag_session.digdag_session_bounds(grain, tz, window) -%}
  {{ return("(" ~ column ~ " >= " ~ digdag_session.digdag_session_literal(bounds[0], local) ~ " and "
            ~ column ~ " < " ~ digdag_session.digdag_session_literal(bounds[1], local) ~ ")") }}
{% endmacro %}


{#- pre_hook for incremental models: delete the session window before it is loaded again, so rows
    that vanished from the source disappear too and a re-run (backfill) of a session is idempotent:
      pre_hook="{{ digdag_session.digdag_delete_window('ordered_at', 'day') }}" -#}
{% macro digdag_delete_window(column, grain='day', tz=none, window='current', local=false) %}
  {%- if execute and is_incremental() -%}
    delete from {{ this }} where {{ digdag_session.digdag_window_filter(column, grain, tz, window, local) }}
  {%- endif -%}
{% endmacro %}
