"""Quality gates (GX Core 1.x): one per source batch, one on the candidate indicator table.

    run_checkpoint(engine_or_url, target, *, batch_id=None, dag_run_id=None, ...) -> AuditResult

Suites are specified in expectations/ (reviewed like code); results go to the `audit` schema and
GX Data Docs (SHUMEI_GX_DIR/data_docs).
"""

from shumei.quality.checkpoint import CANDIDATE_TARGET, data_docs_dir, gx_dir, run_checkpoint
from shumei.quality.results import AuditResult, Outcome

__all__ = ["CANDIDATE_TARGET", "AuditResult", "Outcome", "data_docs_dir", "gx_dir", "run_checkpoint"]
