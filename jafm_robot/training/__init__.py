"""Behaviour cloning for the VLA policy: data loading, training loop (single process or DDP),
checkpoints, ONNX export and closed-loop evaluation. Needs torch."""
