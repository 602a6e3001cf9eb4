"""Persistent camera events from frame detections (pure pandas: the Spark job calls it per
camera and landing hour, the tests call it directly).

A camera's sampled frames form one sequence in time. A frame is positive for a class when
the class was detected in it at or above the class's threshold. Wherever at least ``k`` of
``n`` consecutive sampled frames are positive (a qualifying window), the class is present;
qualifying windows that overlap form one run, and each run is one event:

* ``started_at``: the first positive frame of the run's first window;
* ``ended_at``: the last positive frame of the run;
* ``peak_score``: the highest score of the class between the two;
* ``frames_seen`` / ``frames_sampled``: positive / sampled frames between the two.

A single detection, or two in five frames, is flicker (a passer-by's bag, a shadow), not a
condition of the street. Windows that do not overlap are separate events: a gap of enough
negative frames splits. Only event classes count (a hard negative such as ``garbage_bin`` is
detected so that it is not mistaken for an event, and never becomes one). With fewer than
``n`` frames, the one window is every frame there is.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import numpy as np
import pandas as pd

# Columns of the two inputs and of the result.
FRAME_COLUMNS = ("camera_id", "frame_time")
DETECTION_COLUMNS = ("camera_id", "frame_time", "class", "score", "model_version")
EVENT_COLUMNS = (
    "event_id",
    "camera_id",
    "class",
    "started_at",
    "ended_at",
    "peak_score",
    "frames_seen",
    "frames_sampled",
    "model_version",
)


class EventRuleError(ValueError):
    """k and n do not make a persistence rule."""


def event_id(camera_id: str, frame_class: str, started_at: datetime) -> str:
    """``CE-<camera_id>-<class>-<YYYYmmddHHMMSS of start>``: also the event's case id."""
    return f"CE-{camera_id}-{frame_class}-{pd.Timestamp(started_at):%Y%m%d%H%M%S}"


def frame_time(started_at: datetime, offset_s: float) -> pd.Timestamp:
    """The time of a frame ``offset_s`` seconds into a clip, to the microsecond the lake
    keeps: the executors stamp detections with it and the events rebuild the clip's sampled
    frames with it, so the two meet exactly."""
    return pd.Timestamp(started_at) + pd.Timedelta(microseconds=round(float(offset_s) * 1_000_000))


def check_rule(k: int, n: int) -> None:
    if not (isinstance(k, int) and isinstance(n, int) and 1 <= k <= n):
        raise EventRuleError(
            f"an event needs k of n consecutive frames with 1 <= k <= n, got k={k!r}, n={n!r} "
            "(CIVICLAKE_FRAMES_EVENT_K, CIVICLAKE_FRAMES_EVENT_N)"
        )


def runs(positive: np.ndarray, k: int, n: int) -> list[tuple[int, int]]:
    """(first, last) positions of each event in a sequence of positive/negative frames."""
    check_rule(k, n)
    m = len(positive)
    if m == 0:
        return []
    width = min(n, m)
    counts = np.convolve(positive.astype(int), np.ones(width, int), mode="valid")
    starts = np.flatnonzero(counts >= k)
    found = []
    group_start = None
    for index, start in enumerate(starts):
        if group_start is None:
            group_start = start
        last_of_group = index + 1 == len(starts) or starts[index + 1] - start >= width
        if last_of_group:
            hits = np.flatnonzero(positive[group_start : start + width]) + group_start
            found.append((int(hits[0]), int(hits[-1])))
            group_start = None
    return found


def find_events(
    frames: pd.DataFrame,
    detections: pd.DataFrame,
    thresholds: Mapping[str, float],
    *,
    k: int,
    n: int,
) -> pd.DataFrame:
    """The events of ``detections`` over the sampled ``frames``.

    ``frames``: every sampled frame (``camera_id``, ``frame_time``); ``detections``: the
    detections in them (``camera_id``, ``frame_time``, ``class``, ``score``,
    ``model_version``). ``thresholds``: the event classes and the score from which a
    detection of each counts; a class not listed never makes an event. A detection's frame
    counts as sampled even where ``frames`` misses it. Returns ``EVENT_COLUMNS``, ordered by
    camera, class and start.
    """
    check_rule(k, n)
    detections = detections.loc[:, list(DETECTION_COLUMNS)]
    listed = detections["class"].map(thresholds)
    detections = detections[listed.notna() & (detections["score"] >= listed)]
    parts = [frames.loc[:, list(FRAME_COLUMNS)], detections.loc[:, list(FRAME_COLUMNS)]]
    sampled = pd.concat([p for p in parts if not p.empty] or parts, ignore_index=True).drop_duplicates()
    events = []
    for (camera_id, frame_class), seen in detections.groupby(["camera_id", "class"], sort=True):
        times = np.sort(sampled.loc[sampled["camera_id"] == camera_id, "frame_time"].unique())
        best = seen.sort_values("score", ascending=False).drop_duplicates("frame_time")
        position = np.searchsorted(times, best["frame_time"].to_numpy())
        positive = np.zeros(len(times), bool)
        positive[position] = True
        scores = np.full(len(times), np.nan)
        scores[position] = best["score"].to_numpy()
        versions = np.full(len(times), None, object)
        versions[position] = best["model_version"].to_numpy()
        for first, last in runs(positive, k, n):
            peak = first + int(np.nanargmax(scores[first : last + 1]))
            started = pd.Timestamp(times[first])
            events.append(
                {
                    "event_id": event_id(camera_id, frame_class, started),
                    "camera_id": camera_id,
                    "class": frame_class,
                    "started_at": started,
                    "ended_at": pd.Timestamp(times[last]),
                    "peak_score": float(scores[peak]),
                    "frames_seen": int(positive[first : last + 1].sum()),
                    "frames_sampled": last - first + 1,
                    "model_version": versions[peak],
                }
            )
    result = pd.DataFrame(events, columns=list(EVENT_COLUMNS))
    clashes = result["event_id"][result["event_id"].duplicated()]
    if not clashes.empty:
        raise EventRuleError(
            f"two events start within one second and would share an id: {sorted(set(clashes))}; "
            "sample frames at most once a second (CIVICLAKE_FRAME_SAMPLE_EVERY_S >= 1)"
        )
    return result.astype(
        {
            "started_at": "datetime64[ns]",
            "ended_at": "datetime64[ns]",
            "peak_score": "float64",
            "frames_seen": "int32",
            "frames_sampled": "int32",
        }
    )
