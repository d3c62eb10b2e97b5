-- Hourly incremental: each run (re)loads exactly the Digdag session's hour (the workflow runs
-- in UTC). Reads the daily-scheduled staging views and the seed.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['event_hour', 'event_type', 'region'],
    pre_hook="{{ digdag_session.digdag_delete_window('event_hour', 'hour') }}"
) }}

select
    e.event_hour,
    e.event_type,
    coalesce(co.region, 'unknown')      as region,
    count(*)                            as event_count,
    count(distinct e.customer_id)       as customer_count
from {{ ref('stg_events') }} as e
left join {{ ref('stg_customers') }} as c using (customer_id)
left join {{ ref('countries') }} as co on co.country_code = c.country_code
where {{ digdag_session.digdag_window_filter('e.occurred_at', 'hour') }}
group by all
