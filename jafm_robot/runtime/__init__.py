"""jafm_robot.runtime: the real-time side of the stack, pure Python/NumPy + ONNX Runtime.

No torch, no ROS, no PyBullet here: the same classes run in ``jafm-robot run``, in the ROS 2 nodes
and in the benchmarks. Modules (imported on demand, so importing this package loads nothing heavy):

* :mod:`.metadata`     -- the policy file contract: ONNX metadata, model card, sha256 checks.
* :mod:`.engine`       -- :class:`~.engine.PolicyEngine`: verify, load and run one ONNX policy at batch 1.
* :mod:`.observation`  -- :func:`~.observation.prepare_observation`: the one observation contract (every policy kind).
* :mod:`.chunks`       -- :class:`~.chunks.ActionChunk`, :class:`~.chunks.ChunkBlender` (C1 interpolation, crossfade).
* :mod:`.safety`       -- :class:`~.safety.SafetyFilter`: position/velocity/acceleration limits, watchdog, e-stop.
* :mod:`.kinematics`   -- pure-NumPy Panda forward kinematics (workspace checks without a simulator).
* :mod:`.control_loop` -- :class:`~.control_loop.ControlLoop`: fixed-rate thread, hybrid sleep/spin timing.
* :mod:`.assembly`     -- :class:`~.assembly.RuntimeParams` + :func:`~.assembly.build_control_loop`: filter, blender
  and loop built one way for every host, parameters (overlap weight included) validated once.
* :mod:`.inference`    -- :class:`~.inference.AsyncPolicyRunner`: inference thread, stamped chunks.
* :mod:`.testing`      -- real ONNX policy files built with ``onnx.helper`` and ``write_card``.
"""
