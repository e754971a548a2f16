{#
    Placement of indicator members (成员归属): the one place that says in which published cells
    (indicator × area × period × breakdown) a counted unit counts. The values models aggregate its
    rows (fct_indicator_stock_values, fct_indicator_flow_values) and the drill-through view
    published.indicator_members lists them, over the member units of the current release: one
    definition, so a figure and its members agree by construction.

    Both macros take a relation of member units (pass the relation itself, not a CTE: the macro reads
    it more than once, and PostgreSQL materialises a CTE referenced twice, which would defeat the
    indexes of the drill-through) and return a select of indicator_code, area_code, area_level,
    period_type, period_start, period_end, breakdown_type, breakdown_code, unit_type, unit_id,
    numerator, denominator, measure, observation_date, then the columns named in `extra` as they are.
#}

{% macro place_stock_members(members, extra=[], latest_from=none) -%}
    {#- Stock members (fct_indicator_stock_members: already located in their areas) counted in the
        month of their month end, and in a quarter or year when their month end is the one the period
        is measured at: the period's last month end, or the latest month end while the period is
        unfinished. QY_XM (a yearly flow observed at month ends) counts in year rows only. Stocks
        have no breakdown: 'total' / '_T'. `latest_from`: the relation whose latest month end is the
        latest one (default `members`; a subset of the members, e.g. the cells a rejected row could
        touch, passes the whole members mart). -#}
    select
        members.indicator_code,
        members.area_code,
        members.area_level,
        periods.period_type,
        periods.period_start,
        periods.period_end,
        'total'::text as breakdown_type,
        '_T'::text as breakdown_code,
        members.unit_type,
        members.unit_id,
        members.numerator,
        members.denominator,
        null::numeric as measure,
        members.month_end_date as observation_date
        {%- for column in extra %},
        members.{{ column }}
        {%- endfor %}
    from {{ members }} as members
    cross join
        lateral (
            values
            (
                'month',
                date_trunc('month', members.month_end_date::timestamp)::date,
                members.month_end_date
            ),
            (
                'quarter',
                date_trunc('quarter', members.month_end_date::timestamp)::date,
                (date_trunc('quarter', members.month_end_date::timestamp) + interval '3 months - 1 day')::date
            ),
            (
                'year',
                date_trunc('year', members.month_end_date::timestamp)::date,
                (date_trunc('year', members.month_end_date::timestamp) + interval '1 year - 1 day')::date
            )
        ) as periods (period_type, period_start, period_end)
    where
        (
            periods.period_type = 'month'
            or members.month_end_date
            = least(periods.period_end, (select max(latest.month_end_date) from {{ latest_from or members }} as latest))
        )
        and (members.indicator_code <> 'QY_XM' or periods.period_type = 'year')
{%- endmacro %}


{% macro place_flow_members(members, extra=[], only_periods=none) -%}
    {#- Flow members (fct_indicator_flow_members) counted in the month, quarter and year of their
        observation date; in their community, their town, the county, and (an early warning about an
        enterprise) every town the enterprise served that month; by total at every level and, at town
        and county level, by each breakdown attribute they carry (channel, request type, category,
        rule). One branch per period type: the period is both an equality (hash join of the values
        build) and a date range (index range scan of a reader's query for one period).
        `only_periods`: a relation of (indicator_code, period_type, period_start) to place the members
        of those periods only (the periods an incremental run of the values rebuilds). -#}
    {%- set lengths = {'month': '1 month', 'quarter': '3 months', 'year': '1 year'} %}
    {%- for period_type, length in lengths.items() %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    select
        members.indicator_code,
        areas.area_code,
        areas.area_level,
        '{{ period_type }}'::text as period_type,
        periods.period_start,
        periods.period_end,
        breakdowns.breakdown_type,
        breakdowns.breakdown_code,
        members.unit_type,
        members.unit_id,
        members.numerator,
        members.denominator,
        members.measure,
        members.observation_date
        {%- for column in extra %},
        members.{{ column }}
        {%- endfor %}
    from (
        select
            series.period_start::date as period_start,
            (series.period_start + interval '{{ length }}' - interval '1 day')::date as period_end
        from
            generate_series(
                date_trunc('{{ period_type }}', (select min(bounds.observation_date) from {{ members }} as bounds)::timestamp),
                (select max(bounds.observation_date) from {{ members }} as bounds)::timestamp,
                interval '{{ length }}'
            ) as series (period_start)
    ) as periods
    inner join {{ members }} as members
        on
            periods.period_start = date_trunc('{{ period_type }}', members.observation_date::timestamp)::date
            and members.observation_date >= periods.period_start
            and members.observation_date <= periods.period_end
            {%- if only_periods %}
            and exists (
                select 1
                from {{ only_periods }} as wanted
                where
                    wanted.indicator_code = members.indicator_code
                    and wanted.period_type = '{{ period_type }}'
                    and wanted.period_start = periods.period_start
            )
            {%- endif %}
    cross join
        lateral (
            select
                members.community_code as area_code,
                'community' as area_level
            where members.community_code is not null
            union all
            select
                members.town_code as area_code,
                'town' as area_level
            where members.town_code is not null
            union all
            select
                served.town_code as area_code,
                'town' as area_level
            from unnest(string_to_array(members.served_town_codes, '|')) as served (town_code)
            union all
            select
                '341523000000' as area_code,
                'county' as area_level
        ) as areas
    cross join
        lateral (
            values
            ('total', '_T'),
            ('channel', members.channel),
            ('request_type', members.request_type_code),
            ('category', members.category_code),
            ('rule', members.rule_code)
        ) as breakdowns (breakdown_type, breakdown_code)
    where
        breakdowns.breakdown_code is not null
        and (breakdowns.breakdown_type = 'total' or areas.area_level <> 'community')
    {%- endfor %}
{%- endmacro %}
