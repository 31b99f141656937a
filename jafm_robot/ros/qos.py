"""Topic names and QoS of the ROS 2 graph (docs/architecture.md, "ROS 2 graph"), defined once.

Nodes and tests import these instead of repeating strings, so a publisher and its subscriber can
never disagree on a name or on a QoS that would silently stop them matching (a reliable subscriber
does not match a best-effort publisher; a late joiner only sees a latched instruction with
transient-local durability on both ends).
"""

from __future__ import annotations

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

IMAGE = "/camera/image_raw"
CAMERA_INFO = "/camera/camera_info"
WRIST_IMAGE = "/camera/wrist/image_raw"
JOINT_STATES = "/joint_states"
INSTRUCTION = "/instruction"
# what policy_node made of the newest instruction: the instruction gate's JSON (runtime.grounding), latched
INSTRUCTION_UNDERSTOOD = "/instruction/understood"
ACTION_CHUNK = "/policy/action_chunk"
COMMANDS = "/forward_position_controller/commands"
TRAJECTORY = "/joint_trajectory"  # sim_node also takes a whole JointTrajectory (e.g. from a planner)
ESTOP = "/estop"
DIAGNOSTICS = "/diagnostics"

SENSOR = qos_profile_sensor_data  # best effort, keep last 5, volatile
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
LATCHED = QoSProfile(
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
    history=HistoryPolicy.KEEP_LAST,
)
DEFAULT = QoSProfile(depth=10)
# Only the newest chunk matters to the controller; a queue of stale chunks would replay old plans.
CHUNK = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
# A command stream at the control rate: reliable (ros2_control's forward controller default), short queue.
COMMAND = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
