-- Known facts of the State Council holiday notices; returns the facts the calendar gets wrong.
with expected (calendar_date, is_workday, is_holiday, is_makeup_workday) as (
    values
    (date '2024-02-04', true, false, true),    -- Sunday, make-up working day for 春节 2024
    (date '2024-09-29', true, false, true),    -- Sunday, make-up working day for 国庆 2024
    (date '2024-10-01', false, true, false),   -- 国庆节
    (date '2024-10-07', false, true, false),   -- Monday inside the 国庆 holiday
    (date '2024-10-08', true, false, false),
    (date '2024-10-12', true, false, true),    -- Saturday, make-up working day for 国庆 2024
    (date '2023-01-01', false, true, false),   -- 元旦 (a Sunday)
    (date '2025-01-26', true, false, true),    -- Sunday, make-up working day for 春节 2025
    (date '2025-10-08', false, true, false)    -- 国庆 and 中秋 2025
),

calendar as (
    select * from {{ ref('ref_workday_calendar') }}
),

final as (
    select
        expected.*,
        calendar.is_workday as actual_is_workday,
        calendar.is_holiday as actual_is_holiday,
        calendar.is_makeup_workday as actual_is_makeup_workday
    from expected
    left join calendar on expected.calendar_date = calendar.calendar_date
    where
        calendar.calendar_date is null
        or calendar.is_workday <> expected.is_workday
        or calendar.is_holiday <> expected.is_holiday
        or calendar.is_makeup_workday <> expected.is_makeup_workday
)

select * from final
