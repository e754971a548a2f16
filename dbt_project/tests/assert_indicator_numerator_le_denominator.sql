-- Every rate (unit percent) of the published candidate has 0 <= numerator <= denominator; its value
-- is 100 × numerator / denominator rounded half-up to the catalogue's decimals (DOMAIN §8), and null
-- exactly when the denominator is 0 (no rate over nothing).
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
        indicator_values.breakdown_type,
        indicator_values.breakdown_code,
        indicator_values.numerator,
        indicator_values.denominator,
        indicator_values.value,
        indicator_catalog.decimals
    from indicator_values
    inner join indicator_catalog
        on
            indicator_values.indicator_code = indicator_catalog.indicator_code
            and indicator_values.period_end >= indicator_catalog.valid_from
            and (indicator_catalog.valid_to is null or indicator_values.period_end < indicator_catalog.valid_to)
    where
        indicator_values.unit = 'percent'
        and (
            indicator_values.numerator is null
            or indicator_values.denominator is null
            or indicator_values.numerator < 0
            or indicator_values.numerator > indicator_values.denominator
            or (indicator_values.denominator = 0 and indicator_values.value is not null)
            or (
                indicator_values.denominator > 0
                and indicator_values.value is distinct from round(
                    100 * indicator_values.numerator / indicator_values.denominator, indicator_catalog.decimals
                )
            )
        )

)

select * from final
