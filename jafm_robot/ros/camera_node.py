"""``camera_node``: an OpenCV ``VideoCapture`` source published as ``/camera/image_raw`` (rgb8).

The source is a device index (a USB camera), a file or a URL. A file stands in for a USB camera in
tests and demos: it loops at its end, and if it disappears or is replaced the node reconnects, the
same code path that handles a USB camera being unplugged and plugged back in. Frames are centre
cropped and resized to the policy's input size here, once, so the policy node can reject any other
size as a misconfiguration instead of resizing silently.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from jafm_robot.ros import diagnostics as diag
from jafm_robot.ros import qos
from jafm_robot.ros.conversions import camera_info, numpy_to_image
from jafm_robot.ros.node_util import run_node
from jafm_robot.ros.params import CameraNodeParams, declare


def fit_frame(bgr: np.ndarray, width: int, height: int) -> np.ndarray:
    """BGR frame -> RGB uint8[height, width, 3]: centre crop to the target aspect, then resize."""
    if bgr.ndim == 2:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
    elif bgr.shape[2] == 4:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_BGRA2BGR)
    if width > 0 and height > 0:
        h, w = bgr.shape[:2]
        target = width / height
        if w / h > target:  # too wide: crop the sides
            nw = max(1, round(h * target))
            x0 = (w - nw) // 2
            bgr = bgr[:, x0 : x0 + nw]
        elif w / h < target:
            nh = max(1, round(w / target))
            y0 = (h - nh) // 2
            bgr = bgr[y0 : y0 + nh]
        if bgr.shape[:2] != (height, width):
            bgr = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(bgr[:, :, ::-1])


class FrameSource:
    """A ``VideoCapture`` that loops files and reopens a source that dropped (plain class, no ROS).

    ``read()`` returns an RGB frame or None (source not available right now). A file is reopened at
    its end (so a replaced file is picked up) and when its inode/mtime changes; a missing file or a
    camera that stops delivering frames is retried every ``reconnect_s``.
    """

    def __init__(self, source: str, width: int, height: int, loop: bool = True, reconnect_s: float = 1.0) -> None:
        self.source = source
        self.width, self.height = width, height
        self.loop = loop
        self.reconnect_s = reconnect_s
        self.is_device = source.isdigit()
        self.is_file = not self.is_device and "://" not in source
        self._cap: cv2.VideoCapture | None = None
        self._sig: tuple[int, int] | None = None
        self._next_try = 0.0
        self.opens = 0  # successful opens (1 + reconnects)
        self.drops = 0  # times the source went away
        self.frames = 0
        self.last_error = ""
        self.fps = 0.0

    def _file_sig(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.source)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def _open(self) -> bool:
        now = time.monotonic()
        if now < self._next_try:
            return False
        self._next_try = now + self.reconnect_s
        if self.is_file:
            self._sig = self._file_sig()
            if self._sig is None:
                self.last_error = f"file {self.source} not found"
                return False
        cap = cv2.VideoCapture(int(self.source)) if self.is_device else cv2.VideoCapture(self.source)
        if not cap.isOpened():
            cap.release()
            self.last_error = f"cannot open {self.source}"
            return False
        self._cap = cap
        self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.opens += 1
        self.last_error = ""
        return True

    def _drop(self, why: str) -> None:
        if self._cap is not None:
            self._cap.release()
        self._cap = None
        self.drops += 1
        self.last_error = why

    @property
    def connected(self) -> bool:
        return self._cap is not None

    def read(self) -> np.ndarray | None:
        if self._cap is not None and self.is_file and self._file_sig() != self._sig:
            self._drop(f"file {self.source} replaced or removed")
            self._next_try = 0.0  # a replaced file can be reopened at once
        if self._cap is None and not self._open():
            return None
        assert self._cap is not None
        ok, frame = self._cap.read()
        if not ok or frame is None:
            if self.is_file and self.loop:
                # End of file: reopen (not seek) so a file replaced in place is picked up too.
                self._cap.release()
                self._cap = None
                self._next_try = 0.0
                if not self._open():
                    return None
                ok, frame = self._cap.read()
            if not ok or frame is None:
                self._drop(f"{self.source} delivered no frame")
                return None
        self.frames += 1
        return fit_frame(frame, self.width, self.height)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class CameraNode(Node):
    """Publishes frames from a :class:`FrameSource` at ``rate_hz`` from its own capture thread.

    Capture runs off the executor: ``VideoCapture.read`` blocks (a camera delivers at its own rate)
    and would otherwise stall diagnostics and shutdown.
    """

    def __init__(self) -> None:
        super().__init__("camera_node")
        self.p = declare(self, CameraNodeParams)
        if Path(self.p.source).suffix and not self.p.source.isdigit() and "://" not in self.p.source:
            self.p.source = str(Path(self.p.source).expanduser())
        self.src = FrameSource(self.p.source, self.p.width, self.p.height, self.p.loop, self.p.reconnect_s)
        self.pub_img = self.create_publisher(Image, qos.IMAGE, qos.SENSOR)
        self.pub_info = self.create_publisher(CameraInfo, qos.CAMERA_INFO, qos.SENSOR)
        self.pub_diag = self.create_publisher(diag.DiagnosticArray, qos.DIAGNOSTICS, qos.DEFAULT)
        self.rate = diag.RateMeter()
        self.throttle = diag.Throttle()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="camera_capture", daemon=True)
        self._thread.start()
        self.create_timer(1.0 / self.p.diagnostics_rate_hz, self._publish_diagnostics)
        self.get_logger().info(f"camera_node: source={self.p.source} out={self.p.width}x{self.p.height} @ {self.p.rate_hz} Hz")

    def _loop(self) -> None:
        period = 1.0 / self.p.rate_hz
        next_t = time.monotonic()
        while not self._stop.is_set():
            frame = self.src.read()
            if frame is None:
                if self.throttle.allow("no_frame"):
                    self.get_logger().warning(f"camera source unavailable ({self.src.last_error}); retrying")
                self._stop.wait(min(0.1, self.p.reconnect_s))
                next_t = time.monotonic()
                continue
            stamp = self.get_clock().now().to_msg()
            try:
                self.pub_img.publish(numpy_to_image(frame, stamp, self.p.frame_id))
                h, w = frame.shape[:2]
                self.pub_info.publish(camera_info(w, h, self.p.fov_deg, stamp, self.p.frame_id))
            except Exception as e:  # publishing after shutdown started: leave quietly
                if self._stop.is_set() or not self.context.ok():
                    return
                if self.throttle.allow("publish"):
                    self.get_logger().error(f"publish failed: {e}")
            self.rate.tick()
            next_t += period
            delay = next_t - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_t = time.monotonic()

    def _publish_diagnostics(self) -> None:
        ok = self.src.connected
        st = diag.status(
            "jafm_robot: camera_node",
            diag.OK if ok else diag.WARN,
            "streaming" if ok else f"source lost: {self.src.last_error}",
            {
                "source": self.p.source,
                "rate_hz": self.rate.rate(),
                "frames": self.src.frames,
                "opens": self.src.opens,
                "drops": self.src.drops,
                "source_fps": self.src.fps,
            },
        )
        self.pub_diag.publish(diag.array(self.get_clock().now().to_msg(), st))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.src.close()


def main(argv: list[str] | None = None) -> int:
    return run_node(CameraNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
