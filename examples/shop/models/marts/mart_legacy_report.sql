-- Still reads the old fct_orders v1; its Digdag workflow is switched off
-- (meta.digdag.enabled: false), the model itself stays in the dbt project.
select
    country_code,
    count(*)        as order_count,
    sum(amount)     as total_amount
from {{ ref('fct_orders', v=1) }}
group by all
