"""The party-building export simulator: deterministic, sized by scale, readable by its contracts."""

from __future__ import annotations

from datetime import date

from civiclake.contracts import party
from civiclake.geography import load_geography
from civiclake.ingest.files import read_batch
from civiclake.ingest.validate import check_batch
from civiclake.jurisdiction import load_jurisdiction
from civiclake.settings import Settings
from simulators import party as party_sim

DAY = date(2026, 11, 25)


def settings(tmp_path, **overrides) -> Settings:
    return Settings(data_dir=tmp_path, **{"sim_scale": 0.002, **overrides})


def contents(folder, contract):
    return [(r.file_name, [row.values for row in r.rows]) for r in read_batch(folder, contract)]


def test_same_seed_and_day_give_the_same_exports(tmp_path):
    a, b, c = (settings(tmp_path / n) for n in "abc")
    party_sim.simulate_day(DAY, a)
    party_sim.simulate_day(DAY, b)
    party_sim.simulate_day(date(2026, 11, 26), c)
    folder = lambda s, d=DAY: s.data_dir / "landing" / "party" / d.isoformat()  # noqa: E731
    for contract in party.CONTRACTS:
        assert contents(folder(a), contract) == contents(folder(b), contract), contract.table
    assert contents(folder(a), party.LEARNING) != [
        (name.replace("20261126", "20261125"), rows)
        for name, rows in contents(folder(c, date(2026, 11, 26)), party.LEARNING)
    ]


def test_every_export_reads_with_its_contract_and_few_rows_are_bad(tmp_path):
    s = settings(tmp_path)
    written = party_sim.simulate_day(DAY, s)
    folder = s.data_dir / "landing" / "party" / DAY.isoformat()
    assert len([n for n in written if n.startswith("组织生活_")]) == len(load_geography().streets)
    total = bad = 0
    for contract in party.CONTRACTS:
        reads = read_batch(folder, contract)
        assert reads and all(r.status in ("loaded", "empty") for r in reads), contract.table
        if contract.source.encoding == "gbk":
            assert {r.encoding for r in reads if r.status == "loaded"} == {"gbk"}
        rows = check_batch(reads, contract, DAY, load_geography(), load_jurisdiction("longhua"))
        assert len(rows) == sum(v for k, v in written.items() if k.startswith(contract.source.title))
        total += len(rows)
        bad += sum(1 for r in rows if r.reason)
    assert total > 200
    assert bad < 0.03 * total


def test_member_register_grows_with_scale_and_marks_leavers_deleted(tmp_path):
    small = party_sim.simulate_day(DAY, settings(tmp_path / "small"))
    large = party_sim.simulate_day(DAY, settings(tmp_path / "large", sim_scale=0.004))
    members_small = small["党员信息_20261125.xlsx"]
    members_large = large["党员信息_20261125.xlsx"]
    assert 150 <= members_small <= 175  # 85,000 × 0.002, less those who join later
    assert 1.8 < members_large / members_small < 2.2
    s = settings(tmp_path / "small")
    rows = check_batch(
        read_batch(s.data_dir / "landing" / "party" / DAY.isoformat(), party.MEMBERS),
        party.MEMBERS,
        DAY,
        load_geography(),
        load_jurisdiction("longhua"),
    )
    leavers = {
        m.member_id
        for m in party_sim.members(s, party_sim.organisations(s, load_geography()))
        if m.left_on and m.left_on <= DAY and m.joined_on <= DAY
    }
    deleted = {r.values["member_id"] for r in rows if r.values["is_deleted"] == "true"}
    assert deleted == leavers
