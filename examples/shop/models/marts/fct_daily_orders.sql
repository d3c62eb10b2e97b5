-- Daily incremental: each run (re)loads exactly the Digdag session's day.
-- A session at 2024-03-02T00:00:00+09:00 covers the Tokyo day 2024-03-02,
-- i.e. ordered_at (UTC) in [2024-03-01 15:00, 2024-03-02 15:00).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='order_id',
    pre_hook="{{ delete_session_window('ordered_at', 'day') }}"
) }}

select
    {{ session_date() }}          as session_date,
    order_id,
    customer_id,
    ordered_at,
    status,
    amount
from {{ ref('stg_orders') }}
where {{ in_session_window('ordered_at', 'day') }}
