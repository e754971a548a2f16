"""Publication of audited indicator values (write-audit-publish): DDL, releases, summary.

    ensure_published_schema(conn)                       views, functions, comments, grants (derived DDL)
    publish(conn, as_of_date, dag_run_id, audit_result) one release, one transaction
    latest_summary(conn) -> str                         text summary for the end of `make run`
"""

from shumei.publish.ddl import ensure_published_schema
from shumei.publish.release import PublicationRefused, PublishResult, candidate_checksum, publish
from shumei.publish.summary import latest_summary

__all__ = ["PublicationRefused", "PublishResult", "candidate_checksum", "ensure_published_schema",
           "latest_summary", "publish"]
