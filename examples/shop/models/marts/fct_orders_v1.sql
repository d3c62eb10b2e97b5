-- fct_orders version 1 (deprecated shape, kept for mart_legacy_report).
select
    order_id,
    customer_id,
    ordered_at,
    status,
    amount,
    country_code
from {{ ref('int_orders_enriched') }}
