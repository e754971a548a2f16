"""GX expectation suites built from the reviewed specifications in `expectations/`.

- `candidate_expectations()`: from expectations/indicator_candidate.yml (the candidate indicator table).
- `batch_expectations()`: generated from a feed's data contract (include/shumei/contracts/<feed>.yaml)
  with the thresholds of expectations/source_batch.yml.

Severity: one suite per target; each expectation carries GX's own `severity` — `critical` is
BLOCKING, `warning` only reports — and `meta.check`, a stable name used in audit tables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from shumei.ingest.contracts import CONTRACTS_DIR
from shumei.settings import REPO_ROOT

# Contract field names that are event times, each expected <= updated_at when both exist.
AUTO_BEFORE_UPDATED = ("event_at", "created_at", "received_at", "occurred_at", "reported_at")


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
        check, severity, type_name = item["check"], item["severity"], item["type"]
        if "sql" in item:
            query = item["sql"].format(**values).strip()
            if query.lower().startswith("with "):
                query = "with cand as (select * from {batch}),\n" + query[5:]
            else:
                query = "with cand as (select * from {batch})\n" + query
            out.append(_expectation(type_name, check, severity, description=item.get("description"),
                                    unexpected_rows_query=query))
            continue
        kwargs = dict(item.get("kwargs") or {})
        if item.get("description"):
            kwargs["description"] = item["description"]
        for column in item.get("for_each_column") or [None]:
            extra = {"column": column} if column else {}
            out.append(_expectation(type_name, check, severity, **kwargs, **extra))
    return out


def load_contract(feed: str, contracts_dir: Path | None = None) -> dict[str, Any]:
    folder = contracts_dir or Path(os.environ.get("SHUMEI_CONTRACTS_DIR") or CONTRACTS_DIR)
    for path in sorted(folder.glob("*.y*ml")):
        contract = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(contract, dict) and contract.get("feed") == feed:
            return contract
    raise FileNotFoundError(f"no data contract for feed {feed!r} in {folder}")


def uscc_column(field: str) -> str:
    return f"{field}__uscc_valid"


def timestamp_pairs(contract: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(earlier, later) column pairs: the contract's `timestamp_order`, else event times <= updated_at."""
    if contract.get("timestamp_order"):
        return [tuple(pair) for pair in contract["timestamp_order"]]
    fields = {f["name"]: f for f in contract.get("fields", [])}
    pairs = [(f["name"], f["not_after"]) for f in fields.values() if f.get("not_after")]
    if "updated_at" in fields:
        pairs += [(name, "updated_at") for name in AUTO_BEFORE_UPDATED if name in fields]
    return pairs


def batch_expectations(contract: Mapping[str, Any], spec: Mapping[str, Any], *, columns: set[str],
                       row_count_band: Mapping[str, tuple[int, int]] | None,
                       loaded_floor: tuple[int, int] | None = None) -> list:
    """Expectations of one source batch of `contract`'s feed.

    `columns` are the columns of the batch (PII fields may live in raw_restricted instead: they are
    checked only when present); `row_count_band` maps severity to (min, max) rows, or None when the
    feed has too little history; `loaded_floor` is (fewest rows loaded, rows received) under the
    contract's max_reject_share, or None.
    """
    fields = contract.get("fields", [])
    out = []
    # raw.<feed> holds PII fields only as keyed hashes (<name>_hash); clear values are in raw_restricted
    present = [f["name"] if not f.get("pii") else f"{f['name']}_hash" for f in fields]
    out.append(_expectation("ExpectTableColumnsToMatchSet", "columns_present", spec["columns_present"],
                            column_set=present, exact_match=False))
    key = list(contract.get("primary_key") or [])
    if isinstance(contract.get("primary_key"), str):
        key = [contract["primary_key"]]
    for column in key:
        out.append(_expectation("ExpectColumnValuesToNotBeNull", "primary_key_not_null", spec["primary_key"],
                                column=column))
    if len(key) == 1:
        out.append(_expectation("ExpectColumnValuesToBeUnique", "primary_key_unique", spec["primary_key"],
                                column=key[0]))
    elif key:
        out.append(_expectation("ExpectCompoundColumnsToBeUnique", "primary_key_unique", spec["primary_key"],
                                column_list=key))
    for f in fields:
        name = f["name"]
        if f.get("pii") and name not in columns:
            continue
        if f.get("required") and name not in key:
            out.append(_expectation("ExpectColumnValuesToNotBeNull", "required_not_null",
                                    spec["required_not_null"], column=name))
        if f.get("allowed"):
            out.append(_expectation("ExpectColumnValuesToBeInSet", "allowed_values", spec["allowed_values"],
                                    column=name, value_set=list(f["allowed"])))
        if f.get("pattern") and f.get("type", "string") == "string":
            out.append(_expectation("ExpectColumnValuesToMatchRegex", "pattern", spec.get("pattern", "critical"),
                                    column=name, regex=str(f["pattern"])))
        if f.get("min") is not None or f.get("max") is not None:
            out.append(_expectation("ExpectColumnValuesToBeBetween", "value_range", spec.get("value_range", "critical"),
                                    column=name, min_value=f.get("min"), max_value=f.get("max")))
        if f.get("check") == "uscc":
            for severity, share in spec["uscc_valid_share"].items():
                out.append(_expectation("ExpectColumnValuesToBeInSet", "uscc_valid_share", severity,
                                        column=uscc_column(name), value_set=[True], mostly=float(share),
                                        description=f"统一社会信用代码有效比例 ≥ {share:.0%} Share of valid "
                                                    f"credit codes in {name} ≥ {share:.0%}"))
    for earlier, later in timestamp_pairs(contract):
        out.append(_expectation("ExpectColumnPairValuesAToBeGreaterThanB", "timestamp_order",
                                spec["timestamp_order"], column_A=later, column_B=earlier, or_equal=True,
                                ignore_row_if="either_value_is_missing",
                                description=f"时间先后 {earlier} <= {later}"))
    for severity, (low, high) in (row_count_band or {}).items():
        out.append(_expectation("ExpectTableRowCountToBeBetween", "row_count_vs_trailing_average", severity,
                                min_value=int(low), max_value=int(high),
                                description="行数在近期平均值范围内 Rows within the band around the trailing "
                                            "average of rows_loaded (raw.batch_log)"))
    if loaded_floor is not None:
        floor, received = loaded_floor
        share = float(contract["max_reject_share"])
        out.append(_expectation("ExpectTableRowCountToBeBetween", "reject_share", spec["reject_share"],
                                min_value=int(floor), max_value=int(received),
                                description=f"拒收比例 ≤ {share:.0%} Rejected rows at most {share:.0%} of the "
                                            f"{received} received (contract max_reject_share): at least "
                                            f"{floor} loaded"))
    return out
