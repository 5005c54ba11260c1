#!/usr/bin/env python3
"""Kiln's quantizer side by side with onnxruntime's, on the reference models.

Usage: compare_ort_quant.py [--kiln PATH] [--models build-data/models] [--only NAME ...]
                            [--symmetric] [--calib-samples 32] [--eval-samples 8] [--work DIR] [--json]

For every model of MODELS/manifest.json (Scripts/make_models.py) with float inputs:

1. Calibration and evaluation data: standard-normal samples shaped like the model's
   shipped inputs (the distribution make_models.py draws them from), seeded; the same
   calibration samples go to both quantizers (an .npz whose arrays have a leading sample
   axis, as `kiln quantize --calib` reads it).
2. onnxruntime: onnxruntime.quantization.quantize_static with quant_format=QDQ,
   per_channel=False, calibrate_method=MinMax, int8 activations and int8 weights
   (QInt8/QInt8). Its activations are asymmetric by default (a zero point, the whole
   [min, max] range on 256 levels), so Kiln runs with --asymmetric too; with --symmetric,
   both quantize activations symmetrically (onnxruntime's ActivationSymmetric, Kiln's
   default).
3. Kiln: `kiln quantize MODEL --calib CALIB.npz --scale float [--asymmetric] --method M
   -o OUT.onnx` for M in minmax, percentile, entropy and mse.
4. Every QDQ model runs in onnxruntime with graph optimizations off, so each
   QuantizeLinear/DequantizeLinear computes exactly what the operator defines and the
   comparison measures the quantization choices, not kernels. (With optimizations on,
   onnxruntime fuses Q/DQ into integer kernels; on AVX2 CPUs without VNNI its u8s8 kernels
   saturate int16 intermediates and are inexact for full-range weights — build-notes §4 —
   which would blur the comparison.)
5. SQNR of each model's outputs vs the float model on the evaluation samples:
   10·log10(Σ y² / Σ (y − ŷ)²) over every float output element of every sample.

Prints a table: model, onnxruntime MinMax SQNR, Kiln minmax SQNR, Kiln's best method and its
SQNR (dB); with --json, one JSON document instead. Exits 1 if Kiln's minmax SQNR is below
onnxruntime's on any model (by more than 0.05 dB), 0 otherwise.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_onnxruntime import run  # noqa: E402

METHODS = ["minmax", "percentile", "entropy", "mse"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_kiln() -> str:
    for configuration in ("release", "debug"):
        path = os.path.join(ROOT, ".build", configuration, "kiln")
        if os.access(path, os.X_OK):
            return path
    return "kiln"


def samples(shipped: dict[str, np.ndarray], count: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        {name: rng.standard_normal(value.shape).astype(np.float32) for name, value in shipped.items()}
        for _ in range(count)
    ]


def sqnr(reference: list[dict[str, np.ndarray]], actual: list[dict[str, np.ndarray]]) -> float:
    signal = noise = 0.0
    for ref, act in zip(reference, actual):
        for name, value in ref.items():
            if value.dtype.kind != "f":
                continue
            y = value.astype(np.float64)
            signal += float((y * y).sum())
            noise += float(((y - act[name].astype(np.float64)) ** 2).sum())
    if noise == 0:
        return math.inf
    return 10 * math.log10(signal / noise) if signal > 0 else -math.inf


def evaluate(model_path: str, feeds: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    model = onnx.load(model_path)
    return [run(model, feed) for feed in feeds]


def quantize_onnxruntime(model_path: str, calib: list[dict[str, np.ndarray]], output: str, symmetric: bool) -> None:
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.iterator = iter(calib)

        def get_next(self):
            return next(self.iterator, None)

    quantize_static(
        model_path, output, Reader(), quant_format=QuantFormat.QDQ, per_channel=False,
        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
        extra_options={"ActivationSymmetric": symmetric})


def quantize_kiln(kiln: str, model_path: str, calib_path: str, method: str, output: str, symmetric: bool) -> str | None:
    """None on success, else kiln's error line."""
    command = [kiln, "quantize", model_path, "--calib", calib_path, "--scale", "float", "--method", method, "-o", output]
    result = subprocess.run(command + ([] if symmetric else ["--asymmetric"]) + ["--json"], capture_output=True, text=True)
    if result.returncode != 0:
        return (result.stderr.strip().splitlines() or ["kiln failed"])[-1]
    return None


