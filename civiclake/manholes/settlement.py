"""The settlement of a manhole-cover repair under 先修后定 ("repair first, settle later").

The street's squad repairs a damaged cover at once, whoever owns it; who pays is settled
afterwards, one step at a time::

    pending ──claim──▶ claimed ──recover──▶ cost_recovered ──settle──▶ settled
       │
       └──street_bears (only N days after the repair)──▶ borne_by_street

* ``claim``: a department or asset owner claims the cover; it becomes the cost bearer (and,
  where the register knew no owner, the cover's owner). A cover the register already gives
  to a department can only be claimed by that department.
* ``recover``: the cost is recovered from the owner; the amount is positive and at most the
  repair's cost (a finished repair with a known cost only).
* ``settle``: the accounts of the repair are closed.
* ``street_bears``: nobody claimed the cover: the street office bears the cost, no earlier than
  ``street_bears_after_days`` (civiclake/reference/city/settlement.yaml) after the repair.

``settled`` and ``borne_by_street`` are final. Every other step is refused with a
:class:`SettlementError` naming the repair, its state and the step. Each step happens at
most once in a repair's life (the graph has no cycle), so ``(repair_id, step)`` identifies
the settlement event it writes. Pure: the city-management writes are in
civiclake/manholes/records.py, the simulator (simulators/city.py) walks the same steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

POLICY_FILE = Path(__file__).resolve().parent.parent / "reference" / "city" / "settlement.yaml"

PENDING, CLAIMED, COST_RECOVERED, SETTLED, BORNE_BY_STREET = (
    "pending",
    "claimed",
    "cost_recovered",
    "settled",
    "borne_by_street",
)
STATES = (PENDING, CLAIMED, COST_RECOVERED, SETTLED, BORNE_BY_STREET)
FINAL_STATES = (SETTLED, BORNE_BY_STREET)
# The outstanding states: a cost nobody has finished paying yet.
OPEN_STATES = (PENDING, CLAIMED, COST_RECOVERED)

CLAIM, RECOVER, SETTLE, STREET_BEARS = "claim", "recover", "settle", "street_bears"
# step → (the state it starts from, the state it leads to)
TRANSITIONS = {
    CLAIM: (PENDING, CLAIMED),
    RECOVER: (CLAIMED, COST_RECOVERED),
    SETTLE: (COST_RECOVERED, SETTLED),
    STREET_BEARS: (PENDING, BORNE_BY_STREET),
}
STEPS = tuple(TRANSITIONS)
# How an error message names a step.
STEP_VERBS = {
    CLAIM: "claim ownership",
    RECOVER: "recover cost",
    SETTLE: "settle",
    STREET_BEARS: "let the street bear the cost",
}


class SettlementError(ValueError):
    """A step the settlement cannot take; the message names the repair, its state and the step."""


class SettlementPolicyError(ValueError):
    """The settlement policy file cannot be used; the message names the file and field."""


def close_of(day: date) -> datetime:
    """The moment the daily run records a day's steps at: the day's last second (wall clock)."""
    return datetime.combine(day, time(23, 59, 59))


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    street_bears_after_days: int = Field(ge=1, le=3650)

    def street_may_bear_from(self, repaired_at: datetime) -> datetime:
        """The first moment the street may bear the cost of a repair finished at ``repaired_at``."""
        return repaired_at + timedelta(days=self.street_bears_after_days)

    def street_bears_in_daily_run(self, repaired_at: datetime) -> datetime:
        """When the daily run (``street-bears-due``) lets the street bear a repair nobody
        claimed: the close of the first day whose close is late enough."""
        allowed = self.street_may_bear_from(repaired_at)
        at = close_of(allowed.date())
        return at if at >= allowed else close_of(allowed.date() + timedelta(days=1))


def load_policy(path: Path | str | None = None) -> Policy:
    """The policy of a YAML file (the shipped one when ``path`` is None)."""
    if path is None:
        return _default_policy()
    return _read_policy(Path(path))


@cache
def _default_policy() -> Policy:
    return _read_policy(POLICY_FILE)


def _read_policy(path: Path) -> Policy:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettlementPolicyError(f"{path}: settlement policy file does not exist") from None
    except yaml.YAMLError as error:
        raise SettlementPolicyError(f"{path}: not valid YAML: {error}") from None
    try:
        return Policy.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(file)"
        raise SettlementPolicyError(f"{path}: field {field!r}: {first['msg']}") from None


@dataclass(frozen=True)
class Repair:
    """What the settlement of one repair depends on, as the city system holds it."""

    repair_id: str
    status: str
    repaired_at: datetime | None = None  # None: not finished yet
    cost_yuan: Decimal | None = None
    cost_bearer: str | None = None  # the claiming owner once claimed
    registered_owner: str | None = None  # the cover's owner in the register (None: unknown)
    updated_at: datetime | None = None  # the row's last change: a step cannot be dated before it


@dataclass(frozen=True)
class Step:
    step: str
    at: datetime  # when it happened (the district's wall clock)
    owner: str | None = None  # claim: the claiming department or asset owner
    amount_yuan: Decimal | None = None  # recover: the amount recovered
    street_office: str | None = None  # street_bears: the office that pays


@dataclass(frozen=True)
class Outcome:
    """The repair after a step, and the settlement event that records it."""

    repair_id: str
    step: str
    from_status: str
    to_status: str
    at: datetime
    cost_bearer: str | None  # the repair's cost bearer after the step
    settled_at: datetime | None  # set by the two final steps
    owner: str | None  # the event's owner: the claimant, else the bearer so far
    amount_yuan: Decimal | None
    cover_owner: str | None  # claim: the owner the cover register gets

    @property
    def event_id(self) -> str:
        return event_id(self.repair_id, self.step)


def event_id(repair_id: str, step: str) -> str:
    """The settlement event of ``step`` on a repair (each step happens at most once)."""
    return f"{repair_id}-{step}"


def _hint(repair: Repair, step: str) -> str:
    """Why ``step`` cannot start from the repair's state, and what would come first."""
    status, bearer = repair.status, repair.cost_bearer or "an owner"
    if status == SETTLED:
        return "already settled; the settlement is closed"
    if status == BORNE_BY_STREET:
        return f"the street ({repair.cost_bearer or 'its office'}) bore the cost; the settlement is closed"
    if step == CLAIM:
        return f"already claimed by {bearer}"
    if step == STREET_BEARS:
        return f"claimed by {bearer}, who bears the cost"
    if step == RECOVER:
        return "cost already recovered" if status == COST_RECOVERED else "claim ownership first"
    # settle
    return "recover the cost first" if status == CLAIMED else "claim ownership and recover the cost first"


