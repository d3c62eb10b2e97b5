{#- SCD2 history of customers (timestamp strategy on updated_at).
    Reads the raw source directly so `dbt snapshot` works on a fresh database.
    The legacy SQL snapshot block works on dbt 1.8 through 1.11. -#}
{% snapshot customers_snapshot %}
{{ config(
    target_schema=target.schema,
    unique_key='customer_id',
    strategy='timestamp',
    updated_at='updated_at'
) }}
select
    cast(customer_id as integer)    as customer_id,
    customer_name,
    lower(email)                    as email,
    upper(country_code)             as country_code,
    tier,
    cast(updated_at as timestamp)   as updated_at
from {{ source('raw', 'customers') }}
{% endsnapshot %}
