"""Quality gates (GX Core 1.x over SQL): the batch rules of the source batches, the publication gate.

    validate_batches(engine_or_url, *, dag_run_id=None, ...) -> AuditResult      every batch not validated yet
    run_checkpoint(engine_or_url, *, dag_run_id=None, ...) -> AuditResult        the candidate table

Suites are specified in expectations/ (reviewed like code); results go to the `audit` schema and the
Data Docs pages (SHUMEI_GX_DIR/data_docs, self-contained).
"""

from shumei.quality.checkpoint import (
    CANDIDATE_TARGET,
    data_docs_dir,
    run_checkpoint,
    send_rule_alerts,
    validate_batches,
)
from shumei.quality.results import AuditResult, Outcome

__all__ = ["CANDIDATE_TARGET", "AuditResult", "Outcome", "data_docs_dir", "run_checkpoint",
           "send_rule_alerts", "validate_batches"]
