import json, sys, importlib.util
spec = importlib.util.spec_from_file_location("dpp", "scripts/diagnose_pick_place.py"); dpp = importlib.util.module_from_spec(spec); spec.loader.exec_module(dpp)
import jafm_robot.datasets.recording as rec
_mk = rec.make_env
rec.make_env = lambda task, size, **kw: _mk(task, size, action_interpolation="linear", **kw)
ev = json.load(open(sys.argv[2]))
for s in ev["failed_seeds"]:
    dpp.outcomes(sys.argv[1], f"{s}:{s+1}")
