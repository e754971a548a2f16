-- Reconciliation (汇总核对): for additive indicators published by community
-- (ref_indicator_catalog.is_additive), the communities of a town add up to the town (numerator and
-- denominator of the total).
{{ config(severity='error') }}

with indicator_values as (

    select * from {{ ref('indicator_values') }}
    where breakdown_type = 'total'

),

indicator_catalog as (

    select * from {{ ref('ref_indicator_catalog') }}

),

additive_values as (

    select indicator_values.*
    from indicator_values
    inner join indicator_catalog
        on
            indicator_values.indicator_code = indicator_catalog.indicator_code
            and indicator_values.period_end >= indicator_catalog.valid_from
            and (indicator_catalog.valid_to is null or indicator_values.period_end < indicator_catalog.valid_to)
    where indicator_catalog.is_additive

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
