#!/usr/bin/env python3
"""Build the model-zoo architectures the DPU performance model is checked against.

Usage: make_zoo_models.py OUTDIR

Writes, at 224x224 input, float32, random weights:

    OUTDIR/resnet50.onnx      ResNet-50, torchvision v1.5 layout (stride on the 3x3 conv)
    OUTDIR/mobilenetv2.onnx   MobileNetV2 1.0 (TF layout: SAME padding, ReLU6 as Clip, 1001 classes)
    OUTDIR/resnet18.onnx      ResNet-18 (basic blocks, 1x1 projection shortcuts)
    OUTDIR/manifest.json      [{"name", "model", "input", "gop"}]

These are the Vitis AI model-zoo entries of shared/reference/dpu-architecture.md §2. The
performance model only reads shapes, so the weights are random (numpy default_rng with a
fixed seed per model: the files are identical on every run). Batch norms are kept, as an
exporter writes them; Kiln's canonicalization folds them. The files are large (ResNet-50
is ~100 MB) and are never committed: Scripts/test.sh regenerates them.

"gop" in the manifest is 2 x MACs of convolutions and fully connected layers, computed
here independently of Kiln, so the Swift test can check the workload it derives.
"""
from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# onnx 1.23's make_model defaults to IR version 14, which onnxruntime 1.31 refuses.
IR_VERSION = 10
OPSET = 13


