{{ config(materialized='table', contract={'enforced': true}) }}

-- Published candidate of the compound status list (小区状态名单), a disclosure table (DOMAIN §8:
-- compound names and statuses are not personal data). One row per compound and month end, as
-- fct_compound_status_monthly records it: service mode, serving enterprise, owners' committee,
-- party organisation, alliance coverage, demonstration title. No person, no address of a resident.
with compound_status as (

    select * from {{ ref('fct_compound_status_monthly') }}

),

final as (

    select
        compound_id,
        month_end_date,
        compound_name,
        community_code,
        town_code,
        is_urban_residential,
        service_mode_code,
        has_property_service,
        enterprise_uscc,
        enterprise_name,
        has_owners_committee,
        committee_type_code,
        is_committee_party_share_met,
        has_party_branch,
        has_party_work_group,
        party_branch_type,
        is_alliance_covered,
        is_city_demonstration,
        is_provisional
    from compound_status

)

select * from final
