"""The settlement state machine of a manhole repair (先修后定): every allowed step, and every
other one refused with an error naming the repair, its state and the step."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import product

import pytest

from civiclake.manholes import settlement as s
from civiclake.manholes.settlement import Policy, Repair, SettlementError, SettlementPolicyError, Step

POLICY = Policy(street_bears_after_days=20)
REPAIRED = datetime(2026, 11, 3, 15, 30)
LATER = REPAIRED + timedelta(days=2)


def repair(status: str, **values) -> Repair:
    bearer = {"pending": None, "borne_by_street": "民治街道办事处"}.get(status, "水务局")
    defaults = {"repaired_at": REPAIRED, "cost_yuan": Decimal("1200.50"), "cost_bearer": bearer}
    return Repair("R123", status, **(defaults | values))


def step(name: str, at: datetime = LATER, **values) -> Step:
    defaults = {
        "claim": {"owner": "水务局"},
        "recover": {"amount_yuan": Decimal("1200.50")},
        "street_bears": {"street_office": "民治街道办事处"},
    }.get(name, {})
    if name == "street_bears" and at == LATER:
        at = REPAIRED + timedelta(days=20)
    return Step(name, at, **(defaults | values))


ALLOWED = {(source, name) for name, (source, _) in s.TRANSITIONS.items()}
REFUSED = [(state, name) for state, name in product(s.STATES, s.STEPS) if (state, name) not in ALLOWED]


def test_the_graph_is_the_documented_one():
    assert s.TRANSITIONS == {
        "claim": ("pending", "claimed"),
        "recover": ("claimed", "cost_recovered"),
        "settle": ("cost_recovered", "settled"),
        "street_bears": ("pending", "borne_by_street"),
    }
    # 5 states x 4 steps, 4 allowed: 16 refused pairs, each tested below.
    assert len(REFUSED) == 16


@pytest.mark.parametrize(("state", "name"), REFUSED)
def test_every_invalid_transition_is_refused_naming_repair_state_and_step(state, name):
    with pytest.raises(SettlementError) as error:
        s.apply(repair(state), step(name), POLICY)
    message = str(error.value)
    assert message.startswith(f"R123: cannot {s.STEP_VERBS[name]}")
    assert f"state is {state} (" in message


@pytest.mark.parametrize(
    ("state", "name", "hint"),
    [
        ("pending", "recover", "claim ownership first"),
        ("pending", "settle", "claim ownership and recover the cost first"),
        ("claimed", "settle", "recover the cost first"),
        ("claimed", "claim", "already claimed by 水务局"),
        ("claimed", "street_bears", "claimed by 水务局, who bears the cost"),
        ("cost_recovered", "recover", "cost already recovered"),
        ("settled", "claim", "already settled"),
        ("borne_by_street", "claim", "the street (民治街道办事处) bore the cost"),
    ],
)
def test_the_error_says_what_comes_first(state, name, hint):
    with pytest.raises(SettlementError, match=re.escape(f"state is {state} ({hint}")):
        s.apply(repair(state), step(name), POLICY)


def test_the_exact_message_of_a_recovery_before_a_claim():
    with pytest.raises(SettlementError) as error:
        s.apply(repair("pending"), step("recover"), POLICY)
    assert str(error.value) == "R123: cannot recover cost: state is pending (claim ownership first)"


def test_the_whole_owner_path():
    claimed = s.apply(repair("pending", cost_bearer=None), step("claim"), POLICY)
    assert (claimed.from_status, claimed.to_status, claimed.cost_bearer) == ("pending", "claimed", "水务局")
    assert claimed.cover_owner == "水务局" and claimed.settled_at is None  # the register learns the owner
    assert claimed.event_id == "R123-claim"
    recovered = s.apply(repair("claimed"), step("recover", amount_yuan=1000), POLICY)
    assert (recovered.to_status, recovered.amount_yuan, recovered.owner) == (
        "cost_recovered",
        Decimal("1000.00"),
        "水务局",
    )
    settled = s.apply(repair("cost_recovered"), step("settle"), POLICY)
    assert (settled.to_status, settled.settled_at, settled.cost_bearer) == ("settled", LATER, "水务局")


def test_a_claim_needs_an_owner_and_respects_the_register():
    with pytest.raises(SettlementError, match="R123: cannot claim ownership: state is pending but no owner"):
        s.apply(repair("pending"), step("claim", owner="  "), POLICY)
    with pytest.raises(SettlementError, match="registered to 燃气集团"):
        s.apply(repair("pending", registered_owner="燃气集团"), step("claim"), POLICY)
    # The registered owner claims: the register already knows it.
    done = s.apply(repair("pending", registered_owner="水务局"), step("claim"), POLICY)
    assert done.cover_owner is None and done.cost_bearer == "水务局"


@pytest.mark.parametrize(
    ("amount", "cost", "repaired_at", "message"),
    [
        (
            Decimal("1200.51"),
            Decimal("1200.50"),
            REPAIRED,
            "1200.51 yuan exceeds the repair's cost of 1200.50 yuan",
        ),
        (Decimal("0"), Decimal("1200.50"), REPAIRED, "the amount 0.00 yuan is not positive"),
        (Decimal("-5"), Decimal("1200.50"), REPAIRED, "is not positive"),
        (None, Decimal("1200.50"), REPAIRED, "no amount is given"),
        (Decimal("10"), None, REPAIRED, "no cost yet"),
        (Decimal("10"), Decimal("1200.50"), None, "no cost yet"),
    ],
)
def test_the_recovered_amount_checks_against_the_cost(amount, cost, repaired_at, message):
    with pytest.raises(SettlementError, match=f"R123: cannot recover cost: state is claimed but .*{message}"):
        s.apply(
            repair("claimed", cost_yuan=cost, repaired_at=repaired_at),
            step("recover", amount_yuan=amount),
            POLICY,
        )


def test_the_whole_cost_may_be_recovered():
    assert s.apply(repair("claimed"), step("recover"), POLICY).amount_yuan == Decimal("1200.50")


def test_the_street_bears_the_cost_only_n_days_after_the_repair():
    due = REPAIRED + timedelta(days=20)
    with pytest.raises(SettlementError) as error:
        s.apply(repair("pending"), step("street_bears", at=due - timedelta(seconds=1)), POLICY)
    assert str(error.value) == (
        "R123: cannot let the street bear the cost: state is pending but only 19 day(s) since the repair "
        "on 2026-11-03 (the street bears it after 20 days, from 2026-11-23 15:30)"
    )
    borne = s.apply(repair("pending"), step("street_bears", at=due), POLICY)
    assert (borne.to_status, borne.cost_bearer, borne.settled_at) == (
        "borne_by_street",
        "民治街道办事处",
        due,
    )
    with pytest.raises(SettlementError, match="the repair is not finished"):
        s.apply(repair("pending", repaired_at=None), step("street_bears", at=due), POLICY)
    with pytest.raises(SettlementError, match="no street office is named"):
        s.apply(repair("pending"), step("street_bears", at=due, street_office=""), POLICY)


def test_steps_are_recorded_in_time_order():
    with pytest.raises(
        SettlementError, match="cannot settle at 2026-11-05 15:30: state is cost_recovered since"
    ):
        s.apply(repair("cost_recovered", updated_at=LATER + timedelta(hours=1)), step("settle"), POLICY)


def test_unknown_step_and_state():
    with pytest.raises(SettlementError, match="R123: unknown step 'pay'"):
        s.apply(repair("pending"), Step("pay", LATER), POLICY)
    with pytest.raises(SettlementError, match="unknown settlement state 'settled_with_owner'"):
        s.apply(repair("settled_with_owner"), step("settle"), POLICY)


def test_the_shipped_policy_and_a_bad_one(tmp_path):
    assert s.load_policy().street_bears_after_days == 20
    bad = tmp_path / "settlement.yaml"
    bad.write_text("street_bears_after_days: 0\n", encoding="utf-8")
    with pytest.raises(SettlementPolicyError, match="settlement.yaml: field 'street_bears_after_days'"):
        s.load_policy(bad)
    bad.write_text("street_bears_after_days: 5\nextra: 1\n", encoding="utf-8")
    with pytest.raises(SettlementPolicyError, match="field 'extra'"):
        s.load_policy(bad)
