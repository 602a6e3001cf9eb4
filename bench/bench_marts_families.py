"""Small silver tables of the party-building, people-services, basic-resource and
city-management families for the marts tests, written with delta-rs like the governance
lake of ``bench_marts_lake.py``.

Rows are drawn from a seeded generator per record, never from the clock: the lake as of a
day holds the records that existed by the end of that day in the state they had then, so
the lake of an earlier day is the same draw cut shorter. Columns and types are those the
ingest writes (``civiclake.contracts.catalog.silver_schema``); personal data is a made-up token.
Registries are SCD2 histories: a first snapshot on the first day and a second one
``REGISTRY_CHANGE_AFTER_DAYS`` later that changes, adds and removes a few rows.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pyarrow as pa
from deltalake import write_deltalake

from civiclake.contracts.catalog import silver_schema
from civiclake.geography import load_geography

REGISTRY_CHANGE_AFTER_DAYS = 5
OWNERS = ("水务局", "供电局", "燃气集团", "通信管道公司")
CAMERA_TYPES = ("street", "crossroad", "park", "market", "school_gate")
VEHICLE_TYPES = ("sanitation_truck", "law_enforcement_patrol", "electric_patrol_bike", "emergency_repair")
SERVICE_TYPES = ("environment", "elderly_support", "traffic", "community_governance", "convenience")
CARE_FLAGS = ("elderly_living_alone", "has_disabled_member", "child_in_difficulty", "low_income")
CARE_CATEGORY = {
    "elderly_living_alone": "elderly_alone",
    "has_disabled_member": "disabled",
    "child_in_difficulty": "children_in_difficulty",
    "low_income": "low_income",
}


def token(kind: str, value: str) -> str:
    return f"{kind}_" + hashlib.sha256(value.encode()).hexdigest()[:32]


def _at(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(rng.randint(7, 20), rng.randint(0, 59)))


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time()) + timedelta(days=1) - timedelta(microseconds=1)


def _days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


class FamilyLake:
    """Every family's rows for the days ``first`` … ``as_of``."""

    def __init__(self, first: date, as_of: date):
        self.first, self.as_of, self.end = first, as_of, _end_of(as_of)
        self.geography = load_geography()
        self.communities = sorted(self.geography.communities)
        self.streets = sorted(self.geography.streets)
        self.change_day = first + timedelta(days=REGISTRY_CHANGE_AFTER_DAYS)

    def codes(self, community: str) -> dict:
        return {
            "district_code": self.geography.district.code,
            "street_code": self.geography.street_of(community),
            "community_code": community,
        }

    # --- SCD2 registries --------------------------------------------------------------

    def _versions(self, key: str, snapshots: list[tuple[date, dict[str, dict]]]) -> list[dict]:
        """SCD2 rows from full snapshots (day, {id: row}) taken up to ``as_of``."""
        taken = [(day, rows) for day, rows in snapshots if day <= self.as_of]
        out: list[dict] = []
        open_rows: dict[str, dict] = {}
        for day, rows in taken:
            for rid, version in list(open_rows.items()):
                if rid not in rows or rows[rid] != version["_content"]:
                    version |= {"valid_to": day, "is_current": False, "is_deleted": rid not in rows}
                    del open_rows[rid]
            for rid, row in rows.items():
                if rid not in open_rows:
                    version = row | {
                        key: rid,
                        "_content": row,
                        "_row_hash": token("row", repr(sorted(row.items()))),
                        "valid_from": day,
                        "valid_to": None,
                        "is_current": True,
                        "is_deleted": False,
                        "registered_on": self.first,
                        "updated_on": day,
                        "batch_date": day,
                    }
                    open_rows[rid] = version
                    out.append(version)
        for version in out:
            version.pop("_content")
        return out

    def households(self) -> list[dict]:
        first: dict[str, dict] = {}
        for n, community in enumerate(self.communities):
            rng = random.Random(f"households-{community}")
            # From 0 to 12 care households a community, so some counts fall below 5.
            for i in range(n % 13 + 3):
                flags = {f: False for f in CARE_FLAGS}
                if i < n % 13:
                    flags[rng.choice(CARE_FLAGS)] = True
                    if rng.random() < 0.2:
                        flags[rng.choice(CARE_FLAGS)] = True
                hid = f"H{community}{i:03d}"
                first[hid] = {
                    "community_code": community,
                    "grid_code": None,
                    "household_size": 2,
                    **flags,
                } | {"head_id_token": token("id", hid)}
        second = {hid: dict(row) for hid, row in first.items()}
        for hid in sorted(first)[::17]:  # a few households become low-income
            second[hid]["low_income"] = True
        for hid in sorted(first)[5::29]:  # and a few leave the registry
            second.pop(hid)
        return self._versions("household_id", [(self.first, first), (self.change_day, second)])

    def cameras(self) -> list[dict]:
        first = {}
        for community in self.communities:
            rng = random.Random(f"cameras-{community}")
            box = self.geography.communities[community].box
            for i in range(3):
                first[f"C{community}{i}"] = {
                    "community_code": community,
                    # three cameras across the middle of the community
                    "lon": round(box.min_lon + (i + 1) * (box.max_lon - box.min_lon) / 4, 6),
                    "lat": round((box.min_lat + box.max_lat) / 2, 6),
                    "camera_type": rng.choice(CAMERA_TYPES),
                    "owner_department": "公安分局",
                    "status": rng.choices(("online", "offline", "maintenance"), (8, 1, 1))[0],
                }
        second = {cid: dict(row) for cid, row in first.items()}
        for cid in sorted(first)[::11]:
            second[cid]["status"] = "offline" if second[cid]["status"] == "online" else "online"
        return self._versions("camera_id", [(self.first, first), (self.change_day, second)])

    def vehicles(self) -> list[dict]:
        first = {}
        for street in self.streets:
            rng = random.Random(f"vehicles-{street}")
            for i in range(4):
                first[f"V{street}{i}"] = {
                    "plate_number": f"粤B{street[-3:]}{i}",
                    "vehicle_type": rng.choice(VEHICLE_TYPES),
                    "street_code": street,
                    "status": rng.choices(("in_service", "maintenance", "standby"), (6, 1, 1))[0],
                    "energy": "electric",
                }
        second = {vid: dict(row) for vid, row in first.items()}
        for vid in sorted(first)[::7]:
            second[vid]["status"] = "maintenance"
        return self._versions("vehicle_id", [(self.first, first), (self.change_day, second)])

    def teams(self) -> list[dict]:
        rows = {}
        for street in self.streets:
            for team_type, size in (("enforcement_squad", 20), ("manhole_repair_crew", 6)):
                rows[f"T{street}{team_type[:3]}"] = {
                    "team_type": team_type,
                    "team_name": team_type,
                    "street_code": street,
                    "community_code": None,
                    "member_count": size,
                }
        for community in self.communities:
            rows[f"T{community}GRI"] = {
                "team_type": "grid_team",
                "team_name": "网格工作队",
                "street_code": self.geography.street_of(community),
                "community_code": community,
                "member_count": int(community[-2:]) % 10 + 6,
            }
        return self._versions("team_id", [(self.first, rows)])

    # --- people services ------------------------------------------------------------------

    def care_visits(self, households: list[dict]) -> list[dict]:
        out = []
        care: dict[str, dict] = {}
        for household in households:  # a household's first version receiving care
            if any(household[f] for f in CARE_FLAGS):
                care.setdefault(household["household_id"], household)
        for hid, household in sorted(care.items()):
            rng = random.Random(f"visits-{hid}")
            category = CARE_CATEGORY[next(f for f in CARE_FLAGS if household[f])]
            for v in range(rng.randint(0, 3)):
                day = self.first + timedelta(days=rng.randint(-45, 30))
                visited = _at(day, rng)
                if visited > self.end:
                    continue
                out.append(
                    {
                        "visit_id": f"VI{hid}{v}",
                        "household_id_token": household["head_id_token"],
                        "household_head_name_token": token("name", hid),
                        "care_category": category,
                        **self.codes(household["community_code"]),
                        "worker_id": "W1",
                        "visit_kind": "home_visit",
                        "visited_at": visited,
                        "need": "none",
                        "follow_up": rng.random() < 0.3,
                        "is_deleted": False,
                        "source_file": "关爱走访.xlsx",
                        "batch_date": visited.date(),
                    }
                )
        return out

    def coupons(self) -> list[dict]:
        out = []
        for community in self.communities:
            for day in _days(self.first, self.as_of):
                rng = random.Random(f"coupons-{community}-{day}")
                for i in range(rng.randint(0, 3)):
                    issued = _at(day, rng)
                    redeemed = issued + timedelta(hours=rng.randint(2, 120)) if rng.random() < 0.6 else None
                    if redeemed is not None and redeemed > self.end:
                        redeemed = None
                    out.append(
                        {
                            "coupon_id": f"CP{community}{day:%m%d}{i}",
                            "coupon_kind": "consumption",
                            "face_value": float(rng.choice((20, 50, 100))),
                            "holder_id_token": token("id", f"{community}{day}{i}"),
                            **self.codes(community),
                            "issued_at": issued,
                            "status": "redeemed" if redeemed else "issued",
                            "redeemed_at": redeemed,
                            "updated_at": redeemed or issued,
                            "is_deleted": False,
                            "source_file": "福利券.csv",
                            "batch_date": (redeemed or issued).date(),
                        }
                    )
        return out

    def requests(self) -> list[dict]:
        out = []
        for community in self.communities[::3]:
            for day in _days(self.first, self.as_of):
                rng = random.Random(f"requests-{community}-{day}")
                for i in range(rng.randint(0, 2)):
                    submitted = _at(day, rng)
                    completed = submitted + timedelta(hours=rng.randint(1, 96))
                    done = completed <= self.end
                    out.append(
                        {
                            "request_id": f"RQ{community}{day:%m%d}{i}",
                            "channel": "government",
                            "request_type": "social_insurance",
                            **self.codes(community),
                            "submitted_at": submitted,
                            "status": "completed" if done else "accepted",
                            "completed_at": completed if done else None,
                            "summary": "社保咨询",
                            "is_deleted": False,
                            "source_file": "服务诉求.csv",
                            "batch_date": (completed if done else submitted).date(),
                        }
                    )
        return out

    # --- party building ----------------------------------------------------------------------

    def organisations(self) -> list[dict]:
        out = []
        for community in self.communities:
            for i in range(int(community[-2:]) % 3 + 1):
                org_id = f"O{community}{i}"
                revoked = i == 2 and self.change_day <= self.as_of
                out.append(
                    {
                        "org_id": org_id,
                        "org_name": f"第{i + 1}党支部",
                        "org_type": "community_committee" if i == 0 else "branch",
                        "parent_org_id": None if i == 0 else f"O{community}0",
                        **self.codes(community),
                        "established_on": date(2010, 1, 1),
                        "is_deleted": revoked,
                        "source_file": "党组织信息.xlsx",
                        "batch_date": self.change_day if revoked else self.first,
                    }
                )
        return out

    def members(self, organisations: list[dict]) -> list[dict]:
        out = []
        for org in organisations:
            rng = random.Random(f"members-{org['org_id']}")
            for i in range(rng.randint(5, 15)):
                joined = self.first + timedelta(days=rng.randint(-3000, 8))
                if joined > self.as_of:
                    continue
                out.append(
                    {
                        "member_id": f"M{org['org_id']}{i:02d}",
                        "member_name_token": token("name", f"{org['org_id']}{i}"),
                        "gender": "F",
                        "member_id_token": token("id", f"{org['org_id']}{i}"),
                        "org_id": org["org_id"],
                        "community_code": org["community_code"],
                        "district_code": org["district_code"],
                        "street_code": org["street_code"],
                        "status": "probationary" if i % 6 == 5 else "full",
                        "joined_on": joined,
                        "updated_at": datetime.combine(joined, time(9)),
                        "is_deleted": False,
                        "source_file": "党员信息.xlsx",
                        "batch_date": max(joined, self.first),
                    }
                )
        return out

    def activities_and_attendance(self, members: list[dict]) -> tuple[list[dict], list[dict]]:
        by_org: dict[str, list[dict]] = {}
        for m in members:
            by_org.setdefault(m["org_id"], []).append(m)
        activities, sign_ins = [], []
        for org_id, org_members in sorted(by_org.items()):
            for day in _days(self.first, self.as_of):
                rng = random.Random(f"activities-{org_id}-{day}")
                if rng.random() > 0.15:
                    continue
                held = _at(day, rng)
                activity_id = f"A{org_id}{day:%m%d}"
                community = org_members[0]["community_code"]
                activities.append(
                    {
                        "activity_id": activity_id,
                        "org_id": org_id,
                        "activity_type": "theme_day",
                        "title": "主题党日",
                        **self.codes(community),
                        "held_at": held,
                        "place": None,
                        "lon": 114.0,
                        "lat": 22.7,
                        "planned_attendance": len(org_members),
                        "is_deleted": False,
                        "source_file": "组织生活.csv",
                        "batch_date": day,
                    }
                )
                present = [m for m in org_members if rng.random() < 0.8]
                # The first one signs in twice (QR code, then by hand): one attendee.
                for n, m in enumerate(present + present[:1]):
                    sign_ins.append(
                        {
                            "sign_in_id": f"S{activity_id}{n:02d}",
                            "activity_id": activity_id,
                            "member_id": m["member_id"],
                            "member_name_token": m["member_name_token"],
                            "member_id_token": m["member_id_token"],
                            "signed_in_at": held,
                            "method": "qr_code",
                            "is_deleted": False,
                            "source_file": "活动签到.csv",
                            "batch_date": day,
                        }
                    )
        return activities, sign_ins

    def volunteer_services(self) -> list[dict]:
        out = []
        for community in self.communities:
            for day in _days(self.first, self.as_of):
                rng = random.Random(f"volunteering-{community}-{day}")
                for i in range(rng.randint(0, 3)):
                    started = _at(day, rng)
                    out.append(
                        {
                            "service_id": f"VS{community}{day:%m%d}{i}",
                            "volunteer_name_token": token("name", f"v{community}{i}"),
                            "volunteer_id_token": token("id", f"v{community}{i}"),
                            "is_party_member": rng.random() < 0.5,
                            "service_type": rng.choice(SERVICE_TYPES),
                            "project": "社区服务",
                            **self.codes(community),
                            "started_at": started,
                            "hours": rng.choice((0.5, 1.0, 1.5, 2.0, 3.0)),
                            "is_deleted": False,
                            "source_file": "志愿服务.xlsx",
                            "batch_date": day,
                        }
                    )
        return out

    # --- city management: manhole covers -------------------------------------------------------

    def covers(self) -> list[dict]:
        out = []
        for community in self.communities:
            rng = random.Random(f"covers-{community}")
            for i in range(5):
                owner = None if rng.random() < 0.2 else rng.choice(OWNERS)
                out.append(
                    {
                        "asset_id": f"MH{community}{i}",
                        "cover_type": "rainwater",
                        **self.codes(community),
                        "grid_code": None,
                        "lon": 114.0,
                        "lat": 22.7,
                        "owner_department": owner,
                        "owner_known": owner is not None,
                        "status": "normal",
                        "installed_on": date(2015, 1, 1),
                        "updated_at": datetime(2026, 1, 1),
                        "batch_date": self.first,
                    }
                )
        return out

    def manhole_cases_and_repairs(self, covers: list[dict]) -> tuple[list[dict], list[dict]]:
        by_community: dict[str, list[dict]] = {}
        for c in covers:
            by_community.setdefault(c["community_code"], []).append(c)
        cases, repairs = [], []
        for community in self.communities:
            for day in _days(self.first, self.as_of):
                rng = random.Random(f"manhole-{community}-{day}")
                if rng.random() > 0.3:
                    continue
                reported = _at(day, rng)
                # One case in ten names a cover that is not on the registry.
                cover = rng.choice(by_community[community])
                asset_id = cover["asset_id"] if rng.random() > 0.1 else f"MHX{community}{day:%m%d}"
                case_id = f"CC{community}{day:%m%d}"
                made_safe = reported + timedelta(minutes=rng.randint(30, 60 * 48))
                repaired = made_safe + timedelta(hours=rng.randint(4, 72))
                settled = repaired + timedelta(days=rng.randint(1, 6))
                closed = repaired if repaired <= self.end else None
                cases.append(
                    {
                        "case_id": case_id,
                        "category": "manhole",
                        "source": "patrol",
                        "description": "井盖破损",
                        **self.codes(community),
                        "asset_id": asset_id,
                        "reported_at": reported,
                        "dispatched_at": reported + timedelta(minutes=10),
                        "closed_at": closed,
                        "status": "closed" if closed else "dispatched",
                        "updated_at": closed or reported,
                        "batch_date": (closed or reported).date(),
                    }
                )
                if made_safe > self.end:
                    continue
                owner = cover["owner_department"] if asset_id == cover["asset_id"] else None
                is_settled = settled <= self.end
                # 先修后定: an unclaimed cover's repair is settled by the street.
                settlement = "settled" if owner else "borne_by_street"
                repairs.append(
                    {
                        "repair_id": f"R{case_id}",
                        "case_id": case_id,
                        "asset_id": asset_id,
                        **self.codes(community),
                        "made_safe_at": made_safe,
                        "repaired_at": repaired if repaired <= self.end else None,
                        "cost_yuan": Decimal(f"{rng.uniform(200, 3000):.2f}"),
                        "cost_bearer": owner or f"{self.geography.street_of(community)}街道办",
                        "settlement_status": settlement if is_settled else "pending",
                        "settled_at": settled if is_settled else None,
                        "updated_at": max([made_safe, *(t for t in (repaired, settled) if t <= self.end)]),
                        "batch_date": self.as_of,
                    }
                )
        return cases, repairs

    def tables(self) -> dict[str, list[dict]]:
        households = self.households()
        organisations = self.organisations()
        members = self.members(organisations)
        activities, attendance = self.activities_and_attendance(members)
        covers = self.covers()
        cases, repairs = self.manhole_cases_and_repairs(covers)
        return {
            "resources_households": households,
            "resources_cameras": self.cameras(),
            "resources_vehicles": self.vehicles(),
            "resources_teams": self.teams(),
            "services_care_visits": self.care_visits(households),
            "services_coupons": self.coupons(),
            "services_requests": self.requests(),
            "party_organisations": organisations,
            "party_members": members,
            "party_activities": activities,
            "party_attendance": attendance,
            "party_volunteer_services": self.volunteer_services(),
            "city_manhole_covers": covers,
            "city_cases": cases,
            "city_repairs": repairs,
        }


def family_rows(first: date, as_of: date) -> dict[str, list[dict]]:
    """Every family table's rows as the lake holds them at the end of ``as_of``."""
    return FamilyLake(first, as_of).tables()


def write_families(lake: str, first: date, as_of: date) -> dict[str, int]:
    """Writes (replaces) the family tables of the lake as of the end of ``as_of``."""
    counts = {}
    for name, rows in family_rows(first, as_of).items():
        table = pa.Table.from_pylist(rows, schema=silver_schema(name))
        write_deltalake(f"{lake}/silver/{name}", table, mode="overwrite", schema_mode="overwrite")
        counts[name] = table.num_rows
    return counts
