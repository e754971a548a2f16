{{ config(materialized='table') }}

-- Rejected rows of the event feeds (事件类数据源拒收记录: hotline events, credit records) that are
-- lost: their key was accepted in no current batch (an event delivered again by the next day's
-- overlapping page and accepted there is not lost). DOMAIN §8: a rejected row is not a deletion, so
-- the figures it could have touched are estimated (fct_indicator_reject_flow_members,
-- fct_indicator_reject_stock_members, fct_indicator_reject_estimates). Each row is tied to what the
-- warehouse knows:
-- - reject_date: the day the row is about, its event date (event_at, event_date) where that is an
--   ISO date or timestamp and not the field the reject names, else the day of its batch;
-- - a known unit: the work order of its order_id (hotline), the enterprise of its credit code
--   (credit), else none;
-- - its areas: the community and town codes of the record that are codes of the division list (a
--   credit record: the community and town of its compound, if the compound is known); null where
--   they do not resolve.
-- Only codes and ids of the record are read, never a restricted or free-text field.
with rejects as (

    select * from {{ ref('stg_ingest__rejects') }}

),

hotline_events as (

    select * from {{ ref('stg_hotline__events') }}

),

credit_events as (

    select * from {{ ref('stg_credit__events') }}

),

orders as (

    select * from {{ ref('fct_work_order') }}

),

enterprises as (

    select * from {{ ref('dim_enterprise') }}

),

compounds as (

    select * from {{ ref('dim_compound') }}

),

areas as (

    select * from {{ ref('dim_area') }}

),

event_rejects as (

    select
        feed,
        batch_id,
        row_number,
        reason_code,
        reason_field,
        snapshot_date,
        nullif(btrim(record ->> case feed when 'hotline_events' then 'event_id' else 'credit_event_id' end), '')
            as record_key,
        nullif(btrim(record ->> case feed when 'hotline_events' then 'event_at' else 'event_date' end), '')
            as event_text,
        case feed when 'hotline_events' then 'event_at' else 'event_date' end as event_field,
        nullif(btrim(record ->> 'order_id'), '') as order_id,
        upper(nullif(btrim(record ->> 'enterprise_uscc'), '')) as enterprise_uscc,
        nullif(btrim(record ->> 'compound_id'), '') as compound_id,
        nullif(btrim(record ->> 'community_code'), '') as community_code,
        nullif(btrim(record ->> 'town_code'), '') as town_code
    from rejects
    where feed in ('hotline_events', 'credit_events')

),

lost as (

    -- a key accepted in another current batch is not lost
    select event_rejects.*
    from event_rejects
    where
        not (
            event_rejects.feed = 'hotline_events'
            and exists (
                select 1 from hotline_events
                where hotline_events.event_id = event_rejects.record_key
            )
        )
        and not (
            event_rejects.feed = 'credit_events'
            and exists (
                select 1 from credit_events
                where credit_events.credit_event_id = event_rejects.record_key
            )
        )

),

dated as (

    select
        lost.*,
        case
            when
                lost.event_text ~ '^\d{4}-\d{2}-\d{2}([T ]|$)'
                and coalesce(strpos(lost.reason_field, lost.event_field), 0) = 0
                and pg_input_is_valid(lost.event_text, 'timestamptz')
                then {{ shanghai_date('lost.event_text::timestamptz') }}
            else lost.snapshot_date
        end as reject_date
    from lost

),

known_enterprises as (

    select distinct enterprise_uscc from enterprises

),

latest_compounds as (

    -- the areas of a compound's latest version
    select distinct on (compound_id)
        compound_id,
        community_code,
        town_code
    from compounds
    order by compound_id asc, valid_from desc

),

final as (

    select
        dated.feed,
        dated.batch_id,
        dated.row_number,
        dated.reason_code,
        dated.reject_date,
        dated.feed || ':' || dated.batch_id || ':' || dated.row_number as reject_id,
        case
            when orders.work_order_id is not null then 'work_order'
            when known_enterprises.enterprise_uscc is not null then 'enterprise'
        end as unit_type,
        coalesce(orders.work_order_id, known_enterprises.enterprise_uscc) as unit_id,
        coalesce(orders.community_code, community.area_code, latest_compounds.community_code) as community_code,
        coalesce(orders.town_code, community.town_code, town.area_code, latest_compounds.town_code) as town_code
    from dated
    left join orders
        on dated.feed = 'hotline_events' and dated.order_id = orders.work_order_id
    left join known_enterprises
        on dated.feed = 'credit_events' and dated.enterprise_uscc = known_enterprises.enterprise_uscc
    left join areas as community
        on dated.community_code = community.area_code and community.area_level = 'community'
    left join areas as town
        on dated.town_code = town.area_code and town.area_level = 'town'
    left join latest_compounds
        on dated.feed = 'credit_events' and dated.compound_id = latest_compounds.compound_id

)

select * from final
