// Correctness of target::HalideCpuTarget: every lowered op on small shapes against LibTorch's CPU ops
// (an independent implementation), fused kernels, tiling invariance and error handling.
#include "target/halide_cpu_target.h"

#include <ATen/ATen.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/graph/kernel_builder.h"
#include "tests/status_matchers.h"
#include "tiling/tile_config.h"

namespace perfgraph::target {
namespace {

using graph::Attributes;
using graph::ComparisonDirection;
using graph::ConvolutionDimensionNumbers;
using graph::DotDimensionNumbers;
using graph::HloOpcode;
using graph::Kernel;
using graph::PrimitiveType;
using graph::Shape;
using graph::WindowDimension;
using perfgraph::testing::StatusIs;
using ::testing::HasSubstr;

constexpr double kInf = std::numeric_limits<double>::infinity();

using test::KernelBuilder;

Attributes Dims(std::vector<int64_t> dims) {
  Attributes a;
  a.dimensions = std::move(dims);
  return a;
}

WindowDimension Win(int64_t size, int64_t stride = 1, int64_t pad_low = 0, int64_t pad_high = 0,
                    int64_t window_dilation = 1, int64_t base_dilation = 1, bool reversal = false) {
  WindowDimension w;
  w.size = size;
  w.stride = stride;
  w.padding_low = pad_low;
  w.padding_high = pad_high;
  w.window_dilation = window_dilation;
  w.base_dilation = base_dilation;
  w.window_reversal = reversal;
  return w;
}

Attributes ConvAttrs(std::vector<WindowDimension> window, int64_t groups = 1,
                     ConvolutionDimensionNumbers dnums = ConvolutionDimensionNumbers::Nchw(2)) {
  Attributes a;
  a.window = std::move(window);
  a.feature_group_count = groups;
  a.convolution_dimension_numbers = std::move(dnums);
  return a;
}

Attributes DotAttrs(std::vector<int64_t> lhs_batch, std::vector<int64_t> rhs_batch,
                    std::vector<int64_t> lhs_contract, std::vector<int64_t> rhs_contract) {
  Attributes a;
  DotDimensionNumbers d;
  d.lhs_batch_dimensions = std::move(lhs_batch);
  d.rhs_batch_dimensions = std::move(rhs_batch);
  d.lhs_contracting_dimensions = std::move(lhs_contract);
  d.rhs_contracting_dimensions = std::move(rhs_contract);
  a.dot_dimension_numbers = d;
  return a;
}

Attributes ReduceAttrs(std::vector<int64_t> dims, HloOpcode computation) {
  Attributes a = Dims(std::move(dims));
  a.reduce_computation = computation;
  return a;
}

// Input data of a test case.
enum class Data {
  kSigned,    // uniform in [-3, 3]
  kPositive,  // uniform in [0.1, 3] (log, sqrt, divisor, power base)
  kInteger,   // integers in [-9, 9], excluding 0 (integer division)
  kBool,      // 0 or 1
  kIndex,     // integers in [-3, 2]: valid, partly negative gather indices for axes of size >= 3
};

std::vector<std::vector<float>> MakeInputs(const Kernel& kernel, Data data, uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<std::vector<float>> inputs;
  for (const graph::Instruction& inst : kernel.instructions) {
    if (inst.opcode != HloOpcode::kParameter) continue;
    std::vector<float> values(inst.shape.NumElements());
    for (float& v : values) {
      switch (data) {
        case Data::kSigned: v = std::uniform_real_distribution<float>(-3, 3)(gen); break;
        case Data::kPositive: v = std::uniform_real_distribution<float>(0.1f, 3)(gen); break;
        case Data::kInteger: {
          int k = std::uniform_int_distribution<int>(1, 9)(gen);
          v = static_cast<float>(std::bernoulli_distribution(0.5)(gen) ? k : -k);
          break;
        }
        case Data::kBool: v = std::bernoulli_distribution(0.5)(gen) ? 1.0f : 0.0f; break;
        case Data::kIndex: v = static_cast<float>(std::uniform_int_distribution<int>(-3, 2)(gen)); break;
      }
    }
    inputs.push_back(std::move(values));
  }
  return inputs;
}

std::vector<at::Tensor> ToTensors(const Kernel& kernel, const std::vector<std::vector<float>>& data) {
  std::vector<at::Tensor> tensors;
  int k = 0;
  for (const graph::Instruction& inst : kernel.instructions) {
    if (inst.opcode != HloOpcode::kParameter) continue;
    std::vector<float>& values = const_cast<std::vector<float>&>(data[k++]);
    tensors.push_back(at::from_blob(values.data(), inst.shape.dims, at::kFloat).clone());
  }
  return tensors;
}

// |actual - expected| <= atol + rtol * |expected| elementwise (NaN matches NaN).
void ExpectClose(const std::vector<float>& actual, const at::Tensor& expected_tensor,
                 const std::vector<int64_t>& dims, double rtol, double atol) {
  at::Tensor expected = expected_tensor.to(at::kFloat).contiguous();
  ASSERT_EQ(expected.sizes().vec(), dims);
  ASSERT_EQ(static_cast<int64_t>(actual.size()), expected.numel());
  const float* e = expected.data_ptr<float>();
  int bad = 0;
  double worst = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(e[i]) && std::isnan(actual[i])) continue;
    const double err = std::abs(static_cast<double>(actual[i]) - e[i]);
    worst = std::max(worst, err);
    if (!(err <= atol + rtol * std::abs(e[i]))) {
      if (++bad <= 5) ADD_FAILURE() << "element " << i << ": halide " << actual[i] << ", torch " << e[i];
    }
  }
  EXPECT_EQ(bad, 0) << "max abs error " << worst;
}