def apply(repair: Repair, step: Step, policy: Policy | None = None) -> Outcome:
    """The repair's settlement after ``step``, or a :class:`SettlementError` saying why not."""
    policy = policy or load_policy()
    rid = repair.repair_id
    if step.step not in TRANSITIONS:
        raise SettlementError(f"{rid}: unknown step {step.step!r}; steps: {', '.join(STEPS)}")
    verb = STEP_VERBS[step.step]
    if repair.status not in STATES:
        raise SettlementError(
            f"{rid}: cannot {verb}: unknown settlement state {repair.status!r}; states: {', '.join(STATES)}"
        )
    source, target = TRANSITIONS[step.step]
    if repair.status != source:
        raise SettlementError(f"{rid}: cannot {verb}: state is {repair.status} ({_hint(repair, step.step)})")
    if repair.updated_at is not None and step.at < repair.updated_at:
        raise SettlementError(
            f"{rid}: cannot {verb} at {step.at:%Y-%m-%d %H:%M}: state is {repair.status} since "
            f"{repair.updated_at:%Y-%m-%d %H:%M} (steps are recorded in time order)"
        )
    bearer, settled_at, cover_owner = repair.cost_bearer, None, None
    owner, amount = repair.cost_bearer, None
    if step.step == CLAIM:
        owner = (step.owner or "").strip()
        if not owner:
            raise SettlementError(f"{rid}: cannot {verb}: state is {repair.status} but no owner is named")
        if repair.registered_owner and repair.registered_owner != owner:
            raise SettlementError(
                f"{rid}: cannot {verb} for {owner}: state is {repair.status} and the cover is "
                f"registered to {repair.registered_owner}"
            )
        bearer = owner
        cover_owner = owner if not repair.registered_owner else None
    elif step.step == RECOVER:
        amount = _amount(repair, step, verb)
    elif step.step == SETTLE:
        settled_at = step.at
    else:  # street_bears
        _street_may_bear(repair, step, verb, policy)
        office = (step.street_office or "").strip()
        if not office:
            raise SettlementError(
                f"{rid}: cannot {verb}: state is {repair.status} but no street office is named"
            )
        bearer, owner, settled_at = office, office, step.at
    return Outcome(
        repair_id=rid,
        step=step.step,
        from_status=repair.status,
        to_status=target,
        at=step.at,
        cost_bearer=bearer,
        settled_at=settled_at,
        owner=owner,
        amount_yuan=amount,
        cover_owner=cover_owner,
    )


def _amount(repair: Repair, step: Step, verb: str) -> Decimal:
    rid, state = repair.repair_id, repair.status
    if repair.repaired_at is None or repair.cost_yuan is None:
        raise SettlementError(
            f"{rid}: cannot {verb}: state is {state} but the repair has no cost yet (not finished)"
        )
    if step.amount_yuan is None:
        raise SettlementError(f"{rid}: cannot {verb}: state is {state} but no amount is given")
    amount = Decimal(str(step.amount_yuan)).quantize(Decimal("0.01"))
    if amount <= 0:
        raise SettlementError(
            f"{rid}: cannot {verb}: state is {state} but the amount {amount} yuan is not positive"
        )
    cost = Decimal(str(repair.cost_yuan)).quantize(Decimal("0.01"))
    if amount > cost:
        raise SettlementError(
            f"{rid}: cannot {verb}: state is {state} but {amount} yuan exceeds the repair's cost of {cost} yuan"
        )
    return amount


def _street_may_bear(repair: Repair, step: Step, verb: str, policy: Policy) -> None:
    rid, state, days = repair.repair_id, repair.status, policy.street_bears_after_days
    if repair.repaired_at is None:
        raise SettlementError(
            f"{rid}: cannot {verb}: state is {state} but the repair is not finished "
            f"(the street bears the cost {days} days after the repair)"
        )
    allowed_from = policy.street_may_bear_from(repair.repaired_at)
    if step.at < allowed_from:
        waited = (step.at - repair.repaired_at).days
        raise SettlementError(
            f"{rid}: cannot {verb}: state is {state} but only {waited} day(s) since the repair on "
            f"{repair.repaired_at:%Y-%m-%d} (the street bears it after {days} days, from "
            f"{allowed_from:%Y-%m-%d %H:%M})"
        )


def street_office(street_name: str) -> str:
    """The office of a street (e.g. 民治街道 → 民治街道办事处), which pays what the street bears."""
    return f"{street_name}办事处"
