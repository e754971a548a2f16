"""The bulletin of the first release (issue 13), rendered through the statistics office's reader role and
looked at as a reader would: the HTML opened in headless Chromium with the network off (no request
leaves the machine), every chart drawn, Chinese text drawn from the page's own font (not boxes), the
PDF's fonts embedded and its text equal to the Chinese source, its pages rendered to PNG, and every
number equal to the published value.
"""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import pytest
from fontTools.ttLib import TTFont
from offline_browser import RequestRecorder, open_page, request_target
from PIL import Image, ImageChops
from shumei.report.bulletin import TITLE, render_bulletin

pytestmark = pytest.mark.integration

CHARTS = ("targets", "complaints_received", "complaint_rates", "ranking_towns", "ranking_communities",
          "credit_shares", "credit_scores_towns", "warnings_by_rule")
DEJAVU = "/usr/share/fonts/truetype/dejavu"  # Debian's fonts-dejavu-core, a dependency of chromium
HEADINGS = ("本期要点", "一、目标任务进度", "二、投诉办理情况", "三、乡镇和社区“三率”排名", "四、物业服务企业信用评级",
            "五、预警触发情况", "六、与上一版本相比的变化")


@pytest.fixture(scope="module")
def bulletin(first_release, test_env, tmp_path_factory) -> dict[str, Path]:
    return render_bulletin(1, test_env["SHUMEI_STATS_URL"], tmp_path_factory.mktemp("bulletin"))


class _Text(HTMLParser):
    """The visible text of a page (not style, not SVG)."""

    def __init__(self):
        super().__init__()
        self.skip, self.parts = 0, []

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("style", "svg", "title")

    def handle_endtag(self, tag):
        self.skip -= tag in ("style", "svg", "title")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def _visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "".join(parser.parts)


def _cjk(text: str) -> set[str]:
    return {c for c in text if "\u3400" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef" or "\u3000" <= c <= "\u303f"}


def test_html_opens_with_no_request_leaving_the_machine(bulletin, tmp_path):
    """Every request of Chromium goes to a local recording proxy (in production: a closed port), so
    nothing leaves; the page adds no request to those Chromium makes for an empty page."""
    html = bulletin["html"].read_text(encoding="utf-8")
    # nothing in the page points anywhere but itself (fonts and images are data: URLs, charts inline)
    links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", html)
    assert links and all(link.startswith(("#", "data:")) for link in links), {
        link for link in links if not link.startswith(("#", "data:"))}
    assert re.findall(r"url\((?!data:|#)", html) == []
    recorder = RequestRecorder()
    proxy = f"127.0.0.1:{recorder.port}"
    try:
        # what Chromium itself tries on start, for an empty page (its component updater, accounts.google.com)
        blank = tmp_path / "blank.html"
        blank.write_text("<html><body></body></html>")
        open_page(blank, tmp_path / "blank.png", proxy=proxy, height=200)
        own = {request_target(r) for r in recorder.requests}
        recorder.requests.clear()
        open_page(bulletin["html"], tmp_path / "page.png", proxy=proxy)
        of_page = [r for r in recorder.requests if request_target(r) not in own]
        recorder.requests.clear()
        # the recorder sees a page's request (so the check above can fail)
        control = tmp_path / "control.html"
        control.write_text('<html><body><img src="http://bulletin.invalid/x.png">'
                           '<link rel="stylesheet" href="https://cdn.invalid/x.css"></body></html>')
        open_page(control, tmp_path / "control.png", proxy=proxy, height=200)
    finally:
        recorder.close()
    assert of_page == []
    assert {"bulletin.invalid", "cdn.invalid"} <= {request_target(r)[1] for r in recorder.requests}, recorder.requests


def test_every_chart_is_drawn(bulletin):
    html = bulletin["html"].read_text(encoding="utf-8")
    for name in CHARTS:
        inline = re.search(rf'<figure class="chart" id="chart-{name}">\s*(<svg.*?</svg>)', html, re.S)
        assert inline, f"chart {name} missing from the page"
        svg = inline.group(1)
        assert len(re.findall(r"<path ", svg)) > 20, f"chart {name} is empty"
        assert "<text" not in svg  # text drawn as paths: no font needed to show a chart
        assert svg in bulletin[f"chart:{name}"].read_text(encoding="utf-8")
    # the first release has no previous one: no change chart, and the page says so
    assert "chart:changes" not in bulletin and "本期为首次发布，无上一版本可比较" in html


def test_chinese_text_is_drawn_from_the_pages_own_font(bulletin, tmp_path):
    """With no CJK system font, the page looks exactly as with all of them: its text uses the embedded
    font; and the same page without its font and no CJK system font is different (boxes)."""
    html = bulletin["html"].read_text(encoding="utf-8")
    font_data = re.search(r"url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)", html).group(1)
    cmap = TTFont(io.BytesIO(base64.b64decode(font_data))).getBestCmap()
    text = _visible_text(html)
    assert TITLE in text
    missing = {c for c in text if c.strip() and ord(c) not in cmap}
    assert missing == set(), f"characters without a glyph in the embedded font: {sorted(missing)}"

    def fontconfig(name: str, font_dir: str) -> dict:
        # the same fontconfig settings (so the same rendering), with all the system's fonts or with
        # Latin ones only (DejaVu: no CJK glyph at all)
        conf = tmp_path / f"{name}.conf"
        conf.write_text(f'<?xml version="1.0"?><fontconfig><dir>{font_dir}</dir>'
                        f'<cachedir>{tmp_path / name}-cache</cachedir></fontconfig>')
        return {**os.environ, "FONTCONFIG_FILE": str(conf)}

    latin_only = fontconfig("latin", DEJAVU)
    open_page(bulletin["html"], tmp_path / "system.png", env=fontconfig("system", "/usr/share/fonts"))
    open_page(bulletin["html"], tmp_path / "latin.png", env=latin_only)
    fontless = tmp_path / "fontless.html"
    fontless.write_text(re.sub(r"@font-face \{.*?\}", "", html, count=1, flags=re.S), encoding="utf-8")
    open_page(fontless, tmp_path / "fontless.png", env=latin_only)
    system, own, none = (Image.open(tmp_path / f"{n}.png").convert("RGB") for n in ("system", "latin", "fontless"))
    assert ImageChops.difference(system, own).getbbox() is None
    assert ImageChops.difference(system, none).getbbox() is not None


def test_pdf_embeds_its_fonts_and_its_text_is_the_chinese_source(bulletin, tmp_path):
    fonts = subprocess.run(["pdffonts", str(bulletin["pdf"])], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows, fonts
    for row in rows:  # only the page's own font, as an embedded TrueType subset (charts have no text)
        emb, sub, uni = row.split()[-5:-2]
        assert (emb, sub, uni) == ("yes", "yes", "yes"), row
        assert "+NotoSansCJKsc-Regular" in row and "CID TrueType" in row, row
    pdf_text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(bulletin["pdf"]), "-"],
                              capture_output=True, text=True, check=True).stdout
    flat = re.sub(r"\s+", "", pdf_text)
    for heading in (TITLE, *HEADINGS):
        assert heading in flat, heading
    assert "\ufffd" not in pdf_text and not re.search(r"[\ue000-\uf8ff]", pdf_text)
    html_text = _visible_text(bulletin["html"].read_text(encoding="utf-8"))
    assert _cjk(pdf_text) == _cjk(html_text)


