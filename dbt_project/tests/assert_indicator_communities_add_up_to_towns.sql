-- Reconciliation (汇总核对): for indicators published by community, the communities of a town add
-- up to the town (numerator and denominator). Percentile indicators are left out.
{{ config(severity='error') }}

with indicator_values as (

    select * from {{ ref('int_indicator_values') }}
    where indicator_code not in ('TS_SC_MED', 'TS_SC_P90')

),

communities as (

    select
        indicator_code,
        period_type,
        period_start,
        left(area_code, 9) || '000' as town_code,
        sum(numerator) as numerator,
        sum(denominator) as denominator
    from indicator_values
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
    from indicator_values
    where area_level = 'town'

),

final as (

    select
        towns.*,
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
