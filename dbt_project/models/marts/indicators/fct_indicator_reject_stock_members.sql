{{ config(materialized='table') }}

-- The stock cells a lost rejected credit record could touch (拒收信用记录可能影响的存量指标单元), as
-- located member rows for the placement macro place_stock_members: the stock indicators the feed
-- feeds (ref_indicator_catalog.source_feeds; the credit figures XY_*), at every month end an item of
-- the record is valid (from the reject's day to the longest validity of ref_credit_rules: a score
-- counts its items over 12 months), in the county and the towns its enterprise serves that month
-- (a known enterprise), or, for a record of no known enterprise, in the county and the town of its
-- compound (a known compound) or every town.
{%- set county = "'341523000000'" %}

with rejected as (

    select * from {{ ref('fct_indicator_rejected_rows') }}

),

enterprise_status as (

    select * from {{ ref('fct_enterprise_status_monthly') }}

),

areas as (

    select * from {{ ref('dim_area') }}

),

fed_indicators as (

    {{ indicators_fed_by_feeds('stock') }}

),

month_ends as (

    {{ credit_reject_month_ends('rejected', 'fed_indicators', date_column='month_end_date') }}

),

towns as (

    select
        month_ends.reject_id,
        month_ends.indicator_code,
        month_ends.month_end_date,
        served.town_code
    from month_ends
    inner join enterprise_status
        on
            month_ends.unit_type = 'enterprise'
            and month_ends.unit_id = enterprise_status.enterprise_uscc
            and month_ends.month_end_date = enterprise_status.month_end_date
    cross join lateral unnest(string_to_array(enterprise_status.served_town_codes, '|')) as served (town_code)
    union all
    select
        month_ends.reject_id,
        month_ends.indicator_code,
        month_ends.month_end_date,
        areas.area_code as town_code
    from month_ends
    inner join areas
        on
            areas.area_level = 'town'
            and (month_ends.town_code is null or month_ends.town_code = areas.area_code)
    where month_ends.unit_type is null

),

located as (

    select
        indicator_code,
        month_end_date,
        {{ county }} as area_code,
        'county' as area_level,
        reject_id
    from month_ends
    union all
    select
        indicator_code,
        month_end_date,
        town_code as area_code,
        'town' as area_level,
        reject_id
    from towns

),

final as (

    select
        located.indicator_code,
        located.month_end_date,
        located.area_code,
        located.area_level,
        'reject'::text as unit_type,
        located.reject_id as unit_id,
        null::numeric as numerator,
        null::numeric as denominator,
        rejected.feed as reject_feed,
        rejected.reject_id,
        rejected.reason_code
    from located
    inner join rejected on located.reject_id = rejected.reject_id

)

select * from final
