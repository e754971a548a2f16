-- Daily full snapshots of the registry_service_projects ledger, one row per key and snapshot day; a day has one
-- current batch (a rerun replaces it), the window only guards against a double load.
with source as (

    select * from {{ source('raw_registry', 'registry_service_projects') }}

),

current_batch as (

    select
        *,
        row_number() over (
            partition by _interval_start, project_id
            order by _batch_id desc, _row_number desc
        ) as batch_rank
    from source

),

final as (

    select
        _interval_start as snapshot_date,
        _batch_id as batch_id,
        claim_year::integer as claim_year,
        claimed_date,
        completed_date,
        trim(project_id) as project_id,
        upper(trim(enterprise_uscc)) as enterprise_uscc,
        trim(community_code) as community_code,
        trim(project_name) as project_name,
        trim(status) as status_zh,
        case trim(status) when '已认领' then 'claimed' when '已完成' then 'completed' end as status_code
    from current_batch
    where batch_rank = 1

)

select * from final
