-- Daily full snapshots of the registry_communities ledger, one row per key and snapshot day; a day has one
-- current batch (a rerun replaces it), the window only guards against a double load.
with source as (

    select * from {{ source('raw_registry', 'registry_communities') }}

),

current_batch as (

    select
        *,
        row_number() over (
            partition by _interval_start, community_code
            order by _batch_id desc, _row_number desc
        ) as batch_rank
    from source

),

final as (

    select
        _interval_start as snapshot_date,
        _batch_id as batch_id,
        alliance_date,
        joint_meeting_date,
        trim(community_code) as community_code,
        trim(community_name) as community_name,
        trim(town_code) as town_code,
        trim(town_name) as town_name,
        case has_alliance when '是' then true when '否' then false end as has_alliance,
        case has_joint_meeting when '是' then true when '否' then false end as has_joint_meeting
    from current_batch
    where batch_rank = 1

)

select * from final
