"""Teacher adapters: anything that can say "from this observation, do this action chunk".

DAgger needs one thing from a teacher: ``label(obs, env=None) -> float32[chunk_len, 8]``, an
absolute action chunk (7 joint targets + gripper width per point, ``action_dt`` apart, point 0 due
one step after ``obs``) for *any* observation the student visits. Adapters:

* :class:`ExpertTeacher` -- the scripted experts (privileged simulator state). An expert is a
  generator that yields one action per step, so a chunk is obtained by *looking ahead*: save the
  physics state (``p.saveState``), start a fresh expert script from the current sim state, drive the
  arm ``chunk_len`` steps with physics only (no camera rendering: the expert reads privileged state),
  record the actions, restore the state (``p.restoreState`` + re-commanding the previous motor
  target, which saveState does not hold). Limitation: a fresh script starts the task from its first
  phase at the current state; for Reach that is exactly right; on grasping tasks a held part is
  recognised, but a low hand that does not hold it is first lifted clear (see docs/distill.md).
  When the expert itself drives an episode (DAgger iteration 0) its *own* persistent script runs
  and the labels are its executed next ``chunk_len`` actions (``hindsight = True``), i.e. the same
  data ``jafm-robot record`` would produce.
* :class:`TorchTeacher` -- a torch module with the VLA forward signature, or a ``.pt`` checkpoint
  written by ``jafm-robot train`` (e.g. the ``foundation`` size).
* :class:`OnnxTeacher` -- an ONNX policy file, run by the runtime's ``PolicyEngine`` (sha256 and
  metadata checks included).
* :class:`CallableTeacher` -- any user callable ``obs -> chunk`` (``obs, env -> chunk`` if it takes
  two arguments): a big external model behind an RPC, a hand-written controller, a test double.

:func:`load_teacher` turns a command-line spec (``expert``, ``path.pt``, ``path.onnx``,
``module:function``) into one of these, with a clear ``ValueError``/``FileNotFoundError`` for
anything else.

Images: a learned teacher is fed images at *its* ``image_size``; when the env renders at another
size (the student's), frames are resized here (area filter down, linear up) rather than refusing,
because a foundation teacher may well be trained at a larger resolution than the student.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from jafm_robot.contract import ACTION_DIM, DEFAULT_CHUNK_LEN

SPEC_HELP = "expert | PATH.pt | PATH.onnx | module:function"
_CALLABLE_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@runtime_checkable
class Teacher(Protocol):
    """What DAgger needs from a teacher."""

    name: str

    def label(self, obs: dict[str, Any], env: Any = None) -> np.ndarray:
        """float32[chunk_len, 8] absolute action chunk for ``obs`` (``env`` for privileged teachers)."""
        ...


def fit_chunk(chunk: Any, chunk_len: int, who: str = "teacher") -> np.ndarray:
    """Validate a teacher's output and bring it to ``chunk_len`` points.

    Accepts [T,8], [1,T,8] (a batch of one) or [8] (one point). A longer chunk is cut, a shorter one
    is padded by repeating its last point ("hold where the plan ends", the same convention as the
    dataset's chunk clamping). NaN/Inf or a wrong shape is a clear ``ValueError``: a broken teacher
    must not silently poison the aggregated dataset.
    """
    try:
        a = np.asarray(chunk, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{who} returned something that is not a numeric array: {e}") from e
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[1] != ACTION_DIM or a.shape[0] < 1:
        raise ValueError(f"{who} must return an action chunk float32[T,{ACTION_DIM}], got shape {list(a.shape)}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{who} returned NaN/Inf in its action chunk")
    if a.shape[0] >= chunk_len:
        return np.ascontiguousarray(a[:chunk_len])
    pad = np.repeat(a[-1:], chunk_len - a.shape[0], axis=0)
    return np.concatenate([a, pad], 0)


def resize_obs(obs: dict[str, Any], image_size: int, cameras: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """A shallow copy of ``obs`` with each camera frame at ``image_size`` (unchanged if it already is)."""
    out = dict(obs)
    for cam in cameras:
        im = obs.get(cam)
        if im is None:
            raise ValueError(f"observation lacks {cam!r} (the teacher uses cameras {list(cameras)})")
        im = np.asarray(im)
        if im.shape[:2] != (image_size, image_size):
            import cv2

            interp = cv2.INTER_AREA if im.shape[0] > image_size else cv2.INTER_LINEAR
            out[cam] = np.ascontiguousarray(cv2.resize(im, (image_size, image_size), interpolation=interp))
    return out


class BaseTeacher:
    """Shared bookkeeping: a name, the chunk length labels are fitted to, facts for the model card."""

    name = "teacher"
    #: labels of a teacher-driven episode come from the teacher's own executed actions
    hindsight = False

    def __init__(self, chunk_len: int = DEFAULT_CHUNK_LEN) -> None:
        if int(chunk_len) < 1:
            raise ValueError(f"chunk_len must be >= 1, got {chunk_len}")
        self.chunk_len = int(chunk_len)
        self.parameters: int | None = None
        self.action_dt: float | None = None
        self.image_size: int | None = None
        self.cameras: list[str] = []

    def label(self, obs: dict[str, Any], env: Any = None) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What the student's model card says about its teacher."""
        return {"name": self.name, "kind": type(self).__name__, "parameters": self.parameters,
                "action_dt": self.action_dt, "image_size": self.image_size, "cameras": list(self.cameras)}


class ExpertTeacher(BaseTeacher):
    """The scripted experts as a teacher (privileged state; needs ``env``). See the module docstring."""

    name = "expert"
    hindsight = True

    def __init__(self, chunk_len: int = DEFAULT_CHUNK_LEN) -> None:
        super().__init__(chunk_len)
        self.parameters = 0

    def label(self, obs: dict[str, Any], env: Any = None) -> np.ndarray:
        if env is None:
            raise ValueError("the expert teacher reads privileged simulator state: pass the env to label(obs, env)")
        import pybullet as p

        from jafm_robot.experts import make_expert

        u = env.unwrapped
        if getattr(u, "robot", None) is None:
            raise ValueError("the expert teacher needs an env that has been reset")
        self.action_dt = float(getattr(u, "action_dt", 0.1))
        prev_target = u.target
        prev_flags = dict(getattr(u, "_last_flags", {}))
        expert = make_expert(env)
        state_id = p.saveState(physicsClientId=u.client)
        try:
            expert.reset()
            actions = []
            for _ in range(self.chunk_len):
                a = np.asarray(expert.act(obs), dtype=np.float32)
                actions.append(a)
                u.command(a)
                u.step_physics(u.substeps)
        finally:
            p.restoreState(state_id, physicsClientId=u.client)
            p.removeState(state_id, physicsClientId=u.client)
            # saveState holds positions/velocities/contacts, not the motor targets: put them back
            u.command(prev_target)
            if prev_flags:
                u._last_flags = prev_flags
        return fit_chunk(np.stack(actions), self.chunk_len, "expert teacher")

    def driver(self, env: Any) -> Any:
        """The persistent expert that drives teacher-driven episodes (``act(obs)``, ``reset()``)."""
        from jafm_robot.experts import make_expert

        return make_expert(env)


class TorchTeacher(BaseTeacher):
    """A torch VLA module (``forward(images: dict, state, instruction) -> [B,T,8]``) or a ``.pt``
    checkpoint from ``jafm-robot train``.

    A module without a ``cfg`` (a foreign network with the same signature) needs ``cameras`` and
    ``image_size`` given explicitly.
    """

    def __init__(self, model: Any, *, chunk_len: int | None = None, cameras: list[str] | None = None,
                 image_size: int | None = None, device: str = "cpu", name: str | None = None) -> None:
        import torch

        self._torch = torch
        facts: dict[str, Any] = {}
        if isinstance(model, (str, Path)):
            from jafm_robot.policies.checkpoint import policy_from_checkpoint

            path = Path(model)
            if not path.is_file():
                raise FileNotFoundError(f"teacher checkpoint not found: {path}")
            model, ckpt = policy_from_checkpoint(path, map_location=device)
            facts = dict(ckpt.get("dataset") or {})
            name = name or path.name
        if not isinstance(model, torch.nn.Module):
            raise ValueError(f"TorchTeacher needs a torch.nn.Module or a .pt path, got {type(model).__name__}")
        cfg = getattr(model, "cfg", None)
        cams = list(cameras or getattr(cfg, "cameras", None) or [])
        size = image_size or getattr(cfg, "image_size", None)
        if not cams or not size:
            raise ValueError("TorchTeacher: this module has no cfg; pass cameras=[...] and image_size=")
        own_len = int(getattr(cfg, "chunk_len", 0) or chunk_len or DEFAULT_CHUNK_LEN)
        super().__init__(chunk_len or own_len)
        self.model = model.to(device).eval()
        self.device = device
        self.cameras = cams
        self.image_size = int(size)
        self.parameters = int(sum(p.numel() for p in model.parameters()))
        self.action_dt = float(facts["action_dt"]) if "action_dt" in facts else None
        self.name = name or f"torch:{type(model).__name__}"

    def label(self, obs: dict[str, Any], env: Any = None) -> np.ndarray:
        from jafm_robot.runtime.observation import prepare_observation

        torch = self._torch
        feeds = prepare_observation(resize_obs(obs, self.image_size, self.cameras), self.cameras, self.image_size)
        with torch.inference_mode():
            images = {c: torch.from_numpy(feeds[c]).to(self.device) for c in self.cameras}
            out = self.model(images, torch.from_numpy(feeds["state"]).to(self.device),
                             torch.from_numpy(feeds["instruction"]).to(self.device))
        return fit_chunk(out.detach().cpu().numpy(), self.chunk_len, f"teacher {self.name}")


class OnnxTeacher(BaseTeacher):
    """An ONNX policy file through :class:`~jafm_robot.runtime.engine.PolicyEngine` (same checks as
    every host: card sha256 when ``verify``, metadata, input signature)."""

    def __init__(self, path: str | Path, *, chunk_len: int | None = None, verify: bool = True,
                 provider: str = "cpu", threads: int | None = 1) -> None:
        from jafm_robot.runtime.engine import PolicyEngine

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"teacher ONNX file not found: {path}")
        # one intra-op thread: labelling runs beside the simulator on the same cores
        self.engine = PolicyEngine(path, provider=provider, verify=verify, intra_op_threads=threads)
        meta = self.engine.metadata
        super().__init__(chunk_len or int(meta.chunk_len))
        self.name = path.name
        self.cameras = list(meta.cameras)
        self.image_size = int(meta.image_size)
        self.action_dt = float(meta.action_dt)
        card = self.engine.card or {}
        self.parameters = card.get("parameters") or (meta.training or {}).get("parameters")
        self.card = card

    def label(self, obs: dict[str, Any], env: Any = None) -> np.ndarray:
        out = self.engine.infer(resize_obs(obs, self.image_size, self.cameras))
        return fit_chunk(out, self.chunk_len, f"teacher {self.name}")

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        if self.card:
            d["card_success"] = self.card.get("success")
            d["sha256"] = self.card.get("sha256")
        return d


