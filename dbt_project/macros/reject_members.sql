{#
    What a lost rejected row of an event feed could touch (拒收记录可能影响的范围), shared by the
    would-be members of the rejected rows: fct_indicator_reject_flow_members (flow cells) and
    fct_indicator_reject_stock_members (stock cells, the credit figures XY_*).
#}

{% macro indicators_fed_by_feeds(measure_kind) -%}
    {#- Which indicators of `measure_kind` ('flow' or 'stock') each feed feeds: indicator_code, feed,
        from the catalogue's source_feeds (its one home; a pipe-separated list of feeds). -#}
    select distinct
        catalog.indicator_code,
        feeds.feed
    from {{ ref('ref_indicator_catalog') }} as catalog
    cross join lateral unnest(string_to_array(catalog.source_feeds, '|')) as feeds (feed)
    where catalog.measure_kind = '{{ measure_kind }}'
{%- endmacro %}


{% macro credit_reject_month_ends(rejected, fed_indicators, date_column) -%}
    {#- The rejected credit records (`rejected`: rows of fct_indicator_rejected_rows) with each
        indicator their feed feeds (`fed_indicators`: rows of indicators_fed_by_feeds) at every month
        end an item of the record is valid at: from the reject's day to the longest validity of
        ref_credit_rules (a score counts its items over 12 months). Returns the rejected row's columns,
        indicator_code and the month end as `date_column`. -#}
    select
        rejected.*,
        fed_indicators.indicator_code,
        months.month_end_date as {{ date_column }}
    from {{ rejected }} as rejected
    inner join {{ fed_indicators }} as fed_indicators on rejected.feed = fed_indicators.feed
    inner join {{ ref('int_reporting_months') }} as months
        on
            rejected.reject_date <= months.month_end_date
            and months.month_end_date
            <= rejected.reject_date
            + make_interval(months => (select max(credit_rules.validity_months) from {{ ref('ref_credit_rules') }} as credit_rules))
    where rejected.feed = 'credit_events'
{%- endmacro %}
