-- The inputs of each complete build_and_publish run (shumei.build.build_inputs_digest): a run whose
-- inputs equal those of the last complete run has nothing new to build, audit, publish or report, and
-- the DAG skips those tasks (issue 14: a run with nothing new does nearly nothing).

create table audit.build_inputs (
    run_id text primary key,
    inputs_digest text not null,
    as_of_date date,
    release_id bigint,
    recorded_at timestamptz not null default now()
);
comment on table audit.build_inputs is '构建输入记录 The inputs (loaded batches, as-of date, code) of each complete build_and_publish run';
comment on column audit.build_inputs.inputs_digest is '输入摘要 SHA-256 of the loaded batches (feed, day, content checksum, counts), the as-of date and the code';
comment on column audit.build_inputs.release_id is '现行发布 The release in force after the run';
