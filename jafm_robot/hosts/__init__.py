"""Hosts that run a policy file against a world: the real-time simulator host behind ``jafm-robot run``.

(The gym env loop lives in ``training/evaluate.py``; the ROS 2 hosts in ``jafm_robot/ros``.)
"""
