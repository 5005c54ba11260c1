#!/usr/bin/env python3
"""Compare the arrays of two .npz archives output by output.

Usage: compare_npz.py ACTUAL.npz EXPECTED.npz [--rel 1e-4]

Every key of EXPECTED must be in ACTUAL with the same shape and dtype. Floating-point
outputs pass when

    max_abs_err <= rel * max(range, 1e-6),    range = max(expected) - min(expected)

i.e. the error is judged relative to the spread of that output, which neither
punishes outputs whose values sit near zero nor lets large offsets hide errors.
NaN must match NaN and an infinity the same infinity, position by position; the
range and the error are taken over the finite values. Integer and boolean outputs
(shapes, indices, flags) must match exactly.

Prints one line per output, `name: max_abs_err=... range=... ok|FAIL`, and exits
with status 1 if any output fails or is missing (keys only in ACTUAL are reported
but do not fail), 2 on usage or unreadable files.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def load(path: str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def compare(name: str, actual: np.ndarray, expected: np.ndarray, rel: float) -> tuple[bool, str]:
    """Returns (passed, report line) for one output."""
    if actual.dtype != expected.dtype:
        return False, f"{name}: dtype {actual.dtype} != expected {expected.dtype} FAIL"
    if actual.shape != expected.shape:
        return False, f"{name}: shape {actual.shape} != expected {expected.shape} FAIL"

    if expected.dtype.kind != "f":
        # Integers and booleans (shapes, indices, flags), or anything else: exact equality.
        mismatches = int(np.count_nonzero(actual != expected))
        ok = mismatches == 0
        if expected.dtype.kind in "iub" and expected.size:
            a, e = actual.astype(np.float64), expected.astype(np.float64)
            detail = f"max_abs_err={np.abs(a - e).max():g} range={e.max() - e.min():g}"
        else:
            detail = f"mismatches={mismatches}"
        return ok, f"{name}: {detail} exact {'ok' if ok else 'FAIL'}"

    a, e = actual.astype(np.float64), expected.astype(np.float64)
    # Non-finite values must agree exactly (NaN with NaN, +inf with +inf, ...).
    e_inf = np.isinf(e)
    special_ok = (np.array_equal(np.isnan(e), np.isnan(a)) and np.array_equal(e_inf, np.isinf(a))
                  and np.array_equal(a[e_inf], e[e_inf]))
    finite = np.isfinite(e) & np.isfinite(a)
    span = float(e[finite].max() - e[finite].min()) if np.any(finite) else 0.0
    err = float(np.abs(a[finite] - e[finite]).max()) if np.any(finite) else 0.0
    tolerance = rel * max(span, 1e-6)
    ok = special_ok and err <= tolerance
    line = f"{name}: max_abs_err={err:.3e} range={span:.3e} tol={tolerance:.3e}"
    if not special_ok:
        line += " (NaN/inf positions differ)"
    return ok, f"{line} {'ok' if ok else 'FAIL'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("actual", help="outputs to check (.npz)")
    parser.add_argument("expected", help="reference outputs (.npz)")
    parser.add_argument("--rel", type=float, default=1e-4,
                        help="tolerance as a fraction of each expected output's range (default 1e-4)")
    args = parser.parse_args()

    try:
        actual, expected = load(args.actual), load(args.expected)
    except (OSError, ValueError) as error:
        print(f"compare_npz: cannot read archives: {error}", file=sys.stderr)
        return 2

    failed = False
    for name in expected:
        if name not in actual:
            print(f"{name}: missing from {args.actual} FAIL")
            failed = True
            continue
        ok, line = compare(name, actual[name], expected[name], args.rel)
        print(line)
        failed |= not ok
    for name in actual:
        if name not in expected:
            print(f"{name}: not in {args.expected} (ignored)")
    if not expected:
        print(f"compare_npz: {args.expected} holds no arrays FAIL")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
