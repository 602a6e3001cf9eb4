"""Persistence of camera detections into events (civiclake/frames/events.py): k of n
consecutive sampled frames, gaps, classes apart, hard negatives never."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from civiclake.frames.events import EVENT_COLUMNS, EventRuleError, event_id, find_events, runs
from civiclake.frames.tables import EVENTS, column_names

T0 = datetime(2026, 6, 10, 10, 0, 0)
THRESHOLDS = {"garbage": 0.4, "pothole": 0.5}  # event classes only: garbage_bin is not listed
K, N = 3, 5


def _frames(count: int, camera: str = "CAM1") -> pd.DataFrame:
    return pd.DataFrame(
        {"camera_id": camera, "frame_time": [T0 + timedelta(seconds=s) for s in range(count)]}
    )


def _detections(hits: dict[int, float], frame_class: str = "garbage", camera: str = "CAM1") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "camera_id": camera,
            "frame_time": [T0 + timedelta(seconds=s) for s in hits],
            "class": frame_class,
            "score": list(hits.values()),
            "model_version": "fd-1",
        }
    )


def _events(frames, detections) -> pd.DataFrame:
    return find_events(frames, detections, THRESHOLDS, k=K, n=N)


def test_two_of_five_is_no_event():
    assert _events(_frames(10), _detections({1: 0.9, 3: 0.8})).empty


def test_three_of_five_is_one_event_from_first_to_last_positive_frame():
    events = _events(_frames(10), _detections({2: 0.6, 4: 0.9, 5: 0.7}))
    assert len(events) == 1
    event = events.iloc[0]
    assert event["event_id"] == "CE-CAM1-garbage-20260610100002"
    assert event["started_at"] == pd.Timestamp(T0 + timedelta(seconds=2))
    assert event["ended_at"] == pd.Timestamp(T0 + timedelta(seconds=5))
    assert event["peak_score"] == pytest.approx(0.9)
    # Frames 2..5: four sampled, three with the class.
    assert (event["frames_seen"], event["frames_sampled"]) == (3, 4)
    assert event["model_version"] == "fd-1"


def test_a_gap_splits_events_and_overlapping_windows_join():
    # Frames 0-2 and 3-5 overlap in their windows: one event 0..5. Then four negative
    # frames (6-9), and 10-12 again: a second event.
    hits = {s: 0.8 for s in (0, 1, 2, 4, 5, 10, 11, 12)}
    events = _events(_frames(15), _detections(hits))
    assert list(events["event_id"]) == ["CE-CAM1-garbage-20260610100000", "CE-CAM1-garbage-20260610100010"]
    assert [e.seconds for e in events["ended_at"] - pd.Timestamp(T0)] == [5, 12]
    assert list(events["frames_seen"]) == [5, 3]
    assert list(events["frames_sampled"]) == [6, 3]


def test_classes_and_cameras_are_apart():
    # Two garbage and one pothole detections in frames 0-2 of CAM1: neither class has three.
    detections = pd.concat(
        [
            _detections({0: 0.9, 1: 0.9}),
            _detections({2: 0.9}, "pothole"),
            # Three garbage frames, but CAM2's: CAM2 has an event, CAM1 none.
            _detections({0: 0.7, 1: 0.7, 2: 0.7}, camera="CAM2"),
        ]
    )
    events = _events(pd.concat([_frames(6), _frames(6, "CAM2")]), detections)
    assert list(events["event_id"]) == ["CE-CAM2-garbage-20260610100000"]


def test_a_hard_negative_and_detections_below_threshold_never_make_an_event():
    frames = _frames(5)
    bins = _detections({s: 0.99 for s in range(5)}, "garbage_bin")
    weak = _detections({s: 0.45 for s in range(5)}, "pothole")  # threshold 0.5
    assert _events(frames, pd.concat([bins, weak])).empty


def test_several_boxes_in_one_frame_count_once_and_the_best_is_the_peak():
    detections = pd.concat([_detections({0: 0.5, 1: 0.6, 2: 0.7}), _detections({1: 0.95})])
    events = _events(_frames(5), detections)
    assert (events["frames_seen"].tolist(), events["peak_score"].tolist()) == ([3], [0.95])


def test_fewer_frames_than_the_window_need_k_of_what_there_is():
    assert _events(_frames(2), _detections({0: 0.9, 1: 0.9})).empty
    assert len(_events(_frames(3), _detections({0: 0.9, 1: 0.9, 2: 0.9}))) == 1


def test_a_detections_frame_counts_as_sampled():
    # No frames listed at all: the three detections' frames are the sequence.
    events = _events(_frames(0), _detections({0: 0.9, 7: 0.9, 9: 0.9}))
    assert events["frames_sampled"].tolist() == [3]


def test_runs_on_plain_sequences():
    assert runs(np.array([1, 1, 0, 0, 0, 0, 1], bool), 2, 3) == [(0, 1)]
    assert runs(np.array([1, 1, 0, 0, 0, 0, 1, 1], bool), 2, 3) == [(0, 1), (6, 7)]
    assert runs(np.array([1, 0, 1, 0, 1, 0, 1], bool), 2, 3) == [(0, 6)]
    assert runs(np.array([], bool), 3, 5) == []


def test_the_rule_and_the_columns():
    with pytest.raises(EventRuleError, match="1 <= k <= n"):
        runs(np.array([True]), 6, 5)
    assert event_id("CAM-9", "pothole", datetime(2026, 1, 2, 3, 4, 5)) == "CE-CAM-9-pothole-20260102030405"
    assert set(EVENT_COLUMNS) <= set(column_names(EVENTS))


def test_frame_time_keeps_the_lakes_microseconds():
    from civiclake.frames.events import frame_time

    assert frame_time(T0, 1 / 3) == pd.Timestamp(T0) + pd.Timedelta(microseconds=333_333)
    assert frame_time(T0, 2.0) == pd.Timestamp(T0 + timedelta(seconds=2))