const HalideCpuTarget& Target() {
  static const HalideCpuTarget* target = [] {
    HalideCpuTargetOptions options;
    options.num_threads = 2;
    options.seed = 7;
    return new HalideCpuTarget(HalideCpuTarget::Create(options).value());
  }();
  return *target;
}

// One op test: a kernel, its LibTorch reference and the tolerance.
struct OpCase {
  std::string name;
  std::function<Kernel()> build;
  std::function<at::Tensor(const std::vector<at::Tensor>&)> reference;
  Data data = Data::kSigned;
  // Tolerances. Default (f32 arithmetic in a different order than LibTorch, sums of <= ~100 products
  // of values <= 3): 1e-4 relative plus 1e-4 absolute.
  double rtol = 1e-4;
  double atol = 1e-4;
};

// ---- Convolutions ----
std::vector<OpCase> ConvCases() {
  std::vector<OpCase> cases;
  cases.push_back({"Conv3x3Pad1", [] {
    KernelBuilder b("conv");
    int x = b.Parameter({2, 3, 8, 8}), w = b.Parameter({4, 3, 3, 3});
    b.Add(HloOpcode::kConvolution, {2, 4, 8, 8}, {x, w}, ConvAttrs({Win(3, 1, 1, 1), Win(3, 1, 1, 1)}));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return at::conv2d(t[0], t[1], {}, 1, 1); }});
  cases.push_back({"Conv3x3Stride2Pad1", [] {
    KernelBuilder b("conv");
    int x = b.Parameter({1, 3, 9, 9}), w = b.Parameter({5, 3, 3, 3});
    b.Add(HloOpcode::kConvolution, {1, 5, 5, 5}, {x, w}, ConvAttrs({Win(3, 2, 1, 1), Win(3, 2, 1, 1)}));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return at::conv2d(t[0], t[1], {}, 2, 1); }});
  cases.push_back({"Conv3x3Dilation2", [] {
    KernelBuilder b("conv");
    int x = b.Parameter({1, 2, 10, 10}), w = b.Parameter({3, 2, 3, 3});
    b.Add(HloOpcode::kConvolution, {1, 3, 10, 10}, {x, w},
          ConvAttrs({Win(3, 1, 2, 2, 2), Win(3, 1, 2, 2, 2)}));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return at::conv2d(t[0], t[1], {}, 1, 2, 2); }});
  cases.push_back({"ConvGroups2", [] {
    KernelBuilder b("conv");
    int x = b.Parameter({1, 4, 6, 6}), w = b.Parameter({6, 2, 3, 3});
    b.Add(HloOpcode::kConvolution, {1, 6, 6, 6}, {x, w},
          ConvAttrs({Win(3, 1, 1, 1), Win(3, 1, 1, 1)}, 2));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return at::conv2d(t[0], t[1], {}, 1, 1, 1, 2); }});
  cases.push_back({"ConvDepthwiseMultiplier2Stride2", [] {
    KernelBuilder b("conv");
    int x = b.Parameter({1, 4, 7, 7}), w = b.Parameter({8, 1, 3, 3});
    b.Add(HloOpcode::kConvolution, {1, 8, 4, 4}, {x, w},
          ConvAttrs({Win(3, 2, 1, 1), Win(3, 2, 1, 1)}, 4));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return at::conv2d(t[0], t[1], {}, 2, 1, 1, 4); }});
  cases.push_back({"ConvAsymmetricPadding", [] {
    KernelBuilder b("conv");
    int x = b.Parameter({1, 2, 5, 5}), w = b.Parameter({2, 2, 3, 3});
    b.Add(HloOpcode::kConvolution, {1, 2, 5, 5}, {x, w}, ConvAttrs({Win(3, 1, 0, 2), Win(3, 1, 1, 1)}));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) {
    return at::conv2d(at::constant_pad_nd(t[0], {1, 1, 0, 2}), t[1]);
  }});
  // Transposed convolution = lhs (base) dilation by the stride, padding k-1-p, flipped kernel with
  // input/output feature dims swapped (LibTorch's weight is [Cin, Cout, kh, kw]).
  cases.push_back({"ConvTransposedBaseDilation2", [] {
    KernelBuilder b("conv");
    int x = b.Parameter({1, 3, 4, 4}), w = b.Parameter({3, 2, 3, 3});
    ConvolutionDimensionNumbers dn = ConvolutionDimensionNumbers::Nchw(2);
    dn.kernel_input_feature_dimension = 0;
    dn.kernel_output_feature_dimension = 1;
    b.Add(HloOpcode::kConvolution, {1, 2, 7, 7}, {x, w},
          ConvAttrs({Win(3, 1, 1, 1, 1, 2, true), Win(3, 1, 1, 1, 1, 2, true)}, 1, dn));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) {
    return at::conv_transpose2d(t[0], t[1], {}, /*stride=*/2, /*padding=*/1);
  }});
  // NHWC input, HWIO kernel, NHWC output (XLA dim labels b01f_01io->b01f).
  cases.push_back({"ConvNhwcHwioLayout", [] {
    KernelBuilder b("conv");
    int x = b.Parameter({1, 6, 6, 3}), w = b.Parameter({3, 3, 3, 4});
    ConvolutionDimensionNumbers dn;
    dn.input_batch_dimension = 0;
    dn.input_feature_dimension = 3;
    dn.input_spatial_dimensions = {1, 2};
    dn.kernel_spatial_dimensions = {0, 1};
    dn.kernel_input_feature_dimension = 2;
    dn.kernel_output_feature_dimension = 3;
    dn.output_batch_dimension = 0;
    dn.output_feature_dimension = 3;
    dn.output_spatial_dimensions = {1, 2};
    b.Add(HloOpcode::kConvolution, {1, 6, 6, 4}, {x, w},
          ConvAttrs({Win(3, 1, 1, 1), Win(3, 1, 1, 1)}, 1, dn));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) {
    return at::conv2d(t[0].permute({0, 3, 1, 2}), t[1].permute({3, 2, 0, 1}), {}, 1, 1)
        .permute({0, 2, 3, 1});
  }});
  return cases;
}

