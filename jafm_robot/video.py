"""The one MP4 writer (and reader) of the package: dataset camera streams, rollout and demo videos.

One writer so that every video the package leaves behind is the same kind of file: H.264 in MP4,
``yuv420p``, written atomically. The encoding choices are the LeRobot dataset's, because there they
matter: LeRobot stores camera streams as video rather than per-frame PNGs because video is ~20x
smaller, and we follow it. H.264 (``libx264``) is used instead of LeRobot's default AV1 because
every FFmpeg build decodes it quickly and exactly the same way; ``g=2`` keeps seeking cheap as
LeRobot does, and a low CRF keeps the decoded frames within a few grey levels of what the camera
saw (the policy must see at deployment what it saw in training). Rollout and overlay videos are
for people, so the same settings only cost a somewhat larger file.

This module sits in the bottom layer (numpy and PyAV only) so that the envs, the datasets and the
hosts can all call it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

DEFAULT_CODEC = "libx264"
DEFAULT_CRF = 16
PIX_FMT = "yuv420p"


class VideoError(ValueError):
    """A video file is missing, unreadable or holds fewer frames than its metadata says."""


def pad_to_even(frame: np.ndarray) -> np.ndarray:
    """``frame`` with a black row/column added where its height/width is odd (yuv420p needs even).

    Padding rather than resizing keeps every pixel exactly as the env rendered it.
    """
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    out = np.zeros((h + h % 2, w + w % 2, frame.shape[2]), dtype=frame.dtype)
    out[:h, :w] = frame
    return out


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    codec: str = DEFAULT_CODEC,
    crf: int = DEFAULT_CRF,
    pad_odd: bool = False,
) -> Path:
    """Write RGB ``frames`` (each uint8 [H,W,3], or a uint8 [T,H,W,3] array) to ``path``; return it.

    Atomic (temp file + rename) so that a run killed mid-write never leaves a half file under the
    final name, which a later dataset append would otherwise mistake for a finished episode's video.
    Odd frame sizes are an error unless ``pad_odd`` (rendered videos for people may pad; a dataset
    must store exactly the size its metadata declares). An alpha channel is dropped. ``fps`` may be
    fractional (``1 / action_dt``); an integer rate gives the same stream as before.
    """
    import av

    path = Path(path)
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    tmp = path.with_name(path.name + ".tmp")
    container = None
    stream = None
    size: tuple[int, int] | None = None
    try:
        for frame in frames:
            a = np.asarray(frame)
            if a.ndim != 3 or a.shape[-1] not in (3, 4) or a.dtype != np.uint8:
                raise ValueError(f"frames must be uint8 [H,W,3], got {a.dtype} {a.shape}")
            a = a[..., :3]
            if pad_odd:
                a = pad_to_even(a)
            if size is None:
                h, w = a.shape[:2]
                if h % 2 or w % 2:
                    raise ValueError(f"yuv420p video needs even width and height, got {w}x{h}")
                size = (h, w)
                path.parent.mkdir(parents=True, exist_ok=True)
                container = av.open(str(tmp), mode="w", format="mp4")
                stream = container.add_stream(codec, rate=rate)
                stream.width, stream.height, stream.pix_fmt = w, h, PIX_FMT
                stream.options = {"crf": str(crf), "g": "2", "preset": "medium"}
            elif a.shape[:2] != size:
                raise ValueError(f"all frames must share one size: {a.shape[:2]} after {size}")
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(a), format="rgb24")):
                container.mux(packet)
        if container is None:
            raise ValueError(f"no frames to write to {path}")
        for packet in stream.encode():
            container.mux(packet)
        container.close()
        container = None
        os.replace(tmp, path)
    finally:
        if container is not None:  # failed mid-write: leave nothing behind
            container.close()
        tmp.unlink(missing_ok=True)
    return path


def decode_video(
    path: str | Path, from_timestamp: float = 0.0, to_timestamp: float | None = None, fps: float | None = None
) -> np.ndarray:
    """All frames of ``path`` with ``from_timestamp <= t < to_timestamp`` as uint8 [T,H,W,3] RGB.

    Errors name the file, so a broken dataset points at the file to re-record.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoError(f"video file {path} is missing")
    half = 0.5 / fps if fps else 1e-6
    out = []
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                t = float(frame.time) if frame.time is not None else len(out) / (fps or 1.0)
                if t < from_timestamp - half:
                    continue
                if to_timestamp is not None and t >= to_timestamp - half:
                    break
                out.append(frame.to_ndarray(format="rgb24"))
    except (av.error.FFmpegError, OSError) as e:
        raise VideoError(f"video file {path} cannot be decoded: {e}") from e
    if not out:
        raise VideoError(f"video file {path} holds no frames in [{from_timestamp}, {to_timestamp})")
    return np.stack(out)
