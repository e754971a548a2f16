"""Superset configuration for the shumei dashboard (read by Superset through SUPERSET_CONFIG_PATH).

Everything comes from the environment, nothing secret is in this file:
- SUPERSET_SECRET_KEY: required, a generated random key (the test generates one; a county server
  keeps its own, e.g. `openssl rand -base64 42`);
- SUPERSET_METADATA_URL: Superset's own metadata database, default SQLite under SUPERSET_HOME.
No example data is loaded (`superset init` only creates roles and permissions).
"""

import os
from pathlib import Path

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
_HOME = Path(os.environ.get("SUPERSET_HOME", Path.home() / ".superset"))
SQLALCHEMY_DATABASE_URI = os.environ.get("SUPERSET_METADATA_URL", f"sqlite:///{_HOME / 'superset.db'}")

# one process, no Celery or Redis: a simple in-process cache
CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 300}
DATA_CACHE_CONFIG = CACHE_CONFIG
FILTER_STATE_CACHE_CONFIG = CACHE_CONFIG
EXPLORE_FORM_DATA_CACHE_CONFIG = CACHE_CONFIG
# Chinese first for county users; English beside it in every title
BABEL_DEFAULT_LOCALE = os.environ.get("SUPERSET_LOCALE", "zh")
LANGUAGES = {"zh": {"flag": "cn", "name": "简体中文"}, "en": {"flag": "us", "name": "English"}}
# the dashboards are read over the intranet; Talisman's CSP would also block nothing useful here
TALISMAN_ENABLED = os.environ.get("SUPERSET_TALISMAN", "false").lower() == "true"
