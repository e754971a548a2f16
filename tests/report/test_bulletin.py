"""Parts of the bulletin on small data: printed numbers, rankings with ties and small counts, the page font,
the charts, and the count of what changed between two releases (on the publication tests' small release).
The whole bulletin of a pipeline release is tested in tests/integration/test_bulletin.py."""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fontTools.ttLib import TTFont
from publish.conftest import _audits, audit, gx_home, release, wh  # noqa: F401  (fixtures of a small release)
from shumei.report import charts, data
from shumei.report.bulletin import (
    ReleaseChange,
    ReleaseData,
    _ranking,
    canonical_pdf,
    changes_since_previous,
    fmt,
    print_pdf,
)

MAY = date(2024, 5, 1)


def _row(code, area, value, denominator, level="town", name=None, status="final", small=False):
    return {"indicator_code": code, "name_zh": code, "decimals": 1, "area_code": area,
            "area_name_zh": name or area, "area_level": level, "period_type": "month", "period_start": MAY,
            "period_end": date(2024, 5, 31), "breakdown_type": "total", "breakdown_code": "_T",
            "numerator": None, "denominator": denominator, "value": value, "unit": "percent", "target": None,
            "deadline": None, "target_met": None, "status": status, "is_small_count": small}


@pytest.mark.parametrize(("value", "decimals", "text"), [
    (Decimal("2.25"), 1, "2.3"),       # half-up, not half-even
    (Decimal("60.0000"), 1, "60.0"),   # stored scale wider than the catalogue's decimals
    (Decimal("12947"), 0, "12,947"),
    (None, 1, "–"),
])
def test_numbers_print_at_the_catalogue_decimals_rounded_half_up(value, decimals, text):
    assert fmt(value, decimals) == text


def test_ranking_is_descending_ties_share_a_rank_small_counts_are_not_ranked():
    rows = []
    for code in ("TS_XY", "TS_JJ", "TS_MY"):
        rows += [_row(code, "341523101000", Decimal("90.0"), 40, name="晓天镇"),
                 _row(code, "341523100000", Decimal("95.5"), 80, name="城关镇", status="provisional"),
                 _row(code, "341523102000", Decimal("90.0"), 30, name="桃溪镇"),
                 _row(code, "341523103000", Decimal("80.04"), 25, name="万佛湖镇"),
                 _row(code, "341523104000", Decimal("100.0"), 3, name="千人桥镇", small=True),
                 _row(code, "341523105000", None, 0, name="百神庙镇")]
    rows.append(_row("TS_XY", "341523100001", Decimal("99.0"), 50, level="community"))  # another level
    table, bars = _ranking(ReleaseData(rows), MAY, "town")
    column = [(e["rank"], e["area"], e["v"].text, e["v"].marks) for e in (r[0] for r in table)]
    assert column == [(1, "城关镇", "95.5", ["初"]), (2, "晓天镇", "90.0", []), (2, "桃溪镇", "90.0", []),
                      (4, "万佛湖镇", "80.0", []), (None, "千人桥镇", "100.0", ["小"]),
                      (None, "百神庙镇", "–", [])]
    assert [b.small_count for b in bars["TS_XY"]] == [False, False, False, False, True, False]


def test_page_font_has_every_character_of_the_text_and_nothing_of_the_system():
    text = "舒城县“舒美红色小区”建设工作简报（第3期）响应率 95.5%"
    css = charts.font_face_css(text)
    data = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)\)", css).group(1))
    font = TTFont(io.BytesIO(data))
    assert font["name"].getDebugName(1) == charts.FONT_FAMILY
    assert {ord(c) for c in text} <= set(font.getBestCmap())
    assert len(font.getGlyphOrder()) < 300  # a subset, not the 65,535 glyphs of the face
    assert css == charts.font_face_css(text)  # no timestamp in it


def test_charts_are_svg_paths_deterministic_and_ids_unique_per_chart():
    months = [date(2024, m, 1) for m in range(1, 7)]
    first = charts.monthly_lines(months, {"响应率": [90, 91, None, 93, 94, 95]}, [False] * 5 + [True], "%", "a")
    again = charts.monthly_lines(months, {"响应率": [90, 91, None, 93, 94, 95]}, [False] * 5 + [True], "%", "a")
    other = charts.monthly_lines(months, {"响应率": [90, 91, None, 93, 94, 95]}, [False] * 5 + [True], "%", "b")
    assert first == again and first.startswith("<svg ") and "<text" not in first
    assert 'data-chart="a"' in first
    clip_ids = set(re.findall(r'<clipPath id="([^"]+)"', first))
    assert clip_ids and not clip_ids & set(re.findall(r'<clipPath id="([^"]+)"', other))


def test_a_target_panel_of_many_areas_keeps_a_small_legend():
    """A city's targets for twenty towns: grey lines under one legend entry, not twenty (seen in the
    bulletin of a city release: the legends covered the plots and the titles); a county's few areas
    keep their own colours and names."""
    months = [date(2024, m, 1) for m in range(1, 7)]

    def panel(n_areas: int) -> charts.TargetPanel:
        return charts.TargetPanel(title="物业服务覆盖率", unit_label="%", series={
            f"第{k}镇": [(m, 80.0 + k, False) for m in months] for k in range(n_areas)},
            targets=[(date(2024, 6, 30), 90.0, True, "第0镇")])

    figure = charts.target_figure([panel(3), panel(charts.MAX_NAMED_AREAS + 14)])
    few, many = (ax.get_legend() for ax in figure.axes[:2])
    assert [t.get_text() for t in few.get_texts()] == ["第0镇", "第1镇", "第2镇"]
    assert [t.get_text() for t in many.get_texts()] == [f"{charts.MAX_NAMED_AREAS + 14} 个地区 areas（见下表 see table）"]
    colours = {line.get_color() for line in figure.axes[1].get_lines() if len(line.get_xdata()) == len(months)}
    assert colours == {charts.SMALL}
    assert charts.target_progress([panel(20)]).startswith("<svg ")


