-- Reconciliation (汇总核对): for every additive indicator, the towns' numerators and denominators
-- add up exactly to the county's (DOMAIN §6). Percentile indicators (TS_SC_MED, TS_SC_P90) are not
-- additive and are left out. Returns the periods that do not reconcile.
{{ config(severity='error') }}

with indicator_values as (

    select * from {{ ref('int_indicator_values') }}
    where indicator_code not in ('TS_SC_MED', 'TS_SC_P90')

),

towns as (

    select
        indicator_code,
        period_type,
        period_start,
        sum(numerator) as numerator,
        sum(denominator) as denominator
    from indicator_values
    where area_level = 'town'
    group by indicator_code, period_type, period_start

),

county as (

    select
        indicator_code,
        period_type,
        period_start,
        numerator,
        denominator
    from indicator_values
    where area_level = 'county'

),

final as (

    select
        county.indicator_code,
        county.period_type,
        county.period_start,
        county.numerator as county_numerator,
        towns.numerator as towns_numerator,
        county.denominator as county_denominator,
        towns.denominator as towns_denominator
    from county
    inner join {{ ref('ref_indicator_catalog') }} as indicator_catalog
        on county.indicator_code = indicator_catalog.indicator_code
    left join towns
        on
            county.indicator_code = towns.indicator_code
            and county.period_type = towns.period_type
            and county.period_start = towns.period_start
    where
        'town' = any(string_to_array(indicator_catalog.area_levels, '|'))
        and (
            county.numerator is distinct from towns.numerator
            or county.denominator is distinct from towns.denominator
        )

)

select * from final
