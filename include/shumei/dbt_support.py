"""Where the dbt project and its manifest are, and how the manifest is made.

The warehouse DAG renders one Airflow task per dbt model from `target/manifest.json`
(Cosmos LoadMode.DBT_MANIFEST), so parsing the DAG file needs no dbt call, database or network.
`make run` / `make test` (and the compose stack's init) write the manifest with `dbt parse`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from shumei.settings import REPO_ROOT, bin_path


def dbt_project_dir() -> Path:
    return Path(os.environ.get("SHUMEI_DBT_PROJECT_DIR", REPO_ROOT / "dbt_project"))


def dbt_manifest_path() -> Path:
    path = dbt_project_dir() / "target" / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make dbt-parse` (dbt parse) before loading the DAGs")
    return path


def dbt_parse() -> None:
    """Writes target/manifest.json (no database connection needed)."""
    dbt = bin_path("dbt")
    subprocess.run([dbt, "parse", "--quiet", "--project-dir", str(dbt_project_dir()),
                    "--profiles-dir", str(dbt_project_dir())], check=True)


def dbt_docs() -> Path:
    """`dbt docs generate` against the warehouse (it reads the catalog from the database)."""
    dbt = bin_path("dbt")
    subprocess.run([dbt, "docs", "generate", "--project-dir", str(dbt_project_dir()),
                    "--profiles-dir", str(dbt_project_dir())], check=True)
    return dbt_project_dir() / "target" / "index.html"
