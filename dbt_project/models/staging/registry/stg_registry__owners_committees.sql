-- Daily full snapshots of the registry_owners_committees ledger, one row per key and snapshot day; a day has one
-- current batch (a rerun replaces it), the window only guards against a double load.
with source as (

    select * from {{ source('raw_registry', 'registry_owners_committees') }}

),

current_batch as (

    select
        *,
        row_number() over (
            partition by _interval_start, committee_id
            order by _batch_id desc, _row_number desc
        ) as batch_rank
    from source

),

final as (

    select
        _interval_start as snapshot_date,
        _batch_id as batch_id,
        formed_date,
        term_no::integer as term_no,
        term_start_date,
        term_end_date,
        members::integer as members,
        party_members::integer as party_members,
        dissolved_date,
        trim(committee_id) as committee_id,
        trim(compound_id) as compound_id,
        trim(committee_type) as committee_type_zh,
        case trim(committee_type)
            when '业主委员会' then 'owners_committee'
            when '物业管理委员会' then 'property_management_committee'
        end as committee_type_code,
        case director_is_community_cadre when '是' then true when '否' then false end as director_is_community_cadre,
        trim(status) as status_zh,
        coalesce(trim(status) = '正常履职', false) as is_active
    from current_batch
    where batch_rank = 1

)

select * from final
