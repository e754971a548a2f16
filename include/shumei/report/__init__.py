"""The statistics office's deliverables of each release, from the published interface alone.

    produce_reports(release_id, reader_url=, owner_url=) -> ReportArtifacts   produce.py
    release_changes(conn, release_id) -> ReleaseChanges                       notes.py (the comparison)
    notes_markdown(changes, catalog, areas) -> str                            notes.py
    build_workbook / write_workbook                                           workbook.py
    data.connect(reader_url), data.release(...), ...                          data.py (reader queries)

The bulletin (HTML/PDF with charts) is `shumei.report.bulletin.render_bulletin(release_id,
reader_url, out_dir)`; produce_reports calls it when it is installed.
"""

from shumei.report.errors import ReportError
from shumei.report.notes import ReleaseChanges, notes_markdown, release_changes
from shumei.report.produce import ReportArtifacts, locations_summary, produce_reports

__all__ = ["ReleaseChanges", "ReportArtifacts", "ReportError", "locations_summary", "notes_markdown",
           "produce_reports", "release_changes"]
