{{
    config(
        materialized='incremental',
        unique_key='work_order_id',
        incremental_strategy='merge',
        on_schema_change='fail'
    )
}}

{#-
    One row per merged work order (工单事实表). Incremental: a run recomputes, from all their
    events, every order that (a) has an event of a batch newer than the newest batch already in
    the table (late status changes, reruns that replace a batch), or (b) has an event within the
    lookback window before the newest event already in the table; then (c) every order received
    after the earliest closure among those, because a closure moves the repeat flag of later
    orders. The merge on work_order_id replaces their rows. A full refresh gives the same table
    (tests/dbt/test_incremental_equivalence.py).
    Counting (DOMAIN §8): a 12319 copy is merged into its original and never counts; the original
    counts once; only REJECTED orders (and groups made of copies only) leave the counts.
    Due time (DOMAIN §8): the hotline system's own due time in force for the final cycle; the SLA
    table computes one (ending at its deadline_time, 17:30) only where the source sends none.
-#}
{%- set lookback_days = var('shumei_work_order_lookback_days', 45) -%}
{#- Handling events (办理事件): one of them after the last closure shows the order handled again even
    before its 重办 (REOPENED) record arrives: the hotline system enters some records days late (found at
    province scale: dispatch, sign-for and an escalation after a closure, the reopening not yet in).
    Visits, 督办 and 吹哨 flags are not handling. -#}
{%- set handling_events = "('DISPATCHED', 'RETURNED', 'SIGNED', 'CONTACTED', 'IN_PROGRESS', 'EXTENDED', 'REPLIED')" -%}

with events as (

    select * from {{ ref('int_work_order_events_merged') }}

),

request_types as (

    select * from {{ ref('ref_request_types') }}

),

sla_policy as (

    select * from {{ ref('ref_sla_policy') }}

),

category_aliases as (

    select * from {{ ref('ref_complaint_category_aliases') }}

),

repeat_rules as (

    select * from {{ ref('ref_repeat_rules') }}

),

{% if is_incremental() %}

    directly_changed_orders as (

        select distinct events.work_order_id
        from events
        where
            events.batch_id > (select coalesce(max(previous_run.last_batch_id), 0) from {{ this }} as previous_run)
            or events.event_at >= (
                select max(previous_run.last_event_at) - interval '{{ lookback_days }} days'
                from {{ this }} as previous_run
            )

    ),

    earliest_changed_closure as (

        select min(events.event_at) as changed_from
        from events
        inner join directly_changed_orders on events.work_order_id = directly_changed_orders.work_order_id
        where events.event_type in ('CLOSED', 'DIRECT_ANSWERED')

    ),

    changed_orders as (

        select work_order_id from directly_changed_orders
        union
        select distinct events.work_order_id
        from events
        where events.received_at >= (select earliest_changed_closure.changed_from from earliest_changed_closure)

    ),

    scoped_events as (

        select events.*
        from events
        inner join changed_orders on events.work_order_id = changed_orders.work_order_id

    ),

{% else %}

    scoped_events as (

        select * from events

    ),

{% endif %}

headers as (

    -- the order header: from the original order's first event, a copy's only if the original is missing
    select distinct on (work_order_id)
        work_order_id,
        channel,
        received_at,
        request_type_zh,
        category_zh,
        urgency_zh,
        compound_id,
        community_code,
        town_code,
        enterprise_uscc,
        caller_phone_hash
    from scoped_events
    order by work_order_id, is_duplicate_copy, event_seq, event_id

),

milestones as (

    select
        work_order_id as milestone_order_id,
        string_agg(distinct channel, ',' order by channel) as channels,
        count(distinct source_order_id) - 1 as duplicate_copies,
        min(event_at) filter (where event_type = 'DISPATCHED') as dispatched_at,
        array_agg(event_at order by event_at) filter (where event_type = 'DISPATCHED') as dispatch_times,
        min(event_at) filter (where event_type = 'SIGNED') as signed_at,
        min(event_at) filter (where event_type = 'CONTACTED') as contacted_at,
        min(event_at) filter (where event_type = 'REPLIED') as replied_at,
        min(event_at) filter (where event_type in ('CLOSED', 'DIRECT_ANSWERED')) as first_closed_at,
        max(event_at) filter (where event_type in ('CLOSED', 'DIRECT_ANSWERED')) as last_closure_at,
        max(event_at) filter (where event_type = 'VISITED') as visited_at,
        max(event_at) filter (where event_type = 'REOPENED' and not is_duplicate_copy) as last_reopened_at,
        max(event_seq) filter (where event_type = 'REOPENED' and not is_duplicate_copy) as last_reopened_seq,
        max(event_at) filter (where event_type in {{ handling_events }} and not is_duplicate_copy) as last_handled_at,
        -- the source's due time in force: the last extension of the final cycle, else the due time
        -- carried by the latest event that carries one (a reopened cycle carries its new due time)
        (
            array_agg(new_due_at order by event_seq desc, event_at desc, event_id desc)
            filter (where event_type = 'EXTENDED' and new_due_at is not null and not is_duplicate_copy)
        )[1] as extended_due_at,
        (
            array_agg(event_seq order by event_seq desc, event_at desc, event_id desc)
            filter (where event_type = 'EXTENDED' and new_due_at is not null and not is_duplicate_copy)
        )[1] as extended_seq,
        (
            array_agg(due_at order by event_seq desc, event_at desc, event_id desc)
            filter (where due_at is not null and not is_duplicate_copy)
        )[1] as carried_due_at,
        -- each order once, by its last valid answer (DOMAIN §8)
        (
            array_agg(satisfaction_zh order by event_at desc, event_id desc)
            filter (where event_type = 'VISITED' and satisfaction_zh in ('满意', '基本满意', '不满意'))
        )[1] as satisfaction_zh,
        max(event_at) filter (
            where event_type = 'VISITED' and satisfaction_zh in ('满意', '基本满意', '不满意')
        ) as satisfaction_answered_at,
        (
            array_agg(resolved_rating_zh order by event_at desc, event_id desc)
            filter (where event_type = 'VISITED' and resolved_rating_zh in ('已解决', '未解决'))
        )[1] as resolved_rating_zh,
        max(event_at) filter (
            where event_type = 'VISITED' and resolved_rating_zh in ('已解决', '未解决')
        ) as resolution_answered_at,
        -- a group of copies only (its original's events not loaded: before the history's first day, or
        -- still to come) takes the latest of the copies' own events other than their 并案: received
        coalesce(
            (
                array_agg(event_type order by event_at desc, event_seq desc, event_id desc)
                filter (where not is_duplicate_copy)
            )[1],
            (
                array_agg(event_type order by event_at desc, event_seq desc, event_id desc)
                filter (where event_type <> 'MERGED')
            )[1]
        ) as current_status_code,
        coalesce(max(escalation_level), 1) as highest_escalation_level,
        min(event_at) filter (where escalation_level >= 3) as escalated_l3_at,
        bool_or(event_type = 'DIRECT_ANSWERED') as is_direct_answered,
        bool_or(event_type = 'REJECTED') as is_rejected,
        -- the MERGED event of a copy belongs to the copy, not to the original it is merged into
        coalesce(bool_or(event_type = 'MERGED') filter (where not is_duplicate_copy), false) as is_merged,
        bool_or(not is_duplicate_copy) as has_original,
        count(*) filter (where event_type = 'RETURNED') as returned_count,
        count(*) filter (where event_type = 'EXTENDED') as extended_count,
        count(*) filter (where event_type = 'REOPENED') as reopened_count,
        count(*) filter (where event_type = 'SUPERVISED') as supervised_count,
        coalesce(bool_or(is_complaint_verified), false) as is_complaint_verified,
        count(*) as event_count,
        max(event_at) as last_event_at,
        max(updated_at) as last_updated_at,
        max(batch_id) as last_batch_id
    from scoped_events
    group by work_order_id

),

with_policy as (

    select
        headers.*,
        milestones.*,
        request_types.request_type_code,
        category_aliases.category_code,
        sla_policy.sla_id,
        sla_policy.urgency_code,
        sla_policy.sign_limit_value,
        sla_policy.sign_limit_unit,
        sla_policy.closure_limit_value,
        sla_policy.closure_limit_unit,
        sla_policy.response_limit_value,
        sla_policy.response_limit_unit,
        sla_policy.deadline_time,
        {{ shanghai_date('headers.received_at') }} as received_date,
        -- the response clocks start at the dispatch the unit signed for: the last one before the first
        -- sign-for (a returned order is dispatched again), else the first dispatch
        coalesce(
            (
                select max(dispatch.dispatched_at)
                from unnest(milestones.dispatch_times) as dispatch (dispatched_at)
                where dispatch.dispatched_at <= milestones.signed_at
            ),
            milestones.dispatched_at
        ) as response_clock_at,
        -- the final closure: none while a reopened order (重办) is being handled again, whether its
        -- 重办 record is in or only handling events after the closure are
        case
            when
                (milestones.last_reopened_at is null or milestones.last_closure_at > milestones.last_reopened_at)
                and (milestones.last_handled_at is null or milestones.last_closure_at > milestones.last_handled_at)
                then milestones.last_closure_at
        end as closed_at,
        -- the final cycle starts at the last reopening (重办), else at receipt
        coalesce(milestones.last_reopened_at, headers.received_at) as cycle_started_at,
        case
            when milestones.extended_seq > coalesce(milestones.last_reopened_seq, 0) then milestones.extended_due_at
        end as cycle_extended_due_at
    from headers
    inner join milestones on headers.work_order_id = milestones.milestone_order_id
    left join request_types
        on
            headers.request_type_zh = request_types.name_zh
            and request_types.valid_from <= {{ shanghai_date('headers.received_at') }}
            and (request_types.valid_to is null or request_types.valid_to > {{ shanghai_date('headers.received_at') }})
    left join category_aliases
        on
            headers.category_zh = category_aliases.alias_zh
            and category_aliases.valid_from <= {{ shanghai_date('headers.received_at') }}
            and (
                category_aliases.valid_to is null
                or category_aliases.valid_to > {{ shanghai_date('headers.received_at') }}
            )
    left join sla_policy
        on
            request_types.request_type_code = sla_policy.request_type_code
            and headers.urgency_zh = sla_policy.urgency_name_zh
            and sla_policy.valid_from <= {{ shanghai_date('headers.received_at') }}
            and (sla_policy.valid_to is null or sla_policy.valid_to > {{ shanghai_date('headers.received_at') }})

),

with_due as (

    -- working-day limits end at the SLA's deadline time (17:30) of the n-th working day after the
    -- start day (Asia/Shanghai); hour limits run from the start instant (macro limit_end)
    select
        with_policy.*,
        {{ limit_end('with_policy.cycle_started_at', 'with_policy.closure_limit_value',
                     'with_policy.closure_limit_unit', 'with_policy.deadline_time') }} as sla_due_at,
        {{ limit_end('with_policy.response_clock_at', 'with_policy.sign_limit_value',
                     'with_policy.sign_limit_unit', 'with_policy.deadline_time') }} as sign_due_at,
        {{ limit_end('with_policy.response_clock_at', 'with_policy.response_limit_value',
                     'with_policy.response_limit_unit', 'with_policy.deadline_time') }} as response_due_at
    from with_policy

),

measured as (

    select
        with_due.*,
        coalesce(with_due.cycle_extended_due_at, with_due.carried_due_at) as source_due_at,
        case
            when with_due.is_direct_answered or with_due.is_rejected or with_due.is_merged then null
            else coalesce(with_due.cycle_extended_due_at, with_due.carried_due_at, with_due.sla_due_at)
        end as due_at,
        case
            when with_due.is_direct_answered or with_due.is_rejected or with_due.is_merged then null
            when coalesce(with_due.cycle_extended_due_at, with_due.carried_due_at) is not null then 'source'
            when with_due.sla_due_at is not null then 'sla'
        end as due_source,
        {{ working_days_between('received_at', 'closed_at') }} as closure_working_days,
        round((extract(epoch from with_due.closed_at - with_due.received_at) / 3600.0)::numeric, 2) as closure_hours,
        with_due.has_original and not (with_due.is_rejected or with_due.is_merged) as is_counted
    from with_due

),

prior_closures as (

    -- closed orders an order may repeat: the freshly computed ones and, in an incremental run,
    -- the unchanged rows already in the table
    select
        work_order_id,
        caller_phone_hash,
        compound_id,
        category_zh,
        closed_at,
        resolved_rating_zh
    from measured
    where closed_at is not null and is_counted
    {% if is_incremental() %}
        union all
        select
            previous_run.work_order_id,
            previous_run.caller_phone_hash,
            previous_run.compound_id,
            previous_run.category_zh,
            previous_run.closed_at,
            previous_run.resolved_rating_zh
        from {{ this }} as previous_run
        where
            previous_run.closed_at is not null
            and previous_run.is_counted
            and previous_run.work_order_id not in (select changed_orders.work_order_id from changed_orders)
    {% endif %}

),

repeat_matches as (

    -- the same caller about the same compound and category, within the window of the repeat rule in
    -- force on the later order's receipt date, after the earlier order was closed (DOMAIN §4, §8)
    select
        measured.work_order_id,
        prior_closures.work_order_id as prior_work_order_id,
        prior_closures.closed_at as prior_closed_at,
        prior_closures.resolved_rating_zh as prior_resolved_rating_zh
    from measured
    inner join repeat_rules
        on
            measured.received_date >= repeat_rules.valid_from
            and (repeat_rules.valid_to is null or measured.received_date < repeat_rules.valid_to)
    inner join prior_closures
        on
            measured.caller_phone_hash = prior_closures.caller_phone_hash
            and measured.compound_id = prior_closures.compound_id
            and measured.category_zh = prior_closures.category_zh
            and measured.work_order_id <> prior_closures.work_order_id
            and measured.received_at > prior_closures.closed_at
            and measured.received_at <= prior_closures.closed_at + make_interval(days => repeat_rules.window_days)
    where measured.is_counted

),

repeats as (

    select
        work_order_id,
        true as is_repeat,
        bool_or(prior_resolved_rating_zh = '已解决') as is_repeat_after_resolved,
        (array_agg(prior_work_order_id order by prior_closed_at desc, prior_work_order_id desc))[1]
            as repeat_of_work_order_id
    from repeat_matches
    group by work_order_id

),

final as (

    select
        measured.work_order_id,
        measured.channel,
        measured.channels,
        measured.duplicate_copies::integer as duplicate_copies,
        measured.received_at,
        measured.received_date,
        measured.request_type_zh,
        measured.request_type_code,
        measured.category_zh,
        measured.category_code,
        measured.urgency_zh,
        measured.urgency_code,
        measured.compound_id,
        measured.community_code,
        measured.town_code,
        measured.enterprise_uscc,
        measured.caller_phone_hash,
        measured.current_status_code,
        measured.dispatched_at,
        measured.signed_at,
        measured.contacted_at,
        measured.replied_at,
        measured.first_closed_at,
        measured.closed_at,
        measured.visited_at,
        measured.satisfaction_answered_at,
        measured.resolution_answered_at,
        measured.last_reopened_at,
        measured.sla_id,
        measured.sla_due_at,
        measured.extended_due_at,
        measured.source_due_at,
        measured.due_at,
        measured.due_source,
        measured.sign_due_at,
        measured.response_due_at,
        measured.closure_working_days,
        measured.closure_hours,
        measured.satisfaction_zh,
        measured.resolved_rating_zh,
        repeats.repeat_of_work_order_id,
        measured.highest_escalation_level::integer as highest_escalation_level,
        measured.escalated_l3_at,
        measured.is_direct_answered,
        measured.is_rejected,
        measured.is_merged,
        measured.returned_count::integer as returned_count,
        measured.extended_count::integer as extended_count,
        measured.reopened_count::integer as reopened_count,
        measured.supervised_count::integer as supervised_count,
        measured.is_complaint_verified,
        measured.event_count::integer as event_count,
        measured.last_event_at,
        measured.last_updated_at,
        measured.last_batch_id,
        measured.is_counted,
        measured.closed_at is not null and measured.closed_at <= measured.due_at as is_closed_on_time,
        measured.dispatched_at is not null as is_dispatched,
        coalesce(
            measured.signed_at <= measured.sign_due_at and measured.contacted_at <= measured.response_due_at, false
        ) as is_responded_on_time,
        measured.returned_count > 0 as is_returned,
        measured.extended_count > 0 as is_extended,
        measured.reopened_count > 0 as is_reopened,
        measured.supervised_count > 0 as is_supervised,
        measured.satisfaction_zh is not null as has_valid_satisfaction,
        measured.satisfaction_zh in ('满意', '基本满意') as is_satisfied,
        measured.resolved_rating_zh is not null as has_valid_resolution,
        measured.resolved_rating_zh = '已解决' as is_resolved,
        coalesce(repeats.is_repeat, false) as is_repeat,
        coalesce(repeats.is_repeat_after_resolved, false) as is_repeat_after_resolved
    from measured
    left join repeats on measured.work_order_id = repeats.work_order_id

)

select * from final
