{{ config(materialized='table') }}

-- SCD2 history (拉链表) of the demonstration ledger from its daily full snapshots; see the macro
-- scd2_from_daily_snapshots for the gaps-and-islands rules.
with snapshots as (

    select * from {{ ref('stg_registry__demonstrations') }}

),

{{ scd2_from_daily_snapshots(
    'snapshots',
    ['title_id'],
    [
        'object_type_code', 'object_id', 'object_name', 'title_level_code', 'title_name',
        'awarded_date'
    ],
    rejects_feed='registry_demonstrations'
) }},

final as (

    select * from history

)

select * from final
