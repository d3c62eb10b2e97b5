select
    cast(order_id as integer)          as order_id,
    cast(customer_id as integer)       as customer_id,
    cast(ordered_at as timestamp)      as ordered_at,   -- UTC
    status,
    cast(amount as decimal(12, 2))     as amount
from {{ source('raw', 'orders') }}
