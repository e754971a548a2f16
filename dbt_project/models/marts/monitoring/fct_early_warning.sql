-- Early warnings triggered (预警触发记录): one row per rule of ref_early_warning_rules and subject
-- occurrence, with its evidence. Thresholds, windows and activity come from the rules table; a
-- warning counts only while its rule version is active and in force at the trigger date.
-- Complaint clusters trigger on the complaint that brings the trailing count to exactly k (so a
-- persisting cluster does not trigger again on every complaint); grade rules compare each month
-- end with the previous one.
with rules as (

    select * from {{ ref('ref_early_warning_rules') }}

),

orders as (

    select * from {{ ref('fct_work_order') }}

),

credit as (

    select * from {{ ref('fct_enterprise_credit') }}

),

credit_items as (

    select * from {{ ref('int_credit_items_scored') }}

),

enterprise_status as (

    select
        enterprise_uscc,
        month_end_date,
        null::text as home_community_code,
        null::text as home_town_code
    from {{ ref('fct_enterprise_status_monthly') }}

),

committees as (

    select * from {{ ref('int_owners_committee_history') }}

),

compounds as (

    select * from {{ ref('int_compound_history') }}

),

complaints as (

    select
        work_order_id,
        compound_id,
        community_code,
        town_code,
        received_at
    from orders
    where request_type_code = 'complaint' and is_counted and compound_id is not null

),

complaint_counts as (

    -- complaints of the same compound in the trailing window (window_days) up to this one
    select
        complaints.work_order_id,
        complaints.compound_id,
        complaints.community_code,
        complaints.town_code,
        complaints.received_at,
        rules.rule_code,
        rules.threshold_k,
        count(earlier.work_order_id) as complaints_in_window
    from complaints
    inner join rules
        on rules.rule_code in ('EW_COMPOUND_COMPLAINTS', 'EW_COMPOUND_COMPLAINTS_HIGH')
    inner join complaints as earlier
        on
            complaints.compound_id = earlier.compound_id
            and complaints.received_at >= earlier.received_at
            and earlier.received_at > complaints.received_at - make_interval(days => rules.window_days::integer)
    group by
        complaints.work_order_id, complaints.compound_id, complaints.community_code, complaints.town_code,
        complaints.received_at, rules.rule_code, rules.threshold_k

),

compound_clusters as (

    select
        rule_code,
        'compound' as subject_type,
        compound_id as subject_id,
        received_at as triggered_at,
        community_code,
        town_code,
        complaints_in_window::numeric as observed_value,
        jsonb_build_object(
            'complaints_in_window', complaints_in_window, 'last_work_order_id', work_order_id
        ) as evidence
    from complaint_counts
    where complaints_in_window = threshold_k

),

overdue as (

    select
        rules.rule_code,
        'work_order' as subject_type,
        orders.work_order_id as subject_id,
        case
            when rules.rule_code = 'EW_ORDER_OVERDUE' then orders.due_at
            else {{ end_of_day(add_working_days(
                shanghai_date("orders.due_at - interval '1 second'"), 'rules.threshold_k::integer'
            )) }}
        end as triggered_at,
        orders.community_code,
        orders.town_code,
        {{ working_days_between(
            'orders.due_at', 'coalesce(orders.closed_at, ' ~ end_of_day(as_of_date()) ~ ')'
        ) }}::numeric as observed_value,
        jsonb_build_object('due_at', orders.due_at, 'closed_at', orders.closed_at) as evidence
    from orders
    inner join rules on rules.rule_code in ('EW_ORDER_OVERDUE', 'EW_ORDER_OVERDUE_LONG')
    where
        orders.due_at is not null
        and coalesce(orders.closed_at, {{ end_of_day(as_of_date()) }}) > orders.due_at

),

overdue_triggered as (

    select overdue.*
    from overdue
    inner join rules on overdue.rule_code = rules.rule_code
    where
        overdue.triggered_at <= {{ end_of_day(as_of_date()) }}
        and (rules.rule_code = 'EW_ORDER_OVERDUE' or overdue.observed_value >= rules.threshold_k)

),

order_flags as (

    select
        rules.rule_code,
        'work_order' as subject_type,
        orders.work_order_id as subject_id,
        orders.community_code,
        orders.town_code,
        case when rules.rule_code = 'EW_ESCALATED_L3' then orders.escalated_l3_at else orders.received_at end
            as triggered_at,
        case
            when rules.rule_code = 'EW_ESCALATED_L3' then orders.highest_escalation_level else 1
        end::numeric as observed_value,
        jsonb_build_object(
            'repeat_of_work_order_id', orders.repeat_of_work_order_id,
            'highest_escalation_level', orders.highest_escalation_level
        ) as evidence
    from orders
    inner join rules
        on
            (rules.rule_code = 'EW_REPEAT_AFTER_RESOLVED' and orders.is_repeat_after_resolved)
            or (
                rules.rule_code = 'EW_ESCALATED_L3'
                and orders.highest_escalation_level >= rules.threshold_k
                and orders.escalated_l3_at is not null
            )

),

