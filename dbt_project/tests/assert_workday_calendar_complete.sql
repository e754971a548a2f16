-- The calendar covers every day of its range once, and workday_seq is the running count of
-- working days (the working-day macros rely on it). Returns offending dates.
with calendar as (
    select * from {{ ref('ref_workday_calendar') }}
),

all_days as (
    select generated_day::date as calendar_date
    from generate_series(date '2021-01-01', date '2027-12-31', interval '1 day') as generated_day
),

running as (
    select
        calendar_date,
        workday_seq,
        sum(case when is_workday then 1 else 0 end) over (order by calendar_date) as expected_seq
    from calendar
),

final as (
    select
        all_days.calendar_date,
        'missing day' as problem
    from all_days
    left join calendar on all_days.calendar_date = calendar.calendar_date
    where calendar.calendar_date is null

    union all

    select
        calendar_date,
        'workday_seq is not the running count of working days' as problem
    from running
    where workday_seq <> expected_seq
)

select * from final
