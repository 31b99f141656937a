"""The policy file contract: ONNX ``metadata_props``, the model card beside it, and their checks.

Shared by the exporter (which writes them) and every host (which reads them), so that nothing
about a policy is hard-coded in a host. Needs ``onnx`` only to read/write props; no torch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jafm_robot.contract import (
    ACTION_DIM,
    DEFAULT_ACTION_DT,
    DEFAULT_CHUNK_LEN,
    DEFAULT_IMAGE_SIZE,
    INSTRUCTION_LEN,
    LANGUAGES,
    METADATA_KEYS,
    SCHEMA_VERSION,
    STATE_DIM,
    TASKS,
)


class ModelFileError(ValueError):
    """A policy file or its card does not match what the host expects (clear message, no crash)."""


@dataclass
class PolicyMetadata:
    robot: str = "panda"
    joint_names: list[str] = field(default_factory=lambda: [f"panda_joint{i}" for i in range(1, 8)])
    action_dt: float = DEFAULT_ACTION_DT
    chunk_len: int = DEFAULT_CHUNK_LEN
    image_size: int = DEFAULT_IMAGE_SIZE
    cameras: list[str] = field(default_factory=lambda: ["image"])
    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    languages: list[str] = field(default_factory=lambda: list(LANGUAGES))
    training: dict[str, Any] = field(default_factory=dict)
    schema_version: str = SCHEMA_VERSION

    def to_props(self) -> dict[str, str]:
        """Strings for ONNX ``metadata_props`` (JSON where structured)."""
        d = asdict(self)
        props = {"jafm.schema_version": self.schema_version}
        for k in METADATA_KEYS[1:]:
            v = d[k]
            props[k] = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
        return props

    @classmethod
    def from_props(cls, props: dict[str, str], source: str = "model") -> PolicyMetadata:
        missing = [k for k in METADATA_KEYS if k not in props]
        if missing:
            raise ModelFileError(f"{source}: ONNX metadata lacks {', '.join(missing)} (not a jafm_robot policy?)")
        if props["jafm.schema_version"] != SCHEMA_VERSION:
            raise ModelFileError(
                f"{source}: schema version {props['jafm.schema_version']!r}, this jafm_robot reads {SCHEMA_VERSION!r}"
            )
        try:
            vals = {k: json.loads(props[k]) for k in METADATA_KEYS[2:]}
        except json.JSONDecodeError as e:
            raise ModelFileError(f"{source}: malformed JSON in ONNX metadata: {e}") from e
        meta = cls(robot=props["robot"], **vals)
        meta.validate(source)
        return meta

    def validate(self, source: str = "model") -> None:
        if not (isinstance(self.chunk_len, int) and self.chunk_len >= 1):
            raise ModelFileError(f"{source}: chunk_len must be a positive integer, got {self.chunk_len!r}")
        if not (isinstance(self.action_dt, (int, float)) and 0 < self.action_dt <= 5):
            raise ModelFileError(f"{source}: action_dt must be in (0, 5] s, got {self.action_dt!r}")
        if not (isinstance(self.image_size, int) and 16 <= self.image_size <= 1024):
            raise ModelFileError(f"{source}: image_size must be an integer in [16, 1024], got {self.image_size!r}")
        if len(self.joint_names) != ACTION_DIM - 1:
            raise ModelFileError(f"{source}: expects {ACTION_DIM - 1} joint names, got {len(self.joint_names)}")
        bad = [c for c in self.cameras if c not in ("image", "wrist_image")]
        if bad or not self.cameras:
            raise ModelFileError(f"{source}: unknown cameras {bad or self.cameras}")
        bad_lang = [x for x in self.languages if x not in LANGUAGES]
        if bad_lang:
            raise ModelFileError(f"{source}: unknown languages {bad_lang}")


#: the name of the batch axis in the contract's shapes (the exporter's ``dynamic_axes`` name)
BATCH_AXIS = "B"


def expected_inputs(meta: PolicyMetadata) -> dict[str, tuple[str, tuple]]:
    """name -> (ONNX element type name, shape with 'B' for the batch axis) of the policy inputs."""
    s = meta.image_size
    spec = {"image": ("uint8", (BATCH_AXIS, s, s, 3))}
    if "wrist_image" in meta.cameras:
        spec["wrist_image"] = ("uint8", (BATCH_AXIS, s, s, 3))
    spec["state"] = ("float32", (BATCH_AXIS, STATE_DIM))
    spec["instruction"] = ("uint8", (BATCH_AXIS, INSTRUCTION_LEN))
    return spec


def expected_output(meta: PolicyMetadata) -> tuple[str, tuple]:
    return ("float32", (BATCH_AXIS, meta.chunk_len, ACTION_DIM))


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def card_path(model_path: str | Path) -> Path:
    """``models/<name>.onnx`` -> ``models/<name>.json``."""
    return Path(model_path).with_suffix(".json")


def read_card(model_path: str | Path) -> dict[str, Any] | None:
    p = card_path(model_path)
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise ModelFileError(f"model card {p} is not valid JSON: {e}") from e


def verify_card_sha256(model_path: str | Path, card: dict[str, Any]) -> None:
    want = card.get("sha256")
    if not want:
        raise ModelFileError(f"model card {card_path(model_path)} has no sha256")
    got = sha256_file(model_path)
    if got != want:
        raise ModelFileError(
            f"{model_path}: sha256 {got[:16]}… does not match its card ({want[:16]}…); "
            "the file is corrupt, truncated or not the one the card describes"
        )
