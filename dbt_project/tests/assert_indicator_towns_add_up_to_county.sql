-- Reconciliation (汇总核对): for every additive indicator (ref_indicator_catalog.is_additive: not
-- the enterprise indicators, the percentiles, YJ_SL), the towns' numerators and denominators add up
-- exactly to the county's (DOMAIN §6), for the total and for every breakdown member. Returns the
-- periods that do not reconcile.
{{ config(severity='error') }}

with additive_values as (

    {{ additive_indicator_values() }}

),

sums as (

    -- one pass: the county's figure beside the sum of its towns, per indicator, period and breakdown
    select
        indicator_code,
        period_type,
        period_start,
        breakdown_type,
        breakdown_code,
        sum(numerator) filter (where area_level = 'county') as county_numerator,
        coalesce(sum(numerator) filter (where area_level = 'town'), 0) as towns_numerator,
        sum(denominator) filter (where area_level = 'county') as county_denominator,
        coalesce(sum(denominator) filter (where area_level = 'town'), 0) as towns_denominator,
        count(*) filter (where area_level = 'county') as county_rows
    from additive_values
    where
        area_level in ('county', 'town')
        and 'town' = any(string_to_array(area_levels, '|'))
    group by indicator_code, period_type, period_start, breakdown_type, breakdown_code

),

final as (

    select *
    from sums
    where
        county_rows = 1
        and (
            coalesce(county_numerator, 0) <> towns_numerator
            or coalesce(county_denominator, 0) <> towns_denominator
        )

)

select * from final
