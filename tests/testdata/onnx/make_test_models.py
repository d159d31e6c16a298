#!/usr/bin/python3
"""Generates the small ONNX models used by tests/graph/onnx_import_test.cc.

Each model exercises one ONNX op family (or one error path) of the importer.
Weights are zeros: the importer only needs dims. Models are written with
SerializeToString() (no checker, no external-data handling) so that the
deliberately broken ones (cycle, undefined tensor, unknown dtype, absent
external data) are kept exactly as built.

Run with Debian's interpreter (onnx 1.12):

    /usr/bin/python3 tests/testdata/onnx/make_test_models.py [--out-dir DIR]
"""

import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
I64 = TensorProto.INT64


def vi(name, elem, dims):
    return helper.make_tensor_value_info(name, elem, dims)


def zeros(name, dims, dtype=np.float32):
    return numpy_helper.from_array(np.zeros(dims, dtype=dtype), name)


def ints(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def const(out, array):
    """A Constant node producing `array` (numpy) as tensor `out`."""
    return helper.make_node("Constant", [], [out], name=out + "_const",
                            value=numpy_helper.from_array(np.asarray(array), out))


def model(nodes, inputs, outputs, opset, initializers=(), ir_version=None, name="g"):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="perfgraph-tests")
    if ir_version is not None:
        m.ir_version = ir_version
    elif opset <= 8:
        m.ir_version = 3
    elif opset <= 14:
        m.ir_version = 7
    else:
        m.ir_version = 8
    return m


def unary_model(op, dims, opset, **attrs):
    return model([helper.make_node(op, ["x"], ["y"], name="/" + op.lower() + "/" + op, **attrs)],
                 [vi("x", F, dims)], [vi("y", F, None)], opset)


