{{ config(materialized='view') }}

-- Condition periods of the counting rules (计数类预警), for every rule version over the whole history.
-- Each item counts for its subject during [item_from, item_to): a counted complaint for window_days
-- after its receipt (so it is in the window (t - window_days, t]), a veto credit item while it is
-- valid. The number in force is a step function; the condition (number <comparator> threshold_k)
-- holds on runs of steps, and each run is one episode (gaps and islands), however many items arrive.
{%- set tz = var('shumei_timezone', 'Asia/Shanghai') %}
{%- set complaint_rules = "('EW_COMPOUND_COMPLAINTS', 'EW_COMPOUND_COMPLAINTS_HIGH')" %}
{%- set veto_rules = "('EW_ENTERPRISE_VETO')" %}

with rules as (

    select * from {{ ref('ref_early_warning_rules') }}

),

orders as (

    select * from {{ ref('fct_work_order') }}

),

credit_items as (

    select * from {{ ref('int_credit_items_scored') }}

),

counted_items as (

    select
        rules.rule_code,
        rules.rule_version,
        orders.compound_id as subject_id,
        orders.work_order_id as item_id,
        orders.received_at as item_from,
        orders.received_at + make_interval(days => rules.window_days) as item_to
    from orders
    inner join rules on rules.rule_code in {{ complaint_rules }}
    where
        orders.request_type_code = 'complaint'
        and orders.is_counted
        and orders.compound_id is not null
    union all
    select
        rules.rule_code,
        rules.rule_version,
        credit_items.enterprise_uscc as subject_id,
        credit_items.credit_event_id as item_id,
        credit_items.event_date::timestamp at time zone '{{ tz }}' as item_from,
        credit_items.valid_until::timestamp at time zone '{{ tz }}' as item_to
    from credit_items
    inner join rules on rules.rule_code in {{ veto_rules }}
    where credit_items.is_veto

),

count_changes as (

    select
        rule_code,
        rule_version,
        subject_id,
        item_from as changed_at,
        1 as delta,
        item_id as arriving_item_id
    from counted_items
    union all
    select
        rule_code,
        rule_version,
        subject_id,
        item_to as changed_at,
        -1 as delta,
        null as arriving_item_id
    from counted_items
    where item_to is not null

),

count_steps as (

    -- the number in force changes only at these instants
    select
        rule_code,
        rule_version,
        subject_id,
        changed_at,
        sum(delta) as delta,
        count(arriving_item_id) as arrivals,
        min(arriving_item_id) as arriving_item_id
    from count_changes
    group by rule_code, rule_version, subject_id, changed_at

),

count_segments as (

    -- each step lasts until the next change; the condition is read from the rule version
    select
        count_steps.rule_code,
        count_steps.rule_version,
        count_steps.subject_id,
        count_steps.changed_at,
        count_steps.arrivals,
        count_steps.arriving_item_id,
        sum(count_steps.delta) over subject_steps as items_in_force,
        lead(count_steps.changed_at) over subject_steps as segment_to,
        coalesce(
            case sign(sum(count_steps.delta) over subject_steps - rules.threshold_k)::integer
                when -1 then rules.comparator in ('<', '<=')
                when 0 then rules.comparator in ('<=', '=', '>=')
                when 1 then rules.comparator in ('>', '>=')
            end,
            false
        ) as holds
    from count_steps
    inner join rules
        on
            count_steps.rule_code = rules.rule_code
            and count_steps.rule_version = rules.rule_version
    window subject_steps as (
        partition by count_steps.rule_code, count_steps.rule_version, count_steps.subject_id
        order by count_steps.changed_at
        rows between unbounded preceding and current row
    )

),

count_flags as (

    select
        *,
        holds and not coalesce(
            lag(holds) over (partition by rule_code, rule_version, subject_id order by changed_at), false
        ) as is_island_start
    from count_segments

),

count_islands as (

    select
        *,
        count(*) filter (where is_island_start) over (
            partition by rule_code, rule_version, subject_id
            order by changed_at
            rows between unbounded preceding and current row
        ) as island_no
    from count_flags

),

episodes as (

    select
        rule_code,
        rule_version,
        subject_id,
        min(changed_at) as condition_from,
        case when bool_or(segment_to is null) then null else max(segment_to) end as condition_to,
        (array_agg(items_in_force order by changed_at))[1] as observed_value,
        (array_agg(arriving_item_id order by changed_at))[1] as opening_item_id,
        max(items_in_force) as peak_items_in_force,
        sum(arrivals) as items_arrived
    from count_islands
    where holds
    group by rule_code, rule_version, subject_id, island_no

),

final as (

    select
        episodes.rule_code,
        episodes.rule_version,
        episodes.subject_id,
        episodes.condition_from,
        episodes.condition_to,
        opening_order.community_code,
        opening_order.town_code,
        opening_order.compound_id,
        case when episodes.rule_code in {{ veto_rules }} then episodes.subject_id end as enterprise_uscc,
        episodes.observed_value::numeric as observed_value,
        null::numeric as threshold,
        null as comparator,
        null as threshold_unit,
        case
            when episodes.rule_code in {{ veto_rules }}
                then jsonb_build_object(
                    'opening_credit_event_id', episodes.opening_item_id,
                    'peak_valid_veto_items', episodes.peak_items_in_force,
                    'veto_items_recorded', episodes.items_arrived
                )
            else jsonb_build_object(
                'opening_work_order_id', episodes.opening_item_id,
                'peak_complaints_in_window', episodes.peak_items_in_force,
                'complaints_received', episodes.items_arrived
            )
        end as evidence
    from episodes
    left join orders as opening_order
        on
            episodes.opening_item_id = opening_order.work_order_id
            and episodes.rule_code in {{ complaint_rules }}

)

select * from final
