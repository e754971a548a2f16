{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['indicator_code', 'period_type', 'period_start'],
        on_schema_change='append_new_columns',
        post_hook=["{{ delete_vanished_flow_periods(ref('fct_indicator_flow_members')) }}"]
    )
}}

-- Flow indicators (流量指标) summed over their members by area, period (month, quarter, year of the
-- observation date, Asia/Shanghai) and breakdown. Which cells a member counts in (community, town,
-- county, the towns an enterprise serves; total, and by channel / request type / category / rule at
-- town and county level) is the macro place_flow_members, shared with the drill-through
-- published.indicator_members. Closure-time indicators carry the median / 90th percentile
-- (continuous) of working days or hours in measure_value, with the number of closed orders as
-- denominator and no numerator.
-- Incremental by period (按期增量): every cell carries the checksum of all members of its indicator ×
-- period (period_members_checksum, macro flow_period_checksums). A run rebuilds only the indicator ×
-- periods whose members changed since the last run (new orders, late events that move an order into
-- an earlier period or change it there: DOMAIN §8 "latest values use everything known now", a later
-- as-of date), deleting and inserting all their cells; the periods that lost every member are deleted
-- by the post-hook. A full refresh gives the same table (tests/dbt/test_incremental_equivalence.py).
{%- set closure_times = "('TS_SC_MED', 'TS_SCH_MED', 'TS_SC_P90', 'TS_SCH_P90')" %}
{%- set fraction = "case when indicator_code in ('TS_SC_MED', 'TS_SCH_MED') then 0.5 else 0.9 end" %}
{#- an incremental run places only the members of the changed periods -#}
{%- set rebuilt_periods = 'changed_periods' if is_incremental() else none %}
{#- what place_flow_members reads of a member besides its date and its counts -#}
{%- set grouped = ['indicator_code', 'community_code', 'town_code', 'served_town_codes', 'channel',
                   'request_type_code', 'category_code', 'rule_code', 'unit_type'] %}

with period_checksums as (

    {{ flow_period_checksums(ref('fct_indicator_flow_members')) }}

),

{% if is_incremental() %}

    changed_periods as (

        select
            period_checksums.indicator_code,
            period_checksums.period_type,
            period_checksums.period_start
        from period_checksums
        where not exists (
            select 1
            from {{ this }} as previous_run
            where
                previous_run.indicator_code = period_checksums.indicator_code
                and previous_run.period_type = period_checksums.period_type
                and previous_run.period_start = period_checksums.period_start
                and previous_run.period_members_checksum = period_checksums.period_members_checksum
        )

    ),

{% endif %}

member_groups as (

    -- The sums need no single member: the members pre-summed by indicator, month and every attribute
    -- the placement reads, the month's first day standing for the observation date (it falls in the
    -- same month, quarter and year), give the same cells and sums with fewer rows to place (city
    -- scale: 10.8 M members, 3.1 M groups). Placing the members themselves into one CTE read by both
    -- the sums and the percentiles materialised every placed row (33 a member) and filled the disk.
    select
        {{ grouped | join(',\n        ') }},
        null::text as unit_id,
        null::numeric as measure,
        date_trunc('month', observation_date::timestamp)::date as observation_date,
        sum(numerator) as numerator,
        sum(denominator) as denominator
    from {{ ref('fct_indicator_flow_members') }}
    group by
        {{ grouped | join(',\n        ') }},
        date_trunc('month', observation_date::timestamp)::date

),

closure_time_members as (

    -- ordered-set aggregates need every member's measure: only the closure-time members
    select *
    from {{ ref('fct_indicator_flow_members') }}
    where indicator_code in {{ closure_times }}

),

sums as (

    select
        {{ cell_columns(period_end=true) }},
        case when indicator_code not in {{ closure_times }} then sum(numerator) end as numerator,
        sum(denominator) as denominator
    from ({{ place_flow_members('member_groups', only_periods=rebuilt_periods) }}) as placed
    group by {{ cell_columns(period_end=true) }}

),

percentiles as (

    select
        {{ cell_columns() }},
        (percentile_cont({{ fraction }}) within group (order by measure))::numeric as measure_value
    from ({{ place_flow_members('closure_time_members', only_periods=rebuilt_periods) }}) as placed
    group by {{ cell_columns() }}

),

final as (

    select
        {{ cell_columns('sums', period_end=true) }},
        sums.numerator,
        sums.denominator,
        percentiles.measure_value,
        period_checksums.period_members_checksum
    from sums
    inner join period_checksums
        on
            sums.indicator_code = period_checksums.indicator_code
            and sums.period_type = period_checksums.period_type
            and sums.period_start = period_checksums.period_start
    left join percentiles on {{ same_cell('sums', 'percentiles') }}

)

select * from final
