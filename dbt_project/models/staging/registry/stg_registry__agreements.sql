-- Daily full snapshots of the registry_agreements ledger, one row per key and snapshot day; a day has one
-- current batch (a rerun replaces it), the window only guards against a double load.
with source as (

    select * from {{ source('raw_registry', 'registry_agreements') }}

),

current_batch as (

    select
        *,
        row_number() over (
            partition by _interval_start, agreement_id
            order by _batch_id desc, _row_number desc
        ) as batch_rank
    from source

),

final as (

    select
        _interval_start as snapshot_date,
        _batch_id as batch_id,
        signed_date,
        trim(agreement_id) as agreement_id,
        upper(trim(enterprise_uscc)) as enterprise_uscc,
        trim(enterprise_name) as enterprise_name,
        trim(community_code) as community_code,
        trim(community_name) as community_name
    from current_batch
    where batch_rank = 1

)

select * from final
