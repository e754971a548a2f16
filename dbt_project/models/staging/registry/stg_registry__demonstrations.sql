-- Daily full snapshots of the registry_demonstrations ledger, one row per key and snapshot day; a day has one
-- current batch (a rerun replaces it), the window only guards against a double load.
with source as (

    select * from {{ source('raw_registry', 'registry_demonstrations') }}

),

current_batch as (

    select
        *,
        row_number() over (
            partition by _interval_start, title_id
            order by _batch_id desc, _row_number desc
        ) as batch_rank
    from source

),

final as (

    select
        _interval_start as snapshot_date,
        _batch_id as batch_id,
        awarded_date,
        trim(title_id) as title_id,
        case trim(object_type) when '小区' then 'compound' when '物业企业' then 'enterprise' end as object_type_code,
        case when trim(object_type) = '物业企业' then upper(trim(object_id)) else trim(object_id) end as object_id,
        trim(object_name) as object_name,
        case trim(title_level) when '市级' then 'city' when '县级' then 'county' end as title_level_code,
        trim(title_name) as title_name
    from current_batch
    where batch_rank = 1

)

select * from final
