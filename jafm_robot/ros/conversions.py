"""ROS message <-> NumPy conversions used by every node (and nothing else: no node logic here).

Every function that reads a message validates it and raises :class:`ConversionError` with a message
that says what was wrong (encoding, size, NaN, missing joint). The nodes catch that one exception
type, log it throttled and answer with a safe hold, so a malformed message can never crash a node or
reach the arm.

Joint state convention (documented in README's ROS section too): ``/joint_states`` carries the 7 arm
joints plus both finger joints of the Panda (``panda_finger_joint1/2``), each finger at half the
opening width, which is what ``franka_gripper`` publishes for a real Panda. ``state8[7]`` (gripper
width, m) is the sum of the finger positions; if only one finger joint is present the gripper is
taken as symmetric (width = 2 x finger).

Action chunks travel as ``trajectory_msgs/JointTrajectory``: ``joint_names`` = the 7 arm joints +
:data:`GRIPPER_WIDTH_JOINT`, one point per action, ``time_from_start`` = (i + 1) * action_dt and
``header.stamp`` = the stamp of the observation the policy saw (so the controller can tell how old
the chunk is, and latency can be measured end to end).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Duration, Time
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray, MultiArrayDimension
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from jafm_robot.contract import ACTION_DIM, STATE_DIM

GRIPPER_WIDTH_JOINT = "gripper_width"
_ENC_CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}


class ConversionError(ValueError):
    """A message that cannot be turned into what the node needs (the node holds and logs it)."""


# ----------------------------------------------------------------------------------------------- time
def stamp_to_sec(stamp: Time) -> float:
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def sec_to_stamp(t: float) -> Time:
    sec = int(np.floor(t))
    nsec = round((t - sec) * 1e9)
    if nsec >= 1_000_000_000:
        sec, nsec = sec + 1, nsec - 1_000_000_000
    return Time(sec=sec, nanosec=nsec)


def sec_to_duration(t: float) -> Duration:
    s = sec_to_stamp(t)
    return Duration(sec=s.sec, nanosec=s.nanosec)


def duration_to_sec(d: Duration) -> float:
    return float(d.sec) + float(d.nanosec) * 1e-9


# --------------------------------------------------------------------------------------------- images
def image_to_numpy(msg: Image, expected_size: tuple[int, int] | None = None) -> np.ndarray:
    """``sensor_msgs/Image`` -> uint8[H, W, 3] RGB (a copy the caller owns).

    Accepts rgb8 and bgr8 (OpenCV cameras publish bgr8; converted here once); anything else is a
    clear error, never a silent colour swap the policy was not trained on. ``expected_size``
    (height, width) rejects frames of the wrong size instead of letting a resize hide a
    misconfigured camera.
    """
    enc = (msg.encoding or "").lower()
    if enc not in ("rgb8", "bgr8"):
        raise ConversionError(f"image encoding {msg.encoding!r} not supported (need rgb8 or bgr8)")
    h, w = int(msg.height), int(msg.width)
    if h <= 0 or w <= 0:
        raise ConversionError(f"image has empty size {w}x{h}")
    if expected_size is not None and (h, w) != tuple(expected_size):
        raise ConversionError(f"image is {w}x{h}, expected {expected_size[1]}x{expected_size[0]}")
    step = int(msg.step) or w * 3
    if step < w * 3:
        raise ConversionError(f"image step {step} is smaller than width*3 = {w * 3}")
    buf = _as_bytes(msg.data)
    if buf.size < step * h:
        raise ConversionError(f"image data has {buf.size} bytes, header says {step * h}")
    img = buf[: step * h].reshape(h, step)[:, : w * 3].reshape(h, w, 3)
    if enc == "bgr8":
        img = img[:, :, ::-1]
    return np.ascontiguousarray(img)


def _as_bytes(data: object) -> np.ndarray:
    """The uint8 view of an Image's data (array.array, bytes or a list, depending on how it was set)."""
    try:
        return np.frombuffer(memoryview(data), dtype=np.uint8)  # type: ignore[arg-type]
    except TypeError:
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def numpy_to_image(img: np.ndarray, stamp: Time | None = None, frame_id: str = "", encoding: str = "rgb8") -> Image:
    """uint8[H, W, 3] -> ``sensor_msgs/Image`` (rgb8 or bgr8; the array is taken as already in that order)."""
    arr = np.asarray(img)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ConversionError(f"image must be uint8[H, W, 3], got {arr.dtype}{list(arr.shape)}")
    if encoding not in ("rgb8", "bgr8"):
        raise ConversionError(f"encoding {encoding!r} not supported")
    msg = Image()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(arr.shape[0]), int(arr.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(arr.shape[1]) * 3
    msg.data = np.ascontiguousarray(arr).tobytes()
    return msg


def camera_info(width: int, height: int, fov_deg: float, stamp: Time | None = None, frame_id: str = "") -> CameraInfo:
    """Pinhole ``CameraInfo`` for a camera of vertical field of view ``fov_deg`` (PyBullet's convention)."""
    fy = 0.5 * height / np.tan(np.deg2rad(fov_deg) / 2)
    fx = fy
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    msg = CameraInfo()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.width, msg.height = int(width), int(height)
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


# --------------------------------------------------------------------------------------- joint states
def joint_state_to_state8(
    msg: JointState, joint_names: Sequence[str], finger_joint_names: Sequence[str]
) -> np.ndarray:
    """``JointState`` -> float32[8] (7 joint positions + gripper width), matched by name, any order.

    Raises on a missing arm joint, on a length mismatch between names and positions and on
    non-finite values: a NaN joint state must make the controller hold, not interpolate towards NaN.
    """
    names = list(msg.name)
    pos = list(msg.position)
    if len(names) != len(pos):
        raise ConversionError(f"joint_states has {len(names)} names but {len(pos)} positions")
    index = {n: i for i, n in enumerate(names)}
    missing = [n for n in joint_names if n not in index]
    if missing:
        raise ConversionError(f"joint_states lacks {', '.join(missing)}")
    out = np.empty(STATE_DIM, dtype=np.float64)
    out[: len(joint_names)] = [pos[index[n]] for n in joint_names]
    fingers = [pos[index[n]] for n in finger_joint_names if n in index]
    if GRIPPER_WIDTH_JOINT in index:
        out[STATE_DIM - 1] = pos[index[GRIPPER_WIDTH_JOINT]]
    elif len(fingers) >= 2:
        out[STATE_DIM - 1] = sum(fingers[:2])
    elif len(fingers) == 1:
        out[STATE_DIM - 1] = 2.0 * fingers[0]
    else:
        raise ConversionError(
            f"joint_states lacks the gripper ({', '.join(finger_joint_names) or GRIPPER_WIDTH_JOINT})"
        )
    if not np.all(np.isfinite(out)):
        raise ConversionError(f"joint_states holds non-finite values: {out.tolist()}")
    return out.astype(np.float32)


def state8_to_joint_state(
    state8: np.ndarray,
    joint_names: Sequence[str],
    finger_joint_names: Sequence[str],
    stamp: Time | None = None,
    velocity8: np.ndarray | None = None,
) -> JointState:
    """float32[8] -> ``JointState`` with the 7 arm joints and each finger at half the width."""
    s = np.asarray(state8, dtype=np.float64).reshape(-1)
    if s.shape != (STATE_DIM,):
        raise ConversionError(f"state must have {STATE_DIM} values, got {s.shape}")
    msg = JointState()
    if stamp is not None:
        msg.header.stamp = stamp
    nf = max(1, len(finger_joint_names))
    msg.name = [*joint_names, *finger_joint_names]
    msg.position = [*s[: len(joint_names)].tolist(), *([float(s[-1]) / nf] * len(finger_joint_names))]
    if velocity8 is not None:
        v = np.asarray(velocity8, dtype=np.float64).reshape(-1)
        msg.velocity = [*v[: len(joint_names)].tolist(), *([float(v[-1]) / nf] * len(finger_joint_names))]
    return msg


# ------------------------------------------------------------------------------------- action chunks
@dataclass(frozen=True)
class ChunkMsgData:
    """What a ``JointTrajectory`` chunk carries, in NumPy: stamp of the observation, dt, actions."""

    stamp: float  # seconds, the observation's stamp
    dt: float  # seconds between points
    actions: np.ndarray  # float32[T, 8], absolute targets


def chunk_to_trajectory(
    actions: np.ndarray, action_dt: float, stamp: Time, joint_names: Sequence[str], frame_id: str = ""
) -> JointTrajectory:
    """float32[T, 8] -> ``JointTrajectory`` (stamp = observation stamp; point i at (i+1)*dt)."""
    a = np.asarray(actions, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != ACTION_DIM or a.shape[0] < 1:
        raise ConversionError(f"actions must be [T>=1, {ACTION_DIM}], got {list(a.shape)}")
    if not np.all(np.isfinite(a)):
        raise ConversionError("actions hold non-finite values")
    if not (action_dt > 0):
        raise ConversionError(f"action_dt must be > 0, got {action_dt}")
    msg = JointTrajectory()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.joint_names = [*joint_names, GRIPPER_WIDTH_JOINT]
    pts = []
    for i, row in enumerate(a):
        p = JointTrajectoryPoint()
        p.positions = row.tolist()
        p.time_from_start = sec_to_duration((i + 1) * action_dt)
        pts.append(p)
    msg.points = pts
    return msg


def trajectory_to_chunk(msg: JointTrajectory, joint_names: Sequence[str]) -> ChunkMsgData:
    """``JointTrajectory`` -> :class:`ChunkMsgData`; columns reordered by name to 7 joints + gripper.

    The points must be evenly spaced (the runtime's chunks are); the spacing becomes ``dt``.
    """
    names = list(msg.joint_names)
    want = [*joint_names, GRIPPER_WIDTH_JOINT]
    index = {n: i for i, n in enumerate(names)}
    missing = [n for n in want if n not in index]
    if missing:
        raise ConversionError(f"trajectory lacks joints {', '.join(missing)}")
    if not msg.points:
        raise ConversionError("trajectory has no points")
    cols = [index[n] for n in want]
    rows, times = [], []
    for k, p in enumerate(msg.points):
        if len(p.positions) != len(names):
            raise ConversionError(f"trajectory point {k} has {len(p.positions)} positions for {len(names)} joints")
        rows.append([p.positions[c] for c in cols])
        times.append(duration_to_sec(p.time_from_start))
    actions = np.asarray(rows, dtype=np.float64)
    if not np.all(np.isfinite(actions)):
        raise ConversionError("trajectory holds non-finite positions")
    t = np.asarray(times)
    if len(t) >= 2:
        d = np.diff(t)
        if np.any(d <= 0):
            raise ConversionError("trajectory times must increase")
        dt = float(np.mean(d))
        if np.max(np.abs(d - dt)) > 1e-3:
            raise ConversionError("trajectory points must be evenly spaced")
    else:
        dt = float(t[0])
    if not (dt > 0):
        raise ConversionError(f"trajectory spacing must be > 0, got {dt}")
    return ChunkMsgData(stamp=stamp_to_sec(msg.header.stamp), dt=dt, actions=actions.astype(np.float32))


# ----------------------------------------------------------------------------------------- commands
def command_to_msg(target8: np.ndarray) -> Float64MultiArray:
    """float[8] -> ``Float64MultiArray`` as a ros2_control forward position controller expects."""
    t = np.asarray(target8, dtype=np.float64).reshape(-1)
    msg = Float64MultiArray()
    msg.layout.dim = [MultiArrayDimension(label="joints", size=int(t.size), stride=int(t.size))]
    msg.data = t.tolist()
    return msg


def msg_to_command(msg: Float64MultiArray) -> np.ndarray:
    """``Float64MultiArray`` -> float64[8], with a clear error on a wrong length or NaN."""
    d = np.asarray(msg.data, dtype=np.float64).reshape(-1)
    if d.shape != (ACTION_DIM,):
        raise ConversionError(f"command must have {ACTION_DIM} values, got {d.size}")
    if not np.all(np.isfinite(d)):
        raise ConversionError("command holds non-finite values")
    return d
