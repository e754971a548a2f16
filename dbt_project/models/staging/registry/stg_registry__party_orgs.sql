-- Daily full snapshots of the registry_party_orgs ledger, one row per key and snapshot day; a day has one
-- current batch (a rerun replaces it), the window only guards against a double load.
with source as (

    select * from {{ source('raw_registry', 'registry_party_orgs') }}

),

current_batch as (

    select
        *,
        row_number() over (
            partition by _interval_start, org_id, compound_id
            order by _batch_id desc, _row_number desc
        ) as batch_rank
    from source

),

final as (

    select
        _interval_start as snapshot_date,
        _batch_id as batch_id,
        formed_date,
        party_members::integer as party_members,
        trim(org_id) as org_id,
        trim(compound_id) as compound_id,
        trim(org_form) as org_form_zh,
        case trim(org_form)
            when '小区党支部' then 'compound_branch'
            when '网格联合党支部' then 'joint_grid_branch'
            when '党的工作小组' then 'work_group'
        end as org_form_code,
        trim(org_name) as org_name,
        trim(secretary_source) as secretary_source_zh
    from current_batch
    where batch_rank = 1

)

select * from final
