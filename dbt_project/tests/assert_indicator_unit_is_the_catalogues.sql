-- Every value of the published candidate carries the unit its indicator has in the catalogue
-- version in force for its period (单位与指标目录一致). Returns the values with another unit.
{{ config(severity='error') }}

with catalogued as (

    {{ catalogued_indicator_values(['indicator_catalog.unit as catalogue_unit']) }}

),

final as (

    select
        {{ cell_columns() }},
        unit,
        catalogue_unit
    from catalogued
    where unit is distinct from catalogue_unit

)

select * from final
