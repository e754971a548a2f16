{{ config(materialized='table') }}

-- SCD2 history (拉链表) of the enterprise ledger from its daily full snapshots; see the macro
-- scd2_from_daily_snapshots for the gaps-and-islands rules.
with snapshots as (

    select * from {{ ref('stg_registry__enterprises') }}

),

{{ scd2_from_daily_snapshots(
    'snapshots',
    ['enterprise_uscc'],
    [
        'enterprise_name', 'registered_area_code', 'is_local', 'is_state_owned', 'has_party_org',
        'party_org_type_zh', 'party_org_date', 'served_compounds', 'ledger_date'
    ],
    rejects_feed='registry_enterprises'
) }},

final as (

    select * from history

)

select * from final
