#!/usr/bin/env python3
"""Run an ONNX model with onnxruntime on the arrays of an .npz and write the outputs.

Usage: run_onnxruntime.py MODEL.onnx INPUTS.npz OUT.npz [--quantized] [--optimize]

INPUTS.npz holds one array per graph input, keyed by input name. OUT.npz gets every
graph output under its name. With --quantized, the output of every QuantizeLinear node
is added as a graph output too (keyed by its name), so a caller can compare the integer
values of each quantized tensor.

onnxruntime runs single-threaded on the CPU provider. Without --optimize, graph
optimizations are off, so each node computes exactly what the ONNX operator defines
(QuantizeLinear rounds half to even, DequantizeLinear is (q - zp) * scale in float):
this is the reference for "Kiln's QDQ export agrees with its fake-quant simulation".
With --optimize, onnxruntime fuses Q/DQ pairs into integer kernels (QLinearConv, ...),
as a deployment would.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import onnx
from onnx import helper


def session(model: onnx.ModelProto, optimize: bool = False):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def expose_quantized_tensors(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose graph also outputs every QuantizeLinear result."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    initializers = {t.name: t for t in model.graph.initializer}
    existing = {o.name for o in model.graph.output}
    for node in model.graph.node:
        if node.op_type != "QuantizeLinear" or node.output[0] in existing:
            continue
        elem_type = onnx.TensorProto.UINT8
        if len(node.input) > 2 and node.input[2] in initializers:
            elem_type = initializers[node.input[2]].data_type
        model.graph.output.append(helper.make_tensor_value_info(node.output[0], elem_type, None))
        existing.add(node.output[0])
    return model


def run(model: onnx.ModelProto, inputs: dict[str, np.ndarray], optimize: bool = False) -> dict[str, np.ndarray]:
    sess = session(model, optimize)
    wanted = {i.name for i in sess.get_inputs()}
    feeds = {name: value for name, value in inputs.items() if name in wanted}
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("inputs")
    parser.add_argument("output")
    parser.add_argument("--quantized", action="store_true", help="also output every QuantizeLinear result")
    parser.add_argument("--optimize", action="store_true", help="let onnxruntime fuse Q/DQ into integer kernels")
    args = parser.parse_args()
    model = onnx.load(args.model)
    if args.quantized:
        model = expose_quantized_tensors(model)
    with np.load(args.inputs, allow_pickle=False) as archive:
        inputs = {key: archive[key] for key in archive.files}
    outputs = run(model, inputs, args.optimize)
    np.savez(args.output, **outputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