// ---- Dots ----
std::vector<OpCase> DotCases() {
  std::vector<OpCase> cases;
  cases.push_back({"DotMatmul", [] {
    KernelBuilder b("dot");
    int x = b.Parameter({5, 7}), y = b.Parameter({7, 6});
    b.Add(HloOpcode::kDot, {5, 6}, {x, y}, DotAttrs({}, {}, {1}, {0}));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return at::matmul(t[0], t[1]); }});
  cases.push_back({"DotBatchedBmm", [] {
    KernelBuilder b("dot");
    int x = b.Parameter({3, 4, 5}), y = b.Parameter({3, 5, 6});
    b.Add(HloOpcode::kDot, {3, 4, 6}, {x, y}, DotAttrs({0}, {0}, {2}, {1}));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return at::bmm(t[0], t[1]); }});
  cases.push_back({"DotRhsTransposed", [] {
    KernelBuilder b("dot");
    int x = b.Parameter({4, 8}), y = b.Parameter({6, 8});
    b.Add(HloOpcode::kDot, {4, 6}, {x, y}, DotAttrs({}, {}, {1}, {1}));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return at::matmul(t[0], t[1].t()); }});
  // Batch dim in the middle of lhs, contracting dims first/last: out[b, m, n] = sum_k l[k,b,m] r[b,n,k].
  cases.push_back({"DotGeneralDimensionNumbers", [] {
    KernelBuilder b("dot");
    int x = b.Parameter({5, 2, 3}), y = b.Parameter({2, 4, 5});
    b.Add(HloOpcode::kDot, {2, 3, 4}, {x, y}, DotAttrs({1}, {0}, {0}, {2}));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) {
    return at::bmm(t[0].permute({1, 2, 0}), t[1].permute({0, 2, 1}));
  }});
  return cases;
}

// ---- Reductions ----
std::vector<OpCase> ReduceCases() {
  std::vector<OpCase> cases;
  struct R {
    std::string name;
    std::vector<int64_t> dims;
    HloOpcode op;
    double init;
    std::function<at::Tensor(const at::Tensor&)> ref;
  };
  const std::vector<R> reductions = {
      {"ReduceSumAxis0", {0}, HloOpcode::kAdd, 0, [](const at::Tensor& x) { return x.sum({0}); }},
      {"ReduceSumAxis1", {1}, HloOpcode::kAdd, 0, [](const at::Tensor& x) { return x.sum({1}); }},
      {"ReduceSumAxis2", {2}, HloOpcode::kAdd, 0, [](const at::Tensor& x) { return x.sum({2}); }},
      {"ReduceMaxAxis1", {1}, HloOpcode::kMaximum, -kInf,
       [](const at::Tensor& x) { return x.amax({1}); }},
      {"ReduceMinAxes0And2", {0, 2}, HloOpcode::kMinimum, kInf,
       [](const at::Tensor& x) { return x.amin({0, 2}); }},
      {"ReduceProductAxis2", {2}, HloOpcode::kMultiply, 1,
       [](const at::Tensor& x) { return x.prod(2); }},
      {"ReduceSumAllAxes", {0, 1, 2}, HloOpcode::kAdd, 0, [](const at::Tensor& x) { return x.sum(); }},
  };
  for (const R& r : reductions) {
    cases.push_back({r.name, [r] {
      KernelBuilder b("reduce");
      int x = b.Parameter({3, 5, 7});
      int init = b.Constant(r.init);
      std::vector<int64_t> out;
      for (int d = 0; d < 3; ++d) {
        if (std::find(r.dims.begin(), r.dims.end(), d) == r.dims.end()) out.push_back(b.dims(x)[d]);
      }
      b.Add(HloOpcode::kReduce, out, {x, init}, ReduceAttrs(r.dims, r.op));
      return b.Build();
    }, [r](const std::vector<at::Tensor>& t) { return r.ref(t[0]); }});
  }
  auto pool_attrs = [](std::vector<WindowDimension> w, HloOpcode op) {
    Attributes a;
    a.window = std::move(w);
    a.reduce_computation = op;
    return a;
  };
  cases.push_back({"ReduceWindowMaxPool3x3Stride2Pad1", [pool_attrs] {
    KernelBuilder b("pool");
    int x = b.Parameter({1, 2, 9, 9});
    int init = b.Constant(-kInf);
    b.Add(HloOpcode::kReduceWindow, {1, 2, 5, 5}, {x, init},
          pool_attrs({Win(1), Win(1), Win(3, 2, 1, 1), Win(3, 2, 1, 1)}, HloOpcode::kMaximum));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return at::max_pool2d(t[0], {3, 3}, {2, 2}, {1, 1}); }});
  // Average pooling as ONNX lowers it: reduce-window add, then divide by the window size (padding
  // counted, LibTorch's count_include_pad=true).
  cases.push_back({"ReduceWindowAvgPool3x3Stride2Pad1", [pool_attrs] {
    KernelBuilder b("pool");
    int x = b.Parameter({1, 2, 9, 9});
    int init = b.Constant(0);
    int sum = b.Add(HloOpcode::kReduceWindow, {1, 2, 5, 5}, {x, init},
                    pool_attrs({Win(1), Win(1), Win(3, 2, 1, 1), Win(3, 2, 1, 1)}, HloOpcode::kAdd));
    int nine = b.Constant(9, {1, 2, 5, 5});
    b.Add(HloOpcode::kDivide, {1, 2, 5, 5}, {sum, nine});
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) {
    return at::avg_pool2d(t[0], {3, 3}, {2, 2}, {1, 1}, false, true);
  }});
  cases.push_back({"ReduceWindowMaxPoolDilation2", [pool_attrs] {
    KernelBuilder b("pool");
    int x = b.Parameter({1, 1, 6, 6});
    int init = b.Constant(-kInf);
    b.Add(HloOpcode::kReduceWindow, {1, 1, 4, 4}, {x, init},
          pool_attrs({Win(1), Win(1), Win(2, 1, 0, 0, 2), Win(2, 1, 0, 0, 2)}, HloOpcode::kMaximum));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) {
    return at::max_pool2d(t[0], {2, 2}, {1, 1}, {0, 0}, {2, 2});
  }});
  return cases;
}

