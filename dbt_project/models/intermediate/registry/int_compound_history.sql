{{ config(materialized='table') }}

-- SCD2 history (拉链表) of the compound ledger from its daily full snapshots; see the macro
-- scd2_from_daily_snapshots for the gaps-and-islands rules.
with snapshots as (

    select * from {{ ref('stg_registry__compounds') }}

),

{{ scd2_from_daily_snapshots(
    'snapshots',
    ['compound_id'],
    [
        'compound_name', 'town_code', 'community_code', 'address', 'is_urban_residential',
        'households', 'buildings', 'built_year', 'service_mode_code', 'has_property_service',
        'enterprise_uscc', 'enterprise_name', 'service_start_date', 'ledger_date'
    ],
    rejects_feed='registry_compounds'
) }},

final as (

    select * from history

)

select * from final
