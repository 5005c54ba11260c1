#!/usr/bin/env python3
"""Latency of `kiln bench` against onnxruntime on the same models, inputs and threads.

For each model and thread count, runs alternating A/B rounds (kiln then ORT, then ORT then
kiln, ...). Each round is a fresh process: `kiln bench --json` (release build) and a separate
Python process running onnxruntime with intra = inter-op threads = N, sequential execution,
the same warm-up and the same timed duration. The per-round figure is the median latency
(p50); the table shows the median over rounds, the ratio kiln/ORT, the geometric mean of the
ratios per thread count, and the peak RSS of each process (kiln: wait4's ru_maxrss; ORT: its
own getrusage).

Inputs: the model's `NAME.inputs.npz` when present, otherwise one random array per input
(declared shape, symbolic dimensions 1) written to a temporary .npz shared by both.

    swift build -c release --product kiln
    /work/main/.venv/bin/python Scripts/bench-vs-ort.py                 # reference + zoo models
    /work/main/.venv/bin/python Scripts/bench-vs-ort.py --models resnet_tiny lstm_seq --threads 1
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODELS = os.environ.get("KILN_MODEL_DATA", os.path.join(ROOT, "build-data", "models"))
DEFAULT_ZOO = os.environ.get("KILN_ZOO_DATA", os.path.join(ROOT, "build-data", "zoo"))


def ort_worker(model, inputs, threads, seconds, warmup):
    """Runs in its own process: times onnxruntime and prints one JSON line."""
    import resource

    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    archive = np.load(inputs)
    feeds = {i.name: archive[i.name] for i in session.get_inputs() if i.name in archive.files}
    for _ in range(warmup):
        session.run(None, feeds)
    latencies = []
    start = time.perf_counter()
    while len(latencies) < 10 or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        session.run(None, feeds)
        latencies.append((time.perf_counter() - t) * 1000)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"p50": statistics.median(latencies), "rss_mb": rss_kb / 1024, "runs": len(latencies)}))


def random_inputs(model, path):
    """Writes random inputs of the model's declared shapes to `path`."""
    import numpy as np
    import onnx
    from onnx import helper

    graph = onnx.load(model, load_external_data=False).graph
    initializers = {t.name for t in graph.initializer}
    rng = np.random.default_rng(0)
    arrays = {}
    for value in graph.input:
        if value.name in initializers:
            continue
        tensor_type = value.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else 1 for d in tensor_type.shape.dim]
        dtype = helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)
        if np.issubdtype(dtype, np.floating):
            arrays[value.name] = rng.uniform(-1, 1, shape).astype(dtype)
        else:
            arrays[value.name] = np.zeros(shape, dtype=dtype)
    np.savez(path, **arrays)


def run_kiln_with_rss(kiln, model, inputs, threads, seconds, warmup, executor=None):
    command = [kiln, "bench", model, "--inputs", inputs, "--threads", str(threads),
               "--seconds", str(seconds), "--warmup", str(warmup), "--json"]
    if executor:
        command += ["--executor", executor]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        raise RuntimeError(stderr.decode().strip().splitlines()[-1] if stderr else f"exit {process.returncode}")
    report = json.loads(stdout)
    return report["latency_ms"]["p50"], usage.ru_maxrss / 1024


def run_ort(model, inputs, threads, seconds, warmup):
    command = [sys.executable, os.path.abspath(__file__), "--ort-worker", model, inputs,
               str(threads), str(seconds), str(warmup)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr else "ORT failed")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["p50"], report["rss_mb"]