// ---- Data movement ----
std::vector<OpCase> DataMovementCases() {
  std::vector<OpCase> cases;
  cases.push_back({"TransposePermute0231", [] {
    KernelBuilder b("transpose");
    int x = b.Parameter({2, 3, 4, 5});
    b.Add(HloOpcode::kTranspose, {2, 4, 5, 3}, {x}, Dims({0, 2, 3, 1}));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return t[0].permute({0, 2, 3, 1}); }, Data::kSigned, 0, 0});
  cases.push_back({"SliceStrided", [] {
    KernelBuilder b("slice");
    int x = b.Parameter({6, 9});
    Attributes a;
    a.slice = {{1, 6, 2}, {0, 9, 3}};
    b.Add(HloOpcode::kSlice, {3, 3}, {x}, a);
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return t[0].slice(0, 1, 6, 2).slice(1, 0, 9, 3); },
      Data::kSigned, 0, 0});
  cases.push_back({"ConcatenateThreeOperands", [] {
    KernelBuilder b("concat");
    int x = b.Parameter({2, 3}), y = b.Parameter({2, 4}), z = b.Parameter({2, 1});
    b.Add(HloOpcode::kConcatenate, {2, 8}, {x, y, z}, Dims({1}));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return at::cat({t[0], t[1], t[2]}, 1); },
      Data::kSigned, 0, 0});
  cases.push_back({"PadEdgeWithNegativeCrop", [] {
    KernelBuilder b("pad");
    int x = b.Parameter({4, 5});
    int v = b.Constant(0.5);
    Attributes a;
    a.padding = {{1, -1, 0}, {-2, 3, 0}};
    b.Add(HloOpcode::kPad, {4, 6}, {x, v}, a);
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return at::constant_pad_nd(t[0], {-2, 3, 1, -1}, 0.5); },
      Data::kSigned, 0, 0});
  cases.push_back({"PadInterior", [] {
    KernelBuilder b("pad");
    int x = b.Parameter({3, 4});
    int v = b.Constant(0.5);
    Attributes a;
    a.padding = {{1, 2, 1}, {0, 1, 2}};
    b.Add(HloOpcode::kPad, {8, 11}, {x, v}, a);
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) {
    at::Tensor out = at::full({8, 11}, 0.5, at::kFloat);
    out.slice(0, 1, 6, 2).slice(1, 0, 10, 3).copy_(t[0]);
    return out;
  }, Data::kSigned, 0, 0});
  cases.push_back({"ReverseDims0And2", [] {
    KernelBuilder b("reverse");
    int x = b.Parameter({3, 4, 5});
    b.Add(HloOpcode::kReverse, {3, 4, 5}, {x}, Dims({0, 2}));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return t[0].flip({0, 2}); }, Data::kSigned, 0, 0});
  cases.push_back({"BroadcastChannelVector", [] {
    KernelBuilder b("broadcast");
    int x = b.Parameter({3});
    b.Add(HloOpcode::kBroadcast, {2, 3, 4, 5}, {x}, Dims({1}));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return t[0].view({1, 3, 1, 1}).expand({2, 3, 4, 5}); },
      Data::kSigned, 0, 0});
  cases.push_back({"ReshapeRegroupsDims", [] {
    KernelBuilder b("reshape");
    int x = b.Parameter({2, 3, 4});
    b.Add(HloOpcode::kReshape, {4, 6}, {x});
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return t[0].reshape({4, 6}); }, Data::kSigned, 0, 0});
  cases.push_back({"ReshapeUnitDims", [] {
    KernelBuilder b("reshape");
    int x = b.Parameter({3, 1, 4});
    b.Add(HloOpcode::kReshape, {1, 3, 4, 1}, {x});
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return t[0].reshape({1, 3, 4, 1}); }, Data::kSigned, 0, 0});
  // ONNX Gather on axis 1 with 2-D, partly negative indices (counted from the end).
  OpCase gather{"GatherAxis1NegativeIndices", [] {
    KernelBuilder b("gather");
    int x = b.Parameter({4, 5}), ind = b.Parameter({2, 3}, PrimitiveType::kS32);
    b.Add(HloOpcode::kGather, {4, 2, 3}, {x, ind}, Dims({1}));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) {
    at::Tensor ind = at::where(t[1] < 0, t[1] + 5, t[1]).to(at::kLong).flatten();
    return t[0].index_select(1, ind).view({4, 2, 3});
  }, Data::kIndex, 0, 0};
  cases.push_back(gather);
  // ONNX GatherElements on axis 0.
  OpCase gather_elements{"GatherElementsAxis0", [] {
    KernelBuilder b("gather");
    int x = b.Parameter({3, 4}), ind = b.Parameter({3, 4}, PrimitiveType::kS32);
    b.Add(HloOpcode::kGather, {3, 4}, {x, ind}, Dims({0}));
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) {
    return at::gather(t[0], 0, at::where(t[1] < 0, t[1] + 3, t[1]).to(at::kLong));
  }, Data::kIndex, 0, 0};
  cases.push_back(gather_elements);
  cases.push_back({"IotaDim1", [] {
    KernelBuilder b("iota");
    b.Add(HloOpcode::kIota, {3, 4}, {}, Dims({1}));
    return b.Build();
  }, [](const std::vector<at::Tensor>&) {
    return at::arange(4, at::kFloat).view({1, 4}).expand({3, 4});
  }, Data::kSigned, 0, 0});
  return cases;
}