def build_models():
    m = {}
    # --- convolution ---
    m["conv_bias"] = model(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], name="/conv1/Conv", pads=[1, 1, 1, 1])],
        [vi("x", F, [1, 3, 16, 16])], [vi("y", F, None)], 13,
        [zeros("w", [8, 3, 3, 3]), zeros("b", [8])])
    m["conv_grouped_strided"] = model(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="/conv/Conv", group=2, strides=[2, 2],
                          pads=[1, 1, 1, 1], kernel_shape=[3, 3])],
        [vi("x", F, [2, 4, 16, 16])], [vi("y", F, None)], 13, [zeros("w", [8, 2, 3, 3])])
    m["conv_depthwise_dilated"] = model(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="/dw/Conv", group=8, dilations=[2, 2])],
        [vi("x", F, [1, 8, 16, 16])], [vi("y", F, None)], 13, [zeros("w", [8, 1, 3, 3])])
    m["conv_same_upper"] = model(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="/same/Conv", strides=[2, 2],
                          auto_pad="SAME_UPPER")],
        [vi("x", F, [1, 3, 16, 16])], [vi("y", F, None)], 11, [zeros("w", [4, 3, 4, 4])])
    m["conv_valid"] = model(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="/valid/Conv", auto_pad="VALID")],
        [vi("x", F, [1, 3, 15, 15])], [vi("y", F, None)], 11, [zeros("w", [4, 3, 3, 3])])
    m["conv1d"] = model(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="/c1d/Conv")],
        [vi("x", F, [1, 2, 32])], [vi("y", F, None)], 13, [zeros("w", [4, 2, 3])])
    m["conv_transpose"] = model(
        [helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="/up/ConvTranspose",
                          strides=[2, 2], pads=[1, 1, 1, 1])],
        [vi("x", F, [1, 8, 8, 8])], [vi("y", F, None)], 13, [zeros("w", [8, 4, 4, 4])])
    # --- matrix products ---
    m["gemm_transb"] = model(
        [helper.make_node("Gemm", ["a", "w", "c"], ["y"], name="/fc/Gemm", transB=1)],
        [vi("a", F, [2, 3])], [vi("y", F, None)], 13, [zeros("w", [5, 3]), zeros("c", [5])])
    m["matmul_batched"] = model(
        [helper.make_node("MatMul", ["a", "b"], ["y"], name="/bmm/MatMul")],
        [vi("a", F, [3, 4, 5]), vi("b", F, [1, 5, 6])], [vi("y", F, None)], 13)
    m["matmul_2d_weight"] = model(
        [helper.make_node("MatMul", ["a", "w"], ["y"], name="/proj/MatMul")],
        [vi("a", F, [2, 3, 4])], [vi("y", F, None)], 13, [zeros("w", [4, 6])])
    m["matmul_vector"] = model(
        [helper.make_node("MatMul", ["a", "v"], ["y"], name="/mv/MatMul")],
        [vi("a", F, [3, 4]), vi("v", F, [4])], [vi("y", F, None)], 13)
    m["einsum_attention"] = model(
        [helper.make_node("Einsum", ["q", "k"], ["y"], name="/attn/Einsum",
                          equation="bhid,bhjd->bhij")],
        [vi("q", F, [2, 4, 5, 8]), vi("k", F, [2, 4, 5, 8])], [vi("y", F, None)], 13)
    # --- elementwise ---
    m["relu"] = unary_model("Relu", [2, 3], 13)
    m["add_broadcast"] = model(
        [helper.make_node("Add", ["x", "y"], ["z"], name="/add/Add")],
        [vi("x", F, [2, 3, 4]), vi("y", F, [3, 4])], [vi("z", F, None)], 13)
    m["where_compare"] = model(
        [helper.make_node("Greater", ["x", "y"], ["c"], name="/gt/Greater"),
         helper.make_node("Where", ["c", "x", "y"], ["z"], name="/max/Where")],
        [vi("x", F, [2, 3]), vi("y", F, [2, 3])], [vi("z", F, None)], 13)
    m["clip_opset6"] = unary_model("Clip", [2, 3], 6, min=0.0, max=6.0)
    m["clip_opset11"] = model(
        [const("lo", np.array(0.0, dtype=np.float32)), const("hi", np.array(6.0, dtype=np.float32)),
         helper.make_node("Clip", ["x", "lo", "hi"], ["y"], name="/relu6/Clip")],
        [vi("x", F, [2, 3])], [vi("y", F, None)], 11)
    m["erf_gelu"] = model(
        [const("sqrt2", np.array(1.4142135, dtype=np.float32)),
         const("one", np.array(1.0, dtype=np.float32)),
         const("half", np.array(0.5, dtype=np.float32)),
         helper.make_node("Div", ["x", "sqrt2"], ["d"], name="/gelu/Div"),
         helper.make_node("Erf", ["d"], ["e"], name="/gelu/Erf"),
         helper.make_node("Add", ["e", "one"], ["a"], name="/gelu/Add"),
         helper.make_node("Mul", ["x", "a"], ["m"], name="/gelu/Mul"),
         helper.make_node("Mul", ["m", "half"], ["y"], name="/gelu/Mul_1")],
        [vi("x", F, [2, 8])], [vi("y", F, None)], 13)
    m["hardswish"] = unary_model("HardSwish", [1, 4], 14)
    m["cast_identity_dropout"] = model(
        [helper.make_node("Identity", ["x"], ["i"], name="/id/Identity"),
         helper.make_node("Dropout", ["i"], ["d"], name="/drop/Dropout"),
         helper.make_node("Cast", ["d"], ["y"], name="/cast/Cast", to=TensorProto.FLOAT16)],
        [vi("x", F, [2, 3])], [vi("y", TensorProto.FLOAT16, None)], 13)
    # --- softmax ---
    m["softmax_opset11"] = unary_model("Softmax", [2, 3, 4], 11)
    m["softmax_opset13"] = unary_model("Softmax", [2, 3, 4], 13)
    m["log_softmax"] = unary_model("LogSoftmax", [2, 5], 13)
    # --- pooling and normalization ---
    m["maxpool_ceil"] = unary_model("MaxPool", [1, 2, 8, 8], 13, kernel_shape=[3, 3],
                                    strides=[2, 2], ceil_mode=1)
    m["avgpool_pad"] = unary_model("AveragePool", [1, 2, 8, 8], 13, kernel_shape=[3, 3],
                                   pads=[1, 1, 1, 1], count_include_pad=0)
    m["global_avgpool"] = unary_model("GlobalAveragePool", [1, 3, 5, 5], 13)
    m["batchnorm"] = model(
        [helper.make_node("BatchNormalization", ["x", "s", "b", "mean", "var"], ["y"],
                          name="/bn/BatchNormalization", epsilon=1e-5)],
        [vi("x", F, [1, 3, 4, 4])], [vi("y", F, None)], 13,
        [zeros("s", [3]), zeros("b", [3]), zeros("mean", [3]), zeros("var", [3])])
    m["layernorm"] = model(
        [helper.make_node("LayerNormalization", ["x", "s", "b"], ["y"],
                          name="/ln/LayerNormalization", axis=-1)],
        [vi("x", F, [2, 5, 8])], [vi("y", F, None)], 17, [zeros("s", [8]), zeros("b", [8])])
    # --- slicing and padding ---
    m["slice_opset9"] = unary_model("Slice", [4, 3, 4], 9, starts=[1, 0], ends=[3, 2], axes=[0, 1])
    m["slice_opset10_negative"] = model(
        [helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"], name="/rev/Slice")],
        [vi("x", F, [8, 3])], [vi("y", F, None)], 10,
        [ints("st", [-1]), ints("en", [-(2**63)]), ints("ax", [0]), ints("sp", [-2])])
    m["pad_opset2"] = unary_model("Pad", [1, 3, 4, 4], 10, pads=[0, 0, 1, 2, 0, 0, 1, 2])
    m["pad_opset11"] = model(
        [const("pads", np.array([0, 0, 1, 2, 0, 0, 1, 2], dtype=np.int64)),
         helper.make_node("Pad", ["x", "pads"], ["y"], name="/pad/Pad")],
        [vi("x", F, [1, 3, 4, 4])], [vi("y", F, None)], 11)
    m["pad_reflect"] = model(
        [const("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int64)),
         helper.make_node("Pad", ["x", "pads"], ["y"], name="/pad/Pad", mode="reflect")],
        [vi("x", F, [1, 1, 4, 5])], [vi("y", F, None)], 13)
    m["split_opset11"] = model(
        [helper.make_node("Split", ["x"], ["y0", "y1"], name="/split/Split", axis=1, split=[2, 2])],
        [vi("x", F, [2, 4])], [vi("y0", F, None), vi("y1", F, None)], 11)
    m["split_opset13"] = model(
        [const("sizes", np.array([2, 2], dtype=np.int64)),
         helper.make_node("Split", ["x", "sizes"], ["y0", "y1"], name="/split/Split", axis=1)],
        [vi("x", F, [2, 4])], [vi("y0", F, None), vi("y1", F, None)], 13)
    m["squeeze_unsqueeze_opset11"] = model(
        [helper.make_node("Squeeze", ["x"], ["s"], name="/sq/Squeeze", axes=[1, 3]),
         helper.make_node("Unsqueeze", ["s"], ["y"], name="/unsq/Unsqueeze", axes=[1])],
        [vi("x", F, [3, 1, 4, 1])], [vi("y", F, None)], 11)
    m["squeeze_unsqueeze_opset13"] = model(
        [const("sq_axes", np.array([1, 3], dtype=np.int64)),
         const("unsq_axes", np.array([1], dtype=np.int64)),
         helper.make_node("Squeeze", ["x", "sq_axes"], ["s"], name="/sq/Squeeze"),
         helper.make_node("Unsqueeze", ["s", "unsq_axes"], ["y"], name="/unsq/Unsqueeze")],
        [vi("x", F, [3, 1, 4, 1])], [vi("y", F, None)], 13)
    # --- reductions ---
    m["reducemean_attr"] = unary_model("ReduceMean", [2, 3, 4], 13, axes=[1], keepdims=1)
    m["reducemean_input"] = model(
        [const("axes", np.array([1], dtype=np.int64)),
         helper.make_node("ReduceMean", ["x", "axes"], ["y"], name="/mean/ReduceMean",
                          keepdims=0)],
        [vi("x", F, [2, 3, 4])], [vi("y", F, [2, 4])], 18)
    m["argmax"] = model(
        [helper.make_node("ArgMax", ["x"], ["y"], name="/argmax/ArgMax", axis=1, keepdims=1)],
        [vi("x", F, [2, 5])], [vi("y", I64, None)], 13)
    # --- shape subgraphs and data movement ---
    m["reshape_shape_subgraph"] = model(
        [helper.make_node("Shape", ["x"], ["s"], name="/Shape"),
         const("zero", np.array(0, dtype=np.int64)),
         helper.make_node("Gather", ["s", "zero"], ["b"], name="/Gather", axis=0),
         const("axes0", np.array([0], dtype=np.int64)),
         helper.make_node("Unsqueeze", ["b", "axes0"], ["u"], name="/Unsqueeze"),
         const("minus1", np.array([-1], dtype=np.int64)),
         helper.make_node("Concat", ["u", "minus1"], ["c"], name="/Concat", axis=0),
         helper.make_node("Reshape", ["x", "c"], ["y"], name="/Reshape")],
        [vi("x", F, [2, 3, 4])], [vi("y", F, [2, 12])], 13)
    m["resize_nearest"] = model(
        [const("scales", np.array([1, 1, 2, 2], dtype=np.float32)),
         helper.make_node("Resize", ["x", "", "scales"], ["y"], name="/up/Resize", mode="nearest")],
        [vi("x", F, [1, 2, 4, 6])], [vi("y", F, None)], 13)
    m["resize_linear"] = model(
        [const("sizes", np.array([1, 2, 7, 9], dtype=np.int64)),
         helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], name="/interp/Resize",
                          mode="linear")],
        [vi("x", F, [1, 2, 4, 6])], [vi("y", F, None)], 13)
    m["transpose_concat"] = model(
        [helper.make_node("Transpose", ["x"], ["t"], name="/t/Transpose", perm=[1, 0]),
         helper.make_node("Concat", ["t", "y"], ["z"], name="/cat/Concat", axis=1)],
        [vi("x", F, [3, 4]), vi("y", F, [4, 3])], [vi("z", F, None)], 13)
    m["gather_embedding"] = model(
        [helper.make_node("Gather", ["table", "ids"], ["y"], name="/embed/Gather", axis=0)],
        [vi("ids", I64, [2, 5])], [vi("y", F, None)], 13, [zeros("table", [10, 8])])
    m["expand_tile"] = model(
        [const("shape", np.array([2, 3, 4], dtype=np.int64)),
         helper.make_node("Expand", ["x", "shape"], ["e"], name="/expand/Expand"),
         const("repeats", np.array([1, 1, 2], dtype=np.int64)),
         helper.make_node("Tile", ["e", "repeats"], ["y"], name="/tile/Tile")],
        [vi("x", F, [1, 3, 4])], [vi("y", F, None)], 13)
    # --- dynamic dims, external data, old exporters, node order ---
    m["dynamic_batch"] = model(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="/conv/Conv", pads=[1, 1, 1, 1])],
        [vi("x", F, ["N", 3, 8, 8])], [vi("y", F, ["N", 8, 8, 8])], 13, [zeros("w", [8, 3, 3, 3])])
    w = onnx.TensorProto()
    w.name = "w"
    w.data_type = F
    w.dims.extend([32, 16])
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "external_weight.bin"), ("offset", "0"), ("length", "2048")):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    m["external_weight"] = model(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="/fc/MatMul")],
        [vi("x", F, [1, 32])], [vi("y", F, None)], 13, [w])
    s = onnx.TensorProto()
    s.name = "target_shape"
    s.data_type = I64
    s.dims.extend([2])
    s.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "external_shape.bin"), ("offset", "0"), ("length", "16")):
        entry = s.external_data.add()
        entry.key, entry.value = key, value
    m["external_shape"] = model(
        [helper.make_node("Reshape", ["x", "target_shape"], ["y"], name="/Reshape")],
        [vi("x", F, [2, 6])], [vi("y", F, [3, 4])], 13, [s])
    m["initializer_as_input"] = model(
        [helper.make_node("Add", ["x", "w"], ["y"], name="/add/Add")],
        [vi("x", F, [2, 3]), vi("w", F, [2, 3])], [vi("y", F, None)], 9, [zeros("w", [2, 3])])
    m["unsorted_nodes"] = model(
        [helper.make_node("Neg", ["a"], ["y"], name="neg"),
         helper.make_node("Relu", ["x"], ["a"], name="relu")],
        [vi("x", F, [2, 3])], [vi("y", F, [2, 3])], 13)
    # --- errors ---
    m["cycle"] = model(
        [helper.make_node("Relu", ["b"], ["a"], name="relu_a"),
         helper.make_node("Relu", ["a"], ["b"], name="relu_b"),
         helper.make_node("Add", ["x", "a"], ["y"], name="add")],
        [vi("x", F, [2, 3])], [vi("y", F, None)], 13)
    m["undefined_tensor"] = model(
        [helper.make_node("Add", ["x", "ghost"], ["y"], name="add")],
        [vi("x", F, [2, 3])], [vi("y", F, None)], 13)
    m["unknown_dtype"] = model(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [vi("x", TensorProto.UNDEFINED, [2, 3])], [vi("y", F, None)], 13)
    m["unsupported_op"] = model(
        [helper.make_node("RoiAlign", ["x", "rois", "idx"], ["r"], name="roi"),
         helper.make_node("Relu", ["r"], ["y"], name="relu")],
        [vi("x", F, [1, 2, 8, 8]), vi("rois", F, [3, 4]), vi("idx", I64, [3])],
        [vi("y", F, None)], 13)
    m["opset19"] = unary_model("Relu", [2, 3], 19)
    m["declared_shape_mismatch"] = model(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [vi("x", F, [2, 3])], [vi("y", F, [2, 4])], 13)
    return m


def fill_output_shapes(m):
    """Gives graph outputs declared without a shape ONNX's inferred type (the checker wants one).

    Deliberately broken models (inference fails) keep their outputs as declared.
    """
    try:
        inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True, data_prop=True)
    except Exception:  # pylint: disable=broad-except
        return
    types = {v.name: v.type for v in inferred.graph.output}
    for out in m.graph.output:
        if not out.type.tensor_type.HasField("shape") and out.name in types:
            out.type.CopyFrom(types[out.name])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    for name, m in sorted(build_models().items()):
        fill_output_shapes(m)
        path = os.path.join(args.out_dir, name + ".onnx")
        with open(path, "wb") as f:
            f.write(m.SerializeToString())
        print(f"{name}.onnx: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
