{{ config(materialized='table') }}

-- The flow cells a lost rejected row of an event feed could touch (拒收记录可能影响的流量指标单元),
-- as member rows for the placement macro place_flow_members (the one home of which cells a member
-- counts in), so that fct_indicator_reject_estimates places a small set instead of the whole
-- placement again. The indicators a feed feeds are those whose ref_indicator_catalog.source_feeds
-- names it. A rejected row touches:
-- - a known work order (hotline): every cell the order is a member of (its own members and the
--   early warnings about it), and the cells its event would have placed it in: each indicator the
--   feed feeds, at the order's community, town and attributes, dated at the reject's day (TS_CF also
--   at the end of the repeat window after it, ref_repeat_rules.window_days: a repeat of a later
--   order depends on the earlier one's closure);
-- - a hotline row of no known order: each indicator the feed feeds at the reject's day, in every
--   area where its area fields do not resolve (a valid community: that community, its town and the
--   county; a valid town: the town, its communities and the county; none: everywhere), in every
--   breakdown (all_breakdowns);
-- - a credit record: the early warnings (YJ_SL) about its enterprise (known) and, at each month end
--   an item of the record is valid (the reject's day to the longest validity of ref_credit_rules),
--   the towns it serves (known) or the areas where the record does not resolve, every rule.
-- The stock cells (XY_*) are fct_indicator_reject_stock_members.
with rejected as (

    select * from {{ ref('fct_indicator_rejected_rows') }}

),

members as (

    select * from {{ ref('fct_indicator_flow_members') }}

),

warnings as (

    select * from {{ ref('fct_early_warning') }}

),

orders as (

    select * from {{ ref('fct_work_order') }}

),

enterprise_status as (

    select * from {{ ref('fct_enterprise_status_monthly') }}

),

areas as (

    select * from {{ ref('dim_area') }}

),

repeat_rules as (

    select * from {{ ref('ref_repeat_rules') }}

),

fed_indicators as (

    {{ indicators_fed_by_feeds('flow') }}

),

touched_units as (

    -- the member units a known order or enterprise is: the early warnings about it, and the order
    select
        rejected.*,
        'early_warning'::text as member_unit_type,
        warnings.early_warning_id as member_unit_id
    from rejected
    inner join warnings on rejected.unit_id = warnings.subject_id
    union all
    select
        rejected.*,
        'work_order'::text as member_unit_type,
        rejected.unit_id as member_unit_id
    from rejected
    where rejected.unit_type = 'work_order'

),

own_members as (

    -- every cell a known order counts in, and the early warnings about it or about a known enterprise
    select
        members.indicator_code,
        members.observation_date,
        members.community_code,
        members.town_code,
        members.served_town_codes,
        members.channel,
        members.request_type_code,
        members.category_code,
        members.rule_code,
        false as all_breakdowns,
        touched_units.feed,
        touched_units.reject_id,
        touched_units.reason_code
    from touched_units
    inner join members
        on
            touched_units.member_unit_type = members.unit_type
            and touched_units.member_unit_id = members.unit_id

),

hotline_days as (

    -- the reject's day, and for TS_CF the end of the repeat window after it
    select
        rejected.*,
        fed_indicators.indicator_code,
        reject_days.observation_date
    from rejected
    inner join fed_indicators on rejected.feed = fed_indicators.feed
    cross join
        lateral (
            select rejected.reject_date as observation_date
            union
            select (rejected.reject_date + repeat_rules.window_days)::date as observation_date
            from repeat_rules
            where fed_indicators.indicator_code = 'TS_CF'
        ) as reject_days
    where rejected.feed = 'hotline_events'

),

credit_month_ends as (

    -- the month ends an item of the credit record is valid at (YJ_SL: warnings on credit grades)
    {{ credit_reject_month_ends('rejected', 'fed_indicators', date_column='observation_date') }}

),

would_be as (

    select
        hotline_days.*,
        orders.channel,
        orders.request_type_code,
        orders.category_code,
        null::text as served_town_codes
    from hotline_days
    left join orders on hotline_days.unit_type = 'work_order' and hotline_days.unit_id = orders.work_order_id
    union all
    select
        credit_month_ends.*,
        null::text as channel,
        null::text as request_type_code,
        null::text as category_code,
        enterprise_status.served_town_codes
    from credit_month_ends
    left join enterprise_status
        on
            credit_month_ends.unit_type = 'enterprise'
            and credit_month_ends.unit_id = enterprise_status.enterprise_uscc
            and credit_month_ends.observation_date = enterprise_status.month_end_date

),

candidate_areas as (

    select
        town_code,
        case when area_level = 'community' then area_code end as community_code
    from areas
    where area_level in ('community', 'town')

),

located as (

    -- a known order: its own areas and attributes; a known enterprise: the towns it serves; else
    -- every area where the record does not resolve, in every breakdown
    select
        would_be.indicator_code,
        would_be.observation_date,
        places.community_code,
        places.town_code,
        places.served_town_codes,
        case when places.is_known_order then would_be.channel end as channel,
        case when places.is_known_order then would_be.request_type_code end as request_type_code,
        case when places.is_known_order then would_be.category_code end as category_code,
        null::text as rule_code,
        not places.is_known_order or would_be.indicator_code = 'YJ_SL' as all_breakdowns,
        would_be.feed,
        would_be.reject_id,
        would_be.reason_code
    from would_be
    cross join
        lateral (
            select
                would_be.community_code,
                would_be.town_code,
                null::text as served_town_codes,
                true as is_known_order
            where would_be.unit_type = 'work_order'
            union all
            select
                null::text as community_code,
                null::text as town_code,
                would_be.served_town_codes,
                false as is_known_order
            where would_be.unit_type = 'enterprise'
            union all
            select
                candidate_areas.community_code,
                candidate_areas.town_code,
                null::text as served_town_codes,
                false as is_known_order
            from candidate_areas
            where
                would_be.unit_type is null
                and case
                    when would_be.community_code is not null
                        then would_be.community_code = candidate_areas.community_code
                    when would_be.town_code is not null then would_be.town_code = candidate_areas.town_code
                    else true
                end
        ) as places

),

final as (

    select
        indicator_code,
        observation_date,
        community_code,
        town_code,
        served_town_codes,
        'reject'::text as unit_type,
        reject_id as unit_id,
        channel,
        request_type_code,
        category_code,
        rule_code,
        null::numeric as numerator,
        null::numeric as denominator,
        null::numeric as measure,
        all_breakdowns,
        feed as reject_feed,
        reject_id,
        reason_code
    from (
        select * from own_members
        union all
        select * from located
    ) as touched
    where
        observation_date >= {{ reporting_start_date() }}
        and observation_date <= {{ as_of_date() }}

)

select * from final
