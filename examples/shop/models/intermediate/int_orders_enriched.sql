-- Ephemeral (see dbt_project.yml): inlined as a CTE into fct_orders v1/v2.
select
    o.order_id,
    o.customer_id,
    o.ordered_at,
    o.status,
    o.amount,
    o.status in ('shipped', 'completed')          as is_revenue,
    c.tier,
    c.country_code,
    coalesce(co.region, 'unknown')                as region
from {{ ref('stg_orders') }} as o
left join {{ ref('stg_customers') }} as c using (customer_id)
left join {{ ref('countries') }} as co using (country_code)
