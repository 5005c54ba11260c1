#!/usr/bin/env python3
"""Build Kiln's reference models and their onnxruntime outputs.

Usage: make_models.py OUTDIR [--only NAME ...] [--check-reference]

For every model NAME this writes

    OUTDIR/NAME.onnx            the model (IR version 10, float32, random weights)
    OUTDIR/NAME.inputs.npz      one array per graph input, keyed by input name
    OUTDIR/NAME.expected.npz    onnxruntime CPU outputs, keyed by output name

and, for models with a second input set (if_model, dynamic_shapes),
NAME.inputs2.npz / NAME.expected2.npz. OUTDIR/manifest.json lists them all.

Everything is deterministic: weights and inputs come from numpy's default_rng with
a fixed seed per model, the .npz archives are written with fixed zip timestamps,
and onnxruntime runs single-threaded without graph optimizations (each node is
evaluated on its own, which is the closest thing to the ONNX semantics an
interpreter implements). Running the script twice gives bit-identical files on the
same machine; on a CPU with a different instruction set onnxruntime may pick other
kernels, so the expected outputs can differ in the last bits there.

Models are built with onnx.helper only (no torch), checked with
onnx.checker.check_model(full_check=True) and kept small so that a naive
interpreter runs each in well under a second.

--check-reference additionally runs every model with onnx's pure-numpy
ReferenceEvaluator and reports how far onnxruntime is from it (slow-ish; a sanity
check of the references themselves, not needed to produce them).
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import zipfile
from dataclasses import dataclass
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# onnx 1.23's make_model defaults to IR version 14, which onnxruntime 1.31 refuses.
IR_VERSION = 10
FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64
BOOL = TensorProto.BOOL


# --------------------------------------------------------------------------------------
# Deterministic .npz writing
# --------------------------------------------------------------------------------------

def save_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Like np.savez (uncompressed), but bit-reproducible.

    np.savez stamps every member with the current time; here each member gets a
    fixed 1980-01-01 timestamp and the members keep the order of `arrays`.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            # (not np.ascontiguousarray: it turns 0-d arrays into shape (1,))
            np.lib.format.write_array(buffer, np.asarray(value, order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16  # a regular file, rw-r--r--
            archive.writestr(info, buffer.getvalue())


# --------------------------------------------------------------------------------------
# Graph building helpers
# --------------------------------------------------------------------------------------

def he_normal(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, gain: float = 2.0) -> np.ndarray:
    """Normal weights with variance gain/fan_in (He init for gain 2, LeCun for gain 1)."""
    return (rng.standard_normal(shape) * math.sqrt(gain / fan_in)).astype(np.float32)


class GraphBuilder:
    """Accumulates nodes and initializers of one (sub)graph and hands out unique names."""

    def __init__(self, rng: np.random.Generator, prefix: str = ""):
        self.rng = rng
        self.prefix = prefix
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._counts: dict[str, int] = {}

    def name(self, base: str) -> str:
        """A fresh name `prefix + base + _N`."""
        n = self._counts.get(base, 0)
        self._counts[base] = n + 1
        return f"{self.prefix}{base}_{n}"

    # -- tensors ----------------------------------------------------------------------

    def const(self, base: str, value: np.ndarray) -> str:
        """Adds an initializer and returns its name."""
        name = self.name(base)
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def f32(self, base: str, value) -> str:
        return self.const(base, np.asarray(value, dtype=np.float32))

    def i64(self, base: str, value) -> str:
        return self.const(base, np.asarray(value, dtype=np.int64))

    # -- nodes ------------------------------------------------------------------------

    def op(self, op_type: str, inputs: list[str], n_outputs: int = 1, outputs: list[str] | None = None,
           **attrs) -> str | list[str]:
        """Adds a node; returns its output name (or the list of names if several)."""
        if outputs is None:
            outputs = [self.name(op_type.lower()) for _ in range(n_outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=self.name("n_" + op_type), **attrs))
        return outputs[0] if len(outputs) == 1 else outputs

    def conv(self, x: str, c_in: int, c_out: int, k: int, stride: int = 1, group: int = 1,
             bias: bool = True, gain: float = 2.0) -> str:
        """Conv with 'same'-style symmetric padding k//2 and He-initialized weights."""
        fan_in = (c_in // group) * k * k
        w = self.const("conv_w", he_normal(self.rng, (c_out, c_in // group, k, k), fan_in, gain))
        inputs = [x, w]
        if bias:
            inputs.append(self.f32("conv_b", self.rng.standard_normal(c_out) * 0.05))
        p = k // 2
        return self.op("Conv", inputs, kernel_shape=[k, k], strides=[stride, stride],
                       pads=[p, p, p, p], group=group)

    def batchnorm(self, x: str, c: int, gamma_scale: float = 1.0) -> str:
        """Inference-mode BatchNormalization with plausible running statistics."""
        rng = self.rng
        scale = self.f32("bn_scale", gamma_scale * (1.0 + 0.1 * rng.standard_normal(c)))
        bias = self.f32("bn_bias", 0.1 * rng.standard_normal(c))
        mean = self.f32("bn_mean", 0.1 * rng.standard_normal(c))
        var = self.f32("bn_var", rng.uniform(0.5, 1.5, c))
        return self.op("BatchNormalization", [x, scale, bias, mean, var], epsilon=1e-5)

    def linear(self, x: str, d_in: int, d_out: int, gain: float = 1.0) -> str:
        """x @ W + b with W of shape [d_in, d_out] (MatMul + Add)."""
        w = self.const("w", he_normal(self.rng, (d_in, d_out), d_in, gain))
        b = self.f32("b", 0.02 * self.rng.standard_normal(d_out))
        return self.op("Add", [self.op("MatMul", [x, w]), b])

    def graph(self, name: str, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto]) -> onnx.GraphProto:
        return helper.make_graph(self.nodes, name, inputs, outputs, initializer=self.initializers)


def tensor_info(name: str, elem_type: int, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, shape)


@dataclass
class ModelCase:
    """One reference model and the input sets to run it on."""
    name: str
    model: onnx.ModelProto
    input_sets: list[dict[str, np.ndarray]]
    opset: int  # default-domain opset the model imports


def make_model(graph: onnx.GraphProto, opset: int, doc: str) -> onnx.ModelProto:
    model = helper.make_model(
        graph,
        ir_version=IR_VERSION,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="kiln-make_models",
        producer_version="1",
        doc_string=doc,
    )
    onnx.checker.check_model(model, full_check=True)
    return model


# --------------------------------------------------------------------------------------
# The models
# --------------------------------------------------------------------------------------

def resnet_tiny() -> ModelCase:
    """ResNet-style CNN: stem, max-pool, two basic blocks (one strided with projection), head."""
    rng = np.random.default_rng(1001)
    g = GraphBuilder(rng)
    x = "input"
    # Stem: Conv 7x7 s2 (pads 3) + BN + ReLU -> 16x32x32, MaxPool 3x3 s2 (pads 1) -> 16x16x16.
    h = g.op("Relu", [g.batchnorm(g.conv(x, 3, 16, 7, stride=2, bias=False), 16)])
    h = g.op("MaxPool", [h], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])

    def basic_block(x: str, c_in: int, c_out: int, stride: int) -> str:
        y = g.op("Relu", [g.batchnorm(g.conv(x, c_in, c_out, 3, stride=stride, bias=False), c_out)])
        # A smaller gamma on the last BN of the residual branch keeps the sum's scale in check.
        y = g.batchnorm(g.conv(y, c_out, c_out, 3, bias=False), c_out, gamma_scale=0.5)
        if stride != 1 or c_in != c_out:
            # Projection shortcut: strided 1x1 conv + BN.
            x = g.batchnorm(g.conv(x, c_in, c_out, 1, stride=stride, bias=False, gain=1.0), c_out)
        return g.op("Relu", [g.op("Add", [y, x])])

    h = basic_block(h, 16, 16, 1)  # 16x16x16
    h = basic_block(h, 16, 32, 2)  # 32x8x8
    h = g.op("GlobalAveragePool", [h])  # 1x32x1x1
    h = g.op("Flatten", [h], axis=1)  # 1x32
    w = g.const("fc_w", he_normal(rng, (10, 32), 32, 1.0))  # [out, in] for transB=1
    b = g.f32("fc_b", 0.05 * rng.standard_normal(10))
    g.op("Gemm", [h, w, b], outputs=["logits"], transB=1)

    graph = g.graph("resnet_tiny", [tensor_info("input", FLOAT, [1, 3, 64, 64])],
                    [tensor_info("logits", FLOAT, [1, 10])])
    inputs = {"input": rng.standard_normal((1, 3, 64, 64)).astype(np.float32)}
    return ModelCase("resnet_tiny", make_model(graph, 13, resnet_tiny.__doc__), [inputs], 13)


def mobilenetv2_tiny() -> ModelCase:
    """MobileNetV2-style CNN: inverted residual blocks with depthwise convs and ReLU6 (Clip)."""
    rng = np.random.default_rng(1002)
    g = GraphBuilder(rng)
    zero, six = g.f32("clip_min", 0.0), g.f32("clip_max", 6.0)  # opset 13 Clip: min/max are inputs

    def relu6(x: str) -> str:
        return g.op("Clip", [x, zero, six])

    def inverted_residual(x: str, c_in: int, c_out: int, stride: int, expand: int) -> str:
        hidden = c_in * expand
        y = relu6(g.batchnorm(g.conv(x, c_in, hidden, 1, bias=False), hidden))  # 1x1 expand
        y = relu6(g.batchnorm(g.conv(y, hidden, hidden, 3, stride=stride, group=hidden, bias=False), hidden))  # depthwise
        y = g.batchnorm(g.conv(y, hidden, c_out, 1, bias=False, gain=1.0), c_out)  # 1x1 linear projection
        if stride == 1 and c_in == c_out:
            y = g.op("Add", [x, y])
        return y

    h = relu6(g.conv("input", 3, 8, 3, stride=2))  # 8x32x32 (stem with conv bias, no BN)
    h = inverted_residual(h, 8, 8, 1, 4)  # 8x32x32, residual
    h = inverted_residual(h, 8, 16, 2, 4)  # 16x16x16
    h = inverted_residual(h, 16, 16, 1, 4)  # 16x16x16, residual
    h = relu6(g.conv(h, 16, 32, 1))  # 32x16x16
    h = g.op("GlobalAveragePool", [h])  # 1x32x1x1
    h = g.op("Reshape", [h, g.i64("flat_shape", [0, -1])])  # 1x32 (0 = copy dim, -1 = infer)
    w = g.const("fc_w", he_normal(rng, (32, 10), 32, 1.0))
    b = g.f32("fc_b", 0.05 * rng.standard_normal(10))
    g.op("Add", [g.op("MatMul", [h, w]), b], outputs=["logits"])

    graph = g.graph("mobilenetv2_tiny", [tensor_info("input", FLOAT, [1, 3, 64, 64])],
                    [tensor_info("logits", FLOAT, [1, 10])])
    inputs = {"input": rng.standard_normal((1, 3, 64, 64)).astype(np.float32)}
    return ModelCase("mobilenetv2_tiny", make_model(graph, 13, mobilenetv2_tiny.__doc__), [inputs], 13)


def hardswish_net() -> ModelCase:
    """HardSwish / HardSigmoid blocks (MobileNetV3-like) with a squeeze-and-excitation block."""
    rng = np.random.default_rng(1003)
    g = GraphBuilder(rng)
    h1 = g.op("HardSwish", [g.conv("input", 4, 16, 3)])  # 16x32x32
    # The explicit form of hard-swish that exporters emit: x * HardSigmoid(x; 1/6, 0.5).
    c2 = g.conv(h1, 16, 16, 3)
    h2 = g.op("Mul", [c2, g.op("HardSigmoid", [c2], alpha=1.0 / 6.0, beta=0.5)])
    # Squeeze-and-excitation: GAP -> 1x1 conv -> ReLU -> 1x1 conv -> HardSigmoid (default alpha/beta) -> scale.
    s = g.op("GlobalAveragePool", [h2])  # 1x16x1x1
    s = g.op("Relu", [g.conv(s, 16, 4, 1)])
    s = g.op("HardSigmoid", [g.conv(s, 4, 16, 1)])  # alpha=0.2, beta=0.5
    h3 = g.op("Add", [g.op("Mul", [h2, s]), h1])  # channel-wise scale (broadcast) + residual
    # 1x1 conv to 8 channels, HardSigmoid with custom alpha/beta, then per-channel affine.
    c4 = g.conv(h3, 16, 8, 1, gain=1.0)
    h4 = g.op("HardSigmoid", [c4], alpha=0.25, beta=0.4)
    h4 = g.op("Mul", [h4, g.f32("scale", 2.0)])  # scalar broadcast
    g.op("Add", [h4, g.f32("ch_bias", (0.1 * rng.standard_normal((8, 1, 1))))], outputs=["features"])  # [8,1,1] broadcast
    pooled = g.op("GlobalAveragePool", ["features"])
    g.op("Flatten", [pooled], outputs=["pooled"])

    graph = g.graph("hardswish_net", [tensor_info("input", FLOAT, [1, 4, 32, 32])],
                    [tensor_info("features", FLOAT, [1, 8, 32, 32]), tensor_info("pooled", FLOAT, [1, 8])])
    inputs = {"input": rng.standard_normal((1, 4, 32, 32)).astype(np.float32)}
    return ModelCase("hardswish_net", make_model(graph, 14, hardswish_net.__doc__), [inputs], 14)


def detector_head() -> ModelCase:
    """FPN-ish detector head: two scales, nearest Resize x2, Concat, Split into box/score branches."""
    rng = np.random.default_rng(1004)
    g = GraphBuilder(rng)
    anchors = 2
    c1 = g.op("Relu", [g.conv("image", 3, 16, 3, stride=2)])  # 16x32x32
    p4 = g.op("Relu", [g.conv(c1, 16, 32, 3, stride=2)])  # 32x16x16
    p5 = g.op("Relu", [g.conv(p4, 32, 32, 3, stride=2)])  # 32x8x8
    lat5 = g.conv(p5, 32, 16, 1, gain=1.0)  # 16x8x8
    lat4 = g.conv(p4, 32, 16, 1, gain=1.0)  # 16x16x16
    # Opset 13 Resize(X, roi, scales): an empty roi tensor as PyTorch exports emit,
    # nearest/asymmetric/floor like torch.nn.Upsample(scale_factor=2).
    roi = g.const("roi", np.zeros((0,), dtype=np.float32))
    scales = g.f32("scales", [1.0, 1.0, 2.0, 2.0])
    up5 = g.op("Resize", [lat5, roi, scales], mode="nearest",
               coordinate_transformation_mode="asymmetric", nearest_mode="floor")  # 16x16x16
    fused = g.op("Concat", [lat4, up5], axis=1)  # 32x16x16
    fused = g.op("Relu", [g.conv(fused, 32, 32, 3)])
    head = g.conv(fused, 32, anchors * (4 + 3), 1, gain=1.0)  # 14x16x16: 8 box + 6 score channels
    boxes, scores = g.op("Split", [head, g.i64("split", [anchors * 4, anchors * 3])], n_outputs=2, axis=1)
    scores = g.op("Sigmoid", [scores])
    # NCHW -> NHWC -> [N, H*W*anchors, k]
    boxes = g.op("Reshape", [g.op("Transpose", [boxes], perm=[0, 2, 3, 1]), g.i64("box_shape", [1, -1, 4])])
    g.op("Reshape", [g.op("Transpose", [scores], perm=[0, 2, 3, 1]), g.i64("score_shape", [1, -1, 3])],
         outputs=["scores"])
    g.op("Concat", [boxes, "scores"], axis=2, outputs=["detections"])

    n = 16 * 16 * anchors
    graph = g.graph("detector_head", [tensor_info("image", FLOAT, [1, 3, 64, 64])],
                    [tensor_info("detections", FLOAT, [1, n, 7]), tensor_info("scores", FLOAT, [1, n, 3])])
    inputs = {"image": rng.standard_normal((1, 3, 64, 64)).astype(np.float32)}
    return ModelCase("detector_head", make_model(graph, 13, detector_head.__doc__), [inputs], 13)


def lstm_seq() -> ModelCase:
    """Bidirectional LSTM (with initial states) followed by Gemm on the final hidden states."""
    rng = np.random.default_rng(1005)
    g = GraphBuilder(rng)
    seq, batch, d_in, hidden, dirs = 10, 2, 8, 16, 2
    bound = 1.0 / math.sqrt(hidden)  # PyTorch's default LSTM init

    def uni(*shape):
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    w = g.const("lstm_W", uni(dirs, 4 * hidden, d_in))  # gates iofc
    r = g.const("lstm_R", uni(dirs, 4 * hidden, hidden))
    b = g.const("lstm_B", uni(dirs, 8 * hidden))  # Wb then Rb
    h0 = g.f32("lstm_h0", 0.1 * rng.standard_normal((dirs, batch, hidden)))
    c0 = g.f32("lstm_c0", 0.1 * rng.standard_normal((dirs, batch, hidden)))
    # Inputs: X, W, R, B, sequence_lens (omitted: ""), initial_h, initial_c.
    y, y_h, _ = g.op("LSTM", ["x", w, r, b, "", h0, c0], n_outputs=3, hidden_size=hidden,
                     direction="bidirectional")
    # Y: [seq, dirs, batch, hidden] -> [seq, batch, dirs*hidden]
    g.op("Reshape", [g.op("Transpose", [y], perm=[0, 2, 1, 3]), g.i64("y_shape", [seq, batch, dirs * hidden])],
         outputs=["y_seq"])
    # Y_h: [dirs, batch, hidden] -> [batch, dirs*hidden] -> Gemm -> [batch, 5]
    last = g.op("Reshape", [g.op("Transpose", [y_h], perm=[1, 0, 2]), g.i64("h_shape", [batch, dirs * hidden])])
    fc_w = g.const("fc_w", he_normal(rng, (5, dirs * hidden), dirs * hidden, 1.0))
    fc_b = g.f32("fc_b", 0.05 * rng.standard_normal(5))
    g.op("Gemm", [last, fc_w, fc_b], outputs=["logits"], transB=1)

    graph = g.graph("lstm_seq", [tensor_info("x", FLOAT, [seq, batch, d_in])],
                    [tensor_info("logits", FLOAT, [batch, 5]),
                     tensor_info("y_seq", FLOAT, [seq, batch, dirs * hidden])])
    inputs = {"x": rng.standard_normal((seq, batch, d_in)).astype(np.float32)}
    return ModelCase("lstm_seq", make_model(graph, 14, lstm_seq.__doc__), [inputs], 14)


def gru_seq() -> ModelCase:
    """Two stacked GRUs: forward with linear_before_reset=1, then reverse with the default 0."""
    rng = np.random.default_rng(1006)
    g = GraphBuilder(rng)
    seq, batch, d_in, h1, h2 = 10, 2, 8, 16, 12

    def uni(hidden, *shape):
        bound = 1.0 / math.sqrt(hidden)
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    # The input is batch-first [batch, seq, d_in] like a PyTorch batch_first export, which
    # transposes to the sequence-first layout 0 (onnxruntime does not implement layout=1).
    xs = g.op("Transpose", ["x"], perm=[1, 0, 2])  # [seq, batch, d_in]
    # GRU 1: forward, PyTorch-style linear_before_reset=1, both outputs requested.
    y1, _ = g.op("GRU", [xs, g.const("gru1_W", uni(h1, 1, 3 * h1, d_in)), g.const("gru1_R", uni(h1, 1, 3 * h1, h1)),
                         g.const("gru1_B", uni(h1, 1, 6 * h1))],
                 n_outputs=2, hidden_size=h1, linear_before_reset=1)
    y1 = g.op("Squeeze", [y1, g.i64("sq_axes", [1])])  # Y [seq, 1, batch, h1] -> [seq, batch, h1]
    # GRU 2: reverse direction, no bias input, only Y_h requested (Y output left empty).
    _, y_h = g.op("GRU", [y1, g.const("gru2_W", uni(h2, 1, 3 * h2, h1)), g.const("gru2_R", uni(h2, 1, 3 * h2, h2))],
                  outputs=["", g.name("gru2_yh")], hidden_size=h2, direction="reverse")
    last = g.op("Squeeze", [y_h, g.i64("sq_axes", [0])])  # [batch, h2]
    w = g.const("fc_w", he_normal(rng, (h2, 4), h2, 1.0))
    b = g.f32("fc_b", 0.05 * rng.standard_normal(4))
    g.op("Add", [g.op("MatMul", [last, w]), b], outputs=["logits"])

    graph = g.graph("gru_seq", [tensor_info("x", FLOAT, [batch, seq, d_in])], [tensor_info("logits", FLOAT, [batch, 4])])
    inputs = {"x": rng.standard_normal((batch, seq, d_in)).astype(np.float32)}
    return ModelCase("gru_seq", make_model(graph, 14, gru_seq.__doc__), [inputs], 14)


def if_model() -> ModelCase:
    """If on ReduceSum(x) > 0; both branches read outer-scope tensors and do different ops."""
    rng = np.random.default_rng(1007)
    g = GraphBuilder(rng)
    shape = [2, 3, 4]
    w = g.const("W", he_normal(rng, (4, 4), 4, 1.0))  # outer-scope initializers used by the branches
    bias = g.f32("bias", 0.1 * rng.standard_normal(4))
    gain = g.f32("gain", 1.5)
    total = g.op("ReduceSum", ["x"], keepdims=0)  # no axes input: reduce over all -> scalar
    cond = g.op("Greater", [total, g.f32("zero", 0.0)])  # bool scalar

    # then: relu(x @ W + bias)   (x, W, bias from the outer scope)
    t = GraphBuilder(rng, prefix="then_")
    t.op("Relu", [t.op("Add", [t.op("MatMul", ["x", w]), bias])], outputs=["then_y"])
    then_graph = t.graph("then_branch", [], [tensor_info("then_y", FLOAT, shape)])

    # else: gain * sigmoid(x) - tanh(x) * c, with c a subgraph-local Constant node.
    e = GraphBuilder(rng, prefix="else_")
    c = e.op("Constant", [], value=numpy_helper.from_array(np.array([0.5], dtype=np.float32), "c"))
    a = e.op("Mul", [e.op("Sigmoid", ["x"]), gain])
    e.op("Sub", [a, e.op("Mul", [e.op("Tanh", ["x"]), c])], outputs=["else_y"])
    else_graph = e.graph("else_branch", [], [tensor_info("else_y", FLOAT, shape)])

    y = g.op("If", [cond], then_branch=then_graph, else_branch=else_graph)
    g.op("Add", [y, "x"], outputs=["y"])  # use the If result in the outer graph too
    g.op("Cast", [cond], outputs=["took_then"], to=INT64)

    graph = g.graph("if_model", [tensor_info("x", FLOAT, shape)],
                    [tensor_info("y", FLOAT, shape), tensor_info("took_then", INT64, [])])
    # Set 1 has a positive sum (then branch), set 2 a negative one (else branch).
    x1 = (rng.standard_normal(shape) + 0.5).astype(np.float32)
    x2 = (rng.standard_normal(shape) - 0.5).astype(np.float32)
    assert x1.sum() > 0 and x2.sum() < 0
    return ModelCase("if_model", make_model(graph, 13, if_model.__doc__), [{"x": x1}, {"x": x2}], 13)


def dynamic_shapes() -> ModelCase:
    """Symbolic [batch, seq, 16] input; shapes computed at run time with Shape/Gather/Range/..."""
    rng = np.random.default_rng(1008)
    g = GraphBuilder(rng)
    d = 16
    shp = g.op("Shape", ["x"])  # [3] int64
    batch = g.op("Gather", [shp, g.i64("idx0", 0)], axis=0)  # scalar
    seq = g.op("Gather", [shp, g.i64("idx1", 1)], axis=0)  # scalar
    # Positional term: Range(0, seq) -> float -> [1, seq, 1] * w[d] -> Expand to x's shape.
    pos = g.op("Cast", [g.op("Range", [g.i64("start", 0), seq, g.i64("delta", 1)])], to=FLOAT)  # [seq]
    pos = g.op("Unsqueeze", [pos, g.i64("axes_02", [0, 2])])  # [1, seq, 1]
    pos = g.op("Mul", [pos, g.f32("pos_w", 0.1 * rng.standard_normal(d))])  # [1, seq, d]
    pos = g.op("Expand", [pos, shp])  # [batch, seq, d]
    # A [batch, seq, 1] tensor of 0.5 built with ConstantOfShape from the run-time dims.
    batch1 = g.op("Unsqueeze", [batch, g.i64("axes_0", [0])])  # [1]
    seq1 = g.op("Unsqueeze", [seq, g.i64("axes_0", [0])])  # [1]
    half_shape = g.op("Concat", [batch1, seq1, g.i64("one", [1])], axis=0)
    half = g.op("ConstantOfShape", [half_shape], value=numpy_helper.from_array(np.array([0.5], dtype=np.float32)))
    h = g.op("Add", [g.op("Add", ["x", pos]), half])
    h = g.op("Relu", [g.linear(h, d, d, gain=2.0)])  # [batch, seq, d]
    # Reshape to [batch, seq*4, 4] with the target shape computed from the run-time dims.
    seq4 = g.op("Mul", [seq1, g.i64("four", [4])])
    r_shape = g.op("Concat", [batch1, seq4, g.i64("last", [4])], axis=0)
    r = g.op("Reshape", [h, r_shape])
    g.op("ReduceMax", [r], axes=[-1], keepdims=0, outputs=["y"])  # [batch, seq*4]
    g.op("Shape", [r], outputs=["r_shape"])  # int64 [3] = (batch, 4*seq, 4)

    graph = g.graph("dynamic_shapes", [tensor_info("x", FLOAT, ["batch", "seq", d])],
                    [tensor_info("y", FLOAT, ["batch", "seq_x4"]), tensor_info("r_shape", INT64, [3])])
    set1 = {"x": rng.standard_normal((2, 5, d)).astype(np.float32)}
    set2 = {"x": rng.standard_normal((3, 7, d)).astype(np.float32)}
    return ModelCase("dynamic_shapes", make_model(graph, 13, dynamic_shapes.__doc__), [set1, set2], 13)


def transformer_block() -> ModelCase:
    """Pre-LN transformer encoder block: multi-head self-attention and a Gelu MLP (opset 20)."""
    rng = np.random.default_rng(1009)
    g = GraphBuilder(rng)
    seq, d, heads = 16, 32, 4
    hd = d // heads

    def layer_norm(x: str) -> str:
        gamma = g.f32("ln_g", 1.0 + 0.1 * rng.standard_normal(d))
        beta = g.f32("ln_b", 0.1 * rng.standard_normal(d))
        return g.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=1e-5)

    to_heads = g.i64("heads_shape", [0, 0, heads, hd])  # 0 copies batch and seq
    ln1 = layer_norm("x")
    q = g.op("Transpose", [g.op("Reshape", [g.linear(ln1, d, d), to_heads])], perm=[0, 2, 1, 3])  # [1,h,s,hd]
    k = g.op("Transpose", [g.op("Reshape", [g.linear(ln1, d, d), to_heads])], perm=[0, 2, 3, 1])  # [1,h,hd,s]
    v = g.op("Transpose", [g.op("Reshape", [g.linear(ln1, d, d), to_heads])], perm=[0, 2, 1, 3])  # [1,h,s,hd]
    scores = g.op("Div", [g.op("MatMul", [q, k]), g.f32("sqrt_d", math.sqrt(hd))])  # [1,h,s,s]
    probs = g.op("Softmax", [scores], axis=-1)
    attn = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])  # [1,s,h,hd]
    attn = g.op("Reshape", [attn, g.i64("merge_shape", [0, 0, d])])  # [1,s,d]
    x1 = g.op("Add", ["x", g.linear(attn, d, d)])
    mlp = g.op("Gelu", [g.linear(layer_norm(x1), d, 2 * d)])  # exact (erf) Gelu
    g.op("Add", [x1, g.linear(mlp, 2 * d, d)], outputs=["y"])

    graph = g.graph("transformer_block", [tensor_info("x", FLOAT, [1, seq, d])], [tensor_info("y", FLOAT, [1, seq, d])])
    inputs = {"x": rng.standard_normal((1, seq, d)).astype(np.float32)}
    return ModelCase("transformer_block", make_model(graph, 20, transformer_block.__doc__), [inputs], 20)


