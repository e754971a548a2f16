{#
    The periods of the flow indicators (流量指标的统计期) as the incremental fct_indicator_flow_values
    sees them: each indicator × period (month, quarter, year of the members' observation date) with
    the checksum of its members. A period whose checksum is unchanged since the last run has the same
    members, hence the same cells; any other period is rebuilt.
#}

{% macro flow_period_checksums(members) -%}
    {#- indicator_code, period_type, period_start, period_members_checksum (the sum of a 64-bit hash of
        every member row, whole: a member added, removed, moved to another date, area or breakdown, or
        counted differently changes it), one scan of `members` for the three period types. -#}
    select
        hashed.indicator_code,
        case
            when grouping(hashed.month_start) = 0 then 'month'
            when grouping(hashed.quarter_start) = 0 then 'quarter'
            else 'year'
        end::text as period_type,
        coalesce(hashed.month_start, hashed.quarter_start, hashed.year_start) as period_start,
        sum(hashed.member_hash) as period_members_checksum
    from (
        select
            members.indicator_code,
            date_trunc('month', members.observation_date::timestamp)::date as month_start,
            date_trunc('quarter', members.observation_date::timestamp)::date as quarter_start,
            date_trunc('year', members.observation_date::timestamp)::date as year_start,
            hashtextextended(members::text, 0)::numeric as member_hash
        from {{ members }} as members
    ) as hashed
    group by grouping sets (
        (hashed.indicator_code, hashed.month_start),
        (hashed.indicator_code, hashed.quarter_start),
        (hashed.indicator_code, hashed.year_start)
    )
{%- endmacro %}


{% macro delete_vanished_flow_periods(members) -%}
    {#- Post-hook of the incremental fct_indicator_flow_values: the cells of an indicator × period that
        has no member any more (e.g. the as-of date moved back behind a gap) go, as in a full refresh;
        delete+insert only replaces the periods the run selected. Nothing to do on a full refresh. -#}
    {%- if is_incremental() -%}
        delete from {{ this }} as cells
        where (cells.indicator_code, cells.period_type, cells.period_start) not in (
            select
                periods.indicator_code,
                periods.period_type,
                periods.period_start
            from ({{ flow_period_checksums(members) }}) as periods
        )
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
