{{ config(materialized='view') }}

-- Condition periods of the owners' committee rule (业委会党员比例预警): an active committee that misses
-- the YWH_DY per-committee norm in force (ref_indicator_targets, measure_scope unit: the norm's one
-- home; the rule carries no threshold of its own). The SCD2 versions of the committee, cut by the norm
-- versions, are merged where the condition holds (gaps and islands); from the start of the first day
-- to the start of the day it stops holding (it meets the norm, leaves office or leaves the ledger).
{%- set tz = var('shumei_timezone', 'Asia/Shanghai') %}
{%- set committee_rules = "('EW_COMMITTEE_PARTY_SHARE')" %}

with rules as (

    select * from {{ ref('ref_early_warning_rules') }}

),

committees as (

    select * from {{ ref('int_owners_committee_history') }}

),

compounds as (

    select * from {{ ref('int_compound_history') }}

),

targets as (

    select * from {{ ref('ref_indicator_targets') }}

),

norms as (

    select
        comparator,
        threshold,
        unit,
        valid_from,
        valid_to
    from targets
    where indicator_code = 'YWH_DY' and measure_scope = 'unit'

),

pieces as (

    select
        rules.rule_code,
        rules.rule_version,
        committees.committee_id,
        committees.compound_id,
        committees.members,
        committees.party_members,
        norms.threshold,
        norms.comparator,
        norms.unit,
        greatest(committees.valid_from, committees.formed_date, norms.valid_from) as piece_from,
        least(committees.valid_to, norms.valid_to) as piece_to
    from committees
    inner join rules on rules.rule_code in {{ committee_rules }}
    inner join norms
        on
            (norms.valid_to is null or committees.valid_from < norms.valid_to)
            and (committees.valid_to is null or committees.valid_to > norms.valid_from)
    where
        committees.is_active
        -- the norm is missed: party members <norm comparator> threshold * members does not hold
        and not coalesce(
            case sign(committees.party_members - norms.threshold * committees.members)::integer
                when -1 then norms.comparator in ('<', '<=')
                when 0 then norms.comparator in ('<=', '=', '>=')
                when 1 then norms.comparator in ('>', '>=')
            end,
            true
        )

),

ordered as (

    select
        *,
        lag(piece_to) over (partition by rule_code, rule_version, committee_id order by piece_from)
            as previous_piece_to
    from pieces
    where piece_to is null or piece_from < piece_to

),

flagged as (

    -- a piece that does not start where the previous one ended starts a new run
    select
        *,
        coalesce(previous_piece_to <> piece_from, true) as is_island_start
    from ordered

),

islands as (

    select
        *,
        count(*) filter (where is_island_start) over (
            partition by rule_code, rule_version, committee_id
            order by piece_from
            rows between unbounded preceding and current row
        ) as island_no
    from flagged

),

runs as (

    select
        rule_code,
        rule_version,
        committee_id,
        min(piece_from) as run_from,
        case when bool_or(piece_to is null) then null else max(piece_to) end as run_to,
        (array_agg(compound_id order by piece_from))[1] as compound_id,
        (array_agg(members order by piece_from))[1] as members,
        (array_agg(party_members order by piece_from))[1] as party_members,
        (array_agg(threshold order by piece_from))[1] as threshold,
        (array_agg(comparator order by piece_from))[1] as norm_comparator,
        (array_agg(unit order by piece_from))[1] as threshold_unit
    from islands
    group by rule_code, rule_version, committee_id, island_no

),

final as (

    select
        runs.rule_code,
        runs.rule_version,
        runs.committee_id as subject_id,
        runs.run_from::timestamp at time zone '{{ tz }}' as condition_from,
        runs.run_to::timestamp at time zone '{{ tz }}' as condition_to,
        compounds.community_code,
        compounds.town_code,
        runs.compound_id,
        null as enterprise_uscc,
        round(runs.party_members::numeric / nullif(runs.members, 0), 4) as observed_value,
        runs.threshold,
        -- the warning holds where the norm is missed: the negation of the norm's comparator
        case runs.norm_comparator
            when '>=' then '<'
            when '>' then '<='
            when '=' then '<>'
            when '<=' then '>'
            when '<' then '>='
        end as comparator,
        runs.threshold_unit,
        jsonb_build_object(
            'members', runs.members,
            'party_members', runs.party_members,
            'norm', 'ref_indicator_targets YWH_DY measure_scope unit'
        ) as evidence
    from runs
    left join compounds
        on
            runs.compound_id = compounds.compound_id
            and runs.run_from >= compounds.valid_from
            and (compounds.valid_to is null or runs.run_from < compounds.valid_to)

)

select * from final
