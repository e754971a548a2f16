-- Daily full snapshots of the registry_enterprises ledger, one row per key and snapshot day; a day has one
-- current batch (a rerun replaces it), the window only guards against a double load.
with source as (

    select * from {{ source('raw_registry', 'registry_enterprises') }}

),

current_batch as (

    select
        *,
        row_number() over (
            partition by _interval_start, enterprise_uscc
            order by _batch_id desc, _row_number desc
        ) as batch_rank
    from source

),

final as (

    select
        _interval_start as snapshot_date,
        _batch_id as batch_id,
        party_org_date,
        served_compounds::integer as served_compounds,
        ledger_date,
        upper(trim(enterprise_uscc)) as enterprise_uscc,
        trim(enterprise_name) as enterprise_name,
        trim(registered_area_code) as registered_area_code,
        case is_local when '是' then true when '否' then false end as is_local,
        case is_state_owned when '是' then true when '否' then false end as is_state_owned,
        case has_party_org when '是' then true when '否' then false end as has_party_org,
        nullif(trim(party_org_type), '') as party_org_type_zh
    from current_batch
    where batch_rank = 1

)

select * from final
