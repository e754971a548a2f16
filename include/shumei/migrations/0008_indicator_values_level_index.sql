-- The BI tools' questions of the current values pick an indicator, an area level, a period type and
-- the total or a breakdown (Superset's series "complaints by month and town": TS_SL, town, month,
-- total), not an area code: the two key indexes lead with the area code after the indicator, so
-- PostgreSQL scanned every value of the table (95 ms at city scale, 1.06 M values; issue 14's
-- target is p95 < 50 ms at province scale). This one answers them from the few rows they ask for.
create index indicator_values_current_level
    on published.indicator_values (indicator_code, area_level, period_type, breakdown_type)
    where valid_to_release is null;
