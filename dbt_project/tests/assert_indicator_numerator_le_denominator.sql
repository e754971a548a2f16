-- Every rate (unit percent) of the published candidate has 0 <= numerator <= denominator; its value
-- is 100 × numerator / denominator rounded half-up to the catalogue's decimals (DOMAIN §8), and null
-- exactly when the denominator is 0 (no rate over nothing).
{{ config(severity='error') }}

with catalogued as (

    {{ catalogued_indicator_values(['indicator_catalog.decimals']) }}

),

final as (

    select
        {{ cell_columns() }},
        numerator,
        denominator,
        value,
        decimals
    from catalogued
    where
        unit = 'percent'
        and (
            numerator is null
            or denominator is null
            or numerator < 0
            or numerator > denominator
            or (denominator = 0 and value is not null)
            or (denominator > 0 and value is distinct from round(100 * numerator / denominator, decimals))
        )

)

select * from final
