-- ref('fct_orders') resolves to the latest version (v2).
select
    d.customer_id,
    d.customer_name,
    d.region,
    count(f.order_id)                          as order_count,
    coalesce(sum(f.revenue), 0)                as lifetime_revenue,
    min(f.ordered_at_utc)                      as first_order_at_utc,
    max(f.ordered_at_utc)                      as last_order_at_utc
from {{ ref('dim_customers') }} as d
left join {{ ref('fct_orders') }} as f using (customer_id)
group by all
