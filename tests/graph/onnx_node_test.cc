// ONNX backend node tests (Debian's libonnx-testdata) that perfgraph must compute exactly: a fixed
// list per op family of the ONNX lowering, each imported, fused with fusion::DefaultFusion, compiled
// and run with Halide, and compared with ONNX's expected outputs (tests/graph/onnx_node_cases.h).
// The whole sweep (build/tests/onnx_conformance) gives the README figure; this list keeps the cases
// that pass from regressing. Skips when libonnx-testdata is not installed.
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "target/halide_cpu_target.h"
#include "tests/graph/onnx_node_cases.h"
#include "tests/temp_dir.h"

namespace perfgraph::test {
namespace {

struct Family {
  const char* name;
  std::vector<const char*> cases;
};

const std::vector<Family>& Families() {
  // One passing case per lowered op type (build/tests/onnx_conformance, README), by family.
  static const std::vector<Family>* families = new std::vector<Family>{
      {"literal",
       {"test_cast_DOUBLE_to_FLOAT", "test_castlike_DOUBLE_to_FLOAT", "test_constantofshape_int_zeros",
        "test_identity", "test_dropout_default", "test_range_float_type_positive_delta",
        "test_shape_end_1", "test_size"}},
      {"elementwise",
       {"test_abs", "test_add", "test_add_bcast", "test_and2d", "test_ceil", "test_celu", "test_clip",
        "test_cos", "test_div", "test_elu", "test_equal", "test_erf", "test_exp", "test_floor",
        "test_greater", "test_greater_equal", "test_hardsigmoid", "test_hardswish",
        "test_leakyrelu", "test_less", "test_less_equal", "test_log", "test_max_int8",
        "test_mean_example", "test_min_int8", "test_mod_uint8", "test_mul", "test_neg",
        "test_not_2d", "test_or2d", "test_prelu_example", "test_pow", "test_reciprocal",
        "test_relu", "test_round", "test_selu", "test_sigmoid", "test_sign", "test_sin",
        "test_softplus", "test_softsign", "test_sqrt", "test_sub", "test_sum_example", "test_tan",
        "test_tanh", "test_thresholdedrelu", "test_where_example", "test_xor2d"}},
      {"conv_matmul",
       {"test_conv_with_autopad_same", "test_basic_conv_with_padding",
        "test_conv_with_strides_padding", "test_convtranspose", "test_einsum_sum", "test_gemm_beta",
        "test_gemm_default_no_bias", "test_matmul_2d", "test_matmul_3d"}},
      {"normalisation_pooling",
       {"test_averagepool_2d_ceil", "test_averagepool_2d_default", "test_globalaveragepool",
        "test_globalmaxpool", "test_instancenorm_epsilon", "test_lrn",
        "test_layer_normalization_2d_axis0", "test_logsoftmax_axis_0", "test_maxpool_2d_ceil",
        "test_maxpool_2d_default", "test_softmax_axis_0", "test_softmax_axis_1"}},
      {"shape_data_movement",
       {"test_concat_1d_axis_0", "test_concat_2d_axis_0", "test_depthtospace_example",
        "test_expand_dim_changed", "test_flatten_axis0", "test_constant_pad",
        "test_reshape_one_dim", "test_reshape_reordered_all_dims", "test_slice",
        "test_spacetodepth", "test_split_equal_parts_1d", "test_squeeze", "test_tile",
        "test_transpose_default", "test_unsqueeze_axis_0"}},
      {"gather_scatter", {"test_gather_0", "test_gather_elements_0"}},
      {"reductions",
       {"test_cumsum_1d", "test_reduce_l1_keep_dims_random", "test_reduce_l2_keep_dims_random",
        "test_reduce_log_sum", "test_reduce_log_sum_exp_keepdims_random",
        "test_reduce_max_keepdims_random", "test_reduce_mean_keepdims_random",
        "test_reduce_min_keepdims_random", "test_reduce_prod_keepdims_random",
        "test_reduce_sum_keepdims_random", "test_reduce_sum_square_keepdims_random",
        "test_reduce_sum_default_axes_keepdims_example"}},
  };
  return *families;
}

void PrintTo(const Family& family, std::ostream* os) { *os << family.name; }

class OnnxNodeTest : public ::testing::TestWithParam<Family> {};

TEST_P(OnnxNodeTest, LoweredProgramComputesOnnxsExpectedOutputs) {
  if (!std::filesystem::is_directory(kOnnxNodeTestDir)) {
    GTEST_SKIP() << kOnnxNodeTestDir << " is absent (libonnx-testdata)";
  }
  absl::StatusOr<target::HalideCpuTarget> target = target::HalideCpuTarget::Create({1, 1});
  ASSERT_TRUE(target.ok()) << target.status();
  for (const char* name : GetParam().cases) {
    const NodeCaseResult r =
        RunNodeCase(*target, std::string(kOnnxNodeTestDir) + "/" + name);
    EXPECT_EQ(r.status, NodeCaseStatus::kPass)
        << name << ": " << NodeCaseStatusName(r.status) << ": " << r.detail;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, OnnxNodeTest, ::testing::ValuesIn(Families()),
                         [](const ::testing::TestParamInfo<Family>& info) {
                           return std::string(info.param.name);
                         });

// The harness itself must be able to fail: a case whose expected output is wrong for the model.
TEST(OnnxNodeHarnessTest, WrongExpectedOutputIsAMismatch) {
  const std::string source = std::string(kOnnxNodeTestDir) + "/test_abs";
  if (!std::filesystem::is_directory(source)) GTEST_SKIP() << source << " is absent";
  const std::filesystem::path dir = perfgraph::testing::ProcessTempDir() / "perfgraph_wrong_abs";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "test_data_set_0");
  std::filesystem::copy_file(source + "/model.onnx", dir / "model.onnx");
  std::filesystem::copy_file(source + "/test_data_set_0/input_0.pb",
                             dir / "test_data_set_0/input_0.pb");
  // Expect the input itself: abs(x) differs from x wherever x < 0 (the case's input has such x).
  std::filesystem::copy_file(source + "/test_data_set_0/input_0.pb",
                             dir / "test_data_set_0/output_0.pb");
  absl::StatusOr<target::HalideCpuTarget> target = target::HalideCpuTarget::Create({1, 1});
  ASSERT_TRUE(target.ok()) << target.status();
  const NodeCaseResult r = RunNodeCase(*target, dir.string());
  EXPECT_EQ(r.status, NodeCaseStatus::kMismatch) << r.detail;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace perfgraph::test
