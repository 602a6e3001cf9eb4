"""Duplicate detection: the same problem reported again while its first case is still open.

A case is a duplicate of an earlier case of the same category that lies within
``radius_m`` metres (haversine, inclusive) and was reported at most ``window`` before it
(inclusive), and that is still open when the new case is reported (not closed, or closed
after it). Among several such cases it is linked to the earliest (by report time, then
case id), so the link does not depend on the order rows arrive in.

The inputs are source-agnostic — case_id, category, lon, lat, reported_at, closed_at —
so citizen reports and events detected by cameras are treated alike. The work is
NumPy broadcasting per category in bounded chunks, suitable for a Spark
``applyInPandas`` grouped by category.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
DEFAULT_RADIUS_M = 100.0
DEFAULT_WINDOW = timedelta(hours=72)
INPUT_COLUMNS = ("case_id", "category", "lon", "lat", "reported_at", "closed_at")
CHUNK_ROWS = 2048  # new cases per broadcast: bounds the distance matrix to CHUNK_ROWS × candidates


def haversine_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in metres; broadcasts like NumPy."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype="float64")) for v in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def find_duplicates(
    new: pd.DataFrame,
    candidates: pd.DataFrame | None = None,
    *,
    radius_m: float = DEFAULT_RADIUS_M,
    window: timedelta = DEFAULT_WINDOW,
) -> pd.Series:
    """``duplicate_of`` for every row of ``new`` (None where it is not a duplicate).

    ``candidates`` are earlier cases that new cases may repeat (e.g. the open cases of
    the last days); the rows of ``new`` are candidates too, so the second report of a
    day links to the first. A case never links to itself, and rows without coordinates
    or report time are never linked.
    """
    missing = [c for c in INPUT_COLUMNS if c not in new.columns]
    if missing:
        raise ValueError(f"duplicate detection needs columns {missing}; got {list(new.columns)}")
    pool = new if candidates is None or candidates.empty else pd.concat([candidates, new], ignore_index=True)
    pool = pool.drop_duplicates("case_id", keep="last")
    pool = pool[pool["lon"].notna() & pool["lat"].notna() & pool["reported_at"].notna()]
    pool = pool.sort_values(["reported_at", "case_id"], kind="stable").reset_index(drop=True)
    result = pd.Series([None] * len(new), index=new.index, dtype="object")
    window_ns = np.int64(pd.Timedelta(window).value)

    for category, cand in pool.groupby("category", sort=True):
        rows = new[(new["category"] == category) & new["lon"].notna() & new["lat"].notna()]
        rows = rows[rows["reported_at"].notna()]
        if rows.empty:
            continue
        c_id = cand["case_id"].to_numpy(dtype=object)
        c_lon, c_lat = cand["lon"].to_numpy(float), cand["lat"].to_numpy(float)
        c_time = pd.to_datetime(cand["reported_at"]).to_numpy("datetime64[ns]").astype(np.int64)
        closed = pd.to_datetime(cand["closed_at"])
        c_closed = np.where(
            closed.isna().to_numpy(),
            np.iinfo(np.int64).max,
            closed.to_numpy("datetime64[ns]").astype(np.int64),
        )
        # Candidates are sorted by (reported_at, case_id), so the position is the tie-breaking rank.
        rank = np.arange(len(cand))
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows.iloc[start : start + CHUNK_ROWS]
            n_id = chunk["case_id"].to_numpy(dtype=object)[:, None]
            n_time = pd.to_datetime(chunk["reported_at"]).to_numpy("datetime64[ns]").astype(np.int64)[:, None]
            earlier = (c_time[None, :] < n_time) | ((c_time[None, :] == n_time) & (c_id[None, :] < n_id))
            ok = earlier & (n_time - c_time[None, :] <= window_ns) & (c_closed[None, :] > n_time)
            ok &= c_id[None, :] != n_id
            if not ok.any():
                continue
            distance = haversine_m(
                chunk["lon"].to_numpy(float)[:, None], chunk["lat"].to_numpy(float)[:, None], c_lon, c_lat
            )
            ok &= distance <= radius_m
            first = np.where(ok, rank[None, :], len(cand)).min(axis=1)
            linked = first < len(cand)
            result.loc[chunk.index[linked]] = c_id[first[linked]]
    return result
