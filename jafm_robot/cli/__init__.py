"""The ``jafm-robot`` command: one module per verb (``jafm_robot/cli/<verb>.py``).

Each verb module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
"""
