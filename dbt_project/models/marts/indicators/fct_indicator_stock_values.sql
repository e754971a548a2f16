{{ config(materialized='table') }}

-- Stock indicators (存量指标) summed over their members by area and period. Which cells a member
-- counts in (month end → month; the period's measurement month → quarter and year; QY_XM year rows
-- only) is the macro place_stock_members, shared with the drill-through published.indicator_members.
-- Stocks have no breakdown: breakdown_type 'total', breakdown_code '_T'.
with placed as (

    -- the members relation itself, not an import CTE: the macro reads it more than once
    {{ place_stock_members(ref('fct_indicator_stock_members')) }}

),

sums as (

    select
        indicator_code,
        area_code,
        area_level,
        period_type,
        period_start,
        period_end,
        breakdown_type,
        breakdown_code,
        sum(numerator) as numerator,
        sum(denominator) as denominator
    from placed
    group by
        indicator_code, area_code, area_level, period_type, period_start, period_end, breakdown_type, breakdown_code

),

final as (

    select
        *,
        null::numeric as measure_value
    from sums

)

select * from final
