{#
    Generic tests the project needs, written here because dbt hub packages (dbt_utils,
    dbt_expectations) cannot be fetched in this environment. Each returns the failing rows.
#}

{% test not_negative(model, column_name) %}
    select *
    from {{ model }}
    where {{ column_name }} < 0
{% endtest %}


{% test between(model, column_name, min_value=none, max_value=none, inclusive=true) %}
    {#- Values outside [min_value, max_value] (or the open interval if inclusive=false); nulls pass. -#}
    {%- set lower_op = '<' if inclusive else '<=' -%}
    {%- set upper_op = '>' if inclusive else '>=' -%}
    select *
    from {{ model }}
    where
        {{ column_name }} is not null
        and (
            false
            {%- if min_value is not none %}
                or {{ column_name }} {{ lower_op }} {{ min_value }}
            {%- endif %}
            {%- if max_value is not none %}
                or {{ column_name }} {{ upper_op }} {{ max_value }}
            {%- endif %}
        )
{% endtest %}


{% test numerator_le_denominator(model, numerator, denominator) %}
    {#- Rates: numerator never above denominator, neither negative. -#}
    select *
    from {{ model }}
    where
        {{ numerator }} > {{ denominator }}
        or {{ numerator }} < 0
        or {{ denominator }} < 0
{% endtest %}


{% test unique_combination(model, combination_of_columns) %}
    {#- Like dbt_utils.unique_combination_of_columns: one row per combination. -#}
    select
        {{ combination_of_columns | join(', ') }},
        count(*) as n_rows
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}


{% test expression_is_true(model, expression, where_clause=none, column_name=none) %}
    {#- Rows for which the boolean expression is not true (false or null). -#}
    select *
    from {{ model }}
    where
        not coalesce({{ expression }}, false)
        {%- if where_clause %}
            and ({{ where_clause }})
        {%- endif %}
{% endtest %}


{% test valid_interval(model, partition_by, valid_from='valid_from', valid_to='valid_to') %}
    {#-
        Versioned reference rows: valid_from < valid_to (valid_to null = open), and no two versions
        of the same key (partition_by, a list of columns) overlap in time. Intervals are
        [valid_from, valid_to).
    -#}
    with versions as (
        select
            {{ partition_by | join(', ') }},
            {{ valid_from }} as version_from,
            coalesce({{ valid_to }}, date '9999-12-31') as version_to
        from {{ model }}
    ),

    empty_intervals as (
        select
            *,
            'valid_from >= valid_to' as problem
        from versions
        where version_from >= version_to
    ),

    overlapping_versions as (
        select
            v1.*,
            'overlaps another version of the same key' as problem
        from versions as v1
        inner join versions as v2
            on
                {% for column in partition_by -%}
                    v1.{{ column }} is not distinct from v2.{{ column }} and
                {% endfor -%}
                v1.version_from < v2.version_to
                and v2.version_from < v1.version_to
                and (v1.version_from, v1.version_to) is distinct from (v2.version_from, v2.version_to)
    )

    select * from empty_intervals
    union all
    select * from overlapping_versions
{% endtest %}
