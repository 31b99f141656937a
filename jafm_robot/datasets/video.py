"""MP4 encode/decode of camera streams with PyAV (the FFmpeg libraries already in the env).

LeRobot stores camera streams as video rather than as per-frame PNGs because video is ~20x smaller;
we follow it. H.264 (``libx264``) is used instead of LeRobot's default AV1 because every FFmpeg build
decodes it quickly and exactly the same way; ``g=2`` keeps seeking cheap as LeRobot does, and a low
CRF keeps the decoded frames within a few grey levels of what the camera saw (the policy must see
at deployment what it saw in training).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

DEFAULT_CODEC = "libx264"
DEFAULT_CRF = 16
PIX_FMT = "yuv420p"


class VideoError(ValueError):
    """A video file is missing, unreadable or holds fewer frames than its metadata says."""


def encode_video(path: str | Path, frames: np.ndarray, fps: int, codec: str = DEFAULT_CODEC, crf: int = DEFAULT_CRF) -> None:
    """Write ``frames`` (uint8 [T,H,W,3], RGB) to ``path`` atomically (temp file + rename).

    Atomic so that a recording killed mid-write never leaves a half file under the final name,
    which a later append would otherwise mistake for a finished episode's video.
    """
    import av

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be non-empty uint8 [T,H,W,3], got {frames.dtype} {frames.shape}")
    h, w = frames.shape[1:3]
    if h % 2 or w % 2:
        raise ValueError(f"yuv420p video needs even width and height, got {w}x{h}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=int(fps))
        stream.width, stream.height, stream.pix_fmt = w, h, PIX_FMT
        stream.options = {"crf": str(crf), "g": "2", "preset": "medium"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    os.replace(tmp, path)


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
