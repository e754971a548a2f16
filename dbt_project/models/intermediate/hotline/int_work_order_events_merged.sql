-- Work-order events re-keyed to the merged order (合并工单): a 12319 (or platform) copy of a 12345
-- order carries duplicate_of = the original order id; its events are attributed to the original,
-- so the same request is counted once across channels.
with events as (

    select * from {{ ref('stg_hotline__events') }}

),

final as (

    select
        order_id as source_order_id,
        event_id,
        event_seq,
        channel,
        received_at,
        request_type_zh,
        category_zh,
        urgency_zh,
        compound_id,
        community_code,
        town_code,
        enterprise_uscc,
        caller_phone_hash,
        event_type,
        raw_status,
        event_at,
        updated_at,
        due_at,
        new_due_at,
        escalation_level,
        satisfaction_zh,
        resolved_rating_zh,
        is_complaint_verified,
        batch_id,
        coalesce(duplicate_of_order_id, order_id) as work_order_id,
        duplicate_of_order_id is not null as is_duplicate_copy
    from events

)

select * from final
