{{ config(materialized='table') }}

-- Enterprises serving urban compounds of the county at each month end (在县服务物业企业月末状态),
-- with the attributes of the enterprise indicators and the towns they serve. DOMAIN §8: a town
-- counts every enterprise serving at least one urban compound in it, the county each enterprise
-- once; there is no "home town", and the towns of enterprise indicators do not add up.
with compound_status as (

    select * from {{ ref('fct_compound_status_monthly') }}

),

enterprises as (

    select * from {{ ref('int_enterprise_history') }}

),

agreements as (

    select * from {{ ref('int_agreement_history') }}

),

projects as (

    select * from {{ ref('int_service_project_history') }}

),

served as (

    select
        enterprise_uscc,
        month_end_date,
        bool_or(is_provisional) as is_provisional,
        count(*) as served_compounds,
        string_agg(distinct estimate_reason, '; ' order by estimate_reason) as estimate_reason
    from compound_status
    where has_property_service and is_urban_residential and enterprise_uscc is not null
    group by enterprise_uscc, month_end_date

),

served_towns as (

    select
        enterprise_uscc,
        month_end_date,
        string_agg(distinct town_code, '|' order by town_code) as served_town_codes
    from compound_status
    where has_property_service and is_urban_residential and enterprise_uscc is not null
    group by enterprise_uscc, month_end_date

),

enterprise_versions as (

    select
        served.enterprise_uscc,
        served.month_end_date,
        enterprises.enterprise_name,
        enterprises.carry_reason,
        coalesce(
            enterprises.has_party_org
            and (enterprises.party_org_date is null or enterprises.party_org_date <= served.month_end_date),
            false
        ) as has_party_org
    from served
    left join enterprises
        on
            served.enterprise_uscc = enterprises.enterprise_uscc
            and served.month_end_date >= enterprises.valid_from
            and (enterprises.valid_to is null or served.month_end_date < enterprises.valid_to)

),

agreement_months as (

    select
        served.enterprise_uscc,
        served.month_end_date,
        string_agg(distinct agreements.carry_reason, '; ' order by agreements.carry_reason) as carry_reason
    from served
    inner join agreements
        on
            served.enterprise_uscc = agreements.enterprise_uscc
            and served.month_end_date >= agreements.valid_from
            and (agreements.valid_to is null or served.month_end_date < agreements.valid_to)
            and served.month_end_date >= agreements.signed_date
    group by served.enterprise_uscc, served.month_end_date

),

project_months as (

    -- projects claimed in the calendar year of the month end, as known at the month end
    select
        served.enterprise_uscc,
        served.month_end_date,
        count(distinct projects.project_id) as projects_claimed_ytd,
        string_agg(distinct projects.carry_reason, '; ' order by projects.carry_reason) as carry_reason
    from served
    inner join projects
        on
            served.enterprise_uscc = projects.enterprise_uscc
            and served.month_end_date >= projects.valid_from
            and (projects.valid_to is null or served.month_end_date < projects.valid_to)
            and projects.claim_year = extract(year from served.month_end_date)
            and served.month_end_date >= projects.claimed_date
    group by served.enterprise_uscc, served.month_end_date

),

final as (

    select
        served.enterprise_uscc,
        served.month_end_date,
        served.is_provisional,
        enterprise_versions.enterprise_name,
        served.served_compounds::integer as served_compounds,
        served_towns.served_town_codes,
        enterprise_versions.has_party_org,
        agreement_months.enterprise_uscc is not null as has_coconstruction_agreement,
        coalesce(project_months.projects_claimed_ytd, 0)::integer as projects_claimed_ytd,
        -- a rejected row carried forward in any ledger this month end is read from (DOMAIN §8)
        nullif(concat_ws(
            '; ', served.estimate_reason, enterprise_versions.carry_reason, agreement_months.carry_reason,
            project_months.carry_reason
        ), '') as estimate_reason
    from served
    inner join served_towns
        on
            served.enterprise_uscc = served_towns.enterprise_uscc
            and served.month_end_date = served_towns.month_end_date
    inner join enterprise_versions
        on
            served.enterprise_uscc = enterprise_versions.enterprise_uscc
            and served.month_end_date = enterprise_versions.month_end_date
    left join agreement_months
        on
            served.enterprise_uscc = agreement_months.enterprise_uscc
            and served.month_end_date = agreement_months.month_end_date
    left join project_months
        on
            served.enterprise_uscc = project_months.enterprise_uscc
            and served.month_end_date = project_months.month_end_date

)

select * from final
