"""The leaders' brief by e-mail, end to end against a local SMTP server (aiosmtpd) and a
small published marts file written by hand in the shape of mart_leader_brief_daily's
contract (dbt/models/marts/brief/_brief__models.yml): every area of the reference
geography on two days, each area with numbers of its own.

Needs the CJK font (fonts-noto-cjk, installed by infra/setup.sh); no PostgreSQL, no Spark.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import socket
from datetime import date, timedelta

import duckdb
import pytest
import yaml
from aiosmtpd.controller import Controller
from PIL import Image
from typer.testing import CliRunner

from civiclake.brief.numbers import FAMILY_HEADLINES, HEADLINES, value_text
from civiclake.brief.push import PastDayError, ledger_path, push_briefs
from civiclake.brief.recipients import DEFAULT_USERS_FILE, leader_roles_of, read_users
from civiclake.brief.rows import TABLE
from civiclake.geography import load_geography
from civiclake.settings import PROJECT_ROOT, Settings

DAY = date(2026, 11, 25)
SENDER = "龙华区指挥中心 <brief@longhua.civiclake.test>"
REFUSED = "refused@longhua.civiclake.test"
CONTRACT = PROJECT_ROOT / "dbt" / "models" / "marts" / "brief" / "_brief__models.yml"
DUCKDB_TYPES = {
    "date": "date",
    "string": "varchar",
    "bigint": "bigint",
    "integer": "integer",
    "double": "double",
}


def contract_columns() -> dict[str, str]:
    """Column name -> DuckDB type, from the mart's enforced contract."""
    (model,) = [
        m for m in yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))["models"] if m["name"] == TABLE
    ]
    return {c["name"]: DUCKDB_TYPES[c["data_type"]] for c in model["columns"]}


COLUMNS = contract_columns()
LEADERS = [
    {
        "username": "civiclake_leader",
        "role": "civiclake_district_leader",
        "email": "leader@lh.test",
        "name": "区值班领导",
    },
    {
        "username": "civiclake_street_guanlan",
        "role": "civiclake_street_440309006",
        "email": "gl@lh.test",
        "name": "李书记",
    },
    {
        "username": "civiclake_street_minzhi",
        "role": "civiclake_street_440309002",
        "email": "mz@lh.test",
        "name": "周主任",
    },
    {
        "username": "civiclake_community_kukeng",
        "role": "civiclake_community_440309006002",
        "email": "kk@lh.test",
        "name": "王网格长",
    },
]
OTHERS = [
    {
        "username": "civiclake_analyst",
        "role": "civiclake_analyst",
        "email": "analyst@lh.test",
        "name": "分析员",
    },
    {"username": "civiclake_admin", "role": "Admin", "email": "admin@lh.test", "name": "管理员"},
    {
        "username": "civiclake_lost",
        "role": "civiclake_community_440309009999",
        "email": "lost@lh.test",
        "name": "某社区",
    },
    {
        "username": "civiclake_refused",
        "role": "civiclake_community_440309002001",
        "email": REFUSED,
        "name": "退信",
    },
]


def area_rows(day: date, shift: int) -> list[dict]:
    """One row per area of the reference geography; every area's numbers differ."""
    geo = load_geography()
    areas = [("district", geo.district.code, geo.district.name, None, None, None)]
    areas += [("street", s.code, s.name, s.parent_code, s.code, None) for s in geo.streets.values()]
    areas += [
        ("community", c.code, c.name, c.parent_code, c.parent_code, c.code) for c in geo.communities.values()
    ]
    rows = []
    for i, (level, code, name, parent, street, community) in enumerate(areas):
        n = 1000 + 37 * i + shift
        row = {
            "report_date": day,
            "level": level,
            "area_code": code,
            "area_name": name,
            "parent_code": parent,
            "street_code": street,
            "community_code": community,
            "cases_reported": n,
            "closures": n - 11,
            "backlog_open": 3 * n,
            "overdue_open": n // 7,
            "response_rate": 0.5 + i / 200,
            "on_time_rate": 0.4 + i / 150,
            "satisfaction_avg": 3.0 + i / 40,
            "score": 0.8 + i / 100,
            "rank_in_level": None if level == "district" or i % 9 == 0 else i % 9,
            "areas_ranked": 1 if level == "district" else 6 if level == "street" else 45,
        }
        for h in FAMILY_HEADLINES:  # the other families' headlines, where the contract has them
            row[h.column] = (i % 13) * (1 if h.kind == "count" else 0.031)
        for h in HEADLINES:
            step = 1 if h.kind == "count" else 0.01
            row[f"{h.column}_change_1d"] = (i % 5 - 2) * step
            row[f"{h.column}_change_7d"] = None if i % 4 == 0 else (i % 7 - 3) * step
        rows.append(row)
    return rows


