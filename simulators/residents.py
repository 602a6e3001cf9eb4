"""Residents posting requests through the intake API, as the i龙华 mini program sends them.

Deterministic by seed and day: a handful of requests (``PER_DAY``) in the colloquial Chinese
of the governance simulator's appeals (simulators.case_text), most placed by the phone's
coordinates inside a grid, some by an address naming the community, about half with the
resident's name and mobile number (which the API turns into tokens) and a few with the
number typed into the text as well. They are posted form-encoded, as GeoReport v2
specifies, with the key of the mini program's client (``CIVICLAKE_INTAKE_API_KEYS``).

A day is posted once: the ids the API answered are kept in a ledger
(``<data_dir>/intake/residents/<day>.json``), so a rerun of the day's step posts only what
did not get through before.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import requests

from civiclake.catalogue import CATEGORIES
from civiclake.geography import load_geography
from civiclake.intake.clients import parse_clients
from civiclake.settings import Settings
from simulators.case_text import compose
from simulators.people import make_resident

log = logging.getLogger(__name__)

PER_DAY = 12
CLIENT_CHANNEL = "mini_program"  # the residents' app: i龙华
ADDRESS_SHARE = 0.25  # placed by an address naming the community instead of coordinates
CONTACT_SHARE = 0.5  # leave their name and mobile number
NUMBER_IN_TEXT_SHARE = 0.15  # also type the number into the description
TIMEOUT_S = 30
# Weights of the categories residents report through the app (street-level nuisances first).
_CATEGORY_WEIGHTS = {
    "environment": 14,
    "street_vending": 8,
    "noise": 12,
    "parking": 12,
    "road_facility": 8,
    "manhole": 5,
    "property": 7,
    "fire_safety": 4,
    "labour": 3,
    "garbage": 12,
}


class IntakePostError(RuntimeError):
    """The intake API refused a simulated request or could not be reached."""


@dataclass(frozen=True)
class ResidentPost:
    number: int  # the post's place in the day, from 1
    fields: dict[str, str]


def requests_of(day: date, settings: Settings, count: int = PER_DAY) -> list[ResidentPost]:
    """The day's posts (without the API key), the same for the same seed and day."""
    geography = load_geography()
    rng = random.Random(f"residents-{settings.seed}-{day.isoformat()}")
    codes = sorted(geography.communities)
    posts = []
    for number in range(1, count + 1):
        category = rng.choices(CATEGORIES, weights=[_CATEGORY_WEIGHTS[c.code] for c in CATEGORIES])[0]
        community = geography.communities[rng.choice(codes)]
        street = geography.streets[community.parent_code]
        description = compose(rng, category.code, community.name.removesuffix("社区"))
        fields = {"service_code": category.code}
        if rng.random() < ADDRESS_SHARE:
            fields["address_string"] = f"深圳市龙华区{street.name}{community.name}{rng.randint(1, 300)}号附近"
        else:
            grid = rng.choice(geography.grids_of(community.code))
            fields["lat"] = f"{rng.uniform(grid.box.min_lat, grid.box.max_lat - 1e-6):.6f}"
            fields["long"] = f"{rng.uniform(grid.box.min_lon, grid.box.max_lon - 1e-6):.6f}"
        if rng.random() < CONTACT_SHARE:
            resident = make_resident(rng)
            fields["last_name"], fields["first_name"] = resident.name[0], resident.name[1:]
            fields["phone"] = resident.mobile
            if rng.random() < NUMBER_IN_TEXT_SHARE / CONTACT_SHARE:
                description = f"{description}联系电话{resident.mobile}"
        fields["description"] = description
        fields["device_id"] = f"ilonghua-{rng.getrandbits(48):012x}"
        posts.append(ResidentPost(number, fields))
    return posts


def demo_key(settings: Settings) -> str:
    """The key of the first configured client of the mini-program channel."""
    for client in parse_clients(settings.intake_clients_text()):
        if client.channel == CLIENT_CHANNEL:
            return client.key
    raise IntakePostError(
        f"no intake client of channel {CLIENT_CHANNEL!r} in CIVICLAKE_INTAKE_API_KEYS "
        "(infra/secrets.sh generates one named ilonghua)"
    )


def _ledger_path(day: date, settings: Settings) -> Path:
    return Path(settings.data_dir) / "intake" / "residents" / f"{day.isoformat()}.json"


def post_requests(day: date, settings: Settings, base_url: str) -> int:
    """Posts the day's requests not posted before to the intake API at ``base_url``; returns how
    many it posted now."""
    ledger_path = _ledger_path(day, settings)
    posted: dict[str, str] = json.loads(ledger_path.read_text()) if ledger_path.exists() else {}
    todo = [p for p in requests_of(day, settings) if str(p.number) not in posted]
    if not todo:
        log.info("residents' requests for %s were posted before (%s)", day, ledger_path)
        return 0
    key = demo_key(settings)
    url = f"{base_url.rstrip('/')}/open311/v2/requests.json"
    ledger_path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with requests.Session() as session:
        for post in todo:
            try:
                answer = session.post(url, data={"api_key": key, **post.fields}, timeout=TIMEOUT_S)
            except requests.RequestException as error:
                raise IntakePostError(
                    f"the intake API at {base_url} cannot be reached ({error}); start it with "
                    f"infra/intake/start.sh {day}"
                ) from None
            if answer.status_code != 201:
                raise IntakePostError(
                    f"the intake API refused resident request {post.number} of {day} "
                    f"(HTTP {answer.status_code}): {answer.text[:500]}"
                )
            posted[str(post.number)] = answer.json()[0]["service_request_id"]
            ledger_path.write_text(json.dumps(posted, indent=1, sort_keys=True))
            count += 1
    log.info("posted %d residents' requests for %s to %s", count, day, url)
    return count
