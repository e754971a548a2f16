{{ config(materialized='table') }}

-- SCD2 history (拉链表) of the owners_committee ledger from its daily full snapshots; see the macro
-- scd2_from_daily_snapshots for the gaps-and-islands rules.
with snapshots as (

    select * from {{ ref('stg_registry__owners_committees') }}

),

{{ scd2_from_daily_snapshots(
    'snapshots',
    ['committee_id'],
    [
        'compound_id', 'committee_type_code', 'formed_date', 'term_no', 'term_start_date',
        'term_end_date', 'members', 'party_members', 'director_is_community_cadre', 'is_active',
        'dissolved_date'
    ],
    rejects_feed='registry_owners_committees'
) }},

final as (

    select * from history

)

select * from final
