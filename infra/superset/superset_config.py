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
# Superset's own role (infra/postgres/setup.sh): it reaches superset_meta and no other
# database, neither the source systems nor Airflow's.
_pg_user = os.environ.get("SUPERSET_PG_USER", "civiclake_superset")
_pg_host = os.environ.get("CIVICLAKE_PG_HOST", "127.0.0.1")
_pg_port = os.environ.get("CIVICLAKE_PG_PORT", "5432")
_pg_db = os.environ.get("SUPERSET_META_DB", "superset_meta")
SQLALCHEMY_DATABASE_URI = (
    f"postgresql+psycopg2://{quote(_pg_user, safe='')}:"
    f"{quote(_required('SUPERSET_PG_PASSWORD'), safe='')}@{_pg_host}:{_pg_port}/{_pg_db}"
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
# deployment on several hosts points CIVICLAKE_SUPERSET_REDIS_URL at Redis instead). A
# cached result is only reused while the marts file it came from is unchanged: the key
# carries the file's identity (see marts_file_generation below), and publishing marts
# replaces the file by an atomic rename, so every screen sees a republished file at once, with no call
# to Superset. The key also carries the viewer's row-level-security rules (Superset
# does that itself), so one area's rows are never served to another.


def _shared_cache(name: str, timeout: timedelta, **extra) -> dict:
    """One of Superset's caches: on this host's disk by default, shared by its gunicorn
    workers; in Redis when CIVICLAKE_SUPERSET_REDIS_URL names one, so that several
    Superset hosts behind a balancer serve one cache (docs/SCALING.md)."""
    redis_url = os.environ.get("CIVICLAKE_SUPERSET_REDIS_URL")
    common = {
        "CACHE_DEFAULT_TIMEOUT": int(timeout.total_seconds()),
        "CACHE_KEY_PREFIX": f"civiclake_{name}_",
    }
    if redis_url:
        return {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url, **common}
    cache_dir = str(Path(SUPERSET_HOME) / "cache" / name)
    return {"CACHE_TYPE": "FileSystemCache", "CACHE_DIR": cache_dir, **common, **extra}


# One generation of the marts is about 57 areas' roles × 25 charts entries.
DATA_CACHE_CONFIG = _shared_cache("data", timedelta(days=1), CACHE_THRESHOLD=20000)
FILTER_STATE_CACHE_CONFIG = _shared_cache("filter_state", timedelta(days=1))
EXPLORE_FORM_DATA_CACHE_CONFIG = _shared_cache("explore_form_data", timedelta(days=1))

# --- web ------------------------------------------------------------------------
# CSRF stays on: API clients fetch /api/v1/security/csrf_token/ and send it back
# (see dashboards/superset_client.py). Bearer-token API calls work the same way.
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

# --- maps: no base map, nothing fetched from the internet ----------------------------
# Superset 6.1's deck.gl charts draw tiles only for a style starting with tile:// (or
# naming openstreetmap/osm: a deck.gl TileLayer fetching the URL) and a Mapbox style for
# mapbox:// (needs a token and api.mapbox.com); any other value draws no base map. The
# district's maps draw streets and communities as polygon layers of the reference
# geography instead, so the one base-map choice is this one, and it loads nothing.
DECKGL_BASE_MAP = [["offline://no-tiles", "无底图（离线：街道、社区边界为图层）"]]


def _load_beside(module_name: str, file_name: str):
    # superset_config.py is loaded from its path, not as a package: load the modules
    # beside it the same way.
    spec = importlib.util.spec_from_file_location(module_name, Path(__file__).resolve().parent / file_name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- access checks remembered per worker until access changes -------------------------
def _load_access_memo():
    return _load_beside("civiclake_access_memo", "access_memo.py").AccessMemo


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


# --- every table a restricted viewer's query reads is scoped first ---------------------
_area_scope = _load_beside("civiclake_area_scope", "area_scope.py")
ACCESS_FILE = ROOT / "dashboards" / "access.yaml"


def _roles_that_see_all(path: Path = ACCESS_FILE) -> frozenset[str]:
    """Superset's own roles named by ``see_all_builtin`` and the civiclake roles without an
    ``rls`` rule (district leader, analyst), from the one file that says who sees what
    (dashboards/access.yaml); every other role is restricted to an area or to nothing."""
    import yaml

    access = yaml.safe_load(path.read_text(encoding="utf-8"))
    roles = access.get("see_all_builtin", ["Admin"])
    return frozenset(roles) | {r["name"] for r in access.get("roles") or [] if not r.get("rls")}


SEE_ALL_ROLES = _roles_that_see_all()


def _viewer_role_names() -> frozenset[str]:
    """The current viewer's roles, those held through groups included; none outside a
    request or for an anonymous viewer."""
    from flask import g, has_app_context

    user = getattr(g, "user", None) if has_app_context() else None
    if user is None or getattr(user, "is_anonymous", True):
        return frozenset()
    from superset import security_manager

    return frozenset(role.name for role in security_manager.get_user_roles(user))


def viewer_sees_all() -> bool:
    return not SEE_ALL_ROLES.isdisjoint(_viewer_role_names())


def viewer_scope_signature() -> tuple:
    """What the rows a viewer may see depend on: the viewer's roles. Chart data is cached
    under it, because a query may read datasets other than the chart's own, and two roles
    with the same rule on the chart's dataset may differ on those."""
    return ("sees all",) if viewer_sees_all() else ("viewer roles", *sorted(_viewer_role_names()))


def _viewer_rules(database, schema: str, table: str) -> list[str] | None:
    """The current viewer's row-level-security predicates on a physical dataset of
    ``database`` (Superset's own rules: regular rules of the viewer's roles, base rules
    that do not spare them); None where ``schema.table`` is no physical dataset."""
    from superset import db
    from superset.connectors.sqla.models import SqlaTable

    dataset = (
        db.session.query(SqlaTable)
        .filter_by(database_id=database.id, schema=schema, table_name=table)
        .filter(SqlaTable.sql.is_(None) | (SqlaTable.sql == ""))
        .one_or_none()
    )
    if dataset is None:
        return None
    return [
        str(rule.compile(dialect=database.get_dialect(), compile_kwargs={"literal_binds": True}))
        for rule in dataset.get_sqla_row_level_filters()
    ]


def SQL_QUERY_MUTATOR(sql: str, database=None, **kwargs) -> str:  # noqa: N802 - Superset's name
    """Chart, sample, filter-value and SQL Lab queries of a viewer restricted to an area:
    every table scoped to the area before the viewer's expressions apply (area_scope.py).
    A refused query fails with a message naming what was refused; Superset answers 4xx."""
    if viewer_sees_all():
        return sql
    from superset.errors import ErrorLevel, SupersetError, SupersetErrorType
    from superset.exceptions import SupersetSecurityException
    from superset.sql.parse import SQLGLOT_DIALECTS

    try:
        dialect = SQLGLOT_DIALECTS.get(database.db_engine_spec.engine) if database is not None else None
        if dialect is None:
            raise _area_scope.AreaScopeError("query refused: the database's SQL dialect is not known")
        return _area_scope.scope_query(
            sql, lambda schema, table: _viewer_rules(database, schema, table), dialect=dialect
        )
    except _area_scope.AreaScopeError as exc:
        raise SupersetSecurityException(
            SupersetError(
                message=str(exc),
                error_type=SupersetErrorType.QUERY_SECURITY_ACCESS_ERROR,
                level=ErrorLevel.ERROR,
            )
        ) from exc


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
    # add to its cache key; its own keys (Jinja, RLS of virtual datasets) are kept, the
    # viewer's scope and the marts file are added.
    from superset.connectors.sqla.models import SqlaTable

    if getattr(SqlaTable.get_extra_cache_keys, "civiclake_marts_file", False):
        return
    supersets_own = SqlaTable.get_extra_cache_keys

    def get_extra_cache_keys(self, query_obj):
        keys = [*supersets_own(self, query_obj), viewer_scope_signature()]
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
    # /civiclake/mobile/ and /civiclake/screen/: the saved links to the viewer's level.
    app.register_blueprint(
        _load_beside("civiclake_screen_links", "screen_links.py").blueprint(_viewer_role_names)
    )
    app.before_request(_refuse_async_events_while_off)
    app.before_request(_refuse_unreadable_time_range)


def _refuse_async_events_while_off():
    """Superset answers its asynchronous-events stream with a 500 when asynchronous
    queries are off (there is no event manager to read): say so with a 404 instead."""
    from flask import jsonify, request

    if request.path.startswith("/api/v1/async_event") and not FEATURE_FLAGS.get("GLOBAL_ASYNC_QUERIES"):
        return jsonify(message="asynchronous queries are off in this deployment: there are no events"), 404
    return None


def _refuse_unreadable_time_range():
    """The legacy chart endpoint answers a time range it cannot read with a 500; it is the
    viewer's input, so answer 400 and say which value."""
    import json

    from flask import jsonify, request

    if request.path.rstrip("/") != "/superset/explore_json":
        return None
    raw = request.values.get("form_data")
    try:
        form_data = json.loads(raw) if raw else {}
    except ValueError:
        return jsonify(error="form_data is not valid JSON"), 400
    time_range = form_data.get("time_range") if isinstance(form_data, dict) else None
    if not time_range:
        return None
    from superset.utils.date_parser import get_since_until

    try:
        get_since_until(time_range)
    except Exception as exc:  # noqa: BLE001 - any failure to read it is the caller's input
        return jsonify(error=f"time_range {time_range!r} cannot be read: {exc}"), 400
    return None


# --- what one viewer may learn of the others -------------------------------------------
def _related_users_visible_to_viewer(query):
    """The owner and creator pickers (``/api/v1/<resource>/related/owners`` …) list every
    user with their e-mail; a viewer who is no administrator sees only itself there."""
    from flask import g
    from superset import security_manager

    if "Admin" in _viewer_role_names():
        return query
    return query.filter(security_manager.user_model.id == getattr(g.user, "id", None))


def _related_roles_visible_to_viewer(query):
    """Likewise the role pickers: a viewer who is no administrator sees its own roles."""
    from superset import security_manager

    names = _viewer_role_names()
    return query if "Admin" in names else query.filter(security_manager.role_model.name.in_(sorted(names)))


EXTRA_RELATED_QUERY_FILTERS = {
    "user": _related_users_visible_to_viewer,
    "role": _related_roles_visible_to_viewer,
}
