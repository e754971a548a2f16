-- One row per credit record (latest batch wins). The feed's coarse record kinds are classified into
-- the rules of ref_credit_rules downstream (int_credit_items_scored, via ref_credit_event_mapping).
with source as (

    select * from {{ source('raw_credit', 'credit_events') }}

),

deduplicated as (

    select
        *,
        row_number() over (
            partition by credit_event_id
            order by _batch_id desc, _row_number desc
        ) as batch_rank
    from source

),

final as (

    select
        event_date,
        record_date,
        score,
        _batch_id as batch_id,
        trim(credit_event_id) as credit_event_id,
        upper(trim(enterprise_uscc)) as enterprise_uscc,
        trim(enterprise_name) as enterprise_name,
        upper(trim(event_type)) as source_event_type,
        trim(event_type_zh) as source_event_type_zh,
        trim(conduct) as conduct_zh,
        case trim(conduct) when '守信' then 'good' when '失信' then 'bad' when '中性' then 'neutral' end
            as conduct_code,
        nullif(trim(result), '') as result_text,
        coalesce(is_veto, false) as is_veto,
        nullif(trim(compound_id), '') as compound_id,
        nullif(trim(related_order_id), '') as related_order_id,
        nullif(trim(document_no), '') as document_no,
        trim(issuing_unit) as issuing_unit,
        trim(description) as description
    from deduplicated
    where batch_rank = 1

)

select * from final
