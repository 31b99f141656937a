"""Distillation of a large "foundation" teacher into the small real-time student (DAgger with
action-chunk matching).

* :mod:`~jafm_robot.distill.teachers` -- the ``Teacher`` protocol and adapters (scripted expert,
  torch checkpoint/module, ONNX file, any user callable) plus ``load_teacher(spec)``.
* :mod:`~jafm_robot.distill.foundation` -- the ``foundation`` VLA size (>= 10x the student).
* :mod:`~jafm_robot.distill.phrasings` -- held-out instruction phrasings (generalisation check).
* :mod:`~jafm_robot.distill.buffer` -- the aggregated, teacher-labelled dataset (npz per iteration).
* :mod:`~jafm_robot.distill.dagger` -- the loop behind ``jafm-robot distill``.

Nothing here imports torch or pybullet at package import; each piece imports what it needs.
"""
