{{ config(materialized='table') }}

-- Flow indicators (流量指标) summed by area and period (month, quarter, year of the observation
-- date, Asia/Shanghai). Closure-time indicators carry the median / 90th percentile of working days
-- (continuous percentile) in measure_value, with the number of closed orders as denominator.
-- Periods before the first observation of the source, or starting after the as-of date, are left out.
with observations as (

    select * from {{ ref('int_indicator_flow_observations') }}

),

dated as (

    select
        observations.*,
        period.period_type,
        period.period_start
    from observations
    cross join
        lateral (
            values
            ('month', date_trunc('month', observations.observation_date)::date),
            ('quarter', date_trunc('quarter', observations.observation_date)::date),
            ('year', date_trunc('year', observations.observation_date)::date)
        ) as period (period_type, period_start)
    where
        observations.observation_date >= {{ reporting_start_date() }}
        and observations.observation_date <= {{ as_of_date() }}

),

by_area as (

    select
        indicator_code,
        period_type,
        period_start,
        case
            when grouping(community_code) = 0 then community_code
            when grouping(town_code) = 0 then town_code
            else '341523000000'
        end as area_code,
        case
            when grouping(community_code) = 0 then 'community'
            when grouping(town_code) = 0 then 'town'
            else 'county'
        end as area_level,
        sum(numerator) as numerator,
        sum(denominator) as denominator,
        case
            when indicator_code = 'TS_SC_MED' then percentile_cont(0.5) within group (order by measure)
            when indicator_code = 'TS_SC_P90' then percentile_cont(0.9) within group (order by measure)
        end as measure_value
    from dated
    group by grouping sets (
        (indicator_code, period_type, period_start, town_code, community_code),
        (indicator_code, period_type, period_start, town_code),
        (indicator_code, period_type, period_start)
    )

),

final as (

    select
        indicator_code,
        area_code,
        area_level,
        period_type,
        period_start,
        denominator,
        (period_start + {{ period_length('period_type') }} - interval '1 day')::date as period_end,
        case when indicator_code in ('TS_SC_MED', 'TS_SC_P90') then null else numerator end as numerator,
        round(measure_value::numeric, 4) as measure_value
    from by_area
    where area_code is not null

)

select * from final
