"""Duplicate detection at the edges of its radius and time window, computed by hand.

Along a meridian the haversine distance is R·Δφ: with R = 6,371,008.8 m, 0.00089° of
latitude is 98.96 m (inside 100 m) and 0.00090° is 100.08 m (outside).
"""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from civiclake.dispatch.duplicates import find_duplicates, haversine_m

LON, LAT = 114.05, 22.65
INSIDE, OUTSIDE = 0.00089, 0.00090  # degrees of latitude: 98.96 m and 100.08 m


def case(case_id, at, dlat=0.0, category="manhole", closed_at=None, lon=LON):
    return {
        "case_id": case_id,
        "category": category,
        "lon": lon,
        "lat": LAT + dlat if lon is not None else None,
        "reported_at": pd.Timestamp(at),
        "closed_at": pd.Timestamp(closed_at) if closed_at else pd.NaT,
    }


def frame(*rows):
    return pd.DataFrame(list(rows))


def links(new, old=None, **kwargs):
    return dict(zip(new["case_id"], find_duplicates(new, old, **kwargs), strict=True))


def test_haversine_by_hand():
    assert haversine_m(0, 0, 1, 0) == pytest.approx(111_195.08, abs=0.01)  # R·π/180
    assert haversine_m(LON, LAT, LON, LAT + INSIDE) == pytest.approx(98.963, abs=0.001)
    assert haversine_m(LON, LAT, LON, LAT + OUTSIDE) == pytest.approx(100.076, abs=0.001)
    # Broadcasting: one point against two.
    np.testing.assert_allclose(
        haversine_m(LON, LAT, [LON, LON], [LAT, LAT + OUTSIDE]), [0.0, 100.0757], atol=1e-3
    )


def test_radius_edge():
    old = frame(case("A", "2026-11-24 08:00"))
    new = frame(case("B", "2026-11-25 08:00", INSIDE), case("C", "2026-11-25 09:00", -OUTSIDE))
    assert links(new, old) == {"B": "A", "C": None}
    # A radius just above C's distance takes it in.
    assert links(new, old, radius_m=100.08)["C"] == "A"


def test_time_window_edge_is_inclusive():
    old = frame(case("A", "2026-11-22 08:00:00"))
    new = frame(case("B", "2026-11-25 08:00:00"), case("C", "2026-11-25 08:00:01", lon=LON + 0.5))
    assert links(new, old) == {"B": "A", "C": None}  # exactly 72 h; C is far away anyway
    late = frame(case("D", "2026-11-25 08:00:01"))
    assert links(late, old) == {"D": None}  # 72 h and 1 s
    assert links(late, old, window=timedelta(hours=73)) == {"D": "A"}


def test_only_open_cases_of_the_same_category_count():
    old = frame(
        case("A", "2026-11-25 07:00", closed_at="2026-11-25 08:00"),  # closed before B came
        case("N", "2026-11-25 07:30", category="noise"),  # other category
        case("O", "2026-11-25 07:45", closed_at="2026-11-25 09:00"),  # closed after B came: still open then
    )
    assert links(frame(case("B", "2026-11-25 08:00")), old) == {"B": "O"}
    # Closed at the very moment of the new report: no longer open.
    at_close = frame(case("B", "2026-11-25 09:00"))
    assert links(at_close, old.iloc[[2]]) == {"B": None}


def test_the_earliest_open_case_wins_and_ties_go_to_the_smaller_id():
    old = frame(
        case("A2", "2026-11-24 08:00", INSIDE / 2),
        case("A1", "2026-11-24 08:00", -INSIDE / 2),  # same time as A2, smaller id
        case("Z", "2026-11-23 08:00", lon=LON + 0.01),  # earlier but 1 km away
        case("L", "2026-11-24 12:00"),
    )
    assert links(frame(case("B", "2026-11-25 08:00")), old) == {"B": "A1"}


def test_new_cases_of_one_batch_link_to_each_other_whatever_their_order():
    rows = [
        case("X3", "2026-11-25 10:00", INSIDE),
        case("X1", "2026-11-25 08:00"),
        case("X2", "2026-11-25 09:00", -INSIDE),
        case("X4", "2026-11-25 11:00", 1.5 * INSIDE),  # 49 m from X3, 148 m from X1
        case("X5", "2026-11-25 08:00"),  # same time and place as X1: X1 has the smaller id
    ]
    expected = {"X1": None, "X2": "X1", "X3": "X1", "X4": "X3", "X5": "X1"}
    assert links(frame(*rows)) == expected
    assert links(frame(*reversed(rows))) == expected


def test_rows_without_place_or_time_are_never_linked():
    old = frame(case("A", "2026-11-25 07:00"))
    new = frame(case("B", "2026-11-25 08:00", lon=None), case("C", None))
    assert links(new, old) == {"B": None, "C": None}


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match=r"\['closed_at'\]"):
        find_duplicates(frame(case("A", "2026-11-25 07:00")).drop(columns="closed_at"))
