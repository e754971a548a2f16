-- Reconciliation (汇总核对): for additive indicators published by community
-- (ref_indicator_catalog.is_additive), the communities of a town add up to the town (numerator and
-- denominator of the total).
{{ config(severity='error') }}

with additive_values as (

    select * from ({{ additive_indicator_values() }}) as additive
    where breakdown_type = 'total'

),

communities as (

    select
        indicator_code,
        period_type,
        period_start,
        left(area_code, 9) || '000' as town_code,
        sum(numerator) as numerator,
        sum(denominator) as denominator
    from additive_values
    where area_level = 'community'
    group by indicator_code, period_type, period_start, left(area_code, 9) || '000'

),

towns as (

    select
        indicator_code,
        period_type,
        period_start,
        area_code as town_code,
        numerator,
        denominator
    from additive_values
    where area_level = 'town'

),

final as (

    select
        towns.indicator_code,
        towns.period_type,
        towns.period_start,
        towns.town_code,
        towns.numerator,
        towns.denominator,
        communities.numerator as communities_numerator,
        communities.denominator as communities_denominator
    from towns
    inner join communities
        on
            towns.indicator_code = communities.indicator_code
            and towns.period_type = communities.period_type
            and towns.period_start = communities.period_start
            and towns.town_code = communities.town_code
    where
        towns.numerator is distinct from communities.numerator
        or towns.denominator is distinct from communities.denominator

)

select * from final