// ---- Elementwise ----
OpCase Unary(std::string name, HloOpcode op, std::function<at::Tensor(const at::Tensor&)> ref,
             Data data = Data::kSigned) {
  // Transcendentals come from libm in Halide and LibTorch's vectorised (SLEEF) kernels: a few ulp.
  return {name, [op] {
    KernelBuilder b("unary");
    int x = b.Parameter({4, 6});
    b.Add(op, {4, 6}, {x});
    return b.Build();
  }, [ref](const std::vector<at::Tensor>& t) { return ref(t[0]); }, data, 1e-5, 1e-6};
}

OpCase Binary(std::string name, HloOpcode op,
              std::function<at::Tensor(const at::Tensor&, const at::Tensor&)> ref,
              Data data = Data::kSigned, PrimitiveType type = PrimitiveType::kF32) {
  return {name, [op, type] {
    KernelBuilder b("binary");
    int x = b.Parameter({4, 6}, type), y = b.Parameter({4, 6}, type);
    b.Add(op, {4, 6}, {x, y}, {}, type);
    return b.Build();
  }, [ref](const std::vector<at::Tensor>& t) { return ref(t[0], t[1]); }, data, 1e-5, 1e-6};
}

std::vector<OpCase> ElementwiseCases() {
  std::vector<OpCase> cases = {
      Unary("Abs", HloOpcode::kAbs, [](const at::Tensor& x) { return x.abs(); }),
      Unary("Negate", HloOpcode::kNegate, [](const at::Tensor& x) { return -x; }),
      Unary("Exponential", HloOpcode::kExponential, [](const at::Tensor& x) { return x.exp(); }),
      Unary("ExponentialMinusOne", HloOpcode::kExponentialMinusOne,
            [](const at::Tensor& x) { return x.expm1(); }),
      Unary("Log", HloOpcode::kLog, [](const at::Tensor& x) { return x.log(); }, Data::kPositive),
      Unary("LogPlusOne", HloOpcode::kLogPlusOne, [](const at::Tensor& x) { return x.log1p(); },
            Data::kPositive),
      Unary("Logistic", HloOpcode::kLogistic, [](const at::Tensor& x) { return x.sigmoid(); }),
      Unary("Tanh", HloOpcode::kTanh, [](const at::Tensor& x) { return x.tanh(); }),
      Unary("Sqrt", HloOpcode::kSqrt, [](const at::Tensor& x) { return x.sqrt(); }, Data::kPositive),
      Unary("Rsqrt", HloOpcode::kRsqrt, [](const at::Tensor& x) { return x.rsqrt(); },
            Data::kPositive),
      Unary("Sine", HloOpcode::kSine, [](const at::Tensor& x) { return x.sin(); }),
      Unary("Cosine", HloOpcode::kCosine, [](const at::Tensor& x) { return x.cos(); }),
      Unary("Floor", HloOpcode::kFloor, [](const at::Tensor& x) { return x.floor(); }),
      Unary("Ceil", HloOpcode::kCeil, [](const at::Tensor& x) { return x.ceil(); }),
      Unary("Sign", HloOpcode::kSign, [](const at::Tensor& x) { return x.sign(); }),
      Unary("RoundNearestEven", HloOpcode::kRoundNearestEven,
            [](const at::Tensor& x) { return x.round(); }),
      Binary("Add", HloOpcode::kAdd, [](const at::Tensor& a, const at::Tensor& b) { return a + b; }),
      Binary("Subtract", HloOpcode::kSubtract,
             [](const at::Tensor& a, const at::Tensor& b) { return a - b; }),
      Binary("Multiply", HloOpcode::kMultiply,
             [](const at::Tensor& a, const at::Tensor& b) { return a * b; }),
      Binary("Divide", HloOpcode::kDivide,
             [](const at::Tensor& a, const at::Tensor& b) { return a / b; }, Data::kPositive),
      Binary("Maximum", HloOpcode::kMaximum,
             [](const at::Tensor& a, const at::Tensor& b) { return at::maximum(a, b); }),
      Binary("Minimum", HloOpcode::kMinimum,
             [](const at::Tensor& a, const at::Tensor& b) { return at::minimum(a, b); }),
      Binary("Power", HloOpcode::kPower,
             [](const at::Tensor& a, const at::Tensor& b) { return at::pow(a, b); }, Data::kPositive),
      Binary("Atan2", HloOpcode::kAtan2,
             [](const at::Tensor& a, const at::Tensor& b) { return at::atan2(a, b); }),
      Binary("RemainderFloat", HloOpcode::kRemainder,
             [](const at::Tensor& a, const at::Tensor& b) { return at::fmod(a, b); }),
      // XLA integer division and remainder truncate toward zero.
      Binary("DivideIntegerTruncates", HloOpcode::kDivide,
             [](const at::Tensor& a, const at::Tensor& b) { return at::div(a, b, "trunc"); },
             Data::kInteger, PrimitiveType::kS32),
      Binary("RemainderIntegerTruncates", HloOpcode::kRemainder,
             [](const at::Tensor& a, const at::Tensor& b) { return at::fmod(a, b); },
             Data::kInteger, PrimitiveType::kS32),
      Binary("AndPred", HloOpcode::kAnd,
             [](const at::Tensor& a, const at::Tensor& b) { return at::logical_and(a, b); },
             Data::kBool, PrimitiveType::kPred),
      Binary("OrPred", HloOpcode::kOr,
             [](const at::Tensor& a, const at::Tensor& b) { return at::logical_or(a, b); },
             Data::kBool, PrimitiveType::kPred),
  };
  cases.push_back({"CompareGtThenSelect", [] {
    KernelBuilder b("select");
    int x = b.Parameter({4, 6}), y = b.Parameter({4, 6});
    Attributes gt;
    gt.comparison_direction = ComparisonDirection::kGt;
    int c = b.Add(HloOpcode::kCompare, {4, 6}, {x, y}, gt, PrimitiveType::kPred);
    int two = b.Constant(2, {4, 6});
    int y2 = b.Add(HloOpcode::kMultiply, {4, 6}, {y, two});
    b.Add(HloOpcode::kSelect, {4, 6}, {c, x, y2});
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return at::where(t[0] > t[1], t[0], t[1] * 2); },
      Data::kSigned, 0, 0});
  cases.push_back({"ClampWithScalarBounds", [] {
    KernelBuilder b("clamp");
    int x = b.Parameter({4, 6});
    int lo = b.Constant(-0.5), hi = b.Constant(1.5);
    b.Add(HloOpcode::kClamp, {4, 6}, {lo, x, hi});
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return t[0].clamp(-0.5, 1.5); }, Data::kSigned, 0, 0});
  cases.push_back({"ConvertF32ToS32Truncates", [] {
    KernelBuilder b("convert");
    int x = b.Parameter({4, 6});
    b.Add(HloOpcode::kConvert, {4, 6}, {x}, {}, PrimitiveType::kS32);
    return b.Build();
  }, [](const std::vector<at::Tensor>& t) { return t[0].to(at::kInt); }, Data::kSigned, 0, 0});
  return cases;
}

