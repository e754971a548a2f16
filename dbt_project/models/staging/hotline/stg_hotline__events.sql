-- One row per work-order status event (event_id). Batches overlap in time, so an event can be in
-- two batches: keep the copy of the latest batch. Caller identity is only available as keyed hashes.
with source as (

    select * from {{ source('raw_hotline', 'hotline_events') }}

),

deduplicated as (

    select
        *,
        row_number() over (
            partition by event_id
            order by _batch_id desc, _row_number desc
        ) as batch_rank
    from source

),

final as (

    select
        event_seq::integer as event_seq,
        received_at,
        caller_phone_hash,
        caller_name_hash,
        event_at,
        updated_at,
        due_at,
        new_due_at,
        escalation_level::integer as escalation_level,
        complaint_verified as is_complaint_verified,
        _batch_id as batch_id,
        _interval_start as batch_date,
        trim(event_id) as event_id,
        trim(order_id) as order_id,
        trim(channel) as channel,
        nullif(trim(duplicate_of), '') as duplicate_of_order_id,
        trim(request_type) as request_type_zh,
        trim(category) as category_zh,
        trim(urgency) as urgency_zh,
        nullif(trim(compound_id), '') as compound_id,
        trim(community_code) as community_code,
        trim(town_code) as town_code,
        upper(nullif(trim(enterprise_uscc), '')) as enterprise_uscc,
        upper(trim(event_type)) as event_type,
        trim(raw_status) as raw_status,
        nullif(trim(satisfaction), '') as satisfaction_zh,
        nullif(trim(resolved_rating), '') as resolved_rating_zh,
        trim(operator_unit) as operator_unit
    from deduplicated
    where batch_rank = 1

)

select * from final
