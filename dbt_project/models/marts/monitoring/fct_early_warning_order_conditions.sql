{{ config(materialized='view') }}

-- Condition periods of the work-order rules (工单类预警): one per counted order, rule and version,
-- all closing when the order is closed (fct_work_order.closed_at, its final closure).
-- - Overdue: open k working days after the due date, k the smallest whole number satisfying the
--   comparator (threshold_k): k = 0 at due_at itself, else at the same time of day on the k-th working
--   day after the due date (a due time at midnight belongs to the day before: the end of that day).
-- - Repeat after a resolved rating: from the order's receipt; the repeat rule and its window are
--   fct_work_order's (is_repeat_after_resolved), not a second copy here.
-- - Escalated to the town level: from escalated_l3_at.
{%- set overdue_rules = "('EW_ORDER_OVERDUE', 'EW_ORDER_OVERDUE_LONG')" %}
{%- set repeat_rules = "('EW_REPEAT_AFTER_RESOLVED')" %}
{%- set escalation_rules = "('EW_ESCALATED_L3')" %}
{%- set due_date = shanghai_date("orders.due_at - interval '1 second'") %}

with rules as (

    select * from {{ ref('ref_early_warning_rules') }}

),

orders as (

    select * from {{ ref('fct_work_order') }}

),

overdue_versions as (

    select
        rule_code,
        rule_version,
        case comparator
            when '>=' then ceil(threshold_k)
            when '>' then floor(threshold_k) + 1
        end::integer as overdue_working_days
    from rules
    where rule_code in {{ overdue_rules }}

),

overdue_starts as (

    select
        overdue_versions.rule_code,
        overdue_versions.rule_version,
        overdue_versions.overdue_working_days,
        orders.work_order_id,
        orders.closed_at,
        case
            when overdue_versions.overdue_working_days = 0 then orders.due_at
            else orders.due_at + make_interval(
                days => {{ add_working_days(due_date, 'overdue_versions.overdue_working_days') }} - {{ due_date }}
            )
        end as overdue_from
    from orders
    inner join overdue_versions on overdue_versions.overdue_working_days >= 0
    where orders.is_counted and orders.due_at is not null

),

order_conditions as (

    select
        rule_code,
        rule_version,
        work_order_id,
        overdue_from as condition_from,
        overdue_working_days::numeric as observed_value
    from overdue_starts
    where closed_at is null or closed_at > overdue_from
    union all
    select
        rules.rule_code,
        rules.rule_version,
        orders.work_order_id,
        case
            when rules.rule_code in {{ escalation_rules }} then orders.escalated_l3_at
            else orders.received_at
        end as condition_from,
        null::numeric as observed_value
    from orders
    inner join rules
        on
            (rules.rule_code in {{ repeat_rules }} and orders.is_repeat_after_resolved)
            or (rules.rule_code in {{ escalation_rules }} and orders.escalated_l3_at is not null)
    where orders.is_counted

),

final as (

    select
        order_conditions.rule_code,
        order_conditions.rule_version,
        order_conditions.work_order_id as subject_id,
        order_conditions.condition_from,
        orders.closed_at as condition_to,
        orders.community_code,
        orders.town_code,
        orders.compound_id,
        null as enterprise_uscc,
        order_conditions.observed_value,
        null::numeric as threshold,
        null as comparator,
        null as threshold_unit,
        jsonb_strip_nulls(jsonb_build_object(
            'received_at', orders.received_at,
            'due_at', orders.due_at,
            'extended_count', orders.extended_count,
            'category_code', orders.category_code,
            'repeat_of_work_order_id', orders.repeat_of_work_order_id,
            'highest_escalation_level', orders.highest_escalation_level,
            'serving_enterprise_uscc', orders.enterprise_uscc
        )) as evidence
    from order_conditions
    inner join orders on order_conditions.work_order_id = orders.work_order_id
    where order_conditions.condition_from is not null

)

select * from final
