{% macro period_length(period_type_expr) -%}
    {#-
        Length of a reporting period as an interval: 'month' -> 1 month, 'quarter' -> 3 months,
        anything else (year) -> 1 year. period_type_expr is a SQL expression of the period type.
        Example: (period_start + {{ period_length('period_type') }} - interval '1 day')::date is the
        last day of the period.
    -#}
    case {{ period_type_expr }}
        when 'month' then interval '1 month'
        when 'quarter' then interval '3 months'
        else interval '1 year'
    end
{%- endmacro %}