def test_pdf_pages_render_to_png(bulletin, tmp_path):
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(
        ["pdfinfo", str(bulletin["pdf"])], capture_output=True, text=True, check=True).stdout).group(1))
    assert "A4" in subprocess.run(["pdfinfo", str(bulletin["pdf"])], capture_output=True, text=True).stdout
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(bulletin["pdf"]), str(tmp_path / "page")], check=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == pages >= 5
    for png in pngs:
        inked = sum(Image.open(png).convert("L").histogram()[:200])
        assert inked > 100, f"{png.name} is blank"


def test_each_target_row_reads_in_chinese_with_its_figure(bulletin):
    """The targets table: every 性质 a Chinese label, a baseline (基数) its figure with no comparator (the
    province's bulletin of 2026-12-04 printed "baseline" and "None 93.6%")."""
    html = bulletin["html"].read_text(encoding="utf-8")
    rows = re.findall(r'<tr data-target="[^"]*"><td>[^<]*</td><td>[^<]*</td><td>[^<]*</td><td>([^<]*)</td>\s*'
                      r'<td class="n">([^<]*)</td>', html)
    assert rows, "no target rows"
    assert {kind for kind, _ in rows} <= {"硬性", "力争", "基本达标", "常态要求", "节点", "基数"}
    assert "基数" in {kind for kind, _ in rows}
    assert all("None" not in target and re.search(r"\d", target) for _, target in rows), rows


def test_numbers_equal_the_published_values(bulletin, test_env):
    html = bulletin["html"].read_text(encoding="utf-8")
    cells = re.findall(r'<span class="num" data-code="([^"]+)" data-area="([^"]+)" data-period-type="([^"]+)"'
                       r' data-period="([^"]+)" data-breakdown="([^"]+)">([^<]+)</span>', html)
    assert len(cells) > 50
    with psycopg.connect(test_env["SHUMEI_STATS_URL"]) as conn:
        published = {
            (code, area, ptype, str(start), bc): (value, decimals)
            for code, area, ptype, start, bc, value, decimals in conn.execute(
                """select v.indicator_code, v.area_code, v.period_type, v.period_start, v.breakdown_code, v.value,
                          c.decimals
                   from published.indicator_values_in_release(1) v
                   join published.indicator_catalog c using (indicator_code)""").fetchall()}
    for code, area, ptype, start, bc, text in cells:
        value, decimals = published[(code, area, ptype, start, bc)]
        # the official figure, rounded half-up (四舍五入) at the catalogue's decimals
        expected = Decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
        assert text == f"{expected:,}", (code, area, ptype, start, bc)


def test_same_release_gives_identical_files(bulletin, test_env, tmp_path):
    again = render_bulletin(1, test_env["SHUMEI_STATS_URL"], tmp_path)
    assert set(again) == set(bulletin)
    for name, path in bulletin.items():
        assert again[name].read_bytes() == path.read_bytes(), name
