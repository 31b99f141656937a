"""Shared-memory slots with a seqlock, for the robot (simulator) process and the runtime process.

The simulator runs in its own process because PyBullet holds the GIL while it renders (a 128x128
frame takes ~25 ms): in the same process it would stall the 500-1000 Hz control loop for whole
periods. Across processes, the hot data (the latest command, the latest state, the latest camera
frames) goes through shared memory instead of pipes, so neither side ever blocks on the other: a
writer bumps the sequence number to odd, writes, bumps it to even; a reader retries while the
number is odd or changed under it. Only the latest value matters, exactly like a real robot's
state and command registers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

from jafm_robot.contract import ACTION_DIM, STATE_DIM

_CTRL = 8  # int64 words: 0 stop, 1 cmd seq, 2 state seq, 3 obs seq, 4 running


@dataclass(frozen=True)
class Layout:
    image_size: int

    @property
    def sizes(self) -> dict[str, int]:
        s = self.image_size
        return {
            "ctrl": _CTRL * 8,
            "cmd": ACTION_DIM * 8,
            "state": (STATE_DIM + 1) * 8,  # + stamp
            "obs_state": (STATE_DIM + 1) * 8,  # state at the frame + stamp
            "image": s * s * 3,
            "wrist_image": s * s * 3,
        }

    @property
    def nbytes(self) -> int:
        return sum(self.sizes.values())


class SharedSlots:
    """The views over one shared-memory block (create in the parent, attach in the child)."""

    def __init__(self, layout: Layout, name: str | None = None) -> None:
        self.layout = layout
        self.owner = name is None
        self.shm = shared_memory.SharedMemory(name=name, create=self.owner, size=layout.nbytes)
        buf, off = self.shm.buf, 0
        views: dict[str, np.ndarray] = {}
        s = layout.image_size
        for key, n in layout.sizes.items():
            if key == "ctrl":
                views[key] = np.ndarray((_CTRL,), np.int64, buf, off)
            elif key in ("image", "wrist_image"):
                views[key] = np.ndarray((s, s, 3), np.uint8, buf, off)
            else:
                views[key] = np.ndarray((n // 8,), np.float64, buf, off)
            off += n
        self.v = views
        if self.owner:
            views["ctrl"][:] = 0

    @property
    def name(self) -> str:
        return self.shm.name

    # -- seqlock --------------------------------------------------------------------------------
    def _write(self, seq_i: int, items: dict[str, np.ndarray]) -> None:
        ctrl = self.v["ctrl"]
        ctrl[seq_i] += 1  # odd: writing
        for key, val in items.items():
            self.v[key][...] = val
        ctrl[seq_i] += 1  # even: consistent

    def _read(self, seq_i: int, keys: tuple[str, ...]) -> tuple[int, dict[str, np.ndarray]]:
        ctrl = self.v["ctrl"]
        for _ in range(10_000):
            s1 = int(ctrl[seq_i])
            if s1 & 1:
                time.sleep(0)
                continue
            out = {k: self.v[k].copy() for k in keys}
            if int(ctrl[seq_i]) == s1:
                return s1 // 2, out
        raise TimeoutError("shared-memory writer stuck mid-write")

    # -- the three registers ------------------------------------------------------------------
    def write_command(self, cmd: np.ndarray) -> None:
        self._write(1, {"cmd": cmd})

    def read_command(self) -> tuple[int, np.ndarray]:
        seq, d = self._read(1, ("cmd",))
        return seq, d["cmd"]

    def write_state(self, state: np.ndarray, stamp: float) -> None:
        self._write(2, {"state": np.append(state, stamp)})

    def read_state(self) -> tuple[int, np.ndarray, float]:
        seq, d = self._read(2, ("state",))
        return seq, d["state"][:STATE_DIM], float(d["state"][STATE_DIM])

    def write_obs(self, image: np.ndarray, wrist: np.ndarray, state: np.ndarray, stamp: float) -> None:
        self._write(3, {"image": image, "wrist_image": wrist, "obs_state": np.append(state, stamp)})

    def read_obs(self) -> tuple[int, dict[str, np.ndarray], float]:
        seq, d = self._read(3, ("image", "wrist_image", "obs_state"))
        st = d.pop("obs_state")
        d["state"] = st[:STATE_DIM].astype(np.float32)
        return seq, d, float(st[STATE_DIM])

    # -- flags ----------------------------------------------------------------------------------
    def request_stop(self, value: bool = True) -> None:
        self.v["ctrl"][0] = int(value)

    @property
    def stop_requested(self) -> bool:
        return bool(self.v["ctrl"][0])

    def close(self) -> None:
        for k in list(self.v):
            del self.v[k]
        self.shm.close()
        if self.owner:
            try:
                self.shm.unlink()
            except FileNotFoundError:
                pass
