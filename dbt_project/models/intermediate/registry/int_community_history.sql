{{ config(materialized='table') }}

-- SCD2 history (拉链表) of the community ledger from its daily full snapshots; see the macro
-- scd2_from_daily_snapshots for the gaps-and-islands rules.
with snapshots as (

    select * from {{ ref('stg_registry__communities') }}

),

{{ scd2_from_daily_snapshots(
    'snapshots',
    ['community_code'],
    [
        'community_name', 'town_code', 'has_alliance', 'alliance_date', 'has_joint_meeting',
        'joint_meeting_date'
    ],
    rejects_feed='registry_communities'
) }},

final as (

    select * from history

)

select * from final
