select
    cast(event_id as integer)          as event_id,
    cast(customer_id as integer)       as customer_id,
    event_type,
    cast(occurred_at as timestamp)     as occurred_at,  -- UTC
    date_trunc('hour', cast(occurred_at as timestamp)) as event_hour
from {{ source('raw', 'events') }}
