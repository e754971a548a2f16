{#
    The key of a published figure (指标单元): indicator × area × period × breakdown, the key of
    published.indicator_values (area_level follows from area_code, period_end from period_type and
    period_start). One home for the key's column list and for the join on it, used by the values
    models (fct_indicator_stock_values, fct_indicator_flow_values), the reject estimates
    (fct_indicator_reject_estimates) and the candidate (published_candidate.indicator_values).
#}

{% macro cell_columns(relation=none, period_end=false, breakdown=true) -%}
    {#- The key columns in the key's order: indicator_code, area_code, area_level, period_type,
        period_start, then period_end (`period_end`), then breakdown_type and breakdown_code
        (`breakdown`), each prefixed with `relation.` when given; for a select list or a group by. -#}
    {%- set columns = ['indicator_code', 'area_code', 'area_level', 'period_type', 'period_start'] -%}
    {%- if period_end %}{% do columns.append('period_end') %}{% endif -%}
    {%- if breakdown %}{% do columns.extend(['breakdown_type', 'breakdown_code']) %}{% endif -%}
    {%- for column in columns %}
        {%- if relation %}{{ relation }}.{% endif %}{{ column }}{% if not loop.last %}, {% endif %}
    {%- endfor -%}
{%- endmacro %}


{% macro same_cell(left, right, breakdown=true) -%}
    {#- The join condition of two relations on the cell key (indicator, area, period type and start,
        and with `breakdown` the breakdown type and code); breakdown=false matches every breakdown of
        the indicator, area and period. -#}
    {%- set columns = ['indicator_code', 'area_code', 'period_type', 'period_start'] -%}
    {%- if breakdown %}{% do columns.extend(['breakdown_type', 'breakdown_code']) %}{% endif -%}
    {%- for column in columns %}
        {%- if not loop.first %} and {% endif %}{{ left }}.{{ column }} = {{ right }}.{{ column }}
    {%- endfor -%}
{%- endmacro %}
