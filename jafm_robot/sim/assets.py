"""Finding robot URDFs and making the fast-to-render low-poly variant.

TinyRenderer (the headless CPU renderer) spends almost all of its time on the Panda's visual
meshes (~9 MB of OBJ): measured here, a 128x128 frame of the arm alone renders at ~49 fps with the
visual meshes and ~440 fps with the collision meshes. We render two cameras every 0.1 s step, so
the work cell draws the arm with its collision meshes by default (scene key ``robot.visual``). The
low-poly URDF is generated from the original at run time (mesh paths made absolute) and cached in
the temp folder; the collision geometry and the dynamics are untouched.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from jafm_robot.paths import sim_dir


def resolve_urdf(urdf: str) -> Path:
    """A robot config's ``urdf``: absolute path, then pybullet_data, then ``sim/``."""
    p = Path(urdf)
    if p.is_absolute():
        if p.is_file():
            return p
        raise FileNotFoundError(f"robot URDF not found: {p}")
    import pybullet_data

    for base in (Path(pybullet_data.getDataPath()), sim_dir(), sim_dir() / "robots"):
        if (base / p).is_file():
            return base / p
    raise FileNotFoundError(f"robot URDF {urdf!r} not found in pybullet_data or {sim_dir()}")


_MESH = re.compile(r'filename="([^"]+)"')


def lowpoly_urdf(urdf: Path) -> Path:
    """A copy of ``urdf`` whose visual meshes are replaced by the matching collision meshes.

    Visual meshes ``.../visual/X.obj`` become ``.../collision/X.obj`` where that file exists; all
    mesh paths are made absolute so the copy can live in the temp folder. Link colours are set by
    the caller (collision OBJ files carry no materials).
    """
    text = urdf.read_text()
    root = urdf.parent

    def fix(m: re.Match[str]) -> str:
        rel = m.group(1).replace("package://", "")
        path = Path(rel) if Path(rel).is_absolute() else root / rel
        if "/visual/" in path.as_posix():
            cand = Path(path.as_posix().replace("/visual/", "/collision/"))
            if cand.is_file():
                path = cand
        return f'filename="{path}"'

    out = _MESH.sub(fix, text)
    digest = hashlib.sha1(out.encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / "jafm_robot_urdf"
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{urdf.stem}_lowpoly_{digest}.urdf"
    if not dest.is_file():
        # Written atomically: several vector-env workers may race to create the same file.
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".urdf")
        with os.fdopen(fd, "w") as f:
            f.write(out)
        os.replace(tmp, dest)
    return dest
