-- working_days_between and add_working_days on known dates; returns the wrong cases.
with day_count_cases (case_name, actual, expected) as (
    values
    (
        'between across 国庆 2024: Mon 09-30 to Tue 10-08',
        {{ working_days_between("timestamptz '2024-09-30 10:00+08'", "timestamptz '2024-10-08 10:00+08'") }},
        1
    ),
    (
        'between Fri 09-27 and 10-08 counts the make-up Sunday 09-29',
        {{ working_days_between("timestamptz '2024-09-27 09:00+08'", "timestamptz '2024-10-08 09:00+08'") }},
        3
    ),
    (
        'same Shanghai day is 0',
        {{ working_days_between("timestamptz '2024-03-01 08:00+08'", "timestamptz '2024-03-01 23:00+08'") }},
        0
    ),
    (
        'UTC evening is the next Shanghai day',
        {{ working_days_between("timestamptz '2024-03-01 08:00+08'", "timestamptz '2024-03-03 17:00+00'") }},
        1
    ),
    (
        'end before start is negative',
        {{ working_days_between("timestamptz '2024-10-08 10:00+08'", "timestamptz '2024-09-30 10:00+08'") }},
        -1
    ),
    (
        'ten working days from Mon 2024-09-23',
        {{ working_days_between("timestamptz '2024-09-23 10:00+08'", "timestamptz '2024-10-11 10:00+08'") }},
        10
    ),
    (
        'outside the calendar is null',
        {{ working_days_between("timestamptz '2020-12-30 10:00+08'", "timestamptz '2021-01-05 10:00+08'") }},
        null
    )
),

due_date_cases (case_name, actual, expected) as (
    values
    (
        'add 1 working day to 2024-09-30',
        {{ add_working_days("date '2024-09-30'", 1) }},
        date '2024-10-08'
    ),
    (
        'add 1 working day to Sat 2024-10-05 (inside 国庆)',
        {{ add_working_days("date '2024-10-05'", 1) }},
        date '2024-10-08'
    ),
    (
        'add 1 working day to Fri 2024-02-02 lands on make-up Sunday 02-04',
        {{ add_working_days("date '2024-02-02'", 1) }},
        date '2024-02-04'
    ),
    (
        'add 10 working days to Mon 2024-09-23',
        {{ add_working_days("date '2024-09-23'", 10) }},
        date '2024-10-11'
    ),
    (
        'add 0 to a working day is the day itself',
        {{ add_working_days("date '2024-09-30'", 0) }},
        date '2024-09-30'
    )
),

final as (
    select
        case_name,
        actual::text as actual,
        expected::text as expected
    from day_count_cases
    where actual is distinct from expected

    union all

    select
        case_name,
        actual::text as actual,
        expected::text as expected
    from due_date_cases
    where actual is distinct from expected
)

select * from final
