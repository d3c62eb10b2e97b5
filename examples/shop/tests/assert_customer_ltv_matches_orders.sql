-- Singular test: lifetime revenue in mart_customer_ltv must add up to the revenue
-- in fct_orders (latest version). Returns a row (= failure) on mismatch.
with ltv as (
    select coalesce(sum(lifetime_revenue), 0) as total from {{ ref('mart_customer_ltv') }}
),
orders as (
    select coalesce(sum(revenue), 0) as total from {{ ref('fct_orders') }}
)
select ltv.total as ltv_total, orders.total as orders_total
from ltv, orders
where ltv.total <> orders.total
