{{ config(materialized='table') }}

-- Members of the flow indicators (流量指标成员): one row per indicator and counted work order (or
-- early-warning episode), dated by the event that places it in a period (Asia/Shanghai), with the
-- attributes of the published breakdowns (channel, request type, category, rule). DOMAIN §8 and the
-- catalogue's 口径 say which date places an order:
-- - received (TS_SL, TS_CF, TS_SJ2, TS_SJ3);
-- - first dispatch (TS_XY, TS_TD, TS_YQ, TS_CB, TS_DB);
-- - the last valid visit answer (TS_JJ: resolution, TS_MY: satisfaction);
-- - the due time in force of the final cycle (TS_AS, TS_CQ), only orders due by the end of the as-of day;
-- - the final closure (TS_SC_MED, TS_SC_P90 in working days, TS_SCH_MED, TS_SCH_P90 in hours);
-- - the opening of an early-warning episode (YJ_SL).
-- Only counted orders (fct_work_order.is_counted: a 12319 copy never, its original once, rejected
-- orders not at all), and only members dated from the reporting start to the as-of date: the units
-- of the published figures. An early warning about an enterprise has no town of its own: it carries
-- the towns the enterprise served in the month it opened (served_town_codes), and counts in each of
-- them and once in the county (macro place_flow_members).
with orders as (

    select * from {{ ref('fct_work_order') }}

),

warnings as (

    select * from {{ ref('fct_early_warning') }}

),

enterprise_status as (

    select * from {{ ref('fct_enterprise_status_monthly') }}

),

counted_orders as (

    select * from orders
    where is_counted

),

order_members as (

    select
        indicator.indicator_code,
        case
            when indicator.indicator_code in ('TS_XY', 'TS_TD', 'TS_YQ', 'TS_CB', 'TS_DB')
                then {{ shanghai_date('counted_orders.dispatched_at') }}
            when indicator.indicator_code = 'TS_JJ' then {{ shanghai_date('counted_orders.resolution_answered_at') }}
            when indicator.indicator_code = 'TS_MY' then {{ shanghai_date('counted_orders.satisfaction_answered_at') }}
            when indicator.indicator_code in ('TS_AS', 'TS_CQ') then {{ shanghai_date('counted_orders.due_at') }}
            when indicator.indicator_code in ('TS_SC_MED', 'TS_SC_P90', 'TS_SCH_MED', 'TS_SCH_P90')
                then {{ shanghai_date('counted_orders.closed_at') }}
            else counted_orders.received_date
        end as observation_date,
        counted_orders.community_code,
        counted_orders.town_code,
        'work_order' as unit_type,
        counted_orders.work_order_id as unit_id,
        counted_orders.channel,
        counted_orders.request_type_code,
        counted_orders.category_code,
        null::text as rule_code,
        null::text as enterprise_uscc,
        case indicator.indicator_code
            when 'TS_SL' then 1
            when 'TS_XY' then counted_orders.is_responded_on_time::integer
            when 'TS_TD' then counted_orders.is_returned::integer
            when 'TS_YQ' then counted_orders.is_extended::integer
            when 'TS_CB' then counted_orders.is_reopened::integer
            when 'TS_DB' then counted_orders.is_supervised::integer
            when 'TS_JJ' then counted_orders.is_resolved::integer
            when 'TS_MY' then counted_orders.is_satisfied::integer
            when 'TS_AS' then counted_orders.is_closed_on_time::integer
            when 'TS_CQ' then (not counted_orders.is_closed_on_time)::integer
            when 'TS_CF' then counted_orders.is_repeat::integer
            when 'TS_SJ2' then (counted_orders.highest_escalation_level >= 2)::integer
            when 'TS_SJ3' then (counted_orders.highest_escalation_level >= 3)::integer
        end::numeric as numerator,
        case when indicator.indicator_code in ('TS_SL', 'TS_CQ') then null else 1 end::numeric as denominator,
        case
            when indicator.indicator_code in ('TS_SC_MED', 'TS_SC_P90') then counted_orders.closure_working_days
            when indicator.indicator_code in ('TS_SCH_MED', 'TS_SCH_P90') then counted_orders.closure_hours
        end::numeric as measure
    from counted_orders
    inner join (
        values ('TS_SL'), ('TS_XY'), ('TS_TD'), ('TS_YQ'), ('TS_CB'), ('TS_DB'), ('TS_JJ'), ('TS_MY'),
        ('TS_AS'), ('TS_CQ'), ('TS_CF'), ('TS_SJ2'), ('TS_SJ3'), ('TS_SC_MED'), ('TS_SC_P90'),
        ('TS_SCH_MED'), ('TS_SCH_P90')
    ) as indicator (indicator_code)
        on case
            when indicator.indicator_code in ('TS_XY', 'TS_TD', 'TS_YQ', 'TS_CB', 'TS_DB')
                then counted_orders.is_dispatched
            when indicator.indicator_code = 'TS_JJ' then counted_orders.has_valid_resolution
            when indicator.indicator_code = 'TS_MY' then counted_orders.has_valid_satisfaction
            when indicator.indicator_code in ('TS_AS', 'TS_CQ')
                then
                    counted_orders.due_at is not null
                    and counted_orders.due_at <= {{ end_of_day(as_of_date()) }}
            when indicator.indicator_code in ('TS_SC_MED', 'TS_SC_P90', 'TS_SCH_MED', 'TS_SCH_P90')
                then counted_orders.closed_at is not null
            else true
        end

),

warning_members as (

    select
        'YJ_SL' as indicator_code,
        opened_date as observation_date,
        community_code,
        town_code,
        'early_warning' as unit_type,
        early_warning_id as unit_id,
        null::text as channel,
        null::text as request_type_code,
        null::text as category_code,
        rule_code,
        enterprise_uscc,
        1::numeric as numerator,
        null::numeric as denominator,
        null::numeric as measure
    from warnings

),

combined as (

    select
        indicator_code,
        observation_date,
        community_code,
        town_code,
        unit_type,
        unit_id,
        channel,
        request_type_code,
        category_code,
        rule_code,
        enterprise_uscc,
        numerator,
        denominator,
        measure
    from order_members
    union all
    select
        indicator_code,
        observation_date,
        community_code,
        town_code,
        unit_type,
        unit_id,
        channel,
        request_type_code,
        category_code,
        rule_code,
        enterprise_uscc,
        numerator,
        denominator,
        measure
    from warning_members

),

final as (

    select
        combined.indicator_code,
        combined.observation_date,
        combined.community_code,
        combined.town_code,
        enterprise_status.served_town_codes,
        combined.unit_type,
        combined.unit_id,
        combined.channel,
        combined.request_type_code,
        combined.category_code,
        combined.rule_code,
        combined.enterprise_uscc,
        combined.numerator,
        combined.denominator,
        combined.measure
    from combined
    left join enterprise_status
        on
            combined.enterprise_uscc = enterprise_status.enterprise_uscc
            and enterprise_status.month_end_date
            = (date_trunc('month', combined.observation_date::timestamp) + interval '1 month - 1 day')::date
    where
        combined.observation_date >= {{ reporting_start_date() }}
        and combined.observation_date <= {{ as_of_date() }}

)

select * from final