class Builder:
    """Nodes and initializers of one graph, with unique names and a MAC count."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.counts: dict[str, int] = {}
        self.macs = 0

    def name(self, base: str) -> str:
        n = self.counts.get(base, 0)
        self.counts[base] = n + 1
        return f"{base}_{n}"

    def const(self, base: str, value: np.ndarray) -> str:
        name = self.name(base)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self.name("n_" + op_type), **attrs))
        return out

    def conv(self, x: str, shape: tuple[int, int, int], c_out: int, k: int, stride: int = 1,
             group: int = 1, tf_same: bool = False) -> tuple[str, tuple[int, int, int]]:
        """Conv without bias (a batch norm follows). Returns the output and its CHW shape.

        tf_same pads like TensorFlow's SAME (the extra row/column at the end)."""
        c_in, h, w = shape
        fan_in = (c_in // group) * k * k
        weights = self.rng.standard_normal((c_out, c_in // group, k, k)) * math.sqrt(2.0 / fan_in)
        if tf_same:
            out_h, out_w = -(-h // stride), -(-w // stride)
            total = [max(0, (o - 1) * stride + k - i) for o, i in ((out_h, h), (out_w, w))]
            pads = [total[0] // 2, total[1] // 2, total[0] - total[0] // 2, total[1] - total[1] // 2]
        else:
            p = k // 2
            pads = [p, p, p, p]
            out_h = (h + 2 * p - k) // stride + 1
            out_w = (w + 2 * p - k) // stride + 1
        y = self.op("Conv", [x, self.const("w", weights)], kernel_shape=[k, k], strides=[stride, stride],
                    pads=pads, group=group)
        self.macs += out_h * out_w * c_out * (c_in // group) * k * k
        return y, (c_out, out_h, out_w)

    def bn(self, x: str, c: int) -> str:
        rng = self.rng
        return self.op("BatchNormalization", [
            x, self.const("bn_scale", 1.0 + 0.1 * rng.standard_normal(c)),
            self.const("bn_bias", 0.1 * rng.standard_normal(c)),
            self.const("bn_mean", 0.1 * rng.standard_normal(c)),
            self.const("bn_var", rng.uniform(0.5, 1.5, c))], epsilon=1e-5)

    def conv_bn(self, x: str, shape, c_out: int, k: int, stride: int = 1, group: int = 1,
                tf_same: bool = False):
        y, out = self.conv(x, shape, c_out, k, stride, group, tf_same)
        return self.bn(y, c_out), out

    def relu(self, x: str) -> str:
        return self.op("Relu", [x])

    def relu6(self, x: str) -> str:
        if "zero" not in self.counts:
            self.const("zero", np.float32(0.0))
            self.const("six", np.float32(6.0))
        return self.op("Clip", [x, "zero_0", "six_0"])

    def head(self, x: str, channels: int, classes: int) -> str:
        """Global average pool, flatten, fully connected (Gemm with bias)."""
        pooled = self.op("Flatten", [self.op("GlobalAveragePool", [x])], axis=1)
        w = self.const("fc_w", self.rng.standard_normal((classes, channels)) / math.sqrt(channels))
        b = self.const("fc_b", 0.01 * self.rng.standard_normal(classes))
        self.macs += channels * classes
        return self.op("Gemm", [pooled, w, b], transB=1)

    def model(self, name: str, classes: int, doc: str) -> onnx.ModelProto:
        # The final node writes `logits`.
        self.nodes[-1].output[0] = "logits"
        graph = helper.make_graph(
            self.nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])],
            initializer=self.initializers)
        model = helper.make_model(graph, ir_version=IR_VERSION, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="kiln-make_zoo_models", producer_version="1", doc_string=doc)
        onnx.checker.check_model(model)
        return model


def resnet50() -> tuple[onnx.ModelProto, int]:
    """ResNet-50, torchvision v1.5: bottlenecks with the stride on the 3x3 conv."""
    g = Builder(5050)
    x, shape = g.conv_bn("input", (3, 224, 224), 64, 7, stride=2)
    x = g.op("MaxPool", [g.relu(x)], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    shape = (64, 56, 56)
    for width, blocks, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
        for block in range(blocks):
            s = stride if block == 0 else 1
            y, inner = g.conv_bn(x, shape, width, 1)
            y, inner = g.conv_bn(g.relu(y), inner, width, 3, stride=s)
            y, out = g.conv_bn(g.relu(y), inner, width * 4, 1)
            shortcut = g.conv_bn(x, shape, width * 4, 1, stride=s)[0] if block == 0 else x
            x, shape = g.relu(g.op("Add", [y, shortcut])), out
    g.head(x, 2048, 1000)
    return g.model("resnet50", 1000, resnet50.__doc__), g.macs


def mobilenetv2() -> tuple[onnx.ModelProto, int]:
    """MobileNetV2 1.0 as TensorFlow builds it: SAME padding, ReLU6, 1001 classes."""
    g = Builder(2002)
    x, shape = g.conv_bn("input", (3, 224, 224), 32, 3, stride=2, tf_same=True)
    x = g.relu6(x)
    for expansion, c_out, blocks, stride in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                                             (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for block in range(blocks):
            s = stride if block == 0 else 1
            y, inner = x, shape
            if expansion != 1:
                y, inner = g.conv_bn(y, inner, shape[0] * expansion, 1)
                y = g.relu6(y)
            y, inner = g.conv_bn(y, inner, inner[0], 3, stride=s, group=inner[0], tf_same=True)
            y, out = g.conv_bn(g.relu6(y), inner, c_out, 1)
            if s == 1 and shape[0] == c_out:
                y = g.op("Add", [y, x])
            x, shape = y, out
    x, shape = g.conv_bn(x, shape, 1280, 1)
    g.head(g.relu6(x), 1280, 1001)
    return g.model("mobilenetv2", 1001, mobilenetv2.__doc__), g.macs


def resnet18() -> tuple[onnx.ModelProto, int]:
    """ResNet-18: basic blocks, 1x1 strided projection shortcuts."""
    g = Builder(1818)
    x, shape = g.conv_bn("input", (3, 224, 224), 64, 7, stride=2)
    x = g.op("MaxPool", [g.relu(x)], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    shape = (64, 56, 56)
    for width, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        for block in range(2):
            s = stride if block == 0 else 1
            y, inner = g.conv_bn(x, shape, width, 3, stride=s)
            y, out = g.conv_bn(g.relu(y), inner, width, 3)
            shortcut = g.conv_bn(x, shape, width, 1, stride=s)[0] if shape[0] != width or s != 1 else x
            x, shape = g.relu(g.op("Add", [y, shortcut])), out
    g.head(x, 512, 1000)
    return g.model("resnet18", 1000, resnet18.__doc__), g.macs


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    manifest = []
    for build in (resnet50, mobilenetv2, resnet18):
        model, macs = build()
        name = build.__name__
        path = os.path.join(out_dir, name + ".onnx")
        data = model.SerializeToString()
        # Rewrite only when the bytes change, so that repeated runs leave the files alone.
        if not os.path.exists(path) or open(path, "rb").read() != data:
            with open(path + ".tmp", "wb") as file:
                file.write(data)
            os.replace(path + ".tmp", path)
        manifest.append({"name": name, "model": name + ".onnx", "input": [1, 3, 224, 224], "gop": 2 * macs / 1e9})
        print(f"{name}: {2 * macs / 1e9:.3f} GOP, {len(data) / 1e6:.1f} MB -> {path}")
    with open(os.path.join(out_dir, "manifest.json"), "w") as file:
        json.dump(manifest, file, indent=1)
        file.write("\n")


if __name__ == "__main__":
    main()
