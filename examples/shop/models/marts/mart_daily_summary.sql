-- Daily summary per Tokyo date (UTC+9, no DST) from the two incremental facts.
with orders as (
    select
        session_date                         as report_date,
        count(*)                             as order_count,
        sum(amount)                          as order_amount
    from {{ ref('fct_daily_orders') }}
    group by all
),
events as (
    select
        cast(event_hour + interval 9 hour as date) as report_date,
        sum(event_count)                     as event_count
    from {{ ref('fct_hourly_events') }}
    group by all
)
select
    coalesce(o.report_date, e.report_date)   as report_date,
    coalesce(o.order_count, 0)               as order_count,
    coalesce(o.order_amount, 0)              as order_amount,
    coalesce(e.event_count, 0)               as event_count
from orders as o
full outer join events as e using (report_date)
