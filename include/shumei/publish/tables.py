"""The tables of `published` that are versioned by release, declared once.

Each is stored like the indicator values (ALFRED real-time periods): a row per key and version, with
`valid_from_release` and `valid_to_release` (exclusive; null = current). `release.publish` versions
every table listed in VERSIONED_TABLES with one code path (the diff against the current rows);
`ddl.ensure_published_schema` creates the disclosure tables, their indexes and their
`<name>_in_release(bigint)` / `<name>_as_of(date)` functions from the same declarations.

The disclosure tables (DOMAIN §8: credit of legal persons, compound statuses, work orders as
structured fields only) come from dbt models of the same name in `published_candidate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class VersionedTable:
    """A published table whose rows are versioned by release.

    `columns` are the published columns of a version in order (key included) with their SQL types;
    a change of any `compared` column (default: every column that is not the key) closes the current
    row and inserts a new version. `reader_indexes` are extra (name, column list) indexes for the usual
    reader queries; the key with `valid_from_release` is always indexed.
    """

    name: str
    row_id: str
    key: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]
    compared: tuple[str, ...] = ()
    reader_indexes: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def candidate(self) -> str:
        return f"published_candidate.{self.name}"

    @property
    def table(self) -> str:
        return f"published.{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)

    @property
    def compared_columns(self) -> tuple[str, ...]:
        return self.compared or tuple(c for c in self.column_names if c not in self.key)


INDICATOR_VALUES = VersionedTable(
    name="indicator_values",
    row_id="value_id",
    key=("indicator_code", "area_code", "period_type", "period_start", "breakdown_type", "breakdown_code"),
    # the storage DDL of indicator_values is a numbered migration (shumei/migrations/0003_published_storage.sql)
    columns=(("indicator_code", "text"), ("area_code", "text"), ("area_level", "text"), ("period_type", "text"),
             ("period_start", "date"), ("period_end", "date"), ("breakdown_type", "text"),
             ("breakdown_code", "text"), ("numerator", "numeric"), ("denominator", "numeric"),
             ("value", "numeric"), ("unit", "text"), ("target", "numeric"), ("deadline", "date"),
             ("target_met", "boolean")),
    compared=("area_level", "period_end", "numerator", "denominator", "value", "unit", "target", "deadline",
              "target_met"),
)

ENTERPRISE_CREDIT_LIST = VersionedTable(
    name="enterprise_credit_list",
    row_id="credit_row_id",
    key=("enterprise_uscc", "month_end_date"),
    columns=(("enterprise_uscc", "text"), ("month_end_date", "date"), ("enterprise_name", "text"),
             ("credit_score", "numeric"), ("credit_grade", "text"), ("score_grade", "text"),
             ("has_veto", "boolean"), ("scheme_version", "text"), ("good_points", "numeric"),
             ("bad_points", "numeric"), ("valid_records", "integer"), ("good_records", "integer"),
             ("bad_records", "integer"), ("records_by_kind", "text"), ("previous_credit_grade", "text"),
             ("served_town_codes", "text"), ("served_compounds", "integer"), ("is_serving_county", "boolean"),
             ("is_provisional", "boolean")),
    # C-rated enterprises of a month
    reader_indexes=(("month_grade", "month_end_date, credit_grade"),),
)

COMPOUND_STATUS_LIST = VersionedTable(
    name="compound_status_list",
    row_id="compound_row_id",
    key=("compound_id", "month_end_date"),
    columns=(("compound_id", "text"), ("month_end_date", "date"), ("compound_name", "text"),
             ("community_code", "text"), ("town_code", "text"), ("is_urban_residential", "boolean"),
             ("service_mode_code", "text"), ("has_property_service", "boolean"), ("enterprise_uscc", "text"),
             ("enterprise_name", "text"), ("has_owners_committee", "boolean"), ("committee_type_code", "text"),
             ("is_committee_party_share_met", "boolean"), ("has_party_branch", "boolean"),
             ("has_party_work_group", "boolean"), ("party_branch_type", "text"), ("is_alliance_covered", "boolean"),
             ("is_city_demonstration", "boolean"), ("is_provisional", "boolean")),
    # a town's compound list for a month
    reader_indexes=(("town_month", "town_code, month_end_date"),),
)

WORK_ORDERS = VersionedTable(
    name="work_orders",
    row_id="work_order_row_id",
    key=("work_order_id",),
    columns=(("work_order_id", "text"), ("compound_id", "text"), ("compound_name", "text"),
             ("community_code", "text"), ("town_code", "text"), ("channel", "text"), ("request_type_code", "text"),
             ("category_code", "text"), ("category_name_zh", "text"), ("category_name_en", "text"),
             ("urgency_code", "text"), ("received_at", "timestamptz"), ("received_date", "date"),
             ("dispatched_at", "timestamptz"), ("closed_at", "timestamptz"), ("due_at", "timestamptz"),
             ("due_source", "text"), ("updated_at", "timestamptz"), ("status_code", "text"),
             ("open311_status", "text"), ("highest_escalation_level", "integer"), ("is_counted", "boolean"),
             ("is_closed_on_time", "boolean")),
    # a town's orders of a period
    reader_indexes=(("town_received", "town_code, received_date"),),
)

DISCLOSURE_TABLES = (ENTERPRISE_CREDIT_LIST, COMPOUND_STATUS_LIST, WORK_ORDERS)
VERSIONED_TABLES = (INDICATOR_VALUES, *DISCLOSURE_TABLES)
