-- Schema audit: the quality gate's runs and results, the state of the published DDL.
-- Baseline: written with `if not exists` (and the in-place upgrades of earlier versions) because it
-- adopts a warehouse made before numbered migrations existed (2026-12-02); every later migration is
-- plain DDL, applied once (shumei.migrations).

create schema if not exists audit;
revoke all on schema audit from public;
create table if not exists audit.validation_runs (
    run_id text primary key,
    target text not null,
    suite text not null,
    batch_id bigint,
    dag_run_id text,
    started_at timestamptz not null,
    checked_at timestamptz not null,
    passed boolean not null,
    success boolean not null,
    expectations integer not null,
    failed_blocking integer not null,
    failed_warning integer not null,
    candidate_checksum jsonb,
    data_docs text,
    summary text
);
comment on table audit.validation_runs is '质量校验运行 Quality gate runs (one per suite run; passed = all blocking expectations passed)';
create table if not exists audit.validation_results (
    run_id text not null references audit.validation_runs (run_id) on delete cascade,
    seq integer not null,
    suite text not null,
    check_name text not null,
    expectation text not null,
    column_name text,
    blocking boolean not null,
    success boolean not null,
    observed_value jsonb,
    details jsonb,
    dag_run_id text,
    checked_at timestamptz not null,
    primary key (run_id, seq)
);
comment on table audit.validation_results is '质量校验结果 Result of each expectation of a quality gate run';
create index if not exists validation_results_failed on audit.validation_results (checked_at) where not success;

create table if not exists audit.published_ddl_state (
    singleton boolean primary key default true check (singleton),
    fingerprint text not null,
    catalog_signature text not null,
    applied_at timestamptz not null default clock_timestamp()
);
