-- Status of every compound at every month end (小区月末状态): the SCD2 versions valid at the
-- month end (valid_from <= month_end < valid_to). Stocks of the registry indicators count these rows.
with months as (

    select * from {{ ref('int_reporting_months') }}

),

compounds as (

    select * from {{ ref('int_compound_history') }}

),

committees as (

    select * from {{ ref('int_owners_committee_history') }}

),

party_orgs as (

    select * from {{ ref('int_party_org_history') }}

),

communities as (

    select * from {{ ref('int_community_history') }}

),

demonstrations as (

    select * from {{ ref('int_demonstration_history') }}

),

targets as (

    select * from {{ ref('ref_indicator_targets') }}

),

party_share_norm as (

    -- per-committee norm of YWH_DY (党员比例一般不低于60%), read from the targets table
    select
        threshold,
        valid_from,
        valid_to
    from targets
    where indicator_code = 'YWH_DY' and measure_scope = 'unit'

),

compound_months as (

    select
        months.month_end_date,
        months.is_provisional,
        compounds.compound_id,
        compounds.compound_name,
        compounds.town_code,
        compounds.community_code,
        compounds.is_urban_residential,
        compounds.service_mode_code,
        compounds.has_property_service,
        compounds.enterprise_uscc,
        compounds.enterprise_name,
        compounds.carry_reason
    from months
    inner join compounds
        on
            months.month_end_date >= compounds.valid_from
            and (compounds.valid_to is null or months.month_end_date < compounds.valid_to)

),

committee_months as (

    select distinct on (committees.compound_id, months.month_end_date)
        committees.compound_id,
        months.month_end_date,
        committees.committee_id,
        committees.committee_type_code,
        committees.members,
        committees.party_members,
        committees.carry_reason
    from months
    inner join committees
        on
            months.month_end_date >= committees.valid_from
            and (committees.valid_to is null or months.month_end_date < committees.valid_to)
            and committees.is_active
            and months.month_end_date >= committees.formed_date
    order by
        committees.compound_id asc, months.month_end_date asc, committees.formed_date desc, committees.committee_id asc

),

party_org_months as (

    -- strongest form covering the compound: own branch, then joint/grid branch, then work group
    select distinct on (party_orgs.compound_id, months.month_end_date)
        party_orgs.compound_id,
        months.month_end_date,
        party_orgs.org_id as party_org_id,
        party_orgs.org_form_code as party_org_form_code,
        party_orgs.carry_reason
    from months
    inner join party_orgs
        on
            months.month_end_date >= party_orgs.valid_from
            and (party_orgs.valid_to is null or months.month_end_date < party_orgs.valid_to)
    order by
        party_orgs.compound_id,
        months.month_end_date,
        case party_orgs.org_form_code
            when 'compound_branch' then 1 when 'joint_grid_branch' then 2 else 3
        end,
        party_orgs.org_id

),

community_months as (

    select
        communities.community_code,
        months.month_end_date,
        communities.has_alliance,
        communities.has_joint_meeting,
        communities.carry_reason
    from months
    inner join communities
        on
            months.month_end_date >= communities.valid_from
            and (communities.valid_to is null or months.month_end_date < communities.valid_to)

),

demonstration_months as (

    select
        demonstrations.object_id as compound_id,
        months.month_end_date,
        string_agg(distinct demonstrations.carry_reason, '; ' order by demonstrations.carry_reason) as carry_reason
    from months
    inner join demonstrations
        on
            months.month_end_date >= demonstrations.valid_from
            and (demonstrations.valid_to is null or months.month_end_date < demonstrations.valid_to)
            and months.month_end_date >= demonstrations.awarded_date
    where demonstrations.object_type_code = 'compound' and demonstrations.title_level_code = 'city'
    group by demonstrations.object_id, months.month_end_date

),

final as (

    select
        compound_months.compound_id,
        compound_months.month_end_date,
        compound_months.is_provisional,
        compound_months.compound_name,
        compound_months.town_code,
        compound_months.community_code,
        compound_months.is_urban_residential,
        compound_months.service_mode_code,
        compound_months.enterprise_uscc,
        compound_months.enterprise_name,
        committee_months.committee_id,
        committee_months.committee_type_code,
        committee_months.members as committee_members,
        committee_months.party_members as committee_party_members,
        coalesce(compound_months.has_property_service, false) as has_property_service,
        committee_months.committee_id is not null as has_owners_committee,
        round(committee_months.party_members::numeric / nullif(committee_months.members, 0), 4)
            as committee_party_share,
        committee_months.party_members::numeric
        >= norm.threshold * committee_months.members as is_committee_party_share_met,
        coalesce(party_org_months.party_org_form_code, 'none') as party_branch_type,
        coalesce(party_org_months.party_org_form_code in ('compound_branch', 'joint_grid_branch'), false)
            as has_party_branch,
        coalesce(party_org_months.party_org_form_code = 'work_group', false) as has_party_work_group,
        coalesce(community_months.has_alliance and community_months.has_joint_meeting, false)
            as is_alliance_covered,
        demonstration_months.compound_id is not null as is_city_demonstration,
        -- a rejected row carried forward in any ledger this month end is read from (DOMAIN §8)
        nullif(concat_ws(
            '; ', compound_months.carry_reason, committee_months.carry_reason, party_org_months.carry_reason,
            community_months.carry_reason, demonstration_months.carry_reason
        ), '') as estimate_reason
    from compound_months
    left join committee_months
        on
            compound_months.compound_id = committee_months.compound_id
            and compound_months.month_end_date = committee_months.month_end_date
    left join party_org_months
        on
            compound_months.compound_id = party_org_months.compound_id
            and compound_months.month_end_date = party_org_months.month_end_date
    left join community_months
        on
            compound_months.community_code = community_months.community_code
            and compound_months.month_end_date = community_months.month_end_date
    left join demonstration_months
        on
            compound_months.compound_id = demonstration_months.compound_id
            and compound_months.month_end_date = demonstration_months.month_end_date
    left join lateral (
        -- the norm in force at the month end; before the first version (the seed dates from
        -- 2023-03-06), the first version, so the baseline months are measured on the same norm
        select party_share_norm.threshold
        from party_share_norm
        where party_share_norm.valid_to is null or party_share_norm.valid_to > compound_months.month_end_date
        order by
            (party_share_norm.valid_from <= compound_months.month_end_date) desc,
            party_share_norm.valid_from desc
        limit 1
    ) as norm on true

)

select * from final
