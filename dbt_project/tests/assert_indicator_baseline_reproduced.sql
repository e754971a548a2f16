-- The published figures reproduce the programme's baselines (ref_indicator_baselines), e.g. WY_FG
-- for the county at 2022-12-31: 131 / 140 = 93.6 %. A baseline whose date the data covers but
-- that is missing or different fails.
{{ config(severity='error') }}

with baselines as (

    select * from {{ ref('ref_indicator_baselines') }}

),

indicator_values as (

    select * from {{ ref('indicator_values') }}
    where period_type = 'month'

),

covered as (

    select min(month_end_date) as first_month_end from {{ ref('fct_compound_status_monthly') }}

),

final as (

    select
        baselines.baseline_id,
        baselines.numerator as expected_numerator,
        baselines.denominator as expected_denominator,
        indicator_values.numerator,
        indicator_values.denominator
    from baselines
    cross join covered
    left join indicator_values
        on
            baselines.indicator_code = indicator_values.indicator_code
            and baselines.area_code = indicator_values.area_code
            and baselines.reference_date = indicator_values.period_end
    where
        baselines.reference_date >= covered.first_month_end
        and (
            indicator_values.numerator is distinct from baselines.numerator
            or indicator_values.denominator is distinct from baselines.denominator
        )

)

select * from final
