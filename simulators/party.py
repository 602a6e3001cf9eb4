"""Simulator of the party-building system's daily exports into the landing folder.

Deterministic by seed and date, sized by ``sim_scale`` (1.0 ≈ Longhua: about 1,500
branches and 85,000 members). For a day D it writes into ``landing/party/D/``:
- 党组织信息_D.xlsx and 党员信息_D.xlsx: the full registers as of D (members who left
  carry 删除标记 = 是; members who join later are not there yet);
- 组织生活_<street>_D.csv (GBK, one per street office, header only on a quiet day) and
  活动签到_D.csv (GBK): the day's activities and sign-ins;
- 学习记录_D.csv (UTF-8) and 志愿服务_D.xlsx: learning records and volunteer hours.
Rows carry the defects real exports do, at a small rate (see ``ingest.simulate``).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

from civiclake.contracts import party
from civiclake.geography import Geography, load_geography
from civiclake.ingest import raw_exports
from civiclake.settings import Settings
from simulators.defects import Defects, point_in, scaled
from simulators.export_writer import write_export
from simulators.people import Resident, resident_pool

log = logging.getLogger(__name__)

FULL_BRANCHES = 1500
FULL_MEMBERS = 85_000
FULL_VOLUNTEER_SERVICES_PER_DAY = 5000
# Residents these exports ever mention (members, volunteers) at full scale.
FULL_POOL = 250_000
ACTIVITY_RATE = 0.12  # activities per organisation per day
LEARNING_RATE = 0.25  # learning records per member per day
COURSES = ("党章党规学习", "习近平新时代中国特色社会主义思想专题", "基层治理实务", "党史学习", "廉政教育")
PROJECTS = ("社区清洁日", "关爱独居老人", "文明交通劝导", "邻里议事", "便民义诊", "垃圾分类宣传")
TITLES = ("学习贯彻会议精神", "社区治理专题讨论", "发展党员工作", "组织生活会", "重温入党誓词")


@dataclass(frozen=True)
class Organisation:
    org_id: str
    org_name: str
    org_type: str
    parent_org_id: str | None
    community_code: str
    secretary: Resident | None
    established_on: date
    dissolved_on: date | None


@dataclass(frozen=True)
class Member:
    member_id: str
    person: Resident
    gender: str
    org_id: str
    community_code: str
    education: str | None
    joined_on: date
    left_on: date | None


def residents(settings: Settings) -> list[Resident]:
    """Every resident these exports can mention (the privacy test scans the lake for them)."""
    return _pool(settings.seed, scaled(FULL_POOL, settings.sim_scale, 2000))


@cache
def _pool(seed: int, size: int) -> list[Resident]:
    return resident_pool(seed, size)


def organisations(settings: Settings, geography: Geography) -> list[Organisation]:
    rng = random.Random(f"party-orgs-{settings.seed}")
    pool = residents(settings)
    communities = sorted(geography.communities)
    orgs = []
    for code in communities:
        orgs.append(
            Organisation(
                f"DW{code}",
                f"{geography.communities[code].name}党委",
                "community_committee",
                None,
                code,
                rng.choice(pool),
                date(1995, 1, 1) + timedelta(days=rng.randint(0, 9000)),
                None,
            )
        )
    for n in range(scaled(FULL_BRANCHES, settings.sim_scale, len(communities))):
        code = communities[n % len(communities)]
        dissolved = rng.random() < 0.02
        orgs.append(
            Organisation(
                f"ZB{code}{n // len(communities):03d}",
                f"{geography.communities[code].name}第{n // len(communities) + 1}党支部",
                rng.choices(("branch", "general_branch"), weights=(9, 1))[0],
                f"DW{code}",
                code,
                None if rng.random() < 0.05 else rng.choice(pool),
                date(2000, 1, 1) + timedelta(days=rng.randint(0, 9000)),
                date(2026, 6, 1) + timedelta(days=rng.randint(0, 365)) if dissolved else None,
            )
        )
    return orgs


def members(settings: Settings, orgs: list[Organisation]) -> list[Member]:
    rng = random.Random(f"party-members-{settings.seed}")
    pool = residents(settings)
    branches = [o for o in orgs if o.org_type != "community_committee"]
    result = []
    for n in range(min(len(pool), scaled(FULL_MEMBERS, settings.sim_scale, 100))):
        org = rng.choice(branches)
        joined = date(1975, 1, 1) + timedelta(days=rng.randint(0, 19000))
        left = date(2026, 6, 1) + timedelta(days=rng.randint(0, 365)) if rng.random() < 0.03 else None
        result.append(
            Member(
                f"DY{n:08d}",
                pool[n],
                rng.choice(("M", "F")),
                org.org_id,
                org.community_code,
                rng.choice((None, *party.EDUCATION.values())),
                joined,
                left,
            )
        )
    return result


def _organisation_records(orgs, day: date):
    for o in orgs:
        if o.established_on > day:
            continue
        yield {
            "org_id": o.org_id,
            "org_name": o.org_name,
            "org_type": o.org_type,
            "parent_org_id": o.parent_org_id,
            "community_code": o.community_code,
            "secretary_name": o.secretary.name if o.secretary else None,
            "secretary_phone": o.secretary.mobile if o.secretary else None,
            "established_on": o.established_on,
            "is_deleted": o.dissolved_on is not None and o.dissolved_on <= day,
        }


def _member_records(settings: Settings, people: list[Member], day: date):
    defects = Defects(settings.seed, "party-members", day, rate=0.002)
    for m in people:
        if m.joined_on > day:
            continue
        left = m.left_on is not None and m.left_on <= day
        changed = m.left_on if left else m.joined_on
        record = {
            "member_id": m.member_id,
            "member_name": m.person.name,
            "gender": m.gender,
            "member_id_number": m.person.id_number,
            "member_phone": m.person.mobile,
            "org_id": m.org_id,
            "community_code": m.community_code,
            "status": "probationary" if m.joined_on > day - timedelta(days=365) else "full",
            "education": m.education,
            "joined_on": m.joined_on,
            "updated_at": datetime.combine(changed, time(10)),
            "is_deleted": left,
        }
        yield from defects.apply(record, id_field="member_id_number", community_field="community_code")


def simulate_day(day: date, settings: Settings) -> dict[str, int]:
    """Writes the party-building exports of ``day`` (0600 files in a 0700 folder); returns rows
    written per file, none when the day was ingested before (``raw_exports.ingested_before``)."""
    geography = load_geography()
    folder = raw_exports.private_dir(settings.landing, "party", day.isoformat())
    if raw_exports.ingested_before(folder):
        return {}
    stamp = f"{day:%Y%m%d}"
    orgs = organisations(settings, geography)
    people = members(settings, orgs)
    pool = residents(settings)
    written: dict[str, int] = {}

    def write(name: str, contract, records, **kwargs):
        written[name] = write_export(folder / name, contract, records, **kwargs)

    write(f"党组织信息_{stamp}.xlsx", party.ORGANISATIONS, _organisation_records(orgs, day))
    write(f"党员信息_{stamp}.xlsx", party.MEMBERS, _member_records(settings, people, day))

    rng = random.Random(f"party-day-{settings.seed}-{day.isoformat()}")
    start = datetime.combine(day, time())
    active = [m for m in people if m.joined_on <= day and not (m.left_on and m.left_on <= day)]
    by_org: dict[str, list[Member]] = {}
    for m in active:
        by_org.setdefault(m.org_id, []).append(m)

    defects = Defects(settings.seed, "party-activities", day)
    activities_by_street: dict[str, list[dict]] = {code: [] for code in sorted(geography.streets)}
    sign_ins: list[dict] = []
    sign_in_defects = Defects(settings.seed, "party-attendance", day)
    live_orgs = [
        o for o in orgs if o.established_on <= day and not (o.dissolved_on and o.dissolved_on <= day)
    ]
    for n, org in enumerate(o for o in live_orgs if rng.random() < ACTIVITY_RATE):
        held_at = start + timedelta(hours=rng.choice((9, 10, 14, 15, 19)), minutes=rng.choice((0, 30)))
        lon, lat = point_in(rng, geography.communities[org.community_code])
        attendees = by_org.get(org.org_id, [])
        activity = {
            "activity_id": f"HD{stamp}{n:05d}",
            "org_id": org.org_id,
            "activity_type": rng.choice(list(party.ACTIVITY_TYPES.values())),
            "title": rng.choice(TITLES),
            "community_code": org.community_code,
            "held_at": held_at,
            "place": f"{geography.communities[org.community_code].name}党群服务中心",
            "lon": lon,
            "lat": lat,
            "planned_attendance": len(attendees),
        }
        street = geography.street_of(org.community_code)
        activities_by_street[street] += defects.apply(
            activity, community_field="community_code", lon_field="lon", time_field="held_at"
        )
        for k, m in enumerate(a for a in attendees if rng.random() < 0.8):
            sign_in = {
                "sign_in_id": f"QD{stamp}{n:05d}{k:03d}",
                "activity_id": activity["activity_id"],
                "member_id": m.member_id,
                "member_name": m.person.name,
                "member_id_number": m.person.id_number,
                "signed_in_at": held_at - timedelta(minutes=rng.randint(0, 20)),
                "method": rng.choice(("qr_code", "qr_code", "manual")),
            }
            sign_ins += sign_in_defects.apply(sign_in, id_field="member_id_number", time_field="signed_in_at")
    for street, rows in activities_by_street.items():
        write(f"组织生活_{street}_{stamp}.csv", party.ACTIVITIES, rows)
    write(f"活动签到_{stamp}.csv", party.ATTENDANCE, sign_ins)

    learning_defects = Defects(settings.seed, "party-learning", day)
    learning = []
    for m in active:
        if rng.random() >= LEARNING_RATE:
            continue
        record = {
            "record_id": f"XX{stamp}{len(learning):06d}",
            "member_id": m.member_id,
            "course": rng.choice(COURSES),
            "learning_kind": rng.choices(("online", "offline"), weights=(4, 1))[0],
            "minutes": rng.choice((15, 20, 30, 45, 60, 90)),
            "score": rng.choice((None, 1, 2, 3, 5)),
            "completed_at": start + timedelta(seconds=rng.randint(6 * 3600, 86_399)),
        }
        learning += learning_defects.apply(record, time_field="completed_at")
    write(f"学习记录_{stamp}.csv", party.LEARNING, learning)

    volunteer_defects = Defects(settings.seed, "party-volunteering", day)
    services = []
    member_people = {m.person for m in active}
    communities = sorted(geography.communities)
    for n in range(scaled(FULL_VOLUNTEER_SERVICES_PER_DAY, settings.sim_scale)):
        person = rng.choice(pool)
        code = rng.choice(communities)
        lon, lat = point_in(rng, geography.communities[code]) if rng.random() < 0.8 else (None, None)
        record = {
            "service_id": f"ZY{stamp}{n:06d}",
            "volunteer_name": person.name,
            "volunteer_id_number": person.id_number,
            "volunteer_phone": person.mobile,
            "is_party_member": person in member_people,
            "service_type": rng.choice(list(party.VOLUNTEER_SERVICES.values())),
            "project": rng.choice(PROJECTS),
            "community_code": code,
            "lon": lon,
            "lat": lat,
            "started_at": start + timedelta(hours=rng.randint(7, 18)),
            "hours": rng.choice((0.5, 1.0, 1.5, 2.0, 3.0, 4.0)),
        }
        services += volunteer_defects.apply(
            record,
            id_field="volunteer_id_number",
            community_field="community_code",
            lon_field="lon",
            time_field="started_at",
        )
    write(f"志愿服务_{stamp}.xlsx", party.VOLUNTEERING, services)
    log.info("simulated party-building exports for %s in %s: %s", day, folder, written)
    return written