def _wants_env(fn: Callable[..., Any]) -> bool:
    """True when ``fn`` takes a second positional argument or an ``env`` keyword."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    params = list(sig.parameters.values())
    if any(p.name == "env" for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


class CallableTeacher(BaseTeacher):
    """Any callable ``fn(obs) -> chunk`` (or ``fn(obs, env) -> chunk``) as a teacher."""

    def __init__(self, fn: Callable[..., Any], *, chunk_len: int = DEFAULT_CHUNK_LEN, name: str | None = None) -> None:
        if not callable(fn):
            raise ValueError(f"CallableTeacher needs a callable, got {type(fn).__name__}")
        super().__init__(chunk_len)
        self.fn = fn
        self.pass_env = _wants_env(fn)
        self.name = name or getattr(fn, "__qualname__", None) or type(fn).__name__

    def label(self, obs: dict[str, Any], env: Any = None) -> np.ndarray:
        out = self.fn(obs, env) if self.pass_env else self.fn(obs)
        return fit_chunk(out, self.chunk_len, f"teacher {self.name}")


def _import_object(spec: str) -> Any:
    mod_name, _, attr = spec.partition(":")
    # a console script does not put the working directory on sys.path; `module:function` names a
    # user's file next to where they run the command, so look there too (as uvicorn/gunicorn do)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        obj: Any = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        raise ValueError(f"teacher {spec!r}: cannot import module {mod_name!r} ({e})") from e
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"teacher {spec!r}: module {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def load_teacher(spec: str, *, chunk_len: int = DEFAULT_CHUNK_LEN, device: str = "cpu", verify: bool = True) -> BaseTeacher:
    """Parse a teacher spec: ``expert``, ``PATH.pt``, ``PATH.onnx`` or ``module:function``.

    ``module:function`` may name a callable ``obs -> chunk`` (wrapped in :class:`CallableTeacher`), an
    object with a ``label`` method, or a class/factory with no required arguments that returns one.
    Labels are fitted to ``chunk_len`` (the student's) in every case.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"empty teacher spec; use {SPEC_HELP}")
    spec = spec.strip()
    if spec == "expert":
        return ExpertTeacher(chunk_len)
    suffix = Path(spec).suffix.lower()
    if suffix == ".pt":
        return TorchTeacher(spec, chunk_len=chunk_len, device=device)
    if suffix == ".onnx":
        return OnnxTeacher(spec, chunk_len=chunk_len, verify=verify)
    if _CALLABLE_SPEC.match(spec):
        obj = _import_object(spec)
        if isinstance(obj, type) and callable(getattr(obj, "label", None)):
            obj = obj()
        if callable(getattr(obj, "label", None)):
            if isinstance(obj, BaseTeacher):
                obj.chunk_len = int(chunk_len)
                return obj
            return CallableTeacher(obj.label, chunk_len=chunk_len, name=spec)
        if not callable(obj):
            raise ValueError(f"teacher {spec!r} is a {type(obj).__name__}, not a callable obs -> action chunk")
        return CallableTeacher(obj, chunk_len=chunk_len, name=spec)
    if Path(spec).exists():
        raise ValueError(f"teacher file {spec!r} must end in .pt or .onnx")
    raise ValueError(f"unknown teacher spec {spec!r}; use {SPEC_HELP}")


__all__ = [
    "SPEC_HELP", "BaseTeacher", "CallableTeacher", "ExpertTeacher", "OnnxTeacher", "Teacher", "TorchTeacher",
    "fit_chunk", "load_teacher", "resize_obs",
]
