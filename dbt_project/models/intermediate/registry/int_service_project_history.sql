{{ config(materialized='table') }}

-- SCD2 history (拉链表) of the service_project ledger from its daily full snapshots; see the macro
-- scd2_from_daily_snapshots for the gaps-and-islands rules.
with snapshots as (

    select * from {{ ref('stg_registry__service_projects') }}

),

{{ scd2_from_daily_snapshots(
    'snapshots',
    ['project_id'],
    [
        'enterprise_uscc', 'community_code', 'project_name', 'claim_year', 'claimed_date',
        'status_code', 'completed_date'
    ],
    rejects_feed='registry_service_projects'
) }},

final as (

    select * from history

)

select * from final
