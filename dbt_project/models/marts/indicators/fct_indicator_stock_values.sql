{{ config(materialized='table') }}

-- Stock indicators (存量指标) summed over their members by area and period. Month rows are the
-- month-end values; a quarter or year takes the value of its last month end, or of the latest
-- reporting month while it is unfinished. QY_XM is a yearly flow: only its year rows are kept (at
-- the year end). Stocks have no breakdown: breakdown_type 'total', breakdown_code '_T'.
with members as (

    select * from {{ ref('fct_indicator_stock_members') }}

),

months as (

    select * from {{ ref('int_reporting_months') }}

),

by_area as (

    select
        indicator_code,
        month_end_date,
        area_code,
        area_level,
        sum(numerator) as numerator,
        sum(denominator) as denominator
    from members
    group by indicator_code, month_end_date, area_code, area_level

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
        'total' as breakdown_type,
        '_T' as breakdown_code,
        by_area.numerator,
        by_area.denominator,
        null::numeric as measure_value
    from by_area
    inner join periods on by_area.month_end_date = periods.measured_at
    where by_area.indicator_code <> 'QY_XM' or periods.period_type = 'year'

)

select * from final
