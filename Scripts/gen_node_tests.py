#!/usr/bin/env python3
"""Generate the ONNX backend *node* test cases into OUTDIR/node.

Usage: gen_node_tests.py OUTDIR

The installed `onnx` package carries the generators of its backend node tests
(onnx/backend/test/case/node/*.py) but, since onnx 1.15 or so, not the generated
data. This script runs those generators and writes the usual layout:

    OUTDIR/node/<case>/model.onnx
    OUTDIR/node/<case>/test_data_set_0/input_N.pb   (TensorProto / SequenceProto / ...)
    OUTDIR/node/<case>/test_data_set_0/output_N.pb

Idempotent: when OUTDIR/node already holds a marker written by a complete run of
the same onnx version, nothing is regenerated. Otherwise the cases are written to a
temporary directory next to OUTDIR/node and moved into place only once complete,
so an interrupted run never leaves a half-filled OUTDIR/node behind.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import warnings

MARKER = ".kiln-node-tests.json"


def count_cases(node_dir: str) -> int:
    """Number of case directories (those holding a model.onnx) under node_dir."""
    return sum(
        1
        for entry in os.scandir(node_dir)
        if entry.is_dir() and os.path.isfile(os.path.join(entry.path, "model.onnx"))
    )


def read_marker(node_dir: str) -> dict | None:
    try:
        with open(os.path.join(node_dir, MARKER)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def generate(outdir: str) -> int:
    """Run the onnx node-test generators into outdir/node; return the case count."""
    # Imported here so that the idempotent fast path does not pay for them.
    import numpy as np
    import onnx
    import onnx.backend.test.case.node as node_cases
    import onnx.backend.test.cmd_tools as cmd_tools

    # Many generators draw their inputs from numpy's global RNG without seeding it;
    # seed it once so that two runs produce the same data.
    np.random.seed(0)
    # Some generators deliberately compute inf/nan (e.g. ReduceMax of an empty set);
    # numpy's RuntimeWarnings about that are expected noise.
    warnings.simplefilter("ignore", RuntimeWarning)

    # cmd_tools.generate_data writes whatever model_test.collect_testcases() returns
    # (the "real" and "simple" model cases). Point it at the node cases instead.
    cmd_tools.model_test.collect_testcases = lambda: node_cases.collect_testcases()

    final = os.path.join(outdir, "node")
    staging = tempfile.mkdtemp(prefix=".node-staging-", dir=outdir)
    try:
        cmd_tools.generate_data(argparse.Namespace(output=staging))
        generated = os.path.join(staging, "node")
        count = count_cases(generated)
        if count == 0:
            raise RuntimeError("the onnx generators produced no node test cases")
        # Written last: its presence means the directory is complete.
        with open(os.path.join(generated, MARKER), "w") as f:
            json.dump({"onnx_version": onnx.__version__, "cases": count}, f, indent=1)
            f.write("\n")
        if os.path.exists(final):
            shutil.rmtree(final)  # stale: other onnx version or an incomplete run
        os.rename(generated, final)
        return count
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", help="output directory; cases go to OUTDIR/node/<case>")
    args = parser.parse_args()

    import onnx  # cheap enough, and needed to validate the marker

    os.makedirs(args.outdir, exist_ok=True)
    node_dir = os.path.join(args.outdir, "node")
    marker = read_marker(node_dir)
    if marker is not None and marker.get("onnx_version") == onnx.__version__:
        print(f"{count_cases(node_dir)} node test cases (onnx {onnx.__version__}, up to date) in {node_dir}")
        return 0

    count = generate(args.outdir)
    print(f"{count} node test cases (onnx {onnx.__version__}) written to {node_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
