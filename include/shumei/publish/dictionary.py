"""The published interface described once: the dbt descriptions of the objects of schema `published`.

Every object of `published` is a table of a dbt source whose schema is `published`
(dbt_project/models/published/_published__sources.yml; another source file with that schema works the
same), with a bilingual description of the object and of each column; column texts that several objects
share are doc blocks (_published__docs.md), which the candidate model uses too. `meta.kind` says table,
view or function (a function also gives `meta.signature`, e.g. `indicator_values_as_of(date)`, and its
result columns). From the dbt manifest (`shumei dbt-parse`, run by `make run` and `make test`):

- `ensure_published_schema` (ddl.py) applies the descriptions as COMMENT ON and refuses a published
  object or column that has none (`MissingDescriptionError`);
- `render_dictionary` writes docs/data_dictionary.md (`shumei data-dictionary`); a test fails when the
  committed file is stale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from shumei.dbt_support import dbt_manifest_path
from shumei.settings import REPO_ROOT

SCHEMA = "published"
KINDS = ("table", "view", "function")
DICTIONARY_PATH = REPO_ROOT / "docs" / "data_dictionary.md"
SOURCES_FILE = "dbt_project/models/published/_published__sources.yml"


class MissingDescriptionError(LookupError):
    """A published object or column has no description in the dbt project."""


@dataclass(frozen=True)
class PublishedObject:
    name: str
    kind: str                   # table, view or function
    description: str
    columns: dict[str, str]     # column -> description, in the order of the YAML
    signature: str | None = None  # functions: name(argument types), as COMMENT ON FUNCTION takes it
    dbt_model: bool = False     # built by dbt (a reader view of models/published/interface), not by ddl.py


def load_published_objects(manifest_path: Path | None = None) -> dict[str, PublishedObject]:
    """The described objects of schema `published`, by name, from the dbt manifest."""
    manifest = json.loads(Path(manifest_path or dbt_manifest_path()).read_text(encoding="utf-8"))
    objects: dict[str, PublishedObject] = {}
    for node in manifest["sources"].values():
        if node["schema"] != SCHEMA:
            continue
        name = node["identifier"] or node["name"]
        meta = node.get("meta") or {}
        kind = meta.get("kind")
        if kind not in KINDS:
            raise ValueError(f"source {node['source_name']}.{node['name']}: meta.kind must be one of {KINDS}, "
                             f"not {kind!r} ({node['original_file_path']})")
        if name in objects:
            raise ValueError(f"published object {name} is described twice ({node['original_file_path']})")
        objects[name] = PublishedObject(
            name=name, kind=kind, description=(node.get("description") or "").strip(),
            columns={c: (col.get("description") or "").strip() for c, col in node["columns"].items()},
            signature=meta.get("signature") if kind == "function" else None)
    # dbt models built into schema published (reader views defined in dbt, e.g. indicator_members):
    # their model descriptions are the same one source
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["schema"] != SCHEMA:
            continue
        name = node.get("alias") or node["name"]
        if name in objects:
            raise ValueError(f"published object {name} is described twice ({node['original_file_path']})")
        kind = "view" if node["config"].get("materialized") == "view" else "table"
        objects[name] = PublishedObject(
            name=name, kind=kind, description=(node.get("description") or "").strip(),
            columns={c: (col.get("description") or "").strip() for c, col in node["columns"].items()},
            dbt_model=True)
    return objects


def missing_descriptions(objects: dict[str, PublishedObject]) -> list[str]:
    """Objects and columns that are listed but have an empty description."""
    missing = []
    for obj in objects.values():
        if not obj.description:
            missing.append(f"{SCHEMA}.{obj.name}")
        missing += [f"{SCHEMA}.{obj.name}.{c}" for c, text in obj.columns.items() if not text]
        if obj.kind == "function" and not obj.signature:
            missing.append(f"{SCHEMA}.{obj.name} (meta.signature)")
    return missing


def require_descriptions(names: list[str]) -> None:
    if names:
        raise MissingDescriptionError(
            f"no description in the dbt project for {', '.join(names)}: describe every published object and "
            f"column in {SOURCES_FILE} (a source table of schema published) and run `make dbt-parse`")


_HEADINGS = {"table": "表 Tables", "view": "视图 Views", "function": "函数 Functions"}
_KIND_ZH = {"table": "表 table", "view": "视图 view", "function": "函数 function"}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_dictionary(objects: dict[str, PublishedObject]) -> str:
    """docs/data_dictionary.md: one table per published object, grouped by kind, in name order."""
    lines = [
        "# 数据字典 Data dictionary: schema `published`",
        "",
        "发布模式中每个表、视图和函数的说明（中英文）。本文件由 dbt 项目中的描述自动生成，请勿手工编辑。",
        "Every table, view and function of the published interface, with its columns. Generated from the dbt",
        f"descriptions (`{SOURCES_FILE}` and the doc blocks beside it), the same text the",
        "warehouse carries as comments (`\\d+` in psql, or any BI tool). Do not edit by hand: after changing a",
        "description, run `make data-dictionary`.",
        "",
    ]
    for kind in KINDS:
        group = sorted((o for o in objects.values() if o.kind == kind), key=lambda o: o.name)
        if not group:
            continue
        lines += [f"## {_HEADINGS[kind]}", ""]
        lines += [f"- [`{o.signature or o.name}`](#{o.name.replace('_', '-')})" for o in group]
        lines.append("")
        for obj in group:
            lines += [f"### {obj.name}", "", f"`{SCHEMA}.{obj.signature or obj.name}` ({_KIND_ZH[kind]})", "",
                      _cell(obj.description), ""]
            if obj.columns:
                title = "返回列 Result column" if kind == "function" else "列 Column"
                lines += [f"| {title} | 说明 Description |", "| --- | --- |"]
                lines += [f"| `{c}` | {_cell(text)} |" for c, text in obj.columns.items()]
                lines.append("")
    return "\n".join(lines)


def write_dictionary(path: Path = DICTIONARY_PATH, manifest_path: Path | None = None) -> Path:
    objects = load_published_objects(manifest_path)
    require_descriptions(missing_descriptions(objects))
    path.write_text(render_dictionary(objects), encoding="utf-8")
    return path
