"""How every measuring command reports: JSON files, progress bars, success intervals, outcome counts.

These sit at the bottom of the package (they import nothing of it) so that library code that rolls
out, trains or benchmarks can report without reaching up into ``jafm_robot.cli``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np


def _default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json(path: str | Path | None, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` (no-op when path is None); creates parent folders."""
    if path is None:
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=_default) + "\n")


def progress(iterable=None, total: int | None = None, desc: str = "", **kw):
    """A tqdm progress bar on stderr, so that stdout stays free for tables and JSON."""
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, dynamic_ncols=True, **kw)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a success rate (well behaved at 0% and 100%)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def outcome_counts(outcomes: Iterable[str]) -> dict[str, int]:
    """How many episodes ended each way (``info["outcome"]``), most common first."""
    return dict(Counter(outcomes).most_common())


def failures_line(outcomes: dict[str, int]) -> str | None:
    """``failures: dropped 2, never lifted 1`` from an ``outcomes`` count (None when nothing failed)."""
    failed = {k: v for k, v in outcomes.items() if k != "success"}
    return "failures: " + ", ".join(f"{k} {v}" for k, v in failed.items()) if failed else None
