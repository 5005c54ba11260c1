#!/usr/bin/env python3
"""Train a small CNN on scikit-learn's bundled digits with NumPy only, export it as ONNX,
and write the calibration and test splits.

Usage:
    train_digits_cnn.py [--model Examples/digits_cnn.onnx] [--data build-data/digits]
    train_digits_cnn.py --data-only [--data build-data/digits]

The data: sklearn.datasets.load_digits (1,797 8x8 images of 0-9, pixel values 0-16,
shipped inside scikit-learn: nothing is downloaded), scaled to [0, 1]. A fixed
permutation (seed 2024) splits it into 1,300 training and 497 held-out test images;
the first 200 training images are the calibration set. The split depends only on the
seed, so --data-only rewrites exactly the files the committed model was trained with:

    DATA/calib.npz   input: float32[200, 1, 8, 8]
    DATA/test.npz    input: float32[497, 1, 8, 8], label: int64[497]

(calib.npz has one array per graph input, samples along the first axis, as
`kiln quantize --calib` reads it; test.npz adds the labels.)

The network (about 4,000 parameters):

    input[1, 1, 8, 8] -> Conv 3x3 (8, pad 1) -> Relu -> Conv 3x3 (16, pad 1) -> Relu
      -> AveragePool 2x2 -> Flatten -> Gemm (256 -> 10) -> logits[1, 10]

trained with hand-written forward and backward passes (im2col convolutions), softmax
cross-entropy and Adam (seed 7, 30 epochs of mini-batches of 32: well under a minute
on one core). It is exported with onnx.helper at opset 13, IR version 10, batch 1
(the DPU flow runs one image at a time). Float test accuracy is printed (about 98%).
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import zipfile

import numpy as np

SPLIT_SEED = 2024
TRAIN_SEED = 7
TRAIN_COUNT = 1300
CALIB_COUNT = 200
EPOCHS = 30
BATCH = 32


def save_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    """np.savez with fixed timestamps (bit-reproducible files)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(value, order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, test images, test labels); images float32[N, 1, 8, 8] in [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    train, test = order[:TRAIN_COUNT], order[TRAIN_COUNT:]
    return images[train], labels[train], images[test], labels[test]


def write_data(directory: str, train_x: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> None:
    os.makedirs(directory, exist_ok=True)
    save_npz(os.path.join(directory, "calib.npz"), {"input": train_x[:CALIB_COUNT]})
    save_npz(os.path.join(directory, "test.npz"), {"input": test_x, "label": test_y})
    print(f"wrote {directory}/calib.npz ({CALIB_COUNT} images) and test.npz ({len(test_y)} images with labels)")


# --------------------------------------------------------------------------------------
# The network in NumPy
# --------------------------------------------------------------------------------------

def im2col(x: np.ndarray) -> np.ndarray:
    """3x3 patches of x[B, C, H, W] with padding 1, as [B, H, W, C*9]."""
    b, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.empty((b, c, 3, 3, h, w), dtype=x.dtype)
    for i in range(3):
        for j in range(3):
            cols[:, :, i, j] = padded[:, :, i:i + h, j:j + w]
    return cols.transpose(0, 4, 5, 1, 2, 3).reshape(b, h, w, c * 9)


def col2im(cols: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    """The adjoint of im2col: scatters patch gradients back to x's gradient."""
    b, c, h, w = shape
    cols = cols.reshape(b, h, w, c, 3, 3).transpose(0, 3, 4, 5, 1, 2)
    padded = np.zeros((b, c, h + 2, w + 2), dtype=cols.dtype)
    for i in range(3):
        for j in range(3):
            padded[:, :, i:i + h, j:j + w] += cols[:, :, i, j]
    return padded[:, :, 1:-1, 1:-1]


def conv_forward(x, weight, bias):
    cols = im2col(x)                                   # [B, H, W, C*9]
    out = cols @ weight.reshape(weight.shape[0], -1).T + bias  # [B, H, W, O]
    return out.transpose(0, 3, 1, 2), cols


def conv_backward(grad_out, cols, weight, x_shape):
    g = grad_out.transpose(0, 2, 3, 1)                 # [B, H, W, O]
    grad_w = (g.reshape(-1, g.shape[-1]).T @ cols.reshape(-1, cols.shape[-1])).reshape(weight.shape)
    grad_b = g.sum(axis=(0, 1, 2))
    grad_cols = g @ weight.reshape(weight.shape[0], -1)
    return col2im(grad_cols, x_shape), grad_w, grad_b


def init_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    def he(shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    return {
        "conv1.weight": he((8, 1, 3, 3), 9), "conv1.bias": np.zeros(8, np.float32),
        "conv2.weight": he((16, 8, 3, 3), 72), "conv2.bias": np.zeros(16, np.float32),
        "fc.weight": he((10, 256), 256) * 0.5, "fc.bias": np.zeros(10, np.float32),
    }


def forward(params, x, keep=False):
    c1, cols1 = conv_forward(x, params["conv1.weight"], params["conv1.bias"])
    a1 = np.maximum(c1, 0)
    c2, cols2 = conv_forward(a1, params["conv2.weight"], params["conv2.bias"])
    a2 = np.maximum(c2, 0)
    b = x.shape[0]
    pooled = a2.reshape(b, 16, 4, 2, 4, 2).mean(axis=(3, 5))
    flat = pooled.reshape(b, 256)
    logits = flat @ params["fc.weight"].T + params["fc.bias"]
    if not keep:
        return logits
    return logits, (x, c1, cols1, a1, c2, cols2, flat)


def loss_and_grads(params, x, y):
    logits, (x, c1, cols1, a1, c2, cols2, flat) = forward(params, x, keep=True)
    b = x.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(b), y] + 1e-12).mean()
    g_logits = probs
    g_logits[np.arange(b), y] -= 1
    g_logits /= b
    grads = {"fc.weight": g_logits.T @ flat, "fc.bias": g_logits.sum(axis=0)}
    g_flat = g_logits @ params["fc.weight"]
    g_pooled = g_flat.reshape(b, 16, 4, 4)
    g_a2 = np.repeat(np.repeat(g_pooled, 2, axis=2), 2, axis=3) / 4
    g_c2 = g_a2 * (c2 > 0)
    g_a1, grads["conv2.weight"], grads["conv2.bias"] = conv_backward(g_c2, cols2, params["conv2.weight"], a1.shape)
    g_c1 = g_a1 * (c1 > 0)
    _, grads["conv1.weight"], grads["conv1.bias"] = conv_backward(g_c1, cols1, params["conv1.weight"], x.shape)
    return loss, grads


def train(train_x, train_y) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(TRAIN_SEED)
    params = init_params(rng)
    moment = {k: np.zeros_like(v) for k, v in params.items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    rate, beta1, beta2, step = 3e-3, 0.9, 0.999, 0
    for epoch in range(EPOCHS):
        order = rng.permutation(len(train_y))
        total = 0.0
        for start in range(0, len(order), BATCH):
            batch = order[start:start + BATCH]
            loss, grads = loss_and_grads(params, train_x[batch], train_y[batch])
            total += loss * len(batch)
            step += 1
            for key in params:
                moment[key] = beta1 * moment[key] + (1 - beta1) * grads[key]
                velocity[key] = beta2 * velocity[key] + (1 - beta2) * grads[key] ** 2
                m_hat = moment[key] / (1 - beta1 ** step)
                v_hat = velocity[key] / (1 - beta2 ** step)
                params[key] = (params[key] - rate * m_hat / (np.sqrt(v_hat) + 1e-8)).astype(np.float32)
        if epoch % 10 == 9 or epoch == EPOCHS - 1:
            print(f"epoch {epoch + 1}: loss {total / len(order):.4f}")
    return params


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(axis=1) == labels).mean())


# --------------------------------------------------------------------------------------
# ONNX
# --------------------------------------------------------------------------------------

def export_onnx(params: dict[str, np.ndarray], path: str) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Conv", ["input", "conv1.weight", "conv1.bias"], ["conv1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv1"], ["relu1"], name="relu1"),
        helper.make_node("Conv", ["relu1", "conv2.weight", "conv2.bias"], ["conv2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv2"], ["relu2"], name="relu2"),
        helper.make_node("AveragePool", ["relu2"], ["pool"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["pool"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "digits_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        [numpy_helper.from_array(value, name) for name, value in params.items()],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=10, producer_name="kiln train_digits_cnn.py",
        doc_string="Small CNN on scikit-learn's load_digits (8x8, 10 classes), trained with NumPy.")
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    print(f"wrote {path}")


def onnxruntime_accuracy(path: str, test_x: np.ndarray, test_y: np.ndarray) -> float:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    logits = np.concatenate([session.run(["logits"], {"input": x[None]})[0] for x in test_x])
    return accuracy(logits, test_y)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="Examples/digits_cnn.onnx")
    parser.add_argument("--data", default="build-data/digits")
    parser.add_argument("--data-only", action="store_true", help="only write the calibration and test splits")
    args = parser.parse_args()
    train_x, train_y, test_x, test_y = load_split()
    write_data(args.data, train_x, test_x, test_y)
    if args.data_only:
        return 0
    params = train(train_x, train_y)
    print(f"float accuracy (NumPy): train {accuracy(forward(params, train_x), train_y):.4f}, "
          f"test {accuracy(forward(params, test_x), test_y):.4f}")
    export_onnx(params, args.model)
    print(f"float test accuracy (onnxruntime): {onnxruntime_accuracy(args.model, test_x, test_y):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