def collect_models(args):
    """(name, model path, inputs .npz or None) for the reference and zoo models."""
    models = []
    for directory in [args.model_dir, args.zoo_dir]:
        manifest = os.path.join(directory, "manifest.json")
        if not os.path.exists(manifest):
            continue
        with open(manifest) as handle:
            for entry in json.load(handle):
                name = entry["name"]
                if args.models and name not in args.models:
                    continue
                inputs = os.path.join(directory, f"{name}.inputs.npz")
                models.append((name, os.path.join(directory, entry["model"]), inputs if os.path.exists(inputs) else None))
    return models


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--inputs-worker":
        random_inputs(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--ort-worker":
        model, inputs, threads, seconds, warmup = sys.argv[2:7]
        ort_worker(model, inputs, int(threads), float(seconds), int(warmup))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", default=os.path.join(ROOT, ".build", "release", "kiln"))
    parser.add_argument("--model-dir", default=DEFAULT_MODELS)
    parser.add_argument("--zoo-dir", default=DEFAULT_ZOO)
    parser.add_argument("--models", nargs="*", help="model names (default: every model of both manifests)")
    parser.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3, help="alternating A/B rounds per model and thread count")
    parser.add_argument("--seconds", type=float, default=1.0, help="timed seconds per run")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--executor", help="kiln bench --executor (graph, vm, auto; default: the interpreter)")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    if not os.access(args.kiln, os.X_OK):
        sys.exit(f"no kiln binary at {args.kiln}; build it with `swift build -c release --product kiln`")

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for threads in args.threads:
            for name, model, inputs in collect_models(args):
                if inputs is None:
                    inputs = os.path.join(scratch, f"{name}.npz")
                    if not os.path.exists(inputs):
                        # In a child process: this one must stay small, because a forked child
                        # starts with its parent's peak RSS (ru_maxrss survives fork + exec).
                        subprocess.run([sys.executable, os.path.abspath(__file__), "--inputs-worker", model, inputs],
                                       check=True)
                kiln_times, ort_times, kiln_rss, ort_rss = [], [], [], []
                error = None
                try:
                    for round_index in range(args.rounds):
                        order = ["kiln", "ort"] if round_index % 2 == 0 else ["ort", "kiln"]
                        for side in order:
                            if side == "kiln":
                                p50, rss = run_kiln_with_rss(args.kiln, model, inputs, threads, args.seconds, args.warmup, args.executor)
                                kiln_times.append(p50)
                                kiln_rss.append(rss)
                            else:
                                p50, rss = run_ort(model, inputs, threads, args.seconds, args.warmup)
                                ort_times.append(p50)
                                ort_rss.append(rss)
                except RuntimeError as failure:
                    error = str(failure)
                row = {"model": name, "threads": threads, "error": error}
                if not error:
                    row.update(kiln_ms=statistics.median(kiln_times), ort_ms=statistics.median(ort_times),
                               kiln_rss_mb=max(kiln_rss), ort_rss_mb=max(ort_rss))
                    row["ratio"] = row["kiln_ms"] / row["ort_ms"]
                rows.append(row)
                print(format_row(row), flush=True)
    print()
    print_table(rows, args.threads)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)


def format_row(row):
    if row["error"]:
        return f"{row['model']:<20} {row['threads']:>3}  error: {row['error']}"
    return (f"{row['model']:<20} {row['threads']:>3} {row['kiln_ms']:>10.3f} {row['ort_ms']:>10.3f} {row['ratio']:>7.2f}"
            f" {row['kiln_rss_mb']:>9.1f} {row['ort_rss_mb']:>9.1f}")


def print_table(rows, thread_counts):
    header = f"{'model':<20} {'thr':>3} {'kiln ms':>10} {'ort ms':>10} {'ratio':>7} {'kiln MB':>9} {'ort MB':>9}"
    for threads in thread_counts:
        print(header)
        selected = [row for row in rows if row["threads"] == threads]
        for row in selected:
            print(format_row(row))
        ratios = [row["ratio"] for row in selected if not row["error"]]
        if ratios:
            geomean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
            print(f"geometric mean kiln/ort at {threads} thread(s): {geomean:.2f} over {len(ratios)} models"
                  f" (worst {max(ratios):.2f})")
        print()


if __name__ == "__main__":
    main()
