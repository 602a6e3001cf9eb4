"""The people-services export simulator: coupons change state across days, a new column
appears on its date, care visits reference households only by what gets tokenised."""

from __future__ import annotations

from datetime import date, timedelta

from civiclake.contracts import services
from civiclake.geography import load_geography
from civiclake.ingest.files import read_batch
from civiclake.ingest.validate import check_batch
from civiclake.jurisdiction import load_jurisdiction
from civiclake.settings import Settings
from simulators import services as services_sim

DAY = date(2026, 11, 25)


def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, sim_scale=0.002)


def checked(s: Settings, day: date, contract):
    reads = read_batch(s.data_dir / "landing" / "services" / day.isoformat(), contract)
    return reads, check_batch(reads, contract, day, load_geography(), load_jurisdiction("longhua"))


def test_coupon_issued_earlier_comes_back_with_its_new_status(tmp_path):
    s = settings(tmp_path)
    plans = services_sim.coupons_issued_on(s, load_geography(), DAY - timedelta(days=3))
    plan = next(p for p in plans if p.redeemed_at and p.redeemed_at.date() > p.issued_at.date())
    redeemed_day = plan.redeemed_at.date()
    services_sim.simulate_day(redeemed_day, s)
    _, rows = checked(s, redeemed_day, services.COUPONS)
    (row,) = [r for r in rows if r.values["coupon_id"] == plan.coupon_id and r.reason is None]
    assert row.values["status"] == "redeemed"
    assert row.values["redeemed_at"] == plan.redeemed_at.strftime("%Y-%m-%d %H:%M:%S")


def test_new_coupon_column_appears_from_its_date_and_is_kept(tmp_path):
    s = settings(tmp_path)
    before = services_sim.COUPON_BATCH_COLUMN_FROM - timedelta(days=1)
    for day in (before, services_sim.COUPON_BATCH_COLUMN_FROM):
        services_sim.simulate_day(day, s)
    (old,), _ = checked(s, before, services.COUPONS)
    (new,), rows = checked(s, services_sim.COUPON_BATCH_COLUMN_FROM, services.COUPONS)
    assert old.new_columns == [] and new.new_columns == ["发放批次"]
    assert new.encoding == "gbk"
    assert all(r.extra["发放批次"].startswith("PC") for r in rows)


def test_care_visits_reference_households_by_tokenised_fields_only(tmp_path):
    pii = {f.name for f in services.CARE_VISITS.fields if f.pii}
    assert pii == {"household_id_number", "household_head_name"}
    s = settings(tmp_path)
    written = services_sim.simulate_day(DAY, s)
    _, rows = checked(s, DAY, services.CARE_VISITS)
    assert len(rows) == written["关爱走访_20261125.xlsx"] > 0
    assert {r.values["care_category"] for r in rows if r.reason is None} <= set(
        services.CARE_CATEGORIES.values()
    )
    assert sum(1 for r in rows if r.reason) <= 0.05 * len(rows) + 1


def test_requests_of_the_day_include_earlier_ones_completed_on_it(tmp_path):
    s = settings(tmp_path)
    services_sim.simulate_day(DAY, s)
    _, rows = checked(s, DAY, services.REQUESTS)
    good = [r for r in rows if r.reason is None]
    completed_today = [r for r in good if (r.values["completed_at"] or "").startswith("2026-11-25")]
    # Every request submitted on the day is there (ids carry the day; defects never touch ids).
    assert {r.values["request_id"] for r in rows if r.values["request_id"].startswith("SQ20261125")} == {
        f"SQ20261125{n:06d}" for n in range(round(3000 * 0.002))
    }
    assert any(not r.values["submitted_at"].startswith("2026-11-25") for r in completed_today)
    assert all(r.values["status"] == "completed" for r in completed_today)
