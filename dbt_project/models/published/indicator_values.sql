{#- Hash joins only (the two settings last until the model's transaction ends): PostgreSQL has no
    statistics for the CTEs below and estimates `catalogued` (about a million rows at city scale) at a
    dozen, so it would merge-join the grid and the observations on the indicator and period type alone
    and filter the rest: 355 M rows compared at county scale (47 s against 2.8 s), a hundred times more
    at city scale, quadratic in the size. Same table either way (EXCEPT ALL both ways: 0 rows). -#}
{{ config(
    materialized='table',
    contract={'enforced': true},
    pre_hook=["set local enable_mergejoin = off", "set local enable_nestloop = off"]
) }}

-- Published candidate of the indicator values (指标值发布候选), the public API read by the
-- publication step; columns and types are enforced by the model contract. Every indicator of the
-- programme (DOMAIN §2, §4) in one long table: indicator × area (county, towns, communities;
-- 12-digit codes) × period (month, quarter, year) × breakdown (the total, or by channel, request
-- type, category or rule).
-- Units: rates are percent 0-100 (unit 'percent'; value = 100 × numerator / denominator) with
-- numerator and denominator as counts; counts have value = numerator and no denominator; XY_PJ is a
-- mean score (numerator = sum of scores, denominator = enterprises); closure times are working days
-- or hours (value = median / P90, numerator null, denominator = closed orders).
-- value is the official figure (DOMAIN §8): rounded half-up (四舍五入) to the catalogue's decimals
-- from the exact numerator and denominator, which stay exact beside it.
-- Targets (model indicator_targets, area scope, baselines excepted): a deadline target applies to
-- the rows of its area whose period_end is the deadline; a standing norm (no deadline) applies to
-- every period of its area ending on or after it came into force. The target is in the unit of
-- the value there (ratio thresholds in percent).
-- target_met compares exactly (numerator against threshold × denominator), not the rounded value.
-- Rows are kept only for the area levels and period types the catalogue lists for the indicator.
-- The grid is complete (the publication audit requires every indicator × area × period cell): an
-- area and breakdown of an indicator get every period between the indicator's first and last
-- period; a cell without observations is zero (numerator 0, denominator 0 for rates, so value null:
-- no rate over nothing).
with stock_values as (

    select * from {{ ref('fct_indicator_stock_values') }}

),

flow_values as (

    select * from {{ ref('fct_indicator_flow_values') }}

),

reject_estimates as (

    select * from {{ ref('fct_indicator_reject_estimates') }}

),

catalog as (

    select * from {{ ref('ref_indicator_catalog') }}

),

targets as (

    select * from {{ ref('indicator_targets') }}

),

methodology_changes as (

    select * from {{ ref('ref_methodology_changes') }}

),

indicator_codes as (

    select distinct indicator_code from catalog

),

pending_changes as (

    -- changes of method newer than the one the last release was built with: a value they move is a
    -- revision with their reason, not an unexplained jump (the publication gate reads revision_reason)
    select
        indicator_codes.indicator_code,
        string_agg(
            methodology_changes.reason_zh || ' ' || methodology_changes.reason_en, '; '
            order by methodology_changes.methodology_version
        ) as revision_reason
    from methodology_changes
    inner join indicator_codes
        on
            methodology_changes.indicator_codes = '*'
            or indicator_codes.indicator_code = any(string_to_array(methodology_changes.indicator_codes, '|'))
    where methodology_changes.methodology_version > {{ last_release_methodology_version() }}
    group by indicator_codes.indicator_code

),

observations as (

    select
        {{ cell_columns(period_end=true) }},
        numerator,
        denominator,
        measure_value,
        estimate_reason
    from stock_values
    union all
    select
        {{ cell_columns(period_end=true) }},
        numerator,
        denominator,
        measure_value,
        null::text as estimate_reason
    from flow_values

),

catalogued as (

    -- only the period types and area levels the catalogue lists for the indicator
    select
        observations.*,
        catalog.unit,
        catalog.decimals,
        -- a flow of the hotline keeps changing after its period ends (replies, closures, visits of its
        -- orders come later): it settles later (is_provisional below)
        coalesce(
            catalog.measure_kind = 'flow'
            and 'hotline_events' = any(string_to_array(catalog.source_feeds, '|')),
            false
        ) as settles_after_period
    from observations
    inner join catalog
        on
            observations.indicator_code = catalog.indicator_code
            and observations.period_end >= catalog.valid_from
            and (catalog.valid_to is null or observations.period_end < catalog.valid_to)
            and observations.period_type = any(string_to_array(catalog.frequencies, '|'))
            and observations.area_level = any(string_to_array(catalog.area_levels, '|'))
            and (
                observations.breakdown_type = 'total'
                or observations.breakdown_type = any(string_to_array(catalog.breakdowns, '|'))
            )

),

cells as (

    -- every area and breakdown an indicator has a value for, at any period
    select distinct
        indicator_code,
        area_code,
        area_level,
        breakdown_type,
        breakdown_code,
        unit,
        decimals,
        settles_after_period
    from catalogued

),

period_ranges as (

    select
        indicator_code,
        period_type,
        min(period_start) as first_period_start,
        max(period_start) as last_period_start
    from catalogued
    group by indicator_code, period_type

),

periods as (

    select
        period_ranges.indicator_code,
        period_ranges.period_type,
        series.period_start::date as period_start,
        (
            series.period_start
            + {{ period_length('period_ranges.period_type') }}
            - interval '1 day'
        )::date as period_end
    from period_ranges
    cross join lateral generate_series(
        period_ranges.first_period_start::timestamp,
        period_ranges.last_period_start::timestamp,
        {{ period_length('period_ranges.period_type') }}
    ) as series (period_start)

),

grid as (

    -- a complete grid: each area of an indicator gets every period between the indicator's first
    -- and last period
    select
        cells.*,
        periods.period_type,
        periods.period_start,
        periods.period_end
    from cells
    inner join periods on cells.indicator_code = periods.indicator_code

),

densified as (

    -- a missing cell of the grid is an observation of zero (a rate over nothing has no value)
    select
        {{ cell_columns('grid', period_end=true) }},
        grid.unit,
        grid.decimals,
        grid.settles_after_period,
        catalogued.measure_value,
        catalogued.estimate_reason,
        case
            when catalogued.indicator_code is not null then catalogued.numerator
            when grid.unit in ('working_days', 'hours') then null
            else 0
        end as numerator,
        case
            when catalogued.indicator_code is not null then catalogued.denominator
            when grid.unit = 'count' then null
            else 0
        end as denominator
    from grid
    left join catalogued on {{ same_cell('grid', 'catalogued') }}

),

valued as (

    select
        indicator_code,
        area_code,
        area_level,
        period_type,
        period_start,
        period_end,
        breakdown_type,
        breakdown_code,
        numerator,
        denominator,
        unit,
        decimals,
        settles_after_period,
        estimate_reason,
        case
            when unit = 'percent' then 100 * numerator / nullif(denominator, 0)
            when unit = 'score' then numerator / nullif(denominator, 0)
            when unit in ('working_days', 'hours') then measure_value
            else numerator
        end as exact_value
    from densified

),

area_targets as (

    select * from targets
    where measure_scope = 'area' and target_kind <> 'baseline'

),

with_target as (

    select
        valued.*,
        applicable_target.target_id,
        applicable_target.comparator,
        applicable_target.threshold,
        applicable_target.target_unit,
        applicable_target.target,
        applicable_target.deadline
    from valued
    left join lateral (
        select
            area_targets.target_id,
            area_targets.comparator,
            area_targets.threshold,
            area_targets.unit as target_unit,
            area_targets.target,
            area_targets.deadline
        from area_targets
        where
            area_targets.indicator_code = valued.indicator_code
            and area_targets.area_code = valued.area_code
            and area_targets.breakdown_type = valued.breakdown_type
            and area_targets.breakdown_code = valued.breakdown_code
            and (
                area_targets.deadline = valued.period_end
                or (
                    area_targets.deadline is null
                    and valued.period_end >= area_targets.valid_from
                    and (area_targets.valid_to is null or valued.period_end < area_targets.valid_to)
                )
            )
        -- a deadline target wins over a standing norm
        order by (area_targets.deadline is not null) desc, area_targets.target_id
        limit 1
    ) as applicable_target on true

),

with_reason as (

    select
        with_target.*,
        pending_changes.revision_reason
    from with_target
    left join pending_changes on with_target.indicator_code = pending_changes.indicator_code

),

with_estimate as (

    -- estimated (SDMX E, DOMAIN §8): a member carried forward from a rejected registry row (the
    -- stock values' reason), or a lost rejected row of an event feed that could touch the cell
    -- (fct_indicator_reject_estimates: the cell itself, or every breakdown of its indicator, area
    -- and period; a cell's own row already names the latter)
    select
        {{ cell_columns('with_reason', period_end=true) }},
        with_reason.numerator,
        with_reason.denominator,
        with_reason.unit,
        with_reason.decimals,
        with_reason.settles_after_period,
        with_reason.exact_value,
        with_reason.target_id,
        with_reason.comparator,
        with_reason.threshold,
        with_reason.target_unit,
        with_reason.target,
        with_reason.deadline,
        with_reason.revision_reason,
        nullif(
            concat_ws(
                '; ', with_reason.estimate_reason, coalesce(cell.estimate_reason, every_breakdown.estimate_reason)
            ),
            ''
        )
            as estimate_reason
    from with_reason
    left join reject_estimates as cell on {{ same_cell('with_reason', 'cell') }}
    left join reject_estimates as every_breakdown
        on
            every_breakdown.breakdown_type is null
            and {{ same_cell('with_reason', 'every_breakdown', breakdown=false) }}

),

final as (

    select
        indicator_code::text as indicator_code,
        area_code::text as area_code,
        area_level::text as area_level,
        period_type::text as period_type,
        period_start::date as period_start,
        period_end::date as period_end,
        breakdown_type::text as breakdown_type,
        breakdown_code::text as breakdown_code,
        numerator::numeric as numerator,
        denominator::numeric as denominator,
        -- PostgreSQL rounds numeric halves away from zero: half-up for these non-negative values
        round(exact_value::numeric, decimals::integer) as value,  -- noqa: RF04
        unit::text as unit,
        deadline::date as deadline,
        target::numeric as target,  -- noqa: RF04
        -- targets compare the exact ratio or value, never the rounded one (DOMAIN §8)
        case
            when target_id is null or exact_value is null then null
            when target_unit = 'ratio'
                then
                    case comparator
                        when '>=' then numerator >= threshold * denominator
                        when '>' then numerator > threshold * denominator
                        when '<=' then numerator <= threshold * denominator
                        when '<' then numerator < threshold * denominator
                        when '=' then numerator = threshold * denominator
                    end
            else
                case comparator
                    when '>=' then exact_value >= threshold
                    when '>' then exact_value > threshold
                    when '<=' then exact_value <= threshold
                    when '<' then exact_value < threshold
                    when '=' then exact_value = threshold
                end
        end as target_met,
        -- provisional: the period has not ended by the as-of date, or it is a flow of the hotline whose
        -- orders' later events may still arrive (var shumei_hotline_settlement_days, dbt_project.yml)
        (
            period_end >= {{ as_of_date() }}
            or (settles_after_period and period_end + {{ var('shumei_hotline_settlement_days') }} >= {{ as_of_date() }})
        ) as is_provisional,
        revision_reason::text as revision_reason,
        -- set when a rejected row could touch the figure: status estimated (E)
        estimate_reason::text as estimate_reason
    from with_estimate

)

select * from final
