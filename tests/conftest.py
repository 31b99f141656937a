"""Session-wide test settings.

Rollout verbs spread episodes over the cores available through Ray by default; the default run
keeps them in-process (``JAFM_WORKERS=1``) so that a CLI test does not pay for starting a Ray
instance. The tests under ``tests/rollouts/`` start and stop a real local Ray cluster themselves
and ask for their workers explicitly.
"""

from __future__ import annotations

import os

os.environ.setdefault("JAFM_WORKERS", "1")
