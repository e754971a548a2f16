-- Area dimension (行政区划维度): county, towns and communities with 12-digit division codes,
-- versioned (codes are retired, never reused).
with divisions as (

    select * from {{ ref('ref_divisions') }}

),

final as (

    select
        area_code,
        area_name_zh,
        area_name_en,
        area_level,
        area_type,
        parent_code as parent_area_code,
        '341523000000'::text as county_code,
        urban_rural_class,
        valid_from,
        valid_to,
        is_invented,
        case
            when area_level = 'community' then parent_code
            when area_level = 'town' then area_code
        end as town_code,
        valid_to is null as is_current
    from divisions
    where area_level in ('county', 'town', 'community')

)

select * from final
