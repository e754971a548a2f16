{{ config(materialized='table') }}

-- Stock indicators (存量指标) summed by area and period. Month rows are the month-end values;
-- a quarter or year takes the value of its last month end, or of the latest reporting month while
-- it is unfinished. QY_XM is a yearly flow: only its year rows are kept (at the year end).
with observations as (

    select * from {{ ref('int_indicator_stock_observations') }}

),

months as (

    select * from {{ ref('int_reporting_months') }}

),

by_area as (

    select
        indicator_code,
        month_end_date,
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
        sum(denominator) as denominator
    from observations
    group by grouping sets (
        (indicator_code, month_end_date, town_code, community_code),
        (indicator_code, month_end_date, town_code),
        (indicator_code, month_end_date)
    )

),

last_month as (

    select max(month_end_date) as month_end_date from months

),

periods as (

    select
        'month' as period_type,
        month_start_date as period_start,
        month_end_date as period_end,
        month_end_date as measured_at
    from months
    union all
    select distinct
        'quarter' as period_type,
        months.quarter_start_date as period_start,
        months.quarter_end_date as period_end,
        least(months.quarter_end_date, last_month.month_end_date) as measured_at
    from months cross join last_month
    union all
    select distinct
        'year' as period_type,
        months.year_start_date as period_start,
        months.year_end_date as period_end,
        least(months.year_end_date, last_month.month_end_date) as measured_at
    from months cross join last_month

),

final as (

    select
        by_area.indicator_code,
        by_area.area_code,
        by_area.area_level,
        periods.period_type,
        periods.period_start,
        periods.period_end,
        by_area.numerator,
        by_area.denominator,
        null::numeric as measure_value
    from by_area
    inner join periods on by_area.month_end_date = periods.measured_at
    where
        by_area.area_code is not null
        and (by_area.indicator_code <> 'QY_XM' or periods.period_type = 'year')

)

select * from final