def loop_model() -> ModelCase:
    """Loop with a trip count: x <- tanh(x @ W + b) five times, scanning out x + iteration."""
    rng = np.random.default_rng(1010)
    g = GraphBuilder(rng)
    d, trips = 16, 5
    w = g.const("W", he_normal(rng, (d, d), d, 1.0))  # outer-scope, read by the body
    b = g.f32("b", 0.1 * rng.standard_normal(d))
    trip_count = g.i64("trip_count", trips)  # int64 scalar
    keep_going = g.const("cond", np.array(True))  # bool scalar

    body = GraphBuilder(rng, prefix="body_")
    # Body inputs: iteration number, condition, then the loop-carried x.
    body.op("Identity", ["body_cond_in"], outputs=["body_cond_out"])
    body.op("Tanh", [body.op("Add", [body.op("MatMul", ["body_x_in", w]), b])], outputs=["body_x_out"])
    it = body.op("Cast", ["body_iter"], to=FLOAT)
    body.op("Add", ["body_x_out", it], outputs=["body_scan"])  # scan output: x + iteration number
    body_graph = body.graph(
        "loop_body",
        [tensor_info("body_iter", INT64, []), tensor_info("body_cond_in", BOOL, []),
         tensor_info("body_x_in", FLOAT, [1, d])],
        [tensor_info("body_cond_out", BOOL, []), tensor_info("body_x_out", FLOAT, [1, d]),
         tensor_info("body_scan", FLOAT, [1, d])])
    g.op("Loop", [trip_count, keep_going, "x"], outputs=["final_state", "trajectory"], body=body_graph)

    graph = g.graph("loop_model", [tensor_info("x", FLOAT, [1, d])],
                    [tensor_info("final_state", FLOAT, [1, d]), tensor_info("trajectory", FLOAT, [trips, 1, d])])
    inputs = {"x": rng.standard_normal((1, d)).astype(np.float32)}
    return ModelCase("loop_model", make_model(graph, 13, loop_model.__doc__), [inputs], 13)