grade_changes as (

    select
        rules.rule_code,
        'enterprise' as subject_type,
        credit.enterprise_uscc as subject_id,
        {{ end_of_day('credit.month_end_date') }} - interval '1 second' as triggered_at,
        enterprise_status.home_community_code as community_code,
        enterprise_status.home_town_code as town_code,
        case
            when rules.rule_code = 'EW_ENTERPRISE_GRADE_DROP'
                then (credit.credit_grade_rank - credit.previous_credit_grade_rank)
            else credit.credit_grade_rank
        end::numeric as observed_value,
        jsonb_build_object(
            'month_end_date', credit.month_end_date, 'credit_grade', credit.credit_grade,
            'previous_credit_grade', credit.previous_credit_grade, 'credit_score', credit.credit_score
        ) as evidence
    from credit
    inner join rules
        on
            (
                rules.rule_code = 'EW_ENTERPRISE_GRADE_DROP'
                and credit.credit_grade_rank - credit.previous_credit_grade_rank >= rules.threshold_k
            )
            or (
                rules.rule_code = 'EW_ENTERPRISE_GRADE_C'
                and credit.credit_grade_rank = rules.threshold_k
                and credit.previous_credit_grade_rank is distinct from rules.threshold_k::integer
            )
    -- the enterprise's home area in that month, or the last one it had (it may serve no compound now);
    -- enterprises that never served a compound of the county are outside the programme's scope
    inner join lateral (
        select
            status.home_community_code,
            status.home_town_code
        from enterprise_status as status
        where
            status.enterprise_uscc = credit.enterprise_uscc
            and status.month_end_date <= credit.month_end_date
        order by status.month_end_date desc
        limit 1
    ) as enterprise_status on true
    where not credit.is_provisional

),

vetoes as (

    select
        'EW_ENTERPRISE_VETO' as rule_code,
        'enterprise' as subject_type,
        credit_items.enterprise_uscc as subject_id,
        {{ end_of_day('credit_items.event_date') }} - interval '1 second' as triggered_at,
        enterprise_status.home_community_code as community_code,
        enterprise_status.home_town_code as town_code,
        1::numeric as observed_value,
        jsonb_build_object(
            'credit_event_id', credit_items.credit_event_id, 'credit_rule_code', credit_items.credit_rule_code
        ) as evidence
    from credit_items
    inner join lateral (
        select
            status.home_community_code,
            status.home_town_code
        from enterprise_status as status
        where
            status.enterprise_uscc = credit_items.enterprise_uscc
            and status.month_end_date
            <= (date_trunc('month', credit_items.event_date) + interval '1 month - 1 day')::date
        order by status.month_end_date desc
        limit 1
    ) as enterprise_status on true
    where credit_items.is_veto

),

committee_shares as (

    -- each committee version whose party-member share is below the threshold
    select
        rules.rule_code,
        'owners_committee' as subject_type,
        committees.committee_id as subject_id,
        greatest(committees.valid_from, committees.formed_date, rules.valid_from)::timestamp
        at time zone '{{ var("shumei_timezone", "Asia/Shanghai") }}' as triggered_at,
        compounds.community_code,
        compounds.town_code,
        round(committees.party_members::numeric / nullif(committees.members, 0), 4) as observed_value,
        jsonb_build_object(
            'compound_id', committees.compound_id, 'members', committees.members,
            'party_members', committees.party_members
        ) as evidence,
        lag(committees.party_members::numeric < rules.threshold_k * committees.members) over (
            partition by committees.committee_id order by committees.valid_from
        ) as was_below
    from committees
    inner join rules
        on
            rules.rule_code = 'EW_COMMITTEE_PARTY_SHARE'
            and committees.is_active
            and committees.party_members::numeric < rules.threshold_k * committees.members
    left join compounds
        on
            committees.compound_id = compounds.compound_id
            and committees.valid_from >= compounds.valid_from
            and (compounds.valid_to is null or committees.valid_from < compounds.valid_to)

),

triggered as (

    select
        rule_code,
        subject_type,
        subject_id,
        triggered_at,
        community_code,
        town_code,
        observed_value,
        evidence
    from compound_clusters
    union all
    select
        rule_code,
        subject_type,
        subject_id,
        triggered_at,
        community_code,
        town_code,
        observed_value,
        evidence
    from overdue_triggered
    union all
    select
        rule_code,
        subject_type,
        subject_id,
        triggered_at,
        community_code,
        town_code,
        observed_value,
        evidence
    from order_flags
    union all
    select
        rule_code,
        subject_type,
        subject_id,
        triggered_at,
        community_code,
        town_code,
        observed_value,
        evidence
    from grade_changes
    union all
    select
        rule_code,
        subject_type,
        subject_id,
        triggered_at,
        community_code,
        town_code,
        observed_value,
        evidence
    from vetoes
    union all
    select
        rule_code,
        subject_type,
        subject_id,
        triggered_at,
        community_code,
        town_code,
        observed_value,
        evidence
    from committee_shares
    where was_below is not true

),

final as (

    select
        md5(triggered.rule_code || '|' || triggered.subject_id || '|' || triggered.triggered_at::text)
            as early_warning_id,
        triggered.rule_code,
        rules.rule_version,
        rules.severity,
        rules.rule_name_zh,
        triggered.subject_type,
        triggered.subject_id,
        triggered.triggered_at,
        {{ shanghai_date('triggered.triggered_at') }} as triggered_date,
        {{ shanghai_date('triggered.triggered_at') }} as opened_date,
        case when triggered.subject_type = 'enterprise' then triggered.subject_id end as enterprise_uscc,
        triggered.community_code,
        triggered.town_code,
        triggered.observed_value,
        rules.comparator,
        rules.threshold_k as threshold,
        rules.threshold_unit,
        triggered.evidence
    from triggered
    inner join rules
        on
            triggered.rule_code = rules.rule_code
            and rules.is_active
            and rules.valid_from <= {{ shanghai_date('triggered.triggered_at') }}
            and (rules.valid_to is null or rules.valid_to > {{ shanghai_date('triggered.triggered_at') }})
    where triggered.triggered_at is not null

)

select * from final
