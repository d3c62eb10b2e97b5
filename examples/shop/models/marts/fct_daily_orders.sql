-- Daily incremental: each run (re)loads exactly the Digdag session's day in Asia/Tokyo.
-- A session at 2024-03-02T00:00:00+09:00 covers the Tokyo day 2024-03-02,
-- i.e. ordered_at (UTC) in [2024-03-01 15:00, 2024-03-02 15:00).
-- The pre-hook deletes that window first, so a re-run (backfill) replaces the day exactly.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='order_id',
    pre_hook="{{ digdag_session.digdag_delete_window('ordered_at', 'day', tz='Asia/Tokyo') }}"
) }}

select
    {{ digdag_session.digdag_session_date(tz='Asia/Tokyo') }}  as session_date,
    order_id,
    customer_id,
    ordered_at,
    status,
    amount
from {{ ref('stg_orders') }}
where {{ digdag_session.digdag_window_filter('ordered_at', 'day', tz='Asia/Tokyo') }}