def silu_net() -> ModelCase:
    """YOLOv8-style SiLU CNN: Conv+BN+x*Sigmoid(x) blocks, a two-branch Concat, nearest Resize x2."""
    rng = np.random.default_rng(1011)
    g = GraphBuilder(rng)

    def conv_bn_silu(x: str, c_in: int, c_out: int, k: int, stride: int = 1) -> str:
        # Ultralytics' Conv block as exported: Conv (no bias) -> BatchNormalization -> x * Sigmoid(x).
        y = g.batchnorm(g.conv(x, c_in, c_out, k, stride=stride, bias=False, gain=1.0), c_out)
        return g.op("Mul", [y, g.op("Sigmoid", [y])])

    h = conv_bn_silu("input", 3, 16, 3, stride=2)  # 16x32x32
    h = conv_bn_silu(h, 16, 32, 3, stride=2)  # 32x16x16
    # C2f-like split: a 1x1 branch and a 1x1 -> 3x3 branch, concatenated on channels.
    a = conv_bn_silu(h, 32, 16, 1)  # 16x16x16
    b = conv_bn_silu(conv_bn_silu(h, 32, 16, 1), 16, 16, 3)  # 16x16x16
    h = conv_bn_silu(g.op("Concat", [a, b], axis=1), 32, 32, 1)  # 32x16x16
    p = conv_bn_silu(h, 32, 32, 3, stride=2)  # 32x8x8
    # FPN-style top-down path: nearest x2 upsample (torch.nn.Upsample as exported at opset 13).
    roi = g.const("roi", np.zeros((0,), dtype=np.float32))
    up = g.op("Resize", [p, roi, g.f32("scales", [1.0, 1.0, 2.0, 2.0])], mode="nearest",
              coordinate_transformation_mode="asymmetric", nearest_mode="floor")  # 32x16x16
    h = conv_bn_silu(g.op("Concat", [h, up], axis=1), 64, 32, 3)  # 32x16x16
    # Detection-style head: a plain 1x1 conv with bias.
    w = g.const("head_w", he_normal(rng, (8, 32, 1, 1), 32, 1.0))
    g.op("Conv", [h, w, g.f32("head_b", 0.05 * rng.standard_normal(8))], outputs=["features"],
         kernel_shape=[1, 1])

    graph = g.graph("silu_net", [tensor_info("input", FLOAT, [1, 3, 64, 64])],
                    [tensor_info("features", FLOAT, [1, 8, 16, 16])])
    inputs = {"input": rng.standard_normal((1, 3, 64, 64)).astype(np.float32)}
    return ModelCase("silu_net", make_model(graph, 13, silu_net.__doc__), [inputs], 13)


