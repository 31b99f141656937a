"""Instruction understanding: free Japanese/English requests -> a structured, grounded goal.

See :mod:`jafm_robot.language.understanding` for the entry point (:func:`understand`, :func:`canonical`).
"""