@pytest.fixture()
def marts_rows(tmp_path) -> dict:
    """The published marts file of ``settings``: all areas on DAY and the day before."""
    marts_dir = tmp_path / "marts"
    marts_dir.mkdir()
    today, yesterday = area_rows(DAY, 0), area_rows(DAY - timedelta(days=1), 5)
    with duckdb.connect(str(marts_dir / "civiclake.duckdb")) as con:
        con.execute(
            f"create table mart_leader_brief_daily ({', '.join(f'{c} {t}' for c, t in COLUMNS.items())})"
        )
        con.executemany(
            f"insert into mart_leader_brief_daily values ({', '.join('?' * len(COLUMNS))})",
            [[r.get(c) for c in COLUMNS] for r in today + yesterday],
        )
    return {(r["level"], r["area_code"]): r for r in today}


class Mailbox:
    """What the SMTP server accepted; refuses REFUSED at RCPT like a server without that mailbox."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == REFUSED:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@pytest.fixture()
def mailbox():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.port = port
    yield box
    controller.stop()


@pytest.fixture()
def settings(tmp_path, mailbox, marts_rows) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        marts_dir=tmp_path / "marts",
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_tls="none",
        smtp_sender=SENDER,
    )


@pytest.fixture()
def users_file(tmp_path):
    path = tmp_path / "users.yaml"
    path.write_text(yaml.safe_dump({"users": LEADERS + OTHERS}, allow_unicode=True), encoding="utf-8")
    return path


def expected_row(user: dict, marts_rows: dict) -> dict:
    role = user["role"]
    if role == "civiclake_district_leader":
        return marts_rows[("district", "440309")]
    level, code = role.removeprefix("civiclake_").split("_", 1)
    return marts_rows[(level, code)]


def test_each_leader_gets_one_brief_of_their_own_area_once(settings, users_file, mailbox, marts_rows):
    outcome = push_briefs(settings, DAY, users_file)

    assert len(outcome.sent) == len(LEADERS), outcome
    assert sorted(outcome.not_leaders) == ["civiclake_admin", "civiclake_analyst"]
    # One recipient's failure does not stop the others, and names the user and address.
    assert len(outcome.failed) == 2, outcome.failed
    (lost,) = [f for f in outcome.failed if "civiclake_lost" in f]
    assert str(users_file) in lost and "lost@lh.test" in lost and "440309009999" in lost
    (refused,) = [f for f in outcome.failed if REFUSED in f]
    assert "civiclake_refused" in refused

    all_names = {r["area_name"] for r in marts_rows.values()}
    by_address = {}
    for rcpt_tos, message in mailbox.messages:
        assert len(rcpt_tos) == 1, rcpt_tos  # addressed to one person only
        by_address.setdefault(rcpt_tos[0], []).append(message)
    assert sorted(by_address) == sorted(u["email"] for u in LEADERS)
    for user in LEADERS:
        (message,) = by_address[user["email"]]  # exactly one message each
        row = expected_row(user, marts_rows)
        assert [a.addr_spec for a in message["To"].addresses] == [user["email"]]
        assert message["Cc"] is None and message["Bcc"] is None
        assert row["area_name"] in message["Subject"]
        text = message.get_body(("plain",)).get_content()
        assert f"以下是{row['area_name']}（" in text
        assert f"新增案件：{row['cases_reported']:,}（" in text
        assert f"积压：{row['backlog_open']:,}（" in text
        assert f"超期未结：{row['overdue_open']:,}（" in text
        assert f"按时响应率：{row['response_rate']:.1%}（" in text
        assert f"综合评分：{row['score']:.2f}（" in text
        for h in FAMILY_HEADLINES:
            if h.column in COLUMNS:
                assert f"{h.label}：{value_text(row[h.column], h.kind)}（" in text
        others = {n for n in all_names if n != row["area_name"]}
        leaked = [n for n in others if n in text or n in message["Subject"]]
        assert not leaked, f"{user['username']}'s brief names other areas: {leaked}"

        (attachment,) = message.iter_attachments()
        assert attachment.get_content_type() == "image/png"
        png = attachment.get_content()
        assert 20_000 < len(png) < 2_000_000, len(png)
        image = Image.open(io.BytesIO(png))
        image.verify()
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG" and 800 <= image.width <= 2000 and image.height > image.width
        drawn = json.loads(image.text["Description"])
        assert (drawn["level"], drawn["area_code"], drawn["area_name"]) == (
            row["level"],
            row["area_code"],
            row["area_name"],
        )
        for h in (h for h in HEADLINES if h.column in COLUMNS):
            assert drawn[h.column] == pytest.approx(row[h.column]), h.column
            for p in ("1d", "7d"):
                assert drawn[f"{h.column}_change_{p}"] == pytest.approx(row[f"{h.column}_change_{p}"])

    # A rerun of the day sends nothing new; the ledger says who got theirs.
    delivered = len(mailbox.messages)
    again = push_briefs(settings, DAY, users_file)
    assert again.sent == [] and len(again.already_sent) == len(LEADERS)
    assert len(mailbox.messages) == delivered
    assert len(again.failed) == 2  # still failing, still reported
    assert ledger_path(settings).exists()


def test_cli_dry_run_writes_briefs_and_sends_nothing(tmp_path, settings, users_file, mailbox, monkeypatch):
    from civiclake.cli import app

    for key, value in {
        "CIVICLAKE_DATA_DIR": str(settings.data_dir),
        "CIVICLAKE_MARTS_DIR": str(settings.marts),
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CIVICLAKE_SMTP_HOST", raising=False)
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(
        app, ["brief", "send", "--date", str(DAY), "--dry-run", "--out", str(out), "--users", str(users_file)]
    )
    assert result.exit_code == 1, result.output  # the unknown area fails the run, at the end
    assert "civiclake_lost" in result.output
    rendered = len(LEADERS) + 1  # nothing is sent, so the refused address gets its file too
    assert len(list(out.glob("*.png"))) == rendered and len(list(out.glob("*.eml"))) == rendered
    assert mailbox.messages == [] and not ledger_path(settings).exists()

    # The DAG's call without an SMTP server: a clear line and the skip exit code.
    result = runner.invoke(app, ["brief", "send", "--date", str(DAY), "--skip-exit-code", "99"])
    assert result.exit_code == 99, result.output
    assert "brief push skipped" in result.output and "CIVICLAKE_SMTP_HOST" in result.output
    # Without the flag, a missing SMTP server is an error that says what to set.
    result = runner.invoke(app, ["brief", "send", "--date", str(DAY), "--users", str(users_file)])
    assert result.exit_code == 1 and "CIVICLAKE_SMTP_HOST is not set" in result.output


def test_no_marts_for_the_day_stops_before_sending(settings, users_file, mailbox):
    from civiclake.brief.rows import MartsNotReadyError

    with pytest.raises(MartsNotReadyError, match="no rows for 2026-12-01 .*publish the marts"):
        push_briefs(settings, date(2026, 12, 1), users_file)
    assert mailbox.messages == []


@pytest.mark.skipif(not DEFAULT_USERS_FILE.exists(), reason=f"{DEFAULT_USERS_FILE} not written yet")
def test_the_projects_users_file_gives_every_leader_a_brief(tmp_path, settings, mailbox, marts_rows):
    leaders = [u for u in read_users(DEFAULT_USERS_FILE) if leader_roles_of(u)]
    outcome = push_briefs(settings, DAY, DEFAULT_USERS_FILE)
    assert outcome.failed == []
    assert len(outcome.sent) == len(leaders) > 0
    received = {rcpt_tos[0]: message for rcpt_tos, message in mailbox.messages}
    for user in leaders:
        row = expected_row(user, marts_rows)
        text = received[user["email"]].get_body(("plain",)).get_content()
        assert f"以下是{row['area_name']}（" in text and f"新增案件：{row['cases_reported']:,}（" in text


def _published(settings: Settings, day: date) -> None:
    """A record that the marts of ``day`` were published (what `marts publish` writes)."""
    from civiclake.lake.history import LakeVersions
    from civiclake.marts_publications import Publication, now, record

    record(settings, Publication(day, now(), LakeVersions(str(settings.lake), {}), "digest", {}))


@pytest.fixture()
def smtp_env(settings, mailbox, monkeypatch):
    """The CLI's environment for ``settings``, with the test's SMTP server."""
    for key, value in {
        "CIVICLAKE_DATA_DIR": str(settings.data_dir),
        "CIVICLAKE_MARTS_DIR": str(settings.marts),
        "CIVICLAKE_SMTP_HOST": "127.0.0.1",
        "CIVICLAKE_SMTP_PORT": str(mailbox.port),
        "CIVICLAKE_SMTP_TLS": "none",
        "CIVICLAKE_SMTP_SENDER": SENDER,
    }.items():
        monkeypatch.setenv(key, value)


def test_a_past_day_sends_no_brief_once_a_newer_day_is_published(settings, users_file, mailbox, smtp_env):
    """A backfill of past days runs the brief step for each; leaders get the newest day's only."""
    from civiclake.cli import app

    send = ["brief", "send", "--date", str(DAY), "--users", str(users_file)]
    runner = CliRunner()
    _published(settings, DAY + timedelta(days=1))
    _published(settings, DAY)  # the backfilled day's own publication, recorded after the newer one
    result = runner.invoke(app, [*send, "--skip-exit-code", "99"])
    assert result.exit_code == 99, result.output
    assert f"brief of {DAY} not sent: the marts of {DAY + timedelta(days=1)}" in result.output
    result = runner.invoke(app, send)
    assert result.exit_code == 1 and "newest day only" in result.output
    assert mailbox.messages == [] and not ledger_path(settings).exists()
    # A dry run still renders the past day's briefs.
    out = settings.data_dir / "rendered"
    result = runner.invoke(app, [*send, "--dry-run", "--out", str(out)])
    assert len(list(out.glob("*.png"))) == len(LEADERS) + 1, result.output


def test_the_library_refuses_a_past_day_too(settings, users_file, mailbox):
    """The rule holds below the CLI: a direct call for a past day sends nothing."""
    _published(settings, DAY + timedelta(days=1))
    with pytest.raises(
        PastDayError, match=f"brief of {DAY} not sent: the marts of {DAY + timedelta(days=1)}"
    ):
        push_briefs(settings, DAY, users_file)
    assert mailbox.messages == [] and not ledger_path(settings).exists()
    outcome = push_briefs(settings, DAY, users_file, dry_run=True, out_dir=settings.data_dir / "rendered")
    assert len(outcome.written) > 0 and mailbox.messages == []


def test_the_newest_published_day_is_sent(settings, users_file, mailbox, smtp_env):
    from civiclake.cli import app

    _published(settings, DAY - timedelta(days=1))
    _published(settings, DAY)
    result = CliRunner().invoke(app, ["brief", "send", "--date", str(DAY), "--users", str(users_file)])
    # Every leader's brief goes out (the users file's two bad entries fail the run at the end).
    assert len(mailbox.messages) == len(LEADERS), result.output
