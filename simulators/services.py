"""Simulator of the people-services systems' daily exports into the landing folder.

Deterministic by seed and date, sized by ``sim_scale``. The households receiving care are
the household registry's (``simulators.resources``: the extract of the day, households with
a care flag, about 110,000 at 1.0), visited about twice a month, so that a visit names
the same head of household, by ID number, as the registry does; 10,000 welfare coupons
and 3,000 government or union service requests a day. For a day D it writes into
``landing/services/D/``:
- 关爱走访_D.xlsx: the day's care visits; the first export (no earlier day delivered) also
  carries the visits of the ``sim_history_days`` before D, as a care system's first
  export does, so that visits in the 30 days before D are known from the first day on;
- 福利券_D.csv (GBK): coupons issued on D and earlier coupons redeemed, expired or voided
  on D, each as it stands at the end of D; from ``COUPON_BATCH_COLUMN_FROM`` the vendor's
  export carries a new column 发放批次 the contract does not know;
- 服务诉求_D.csv (UTF-8): requests submitted or completed on D.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from civiclake.contracts import services
from civiclake.geography import Geography, load_geography
from civiclake.ingest import raw_exports
from civiclake.settings import Settings
from simulators.defects import Defects, point_in, scaled
from simulators.export_writer import write_export
from simulators.party import residents
from simulators.people import Resident
from simulators.resources import snapshot

log = logging.getLogger(__name__)

VISITS_PER_HOUSEHOLD_PER_DAY = 2 / 30
FULL_COUPONS_PER_DAY = 10_000
FULL_REQUESTS_PER_DAY = 3_000
COUPON_DAYS = 14  # a coupon is redeemed within this many days or expires
REQUEST_DAYS = 7  # a request is completed within this many days
COUPON_BATCH_COLUMN_FROM = date(2026, 11, 20)
COUPON_VALUES = {"consumption": 50.0, "elderly_meal": 15.0, "hardship": 200.0, "union_welfare": 100.0}
MERCHANTS = ("华润万家观澜店", "天虹龙华店", "社区长者饭堂", "百佳超市民治店", "沃尔玛大浪店")
SUMMARIES = {
    "social_insurance": "咨询社保医保缴费与报销政策",
    "registration": "办理户籍证照相关业务",
    "employment": "咨询就业创业补贴申请",
    "legal_aid": "申请法律援助咨询",
    "worker_support": "申请职工困难帮扶",
    "labour_dispute": "反映劳动报酬争议，请求协调",
    "school_admission": "咨询子女入学积分办理",
}


# The registry's care flags (households) → the visits' care category; a household of several
# types is visited under the first.
CARE_FLAGS = {
    "elderly_living_alone": "elderly_alone",
    "has_disabled_member": "disabled",
    "child_in_difficulty": "children_in_difficulty",
    "low_income": "low_income",
}


@dataclass(frozen=True)
class Household:
    household_id: str
    head_id_number: str
    head_name: str
    care_category: str
    community_code: str
    grid_code: str
    registered_on: date


def households(settings: Settings, geography: Geography, day: date) -> list[Household]:
    """The households receiving care on ``day``: those with a care flag in the household
    registry's extract of the day, by household_id."""
    registry = snapshot("households", day, settings, geography)
    care = registry[registry[list(CARE_FLAGS)].any(axis=1)].sort_values("household_id")
    return [
        Household(
            row.household_id,
            row.head_id_number,
            row.head_name,
            next(category for flag, category in CARE_FLAGS.items() if getattr(row, flag)),
            row.community_code,
            row.grid_code,
            row.registered_on,
        )
        for row in care.itertuples(index=False)
    ]


