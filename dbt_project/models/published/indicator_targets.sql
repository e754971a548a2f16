{{ config(materialized='table', contract={'enforced': true}) }}

-- Published candidate of the programme's targets (指标目标): the one home of the target rows that
-- the values (indicator_values: target, target_met) and published.indicator_targets /
-- v_indicator_targets read.
-- - a row of ref_indicator_targets with applies_to 'area' is a target of its own area;
-- - applies_to 'each_town': the clause sets the county target for every town too (全覆盖 of all
--   urban compounds is 100 % in each town): one row per town where the indicator is published,
--   target_id <county row>-<town code>;
-- - the programme's baselines (ref_indicator_baselines, 基数/现状) are rows of target_kind
--   'baseline' with no comparator: published beside the targets, never applied to a value.
-- target is the threshold in the unit of the value: a ratio threshold of a percent indicator × 100.
with targets as (

    select * from {{ ref('ref_indicator_targets') }}

),

baselines as (

    select * from {{ ref('ref_indicator_baselines') }}

),

catalog as (

    select * from {{ ref('ref_indicator_catalog') }}

),

stock_values as (

    select * from {{ ref('fct_indicator_stock_values') }}

),

flow_values as (

    select * from {{ ref('fct_indicator_flow_values') }}

),

published_towns as (

    select distinct
        indicator_code,
        area_code
    from stock_values
    where area_level = 'town'
    union
    select distinct
        indicator_code,
        area_code
    from flow_values
    where area_level = 'town'

),

area_targets as (

    select
        target_id,
        indicator_code,
        area_code,
        breakdown_type,
        breakdown_code,
        deadline_date,
        comparator,
        threshold,
        unit,
        measure_scope,
        target_kind,
        clause_section,
        clause_zh,
        note_en,
        valid_from,
        valid_to
    from targets
    where applies_to = 'area'

),

town_targets as (

    select
        replace(targets.target_id, '-EACH_TOWN', '-' || published_towns.area_code) as target_id,
        targets.indicator_code,
        published_towns.area_code,
        targets.breakdown_type,
        targets.breakdown_code,
        targets.deadline_date,
        targets.comparator,
        targets.threshold,
        targets.unit,
        targets.measure_scope,
        targets.target_kind,
        targets.clause_section,
        targets.clause_zh,
        targets.note_en,
        targets.valid_from,
        targets.valid_to
    from targets
    inner join published_towns on targets.indicator_code = published_towns.indicator_code
    where targets.applies_to = 'each_town'

),

baseline_rows as (

    select
        baseline_id || '-BASELINE' as target_id,
        indicator_code,
        area_code,
        'total' as breakdown_type,
        '_T' as breakdown_code,
        reference_date as deadline_date,
        null as comparator,
        published_value as threshold,
        'ratio' as unit,
        'area' as measure_scope,
        'baseline' as target_kind,
        clause_section,
        clause_zh,
        'Baseline (基数) of the programme: ' || numerator || ' of ' || denominator || ' at ' || reference_date
        || ', as the programme states it' as note_en,
        valid_from,
        valid_to
    from baselines

),

all_targets as (

    select * from area_targets
    union all
    select * from town_targets
    union all
    select * from baseline_rows

),

final as (

    select
        all_targets.target_id::text as target_id,
        all_targets.indicator_code::text as indicator_code,
        all_targets.area_code::text as area_code,
        all_targets.breakdown_type::text as breakdown_type,
        all_targets.breakdown_code::text as breakdown_code,
        all_targets.deadline_date::date as deadline,
        all_targets.comparator::text as comparator,
        all_targets.threshold::numeric as threshold,
        all_targets.unit::text as unit,
        all_targets.measure_scope::text as measure_scope,
        all_targets.target_kind::text as target_kind,
        all_targets.clause_section::text as clause_section,
        all_targets.clause_zh::text as clause_zh,
        all_targets.note_en::text as note_en,
        all_targets.valid_from::date as valid_from,
        all_targets.valid_to::date as valid_to,
        (case
            when all_targets.unit = 'ratio' and catalog.unit = 'percent' then 100 * all_targets.threshold
            else all_targets.threshold
        end)::numeric as target,  -- noqa: RF04
        (case
            when all_targets.unit = 'ratio' and catalog.unit = 'percent' then 'percent'
            else all_targets.unit
        end)::text as target_unit
    from all_targets
    left join catalog
        on
            all_targets.indicator_code = catalog.indicator_code
            and catalog.valid_to is null

)

select * from final
