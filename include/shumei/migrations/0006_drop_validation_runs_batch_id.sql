-- audit.validation_runs.batch_id is no longer written (always null since the gate validates every
-- batch of a run in one GX run; the verdict of each batch is audit.batch_validations, migration 0005):
-- dropped, so the table holds only what a run records.

alter table audit.validation_runs drop column batch_id;
