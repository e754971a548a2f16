{{ config(materialized='table') }}

-- SCD2 history (拉链表) of the party_org ledger from its daily full snapshots; see the macro
-- scd2_from_daily_snapshots for the gaps-and-islands rules.
with snapshots as (

    select * from {{ ref('stg_registry__party_orgs') }}

),

{{ scd2_from_daily_snapshots(
    'snapshots',
    ['org_id', 'compound_id'],
    [
        'org_form_code', 'org_name', 'formed_date', 'party_members', 'secretary_source_zh'
    ],
    rejects_feed='registry_party_orgs'
) }},

final as (

    select * from history

)

select * from final
