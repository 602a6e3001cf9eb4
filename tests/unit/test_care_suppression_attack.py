"""The recovery attack on published counts of households receiving care, and the
hand-built case of dbt/models/intermediate/services/_int_services__models.yml.

A viewer of the marts sees, per day and area of 1+6+N, each count of care households
either as a number or as null (suppressed). What the viewer knows ties them together:
per day and measure, the district is the sum of its streets and a street the sum of its
communities; per area care_households = care_households_visited_30d + care_visits_overdue;
a published coverage rate is visited / care. :func:`recovered` writes every suppressed
count as an unknown (≥ 0), every relation as a linear equation over the published numbers
and the unknowns, and solves two linear programmes per unknown (its least and its greatest
value). An unknown whose interval is narrower than 1 has one possible value: the
suppression did not hide it. tests/integration/test_marts_families.py runs the attack on
the published marts (test_no_suppressed_care_count_can_be_recovered_from_the_published_mart).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from scipy.optimize import linprog

# The published counts of households receiving care, each with its <column>_suppressed flag.
TYPE_COUNTS = (
    "elderly_alone_households",
    "disabled_households",
    "child_in_difficulty_households",
    "low_income_households",
)
CARE, VISITED, OVERDUE = "care_households", "care_households_visited_30d", "care_visits_overdue"
COUNTS = (*TYPE_COUNTS, CARE, VISITED, OVERDUE)
COVERAGE = "care_visit_coverage_30d"
UNIT_TESTS = (
    Path(__file__).resolve().parents[2] / "dbt/models/intermediate/services/_int_services__models.yml"
)


def flag_of(column: str) -> str:
    """``elderly_alone_households`` → ``elderly_alone_suppressed``; ``care_households`` →
    ``care_households_suppressed``."""
    return (
        f"{column.removesuffix('_households')}_suppressed"
        if column in TYPE_COUNTS
        else f"{column}_suppressed"
    )


@dataclass(frozen=True)
class Recovered:
    report_date: object
    level: str
    area_code: str
    column: str
    low: float
    high: float


def _equations(rows: list[dict]) -> list[dict[tuple[str, str], float]]:
    """The relations a viewer knows among one day's cells (area_code, column), each as
    coefficients whose weighted sum is 0."""
    children: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row["parent_code"] is not None:
            children[row["parent_code"]].append(row["area_code"])
    equations = []
    for parent, kids in children.items():
        for column in COUNTS:
            equations.append({(parent, column): 1.0} | {(kid, column): -1.0 for kid in kids})
    for row in rows:
        area = row["area_code"]
        equations.append({(area, CARE): 1.0, (area, VISITED): -1.0, (area, OVERDUE): -1.0})
        if row.get(COVERAGE) is not None:
            equations.append({(area, VISITED): 1.0, (area, CARE): -float(row[COVERAGE])})
    return equations


def _system(rows: list[dict]) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """The suppressed cells of one day and the equations over them, A x = b, with the
    published cells moved to b."""
    known = {(r["area_code"], c): r[c] for r in rows for c in COUNTS if r[c] is not None}
    unknown = sorted({(r["area_code"], c) for r in rows for c in COUNTS if r[c] is None})
    index = {cell: n for n, cell in enumerate(unknown)}
    a_eq, b_eq = [], []
    for equation in _equations(rows):
        coefficients = np.zeros(len(unknown))
        constant = 0.0
        for cell, weight in equation.items():
            if cell in index:
                coefficients[index[cell]] += weight
            else:
                constant += weight * known[cell]
        if coefficients.any():
            a_eq.append(coefficients)
            b_eq.append(-constant)
    return unknown, np.array(a_eq).reshape(len(a_eq), len(unknown)), np.array(b_eq)


def _components(a_eq: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(cells, equations) of each group of unknowns that the equations tie together."""
    parent = list(range(a_eq.shape[1]))

    def root(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for coefficients in a_eq:
        first, *others = np.flatnonzero(coefficients)
        for other in others:
            parent[root(other)] = root(first)
    groups: dict[int, list[int]] = defaultdict(list)
    for n in range(a_eq.shape[1]):
        groups[root(n)].append(n)
    out = []
    for cells in groups.values():
        columns = np.array(cells)
        out.append((columns, np.flatnonzero(np.abs(a_eq[:, columns]).sum(axis=1) > 0)))
    return out


def _optimum(a_eq: np.ndarray, b_eq: np.ndarray, objective: np.ndarray) -> np.ndarray | None:
    """A solution x ≥ 0 of A x = b minimising objective · x; None when it is unbounded."""
    result = linprog(
        objective,
        A_eq=a_eq if len(a_eq) else None,
        b_eq=b_eq if len(b_eq) else None,
        bounds=(0, None),
        method="highs",
    )
    if result.status == 3:
        return None
    if result.status != 0:
        raise AssertionError(f"the published cells contradict each other: {result.message}")
    return result.x


def interval(rows: list[dict], cell: tuple[str, str]) -> tuple[float, float]:
    """Least and greatest value of a suppressed cell (area_code, column) of one day's rows
    consistent with the published ones."""
    unknown, a_eq, b_eq = _system(rows)
    n = unknown.index(cell)
    objective = np.zeros(len(unknown))
    objective[n] = 1.0
    low, high = _optimum(a_eq, b_eq, objective), _optimum(a_eq, b_eq, -objective)
    return float(low[n]), (np.inf if high is None else float(high[n]))


def _single_valued(a_eq: np.ndarray, b_eq: np.ndarray) -> dict[int, tuple[float, float]]:
    """The cells of one tied group whose interval is narrower than 1, with the interval.

    Every optimum found is a feasible point, and a cell that two feasible points place 1 or
    more apart is not single-valued: a cell's own two programmes are solved only while no
    point found so far has shown that.
    """
    size = a_eq.shape[1]
    if len(a_eq) == 1 and size > 1 and (np.all(a_eq[0] > 0) or np.all(a_eq[0] < 0)):
        # One sum of several cells (a street's hidden communities): each lies in 0..sum.
        highs = b_eq[0] / a_eq[0]
        return {n: (0.0, float(high)) for n, high in enumerate(highs) if high < 1}
    seen_low, seen_high = np.full(size, np.inf), np.full(size, -np.inf)
    out = {}
    for n in range(size):
        ends = []
        for sign in (1.0, -1.0):
            if seen_high[n] - seen_low[n] >= 1:
                break
            objective = np.zeros(size)
            objective[n] = sign
            point = _optimum(a_eq, b_eq, objective)
            if point is None:  # no greatest value
                break
            seen_low, seen_high = np.minimum(seen_low, point), np.maximum(seen_high, point)
            ends.append(point[n])
        else:
            low, high = ends
            if high - low < 1:
                out[n] = (float(low), float(high))
    return out


def recovered(rows: list[dict]) -> list[Recovered]:
    """The suppressed cells of ``rows`` (published mart rows: report_date, level, area_code,
    parent_code and the counts, null where suppressed) that have a single possible value."""
    by_day: dict[object, list[dict]] = defaultdict(list)
    for row in rows:
        by_day[row["report_date"]].append(row)
    out = []
    for day, day_rows in sorted(by_day.items()):
        level = {r["area_code"]: r["level"] for r in day_rows}
        unknown, a_eq, b_eq = _system(day_rows)
        for cells, equations in _components(a_eq):
            found = _single_valued(a_eq[np.ix_(equations, cells)], b_eq[equations])
            for n, (low, high) in found.items():
                area, column = unknown[cells[n]]
                out.append(Recovered(day, level[area], area, column, low, high))
    return sorted(out, key=lambda r: (str(r.report_date), r.area_code, r.column))


def suppressed_cells(rows: list[dict]) -> int:
    return sum(1 for r in rows for c in COUNTS if r[c] is None)


# ---------------------------------------------------------------- the hand-built case


def _unit_test(name: str) -> dict:
    content = yaml.safe_load(UNIT_TESTS.read_text(encoding="utf-8"))
    (test,) = [t for t in content["unit_tests"] if t["name"] == name]
    return test


def _hand_built(name: str) -> tuple[list[dict], list[dict]]:
    """The counts given to the dbt unit test ``name``, published as primary suppression
    alone would publish them, and as the dbt model publishes them (its expected rows)."""
    test = _unit_test(name)
    given = {g["input"]: g["rows"] for g in test["given"]}
    areas = {a["area_code"]: a for a in given["ref('int_areas')"]}
    counts = {c["area_code"]: c for c in given["ref('int_care_households_by_area_daily')"]}
    day = test["expect"]["rows"][0]["report_date"]
    primary_only = []
    for code, area in areas.items():
        raw = counts.get(code, {})  # an area without a household receiving care: no row
        values = {c: raw.get(c.removesuffix("_households"), 0) for c in TYPE_COUNTS}
        values |= {c: raw.get(c, 0) for c in (CARE, VISITED, OVERDUE)}
        primary_only.append(
            {
                "report_date": day,
                "level": area["level"],
                "area_code": code,
                "parent_code": area["parent_code"],
            }
            | {c: (None if 1 <= v <= 4 else v) for c, v in values.items()}
        )
    published = [{"parent_code": areas[r["area_code"]]["parent_code"]} | r for r in test["expect"]["rows"]]
    return primary_only, published


def test_primary_suppression_alone_gives_a_hidden_community_away():
    primary_only, _ = _hand_built("test_complementary_suppression_of_a_street")
    # The street publishes 19 elderly living alone, two of its communities 7 and 9: 19 − 7 − 9.
    found = {(r.area_code, r.column): (r.low, r.high) for r in recovered(primary_only)}
    assert found[("440309006001", "elderly_alone_households")] == (3.0, 3.0)
    assert found[("440309006001", CARE)] == (3.0, 3.0)


def test_a_community_hidden_with_a_partner_withstands_the_attack():
    _, published = _hand_built("test_complementary_suppression_of_a_street")
    assert suppressed_cells(published) == 6
    assert recovered(published) == []
    # The hidden community of 3 lies anywhere in 0..10 (3 + its partner's 7).
    assert interval(published, ("440309006001", "elderly_alone_households")) == (0.0, 10.0)


def test_primary_suppression_alone_gives_a_hidden_street_away():
    primary_only, _ = _hand_built("test_complementary_suppression_across_streets")
    # The district's 37 less the published streets' 14 and 20.
    found = {(r.area_code, r.column): (r.low, r.high) for r in recovered(primary_only)}
    assert found[("440309006", "elderly_alone_households")] == (3.0, 3.0)
    assert found[("440309006", OVERDUE)] == (3.0, 3.0)


def test_a_street_hidden_with_a_partner_street_and_community_withstands_the_attack():
    _, published = _hand_built("test_complementary_suppression_across_streets")
    assert suppressed_cells(published) == 15  # 5 areas × (elderly, care, overdue)
    assert recovered(published) == []
    assert interval(published, ("440309006", "elderly_alone_households")) == (0.0, 8.0)
    assert interval(published, ("440309007", OVERDUE)) == (9.0, 17.0)
