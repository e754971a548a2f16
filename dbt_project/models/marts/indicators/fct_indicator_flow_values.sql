{{ config(materialized='table') }}

-- Flow indicators (流量指标) summed over their members by area, period (month, quarter, year of the
-- observation date, Asia/Shanghai) and breakdown: the total ('total', '_T') at every area level, and
-- at county and town level by intake channel, request type and category (work orders) or by rule
-- (early warnings). Closure-time indicators carry the median / 90th percentile (continuous) of
-- working days or hours in measure_value, with the number of closed orders as denominator.
-- An early warning about an enterprise counts once in the county and in every town where the
-- enterprise serves an urban compound in the month the episode opened (YJ_SL is not additive).
-- Periods before the reporting start, or starting after the as-of date, are left out.
{%- set county = "'341523000000'" %}

with members as (

    select * from {{ ref('fct_indicator_flow_members') }}

),

enterprise_status as (

    select * from {{ ref('fct_enterprise_status_monthly') }}

),

dated as (

    select
        members.*,
        period.period_type,
        period.period_start
    from members
    cross join
        lateral (
            values
            ('month', date_trunc('month', members.observation_date)::date),
            ('quarter', date_trunc('quarter', members.observation_date)::date),
            ('year', date_trunc('year', members.observation_date)::date)
        ) as period (period_type, period_start)
    where
        members.observation_date >= {{ reporting_start_date() }}
        and members.observation_date <= {{ as_of_date() }}

),

grouped as (

    select
        indicator_code,
        period_type,
        period_start,
        case
            when grouping(community_code) = 0 then community_code
            when grouping(town_code) = 0 then town_code
            else {{ county }}
        end as area_code,
        case
            when grouping(community_code) = 0 then 'community'
            when grouping(town_code) = 0 then 'town'
            else 'county'
        end as area_level,
        case
            when grouping(channel) = 0 then 'channel'
            when grouping(request_type_code) = 0 then 'request_type'
            when grouping(category_code) = 0 then 'category'
            when grouping(rule_code) = 0 then 'rule'
            else 'total'
        end as breakdown_type,
        case
            when grouping(channel) = 0 then channel
            when grouping(request_type_code) = 0 then request_type_code
            when grouping(category_code) = 0 then category_code
            when grouping(rule_code) = 0 then rule_code
            else '_T'
        end as breakdown_code,
        sum(numerator) as numerator,
        sum(denominator) as denominator,
        case
            when indicator_code in ('TS_SC_MED', 'TS_SCH_MED') then percentile_cont(0.5) within group (order by measure)
            when indicator_code in ('TS_SC_P90', 'TS_SCH_P90') then percentile_cont(0.9) within group (order by measure)
        end as measure_value
    from dated
    group by grouping sets (
        (indicator_code, period_type, period_start, town_code, community_code),
        (indicator_code, period_type, period_start, town_code),
        (indicator_code, period_type, period_start),
        (indicator_code, period_type, period_start, town_code, channel),
        (indicator_code, period_type, period_start, channel),
        (indicator_code, period_type, period_start, town_code, request_type_code),
        (indicator_code, period_type, period_start, request_type_code),
        (indicator_code, period_type, period_start, town_code, category_code),
        (indicator_code, period_type, period_start, category_code),
        (indicator_code, period_type, period_start, town_code, rule_code),
        (indicator_code, period_type, period_start, rule_code)
    )

),

enterprise_warnings_by_town as (

    -- early warnings about an enterprise, in each town the enterprise serves that month
    select
        dated.indicator_code,
        dated.period_type,
        dated.period_start,
        served.town_code as area_code,
        'town' as area_level,
        breakdown.breakdown_type,
        breakdown.breakdown_code,
        null::numeric as denominator,
        null::numeric as measure_value,
        count(*)::numeric as numerator
    from dated
    inner join enterprise_status
        on
            dated.enterprise_uscc = enterprise_status.enterprise_uscc
            and enterprise_status.month_end_date
            = (date_trunc('month', dated.observation_date) + interval '1 month - 1 day')::date
    cross join lateral unnest(string_to_array(enterprise_status.served_town_codes, '|')) as served (town_code)
    cross join
        lateral (
            values ('total', '_T'), ('rule', dated.rule_code)
        ) as breakdown (breakdown_type, breakdown_code)
    where dated.enterprise_uscc is not null
    group by
        dated.indicator_code, dated.period_type, dated.period_start, served.town_code,
        breakdown.breakdown_type, breakdown.breakdown_code

),

areas_combined as (

    -- town rows of YJ_SL: the warnings located in the town plus the enterprise warnings of the town
    select
        indicator_code,
        period_type,
        period_start,
        area_code,
        area_level,
        breakdown_type,
        breakdown_code,
        sum(numerator) as numerator,
        sum(denominator) as denominator,
        max(measure_value) as measure_value
    from (
        select
            indicator_code,
            period_type,
            period_start,
            area_code,
            area_level,
            breakdown_type,
            breakdown_code,
            numerator,
            denominator,
            measure_value
        from grouped
        where area_code is not null and breakdown_code is not null
        union all
        select
            indicator_code,
            period_type,
            period_start,
            area_code,
            area_level,
            breakdown_type,
            breakdown_code,
            numerator,
            denominator,
            measure_value
        from enterprise_warnings_by_town
    ) as combined
    group by indicator_code, period_type, period_start, area_code, area_level, breakdown_type, breakdown_code

),

final as (

    select
        indicator_code,
        area_code,
        area_level,
        period_type,
        period_start,
        (period_start + {{ period_length('period_type') }} - interval '1 day')::date as period_end,
        breakdown_type,
        breakdown_code,
        case when indicator_code in ('TS_SC_MED', 'TS_SC_P90', 'TS_SCH_MED', 'TS_SCH_P90') then null else numerator end
            as numerator,
        denominator,
        measure_value::numeric as measure_value
    from areas_combined

)

select * from final
