"""The policy engine: one ONNX policy file, checked, loaded into ONNX Runtime and run at batch 1.

What it guarantees to its hosts (control loop, ROS ``policy_node``, ``jafm-robot run``):

* A file is run only if it is the one its card describes (sha256) and honours the contract (metadata,
  input/output names, dtypes and shapes). Every mismatch is a :class:`ModelFileError` that names the
  problem, raised at load time -- never an ONNX Runtime crash in the middle of a run.
* **Missing card policy**: with ``verify=True`` (the default) a file without ``<name>.json`` beside
  it is refused (a shipped policy always has one; an unverifiable file on a robot is a risk).
  ``verify=False`` skips the card and its sha256 -- for freshly exported or test files -- but still
  checks the metadata and the signature, which are inside the file.
* The provider actually used is reported (``engine.provider``) and whether it is not the one asked
  for (``engine.fell_back``). A GPU request that cannot be served is an error unless
  ``allow_fallback=True``: silently running a 1 kHz robot's policy on the CPU at a tenth of the speed
  is worse than refusing to start.
* Observations are validated, not repaired, by the one contract every policy kind shares
  (:mod:`jafm_robot.runtime.observation`): a wrong-size or float or grayscale frame, a missing key, an
  extra batch axis, NaN state or an instruction over 128 bytes is an ``ObservationError`` (a
  ``ValueError``) naming the key, the expected and the actual. Resizing silently would feed the
  policy a distribution it was never trained on.

Tuning for batch-1 latency: sequential execution, full graph optimisation, intra-op threads =
physical cores (or what the host asks for), one inter-op thread, and the contract's batch axis ``B``
pinned to 1 (``add_free_dimension_override_by_name``): every shape in the graph is then static, so
ONNX Runtime folds the Shape/Gather/Concat/Reshape arithmetic of a dynamic-batch export into
constants at load (407 -> 297 nodes for the student) instead of running it on every call. On CUDA/TensorRT the inputs and the
output are bound to preallocated device buffers (IO binding), and CUDA graphs are enabled on CUDA,
so one ``infer`` is one copy in, one replay, one copy out. ``io_binding``/``cuda_graph`` turn either
off (``jafm-robot bench gpu`` times each step on its own); ``engine.providers``, ``engine.cuda_graph``
and ``engine.fp16`` are read back from the session, so a host reports what runs, not what it asked.
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from jafm_robot.contract import ACTION_DIM, INSTRUCTION_LEN, STATE_DIM
from jafm_robot.runtime.metadata import (
    BATCH_AXIS,
    ModelFileError,
    PolicyMetadata,
    expected_inputs,
    expected_output,
    read_card,
    verify_card_sha256,
)
from jafm_robot.runtime.observation import prepare_observation

PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
AUTO_ORDER = ("tensorrt", "cuda", "cpu")


class ProviderError(ValueError):
    """The requested execution provider cannot be used (and fallback was not allowed)."""


_ORT_TYPES = {"tensor(uint8)": "uint8", "tensor(float)": "float32", "tensor(double)": "float64", "tensor(int64)": "int64"}


def physical_cores() -> int:
    """Physical cores usable by this process (SMT siblings counted once).

    Batch-1 inference does not gain from hyper-threads, and two threads on sibling hardware threads
    slow each other down, so the intra-op pool is sized by physical cores.
    """
    try:
        usable = os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        return max(1, (os.cpu_count() or 2) // 2)
    cores: set[tuple[str, str]] = set()
    try:
        for cpu in usable:
            base = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
            cores.add(((base / "physical_package_id").read_text().strip(), (base / "core_id").read_text().strip()))
    except OSError:
        return max(1, len(usable))
    return max(1, len(cores))


def _percentiles_ms(samples: np.ndarray) -> dict[str, float]:
    if samples.size == 0:
        return {"n": 0, "p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan"), "mean_ms": float("nan")}
    ms = samples * 1e3
    return {
        "n": int(ms.size),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "mean_ms": float(ms.mean()),
    }


class PolicyEngine:
    """Load, verify and run one ONNX policy at batch 1. See the module docstring for the guarantees."""

    def __init__(
        self,
        path: str | Path,
        provider: str = "auto",
        allow_fallback: bool = False,
        verify: bool = True,
        intra_op_threads: int | None = None,
        *,
        allow_spinning: bool = True,
        io_binding: bool | None = None,
        cuda_graph: bool | None = None,
        warmup: int = 3,
        latency_window: int = 2000,
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if provider not in ("auto", *PROVIDERS):
            raise ValueError(f"unknown provider {provider!r}; choose auto, cpu, cuda or tensorrt")
        if not self.path.is_file():
            raise FileNotFoundError(f"policy file not found: {self.path}")
        self.requested = provider
        self.card: dict[str, Any] | None = None
        if verify:
            self.card = read_card(self.path)
            if self.card is None:
                raise ModelFileError(
                    f"{self.path}: no model card {self.path.with_suffix('.json').name} beside it, so its sha256 "
                    "cannot be checked; write one (runtime.testing.write_card) or load with verify=False"
                )
            verify_card_sha256(self.path, self.card)

        chain = self._provider_chain(provider, allow_fallback, ort.get_available_providers())
        so = ort.SessionOptions()
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.intra_op_threads = int(intra_op_threads or physical_cores())
        so.intra_op_num_threads = self.intra_op_threads
        so.inter_op_num_threads = 1
        so.add_free_dimension_override_by_name(BATCH_AXIS, 1)  # batch 1 only: fold the shape arithmetic
        # Spinning intra-op workers burn a core between runs; a host that shares the CPU with a
        # real-time loop turns it off.
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")
        so.log_severity_level = 3

        if cuda_graph and io_binding is False:
            raise ValueError("cuda_graph=True needs io_binding (a CUDA graph replays fixed device addresses)")
        use_graph = io_binding is not False if cuda_graph is None else bool(cuda_graph)
        self.session = None
        errors: list[str] = []
        candidates = [(n, e) for n in chain for e in self._provider_entries(n, use_graph)]
        for i, (name, entries) in enumerate(candidates):
            try:
                session = ort.InferenceSession(str(self.path), sess_options=so, providers=entries)
                self.session = session
                # ONNX Runtime's Python wrapper does not raise when a GPU provider cannot be used: it
                # drops it (or retries on the CPU by itself) and returns a session anyway. So a
                # session without the provider this candidate asked for is a failed candidate
                # whenever another variant of the same provider is next (CUDA with graphs, then
                # without); the last one's session is kept and reported as the fallback it is.
                more = i + 1 < len(candidates) and candidates[i + 1][0] == name
                if more and PROVIDERS[name] not in session.get_providers():
                    errors.append(f"{name}: the session came back on {', '.join(session.get_providers())}")
                    continue
                break
            except Exception as e:  # ORT raises its own exception types (Fail, InvalidProtobuf, ...)
                errors.append(f"{name}: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}")
                if "InvalidProtobuf" in type(e).__name__ or "Protobuf" in str(e) or "INVALID_PROTOBUF" in str(e):
                    break  # the file itself is bad: another provider will not help
        if self.session is None:
            raise ModelFileError(f"{self.path}: ONNX Runtime cannot load it (corrupt or not an ONNX model?): {'; '.join(errors)}")

        #: the providers the session really runs, best first (``session.get_providers()``: never
        #: ``get_available_providers()``, which lists CUDA wherever onnxruntime-gpu is installed)
        self.providers: list[str] = list(self.session.get_providers())
        #: why candidates before the kept session were dropped (empty when the first one loaded)
        self.load_errors = errors
        used = self.providers[0]
        self.provider = used
        self.fell_back = used != PROVIDERS[chain[0]] if provider == "auto" else used != PROVIDERS[provider]
        if self.fell_back and provider != "auto" and not allow_fallback:
            raise ProviderError(
                f"provider {provider!r} requested but ONNX Runtime runs {self.path.name} on {used}; "
                "pass allow_fallback=True to accept that"
            )

        props = dict(self.session.get_modelmeta().custom_metadata_map)
        self.metadata: PolicyMetadata = PolicyMetadata.from_props(props, source=str(self.path))
        self._check_signature()
        self.image_size = self.metadata.image_size
        self.cameras = tuple(self.metadata.cameras)
        # the image inputs of the file's signature (always ``image``; ``wrist_image`` if it uses it)
        self._image_inputs = tuple(n for n in expected_inputs(self.metadata) if n not in ("state", "instruction"))
        self.chunk_len = self.metadata.chunk_len
        self.action_dt = float(self.metadata.action_dt)

        self._latency: deque[float] = deque(maxlen=latency_window)
        self.n_infer = 0
        on_gpu = used in (PROVIDERS["cuda"], PROVIDERS["tensorrt"])
        opts = self.session.get_provider_options()
        #: whether the session replays CUDA graphs (read back from the session, not what was asked)
        self.cuda_graph = used == PROVIDERS["cuda"] and opts.get(used, {}).get("enable_cuda_graph") == "1"
        #: whether TensorRT may pick fp16 kernels (read back from the session)
        self.fp16 = used == PROVIDERS["tensorrt"] and opts.get(used, {}).get("trt_fp16_enable") == "1"
        self.io_binding = on_gpu if io_binding is None else bool(io_binding)
        self._binding = None
        if self.io_binding:
            self._setup_binding(ort, "cuda" if on_gpu else "cpu")
        try:
            for _ in range(max(0, warmup)):
                self._run(self._zero_feeds())
        except Exception as e:  # a graph that loads but cannot run: say so at load, not mid-run
            raise ModelFileError(f"{self.path.name}: warm-up inference on {used} failed: {e}") from e

    # ----------------------------------------------------------------------------------------- loading
    @staticmethod
    def _provider_chain(provider: str, allow_fallback: bool, available: list[str]) -> list[str]:
        """The providers to try, in order; an unavailable explicit request is an error or falls back."""
        if provider == "auto":
            return [p for p in AUTO_ORDER if PROVIDERS[p] in available] or ["cpu"]
        if PROVIDERS[provider] in available:
            return [provider, "cpu"] if (allow_fallback and provider != "cpu") else [provider]
        if not allow_fallback:
            raise ProviderError(
                f"provider {provider!r} ({PROVIDERS[provider]}) is not available in this onnxruntime build "
                f"(available: {', '.join(available)}); install onnxruntime-gpu with a working CUDA, "
                "use provider='auto' or 'cpu', or pass allow_fallback=True"
            )
        return ["cpu"]

    def _provider_entries(self, name: str, cuda_graph: bool) -> list[list]:
        """Provider lists to try for ``name``, best first (CUDA: with CUDA graphs, then without)."""
        cache = self.path.parent / ".trt_cache"
        if name == "tensorrt":
            return [[
                (
                    PROVIDERS["tensorrt"],
                    {"trt_fp16_enable": True, "trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache)},
                ),
                (PROVIDERS["cuda"], {"cudnn_conv_algo_search": "EXHAUSTIVE"}),
                PROVIDERS["cpu"],
            ]]
        if name == "cuda":
            # CUDA graphs need every input/output bound to a fixed device address (see _setup_binding)
            # and every node on the GPU; where the graph cannot be captured, plain CUDA is next.
            plain = [(PROVIDERS["cuda"], {"cudnn_conv_algo_search": "EXHAUSTIVE"}), PROVIDERS["cpu"]]
            graph = [(PROVIDERS["cuda"], {"cudnn_conv_algo_search": "EXHAUSTIVE", "enable_cuda_graph": "1"}), PROVIDERS["cpu"]]
            return [graph, plain] if cuda_graph else [plain]
        return [[PROVIDERS["cpu"]]]

    def _check_signature(self) -> None:
        """Names, element types and shapes of the inputs and the output against the metadata."""
        want = expected_inputs(self.metadata)
        got = {i.name: i for i in self.session.get_inputs()}
        src = self.path.name
        missing = [n for n in want if n not in got]
        if missing:
            raise ModelFileError(f"{src}: input(s) {', '.join(missing)} missing (has {', '.join(got) or 'none'})")
        extra = [n for n in got if n not in want]
        if extra:
            raise ModelFileError(
                f"{src}: unexpected input(s) {', '.join(extra)} (metadata cameras={self.metadata.cameras} expects "
                f"{', '.join(want)})"
            )
        for name, (dtype, shape) in want.items():
            self._check_one(f"input {name!r}", got[name], dtype, shape)
        outs = self.session.get_outputs()
        names = [o.name for o in outs]
        if names != ["actions"]:
            raise ModelFileError(f"{src}: expects one output 'actions', has {names}")
        dtype, shape = expected_output(self.metadata)
        self._check_one("output 'actions'", outs[0], dtype, shape)

    def _check_one(self, what: str, arg: Any, dtype: str, shape: tuple) -> None:
        got_t = _ORT_TYPES.get(arg.type, arg.type)
        if got_t != dtype:
            raise ModelFileError(f"{self.path.name}: {what} must be {dtype}, the file declares {got_t}")
        got_s = list(arg.shape)
        if len(got_s) != len(shape):
            raise ModelFileError(f"{self.path.name}: {what} must have shape {list(shape)}, the file declares {got_s}")
        for i, (g, w) in enumerate(zip(got_s, shape, strict=True)):
            if w == BATCH_AXIS:
                if isinstance(g, int) and g not in (1,):
                    raise ModelFileError(f"{self.path.name}: {what} batch axis must be dynamic or 1, got {g}")
            elif g != w:
                raise ModelFileError(
                    f"{self.path.name}: {what} axis {i} must be {w} (shape {list(shape)}), the file declares {got_s}"
                )

    def _setup_binding(self, ort: Any, device: str) -> None:
        """Preallocate input/output OrtValues on ``device`` and bind them once (fixed addresses)."""
        self._device = device
        self._in_values = {
            name: ort.OrtValue.ortvalue_from_numpy(arr, device, 0) for name, arr in self._zero_feeds().items()
        }
        out = np.zeros((1, self.chunk_len, ACTION_DIM), np.float32)
        self._out_value = ort.OrtValue.ortvalue_from_numpy(out, device, 0)
        b = self.session.io_binding()
        for name, val in self._in_values.items():
            b.bind_ortvalue_input(name, val)
        b.bind_ortvalue_output("actions", self._out_value)
        self._binding = b
        self._ro = ort.RunOptions()

    # --------------------------------------------------------------------------------------- inference
    def _zero_feeds(self) -> dict[str, np.ndarray]:
        s = self.image_size
        feeds = {"image": np.zeros((1, s, s, 3), np.uint8)}
        if "wrist_image" in self.cameras:
            feeds["wrist_image"] = np.zeros((1, s, s, 3), np.uint8)
        feeds["state"] = np.zeros((1, STATE_DIM), np.float32)
        feeds["instruction"] = np.zeros((1, INSTRUCTION_LEN), np.uint8)
        return feeds

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        if self._binding is None:
            return self.session.run(["actions"], feeds)[0]
        for name, arr in feeds.items():
            self._in_values[name].update_inplace(arr)
        self.session.run_with_iobinding(self._binding, self._ro)
        return self._out_value.numpy()

    def prepare(self, obs: dict[str, Any]) -> dict[str, np.ndarray]:
        """Validate an observation and turn it into batch-1 feeds (the one rule of
        :func:`~jafm_robot.runtime.observation.prepare_observation`, shared with the torch policies);
        :class:`~jafm_robot.runtime.observation.ObservationError` naming the problem."""
        return prepare_observation(obs, self._image_inputs, self.image_size)

    def infer(self, obs: dict[str, Any]) -> np.ndarray:
        """One chunk of absolute action points, float32[chunk_len, 8] (raw: the safety filter judges it)."""
        feeds = self.prepare(obs)
        t0 = time.perf_counter()
        out = self._run(feeds)
        self._latency.append(time.perf_counter() - t0)
        self.n_infer += 1
        return np.array(out[0], dtype=np.float32, copy=True)

    def latency_stats(self) -> dict[str, float]:
        """Latency of ``infer``'s session run over the last ``latency_window`` calls (warm-up excluded)."""
        d = _percentiles_ms(np.fromiter(self._latency, dtype=np.float64))
        d.update(provider=self.provider, intra_op_threads=self.intra_op_threads, io_binding=self.io_binding)
        return d

    def __repr__(self) -> str:
        return f"PolicyEngine({self.path.name}, provider={self.provider}, chunk_len={self.chunk_len})"
