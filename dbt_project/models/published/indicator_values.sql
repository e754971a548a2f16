{{ config(materialized='table', contract={'enforced': true}) }}

-- Published candidate of the indicator values (指标值发布候选): the public API read by the
-- publication step; columns and types are enforced by the model contract.
with indicator_values as (

    select * from {{ ref('int_indicator_values') }}

),

final as (

    select
        indicator_code,
        area_code,
        area_level,
        period_type,
        period_start,
        period_end,
        numerator,
        denominator,
        value,
        unit,
        target,
        deadline,
        target_met,
        is_provisional
    from indicator_values

)

select * from final
