{{ config(materialized='table') }}

-- Stock indicators (存量指标) summed over their members by area and period. Which cells a member
-- counts in (month end → month; the period's measurement month → quarter and year; QY_XM year rows
-- only) is the macro place_stock_members, shared with the drill-through published.indicator_members.
-- Stocks have no breakdown: breakdown_type 'total', breakdown_code '_T'. estimate_reason: set when
-- a member unit is carried forward from its last accepted version (a rejected registry row).
with placed as (

    -- the members relation itself, not an import CTE: the macro reads it more than once
    {{ place_stock_members(ref('fct_indicator_stock_members'), extra=['estimate_reason']) }}

),

sums as (

    select
        {{ cell_columns(period_end=true) }},
        sum(numerator) as numerator,
        sum(denominator) as denominator,
        -- estimated (SDMX E) when a member is a rejected row's last accepted version (DOMAIN §8)
        case when count(estimate_reason) > 0 then format(
            '估计值 estimated: %s 个单位沿用上次接受的版本 units carried forward; %s',
            count(estimate_reason), string_agg(distinct estimate_reason, '; ' order by estimate_reason)
        ) end as estimate_reason
    from placed
    group by {{ cell_columns(period_end=true) }}

),

final as (

    select
        *,
        null::numeric as measure_value
    from sums

)

select * from final
