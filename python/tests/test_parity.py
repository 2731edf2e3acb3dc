"""The bindings give the command line's results: for the same frames and first boxes, every box, score and state
of its CSV log, to the precision the log is written with."""

from __future__ import annotations

from conftest import Clip, LogRow, assert_matches_log

import siamtrack


def test_log_covers_every_state(cli_log: list[LogRow]) -> None:
    # The clip's target leaves the frame and comes back, so the comparisons below cover every state, the
    # lost target's scan and its recovery.
    states = [row.state for row in cli_log]
    assert set(states) == {"tracking", "uncertain", "lost"}
    assert "tracking" in states[states.index("lost"):]


def test_tracker_matches_the_command_line(clip: Clip, cli_log: list[LogRow]) -> None:
    assert len(cli_log) == len(clip.frames)
    tracker = siamtrack.Tracker()
    tracker.init(clip.frames[0], clip.boxes[0])
    assert_matches_log(siamtrack.Track(*clip.boxes[0]), cli_log[0])
    assert tracker.getTrackingScore() == 1.0
    for frame, row in zip(clip.frames[1:], cli_log[1:]):
        track = tracker.track(frame)
        assert_matches_log(track, row)
        assert tracker.getTrackingScore() == track.score


def test_update_gives_the_boxes_of_track(clip: Clip, cli_log: list[LogRow]) -> None:
    tracker = siamtrack.Tracker()
    tracker.init(clip.frames[0], clip.boxes[0])
    for frame, row in zip(clip.frames[1:], cli_log[1:]):
        ok, box = tracker.update(frame)
        assert ok == (row.state != "lost")
        assert all(isinstance(v, float) for v in box)
        assert_matches_log(siamtrack.Track(*box, score=tracker.getTrackingScore(), state=row.state), row)


def test_multi_tracker_matches_the_command_line(clip_two: Clip, cli_log_two: list[LogRow]) -> None:
    assert len(clip_two.boxes) == 2
    targets = siamtrack.MultiTracker()
    assert [targets.add(clip_two.frames[0], box) for box in clip_two.boxes] == [1, 2]
    rows = iter(cli_log_two[2:])
    for frame in clip_two.frames[1:]:
        tracks = targets.update(frame)
        assert [t.id for t in tracks] == [1, 2]
        for track in tracks:
            assert_matches_log(track, next(rows))
    assert next(rows, None) is None


def test_track_video_matches_the_command_line(clip: Clip, cli_log: list[LogRow]) -> None:
    seen = 0
    for (index, tracks), row in zip(siamtrack.track_video(clip.folder, [clip.boxes[0]]), cli_log):
        assert index == row.frame == seen
        assert len(tracks) == 1
        assert_matches_log(tracks[0], row)
        seen += 1
    assert seen == len(cli_log)
