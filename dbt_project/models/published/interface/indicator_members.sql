-- Drill-through (指标穿透明细): the members of every figure of the current release, placed in their
-- cells (indicator × area × period × breakdown) by the same macros the values models aggregate
-- (place_stock_members, place_flow_members), over the member units the publication copied with the
-- release (published.indicator_stock_member_units, published.indicator_flow_member_units; both
-- created by shumei.publish.ddl.ensure_published_schema before dbt runs). A dbt build that then fails
-- its audit changes nothing here: the units are replaced only by a publication.
with stock_placed as (

    -- the relations themselves, not import CTEs: the macros read them more than once
    {{ place_stock_members(source('published', 'indicator_stock_member_units'), extra=['release_id']) }}

),

flow_placed as (

    {{ place_flow_members(source('published', 'indicator_flow_member_units'), extra=['release_id']) }}

),

final as (

    select * from stock_placed
    union all
    select * from flow_placed

)

select
    release_id,
    indicator_code,
    area_code,
    area_level,
    period_type,
    period_start,
    period_end,
    breakdown_type,
    breakdown_code,
    unit_type,
    unit_id,
    numerator,
    denominator,
    measure,
    observation_date
from final
