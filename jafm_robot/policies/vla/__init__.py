"""The VLA policy (LeRobot-style folder): configuration, model, processor.

Import ``modeling_vla`` only where torch is wanted; configuration and processor are NumPy-only so the
runtime and CLI can read a policy's settings without torch.
"""

from jafm_robot.policies.vla.configuration_vla import SIZES, VLAConfig

__all__ = ["SIZES", "VLAConfig"]