// ---- Fused kernels ----
Kernel ConvBiasReluKernel() {
  KernelBuilder b("conv_bias_relu", graph::FusionKind::kOutput);
  int x = b.Parameter({1, 3, 10, 12}), w = b.Parameter({8, 3, 3, 3}), bias = b.Parameter({8});
  int conv = b.Add(HloOpcode::kConvolution, {1, 8, 10, 12}, {x, w},
                   ConvAttrs({Win(3, 1, 1, 1), Win(3, 1, 1, 1)}));
  int bb = b.Add(HloOpcode::kBroadcast, {1, 8, 10, 12}, {bias}, Dims({1}));
  int sum = b.Add(HloOpcode::kAdd, {1, 8, 10, 12}, {conv, bb});
  int zero = b.Constant(0, {1, 8, 10, 12});
  b.Add(HloOpcode::kMaximum, {1, 8, 10, 12}, {sum, zero});
  return b.Build();
}

// Softmax over the last axis: two reductions inside one kernel, the second reading the first.
Kernel SoftmaxKernel() {
  KernelBuilder b("softmax", graph::FusionKind::kInput);
  int x = b.Parameter({4, 10});
  int ninf = b.Constant(-kInf), zero = b.Constant(0);
  int mx = b.Add(HloOpcode::kReduce, {4}, {x, ninf}, ReduceAttrs({1}, HloOpcode::kMaximum));
  int mxb = b.Add(HloOpcode::kBroadcast, {4, 10}, {mx}, Dims({0}));
  int sub = b.Add(HloOpcode::kSubtract, {4, 10}, {x, mxb});
  int e = b.Add(HloOpcode::kExponential, {4, 10}, {sub});
  int s = b.Add(HloOpcode::kReduce, {4}, {e, zero}, ReduceAttrs({1}, HloOpcode::kAdd));
  int sb = b.Add(HloOpcode::kBroadcast, {4, 10}, {s}, Dims({0}));
  b.Add(HloOpcode::kDivide, {4, 10}, {e, sb});
  return b.Build();
}

