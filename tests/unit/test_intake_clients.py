"""The intake API's pieces without a database: client keys, places, limits, the CLI, secrets.sh."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import typer
from typer.testing import CliRunner

from civiclake.cli import app
from civiclake.geography import load_geography
from civiclake.intake.clients import ClientKeysError, client_of, parse_clients
from civiclake.intake.limits import RateLimiter, RecentPosts, retry_after
from civiclake.intake.places import PlaceError, place_of_address, place_of_point
from civiclake.jurisdiction import load_jurisdiction
from civiclake.settings import PROJECT_ROOT, MissingSecretError, Settings

KEY_A, KEY_B = "a" * 20, "b" * 20


def test_clients_come_with_their_channels_and_keys():
    clients = parse_clients(f" ilonghua:mini_program:{KEY_A} ,\n# the bridge\nbridge:hotline_12345:{KEY_B}\n")
    assert [(c.name, c.channel) for c in clients] == [
        ("ilonghua", "mini_program"),
        ("bridge", "hotline_12345"),
    ]
    assert client_of(KEY_B, clients).name == "bridge"
    assert client_of(KEY_A, clients).channel == "mini_program"
    for wrong in ("", KEY_A[:-1], KEY_A + "a", KEY_A.upper(), "钥匙" * 10):
        assert client_of(wrong, clients) is None
    # A key never reaches a log line through the client's repr.
    assert KEY_A not in repr(clients)


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "no intake clients"),
        (f"ilonghua:{KEY_A}", "not client:channel:key"),
        (f"ilonghua::{KEY_A}", "not client:channel:key"),
        (f"ilonghua:wechat:{KEY_A}", "unknown channel 'wechat'"),
        ("ilonghua:mini_program:short", "shorter than 16"),
        (f"a:mini_program:{KEY_A},a:hotline_12345:{KEY_B}", "configured twice"),
        (f"a:mini_program:{KEY_A},b:hotline_12345:{KEY_A}", "share a key"),
    ],
)
def test_malformed_client_keys_are_refused_without_showing_a_key(text, message):
    with pytest.raises(ClientKeysError, match=message) as error:
        parse_clients(text)
    assert KEY_A not in str(error.value)


def test_client_keys_come_from_the_environment_or_a_file(tmp_path, monkeypatch):
    monkeypatch.delenv("CIVICLAKE_INTAKE_API_KEYS", raising=False)
    monkeypatch.delenv("CIVICLAKE_INTAKE_API_KEYS_FILE", raising=False)
    with pytest.raises(MissingSecretError, match="CIVICLAKE_INTAKE_API_KEYS"):
        Settings().intake_clients_text()
    keys = tmp_path / "keys"
    keys.write_text(f"ilonghua:mini_program:{KEY_A}\n")
    monkeypatch.setenv("CIVICLAKE_INTAKE_API_KEYS_FILE", str(keys))
    assert parse_clients(Settings().intake_clients_text())[0].key == KEY_A
    monkeypatch.setenv("CIVICLAKE_INTAKE_API_KEYS", f"bridge:hotline_12345:{KEY_B}")
    assert parse_clients(Settings().intake_clients_text())[0].name == "bridge"
    monkeypatch.delenv("CIVICLAKE_INTAKE_API_KEYS")
    keys.unlink()
    with pytest.raises(MissingSecretError, match="cannot read it"):
        Settings().intake_clients_text()


def test_a_point_is_placed_in_its_grid_and_one_outside_is_refused():
    longhua, geography = load_jurisdiction("longhua"), load_geography()
    place = place_of_point(" 22.7301", "113.9702 ", longhua, geography)
    assert place.location == geography.locate(113.9702, 22.7301)
    assert place.key == "22.73010,113.97020"
    # The district's outer edge is inside, one step beyond is not.
    assert place_of_point("22.78", "114.1", longhua, geography).location is not None
    with pytest.raises(PlaceError, match="outside 深圳市龙华区"):
        place_of_point("22.7801", "114.1", longhua, geography)
    # Inside the configured jurisdiction's box, but not in the district's grids.
    with pytest.raises(PlaceError, match="in no grid of 龙华区"):
        place_of_point("40.7128", "-74.0060", load_jurisdiction("nyc"), geography)


def test_an_address_is_placed_by_the_community_or_street_it_names():
    longhua, geography = load_jurisdiction("longhua"), load_geography()
    communities = {a.name: a for a in geography.communities.values()}
    streets = {a.name: a for a in geography.streets.values()}
    place = place_of_address("观澜街道观澜社区桂花路3号", longhua, geography)
    assert place.location.community_code == communities["观澜社区"].code
    assert place.key == f"area:{communities['观澜社区'].code}"
    only_street = place_of_address("民治街道某小区", longhua, geography)
    assert only_street.location.street_code == streets["民治街道"].code
    with pytest.raises(PlaceError, match="not in 民治街道"):
        place_of_address("民治街道观澜社区", longhua, geography)
    with pytest.raises(PlaceError, match="names no single community"):
        place_of_address("观澜街道和民治街道交界", longhua, geography)
    with pytest.raises(PlaceError, match="at most 500"):
        place_of_address("观澜社区" + "路" * 500, longhua, geography)


def test_a_token_bucket_refills_at_its_rate():
    now = [0.0]
    limiter = RateLimiter(burst=2, per_minute=30, now=lambda: now[0])
    assert limiter.take("k") == 0 and limiter.take("k") == 0
    assert limiter.take("k") == pytest.approx(2.0)  # one token every 2 s
    assert limiter.take("other") == 0
    now[0] = 1.0
    assert limiter.take("k") == pytest.approx(1.0)
    now[0] = 2.0
    assert limiter.take("k") == 0
    now[0] = 100.0  # a long pause fills the bucket to its burst, no further
    assert [limiter.take("k") for _ in range(3)][-1] > 0
    assert retry_after(0.2) == "1" and retry_after(2.01) == "3"


def test_recent_posts_are_forgotten_after_their_window():
    now = [0.0]
    recent = RecentPosts(60, now=lambda: now[0])
    recent.remember("p", "GA20261125000001")
    now[0] = 59.5
    assert recent.seen("p") == ("GA20261125000001", pytest.approx(0.5))
    assert recent.seen("q") is None
    now[0] = 60.0
    assert recent.seen("p") is None


def test_serve_intake_listens_on_loopback_and_needs_keys(monkeypatch):
    serve = typer.main.get_command(app).commands["serve"].commands["intake"]
    assert {p.name for p in serve.params} >= {"port", "host", "simulated_day"}
    assert Settings().intake_host == "127.0.0.1" and Settings().intake_port == 8320
    monkeypatch.delenv("CIVICLAKE_INTAKE_API_KEYS", raising=False)
    monkeypatch.delenv("CIVICLAKE_INTAKE_API_KEYS_FILE", raising=False)
    result = CliRunner().invoke(app, ["serve", "intake", "--port", "0"])
    assert result.exit_code == 1
    assert "CIVICLAKE_INTAKE_API_KEYS" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["serve", "intake", "--simulated-day", "25/11/2026"])
    assert result.exit_code == 2 and "2026-11-25" in result.output


def test_secrets_sh_generates_the_intake_keys_once(tmp_path):
    (tmp_path / "infra").mkdir()
    shutil.copy(PROJECT_ROOT / "infra" / "secrets.sh", tmp_path / "infra" / "secrets.sh")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}

    def keys() -> str:
        subprocess.run(["bash", str(tmp_path / "infra" / "secrets.sh")], env=env, check=True, timeout=60)
        lines = (tmp_path / "var" / "secrets.env").read_text().splitlines()
        (line,) = [ln for ln in lines if ln.startswith("export CIVICLAKE_INTAKE_API_KEYS=")]
        return line.split("=", 1)[1]

    first = keys()
    clients = parse_clients(first)
    assert [(c.name, c.channel) for c in clients] == [
        ("ilonghua", "mini_program"),
        ("bridge12345", "hotline_12345"),
    ]
    assert keys() == first  # generated once per machine
    assert oct((tmp_path / "var" / "secrets.env").stat().st_mode & 0o777) == "0o600"
