{{ config(materialized='table', contract={'enforced': true}) }}

-- Published candidate of the work orders (工单结构化信息), a disclosure table (DOMAIN §8: work orders
-- only as structured fields: id, compound, category, channel, dates, status; never caller data or
-- free text). One row per merged work order of fct_work_order, counted or not (is_counted says
-- which, as the mart decides: a 12319 copy is merged into its original, REJECTED and MERGED orders
-- leave the counts). No caller hash, no summary, no operator note, no satisfaction answer.
with work_orders as (

    select * from {{ ref('fct_work_order') }}

),

compounds as (

    select * from {{ ref('dim_compound') }}

),

categories as (

    select * from {{ ref('ref_complaint_categories') }}

),

status_codes as (

    select * from {{ ref('ref_status_codes') }}

),

compound_names as (

    -- the name of the compound's latest registry version
    select distinct on (compound_id)
        compound_id,
        compound_name
    from compounds
    order by compound_id asc, valid_from desc

),

final as (

    select
        work_orders.work_order_id,
        work_orders.compound_id,
        compound_names.compound_name,
        work_orders.community_code,
        work_orders.town_code,
        work_orders.channel,
        work_orders.request_type_code,
        work_orders.category_code,
        categories.name_zh as category_name_zh,
        categories.name_en as category_name_en,
        work_orders.urgency_code,
        work_orders.received_at,
        work_orders.received_date,
        work_orders.dispatched_at,
        work_orders.closed_at,
        work_orders.due_at,
        work_orders.due_source,
        work_orders.last_updated_at as updated_at,
        work_orders.current_status_code as status_code,
        work_orders.highest_escalation_level,
        work_orders.is_counted,
        work_orders.is_closed_on_time,
        -- Open311: closed once the order has its final closure (a visit after it is not a reopening)
        -- or a terminal status (不予受理, 并案); open otherwise, e.g. while reopened (重办)
        case when work_orders.closed_at is not null then 'closed' else status_codes.open311_status end
            as open311_status
    from work_orders
    left join compound_names on work_orders.compound_id = compound_names.compound_id
    left join categories
        on
            work_orders.category_code = categories.category_code
            and work_orders.received_date >= categories.valid_from
            and (categories.valid_to is null or work_orders.received_date < categories.valid_to)
    left join status_codes
        on
            work_orders.current_status_code = status_codes.status_code
            and work_orders.received_date >= status_codes.valid_from
            and (status_codes.valid_to is null or work_orders.received_date < status_codes.valid_to)

)

select * from final
