-- The batch rules of the quality gate (expectations/source_batch.yml, shumei.quality.validate_batches):
-- the queue of batches a gate run validates, each rule's row per batch that GX validates, and the
-- verdict kept per batch (a batch is validated once; a blocked one again on every run).

create table audit.batch_queue (batch_id bigint primary key);
comment on table audit.batch_queue is '待校验批次 The source batches the running gate validates (shumei.quality.validate_batches)';
create table audit.batch_rule_rows (
    check_name text not null,
    batch_id bigint not null,
    feed text not null,
    day date not null,
    observed numeric,
    bound numeric,
    verdict text not null check (verdict in ('pass', 'warning', 'blocked')),
    primary key (batch_id, check_name)
);
comment on table audit.batch_rule_rows is '批次规则结果 The batch rules'' rows of the latest gate run (one per rule and batch), which GX validates';
create table audit.batch_validations (
    batch_id bigint primary key,
    feed text not null,
    interval_start date not null,
    run_id text not null references audit.validation_runs (run_id),
    passed boolean not null,
    failed_blocking text[] not null,
    warnings text[] not null,
    checked_at timestamptz not null
);
comment on table audit.batch_validations is '批次校验结果 Result of the batch rules for each source batch (validated once; a blocked batch again each run)';
