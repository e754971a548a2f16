{#
    Reporting-date helpers of the indicator models (a new file beside the shared macros).
    as_of_date: the date the data is taken to be current at, Asia/Shanghai. It is the var
    `shumei_as_of_date` when set (tests, backfills, reproducible releases), otherwise today in
    Asia/Shanghai. Periods ending on or after it are provisional.
#}
{% macro as_of_date() -%}
    {%- set configured = var('shumei_as_of_date', none) -%}
    {%- if configured -%}
        date '{{ configured }}'
    {%- else -%}
        (now() at time zone '{{ var("shumei_timezone", "Asia/Shanghai") }}')::date
    {%- endif -%}
{%- endmacro %}


{% macro reporting_start_date() -%}
    {#- First month reported (default 2022-01-01: the programme's baseline year). -#}
    date '{{ var("shumei_reporting_start_date", "2022-01-01") }}'
{%- endmacro %}


{% macro end_of_day(date_expr) -%}
    {#- The instant a calendar day ends in Asia/Shanghai (midnight of the next day), as timestamptz. -#}
    ((({{ date_expr }})::date + 1)::timestamp at time zone '{{ var("shumei_timezone", "Asia/Shanghai") }}')
{%- endmacro %}


{% macro local_deadline(date_expr, time_expr) -%}
    {#- The instant a given local time of day is reached on a calendar day in Asia/Shanghai (e.g. the
        17:30 end of a working day, ref_sla_policy.deadline_time), as timestamptz. -#}
    ((({{ date_expr }})::date + ({{ time_expr }})::time)::timestamp at time zone '{{ var("shumei_timezone", "Asia/Shanghai") }}')
{%- endmacro %}


{% macro last_release_methodology_version() -%}
    {#- The methodology version (ref_methodology_changes) the last published release was built with,
        as recorded by the publication step in published.release_log.data_checksums; 0 before any
        release, or for releases made before versions were recorded. The candidate carries the reasons
        of the changes newer than it (revision_reason). -#}
    {%- set release_log = adapter.get_relation(database=target.database, schema='published', identifier='release_log') -%}
    {%- if release_log is not none -%}
        coalesce((
            select (last_release.data_checksums ->> 'methodology_version')::integer
            from {{ release_log }} as last_release
            where last_release.status = 'published'
            order by last_release.release_id desc
            limit 1
        ), 0)
    {%- else -%}
        0
    {%- endif -%}
{%- endmacro %}


{% macro limit_end(start_ts, limit_value, limit_unit, deadline_time) -%}
    {#- When a time limit of ref_sla_policy ends (时限截止): a working-day limit at deadline_time (17:30)
        of the n-th working day after the start day (Asia/Shanghai), an hour limit n hours after the
        start instant; null without a start. Arguments are SQL expressions. -#}
    case
        when {{ start_ts }} is null then null
        when {{ limit_unit }} = 'working_days'
            then {{ local_deadline(add_working_days(shanghai_date(start_ts), limit_value ~ '::integer'), deadline_time) }}
        when {{ limit_unit }} = 'hours'
            then {{ start_ts }} + make_interval(secs => {{ limit_value }} * 3600)
    end
{%- endmacro %}


{% macro catalogued_indicator_values(catalogue_columns=[], where=none) -%}
    {#- The candidate's values (published_candidate.indicator_values, as indicator_values) with the
        catalogue version in force for their period (ref_indicator_catalog, as indicator_catalog:
        valid_from <= period_end < valid_to), a value of no version in force left out; selects every
        value column, then the SQL expressions of `catalogue_columns`, where `where` holds. Shared by
        the tests that check a value against its catalogue, so the version is chosen the same way by
        each. -#}
    select
        indicator_values.*
        {%- for column in catalogue_columns %},
        {{ column }}
        {%- endfor %}
    from {{ ref('indicator_values') }} as indicator_values
    inner join {{ ref('ref_indicator_catalog') }} as indicator_catalog
        on
            indicator_values.indicator_code = indicator_catalog.indicator_code
            and indicator_values.period_end >= indicator_catalog.valid_from
            and (indicator_catalog.valid_to is null or indicator_values.period_end < indicator_catalog.valid_to)
    {%- if where %}
    where {{ where }}
    {%- endif %}
{%- endmacro %}


{% macro additive_indicator_values() -%}
    {#- The candidate's values of the indicators whose towns add up to the county (the catalogue
        version in force says so: ref_indicator_catalog.is_additive), with their catalogue area
        levels. Shared by the add-up tests, so additivity is read the same way by each. -#}
    {{ catalogued_indicator_values(['indicator_catalog.area_levels'], where='indicator_catalog.is_additive') }}
{%- endmacro %}

{#-
    The longest a model's statements may run (var shumei_statement_timeout, a PostgreSQL interval
    such as '14min'; none by default, as for a bare `dbt build`). The warehouse DAG sets it below the
    task's execution timeout (shumei.dag_support.DBT_STATEMENT_TIMEOUT): Airflow's timeout cannot stop a
    query that is running (dbt waits for its thread), PostgreSQL's can, and the task then fails and
    is retried like any error. A pre-hook of every model (dbt_project.yml): `set local`, so it lasts
    until the model's transaction ends.
#}
{% macro statement_timeout() -%}
    {%- set limit = var('shumei_statement_timeout', none) -%}
    {%- if limit -%}
        set local statement_timeout = '{{ limit }}'
    {%- endif -%}
{%- endmacro %}