@pytest.mark.integration
def test_changes_count_new_revised_updated_and_withdrawn_values(wh, release, test_env):  # noqa: F811
    def compare_with_previous(_, release_id):
        with data.connect(test_env["SHUMEI_STATS_URL"]) as conn:
            return changes_since_previous(conn, release_id)

    first = release()
    assert compare_with_previous(wh, first.release_id) == []  # the first release: nothing to compare with
    wh.execute("update published_candidate.indicator_values set value = 3.5"
               " where indicator_code = 'TS_SC_MED' and period_start = '2024-05-01'")          # revised
    wh.execute("update published_candidate.indicator_values set numerator = 36, value = 36"
               " where indicator_code = 'TS_SL' and period_start = '2024-06-01' and area_level = 'town'"
               " and area_code = '341523100000'")                                                # provisional
    wh.execute("update published_candidate.indicator_values set numerator = 46, value = 46"
               " where indicator_code = 'TS_SL' and period_start = '2024-06-01' and area_level = 'county'")
    wh.execute("delete from published_candidate.indicator_values"
               " where indicator_code = 'TS_SC_MED' and period_start = '2024-06-01'")           # withdrawn
    wh.execute("update published_candidate.indicator_values set is_provisional = true"
               " where indicator_code = 'TS_SL' and period_start = '2024-05-01' and area_code = '341523400000'")
    # (a final value made provisional again, as a change of the provisional rule does: a revision)
    second = release(as_of="2024-06-16", dag_run_id="run-2")
    assert compare_with_previous(wh, second.release_id) == [ReleaseChange("TS_SC_MED", "revised", 1, "修订原因：未能归因 1"),
                                                            ReleaseChange("TS_SC_MED", "withdrawn", 1),
                                                            ReleaseChange("TS_SL", "revised", 1, "修订原因：未能归因 1"),
                                                            ReleaseChange("TS_SL", "updated", 2)]


def test_pdf_does_not_depend_on_the_order_of_blinks_node_ids(tmp_path):
    """Blink numbers the tagged PDF's structure elements by its DOM node ids, whose order can differ
    between two prints of the same page (one in twelve of the pipeline's bulletin: the CI failure of
    2026-12-01). A print whose ids come in another order gives the same bytes once made canonical."""
    rows = "".join(f"<tr><th>第{i}行</th><td>{i}</td></tr>" for i in range(6))
    html = tmp_path / "t.html"
    html.write_text(f"<html lang='zh'><body><table><tr><th>甲</th><th>乙</th></tr>{rows}</table></body></html>",
                    encoding="utf-8")
    printed = datetime(2024, 7, 1, tzinfo=UTC)
    pdf = tmp_path / "t.pdf"
    print_pdf(html, pdf, printed)
    content = pdf.read_bytes()
    ids = sorted(set(re.findall(rb"\(node(\d{8})\)", content)))
    assert len(ids) >= 4
    assert [int(i) for i in ids] == list(range(1, len(ids) + 1))
    # the same print as Blink might have numbered it: other ids in another order, the /IDTree sorted by id
    other = {old: b"%08d" % (90000000 - 7 * n) for n, old in enumerate(ids)}
    permuted = re.sub(rb"\(node(\d{8})\)", lambda m: b"(node%s)" % other[m.group(1)], content)
    names = re.search(rb"/Names \[((?:\(node\d{8}\) \d+ 0 R ?)+)\]", permuted)
    entries = sorted(re.findall(rb"\(node\d{8}\) \d+ 0 R", names.group(1)))
    permuted = permuted[:names.start(1)] + b" ".join(entries) + permuted[names.end(1):]
    assert permuted != content and len(permuted) == len(content)
    assert canonical_pdf(permuted, printed) == content
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "第5行" in text


@pytest.mark.parametrize(("outputs", "prints", "kept"), [
    ("AA", 2, "A"),       # the usual case: the first two prints agree
    ("ABA", 3, "A"),      # one print laid out otherwise (Blink: a glyph half a pixel off)
    ("ABCB", 4, "B"),
    ("ABCD", 4, "A"),     # none agree: the first, with a warning
])
def test_the_page_is_printed_until_two_prints_agree(outputs, prints, kept, tmp_path, monkeypatch, caplog):
    """print_pdf against a stand-in for chromium on PATH that prints the next of `outputs` each call."""
    bin_dir, count = tmp_path / "bin", tmp_path / "count"
    bin_dir.mkdir()
    fake = bin_dir / "chromium"
    fake.write_text(f"""#!{sys.executable}
import sys, pathlib
count = pathlib.Path({str(count)!r})
n = int(count.read_text()) if count.exists() else 0
count.write_text(str(n + 1))
out = next(a for a in sys.argv if a.startswith("--print-to-pdf=")).split("=", 1)[1]
pathlib.Path(out).write_bytes(b"%PDF-1.4 " + {outputs!r}[n].encode())
""")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    (html := tmp_path / "t.html").write_text("<p>x</p>")
    assert print_pdf(html, tmp_path / "t.pdf", datetime(2024, 7, 1, tzinfo=UTC)) == prints
    assert (tmp_path / "t.pdf").read_bytes() == b"%PDF-1.4 " + kept.encode()
    assert int(count.read_text()) == prints
    assert ("may not be reproducible" in caplog.text) == (outputs == "ABCD")
