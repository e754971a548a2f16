"""Comments and data dictionary from one source: the dbt descriptions of the published objects."""

from __future__ import annotations

import json

import pytest
from shumei.publish import ensure_published_schema
from shumei.publish.dictionary import (
    DICTIONARY_PATH,
    MissingDescriptionError,
    load_published_objects,
    render_dictionary,
)


def test_committed_data_dictionary_is_current(dbt_manifest):
    expected = render_dictionary(load_published_objects(dbt_manifest))
    assert DICTIONARY_PATH.read_text(encoding="utf-8") == expected, (
        "docs/data_dictionary.md is stale: run `make data-dictionary` and commit it")


@pytest.mark.integration
def test_every_published_object_and_column_is_described_and_commented(wh, release, dbt_manifest):
    release()
    objects = load_published_objects(dbt_manifest)
    live = wh.execute("""
        select c.relname, case c.relkind when 'v' then 'view' else 'table' end, a.attname,
               obj_description(c.oid, 'pg_class'), col_description(c.oid, a.attnum)
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname = 'published' and c.relkind in ('r', 'v', 'm')""").fetchall()
    assert live
    for relation, kind, column, relation_comment, column_comment in live:
        obj = objects.get(relation)
        assert obj is not None and obj.kind == kind, f"published.{relation} ({kind}) is not described"
        assert obj.columns.get(column), f"published.{relation}.{column} has no description"
        assert (relation_comment, column_comment) == (obj.description, obj.columns[column])
    functions = dict(wh.execute("""
        select p.proname || '(' || oidvectortypes(p.proargtypes) || ')', obj_description(p.oid, 'pg_proc')
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'published'""").fetchall())
    described = {o.signature: o.description for o in objects.values() if o.kind == "function"}
    assert functions == described
    # nothing described that is not published: the dictionary lists only what readers find (the dbt
    # views of models/published/interface exist once dbt has built them, which this warehouse has not)
    live_columns = {(r, c) for r, _, c, _, _ in live}
    described_columns = {(o.name, c) for o in objects.values() if o.kind != "function" and not o.dbt_model
                         for c in o.columns}
    assert described_columns == live_columns


@pytest.mark.integration
@pytest.mark.parametrize("gap", ["column", "object"])
def test_an_undescribed_published_column_or_object_is_refused(wh, release, dbt_manifest, tmp_path, gap):
    release()
    manifest = json.loads(dbt_manifest.read_text(encoding="utf-8"))
    if gap == "column":
        node = next(n for n in manifest["sources"].values() if n["schema"] == "published" and n["name"] == "dim_area")
        node["columns"]["area_name_en"]["description"] = ""
        expected = "published.dim_area.area_name_en"
    else:
        wh.execute("create table published.qa_undescribed (i int)")
        expected = "published.qa_undescribed"
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    comment = "select col_description('published.dim_area'::regclass, 3)"
    before = wh.execute(comment).fetchone()[0]
    with pytest.raises(MissingDescriptionError, match=expected.replace(".", r"\.")):
        ensure_published_schema(wh, manifest_path=path)
    assert wh.execute(comment).fetchone()[0] == before  # nothing applied
