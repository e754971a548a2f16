{#
    Custom schema names are used verbatim (reference, staging, intermediate, marts,
    published_candidate) instead of dbt's default "<target schema>_<custom>", so every
    environment has the same, documented schema layout. Nodes without a custom schema fall back
    to the target schema (analytics).
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