Kernel BatchedDotKernel() {
  KernelBuilder b("bmm", graph::FusionKind::kOutput);
  int x = b.Parameter({2, 12, 40}), y = b.Parameter({2, 40, 20});
  b.Add(HloOpcode::kDot, {2, 12, 20}, {x, y}, DotAttrs({0}, {0}, {2}, {1}));
  return b.Build();
}

// Max pooling 3x3 stride 2 pad 1 with a ragged output (7x7) and an odd channel count.
Kernel MaxPoolKernel() {
  KernelBuilder b("max_pool", graph::FusionKind::kInput);
  int x = b.Parameter({2, 3, 13, 13});
  int init = b.Constant(-kInf);
  Attributes a;
  a.window = {Win(1), Win(1), Win(3, 2, 1, 1), Win(3, 2, 1, 1)};
  a.reduce_computation = HloOpcode::kMaximum;
  b.Add(HloOpcode::kReduceWindow, {2, 3, 7, 7}, {x, init}, a);
  return b.Build();
}

// Sum over dims 0 and 2 of [9,6,30]: the split loop (dim 2, the largest) is not the outermost one.
Kernel ReduceTwoAxesKernel() {
  KernelBuilder b("reduce_two_axes", graph::FusionKind::kInput);
  int x = b.Parameter({9, 6, 30});
  int init = b.Constant(0);
  b.Add(HloOpcode::kReduce, {6}, {x, init}, ReduceAttrs({0, 2}, HloOpcode::kAdd));
  return b.Build();
}

std::vector<OpCase> FusedCases() {
  return {
      {"FusedConvBiasRelu", ConvBiasReluKernel, [](const std::vector<at::Tensor>& t) {
         return at::relu(at::conv2d(t[0], t[1], t[2], 1, 1));
       }},
      {"FusedSoftmaxTwoReductions", SoftmaxKernel,
       [](const std::vector<at::Tensor>& t) { return at::softmax(t[0], 1); }, Data::kSigned, 1e-5,
       1e-6},
  };
}

// Ops are grouped in families, one test per family: every test is its own process under CTest, and
// loading LibTorch and Halide's JIT runtime costs about a second per process.
struct OpFamily {
  std::string name;
  std::vector<OpCase> (*cases)();
};

std::ostream& operator<<(std::ostream& os, const OpFamily& f) { return os << f.name; }

class HalideOpTest : public ::testing::TestWithParam<OpFamily> {};

