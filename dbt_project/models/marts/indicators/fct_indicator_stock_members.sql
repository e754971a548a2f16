{{ config(materialized='table') }}

-- Members of the stock indicators (存量指标成员): one row per indicator, month end, area and counted
-- unit (compound, owners' committee, community or enterprise), with the unit's contribution to the
-- numerator and denominator of that area. The published numerators and denominators are sums of
-- these rows, so each published figure can be drilled down to its members.
-- Areas: a compound, committee or community counts in its community, its town and the county; an
-- enterprise (DOMAIN §8) in every town where it serves at least one urban compound and once in the
-- county, so enterprise indicators do not add up across towns (ref_indicator_catalog.is_additive).
-- QY_XM (a yearly flow) is observed at every month end as projects claimed in the year so far.
-- SFD_QY is county-only: it counts titles, served compounds or not.
{%- set county = "'341523000000'" %}

with compound_status as (

    select * from {{ ref('fct_compound_status_monthly') }}

),

enterprise_status as (

    select * from {{ ref('fct_enterprise_status_monthly') }}

),

credit as (

    select * from {{ ref('fct_enterprise_credit') }}

),

communities as (

    select * from {{ ref('int_community_history') }}

),

demonstrations as (

    select * from {{ ref('int_demonstration_history') }}

),

months as (

    select * from {{ ref('int_reporting_months') }}

),

targets as (

    select * from {{ ref('ref_indicator_targets') }}

),

urban_compounds as (

    select * from compound_status
    where is_urban_residential

),

compound_observations as (

    select
        indicator.indicator_code,
        urban_compounds.month_end_date,
        urban_compounds.community_code,
        urban_compounds.town_code,
        case when indicator.indicator_code = 'YWH_DY' then 'owners_committee' else 'compound' end as unit_type,
        case
            when indicator.indicator_code = 'YWH_DY' then urban_compounds.committee_id
            else urban_compounds.compound_id
        end as unit_id,
        case indicator.indicator_code
            when 'WY_FG' then urban_compounds.has_property_service::integer
            when 'YWH_FG' then urban_compounds.has_owners_committee::integer
            when 'DZB_ZJ' then urban_compounds.has_party_branch::integer
            when 'YWH_DY' then urban_compounds.is_committee_party_share_met::integer
            when 'SFD_XQ' then urban_compounds.is_city_demonstration::integer
        end::numeric as numerator,
        case when indicator.indicator_code = 'SFD_XQ' then null else 1 end::numeric as denominator,
        urban_compounds.estimate_reason
    from urban_compounds
    cross join (
        values ('WY_FG'), ('YWH_FG'), ('DZB_ZJ'), ('YWH_DY'), ('SFD_XQ')
    ) as indicator (indicator_code)
    -- YWH_DY counts committees, not compounds
    where indicator.indicator_code <> 'YWH_DY' or urban_compounds.has_owners_committee

),

alliance_scope as (

    -- LM_FG covers the towns the programme names (城关镇, 开发区): the towns with an LM_FG target
    select distinct area_code as town_code
    from targets
    where indicator_code = 'LM_FG' and measure_scope = 'area'

),

community_observations as (

    select
        'LM_FG' as indicator_code,
        months.month_end_date,
        communities.community_code,
        communities.town_code,
        'community' as unit_type,
        communities.community_code as unit_id,
        coalesce(communities.has_alliance and communities.has_joint_meeting, false)::integer::numeric
            as numerator,
        1::numeric as denominator,
        communities.carry_reason as estimate_reason
    from months
    inner join communities
        on
            months.month_end_date >= communities.valid_from
            and (communities.valid_to is null or months.month_end_date < communities.valid_to)
    -- no LM_FG target at all: every community of the ledger is in scope
    where
        communities.town_code in (select alliance_scope.town_code from alliance_scope)
        or not exists (select 1 from alliance_scope)

),

located_observations as (

    -- compounds, committees and communities count in their community, their town and the county
    select
        observations.indicator_code,
        observations.month_end_date,
        area.area_code,
        area.area_level,
        observations.unit_type,
        observations.unit_id,
        observations.numerator,
        observations.denominator,
        observations.estimate_reason
    from (
        select * from compound_observations
        union all
        select * from community_observations
    ) as observations
    cross join
        lateral (
            values
            (observations.community_code, 'community'),
            (observations.town_code, 'town'),
            ({{ county }}, 'county')
        ) as area (area_code, area_level)
    where area.area_code is not null

),

projects_norm as (

    -- per enterprise and year: at least N projects claimed (QY_XM-UNIT)
    select
        threshold,
        valid_from,
        valid_to
    from targets
    where indicator_code = 'QY_XM' and measure_scope = 'unit'

),

enterprise_observations as (

    select
        indicator.indicator_code,
        enterprise_status.month_end_date,
        enterprise_status.served_town_codes,
        enterprise_status.enterprise_uscc as unit_id,
        enterprise_status.estimate_reason,
        1::numeric as denominator,
        case indicator.indicator_code
            when 'QYDZZ_ZJ' then enterprise_status.has_party_org::integer
            when 'QY_LJ' then enterprise_status.has_coconstruction_agreement::integer
            when 'QY_XM' then (enterprise_status.projects_claimed_ytd >= norm.threshold)::integer
            when 'XY_PJ' then credit.credit_score
            when 'XY_AUP' then (credit.credit_grade in ('AAA', 'AA', 'A'))::integer
            when 'XY_C' then (credit.credit_grade = 'C')::integer
        end::numeric as numerator
    from enterprise_status
    cross join (
        values ('QYDZZ_ZJ'), ('QY_LJ'), ('QY_XM'), ('XY_PJ'), ('XY_AUP'), ('XY_C')
    ) as indicator (indicator_code)
    left join credit
        on
            enterprise_status.enterprise_uscc = credit.enterprise_uscc
            and enterprise_status.month_end_date = credit.month_end_date
    left join lateral (
        select projects_norm.threshold
        from projects_norm
        where projects_norm.valid_to is null or projects_norm.valid_to > enterprise_status.month_end_date
        order by (projects_norm.valid_from <= enterprise_status.month_end_date) desc, projects_norm.valid_from desc
        limit 1
    ) as norm on true
    where
        -- QY_LJ and QY_XM count enterprise party organisations; credit shares need a score
        (indicator.indicator_code not in ('QY_LJ', 'QY_XM') or enterprise_status.has_party_org)
        and (indicator.indicator_code not in ('XY_PJ', 'XY_AUP', 'XY_C') or credit.credit_score is not null)

),

enterprise_members as (

    -- once in the county, and in every town the enterprise serves (DOMAIN §8)
    select
        indicator_code,
        month_end_date,
        {{ county }} as area_code,
        'county' as area_level,
        'enterprise' as unit_type,
        unit_id,
        numerator,
        denominator,
        estimate_reason
    from enterprise_observations
    union all
    select
        enterprise_observations.indicator_code,
        enterprise_observations.month_end_date,
        served.town_code as area_code,
        'town' as area_level,
        'enterprise' as unit_type,
        enterprise_observations.unit_id,
        enterprise_observations.numerator,
        enterprise_observations.denominator,
        enterprise_observations.estimate_reason
    from enterprise_observations
    cross join lateral unnest(string_to_array(enterprise_observations.served_town_codes, '|')) as served (town_code)

),

demonstration_enterprise_members as (

    -- SFD_QY counts enterprises holding a city-level title at the month end (cumulative, not
    -- revoked), whether or not they serve a compound that day: county level only
    select
        'SFD_QY' as indicator_code,
        months.month_end_date,
        {{ county }} as area_code,
        'county' as area_level,
        'enterprise' as unit_type,
        demonstrations.object_id as unit_id,
        1::numeric as numerator,
        null::numeric as denominator,
        string_agg(distinct demonstrations.carry_reason, '; ' order by demonstrations.carry_reason)
            as estimate_reason
    from months
    inner join demonstrations
        on
            months.month_end_date >= demonstrations.valid_from
            and (demonstrations.valid_to is null or months.month_end_date < demonstrations.valid_to)
            and months.month_end_date >= demonstrations.awarded_date
    where demonstrations.object_type_code = 'enterprise' and demonstrations.title_level_code = 'city'
    group by months.month_end_date, demonstrations.object_id
    union all
    -- a zero at every month end the registry covers, so the count starts at 0, not at the first title
    select distinct
        'SFD_QY' as indicator_code,
        month_end_date,
        {{ county }} as area_code,
        'county' as area_level,
        'none' as unit_type,
        '(none)' as unit_id,
        0::numeric as numerator,
        null::numeric as denominator,
        null::text as estimate_reason
    from compound_status

),

final as (

    select * from located_observations
    union all
    select * from enterprise_members
    union all
    select * from demonstration_enterprise_members

)

select * from final
