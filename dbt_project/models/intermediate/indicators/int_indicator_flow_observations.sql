-- Unit-level observations of the flow indicators (流量指标观测): one row per indicator and counted
-- work order (or early warning), dated by the event that places it in a period (Asia/Shanghai):
-- received (TS_SL, TS_CF, TS_SJ2, TS_SJ3), dispatched (TS_XY), visited (TS_JJ, TS_MY), due
-- (TS_AS, only orders due by the as-of date), closed (TS_SC_MED, TS_SC_P90: measure = working days),
-- triggered (YJ_SL).
with orders as (

    select * from {{ ref('fct_work_order') }}

),

warnings as (

    select * from {{ ref('fct_early_warning') }}

),

counted_orders as (

    select * from orders
    where is_counted

),

order_observations as (

    select
        indicator.indicator_code,
        case
            when indicator.indicator_code = 'TS_XY' then {{ shanghai_date('counted_orders.dispatched_at') }}
            when indicator.indicator_code in ('TS_JJ', 'TS_MY') then {{ shanghai_date('counted_orders.visited_at') }}
            -- a due time at midnight belongs to the day before
            when indicator.indicator_code = 'TS_AS'
                then {{ shanghai_date("counted_orders.due_at - interval '1 second'") }}
            when indicator.indicator_code in ('TS_SC_MED', 'TS_SC_P90')
                then {{ shanghai_date('counted_orders.closed_at') }}
            else counted_orders.received_date
        end as observation_date,
        counted_orders.community_code,
        counted_orders.town_code,
        counted_orders.work_order_id as unit_id,
        case indicator.indicator_code
            when 'TS_SL' then 1
            when 'TS_XY' then counted_orders.is_responded_on_time::integer
            when 'TS_JJ' then counted_orders.is_resolved::integer
            when 'TS_MY' then counted_orders.is_satisfied::integer
            when 'TS_AS' then counted_orders.is_closed_on_time::integer
            when 'TS_CF' then counted_orders.is_repeat::integer
            when 'TS_SJ2' then (counted_orders.highest_escalation_level >= 2)::integer
            when 'TS_SJ3' then (counted_orders.highest_escalation_level >= 3)::integer
        end::numeric as numerator,
        case when indicator.indicator_code = 'TS_SL' then null else 1 end::numeric as denominator,
        case
            when indicator.indicator_code in ('TS_SC_MED', 'TS_SC_P90')
                then counted_orders.closure_working_days
        end::numeric as measure
    from counted_orders
    inner join (
        values ('TS_SL'), ('TS_XY'), ('TS_JJ'), ('TS_MY'), ('TS_AS'), ('TS_CF'), ('TS_SJ2'), ('TS_SJ3'),
        ('TS_SC_MED'), ('TS_SC_P90')
    ) as indicator (indicator_code)
        on case indicator.indicator_code
            when 'TS_XY' then counted_orders.is_dispatched
            when 'TS_JJ' then counted_orders.has_valid_resolution
            when 'TS_MY' then counted_orders.has_valid_satisfaction
            when 'TS_AS'
                then
                    counted_orders.due_at is not null
                    and counted_orders.due_at <= {{ end_of_day(as_of_date()) }}
            when 'TS_SC_MED' then counted_orders.closure_working_days is not null
            when 'TS_SC_P90' then counted_orders.closure_working_days is not null
            else true
        end

),

warning_observations as (

    select
        'YJ_SL' as indicator_code,
        triggered_date as observation_date,
        community_code,
        town_code,
        early_warning_id as unit_id,
        1::numeric as numerator,
        null::numeric as denominator,
        null::numeric as measure
    from warnings

),

final as (

    select
        indicator_code,
        observation_date,
        community_code,
        town_code,
        unit_id,
        numerator,
        denominator,
        measure
    from order_observations
    union all
    select
        indicator_code,
        observation_date,
        community_code,
        town_code,
        unit_id,
        numerator,
        denominator,
        measure
    from warning_observations

)

select * from final
