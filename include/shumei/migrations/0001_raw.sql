-- The raw layer: schemas, batch log, rejects, reference keys.
-- Baseline: written with `if not exists` (and the in-place upgrades of earlier versions) because it
-- adopts a warehouse made before numbered migrations existed (2026-12-02); every later migration is
-- plain DDL, applied once (shumei.migrations).

create schema if not exists raw;
create schema if not exists raw_restricted;
revoke all on schema raw_restricted from public;
comment on schema raw is '原始层 Raw layer: source batches as received, append-only, with batch metadata';
comment on schema raw_restricted is '受限原始层 Restricted raw layer: personal data (caller name, phone) in clear; owner role only';

create table if not exists raw.batch_log (
    batch_id bigint generated always as identity primary key,
    source text not null,
    feed text not null,
    interval_start date not null,
    interval_end date not null,
    file_or_page text,
    received_at timestamptz not null default now(),
    finished_at timestamptz,
    rows_received integer,
    rows_loaded integer,
    rows_rejected integer,
    checksum text,
    status text not null check (status in ('loading', 'loaded', 'superseded', 'failed')),
    message text,
    dag_run_id text,
    contract_version integer,
    superseded_batches bigint[],
    superseded_by bigint,
    constraint batch_rows_conserved check (
        status not in ('loaded', 'superseded') or rows_received = rows_loaded + rows_rejected)
);
create index if not exists batch_log_feed_interval on raw.batch_log (feed, interval_start, status);
comment on table raw.batch_log is '批次日志 Batch log: every batch of every feed; received = loaded + rejected';

create table if not exists raw.rejects (
    batch_id bigint not null references raw.batch_log (batch_id),
    feed text not null,
    row_number integer not null,
    reason_code text not null,
    reason_field text,
    record jsonb not null,
    primary key (batch_id, row_number)
);
comment on table raw.rejects is '拒收记录 Rejected rows with their reason code (quarantine)';

create table if not exists raw.reference_keys (
    feed text not null,
    key text not null,
    first_day date not null,
    primary key (feed, key)
);
comment on table raw.reference_keys is '参照键 Keys other feeds refer to (compounds, communities, enterprises), with the first day a batch held them';
