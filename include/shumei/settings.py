"""Settings of the pipeline, read from the environment (the make targets load the git-ignored `.env`).

Every setting has one name here; code reads `get_settings()` instead of `os.environ`, so a
newcomer finds in one place what the pipeline can be told. Nothing is read at import time.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parents[2]
# the readers' database (SHUMEI_READER_DB) and the role of its connections into the warehouse database
READER_DATABASE = "shumei_public"
FDW_USER = "shumei_fdw"
# the sizes of the simulated world (`make run SCALE=...`): one county, a city of 10x, a province of 100x
SCALES = ("county", "city", "province")


def bin_path(name: str) -> str:
    """A command installed in this virtualenv (airflow, dbt, shumei-sim)."""
    return str(Path(sys.executable).parent / name)


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def pg_url(user: str, password: str, host: str, port: int | str, database: str,
           driver: str = "postgresql") -> str:
    """A libpq/SQLAlchemy URL with the password quoted."""
    return f"{driver}://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{database}"


@dataclass(frozen=True)
class Settings:
    """The pipeline's configuration; built by get_settings() from SHUMEI_* variables, where the
    defaults are."""

    # warehouse (the pipeline's owner role); any PostgreSQL server, the embedded one by default
    wh_host: str
    wh_port: int
    wh_database: str
    wh_user: str
    wh_password: str
    # the readers' database (only `published` in it; shumei.publish.reader_db keeps it in step)
    reader_database: str
    # the statistics office's read-only role: the reports read the published interface through it
    stats_user: str
    stats_password: str
    # local state: embedded server data, Airflow home, source drop folders
    local_dir: Path
    # where the report files of each release are written (<reports_dir>/release-<N>/)
    reports_dir: Path
    # sources
    hotline_url: str
    hotline_token: str
    hotline_page_size: int
    hotline_overlap_hours: int
    hotline_max_attempts: int
    hotline_backoff_seconds: float
    hotline_timeout_seconds: float
    registry_dir: Path
    credit_dir: Path
    drop_wait_seconds: float  # how long a daily task waits for a late file drop before failing
    reference_wait_seconds: float  # how long a day of a feed waits for the day of the feeds it refers to
    # keyed hash of caller identity (never leaves the restricted raw tables in clear)
    pii_hash_key: str
    # which division list is official (dbt_project/scales/<scale>/), and the simulators' size
    scale: str

    @property
    def warehouse_url(self) -> str:
        """psycopg / libpq URL of the owner role."""
        return pg_url(self.wh_user, self.wh_password, self.wh_host, self.wh_port, self.wh_database)

    @property
    def stats_url(self) -> str:
        """psycopg / libpq URL of the statistics office's read-only role (shumei_stats), in the reader database."""
        return pg_url(self.stats_user, self.stats_password, self.wh_host, self.wh_port, self.reader_database)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    local_dir = Path(_env("SHUMEI_LOCAL_DIR", str(REPO_ROOT / ".local")))
    drops = local_dir / "drops"
    return Settings(
        wh_host=_env("SHUMEI_WH_HOST", "127.0.0.1"),
        wh_port=int(_env("SHUMEI_WH_PORT", "55432")),
        wh_database=_env("SHUMEI_WH_DB", "shumei"),
        wh_user=_env("SHUMEI_WH_USER", "shumei_owner"),
        wh_password=_env("SHUMEI_WH_PASSWORD", ""),
        reader_database=_env("SHUMEI_READER_DB", READER_DATABASE),
        stats_user=_env("SHUMEI_STATS_USER", "shumei_stats"),
        stats_password=_env("SHUMEI_STATS_PASSWORD", ""),
        local_dir=local_dir,
        reports_dir=Path(_env("SHUMEI_REPORTS_DIR", str(local_dir / "reports"))),
        hotline_url=_env("SHUMEI_HOTLINE_URL", "http://127.0.0.1:8765"),
        hotline_token=_env("SHUMEI_HOTLINE_TOKEN", ""),
        hotline_page_size=int(_env("SHUMEI_HOTLINE_PAGE_SIZE", "1000")),
        hotline_overlap_hours=int(_env("SHUMEI_HOTLINE_OVERLAP_HOURS", "2")),
        hotline_max_attempts=int(_env("SHUMEI_HOTLINE_MAX_ATTEMPTS", "8")),
        hotline_backoff_seconds=float(_env("SHUMEI_HOTLINE_BACKOFF_SECONDS", "0.5")),
        hotline_timeout_seconds=float(_env("SHUMEI_HOTLINE_TIMEOUT_SECONDS", "30")),
        drop_wait_seconds=float(_env("SHUMEI_DROP_WAIT_SECONDS", "0")),
        reference_wait_seconds=float(_env("SHUMEI_REFERENCE_WAIT_SECONDS", "1200")),
        registry_dir=Path(_env("SHUMEI_REGISTRY_DIR", str(drops / "registry"))),
        credit_dir=Path(_env("SHUMEI_CREDIT_DIR", str(drops / "credit"))),
        pii_hash_key=_env("SHUMEI_PII_HASH_KEY", ""),
        scale=_scale(_env("SHUMEI_SCALE", "county")),
    )


def _scale(value: str) -> str:
    if value not in SCALES:
        raise ValueError(f"SHUMEI_SCALE={value!r}: one of {', '.join(SCALES)}")
    return value
