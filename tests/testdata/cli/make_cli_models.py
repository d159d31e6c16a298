#!/usr/bin/python3
"""Generates the small ONNX models used by tests/tools/inspect_test.cc.

Run with Debian's python3-onnx: /usr/bin/python3 tests/testdata/cli/make_cli_models.py
The outputs are committed; re-running rewrites identical files.
"""
import os

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))


def save(model, name):
    path = os.path.join(HERE, name)
    onnx.save(model, path)
    print("wrote", path, os.path.getsize(path), "bytes")


def tiny_cnn(batch="N"):
    """Conv(bias) -> Relu -> GlobalAveragePool -> Flatten -> Gemm, with a dynamic batch dim."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, 16, 16])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 10])
    inits = [
        helper.make_tensor("w", TensorProto.FLOAT, [8, 3, 3, 3], [0.0] * 216),
        helper.make_tensor("b", TensorProto.FLOAT, [8], [0.0] * 8),
        helper.make_tensor("fc_w", TensorProto.FLOAT, [10, 8], [0.0] * 80),
        helper.make_tensor("fc_b", TensorProto.FLOAT, [10], [0.0] * 10),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["logits"], name="fc", transB=1),
    ]
    graph = helper.make_graph(nodes, "tiny_cnn", [x], [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def cycle():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("b", TensorProto.FLOAT, [4])
    nodes = [
        helper.make_node("Add", ["x", "b"], ["a"], name="add_uses_b"),
        helper.make_node("Relu", ["a"], ["b"], name="relu_makes_b"),
    ]
    graph = helper.make_graph(nodes, "cycle", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def unknown_dtype():
    x = helper.make_tensor_value_info("x", 99, [4])  # 99 is no TensorProto.DataType
    y = helper.make_tensor_value_info("y", 99, [4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "unknown_dtype",
                              [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def unsupported_op():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Det", ["r"], ["y"], name="determinant"),
    ]
    graph = helper.make_graph(nodes, "unsupported_op", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


if __name__ == "__main__":
    save(tiny_cnn(), "tiny_cnn_dynamic_batch.onnx")
    save(cycle(), "cycle.onnx")
    save(unknown_dtype(), "unknown_dtype.onnx")
    save(unsupported_op(), "unsupported_op.onnx")
    with open(os.path.join(HERE, "not_a_model.txt"), "w") as f:
        f.write("This is a plain text file, not an ONNX protobuf.\n")
