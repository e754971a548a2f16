-- Calendar dimension (日期维度), one row per day of the State Council working-day calendar.
with calendar as (

    select * from {{ ref('ref_workday_calendar') }}

),

final as (

    select
        calendar_date as date_day,
        iso_weekday::integer as iso_weekday,
        is_weekend,
        is_workday,
        is_holiday,
        is_makeup_workday,
        holiday_name_zh,
        holiday_name_en,
        is_estimated as is_calendar_estimated,
        workday_seq::integer as workday_seq,
        extract(year from calendar_date)::integer as year_number,
        extract(quarter from calendar_date)::integer as quarter_number,
        extract(month from calendar_date)::integer as month_number,
        date_trunc('month', calendar_date)::date as month_start_date,
        (date_trunc('month', calendar_date) + interval '1 month - 1 day')::date as month_end_date,
        date_trunc('quarter', calendar_date)::date as quarter_start_date,
        (date_trunc('quarter', calendar_date) + interval '3 months - 1 day')::date as quarter_end_date,
        date_trunc('year', calendar_date)::date as year_start_date,
        (date_trunc('year', calendar_date) + interval '1 year - 1 day')::date as year_end_date,
        calendar_date = (date_trunc('month', calendar_date) + interval '1 month - 1 day')::date as is_month_end
    from calendar

)

select * from final