def _visits_on(settings: Settings, geography: Geography, day: date, care: list[Household]) -> list[dict]:
    """The visits made on ``day`` to the households ``care``."""
    rng = random.Random(f"care-visits-{settings.seed}-{day.isoformat()}")
    defects = Defects(settings.seed, "care-visits", day)
    start = datetime.combine(day, time())
    stamp = f"{day:%Y%m%d}"
    rows = []
    for n, h in enumerate(h for h in care if rng.random() < VISITS_PER_HOUSEHOLD_PER_DAY):
        kind = rng.choices(list(services.VISIT_KINDS.values()), weights=(6, 3, 1))[0]
        need = rng.choices(list(services.NEEDS.values()), weights=(60, 12, 10, 8, 6, 4))[0]
        # A home visit is placed at the household's home: a point of its grid, the same one
        # every time.
        grid = geography.grids.get(h.grid_code)
        home = random.Random(f"care-home-{settings.seed}-{h.household_id}")
        lon, lat = point_in(home, grid) if grid else (None, None)
        record = {
            "visit_id": f"ZF{stamp}{n:06d}",
            "household_id_number": h.head_id_number,
            "household_head_name": h.head_name,
            "care_category": h.care_category,
            "community_code": h.community_code,
            "grid_code": h.grid_code,
            "worker_id": f"WG{h.grid_code}",
            "visit_kind": kind,
            "visited_at": start + timedelta(hours=rng.randint(8, 17), minutes=rng.randint(0, 59)),
            "need": need,
            "follow_up": need != "none" and rng.random() < 0.6,
            "lon": lon if kind == "home_visit" else None,
            "lat": lat if kind == "home_visit" else None,
        }
        rows += defects.apply(
            record,
            id_field="household_id_number",
            community_field="community_code",
            lon_field="lon",
            time_field="visited_at",
        )
    return rows


def _first_delivery(settings: Settings, day: date) -> bool:
    """No day before ``day`` was delivered: no earlier batch folder (an ingested batch keeps
    its folder and receipt)."""
    root = settings.landing / "services"
    earlier = [p for p in root.iterdir() if p.is_dir() and p.name < day.isoformat()] if root.is_dir() else []
    return not earlier


def _visits(settings: Settings, geography: Geography, day: date) -> list[dict]:
    """The care visits of the export of ``day``: the day's, after those of the history days on
    a first delivery. History days visit the households of the registry of ``day`` that were
    registered by then (one extract read, not one per history day)."""
    care = households(settings, geography, day)
    history = settings.sim_history_days if _first_delivery(settings, day) else 0
    rows = []
    for offset in range(history, 0, -1):
        earlier = day - timedelta(days=offset)
        rows += _visits_on(settings, geography, earlier, [h for h in care if h.registered_on <= earlier])
    return rows + _visits_on(settings, geography, day, care)


@dataclass(frozen=True)
class CouponPlan:
    coupon_id: str
    kind: str
    holder: Resident
    community_code: str
    issued_at: datetime
    redeemed_at: datetime | None
    voided_at: datetime | None
    batch: str

    @property
    def expires_at(self) -> datetime:
        return datetime.combine(self.issued_at.date() + timedelta(days=COUPON_DAYS), time())

    def state_at(self, moment: datetime) -> dict | None:
        if moment < self.issued_at:
            return None
        status, updated, redeemed = "issued", self.issued_at, None
        if self.voided_at and self.voided_at <= moment:
            status, updated = "voided", self.voided_at
        elif self.redeemed_at and self.redeemed_at <= moment:
            status, updated, redeemed = "redeemed", self.redeemed_at, self.redeemed_at
        elif self.redeemed_at is None and self.voided_at is None and self.expires_at <= moment:
            status, updated = "expired", self.expires_at
        return {
            "coupon_id": self.coupon_id,
            "coupon_kind": self.kind,
            "face_value": COUPON_VALUES[self.kind],
            "holder_id_number": self.holder.id_number,
            "holder_phone": self.holder.mobile,
            "community_code": self.community_code,
            "issued_at": self.issued_at,
            "status": status,
            "redeemed_at": redeemed,
            "merchant": MERCHANTS[int(self.coupon_id[-6:]) % len(MERCHANTS)] if redeemed else None,
            "updated_at": updated,
            "发放批次": self.batch,
        }


def coupons_issued_on(settings: Settings, geography: Geography, day: date) -> list[CouponPlan]:
    rng = random.Random(f"coupons-{settings.seed}-{day.isoformat()}")
    pool = residents(settings)
    communities = sorted(geography.communities)
    start = datetime.combine(day, time())
    plans = []
    for n in range(scaled(FULL_COUPONS_PER_DAY, settings.sim_scale)):
        issued = start + timedelta(hours=rng.randint(8, 20), minutes=rng.randint(0, 59))
        redeemed = (
            issued + timedelta(hours=rng.uniform(0.5, COUPON_DAYS * 24 - 1)) if rng.random() < 0.7 else None
        )
        voided = (
            issued + timedelta(hours=rng.uniform(1, 48)) if redeemed is None and rng.random() < 0.03 else None
        )
        plans.append(
            CouponPlan(
                f"QJ{day:%Y%m%d}{n:06d}",
                rng.choices(list(COUPON_VALUES), weights=(5, 2, 1, 2))[0],
                rng.choice(pool),
                rng.choice(communities),
                issued,
                redeemed.replace(microsecond=0) if redeemed else None,
                voided.replace(microsecond=0) if voided else None,
                f"PC{day:%Y%m%d}",
            )
        )
    return plans


