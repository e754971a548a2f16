-- Month ends (月末) at which stocks are measured: from the reporting start to the month of the
-- as-of date. The month of the as-of date is provisional; its stock is the latest known state.
with calendar as (

    select * from {{ ref('ref_workday_calendar') }}

),

month_ends as (

    select calendar_date as month_end_date
    from calendar
    where calendar_date = (date_trunc('month', calendar_date) + interval '1 month - 1 day')::date

),

final as (

    select
        month_end_date,
        date_trunc('month', month_end_date)::date as month_start_date,
        date_trunc('quarter', month_end_date)::date as quarter_start_date,
        (date_trunc('quarter', month_end_date) + interval '3 months - 1 day')::date as quarter_end_date,
        date_trunc('year', month_end_date)::date as year_start_date,
        (date_trunc('year', month_end_date) + interval '1 year - 1 day')::date as year_end_date,
        month_end_date >= {{ as_of_date() }} as is_provisional
    from month_ends
    where
        month_end_date >= {{ reporting_start_date() }}
        and date_trunc('month', month_end_date)::date <= {{ as_of_date() }}

)

select * from final
