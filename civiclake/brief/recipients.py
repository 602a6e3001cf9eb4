"""Who gets a brief, and for which area: the leaders of dashboards/users.yaml.

The area is read from the role name, the same names that Superset's row-level security
uses (dashboards/access.yaml): ``civiclake_district_leader``, ``civiclake_street_<code>``,
``civiclake_community_<code>``. Other roles (analysts, admins) get no brief.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from civiclake.settings import PROJECT_ROOT

DEFAULT_USERS_FILE = PROJECT_ROOT / "dashboards" / "users.yaml"
DISTRICT_ROLE = "civiclake_district_leader"
_AREA_ROLE = re.compile(r"^civiclake_(street|community)_(.*)$")


class BriefError(RuntimeError):
    """A brief cannot be made or sent; the message says for whom and what to fix."""


class UsersFileError(BriefError):
    """The users file is missing or not in the expected shape (no brief can go out)."""


class RecipientError(BriefError):
    """One user's entry cannot be turned into a brief (the others still get theirs)."""


@dataclass(frozen=True)
class LeaderRole:
    """A leader role read from its name; ``area_code`` is None for the district (one area)."""

    role: str
    level: str
    area_code: str | None


@dataclass(frozen=True)
class Recipient:
    username: str
    display_name: str
    email: str
    level: str
    area_code: str

    @property
    def key(self) -> str:
        return f"{self.username} ({self.level} {self.area_code})"


def leader_role(role: str) -> LeaderRole | None:
    """The level and area a role name stands for; None for roles that are not leaders'."""
    if role == DISTRICT_ROLE:
        return LeaderRole(role, "district", None)
    match = _AREA_ROLE.match(role)
    if match is None:
        return None
    return LeaderRole(role, match.group(1), match.group(2))


def _roles(user: dict) -> list[str]:
    roles = user.get("roles", user.get("role", []))
    return [roles] if isinstance(roles, str) else [str(r) for r in roles or []]


def read_users(path: Path) -> list[dict]:
    """The user entries of the users file: a list, or a mapping with a ``users`` list."""
    if not path.exists():
        raise UsersFileError(
            f"{path}: users file not found; it lists each user with username, role, email and "
            "name (pass another file with --users)"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise UsersFileError(f"{path}: not valid YAML: {error}") from None
    users = data.get("users") if isinstance(data, dict) else data
    if not isinstance(users, list) or not all(isinstance(u, dict) for u in users):
        raise UsersFileError(f"{path}: expected a list of users (or a mapping with a `users:` list)")
    for position, user in enumerate(users, start=1):
        if not user.get("username"):
            raise UsersFileError(f"{path}: user #{position} has no username")
    return users


def leader_roles_of(user: dict) -> list[LeaderRole]:
    return [lr for lr in map(leader_role, _roles(user)) if lr is not None]


def resolve(
    user: dict, role: LeaderRole, users_file: Path, known_areas: dict[str, dict[str, str]]
) -> Recipient:
    """The recipient of one leader role of a user, checked against the areas the marts know
    (``known_areas``: level -> {area_code: area_name})."""
    username = str(user["username"])
    where = f"{users_file}: user {username!r}"
    email = str(user.get("email") or user.get("e-mail") or "").strip()
    if "@" not in email:
        raise RecipientError(f"{where} has no usable e-mail address ({email!r}); add `email:` to the entry")
    areas = known_areas.get(role.level, {})
    if role.area_code is None:
        if len(areas) != 1:
            raise RecipientError(f"{where}: the marts have {len(areas)} district rows, expected 1")
        area_code = next(iter(areas))
    else:
        area_code = role.area_code
        if area_code not in areas:
            sample = ", ".join(f"{code} {name}" for code, name in sorted(areas.items())[:6])
            raise RecipientError(
                f"{where} has role {role.role!r}, but {role.level} {area_code!r} is not an area of "
                f"mart_leader_brief_daily ({len(areas)} {role.level} areas known, e.g. {sample}); "
                "fix the role's code in the users file"
            )
    display_name = str(user.get("name") or user.get("display_name") or username)
    return Recipient(username, display_name, email, role.level, area_code)