def _coupons(settings: Settings, geography: Geography, day: date) -> list[dict]:
    day_start = datetime.combine(day, time())
    day_end = day_start + timedelta(days=1) - timedelta(seconds=1)
    defects = Defects(settings.seed, "coupons", day)
    rows = []
    for offset in range(COUPON_DAYS, -1, -1):
        for plan in coupons_issued_on(settings, geography, day - timedelta(days=offset)):
            state = plan.state_at(day_end)
            if state is not None and state["updated_at"] >= day_start:
                rows += defects.apply(
                    state,
                    id_field="holder_id_number",
                    community_field="community_code",
                    time_field="updated_at",
                )
    return rows


def _requests(settings: Settings, geography: Geography, day: date) -> list[dict]:
    day_start = datetime.combine(day, time())
    day_end = day_start + timedelta(days=1) - timedelta(seconds=1)
    pool = residents(settings)
    communities = sorted(geography.communities)
    defects = Defects(settings.seed, "requests", day)
    rows = []
    for offset in range(REQUEST_DAYS, -1, -1):
        submitted_day = day - timedelta(days=offset)
        rng = random.Random(f"requests-{settings.seed}-{submitted_day.isoformat()}")
        start = datetime.combine(submitted_day, time())
        for n in range(scaled(FULL_REQUESTS_PER_DAY, settings.sim_scale)):
            channel = rng.choices(("government", "union"), weights=(3, 1))[0]
            kinds = (
                ("worker_support", "labour_dispute", "legal_aid") if channel == "union" else tuple(SUMMARIES)
            )
            kind = rng.choice(kinds)
            person = rng.choice(pool)
            submitted = start + timedelta(hours=rng.randint(8, 19), minutes=rng.randint(0, 59))
            hours = min(rng.lognormvariate(math.log(30), 1.0), REQUEST_DAYS * 24 - 1)
            completed = (submitted + timedelta(hours=hours)).replace(microsecond=0)
            with_id = rng.random() < 0.7
            code = rng.choice(communities)
            if not (submitted_day == day or day_start <= completed <= day_end):
                continue
            done = completed <= day_end
            record = {
                "request_id": f"SQ{submitted_day:%Y%m%d}{n:06d}",
                "channel": channel,
                "request_type": kind,
                "requester_name": person.name,
                "requester_phone": person.mobile,
                "requester_id_number": person.id_number if with_id else None,
                "community_code": code,
                "submitted_at": submitted,
                "status": "completed" if done else ("in_progress" if hours < 48 else "accepted"),
                "completed_at": completed if done else None,
                "summary": SUMMARIES[kind],
            }
            rows += defects.apply(
                record,
                id_field="requester_id_number",
                community_field="community_code",
                time_field="submitted_at",
            )
    return rows


def simulate_day(day: date, settings: Settings) -> dict[str, int]:
    """Writes the people-services exports of ``day`` (0600 files in a 0700 folder); returns rows
    written per file, none when the day was ingested before (``raw_exports.ingested_before``)."""
    geography = load_geography()
    folder = raw_exports.private_dir(settings.landing, "services", day.isoformat())
    if raw_exports.ingested_before(folder):
        return {}
    stamp = f"{day:%Y%m%d}"
    written = {
        f"关爱走访_{stamp}.xlsx": write_export(
            folder / f"关爱走访_{stamp}.xlsx", services.CARE_VISITS, _visits(settings, geography, day)
        ),
        f"福利券_{stamp}.csv": write_export(
            folder / f"福利券_{stamp}.csv",
            services.COUPONS,
            _coupons(settings, geography, day),
            extra_columns=("发放批次",) if day >= COUPON_BATCH_COLUMN_FROM else (),
        ),
        f"服务诉求_{stamp}.csv": write_export(
            folder / f"服务诉求_{stamp}.csv", services.REQUESTS, _requests(settings, geography, day)
        ),
    }
    log.info("simulated people-services exports for %s in %s: %s", day, folder, written)
    return written
