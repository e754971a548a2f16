-- Month ends (月末) at which stocks are measured: from the reporting start to the month of the
-- as-of date. The month of the as-of date is provisional; its stock is the latest known state.
with calendar as (

    select * from {{ ref('dim_date') }}

),

final as (

    select
        month_start_date,
        month_end_date,
        quarter_start_date,
        quarter_end_date,
        year_start_date,
        year_end_date,
        month_end_date >= {{ as_of_date() }} as is_provisional
    from calendar
    where
        is_month_end
        and month_end_date >= {{ reporting_start_date() }}
        and month_start_date <= {{ as_of_date() }}

)

select * from final
