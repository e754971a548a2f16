-- Property-service enterprise dimension (物业服务企业维度) with history: one row per SCD2 version.
with history as (

    select * from {{ ref('int_enterprise_history') }}

),

final as (

    select
        enterprise_uscc,
        version_number,
        enterprise_name,
        registered_area_code,
        is_local,
        is_state_owned,
        has_party_org,
        party_org_type_zh,
        party_org_date,
        served_compounds,
        ledger_date,
        valid_from,
        valid_to,
        is_current,
        is_deleted_at_valid_to,
        enterprise_uscc || '@' || to_char(valid_from, 'YYYY-MM-DD') as enterprise_version_id
    from history

)

select * from final
