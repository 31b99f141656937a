"""The package's one video writer (``jafm_robot.video``): what goes in comes back out.

Datasets, rollout videos and the real-time overlays all go through this writer, so a round trip
through a real encoder and decoder (PyAV/FFmpeg, no mocks) is the check that matters: the frame
count, the size and the picture must survive, within the few grey levels that a low CRF allows.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from jafm_robot.video import VideoError, decode_video, write_video


def _frames(n: int, h: int, w: int) -> np.ndarray:
    """Smooth, moving colour gradients: content a video codec keeps faithfully (unlike noise)."""
    y, x = np.mgrid[0:h, 0:w]
    out = np.empty((n, h, w, 3), dtype=np.uint8)
    for t in range(n):
        out[t, ..., 0] = x * 200 // max(w - 1, 1) + 5 * t
        out[t, ..., 1] = y * 255 // max(h - 1, 1)
        out[t, ..., 2] = 40 + 10 * t
    return out


def test_round_trip_keeps_count_shape_and_content(tmp_path) -> None:
    frames = _frames(12, 48, 64)
    path = write_video(tmp_path / "sub" / "v.mp4", frames, fps=10)
    assert path == tmp_path / "sub" / "v.mp4" and path.is_file()
    assert not list(path.parent.glob("*.tmp"))  # written atomically: no temp file left behind
    back = decode_video(path)
    assert back.shape == frames.shape and back.dtype == np.uint8
    err = np.abs(back.astype(np.int16) - frames.astype(np.int16))
    assert err.mean() < 3.0  # within a few grey levels (CRF 16), as the dataset needs
    # frames stay in order: each decoded frame is closest to its own source frame
    dists = np.abs(back[:, None].astype(np.int16) - frames[None].astype(np.int16)).mean(axis=(2, 3, 4))
    assert (dists.argmin(axis=1) == np.arange(len(frames))).all()


def test_list_of_frames_with_fractional_rate_and_odd_size_is_padded(tmp_path) -> None:
    """Rendered videos: a list of frames at ``1 / action_dt`` fps, odd sizes padded, never resized."""
    frames = list(_frames(5, 33, 47))
    path = write_video(tmp_path / "r.mp4", frames, fps=1.0 / 0.1, pad_odd=True)
    back = decode_video(path)
    assert back.shape == (5, 34, 48, 3)
    # the picture is where it was (away from the seam, where 4:2:0 chroma mixes in the black pad)
    assert np.abs(back[:, :30, :44].astype(np.int16) - np.stack(frames)[:, :30, :44]).mean() < 3.0

    import av

    with av.open(str(path)) as c:
        assert Fraction(c.streams.video[0].average_rate) == 10


def test_bad_input_is_a_clear_error_and_leaves_no_file(tmp_path) -> None:
    with pytest.raises(ValueError, match="even width and height"):
        write_video(tmp_path / "odd.mp4", _frames(2, 33, 48), fps=10)  # a dataset must not be padded
    with pytest.raises(ValueError, match="no frames"):
        write_video(tmp_path / "empty.mp4", [], fps=10)
    mixed = [_frames(1, 32, 32)[0], _frames(1, 16, 16)[0]]
    with pytest.raises(ValueError, match="one size"):
        write_video(tmp_path / "mixed.mp4", mixed, fps=10)
    assert not list(tmp_path.iterdir())
    with pytest.raises(VideoError, match="missing"):
        decode_video(tmp_path / "mixed.mp4")