MODELS: list[Callable[[], ModelCase]] = [
    resnet_tiny, mobilenetv2_tiny, hardswish_net, detector_head, lstm_seq, gru_seq,
    if_model, dynamic_shapes, transformer_block, loop_model, silu_net,
]


# --------------------------------------------------------------------------------------
# Running and writing
# --------------------------------------------------------------------------------------

def run_onnxruntime(model: onnx.ModelProto, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3  # errors only
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))


def sanity_check(name: str, outputs: dict[str, np.ndarray]) -> None:
    """Rejects references that would make poor tests: non-finite or (near-)constant floats."""
    for key, value in outputs.items():
        if value.dtype.kind != "f":
            continue
        if not np.all(np.isfinite(value)):
            raise RuntimeError(f"{name}: output {key} has non-finite values")
        if value.size > 1 and float(value.max() - value.min()) < 1e-3:
            raise RuntimeError(f"{name}: output {key} is nearly constant (range {value.max() - value.min():g})")
        if float(np.abs(value).max()) > 1e3:
            raise RuntimeError(f"{name}: output {key} has exploded (max |value| {np.abs(value).max():g})")


def reference_error(model: onnx.ModelProto, inputs: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> float:
    """Largest (max abs error / range) between onnx's ReferenceEvaluator and onnxruntime."""
    from onnx.reference import ReferenceEvaluator
    from onnx.reference.op_run import OpRun
    from onnx.reference.ops.op_batch_normalization import _batchnorm_test_mode

    class BatchNormalization(OpRun):
        # onnx's own BatchNormalization_9 (used for opsets 9-13) applies the default
        # momentum=0.9 and so normalizes with batch statistics; opset 9-13 graphs with a
        # single output are inference mode, as onnxruntime (correctly) implements them.
        def _run(self, x, scale, bias, mean, var, epsilon=None, momentum=None, training_mode=None):
            return (_batchnorm_test_mode(x, scale, bias, mean, var, epsilon=epsilon),)

    class StackingNumpy:
        # onnx's reference Loop joins scan outputs with np.vstack, which concatenates
        # per-iteration values of rank >= 1 along their first axis; the Loop spec (see its
        # pseudo-code and onnx's own shape inference) and onnxruntime stack them along a
        # new leading axis. Give op_loop a numpy whose vstack stacks.
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def vstack(arrays):
            return np.stack(arrays)

    import onnx.reference.ops.op_loop as op_loop

    names = list(expected)
    saved_np, op_loop.np = op_loop.np, StackingNumpy()
    try:
        got = ReferenceEvaluator(model, new_ops=[BatchNormalization]).run(names, inputs)
    finally:
        op_loop.np = saved_np
    worst = 0.0
    for key, value in zip(names, got):
        want = expected[key]
        if value.shape != want.shape:
            raise RuntimeError(f"ReferenceEvaluator: {key} shape {value.shape} != {want.shape}")
        span = max(float(want.max() - want.min()), 1e-6) if want.size else 1e-6
        err = float(np.abs(value.astype(np.float64) - want).max()) if want.size else 0.0
        worst = max(worst, err / span)
    return worst


def describe(arrays: dict[str, np.ndarray]) -> str:
    return ", ".join(f"{k} {a.dtype}{list(a.shape)}" for k, a in arrays.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="build only these models (manifest lists just them)")
    parser.add_argument("--check-reference", action="store_true",
                        help="also compare onnxruntime with onnx.reference.ReferenceEvaluator")
    args = parser.parse_args()

    builders = MODELS
    if args.only:
        known = {b.__name__: b for b in MODELS}
        unknown = [n for n in args.only if n not in known]
        if unknown:
            parser.error(f"unknown model(s) {unknown}; known: {sorted(known)}")
        builders = [known[n] for n in args.only]

    os.makedirs(args.outdir, exist_ok=True)
    manifest = []
    for build in builders:
        case = build()
        assert case.name == build.__name__
        with open(os.path.join(args.outdir, case.name + ".onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        entry = {"name": case.name, "model": case.name + ".onnx", "inputs": [], "expected": [], "opset": case.opset}
        for i, inputs in enumerate(case.input_sets):
            suffix = "" if i == 0 else str(i + 1)  # inputs.npz, inputs2.npz, ...
            outputs = run_onnxruntime(case.model, inputs)
            sanity_check(case.name, outputs)
            in_file, out_file = f"{case.name}.inputs{suffix}.npz", f"{case.name}.expected{suffix}.npz"
            save_npz(os.path.join(args.outdir, in_file), inputs)
            save_npz(os.path.join(args.outdir, out_file), outputs)
            entry["inputs"].append(in_file)
            entry["expected"].append(out_file)
            line = f"{case.name}{suffix}: opset {case.opset}; inputs {describe(inputs)}; outputs {describe(outputs)}"
            if args.check_reference:
                line += f"; ReferenceEvaluator max err/range {reference_error(case.model, inputs, outputs):.2e}"
            print(line)
        manifest.append(entry)

    with open(os.path.join(args.outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"{len(manifest)} models written to {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
