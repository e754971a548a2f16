-- Rejected rows of the current batches (拒收记录, current batches only: a rerun of a day replaces its
-- batch and its rejects), with the day the batch is for. The registry history models read it: a key
-- rejected in a full snapshot keeps its last accepted version (DOMAIN §8, macro
-- scd2_from_daily_snapshots); the figures a rejected row of an event feed could touch are estimated
-- (fct_indicator_rejected_rows and the reject models beside it).
with rejects as (

    select * from {{ source('raw_ingest', 'rejects') }}

),

batches as (

    select * from {{ source('raw_ingest', 'batch_log') }}

),

final as (

    select
        rejects.feed,
        batches.interval_start as snapshot_date,
        rejects.batch_id,
        rejects.row_number,
        rejects.reason_code,
        rejects.reason_field,
        rejects.record
    from rejects
    inner join batches on rejects.batch_id = batches.batch_id
    where batches.status = 'loaded'

)

select * from final
