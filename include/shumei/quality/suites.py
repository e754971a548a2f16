"""GX expectation suites built from the reviewed specifications in `expectations/`.

- `candidate_expectations()`: from expectations/indicator_candidate.yml (the candidate indicator table).
- `batch_rules()`: the source-batch rules of expectations/source_batch.yml, one SQL query asset each,
  filled in with what the contracts say (max_reject_share, snapshot, references).

Severity: one suite per target; each expectation carries GX's own `severity` — `critical` is
BLOCKING, `warning` only reports — and `meta.check`, a stable name used in audit tables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from shumei.settings import REPO_ROOT

QUEUE = "(select b.* from raw.batch_log b join audit.batch_queue using (batch_id))"


def expectations_dir() -> Path:
    return Path(os.environ.get("SHUMEI_EXPECTATIONS_DIR") or REPO_ROOT / "expectations")


def load_spec(name: str) -> dict[str, Any]:
    return yaml.safe_load((expectations_dir() / name).read_text(encoding="utf-8"))


def _expectation(type_name: str, check: str, severity: str, **kwargs: Any):
    import great_expectations.expectations as gxe

    cls = getattr(gxe, type_name)
    if severity not in ("critical", "warning"):
        raise ValueError(f"{check}: severity must be critical or warning, not {severity!r}")
    return cls(severity=severity, meta={"check": check, "blocking": severity == "critical"}, **kwargs)


def candidate_expectations(spec: Mapping[str, Any], *, catalog: str, latest: str,
                           candidate_columns: set[str]) -> list:
    """The candidate suite's expectations, placeholders filled in."""
    params = dict(spec.get("parameters") or {})
    values = {
        # GX substitutes {batch} as an aliased or unaliased subquery depending on whether the query
        # has a JOIN; reading it once into the CTE `cand` makes every query independent of that.
        "batch": "cand",
        "catalog": catalog,
        "latest": latest,
        "revision_flag": ("nullif(trim(c.revision_reason), '') is not null"
                          if "revision_reason" in candidate_columns else "false"),
        **{k: v for k, v in params.items()},
    }
    for name, text in (spec.get("fragments") or {}).items():
        values[name] = text.format(**values)
    out = []
    for item in spec["expectations"]:
        query = item["sql"].format(**values).strip()
        if query.lower().startswith("with "):
            query = "with cand as (select * from {batch}),\n" + query[5:]
        else:
            query = "with cand as (select * from {batch})\n" + query
        out.append(_expectation(item["type"], item["check"], item["severity"], description=item.get("description"),
                                unexpected_rows_query=query))
    return out


def _contracts_values() -> str:
    """(feed, max_reject_share, is_snapshot, steady_volume) of every contract, as a VALUES list aliased c."""
    from shumei.ingest.contracts import load_contracts

    rows = [f"({_literal(c.feed)}, {_literal(c.max_reject_share)}::numeric, {'true' if c.snapshot else 'false'}, "
            f"{'true' if c.volume == 'steady' else 'false'})" for c in load_contracts().values()]
    return f"(values {', '.join(rows)}) as c(feed, max_reject_share, is_snapshot, steady_volume)"


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(float(value))
    return "'" + str(value).replace("'", "''") + "'"


def _references(raw_tables: set[str]) -> str:
    """(batch_id, refs, unresolved) per reference field of the queued batches: the loaded rows' references
    (the loader let only known keys in) and the rejected rows', resolved against raw.reference_keys as
    of the batch's day."""
    from shumei.ingest.contracts import load_contracts

    parts = ["select null::bigint as batch_id, 0::bigint as refs, 0::bigint as unresolved"]
    queued = "(select batch_id from audit.batch_queue)"
    for c in load_contracts().values():
        if c.table not in raw_tables:
            continue
        for f in (f for f in c.fields if f.references):
            referenced = _literal(f.references.split(".")[0])
            parts.append(f'select r._batch_id, count(r."{f.name}"), 0 from raw."{c.table}" r '
                         f"where r._batch_id in {queued} group by 1")
            parts.append(
                f"select j.batch_id, count(*), count(*) filter (where not exists (select from raw.reference_keys k "
                f"where k.feed = {referenced} and k.key = j.record ->> {_literal(f.name)} "
                f"and k.first_day <= b.interval_start)) from raw.rejects j join raw.batch_log b using (batch_id) "
                f"where j.batch_id in {queued} and j.feed = {_literal(c.feed)} "
                f"and j.record ->> {_literal(f.name)} is not null group by 1")
    return "\nunion all\n".join(parts)


def batch_rules(spec: Mapping[str, Any], *, raw_tables: set[str],
                expected_day: date | None = None) -> list[tuple[str, str, str, list]]:
    """(check, its SQL over the queued batches, suite name, [critical, warning expectation]) per rule of
    source_batch.yml; the expectations validate the rule's rows in audit.batch_rule_rows.
    `expected_day`: the day the run expects data for ({expected_day}: a date literal, or a null date)."""
    values = {"queue": QUEUE, "contracts": _contracts_values(), "references": _references(raw_tables),
              "expected_day": f"date '{expected_day.isoformat()}'" if expected_day else "null::date",
              **(spec.get("parameters") or {})}
    out = []
    for rule in spec["rules"]:
        check = rule["check"]
        expectations = [
            _expectation("ExpectColumnValuesToNotBeInSet", check, severity, column="verdict", value_set=[verdict],
                         description=f"{rule['description']} ({'BLOCKING' if severity == 'critical' else 'warning'})")
            for severity, verdict in (("critical", "blocked"), ("warning", "warning"))]
        out.append((check, rule["sql"].format(**values).strip(), f"{spec['suite_prefix']}.{check}", expectations))
    return out
