-- fct_orders version 2 (latest): UTC suffix on the timestamp, revenue and region added.
select
    order_id,
    customer_id,
    ordered_at                                         as ordered_at_utc,
    status,
    amount,
    case when is_revenue then amount else 0 end        as revenue,
    country_code,
    region,
    tier
from {{ ref('int_orders_enriched') }}
