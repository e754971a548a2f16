-- Daily full snapshots of the registry_compounds ledger, one row per key and snapshot day; a day has one
-- current batch (a rerun replaces it), the window only guards against a double load.
with source as (

    select * from {{ source('raw_registry', 'registry_compounds') }}

),

current_batch as (

    select
        *,
        row_number() over (
            partition by _interval_start, compound_id
            order by _batch_id desc, _row_number desc
        ) as batch_rank
    from source

),

final as (

    select
        _interval_start as snapshot_date,
        _batch_id as batch_id,
        households::integer as households,
        buildings::integer as buildings,
        built_year::integer as built_year,
        service_start_date,
        ledger_date,
        trim(compound_id) as compound_id,
        trim(compound_name) as compound_name,
        trim(town_code) as town_code,
        trim(town_name) as town_name,
        trim(community_code) as community_code,
        trim(community_name) as community_name,
        trim(address) as address,
        case is_urban_residential when '是' then true when '否' then false end as is_urban_residential,
        trim(service_mode) as service_mode_zh,
        case trim(service_mode)
            when '专业化物业服务' then 'professional'
            when '国有物业兜底' then 'state_fallback'
            when '社区托管' then 'community_managed'
            when '业主自治管理' then 'self_managed'
            when '无物业管理' then 'none'
        end as service_mode_code,
        case has_property_service when '是' then true when '否' then false end as has_property_service,
        upper(nullif(trim(enterprise_uscc), '')) as enterprise_uscc,
        nullif(trim(enterprise_name), '') as enterprise_name
    from current_batch
    where batch_rank = 1

)

select * from final
