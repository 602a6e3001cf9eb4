"""Superset configuration for civiclake (loaded through SUPERSET_CONFIG_PATH).

Everything secret comes from the environment (``var/secrets.env``, written by
``infra/secrets.sh``, or the deployment's own environment); nothing secret has a
default here, and Superset refuses to start when one is missing.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import logging
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise RuntimeError(
            f"civiclake superset_config: environment variable {name} is not set. "
            "Run `bash infra/secrets.sh` and `source var/secrets.env` (or set it in the "
            "deployment environment) before starting Superset."
        )
    return value


# --- secrets ------------------------------------------------------------------
SECRET_KEY = _required("SUPERSET_SECRET_KEY")
# Embedded dashboards sign guest tokens with this; derived from SECRET_KEY unless
# the deployment sets its own (Superset's built-in default is a public string).
GUEST_TOKEN_JWT_SECRET = (
    os.environ.get("SUPERSET_GUEST_TOKEN_SECRET")
    or hmac.new(SECRET_KEY.encode(), b"civiclake-guest-token", hashlib.sha256).hexdigest()
)

# --- metadata database: PostgreSQL superset_meta --------------------------------
_pg_user = os.environ.get("CIVICLAKE_PG_USER", "civiclake")
_pg_host = os.environ.get("CIVICLAKE_PG_HOST", "127.0.0.1")
_pg_port = os.environ.get("CIVICLAKE_PG_PORT", "5432")
_pg_db = os.environ.get("SUPERSET_META_DB", "superset_meta")
SQLALCHEMY_DATABASE_URI = (
    f"postgresql+psycopg2://{quote(_pg_user, safe='')}:"
    f"{quote(_required('CIVICLAKE_PG_PASSWORD'), safe='')}@{_pg_host}:{_pg_port}/{_pg_db}"
)
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5}

# --- runtime state under var/superset ------------------------------------------
SUPERSET_HOME = os.environ.get("SUPERSET_HOME", str(ROOT / "var" / "superset"))
DATA_DIR = SUPERSET_HOME
UPLOAD_FOLDER = str(Path(SUPERSET_HOME) / "uploads") + "/"

# --- language: Chinese first, English available --------------------------------
BABEL_DEFAULT_LOCALE = "zh"
LANGUAGES = {
    "zh": {"flag": "cn", "name": "简体中文"},
    "en": {"flag": "us", "name": "English"},
}

# --- features -------------------------------------------------------------------
# Row-level security is always on in Superset 6 (no flag). DASHBOARD_RBAC lets a
# dashboard be limited to roles (1+6+N screens); EMBEDDED_SUPERSET serves the
# leaders' mobile view through guest tokens later.
FEATURE_FLAGS = {
    "DASHBOARD_RBAC": True,
    "EMBEDDED_SUPERSET": True,
    # RLS also in SQL Lab, should a street/community role ever get SQL Lab access.
    "RLS_IN_SQLLAB": True,
    "ALERT_REPORTS": False,
    "THUMBNAILS": False,
}

# --- caches ---------------------------------------------------------------------
# No general cache: Superset keeps whole GET answers of its legacy chart endpoint
# (/superset/explore_json/, which the deck.gl maps use) in this cache, keyed by the URL
# alone and served before any access check, so one viewer's rows would reach another
# viewer asking the same URL, past row-level security.
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
# Chart data is cached on disk, shared by every gunicorn worker of this host (a
# deployment on several hosts points this at Redis instead). A cached result is only
# reused while the marts file it came from is unchanged: the key carries the file's
# identity (see marts_file_generation below), and publishing marts replaces the file
# by an atomic rename, so every screen sees a republished file at once, with no call
# to Superset. The key also carries the viewer's row-level-security rules (Superset
# does that itself), so one area's rows are never served to another.
DATA_CACHE_CONFIG = {
    "CACHE_TYPE": "FileSystemCache",
    "CACHE_DIR": str(Path(SUPERSET_HOME) / "cache" / "data"),
    "CACHE_DEFAULT_TIMEOUT": int(timedelta(days=1).total_seconds()),
    # One generation of the marts is about 57 areas' roles × 25 charts entries.
    "CACHE_THRESHOLD": 20000,
    "CACHE_KEY_PREFIX": "civiclake_data_",
}
FILTER_STATE_CACHE_CONFIG = {
    "CACHE_TYPE": "FileSystemCache",
    "CACHE_DIR": str(Path(SUPERSET_HOME) / "cache" / "filter_state"),
    "CACHE_DEFAULT_TIMEOUT": int(timedelta(days=1).total_seconds()),
}
EXPLORE_FORM_DATA_CACHE_CONFIG = {
    "CACHE_TYPE": "FileSystemCache",
    "CACHE_DIR": str(Path(SUPERSET_HOME) / "cache" / "explore_form_data"),
    "CACHE_DEFAULT_TIMEOUT": int(timedelta(days=1).total_seconds()),
}

# --- web ------------------------------------------------------------------------
# CSRF stays on: API clients fetch /api/v1/security/csrf_token/ and send it back
# (see dashboards/importer.py). Bearer-token API calls work the same way.
WTF_CSRF_ENABLED = True
SUPERSET_WEBSERVER_TIMEOUT = 120
ROW_LIMIT = 50000
# Behind a reverse proxy in production set CIVICLAKE_SUPERSET_PROXY_FIX=1.
ENABLE_PROXY_FIX = os.environ.get("CIVICLAKE_SUPERSET_PROXY_FIX") == "1"

# --- numbers and dates the Chinese way --------------------------------------------
# d3 locale zh-CN: thousands separated by commas in groups of three, the yuan sign
# before amounts (format "$,.2f" renders ¥1,234.50), percentages as d3 writes them.
D3_FORMAT = {"decimal": ".", "thousands": ",", "grouping": [3], "currency": ["¥", ""]}
D3_TIME_FORMAT = {
    "dateTime": "%Y年%-m月%-d日 %A %X",
    "date": "%Y/%-m/%-d",
    "time": "%H:%M:%S",
    "periods": ["上午", "下午"],
    "days": ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
    "shortDays": ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
    "months": [
        f"{m}月" for m in ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二")
    ],
    "shortMonths": [f"{m}月" for m in range(1, 13)],
}
CURRENCIES = ["CNY", "USD", "EUR", "HKD"]


# --- access checks remembered per worker until access changes -------------------------
def _load_access_memo():
    # superset_config.py is loaded from its path, not as a package: load the module
    # beside it the same way.
    spec = importlib.util.spec_from_file_location(
        "civiclake_access_memo", Path(__file__).resolve().parent / "access_memo.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.AccessMemo


def _civiclake_security_manager():
    from flask import g, has_app_context
    from sqlalchemy import text
    from superset.security import SupersetSecurityManager

    memo = _load_access_memo()()
    log = logging.getLogger("civiclake.access_memo")

    class CivicLakeSecurityManager(SupersetSecurityManager):
        """Superset's security manager, answering its repeated permission questions from
        a memo that is valid while ``civiclake_access_generation`` (moved forward by
        triggers on every change to users' roles and roles' permissions, see
        access_generation.sql) stays the same. Row-level-security rules are not
        remembered: Superset reads them afresh for every query."""

        _counter_present: bool | None = None

        def access_generation(self) -> int | None:
            """The counter as this request first read it; None where there is none
            (no app context, another metadata database, set-up not run)."""
            if not has_app_context():
                return None
            if CivicLakeSecurityManager._counter_present is None:
                present = self.session.get_bind().dialect.name == "postgresql" and (
                    self.session.execute(
                        text("select to_regclass('civiclake_access_generation') is not null")
                    ).scalar()
                )
                if not present:
                    log.warning(
                        "civiclake_access_generation is missing (run infra/superset/setup.sh):"
                        " permission checks are not remembered"
                    )
                CivicLakeSecurityManager._counter_present = bool(present)
            if not CivicLakeSecurityManager._counter_present:
                return None
            if "civiclake_access_generation" not in g:
                g.civiclake_access_generation = self.session.execute(
                    text("select generation from civiclake_access_generation")
                ).scalar()
            return g.civiclake_access_generation

        def exist_permission_on_roles(self, view_name, permission_name, role_ids):
            question = ("exist", view_name, permission_name, tuple(sorted(role_ids)))
            ask = super().exist_permission_on_roles
            return memo.get(
                self.access_generation(), question, lambda: ask(view_name, permission_name, role_ids)
            )

        def is_item_public(self, permission_name, view_name):
            ask = super().is_item_public
            return memo.get(
                self.access_generation(),
                ("public", permission_name, view_name),
                lambda: ask(permission_name, view_name),
            )

        def user_view_menu_names(self, permission_name):
            ask = super().user_view_menu_names
            user = g.user
            # Only a stored user's answer depends on nothing but the tables the counter
            # watches; anonymous and embedded (guest) viewers are asked as before.
            if not isinstance(user, self.user_model) or user.id is None:
                return ask(permission_name)
            question = ("view_menus", user.id, permission_name)
            names = memo.get(self.access_generation(), question, lambda: frozenset(ask(permission_name)))
            return set(names)

    return CivicLakeSecurityManager


CUSTOM_SECURITY_MANAGER = _civiclake_security_manager()


# --- start-up hooks -------------------------------------------------------------------
def marts_file_generation(database) -> tuple | None:
    """Identity of the file a file-backed (DuckDB) database reads: path, inode, size and
    modification time. Publishing replaces the file, so the identity changes with it;
    None for server databases, whose cache entries simply expire."""
    url = database.url_object
    if not url.drivername.startswith("duckdb") or url.database in (None, "", ":memory:"):
        return None
    try:
        stat = os.stat(url.database)
    except FileNotFoundError:
        return (url.database, "absent")
    return (url.database, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _key_chart_data_by_marts_file() -> None:
    # SqlaTable.get_extra_cache_keys is Superset's documented place for a datasource to
    # add to its cache key; its own keys (Jinja, RLS of virtual datasets) are kept.
    from superset.connectors.sqla.models import SqlaTable

    if getattr(SqlaTable.get_extra_cache_keys, "civiclake_marts_file", False):
        return
    supersets_own = SqlaTable.get_extra_cache_keys

    def get_extra_cache_keys(self, query_obj):
        keys = supersets_own(self, query_obj)
        generation = marts_file_generation(self.database)
        return keys if generation is None else [*keys, generation]

    get_extra_cache_keys.civiclake_marts_file = True
    SqlaTable.get_extra_cache_keys = get_extra_cache_keys


def FLASK_APP_MUTATOR(app):  # noqa: N802 - the name Superset looks for
    import jinja2

    # infra/superset/templates overrides Superset's template hooks (head_custom_extra.html:
    # a viewport, so that phones lay the leader's dashboard out at their own width).
    ours = jinja2.FileSystemLoader(str(Path(__file__).resolve().parent / "templates"))
    app.jinja_env.loader = jinja2.ChoiceLoader([ours, app.jinja_env.loader])
    _key_chart_data_by_marts_file()
