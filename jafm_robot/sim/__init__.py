"""The PyBullet factory work cell.

- ``scene``: scene YAML files -> validated dataclasses (no PyBullet import).
- ``world``: ``WorkCell`` (table, bins, conveyor, parts, randomised appearance) in one client.
- ``camera``: headless TinyRenderer views for the fixed scene camera and the wrist camera.
- ``assets``: URDF lookup and the low-poly (fast to render) robot variant.
"""
