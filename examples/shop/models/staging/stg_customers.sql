select
    cast(customer_id as integer)    as customer_id,
    customer_name,
    lower(email)                    as email,
    upper(country_code)             as country_code,
    tier,
    cast(created_at as timestamp)   as created_at,
    cast(updated_at as timestamp)   as updated_at
from {{ source('raw', 'customers') }}
