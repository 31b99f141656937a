"""camera_node with a generated video file standing in for a USB camera, over real DDS."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image

from jafm_robot.ros import qos
from jafm_robot.ros.camera_node import FrameSource, fit_frame
from jafm_robot.ros.conversions import image_to_numpy

pytestmark = pytest.mark.ros


def write_video(path: Path, bgr: tuple[int, int, int], n: int = 15, size: tuple[int, int] = (160, 120)) -> Path:
    """An MJPG file of ``n`` solid-colour frames (colour in BGR, as OpenCV writes)."""
    tmp = path.with_suffix(".tmp.avi")
    w = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), 30, size)
    assert w.isOpened()
    for _ in range(n):
        w.write(np.full((size[1], size[0], 3), bgr, np.uint8))
    w.release()
    os.replace(tmp, path)  # atomic, like a camera driver swapping devices: new inode
    return path


def test_fit_frame_crops_centre_and_converts_to_rgb() -> None:
    bgr = np.zeros((100, 200, 3), np.uint8)
    bgr[:, 50:150] = (255, 0, 0)  # blue centre square in BGR
    out = fit_frame(bgr, 32, 32)
    assert out.shape == (32, 32, 3)
    assert np.all(out[..., 2] == 255) and np.all(out[..., :2] == 0)  # RGB: blue in channel 2


def test_frame_source_loops_and_reconnects(tmp_path: Path) -> None:
    f = write_video(tmp_path / "cam.avi", (0, 0, 200), n=5)
    src = FrameSource(str(f), 64, 64, loop=True, reconnect_s=0.05)
    frames = [src.read() for _ in range(12)]  # more than the file holds: loops
    assert all(fr is not None and fr.shape == (64, 64, 3) for fr in frames)
    assert frames[-1][0, 0, 0] > 150  # red in RGB
    assert src.opens >= 2  # reopened at the end of the file
    f.unlink()
    assert src.read() is None and not src.connected
    write_video(f, (200, 0, 0), n=5)  # blue
    import time

    time.sleep(0.06)
    fr = src.read()
    assert fr is not None and fr[0, 0, 2] > 150 and fr[0, 0, 0] < 60
    src.close()


def test_frame_source_missing_device_is_not_a_crash() -> None:
    src = FrameSource("/nonexistent/video.avi", 32, 32, reconnect_s=0.01)
    assert src.read() is None
    assert "not found" in src.last_error


def test_camera_node_streams_and_survives_file_replacement(tmp_path: Path, graph, probe) -> None:
    f = write_video(tmp_path / "cam.avi", (0, 0, 200))  # red
    images = probe.sub(qos.IMAGE, Image, qos.SENSOR)
    infos = probe.sub(qos.CAMERA_INFO, CameraInfo, qos.SENSOR)
    graph.start("camera_node", params={"source": str(f), "rate_hz": 30.0, "width": 64, "height": 64,
                                       "reconnect_s": 0.2})
    probe.wait_for(lambda: len(images) >= 20, 20.0, "20 frames (more than the file holds: loop)")
    img = image_to_numpy(images[-1][1], expected_size=(64, 64))
    assert img[..., 0].mean() > 150 and img[..., 2].mean() < 60
    probe.wait_for(lambda: infos, 10.0, "camera_info")
    assert infos[-1][1].width == 64 and infos[-1][1].k[0] > 0

    f.unlink()  # the source drops
    n_drop = len(images)
    import time

    time.sleep(1.0)
    assert len(images) - n_drop <= 3  # at most frames already in flight
    write_video(f, (200, 0, 0))  # comes back as blue
    probe.wait_for(lambda: image_to_numpy(images[-1][1])[..., 2].mean() > 150, 10.0, "blue frames after reconnect")
    assert graph.procs["camera_node"].alive
