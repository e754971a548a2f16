{#
    Working-day arithmetic on the State Council calendar (seed ref_workday_calendar, built from the
    chinese-calendar package; 调休 make-up working days count as working days). Dates are calendar
    dates in Asia/Shanghai (var shumei_timezone). Both macros look up `workday_seq`, the running
    count of working days, so they cost two index-sized lookups per row instead of a count.
    Outside the calendar's range (2021-01-01 .. 2027-12-31) they return null; the not_null tests of
    the models that use them catch that. Rows flagged is_estimated (years the package does not know
    yet) follow the weekday rule.
#}

{% macro shanghai_date(ts) -%}
    {#- Calendar date in Asia/Shanghai of a timestamptz expression. -#}
    (({{ ts }})::timestamptz at time zone '{{ var("shumei_timezone", "Asia/Shanghai") }}')::date
{%- endmacro %}


{% macro working_days_between(start_ts, end_ts) -%}
    {#-
        Number of working days d with date(start) < d <= date(end), dates taken in Asia/Shanghai:
        0 when both fall on the same day or only non-working days lie between them, negative when
        end is before start, null when an argument is null or out of the calendar's range.
        Arguments are timestamptz expressions (a bare date is read as midnight in the session time
        zone: pass dates as `date_col::timestamp at time zone 'Asia/Shanghai'`).
        Example: received Mon 2024-09-30, closed Tue 2024-10-08 (国庆 2024-10-01..07) -> 1.
    -#}
    (
        (
            select wd_end.workday_seq
            from {{ ref('ref_workday_calendar') }} as wd_end
            where wd_end.calendar_date = {{ shumei.shanghai_date(end_ts) }}
        )
        - (
            select wd_start.workday_seq
            from {{ ref('ref_workday_calendar') }} as wd_start
            where wd_start.calendar_date = {{ shumei.shanghai_date(start_ts) }}
        )
    )
{%- endmacro %}


{% macro add_working_days(start_date, n) -%}
    {#-
        The n-th working day after start_date (a date; convert timestamps with shanghai_date first),
        for n >= 1: add_working_days('2024-09-30', 1) = 2024-10-08. Works whether or not start_date
        is itself a working day (a due date counted from a Saturday starts on Monday).
        n = 0 gives start_date if it is a working day, else the last working day before it.
        Null when an argument is null or the result falls outside the calendar.
    -#}
    (
        select min(wd_target.calendar_date)
        from {{ ref('ref_workday_calendar') }} as wd_target
        where
            wd_target.is_workday
            and wd_target.workday_seq = (
                select wd_start.workday_seq
                from {{ ref('ref_workday_calendar') }} as wd_start
                where wd_start.calendar_date = ({{ start_date }})::date
            ) + ({{ n }})
    )
{%- endmacro %}
