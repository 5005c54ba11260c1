#!/usr/bin/env python3
"""Check a model Kiln exported: the ONNX checker accepts it and onnxruntime runs it.

Usage: check_export.py MODEL.onnx [--inputs INPUTS.npz [--expected EXPECTED.npz]] [--rel 1e-4]

1. onnx.checker.check_model(full_check=True): the model is well formed and its types
   and shapes check out against onnx's own shape inference.
2. With --inputs, onnxruntime runs it (single-threaded, graph optimizations off).
3. With --expected too, every expected output must match: max |actual - expected| <=
   rel * max(range, 1e-6) for floats, exactly for integers (as compare_npz.py).

Prints one line per step and output; exits 1 when a check fails.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_onnxruntime import run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--inputs")
    parser.add_argument("--expected")
    parser.add_argument("--rel", type=float, default=1e-4)
    args = parser.parse_args()
    model = onnx.load(args.model)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as error:  # the checker raises several exception types
        print(f"{args.model}: onnx checker: {error}".replace("\n", " "))
        return 1
    print(f"{args.model}: onnx checker ok (ir_version {model.ir_version}, opset {model.opset_import[0].version})")
    if not args.inputs:
        return 0
    with np.load(args.inputs, allow_pickle=False) as archive:
        inputs = {key: archive[key] for key in archive.files}
    try:
        outputs = run(model, inputs)
    except Exception as error:
        print(f"{args.model}: onnxruntime failed: {error}".replace("\n", " "))
        return 1
    print(f"{args.model}: onnxruntime ran ({', '.join(sorted(outputs))})")
    if not args.expected:
        return 0
    failed = False
    with np.load(args.expected, allow_pickle=False) as archive:
        for name in archive.files:
            expected = archive[name]
            actual = outputs.get(name)
            if actual is None or actual.shape != expected.shape:
                print(f"  {name}: missing or shape {None if actual is None else actual.shape} != {expected.shape} FAIL")
                failed = True
                continue
            if expected.dtype.kind == "f":
                spread = float(expected.max() - expected.min()) if expected.size else 0.0
                error = float(np.abs(actual.astype(np.float64) - expected).max()) if expected.size else 0.0
                ok = error <= args.rel * max(spread, 1e-6)
                print(f"  {name}: max_abs_err={error:.3g} range={spread:.4g} {'ok' if ok else 'FAIL'}")
            else:
                ok = bool(np.array_equal(actual, expected))
                print(f"  {name}: {'ok' if ok else 'FAIL (integers differ)'}")
            failed |= not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
