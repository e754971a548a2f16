{{ config(materialized='table') }}

-- Flow indicators (流量指标) summed over their members by area, period (month, quarter, year of the
-- observation date, Asia/Shanghai) and breakdown. Which cells a member counts in (community, town,
-- county, the towns an enterprise serves; total, and by channel / request type / category / rule at
-- town and county level) is the macro place_flow_members, shared with the drill-through
-- published.indicator_members. Closure-time indicators carry the median / 90th percentile
-- (continuous) of working days or hours in measure_value, with the number of closed orders as
-- denominator and no numerator.
{%- set closure_times = "('TS_SC_MED', 'TS_SCH_MED', 'TS_SC_P90', 'TS_SCH_P90')" %}
{%- set fraction = "case when indicator_code in ('TS_SC_MED', 'TS_SCH_MED') then 0.5 else 0.9 end" %}

with placed as (

    -- the members relation itself, not an import CTE: the macro reads it more than once
    {{ place_flow_members(ref('fct_indicator_flow_members')) }}

),

sums as (

    select
        {{ cell_columns(period_end=true) }},
        case when indicator_code not in {{ closure_times }} then sum(numerator) end as numerator,
        sum(denominator) as denominator
    from placed
    group by {{ cell_columns(period_end=true) }}

),

percentiles as (

    -- ordered-set aggregates need sorted input: only over the closure-time members
    select
        {{ cell_columns() }},
        (percentile_cont({{ fraction }}) within group (order by measure))::numeric as measure_value
    from placed
    where indicator_code in {{ closure_times }}
    group by {{ cell_columns() }}

),

final as (

    select
        {{ cell_columns('sums', period_end=true) }},
        sums.numerator,
        sums.denominator,
        percentiles.measure_value
    from sums
    left join percentiles on {{ same_cell('sums', 'percentiles') }}

)

select * from final
