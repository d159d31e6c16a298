"""perfgraph.load: kernels and their tensors (graph/featurize.h KernelTensors) as NumPy arrays."""
import gc

import numpy as np
import pytest

import perfgraph
from conftest import TESTDATA, TINY_CNN, TINY_CNN_SHAPE_FLAG, TINY_CNN_SHAPES, cli_json


def test_constants_match_the_feature_name_tables():
    assert perfgraph.NUM_NODE_FEATURES == len(perfgraph.node_feature_names())
    assert perfgraph.NUM_CONFIG_FEATURES == len(perfgraph.config_feature_names())
    assert perfgraph.NUM_OPCODE_IDS == len(perfgraph.opcode_names())
    assert perfgraph.MAX_TILED_DIMS == 3
    assert perfgraph.opcode_names()[0] == "unknown"
    assert "convolution" in perfgraph.opcode_names()
    assert perfgraph.FEATURE_SCHEMA_VERSION >= 1
    assert perfgraph.CONFIG_FEATURE_SCHEMA_VERSION >= 1


@pytest.mark.parametrize("model,flags,kwargs", [
    (TINY_CNN, TINY_CNN_SHAPE_FLAG, {"input_shapes": TINY_CNN_SHAPES}),
    (TINY_CNN, ["--dim", "N=2"], {"dims": {"N": 2}}),
    (str(TESTDATA / "hlo" / "loops.hlo"), [], {}),
    (str(TESTDATA / "hlo" / "optimized_fusions.hlo"), [], {}),
])
def test_kernels_are_those_perfgraph_inspect_lists(model, flags, kwargs):
    program = perfgraph.load(model, **kwargs)
    report = cli_json("inspect", "--json", *flags, model)
    assert program.name == report["program"]
    assert program.num_instructions == report["instructions"]
    assert program.called_computations == report["called_computations"]
    assert program.path == model
    assert len(program) == len(report["kernels"]) > 0
    for kernel, expected in zip(program.kernels, report["kernels"]):
        assert kernel.name == expected["name"]
        assert kernel.fusion_kind == expected["fusion_kind"]
        assert kernel.num_nodes == expected["num_nodes"]
        assert kernel.root_opcode == expected["root_opcode"]
        assert kernel.output_shape == expected["output_shape"]
        assert kernel.flops == expected["flops"]
        assert kernel.bytes == expected["bytes"]
        assert kernel.transcendentals == expected["transcendentals"]


def test_tensors_have_the_cpp_shapes_dtypes_and_a_consistent_graph(tiny_cnn):
    names = perfgraph.node_feature_names()
    is_root = names.index("is_root")
    num_operands = names.index("num_operands")
    num_users = names.index("num_users")
    opcode_names = perfgraph.opcode_names()
    assert len(tiny_cnn.kernels) == 3
    for kernel in tiny_cnn.kernels:
        n, e = kernel.num_nodes, kernel.num_edges
        assert kernel.node_feat.shape == (n, perfgraph.NUM_NODE_FEATURES)
        assert kernel.node_feat.dtype == np.float32
        assert kernel.node_opcode.shape == (n,)
        assert kernel.node_opcode.dtype == np.int32
        assert kernel.edge_index.shape == (e, 2)
        assert kernel.edge_index.dtype == np.int32
        assert kernel.edge_operand.shape == (e,)
        assert kernel.edge_operand.dtype == np.int32
        assert np.all(np.isfinite(kernel.node_feat))
        assert np.all((kernel.node_opcode > 0) & (kernel.node_opcode < perfgraph.NUM_OPCODE_IDS))
        # Nodes are in topological order: every edge goes from an earlier node to a later one.
        assert np.all(kernel.edge_index[:, 0] < kernel.edge_index[:, 1])
        assert np.all((kernel.edge_index >= 0) & (kernel.edge_index < n))
        # The features agree with the edges: in-degree = operands, out-degree = users.
        in_degree = np.bincount(kernel.edge_index[:, 1], minlength=n)
        out_degree = np.bincount(kernel.edge_index[:, 0], minlength=n)
        np.testing.assert_array_equal(in_degree, kernel.node_feat[:, num_operands])
        np.testing.assert_array_equal(out_degree, kernel.node_feat[:, num_users])
        # Operand positions count 0, 1, ... at each consumer.
        for node in range(n):
            positions = np.sort(kernel.edge_operand[kernel.edge_index[:, 1] == node])
            np.testing.assert_array_equal(positions, np.arange(len(positions)))
        # Exactly one root, whose opcode is the kernel's root opcode.
        roots = np.flatnonzero(kernel.node_feat[:, is_root] == 1)
        assert len(roots) == 1
        assert opcode_names[kernel.node_opcode[roots[0]]] == kernel.root_opcode


