-- Every value of the published candidate carries the unit its indicator has in the catalogue
-- version in force for its period (单位与指标目录一致). Returns the values with another unit.
{{ config(severity='error') }}

with indicator_values as (

    select * from {{ ref('indicator_values') }}

),

indicator_catalog as (

    select * from {{ ref('ref_indicator_catalog') }}

),

final as (

    select
        indicator_values.indicator_code,
        indicator_values.area_code,
        indicator_values.period_type,
        indicator_values.period_start,
        indicator_values.unit,
        indicator_catalog.unit as catalogue_unit
    from indicator_values
    inner join indicator_catalog
        on
            indicator_values.indicator_code = indicator_catalog.indicator_code
            and indicator_values.period_end >= indicator_catalog.valid_from
            and (indicator_catalog.valid_to is null or indicator_values.period_end < indicator_catalog.valid_to)
    where indicator_values.unit is distinct from indicator_catalog.unit

)

select * from final
