"""Produce the statistics office's files of one release and record their checksums.

    produce_reports(release_id, reader_url=..., owner_url=...) -> ReportArtifacts

Writes into `<reports_dir>/release-<N>/` (SHUMEI_REPORTS_DIR, default `.local/reports`):

- `shumei_release_<N>.xlsx`   the workbook in statistical-report layout (workbook.py)
- `release_notes_<N>.md`      the release notes (notes.py)
- the bulletin's files, when `shumei.report.bulletin.render_bulletin` is installed
- `SHA256SUMS`                the checksums of all of them (`sha256sum -c SHA256SUMS` verifies)

Everything is read through the reader URL (the published interface only). With `owner_url`, the
checksums are recorded in `published.release_log.artifacts` of the release. Producing the files
again for the same release gives the same bytes (while the catalogue and names are unchanged).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from shumei.report import data
from shumei.report.bulletin import render_bulletin
from shumei.report.notes import notes_markdown, release_changes
from shumei.report.workbook import write_workbook
from shumei.settings import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportArtifacts:
    release_id: int
    directory: Path
    workbook: Path
    notes: Path
    bulletin: list[Path] = field(default_factory=list)
    checksums: dict[str, dict] = field(default_factory=dict)   # file name -> {"sha256", "bytes"}
    recorded_before: dict[str, dict] | None = None              # what release_log held before

    @property
    def same_as_recorded(self) -> bool | None:
        """True when the files equal those recorded for the release before (None: none recorded)."""
        return None if not self.recorded_before else self.recorded_before == self.checksums

    def summary(self) -> str:
        lines = [f"report of release {self.release_id} in {self.directory}",
                 f"  workbook (Excel 统计报表): {self.workbook}", f"  release notes (发布说明): {self.notes}"]
        lines += [f"  bulletin (公报): {p}" for p in self.bulletin] or ["  bulletin (公报): not installed"]
        if self.same_as_recorded is False:
            lines.append("  NOTE: the files differ from those recorded for this release (catalogue or names changed since)")
        return "\n".join(lines)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def produce_reports(release_id: int, *, reader_url: str, owner_url: str | None = None,
                    out_dir: Path | None = None) -> ReportArtifacts:
    directory = out_dir or get_settings().reports_dir / f"release-{release_id}"
    directory.mkdir(parents=True, exist_ok=True)
    with data.connect(reader_url) as conn:
        changes = release_changes(conn, release_id)
        workbook = write_workbook(conn, release_id, changes, directory / f"shumei_release_{release_id}.xlsx")
        notes = directory / f"release_notes_{release_id}.md"
        notes.write_text(notes_markdown(changes, data.catalog(conn), data.areas(conn, changes.release.as_of_date)),
                         encoding="utf-8")
        recorded = conn.execute("select to_jsonb(r)->'artifacts' as a from published.release_log r"
                                " where release_id = %s", (release_id,)).fetchone()["a"] or {}
    bulletin = sorted(render_bulletin(release_id, reader_url, directory).values())
    files = [workbook, notes, *bulletin]
    checksums = {p.relative_to(directory).as_posix(): {"sha256": sha256_of(p), "bytes": p.stat().st_size}
                 for p in sorted(files)}
    (directory / "SHA256SUMS").write_text("".join(f"{c['sha256']}  {name}\n" for name, c in checksums.items()),
                                          encoding="utf-8")
    if owner_url:
        with psycopg.connect(owner_url, autocommit=True) as owner:
            owner.execute("update published.release_log set artifacts = %s where release_id = %s",
                          (psycopg.types.json.Jsonb(checksums), release_id))
    artifacts = ReportArtifacts(release_id, directory, workbook, notes, bulletin, checksums, recorded or None)
    log.info("SHUMEI SUMMARY %s", artifacts.summary().replace("\n", "; "))
    return artifacts


def locations_summary(conn: psycopg.Connection, reports_dir: Path) -> str:
    """Where the files of the current release are (the end of `make run`)."""
    row = conn.execute("select release_id, artifacts from published.release_log where status = 'published'"
                       " order by release_id desc limit 1").fetchone()
    if row is None:
        return "报表 Reports: no release yet"
    release_id, artifacts = row
    directory = reports_dir / f"release-{release_id}"
    if not artifacts:
        return f"报表 Reports of release {release_id}: not produced yet (shumei report --release {release_id})"
    lines = [f"报表 Reports of release {release_id} (统计局 statistics office) in {directory}:"]
    for name in artifacts:
        kind = ("workbook 工作簿" if name.endswith(".xlsx") else "release notes 发布说明" if name.startswith("release_notes")
                else "bulletin 公报")
        lines.append(f"  {kind:<24} {directory / name}")
    return "\n".join(lines)
