-- Early warnings as episodes (预警事件, DOMAIN §8): one row per rule version, subject and episode. The
-- fct_early_warning_*_conditions models give, for every version of their rules, the periods in which a
-- rule's condition holds for a subject; parameters come from ref_early_warning_rules, never from code.
-- Here each period is kept for the version in force and active when it opens, so a second version
-- never duplicates an episode: a version that follows an active one opens nothing that started
-- before it, while a rule coming into force (no active version the day before) opens, on its first
-- day, an episode for every subject whose condition already holds (evidence.condition_started_at).
-- Episodes open on or before the as-of date; one that still holds at its end has closed_at null.
{%- set as_of_end = end_of_day(as_of_date()) %}
{%- set tz = var('shumei_timezone', 'Asia/Shanghai') %}

with rules as (

    select * from {{ ref('ref_early_warning_rules') }}

),

rule_versions as (

    -- in force on [valid_from, valid_to) in Asia/Shanghai; follows_active_version: an active version
    -- of the same rule was in force the day before, so this one takes over and opens no backlog
    select
        rules.*,
        rules.valid_from::timestamp at time zone '{{ tz }}' as in_force_from,
        rules.valid_to::timestamp at time zone '{{ tz }}' as in_force_to,
        exists(
            select 1
            from rules as previous
            where
                previous.rule_code = rules.rule_code
                and previous.is_active
                and previous.valid_from < rules.valid_from
                and (previous.valid_to is null or previous.valid_to >= rules.valid_from)
        ) as follows_active_version
    from rules

),

episodes as (

    select * from {{ ref('fct_early_warning_count_conditions') }}
    union all
    select * from {{ ref('fct_early_warning_order_conditions') }}
    union all
    select * from {{ ref('fct_early_warning_grade_conditions') }}
    union all
    select * from {{ ref('fct_early_warning_committee_conditions') }}

),

in_force as (

    select
        episodes.*,
        rule_versions.severity,
        rule_versions.rule_name_zh,
        rule_versions.subject as subject_type,
        rule_versions.window_days,
        coalesce(episodes.comparator, rule_versions.comparator) as rule_comparator,
        coalesce(episodes.threshold, rule_versions.threshold_k) as rule_threshold,
        coalesce(episodes.threshold_unit, rule_versions.threshold_unit) as rule_threshold_unit,
        greatest(episodes.condition_from, rule_versions.in_force_from) as opened_at
    from episodes
    inner join rule_versions
        on
            episodes.rule_code = rule_versions.rule_code
            and episodes.rule_version = rule_versions.rule_version
    where
        rule_versions.is_active
        and (
            (
                episodes.condition_from >= rule_versions.in_force_from
                and (rule_versions.in_force_to is null or episodes.condition_from < rule_versions.in_force_to)
            )
            or (
                -- the backlog of a rule coming into force
                not rule_versions.follows_active_version
                and episodes.condition_from < rule_versions.in_force_from
                and (episodes.condition_to is null or episodes.condition_to > rule_versions.in_force_from)
            )
        )

),

final as (

    select
        md5(concat_ws('|', rule_code, rule_version, subject_id, (opened_at at time zone 'UTC')::text))
            as early_warning_id,
        rule_code,
        rule_version,
        severity,
        rule_name_zh,
        subject_type,
        subject_id,
        opened_at,
        {{ shanghai_date('opened_at') }} as opened_date,
        case when condition_to <= {{ as_of_end }} then condition_to end as closed_at,
        case when condition_to <= {{ as_of_end }} then {{ shanghai_date('condition_to') }} end as closed_date,
        coalesce(condition_to > {{ as_of_end }}, true) as is_open,
        community_code,
        town_code,
        compound_id,
        enterprise_uscc,
        observed_value,
        rule_comparator as comparator,
        rule_threshold as threshold,
        rule_threshold_unit as threshold_unit,
        window_days,
        case
            when condition_from < opened_at
                then evidence || jsonb_build_object('condition_started_at', condition_from)
            else evidence
        end as evidence
    from in_force
    where opened_at < {{ as_of_end }}

)

select * from final
