#!/usr/bin/python3
"""Writes two ONNX models of architecture families that are in no part of data/corpus, for the
end-to-end comparison of plans on unseen architectures (README "End-to-end ... outside the corpus").

  mlp_wide.onnx       a wide multi-layer perceptron at batch 1 (matrix-vector layers):
                      [1, 1024] -> Gemm 1024x2048 -> Relu -> Gemm 2048x2048 -> Relu -> Gemm 2048x1000
                      -> Softmax
  conv1d_speech.onnx  a 1-D convolutional acoustic model (Wav2Letter-like) on an 80-band
                      spectrogram: [1, 80, 200] -> Conv1d k11 s2 (256) -> Relu -> 2x Conv1d k11 (256)
                      -> Relu -> Conv1d k1 (512) -> Relu -> Conv1d k1 (29) -> LogSoftmax over channels

Weights are seeded random values (the runtime does not depend on them). Debian's python3-onnx and
python3-numpy only.  Usage: scripts/make_outside_models.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def init(name, shape, rng):
    return numpy_helper.from_array((rng.standard_normal(shape) * 0.02).astype(np.float32), name)


def mlp_wide(rng):
    sizes = [1024, 2048, 2048, 1000]
    nodes, inits = [], []
    x = "x"
    for i in range(3):
        w, b, y = f"w{i}", f"b{i}", f"h{i}"
        inits += [init(w, (sizes[i], sizes[i + 1]), rng), init(b, (sizes[i + 1],), rng)]
        nodes.append(helper.make_node("Gemm", [x, w, b], [y]))
        x = y
        if i < 2:
            nodes.append(helper.make_node("Relu", [x], [x + "_relu"]))
            x = x + "_relu"
    nodes.append(helper.make_node("Softmax", [x], ["probs"], axis=1))
    graph = helper.make_graph(nodes, "mlp_wide",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1024])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 1000])],
                              inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def conv1d_speech(rng):
    layers = [(80, 256, 11, 2), (256, 256, 11, 1), (256, 256, 11, 1), (256, 512, 1, 1),
              (512, 29, 1, 1)]
    nodes, inits = [], []
    x = "spectrogram"
    for i, (cin, cout, k, s) in enumerate(layers):
        w, b, y = f"w{i}", f"b{i}", f"c{i}"
        inits += [init(w, (cout, cin, k), rng), init(b, (cout,), rng)]
        nodes.append(helper.make_node("Conv", [x, w, b], [y], kernel_shape=[k], strides=[s],
                                      pads=[k // 2, k // 2]))
        x = y
        if i < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [x], [x + "_relu"]))
            x = x + "_relu"
    nodes.append(helper.make_node("LogSoftmax", [x], ["log_probs"], axis=1))
    graph = helper.make_graph(
        nodes, "conv1d_speech",
        [helper.make_tensor_value_info("spectrogram", TensorProto.FLOAT, [1, 80, 200])],
        [helper.make_tensor_value_info("log_probs", TensorProto.FLOAT, [1, 29, 100])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(1)
    for name, make in [("mlp_wide", mlp_wide), ("conv1d_speech", conv1d_speech)]:
        model = make(rng)
        onnx.checker.check_model(model)
        path = os.path.join(out, name + ".onnx")
        onnx.save(model, path)
        print(path)


if __name__ == "__main__":
    main()
