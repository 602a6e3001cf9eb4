"""Who sees what in Superset: roles, row-level security (RLS) and users, from YAML.

``dashboards/access.yaml`` names the roles (hand-written ones, plus one per street and
per community generated from the reference geography) and ``dashboards/users.yaml``
the people who hold them. :func:`apply_access` makes Superset match both, idempotently:

* every civiclake role = the base role's permissions (view dashboards and charts) +
  read access to every imported dataset; a role with ``sql_lab: true`` also gets the
  permissions of Superset's ``sql_lab`` role and access to the imported databases;
* deny by default: a "Base" RLS rule (``1 = 0``) on every imported dataset that spares
  only the roles that see everything and the roles that have their own rule there,
  so a user holding no civiclake role (or a new role nobody wrote a rule for) sees no
  rows. A dataset lacking a role's RLS column (say a street-level mart without
  ``community_code``) stays closed to that role: it gets a Base rule of its own;
* one "Regular" RLS rule per street / community role (``street_code = '…'``);
* users from users.yaml, passwords from the environment or generated once per machine
  into git-ignored ``var/superset-users.env``;
* roles and users named ``civiclake_*`` and RLS rules named ``civiclake: *`` that the
  YAML no longer names are removed.

Street and community roles never get SQL Lab: it runs whatever SQL the user writes
against the whole database, and although RLS_IN_SQLLAB rewrites queries on tables
that are datasets, DuckDB can reach the same rows by other names (table functions,
ATTACH), which no RLS rule covers.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from civiclake.geography import Geography, load_geography
from dashboards.superset_client import SupersetClient

ROOT = Path(__file__).resolve().parents[1]
ACCESS_FILE = Path(__file__).resolve().parent / "access.yaml"
USERS_FILE = Path(__file__).resolve().parent / "users.yaml"
PASSWORDS_FILE = ROOT / "var" / "superset-users.env"
SECRETS_FILE = ROOT / "var" / "secrets.env"
NAME_PREFIX = "civiclake_"  # roles and users this module owns
RLS_PREFIX = "civiclake: "  # RLS rules this module owns
DENY_RULE = f"{RLS_PREFIX}deny by default"
DENY_CLAUSE = "1 = 0"
# Geography levels a generated level may come from: level name -> Geography attribute.
GEOGRAPHY_LEVELS = {"street": "streets", "community": "communities"}
_COLUMN = re.compile(r"[a-z_][a-z0-9_]*")
_CODE = re.compile(r"[0-9A-Za-z_-]+")
_USERNAME = re.compile(r"civiclake_[a-z0-9_]+")


class AccessError(ValueError):
    """Bad access.yaml / users.yaml, or Superset lacking what they need; says where."""


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    level: str  # district, street, community, analyst … (for messages and the login list)
    rls: tuple[tuple[str, str], ...] = ()  # ((column, code), …); empty = sees all rows
    sql_lab: bool = False

    @property
    def rls_columns(self) -> frozenset[str]:
        return frozenset(col for col, _ in self.rls)

    @property
    def clause(self) -> str:
        return " AND ".join(f"{col} = '{code}'" for col, code in self.rls)


@dataclass(frozen=True)
class AccessConfig:
    base_role: str
    see_all_builtin: tuple[str, ...]  # Superset's own roles that see every row (Admin)
    roles: tuple[Role, ...]

    def role(self, name: str) -> Role | None:
        return next((r for r in self.roles if r.name == name), None)


@dataclass(frozen=True)
class User:
    username: str
    role: str
    email: str
    display_name: str

    @property
    def password_variable(self) -> str:
        """Environment variable holding the password: civiclake_leader -> CIVICLAKE_LEADER_PASSWORD."""
        return re.sub(r"[^A-Z0-9]", "_", self.username.upper()) + "_PASSWORD"


@dataclass(frozen=True)
class Dataset:
    table_name: str
    id: int
    columns: frozenset[str]


@dataclass
class AccessResult:
    role_ids: dict[str, int] = field(default_factory=dict)  # role name -> id
    rls_ids: dict[str, int] = field(default_factory=dict)  # rule name -> id
    user_ids: dict[str, int] = field(default_factory=dict)  # username -> id


# --------------------------------------------------------------------------- YAML
def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AccessError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise AccessError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(content, dict):
        raise AccessError(f"{path}: expected a mapping at the top level")
    return content


def _text(path: Path, where: str, value: Any, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise AccessError(f"{path}: {where} must be a non-empty string, got {value!r}")
    return value


def _role_name(path: Path, where: str, value: Any) -> str:
    name = _text(path, where, value)
    if not re.fullmatch(rf"{NAME_PREFIX}[a-z0-9_]+", name):
        raise AccessError(
            f"{path}: {where} {name!r} must look like {NAME_PREFIX}<lowercase letters, digits, _> "
            "(the prefix marks the roles the importer owns and may remove)"
        )
    return name


def _rls(path: Path, where: str, value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict) or not value:
        raise AccessError(f"{path}: {where} must be a mapping column: code, got {value!r}")
    for col, code in value.items():
        if not _COLUMN.fullmatch(str(col)) or not _CODE.fullmatch(str(code)):
            raise AccessError(f"{path}: {where}: {col}={code!r} must be a plain column name and a plain code")
    return tuple(sorted((str(c), str(v)) for c, v in value.items()))


def _generated_roles(path: Path, levels: Any, geography: Geography) -> list[Role]:
    if levels is None:
        return []
    if not isinstance(levels, dict):
        raise AccessError(f"{path}: levels must be a mapping level: {{from_geography: true, …}}")
    roles: list[Role] = []
    for level, spec in levels.items():
        where = f"levels.{level}"
        if level not in GEOGRAPHY_LEVELS:
            raise AccessError(f"{path}: {where}: unknown level; known: {sorted(GEOGRAPHY_LEVELS)}")
        if not isinstance(spec, dict) or spec.get("from_geography") is not True:
            raise AccessError(f"{path}: {where} must be a mapping with from_geography: true")
        unknown = set(spec) - {"from_geography", "name", "rls_column", "description"}
        if unknown:
            raise AccessError(f"{path}: {where}: unknown key(s) {sorted(unknown)}")
        template = _text(path, f"{where}.name", spec.get("name"))
        if "{code}" not in template:
            raise AccessError(f"{path}: {where}.name {template!r} must contain {{code}}")
        column = _text(path, f"{where}.rls_column", spec.get("rls_column"))
        if not _COLUMN.fullmatch(column):
            raise AccessError(f"{path}: {where}.rls_column {column!r} is not a plain column name")
        described = _text(path, f"{where}.description", spec.get("description"), required=False)
        for area in getattr(geography, GEOGRAPHY_LEVELS[level]).values():
            parent = geography.streets.get(area.parent_code)
            try:
                description = (described or "{name}").format(
                    code=area.code, name=area.name, parent_name=parent.name if parent else ""
                )
                name = template.format(code=area.code)
            except (KeyError, IndexError) as exc:
                raise AccessError(
                    f"{path}: {where}: placeholder {exc} unknown; use {{code}}, {{name}}, {{parent_name}}"
                ) from exc
            roles.append(
                Role(
                    name=_role_name(path, f"{where}.name", name),
                    description=description,
                    level=level,
                    rls=_rls(path, where, {column: area.code}),
                )
            )
    return roles


def load_access(path: Path = ACCESS_FILE, geography: Geography | None = None) -> AccessConfig:
    """access.yaml, with the generated levels expanded from the reference geography."""
    cfg = _read_yaml(path)
    unknown = set(cfg) - {"base_role", "see_all_builtin", "roles", "levels"}
    if unknown:
        raise AccessError(f"{path}: unknown key(s) {sorted(unknown)}")
    base_role = _text(path, "base_role", cfg.get("base_role", "Gamma"))
    see_all = cfg.get("see_all_builtin", ["Admin"])
    if not isinstance(see_all, list) or not all(isinstance(r, str) for r in see_all):
        raise AccessError(f"{path}: see_all_builtin must be a list of Superset role names")
    raw_roles = cfg.get("roles") or []
    if not isinstance(raw_roles, list):
        raise AccessError(f"{path}: roles must be a list")
    roles: list[Role] = []
    for i, raw in enumerate(raw_roles):
        where = f"roles[{i}]"
        if not isinstance(raw, dict):
            raise AccessError(f"{path}: {where} must be a mapping with name, level, description")
        extra = set(raw) - {"name", "level", "description", "rls", "sql_lab"}
        if extra:
            raise AccessError(f"{path}: {where}: unknown key(s) {sorted(extra)}")
        if not isinstance(raw.get("sql_lab", False), bool):
            raise AccessError(f"{path}: {where}.sql_lab must be true or false")
        roles.append(
            Role(
                name=_role_name(path, f"{where}.name", raw.get("name")),
                description=_text(path, f"{where}.description", raw.get("description")),
                level=_text(path, f"{where}.level", raw.get("level")),
                rls=_rls(path, f"{where}.rls", raw.get("rls")),
                sql_lab=raw.get("sql_lab", False),
            )
        )
    roles += _generated_roles(path, cfg.get("levels"), geography or load_geography())
    names = [r.name for r in roles]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise AccessError(f"{path}: role(s) named twice: {dupes}")
    return AccessConfig(base_role=base_role, see_all_builtin=tuple(see_all), roles=tuple(roles))


def load_users(access: AccessConfig, path: Path = USERS_FILE) -> tuple[User, ...]:
    """users.yaml: who holds which civiclake role (never passwords)."""
    cfg = _read_yaml(path)
    unknown = set(cfg) - {"users"}
    if unknown:
        raise AccessError(f"{path}: unknown key(s) {sorted(unknown)}")
    raw_users = cfg.get("users") or []
    if not isinstance(raw_users, list):
        raise AccessError(f"{path}: users must be a list")
    users: list[User] = []
    for i, raw in enumerate(raw_users):
        where = f"users[{i}]"
        if not isinstance(raw, dict):
            raise AccessError(f"{path}: {where} must be a mapping with username, role, email, name")
        if "password" in raw:
            raise AccessError(
                f"{path}: {where} has a password: remove it; passwords come from the environment "
                f"or {PASSWORDS_FILE.relative_to(ROOT)}"
            )
        extra = set(raw) - {"username", "role", "email", "name"}
        if extra:
            raise AccessError(f"{path}: {where}: unknown key(s) {sorted(extra)}")
        username = _text(path, f"{where}.username", raw.get("username"))
        if not _USERNAME.fullmatch(username):
            raise AccessError(
                f"{path}: {where}.username {username!r} must look like civiclake_<lowercase letters, "
                "digits, _> (the prefix marks the users the importer owns and may remove)"
            )
        role = _text(path, f"{where}.role", raw.get("role"))
        if access.role(role) is None:
            raise AccessError(f"{path}: {where}.role {role!r} is not a role of access.yaml")
        email = _text(path, f"{where}.email", raw.get("email"))
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise AccessError(f"{path}: {where}.email {email!r} is not an e-mail address")
        users.append(User(username, role, email, _text(path, f"{where}.name", raw.get("name"))))
    for attr in ("username", "email"):
        values = [getattr(u, attr) for u in users]
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            raise AccessError(f"{path}: {attr}(s) listed twice: {dupes}")
    return tuple(users)


# --------------------------------------------------------------------------- passwords
def _env_file_values(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            m = re.match(r"^(?:export\s+)?([A-Z0-9_]+)=(.*)$", line.strip())
            if m:
                values[m.group(1)] = m.group(2).strip().strip("'\"")
    return values


def user_passwords(users: Iterable[User], passwords_file: Path = PASSWORDS_FILE) -> dict[str, str]:
    """username -> password: the environment, var/secrets.env, else generated once into
    ``passwords_file`` (mode 600, git-ignored) so every later run finds the same one."""
    known = _env_file_values(SECRETS_FILE) | _env_file_values(passwords_file)
    out: dict[str, str] = {}
    new_lines: list[str] = []
    for user in users:
        var = user.password_variable
        password = os.environ.get(var) or known.get(var)
        if not password:
            password = secrets.token_urlsafe(18)
            new_lines.append(f"export {var}={password}\n")
        out[user.username] = password
    if new_lines:
        passwords_file.parent.mkdir(parents=True, exist_ok=True)
        passwords_file.touch(mode=0o600, exist_ok=True)
        passwords_file.chmod(0o600)
        with passwords_file.open("a", encoding="utf-8") as handle:
            handle.writelines(new_lines)
    return out


# --------------------------------------------------------------------------- Superset
def imported_datasets(
    assets: Mapping[str, Mapping[str, Any]], dataset_ids: Mapping[str, int]
) -> list[Dataset]:
    """Every dataset the importer imported, with the columns its YAML declares."""
    out = []
    for rel, asset in assets.items():
        if rel.startswith("datasets/"):
            table = asset["table_name"]
            columns = frozenset(c["column_name"] for c in asset.get("columns") or [])
            out.append(Dataset(table, dataset_ids[table], columns))
    return sorted(out, key=lambda d: d.table_name)


def _permission_views(client: SupersetClient, permission: str) -> list[dict[str, Any]]:
    """Every (permission, view menu) pair of one permission, e.g. datasource_access."""
    rows = client.get_all(
        "/api/v1/security/permissions/", f"filters:!((col:name,opr:eq,value:'{permission}'))"
    )
    perm_id = next((r["id"] for r in rows if r["name"] == permission), None)
    if perm_id is None:
        raise AccessError(f"Superset has no permission named {permission!r}; run `superset init`")
    return client.get_all(
        "/api/v1/security/permissions-resources/",
        f"filters:!((col:permission,opr:rel_o_m,value:{perm_id}))",
    )


def _view_ids(pvs: list[dict[str, Any]], wanted: Mapping[str, str], kind: str) -> dict[str, int]:
    """key -> permission-view id, for view menus ending with wanted[key]."""
    out = {}
    for key, suffix in wanted.items():
        match = [p["id"] for p in pvs if p["view_menu"]["name"].endswith(suffix)]
        if not match:
            raise AccessError(
                f"no {kind} permission for {key} in Superset; run `bash infra/superset/setup.sh` "
                "(superset init) and import again"
            )
        out[key] = match[0]
    return out


def _role_ids(client: SupersetClient) -> dict[str, int]:
    return {r["name"]: r["id"] for r in client.get_all("/api/v1/security/roles/")}


def _role_permissions(client: SupersetClient, role_id: int) -> set[int]:
    rows = client.request("GET", f"/api/v1/security/roles/{role_id}/permissions/")["result"]
    return {p["id"] for p in rows}


def _sync_roles(
    client: SupersetClient, access: AccessConfig, datasets: list[Dataset], databases: list[str]
) -> dict[str, int]:
    existing = _role_ids(client)
    needed = [access.base_role, *access.see_all_builtin] + (
        ["sql_lab"] if any(r.sql_lab for r in access.roles) else []
    )
    missing = [n for n in needed if n not in existing]
    if missing:
        raise AccessError(f"Superset has no role(s) {missing}; run `superset init`")
    base = _role_permissions(client, existing[access.base_role])
    dataset_perms = set(
        _view_ids(
            _permission_views(client, "datasource_access"),
            {d.table_name: f"].[{d.table_name}](id:{d.id})" for d in datasets},
            "datasource_access",
        ).values()
    )
    sql_lab: set[int] = set()
    if any(r.sql_lab for r in access.roles):
        db_ids = {d["database_name"]: d["id"] for d in client.get_all("/api/v1/database/")}
        sql_lab = _role_permissions(client, existing["sql_lab"]) | set(
            _view_ids(
                _permission_views(client, "database_access"),
                {name: f"[{name}].(id:{db_ids[name]})" for name in databases if name in db_ids},
                "database_access",
            ).values()
        )
    role_ids: dict[str, int] = {}
    for role in access.roles:
        role_id = existing.get(role.name)
        if role_id is None:
            role_id = client.request("POST", "/api/v1/security/roles/", json={"name": role.name})["id"]
        role_ids[role.name] = role_id
        wanted = base | dataset_perms | (sql_lab if role.sql_lab else set())
        if _role_permissions(client, role_id) != wanted:
            client.request(
                "POST",
                f"/api/v1/security/roles/{role_id}/permissions",
                json={"permission_view_menu_ids": sorted(wanted)},
            )
    return role_ids


def wanted_rules(
    access: AccessConfig, datasets: list[Dataset], role_ids: Mapping[str, int]
) -> dict[str, dict[str, Any]]:
    """Rule name -> body for /api/v1/rowlevelsecurity/: the deny-by-default Base rule(s)
    and one Regular rule per filtered role."""
    see_all = [role_ids[n] for n in access.see_all_builtin]
    see_all += [role_ids[r.name] for r in access.roles if not r.rls]
    filtered = [r for r in access.roles if r.rls]
    all_rls_columns = frozenset().union(*(r.rls_columns for r in filtered))
    rules: dict[str, dict[str, Any]] = {}
    # Base rules: one per set of missing RLS columns (normally one, over every dataset).
    by_missing: dict[tuple[str, ...], list[Dataset]] = {}
    for d in datasets:
        by_missing.setdefault(tuple(sorted(all_rls_columns - d.columns)), []).append(d)
    for missing, group in sorted(by_missing.items()):
        name = DENY_RULE + (f" (no {', '.join(missing)})" if missing else "")
        spared = see_all + [role_ids[r.name] for r in filtered if not r.rls_columns & set(missing)]
        rules[name] = {
            "name": name,
            "description": "没有本级规则的角色看不到任何数据 (rows only for roles with a rule of their own)",
            "filter_type": "Base",
            "tables": sorted(d.id for d in group),
            "roles": sorted(spared),
            "group_key": "",
            "clause": DENY_CLAUSE,
        }
    for role in filtered:
        tables = sorted(d.id for d in datasets if role.rls_columns <= d.columns)
        if not tables:
            continue  # no dataset carries its columns: the Base rule keeps it out everywhere
        name = f"{RLS_PREFIX}{role.name}"
        rules[name] = {
            "name": name,
            "description": role.description,
            "filter_type": "Regular",
            "tables": tables,
            "roles": [role_ids[role.name]],
            "group_key": "civiclake_" + "_".join(sorted(role.rls_columns)),
            "clause": role.clause,
        }
    return rules


def _same_rule(current: dict[str, Any], body: dict[str, Any]) -> bool:
    return (
        current.get("filter_type") == body["filter_type"]
        and current.get("clause") == body["clause"]
        and (current.get("group_key") or "") == body["group_key"]
        and (current.get("description") or "") == body["description"]
        and sorted(t["id"] for t in current.get("tables") or []) == body["tables"]
        and sorted(r["id"] for r in current.get("roles") or []) == body["roles"]
    )


def _sync_rules(client: SupersetClient, wanted: dict[str, dict[str, Any]]) -> dict[str, int]:
    existing = {
        r["name"]: r for r in client.get_all("/api/v1/rowlevelsecurity/") if r["name"].startswith(RLS_PREFIX)
    }
    rls_ids: dict[str, int] = {}
    for name, body in wanted.items():
        current = existing.get(name)
        if current is None:
            rls_ids[name] = client.request("POST", "/api/v1/rowlevelsecurity/", json=body)["id"]
            continue
        rls_ids[name] = current["id"]
        if not _same_rule(current, body):
            client.request("PUT", f"/api/v1/rowlevelsecurity/{current['id']}", json=body)
    for name, rule in existing.items():
        if name not in wanted:  # made by an earlier import for something no longer listed
            client.request("DELETE", f"/api/v1/rowlevelsecurity/{rule['id']}")
    return rls_ids


def _can_log_in(url: str, username: str, password: str) -> bool:
    r = requests.post(
        f"{url}/api/v1/security/login",
        json={"username": username, "password": password, "provider": "db", "refresh": False},
        timeout=60,
    )
    return r.status_code == 200


def _sync_users(
    client: SupersetClient,
    users: tuple[User, ...],
    passwords: Mapping[str, str],
    role_ids: Mapping[str, int],
) -> dict[str, int]:
    existing = {
        u["username"]: u
        for u in client.get_all("/api/v1/security/users/")
        if u["username"].startswith(NAME_PREFIX)
    }
    user_ids: dict[str, int] = {}
    for user in users:
        body = {
            "first_name": user.display_name,
            "last_name": "",
            "username": user.username,
            "email": user.email,
            "active": True,
            "roles": [role_ids[user.role]],
        }
        current = existing.get(user.username)
        if current is None:
            new = client.request(
                "POST", "/api/v1/security/users/", json=body | {"password": passwords[user.username]}
            )
            user_ids[user.username] = new["id"]
            continue
        user_ids[user.username] = current["id"]
        same = all(current.get(k) == body[k] for k in ("first_name", "last_name", "email", "active"))
        same = same and sorted(r["id"] for r in current.get("roles") or []) == body["roles"]
        if not same:
            client.request("PUT", f"/api/v1/security/users/{current['id']}", json=body)
        # Passwords are stored hashed: a login tells whether the one in var/ still holds.
        if not _can_log_in(client.url, user.username, passwords[user.username]):
            client.request(
                "PUT", f"/api/v1/security/users/{current['id']}", json={"password": passwords[user.username]}
            )
    for username, user in existing.items():
        if username not in user_ids:
            _remove_user(client, user)
    return user_ids


def _remove_user(client: SupersetClient, user: dict[str, Any]) -> None:
    """Delete a user; one that SQL Lab's query history still names cannot be deleted
    (foreign key), so it is deactivated instead: it can no longer log in."""
    answer = client.request("DELETE", f"/api/v1/security/users/{user['id']}", ok=(200, 422))
    if (answer or {}).get("message") != "OK" and user.get("active"):
        client.request("PUT", f"/api/v1/security/users/{user['id']}", json={"active": False})


def apply_access(
    client: SupersetClient,
    access: AccessConfig,
    users: tuple[User, ...],
    passwords: Mapping[str, str],
    datasets: list[Dataset],
    databases: list[str],
) -> AccessResult:
    """Make Superset's civiclake roles, RLS rules and users match the YAML."""
    result = AccessResult()
    result.role_ids = _sync_roles(client, access, datasets, databases)
    builtin = _role_ids(client)
    all_ids = {n: builtin[n] for n in access.see_all_builtin} | result.role_ids
    result.rls_ids = _sync_rules(client, wanted_rules(access, datasets, all_ids))
    result.user_ids = _sync_users(client, users, passwords, result.role_ids)
    # Roles last: a stale role may still be named by a rule or held by a user above.
    for name, role_id in builtin.items():
        if name.startswith(NAME_PREFIX) and name not in result.role_ids:
            client.request("DELETE", f"/api/v1/security/roles/{role_id}")
    return result


# --------------------------------------------------------------------------- logins
def login_lines(access_file: Path = ACCESS_FILE, users_file: Path = USERS_FILE) -> list[str]:
    """One line per user of users.yaml: level, username, password (for the demo's summary)."""
    access = load_access(access_file)
    users = load_users(access, users_file)
    passwords = user_passwords(users)
    lines = []
    for user in users:
        role = access.role(user.role)
        assert role is not None  # load_users checked it
        lines.append(
            f"  {role.level:<10} {user.username:<32} {passwords[user.username]}   ({role.description})"
        )
    return lines


def main() -> int:
    try:
        lines = login_lines()
    except AccessError as exc:
        print(f"[dashboards] {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
