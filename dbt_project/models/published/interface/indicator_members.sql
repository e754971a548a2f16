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

placed as (

    select * from stock_placed
    union all
    select * from flow_placed

),

final as (

    -- only the cells the release publishes: the candidate leaves out area levels, periods and
    -- breakdowns the catalogue does not publish (e.g. LM_FG has no community rows)
    select placed.*
    from placed
    where exists (
        select 1
        from {{ source('published', 'indicator_values') }} as figures
        where
            figures.valid_to_release is null
            and figures.indicator_code = placed.indicator_code
            and figures.area_code = placed.area_code
            and figures.period_type = placed.period_type
            and figures.period_start = placed.period_start
            and figures.breakdown_type = placed.breakdown_type
            and figures.breakdown_code = placed.breakdown_code
    )

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