def compare(entry: dict, args, work: str) -> dict:
    name = entry["name"]
    model_path = os.path.join(args.models, entry["model"])
    with np.load(os.path.join(args.models, entry["inputs"][0])) as archive:
        shipped = {key: archive[key] for key in archive.files}
    row: dict = {"model": name}
    if any(value.dtype.kind != "f" for value in shipped.values()):
        row["skipped"] = "non-float inputs"
        return row
    calib = samples(shipped, args.calib_samples, seed=1)
    feeds = [shipped] + samples(shipped, args.eval_samples - 1, seed=2)
    calib_path = os.path.join(work, f"{name}.calib.npz")
    np.savez(calib_path, **{key: np.stack([s[key] for s in calib]) for key in shipped})
    reference = evaluate(model_path, feeds)

    ort_path = os.path.join(work, f"{name}.ort.onnx")
    try:
        quantize_onnxruntime(model_path, calib, ort_path, args.symmetric)
        row["onnxruntime"] = sqnr(reference, evaluate(ort_path, feeds))
    except Exception as error:  # quantize_static raises many kinds
        row["onnxruntime_error"] = str(error).splitlines()[0][:120]
    for method in METHODS:
        out = os.path.join(work, f"{name}.kiln.{method}.onnx")
        error = quantize_kiln(args.kiln, model_path, calib_path, method, out, args.symmetric)
        if error:
            row[f"kiln_{method}_error"] = error
            continue
        row[f"kiln_{method}"] = sqnr(reference, evaluate(out, feeds))
    scored = [(row[f"kiln_{m}"], m) for m in METHODS if f"kiln_{m}" in row]
    if scored:
        best, method = max(scored)
        row["kiln_best"] = {"method": method, "sqnr": best}
    return row


def fmt(value) -> str:
    if value is None:
        return "n/a"
    return "inf" if math.isinf(value) else f"{value:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kiln", default=default_kiln())
    parser.add_argument("--models", default=os.path.join(ROOT, "build-data", "models"))
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--calib-samples", type=int, default=32)
    parser.add_argument("--eval-samples", type=int, default=8)
    parser.add_argument("--work")
    parser.add_argument("--symmetric", action="store_true", help="symmetric activations in both quantizers")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.ERROR)  # quantize_static's advice to pre-process
    with open(os.path.join(args.models, "manifest.json")) as handle:
        manifest = json.load(handle)
    if args.only:
        manifest = [entry for entry in manifest if entry["name"] in args.only]
    work = args.work or tempfile.mkdtemp(prefix="kiln-ort-quant-")
    os.makedirs(work, exist_ok=True)
    rows = [compare(entry, args, work) for entry in manifest]
    worse = [
        row["model"] for row in rows
        if "onnxruntime" in row and "kiln_minmax" in row and row["kiln_minmax"] < row["onnxruntime"] - 0.05
    ]
    if args.json:
        print(json.dumps({"rows": rows, "kiln_minmax_below_onnxruntime": worse}, indent=2, sort_keys=True, default=str))
        return 1 if worse else 0
    print(f"output SQNR vs float (dB), {'symmetric' if args.symmetric else 'asymmetric'} int8 activations, "
          f"{args.calib_samples} calibration / {args.eval_samples} evaluation samples, "
          "QDQ models run by onnxruntime with graph optimizations off")
    header = f"{'model':<20} {'onnxruntime':>12} {'kiln minmax':>12}   kiln best"
    print(header)
    print("-" * len(header))
    for row in rows:
        if "skipped" in row:
            print(f"{row['model']:<20} skipped: {row['skipped']}")
            continue
        best = row.get("kiln_best")
        best_text = f"{best['method']} {fmt(best['sqnr'])}" if best else "n/a"
        print(f"{row['model']:<20} {fmt(row.get('onnxruntime')):>12} {fmt(row.get('kiln_minmax')):>12}   {best_text}")
        for key, value in row.items():
            if key.endswith("_error"):
                print(f"{'':<20} {key}: {value}")
    better = sum(1 for row in rows if row.get("kiln_best") and "onnxruntime" in row
                 and row["kiln_best"]["sqnr"] > row["onnxruntime"] + 0.05)
    compared = sum(1 for row in rows if row.get("kiln_best") and "onnxruntime" in row)
    print(f"kiln's best method beats onnxruntime on {better} of {compared} models; "
          f"kiln minmax below onnxruntime on: {', '.join(worse) or 'none'}")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
