"""The interfaces fixed by docs/architecture.md, in one place.

Every host (gym env, real-time runtime, ROS 2 nodes) and every policy imports these constants
instead of repeating literals, so a change to the contract is a change to this file. Pure Python +
NumPy: the runtime imports it without torch, ROS or PyBullet.
"""

from __future__ import annotations

import numpy as np

SCHEMA_VERSION = "1"

STATE_DIM = 8  # 7 joint positions (rad) + gripper opening width (m)
ACTION_DIM = 8  # 7 absolute joint position targets (rad) + gripper width target (m)
INSTRUCTION_LEN = 128  # UTF-8 bytes, zero padded
DEFAULT_IMAGE_SIZE = 128
DEFAULT_ACTION_DT = 0.1  # seconds between action points
DEFAULT_CHUNK_LEN = 10
GRIPPER_MAX_WIDTH = 0.08
GRIPPER_MIN_WIDTH = 0.0

TASKS = ("Reach", "PickPlace", "ConveyorPick", "Stack", "Sort")
LANGUAGES = ("en", "ja")
ENV_IDS = tuple(f"jafm_robot/{t}-v0" for t in TASKS)

# ONNX metadata_props keys that every policy file carries.
METADATA_KEYS = (
    "jafm.schema_version",
    "robot",
    "joint_names",
    "action_dt",
    "chunk_len",
    "image_size",
    "cameras",
    "tasks",
    "languages",
    "training",
)


def encode_instruction(text: str) -> np.ndarray:
    """UTF-8 bytes of ``text``, zero padded (or cut on a character boundary) to INSTRUCTION_LEN.

    Cutting on a character boundary matters for Japanese: a half multi-byte character would decode
    to garbage and the byte-level encoder would see a sequence it never saw in training.
    """
    if not isinstance(text, str):
        raise TypeError(f"instruction must be str, got {type(text).__name__}")
    raw = text.encode("utf-8")
    if len(raw) > INSTRUCTION_LEN:
        raw = raw[:INSTRUCTION_LEN]
        while raw and (raw[-1] & 0xC0) == 0x80:  # drop continuation bytes of a cut character
            raw = raw[:-1]
        if raw and raw[-1] >= 0xC0:  # and the lead byte that started it
            raw = raw[:-1]
    out = np.zeros(INSTRUCTION_LEN, dtype=np.uint8)
    out[: len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    return out


def decode_instruction(arr: np.ndarray) -> str:
    """Inverse of :func:`encode_instruction` (trailing zeros dropped, invalid bytes replaced)."""
    b = bytes(np.asarray(arr, dtype=np.uint8).tolist()).rstrip(b"\x00")
    return b.decode("utf-8", errors="replace")


def detect_language(text: str) -> str:
    """'ja' when the text holds kana or CJK ideographs, else 'en'.

    Hosts use it to label an instruction typed by a user; a policy rejects a language it was not
    trained on rather than guessing.
    """
    for ch in text:
        o = ord(ch)
        if 0x3040 <= o <= 0x30FF or 0x4E00 <= o <= 0x9FFF or 0xFF66 <= o <= 0xFF9F:
            return "ja"
    if all(ord(c) < 128 for c in text):
        return "en"
    return "unknown"