TEST_P(HalideOpTest, EveryOpMatchesLibTorchWithDefaultConfig) {
  for (const OpCase& c : GetParam().cases()) {
    SCOPED_TRACE(c.name);
    const Kernel kernel = c.build();
    ASSERT_OK(kernel.Validate());
    const std::vector<std::vector<float>> inputs = MakeInputs(kernel, c.data, 1234);
    absl::StatusOr<std::vector<float>> out =
        Target().Evaluate(kernel, tiling::Default(kernel), inputs);
    ASSERT_OK(out);
    ExpectClose(*out, c.reference(ToTensors(kernel, inputs)), kernel.root_instruction().shape.dims,
                c.rtol, c.atol);
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllOps, HalideOpTest,
    ::testing::Values(OpFamily{"Convolution", ConvCases}, OpFamily{"Dot", DotCases},
                      OpFamily{"ReduceAndReduceWindow", ReduceCases},
                      OpFamily{"DataMovement", DataMovementCases},
                      OpFamily{"Elementwise", ElementwiseCases}, OpFamily{"Fused", FusedCases}),
    [](const ::testing::TestParamInfo<OpFamily>& info) { return info.param.name; });

// ---- Tiling invariance ----
struct TilingCase {
  std::string name;
  std::function<Kernel()> build;
};

std::ostream& operator<<(std::ostream& os, const TilingCase& c) { return os << c.name; }

class TilingInvarianceTest : public ::testing::TestWithParam<TilingCase> {};

// Tile sizes, vector widths, parallel loops and reduction splits change the schedule only: the
// reduction order per output element is the same in every config, so outputs agree to f32 rounding
// of possibly contracted (FMA) multiply-adds: 1e-5 relative.
TEST_P(TilingInvarianceTest, DifferentConfigsGiveTheSameOutput) {
  const Kernel kernel = GetParam().build();
  absl::StatusOr<std::vector<tiling::TileConfig>> space = tiling::ConfigSpace(kernel);
  ASSERT_OK(space);
  ASSERT_GE(space->size(), 3u);
  std::vector<tiling::TileConfig> configs = {tiling::Default(kernel), space->front(), space->back()};
  // Plus one config with a reduction split, if the space has one, and a fixed pseudo-random pick.
  for (const tiling::TileConfig& c : *space) {
    if (c.reduction_split > 1 && c.vector_width > 1 && c.parallel_loop >= 0) {
      configs.push_back(c);
      break;
    }
  }
  // Evenly spread picks cover untiled slots, ragged tiles and every parallel slot.
  for (size_t k = 1; k <= 5; ++k) configs.push_back((*space)[(space->size() * k) / 6 + k]);
  const std::vector<std::vector<float>> inputs = MakeInputs(kernel, Data::kSigned, 99);
  absl::StatusOr<std::vector<float>> reference =
      Target().Evaluate(kernel, configs.front(), inputs);
  ASSERT_OK(reference);
  at::Tensor expected = at::from_blob(reference->data(), {static_cast<int64_t>(reference->size())},
                                      at::kFloat).clone();
  for (size_t i = 1; i < configs.size(); ++i) {
    SCOPED_TRACE(configs[i].ToString());
    absl::StatusOr<std::vector<float>> out = Target().Evaluate(kernel, configs[i], inputs);
    ASSERT_OK(out);
    ExpectClose(*out, expected, {expected.numel()}, 1e-5, 1e-6);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Kernels, TilingInvarianceTest,
    ::testing::Values(TilingCase{"ConvBiasRelu", ConvBiasReluKernel},
                      TilingCase{"MaxPool", MaxPoolKernel},
                      TilingCase{"ReduceTwoAxes", ReduceTwoAxesKernel},
                      TilingCase{"Softmax", SoftmaxKernel},
                      TilingCase{"BatchedDot", BatchedDotKernel}),
    [](const ::testing::TestParamInfo<TilingCase>& info) { return info.param.name; });

// ---- Errors and the run/time API ----
TEST(HalideCpuTargetTest, InvalidConfigIsRejectedWithTheViolatedRule) {
  const Kernel kernel = BatchedDotKernel();
  tiling::TileConfig config = tiling::Default(kernel);
  config.vector_width = 3;
  EXPECT_THAT(Target().Compile(kernel, config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vector width 3")));
  config = tiling::Default(kernel);
  config.tile[0] = 1000;
  EXPECT_THAT(Target().Compile(kernel, config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tile 1000")));
}

TEST(HalideCpuTargetTest, CustomCallIsUnimplementedAndNamesItsTarget) {
  KernelBuilder b("custom");
  int x = b.Parameter({4});
  Attributes a;
  a.custom_call_target = "NonMaxSuppression";
  b.Add(HloOpcode::kCustomCall, {4}, {x}, a);
  const Kernel kernel = b.Build();
  EXPECT_THAT(Target().Compile(kernel, tiling::Default(kernel)),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("NonMaxSuppression")));
}

TEST(HalideCpuTargetTest, InconsistentConvolutionShapeIsInvalidArgument) {
  KernelBuilder b("bad_conv");
  int x = b.Parameter({1, 3, 8, 8}), w = b.Parameter({4, 3, 3, 3});
  b.Add(HloOpcode::kConvolution, {1, 4, 7, 7}, {x, w}, ConvAttrs({Win(3, 1, 1, 1), Win(3, 1, 1, 1)}));
  const Kernel kernel = b.Build();
  EXPECT_THAT(Target().Compile(kernel, tiling::Default(kernel)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("gives 8 outputs, not 7")));
}

TEST(HalideCpuTargetTest, NonPositiveThreadCountIsRejected) {
  HalideCpuTargetOptions options;
  options.num_threads = 0;
  EXPECT_THAT(HalideCpuTarget::Create(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                                         HasSubstr("num_threads 0")));
}

TEST(HalideCpuTargetTest, SeededRunsAreReproducibleAndTimeReportsRuns) {
  const Kernel kernel = ConvBiasReluKernel();
  absl::StatusOr<CompiledKernel> compiled = Target().Compile(kernel, tiling::Default(kernel));
  ASSERT_OK(compiled);
  EXPECT_GT(compiled->compile_time(), absl::ZeroDuration());
  EXPECT_EQ(compiled->parameter_shapes().size(), 3u);
  absl::StatusOr<std::vector<float>> first = Target().Run(*compiled);
  absl::StatusOr<std::vector<float>> second = Target().Run(*compiled);
  ASSERT_OK(first);
  ASSERT_OK(second);
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(first->size(), 1u * 8 * 10 * 12);
  // The seeded inputs are not all zero: ReLU output has positive entries.
  EXPECT_GT(*std::max_element(first->begin(), first->end()), 0.0f);

  EXPECT_THAT(Target().Run(*compiled, {{1.0f}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("3 parameters, got 1")));

  MeasureOptions measure;
  measure.min_runs = 3;
  measure.max_runs = 3;
  measure.min_total_time = absl::ZeroDuration();
  absl::StatusOr<TimingResult> timing = Target().Time(*compiled, measure);
  ASSERT_OK(timing);
  EXPECT_EQ(timing->runs, 3);
  EXPECT_GT(timing->min_ns, 0);
  EXPECT_LE(timing->min_ns, timing->median_ns);
  measure.min_runs = 0;
  EXPECT_THAT(Target().Time(*compiled, measure), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace perfgraph::target
