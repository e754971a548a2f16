-- Credit records (信用记录) classified into the rules of ref_credit_rules and scored.
-- Classification: ref_credit_event_mapping of the scheme in force on the event date; a record
-- matches a mapping row when every non-empty condition holds (text pattern on result and
-- description, score band, veto flag); the lowest priority wins. An unmatched record keeps a null
-- credit_rule_code (no points) and fails a test: never a silent zero.
-- Points and validity come from the rule; the item counts in [event_date, valid_until).
-- Only complaints found true (complaint_substantiated) can cost points, never raw complaint counts,
-- and one work order found true costs once: a second record for the same related_order_id (e.g.
-- the order was reopened and found true again) is kept with is_counted = false and 0 points.
with events as (

    select * from {{ ref('stg_credit__events') }}

),

schemes as (

    select * from {{ ref('ref_credit_schemes') }}

),

mapping as (

    select * from {{ ref('ref_credit_event_mapping') }}

),

rules as (

    select * from {{ ref('ref_credit_rules') }}

),

events_in_scheme as (

    select
        events.*,
        schemes.scheme_version,
        schemes.default_validity_months
    from events
    inner join schemes
        on
            events.event_date >= schemes.valid_from
            and (schemes.valid_to is null or events.event_date < schemes.valid_to)

),

classified as (

    select distinct on (events_in_scheme.credit_event_id)
        events_in_scheme.credit_event_id,
        mapping.rule_event_type as credit_rule_code,
        mapping.mapping_id
    from events_in_scheme
    inner join mapping
        on
            events_in_scheme.scheme_version = mapping.scheme_version
            and events_in_scheme.source_event_type = mapping.source_event_type
            and (
                mapping.text_pattern is null
                or concat_ws(' ', events_in_scheme.result_text, events_in_scheme.description) ~ mapping.text_pattern
            )
            and (mapping.score_min is null or events_in_scheme.score >= mapping.score_min)
            and (mapping.score_max is null or events_in_scheme.score < mapping.score_max)
            and (mapping.is_veto_match is null or events_in_scheme.is_veto = mapping.is_veto_match)
            and events_in_scheme.event_date >= mapping.valid_from
            and (mapping.valid_to is null or events_in_scheme.event_date < mapping.valid_to)
    order by events_in_scheme.credit_event_id, mapping.priority, mapping.mapping_id

),

numbered as (

    select
        events_in_scheme.*,
        row_number() over (
            partition by
                events_in_scheme.enterprise_uscc, events_in_scheme.source_event_type,
                events_in_scheme.related_order_id
            order by events_in_scheme.event_date, events_in_scheme.credit_event_id
        ) as record_rank
    from events_in_scheme

),

final as (

    select
        events_in_scheme.credit_event_id,
        events_in_scheme.enterprise_uscc,
        events_in_scheme.event_date,
        events_in_scheme.source_event_type,
        classified.credit_rule_code,
        classified.mapping_id,
        events_in_scheme.scheme_version,
        rules.direction,
        rules.event_group as credit_rule_group,
        events_in_scheme.related_order_id is null or events_in_scheme.record_rank = 1 as is_counted,
        case
            when events_in_scheme.related_order_id is null or events_in_scheme.record_rank = 1
                then coalesce(rules.points, 0)
            else 0
        end::numeric as points,
        -- the feed's veto flag is honoured even on a record of another kind
        coalesce(rules.is_veto, false) or events_in_scheme.is_veto as is_veto,
        (
            events_in_scheme.event_date
            + make_interval(
                months => coalesce(rules.validity_months, events_in_scheme.default_validity_months)::integer
            )
        )::date as valid_until
    from numbered as events_in_scheme
    left join classified on events_in_scheme.credit_event_id = classified.credit_event_id
    left join rules
        on
            classified.credit_rule_code = rules.event_type
            and events_in_scheme.scheme_version = rules.scheme_version
            and events_in_scheme.event_date >= rules.valid_from
            and (rules.valid_to is null or events_in_scheme.event_date < rules.valid_to)

)

select * from final
