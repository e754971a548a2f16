"""What an audit returns and how it is stored in the warehouse (schema `audit`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa


def run_status(passed: bool, warnings: int) -> str:
    """What a gate run decided, as the gate and the Data Docs both say it: failed (blocked), warning, passed."""
    return "failed" if not passed else "warning" if warnings else "passed"


@dataclass(frozen=True)
class Outcome:
    """The result of one expectation."""

    check: str
    expectation: str
    column: str | None
    blocking: bool
    success: bool
    observed_value: Any
    details: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        where = f" [{self.column}]" if self.column else ""
        observed = json.dumps(self.observed_value, default=str, ensure_ascii=False)[:300]
        batches = [f"{r['feed']} batch {r['batch_id']} ({r['day']}): {r['observed']}"
                   for r in self.details.get("rows", [])[:5] if "batch_id" in r]
        more = self.details.get("rows_total", 0) - len(batches)
        listed = f" [{'; '.join(batches)}{f'; {more} more' if more > 0 else ''}]" if batches else ""
        error = f" ERROR {self.details['exception'][:300]}" if self.details.get("exception") else ""
        return f"{self.check}{where} ({self.expectation}): observed {observed}{listed}{error}"


@dataclass
class AuditResult:
    """Outcome of `run_checkpoint`: `passed` is True when every BLOCKING expectation passed."""

    run_id: str
    target: str
    suite: str
    passed: bool
    outcomes: list[Outcome]
    started_at: datetime
    checked_at: datetime
    dag_run_id: str | None = None
    batches: int | None = None  # source batches validated (target source_batches)
    data_docs: str | None = None
    candidate_checksum: dict[str, Any] | None = None

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.blocking and not o.success]

    @property
    def warnings(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.blocking and not o.success]

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def status(self) -> str:
        return run_status(self.passed, len(self.warnings))

    def summary(self) -> str:
        what = f"{self.target}" + (f" ({self.batches} batches)" if self.batches is not None else "")
        head = (f"{'PASSED' if self.passed else 'BLOCKED'}: {what}, suite {self.suite}, "
                f"{len(self.outcomes)} expectations, {len(self.failures)} blocking failed, "
                f"{len(self.warnings)} warnings (run {self.run_id})")
        lines = [head]
        lines += [f"  BLOCKING {o.line()}" for o in self.failures]
        lines += [f"  warning  {o.line()}" for o in self.warnings]
        if self.data_docs:
            lines.append(f"  Data Docs: {self.data_docs}")
        return "\n".join(lines)

    def as_summary(self) -> dict[str, Any]:
        """Compact form stored with a release (published.release_log.validation_summary)."""
        return {"run_id": self.run_id, "suite": self.suite, "passed": self.passed,
                "expectations": len(self.outcomes), "failed_blocking": [o.check for o in self.failures],
                "warnings": [o.check for o in self.warnings], "checked_at": self.checked_at.isoformat(),
                "candidate_checksum": self.candidate_checksum}

    def __str__(self) -> str:
        return self.summary()


def store(conn: sa.Connection, result: AuditResult) -> None:
    """Write the run and one row per expectation, in the caller's transaction."""
    def js(value: Any) -> str:
        return json.dumps(value, default=str, ensure_ascii=False)

    conn.execute(sa.text("""
        insert into audit.validation_runs (run_id, target, suite, dag_run_id, started_at,
            checked_at, passed, success, expectations, failed_blocking, failed_warning,
            candidate_checksum, data_docs, summary)
        values (:run_id, :target, :suite, :dag_run_id, :started_at, :checked_at, :passed,
            :success, :n, :fb, :fw, cast(:checksum as jsonb), :docs, :summary)"""),
        dict(run_id=result.run_id, target=result.target, suite=result.suite, dag_run_id=result.dag_run_id,
             started_at=result.started_at, checked_at=result.checked_at,
             passed=result.passed, success=result.success, n=len(result.outcomes),
             fb=len(result.failures), fw=len(result.warnings),
             checksum=js(result.candidate_checksum) if result.candidate_checksum else None,
             docs=result.data_docs, summary=result.summary()))
    if result.outcomes:
        conn.execute(sa.text("""
            insert into audit.validation_results (run_id, seq, suite, check_name, expectation,
                column_name, blocking, success, observed_value, details, dag_run_id, checked_at)
            values (:run_id, :seq, :suite, :check, :expectation, :column, :blocking, :success,
                cast(:observed as jsonb), cast(:details as jsonb), :dag_run_id, :checked_at)"""),
            [dict(run_id=result.run_id, seq=i, suite=result.suite, check=o.check,
                  expectation=o.expectation, column=o.column, blocking=o.blocking,
                  success=o.success, observed=js(o.observed_value), details=js(o.details),
                  dag_run_id=result.dag_run_id, checked_at=result.checked_at)
             for i, o in enumerate(result.outcomes, 1)])
