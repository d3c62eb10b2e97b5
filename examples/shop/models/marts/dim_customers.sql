select
    c.customer_id,
    c.customer_name,
    c.email,
    c.tier,
    c.country_code,
    co.country_name,
    co.region,
    c.created_at,
    c.updated_at
from {{ ref('stg_customers') }} as c
left join {{ ref('countries') }} as co using (country_code)