def test_the_convolution_kernel_holds_the_convolution_and_most_flops(tiny_cnn):
    conv = [k for k in tiny_cnn.kernels if k.root_opcode == "convolution"]
    assert len(conv) == 1
    assert perfgraph.opcode_names().index("convolution") in conv[0].node_opcode
    # 8 output channels x 16 x 16 pixels x 3 input channels x 3 x 3 taps, 2 FLOP per multiply-add,
    # plus the fused elementwise work.
    assert conv[0].flops >= 2 * 8 * 16 * 16 * 3 * 3 * 3
    assert conv[0].flops == max(k.flops for k in tiny_cnn.kernels)


def test_arrays_are_read_only_views_that_outlive_their_program():
    program = perfgraph.load(TINY_CNN, input_shapes=TINY_CNN_SHAPES)
    kernel = program.kernels[0]
    assert program.kernels[0] is kernel  # the same object, not a copy per access
    view = kernel.node_feat
    copy = np.array(view)
    with pytest.raises(ValueError):
        view[0, 0] = 1.0
    del program, kernel
    gc.collect()
    np.testing.assert_array_equal(view, copy)


def test_config_space_holds_valid_configs_with_their_features(tiny_cnn):
    for kernel in tiny_cnn.kernels:
        space = kernel.config_space
        assert len(space) > 0
        assert space.config_feat.shape == (len(space), perfgraph.NUM_CONFIG_FEATURES)
        assert space.config_feat.dtype == np.float32
        assert np.all(np.isfinite(space.config_feat))
        assert space[space.default_index] == kernel.default_config
        assert space[-1] == space.configs[-1]
        some = space.configs[: min(5, len(space))]
        np.testing.assert_array_equal(kernel.config_feat(some), space.config_feat[: len(some)])
        np.testing.assert_array_equal(kernel.config_feat([str(c) for c in some]),
                                      space.config_feat[: len(some)])
        # Configs are distinct values that round-trip through their text.
        assert len({str(c) for c in space.configs}) == len(space)
        assert all(perfgraph.TileConfig(str(c)) == c for c in some)
        assert len(set(space.configs)) == len(space)


def test_tile_config_fields():
    config = perfgraph.TileConfig("tile=64,8,4;dims=3,2,1;split=16;vec=8;par=2")
    assert config.tile == [64, 8, 4]
    assert config.tiled_dims == [3, 2, 1]
    assert config.reduction_split == 16
    assert config.vector_width == 8
    assert config.parallel_loop == 2
    assert str(config) == "tile=64,8,4;dims=3,2,1;split=16;vec=8;par=2"
    assert eval(repr(config), {"perfgraph": perfgraph}) == config


def test_unsupported_ops_can_be_kept_as_custom_calls():
    program = perfgraph.load(str(TESTDATA / "cli" / "unsupported_op.onnx"), allow_unsupported=True)
    assert program.unsupported_ops == {"Det": ["determinant"]}
    assert "kCustom" in [k.fusion_kind for k in program.kernels]
