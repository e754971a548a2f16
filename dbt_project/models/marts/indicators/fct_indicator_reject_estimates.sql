{{ config(materialized='table') }}

-- The published cells a lost rejected row of an event feed could touch (拒收记录影响的指标单元), with
-- the reason of their status estimated (SDMX E, DOMAIN §8: a rejected row is not a deletion). The
-- would-be members of the rejected rows (fct_indicator_reject_flow_members,
-- fct_indicator_reject_stock_members: a few rows per reject) are placed by the same macros as every
-- member (place_flow_members, place_stock_members), so the cells are those the row would have counted
-- in (the cell key: macro cell_columns). breakdown_type and breakdown_code are null where every
-- breakdown of the indicator, area and period is touched (a row whose attributes are not known); a
-- cell's reason also names those. The reason gives feed, number of rejected rows and reason codes,
-- never a value of the record.
{%- set reject_columns = ['reject_feed', 'reject_id', 'reason_code'] %}

with placed_flows as (

    -- the members relations themselves, not import CTEs: the macros read them more than once
    {{ place_flow_members(ref('fct_indicator_reject_flow_members'), extra=['all_breakdowns'] + reject_columns) }}

),

placed_stocks as (

    {{ place_stock_members(
        ref('fct_indicator_reject_stock_members'),
        extra=reject_columns,
        latest_from=ref('fct_indicator_stock_members')
    ) }}

),

placed as (

    select
        {{ cell_columns(breakdown=false) }},
        case when not all_breakdowns then breakdown_type end as breakdown_type,
        case when not all_breakdowns then breakdown_code end as breakdown_code,
        {{ reject_columns | join(', ') }}
    from placed_flows
    union
    select
        {{ cell_columns() }},
        {{ reject_columns | join(', ') }}
    from placed_stocks

),

exact_cells as (

    select distinct {{ cell_columns() }}
    from placed
    where breakdown_type is not null

),

contributions as (

    -- a cell's own rejects, and for a cell of a breakdown the rejects that touch every breakdown of
    -- its indicator, area and period
    select * from placed
    union
    select
        {{ cell_columns('exact_cells') }},
        every_breakdown.reject_feed,
        every_breakdown.reject_id,
        every_breakdown.reason_code
    from exact_cells
    inner join placed as every_breakdown
        on
            every_breakdown.breakdown_type is null
            and {{ same_cell('exact_cells', 'every_breakdown', breakdown=false) }}

),

by_feed as (

    select
        {{ cell_columns() }},
        reject_feed,
        count(distinct reject_id) as rejected_rows,
        string_agg(distinct reason_code, ', ' order by reason_code) as reason_codes
    from contributions
    group by {{ cell_columns() }}, reject_feed

),

final as (

    select
        {{ cell_columns() }},
        sum(rejected_rows)::integer as rejected_rows,
        '估计值 estimated: ' || string_agg(
            format(
                '数据源 %s 有 %s 条拒收记录可能影响此值 %s rejected rows of feed %s could touch this figure (原因 reasons: %s)',
                reject_feed, rejected_rows, rejected_rows, reject_feed, reason_codes
            ),
            '; ' order by reject_feed
        ) as estimate_reason
    from by_feed
    group by {{ cell_columns() }}

)

select * from final
