"""The one observation contract: every policy kind validates and batches an observation here.

A torch checkpoint (``policies.inference.TorchPolicy``, the distillation teachers and student), its
ONNX export run by :class:`~jafm_robot.runtime.engine.PolicyEngine` (eval, the real-time runtime,
the ROS ``policy_node``) all call :func:`prepare_observation`, so a policy and its export reject the
same bad observation with the same :class:`ObservationError` and feed the same bytes to the network
for a good one. NumPy only: the runtime must never need torch (docs/architecture.md, "ONNX policy
file").

The rule (docs/architecture.md, "Gymnasium environments" and "ONNX policy file"), strict because a
repaired observation is a distribution the policy was never trained on:

* ``obs`` is a dict. Keys the policy does not use (``wrist_image`` for a one-camera policy, the
  env's extras) are ignored: an env observation always carries both cameras.
* each camera the policy uses (its metadata ``cameras``) is present (``None`` counts as missing) and
  is a ``uint8[S,S,3]`` ndarray with ``S`` the policy's ``image_size`` -- never resized, never cast.
* ``state`` is 8 finite floating-point numbers (float16/32/64, ndarray or list); it is fed as
  float32, the graph's type. Integer, bool or text state is an error (joint angles are never whole
  numbers; an int array there is a bug upstream), so is NaN/Inf.
* ``instruction`` is a ``str`` of at most 128 UTF-8 bytes (encoded here, zero padded) or a
  ``uint8[128]`` ndarray (the env's form, taken as is). A longer text is an error, not silently cut:
  the policy would act on an instruction the user did not give. A missing instruction is an error,
  not zeros. The bytes' content is not checked: the language gate is the host's
  (``policy_node`` refuses a language the model was not trained on).
* one observation per call: an extra leading axis (``[1,S,S,3]``, ``[1,8]``, ``[1,128]``) is an
  error. Only ``batched=True`` takes a leading batch axis ``B`` (the same ``B`` on every input).

Every violation is an :class:`ObservationError` (a ``ValueError``) naming the key, what was expected
and what came.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from jafm_robot.contract import INSTRUCTION_LEN, STATE_DIM, encode_instruction


class ObservationError(ValueError):
    """An observation that does not honour the contract (names the key, the expected and the actual)."""


def _describe(x: Any) -> str:
    """``uint8[1, 64, 64, 3]`` for an array, the type name for anything else (what an error shows)."""
    if isinstance(x, np.ndarray):
        return f"{x.dtype}{list(x.shape)}"
    return type(x).__name__


def _batch_hint(shape: tuple[int, ...], want: tuple[int, ...], batched: bool) -> str:
    """A pointer at the usual mistake: a batch-1 array handed to the one-observation API."""
    if not batched and len(shape) == len(want) + 1 and shape[1:] == want:
        return " (an extra leading batch axis: pass one observation, or use batched=True)"
    return ""


def _shape_ok(shape: tuple[int, ...], want: tuple[int, ...], batched: bool) -> bool:
    return (len(shape) == len(want) + 1 and shape[1:] == want) if batched else shape == want


def _fmt(want: tuple[int, ...], batched: bool) -> str:
    return "[" + ",".join((["B"] if batched else []) + [str(w) for w in want]) + "]"


def encode_instruction_text(text: str) -> np.ndarray:
    """``text`` as uint8[128] UTF-8 bytes, zero padded; :class:`ObservationError` when it does not fit.

    :func:`jafm_robot.contract.encode_instruction` cuts a long text on a character boundary (right
    for a dataset's task strings); a host must refuse instead, since a cut instruction can mean
    something else than what the user asked.
    """
    if not isinstance(text, str):
        raise ObservationError(f"instruction must be a str or uint8[{INSTRUCTION_LEN}], got {_describe(text)}")
    n = len(text.encode("utf-8"))
    if n > INSTRUCTION_LEN:
        raise ObservationError(f"instruction must be at most {INSTRUCTION_LEN} UTF-8 bytes, got {n} bytes")
    return encode_instruction(text)


def _image(obs: dict[str, Any], key: str, cameras: Sequence[str], size: int, batched: bool) -> np.ndarray:
    img = obs.get(key)
    if img is None:
        raise ObservationError(f"observation lacks {key!r} (this policy uses cameras {list(cameras)})")
    want = (size, size, 3)
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or not _shape_ok(img.shape, want, batched):
        hint = _batch_hint(img.shape, want, batched) if isinstance(img, np.ndarray) else ""
        raise ObservationError(
            f"{key} must be uint8{_fmt(want, batched)} (RGB, not resized here), got {_describe(img)}{hint}"
        )
    img = np.ascontiguousarray(img)
    return img if batched else img[None]


def _state(obs: dict[str, Any], batched: bool) -> np.ndarray:
    if obs.get("state") is None:
        raise ObservationError("observation lacks 'state'")
    raw = obs["state"]
    want = (STATE_DIM,)
    expected = f"state must be float32{_fmt(want, batched)} (finite, floating point)"
    try:
        arr = np.asarray(raw)
    except (TypeError, ValueError) as e:  # ragged lists
        raise ObservationError(f"{expected}, got {_describe(raw)}: {e}") from e
    if arr.dtype.kind != "f" or not _shape_ok(arr.shape, want, batched):
        got = _describe(arr) if isinstance(raw, (np.ndarray, list, tuple)) else _describe(raw)
        raise ObservationError(f"{expected}, got {got}{_batch_hint(arr.shape, want, batched)}")
    with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes inf: caught just below
        state = arr.astype(np.float32, copy=False)
    if not np.all(np.isfinite(state)):
        raise ObservationError(f"{expected}, holds NaN/Inf: {state.tolist()}")
    return state if batched else state[None]


def _instruction(obs: dict[str, Any], batched: bool, n: int) -> np.ndarray:
    instr = obs.get("instruction")
    if instr is None:
        raise ObservationError("observation lacks 'instruction' (a str or uint8[128] UTF-8 bytes)")
    if isinstance(instr, str):
        enc = encode_instruction_text(instr)
        return np.repeat(enc[None], n, 0) if batched else enc[None]
    if batched and isinstance(instr, (list, tuple)) and all(isinstance(t, str) for t in instr):
        if len(instr) != n:
            raise ObservationError(f"instruction holds {len(instr)} texts for a batch of {n}")
        return np.stack([encode_instruction_text(t) for t in instr])
    want = (INSTRUCTION_LEN,)
    if not isinstance(instr, np.ndarray) or instr.dtype != np.uint8 or not _shape_ok(instr.shape, want, batched):
        hint = _batch_hint(instr.shape, want, batched) if isinstance(instr, np.ndarray) else ""
        raise ObservationError(
            f"instruction must be a str or uint8{_fmt(want, batched)}, got {_describe(instr)}{hint}"
        )
    instr = np.ascontiguousarray(instr)
    return instr if batched else instr[None]


def prepare_observation(
    obs: dict[str, Any], cameras: Sequence[str], image_size: int, *, batched: bool = False
) -> dict[str, np.ndarray]:
    """Validate ``obs`` against the contract (module docstring) and return the network's feeds.

    Returns ``{camera: uint8[B,S,S,3], "state": float32[B,8], "instruction": uint8[B,128]}`` with
    ``B = 1`` unless ``batched``, named as the ONNX inputs and the torch policy's arguments.
    Contiguous, and views of the caller's arrays where no conversion was needed (no copy per frame).
    """
    if not isinstance(obs, dict):
        raise ObservationError(f"observation must be a dict, got {type(obs).__name__}")
    feeds = {cam: _image(obs, cam, cameras, int(image_size), batched) for cam in cameras}
    feeds["state"] = _state(obs, batched)
    n = len(feeds["state"])
    feeds["instruction"] = _instruction(obs, batched, n)
    if batched:
        sizes = {k: len(v) for k, v in feeds.items()}
        if len(set(sizes.values())) != 1:
            raise ObservationError(f"batched observation: every input must have the same batch size, got {sizes}")
    return feeds


__all__ = ["ObservationError", "encode_instruction_text", "prepare_observation"]
