{{ config(materialized='table') }}

-- SCD2 history (拉链表) of the agreement ledger from its daily full snapshots; see the macro
-- scd2_from_daily_snapshots for the gaps-and-islands rules.
with snapshots as (

    select * from {{ ref('stg_registry__agreements') }}

),

{{ scd2_from_daily_snapshots(
    'snapshots',
    ['agreement_id'],
    [
        'enterprise_uscc', 'community_code', 'signed_date'
    ],
    rejects_feed='registry_agreements'
) }},

final as (

    select * from history

)

select * from final
