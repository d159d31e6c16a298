// ONNX lowering, normalisation and pooling: BatchNormalization, InstanceNormalization, LayerNormalization, LRN, Softmax / LogSoftmax, pooling.
#include "graph/onnx_node_lowering.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "graph/status_macros.h"

namespace perfgraph::graph::onnx_internal {

// Inference batch norm with constant statistics: y = x * s + o where s = scale / sqrt(var + eps)
// and o = B - mean * s are per-channel constants [C] (XLA folds them from the constant weights),
// broadcast along dim 1.
absl::Status NodeLowering::LowerBatchNorm() {
  if (g_.opset_ >= 14 && AttrInt("training_mode", 0) != 0) {
    return absl::UnimplementedError("BatchNormalization with training_mode=1");
  }
  ASSIGN_OR_RETURN(int x, Op(0));
  const Dims xd = DimsOf(x);
  if (xd.size() < 2) return absl::InvalidArgumentError("BatchNormalization input rank < 2");
  for (int i = 1; i <= 4; ++i) {
    ASSIGN_OR_RETURN(const Value* v, InValue(i));
    if (v->shape.dims != Dims{xd[1]}) {
      return absl::InvalidArgumentError(absl::StrCat("BatchNormalization input ", i, " has dims ",
                                                     DimsStr(v->shape.dims), ", expected [", xd[1], "]"));
    }
  }
  int s = DataConst(TypeOf(x), {xd[1]}, "bn_scale");
  int o = DataConst(TypeOf(x), {xd[1]}, "bn_offset");
  int sb = Broadcast(s, xd, {1});
  int m = Emit(HloOpcode::kMultiply, ShapeOf(x), {x, sb}, {}, "multiply");
  int ob = Broadcast(o, xd, {1});
  SetOut(0, Emit(HloOpcode::kAdd, ShapeOf(x), {m, ob}, {}, "add"));
  // Optional statistics outputs of old opsets pass the running statistics through in inference.
  for (int i = 1; i < node_.output_size(); ++i) {
    if (WantsOut(i)) RETURN_IF_ERROR(Alias(i, i % 2 == 1 ? 3 : 4));
  }
  return absl::OkStatus();
}

absl::Status NodeLowering::LowerInstanceNorm() {
  ASSIGN_OR_RETURN(int x, Op(0));
  const Dims xd = DimsOf(x);
  if (xd.size() < 3) return absl::InvalidArgumentError("InstanceNormalization input rank < 3");
  Dims spatial;
  int64_t count = 1;
  for (size_t i = 2; i < xd.size(); ++i) {
    spatial.push_back(static_cast<int64_t>(i));
    count *= xd[i];
  }
  int sum = Reduce(x, spatial, HloOpcode::kAdd, 0.0);
  int mean = Mean(sum, count);
  int centered = Emit(HloOpcode::kSubtract, ShapeOf(x), {x, BroadcastBack(mean, xd, spatial)}, {},
                      "subtract");
  int sq = Emit(HloOpcode::kMultiply, ShapeOf(x), {centered, centered}, {}, "multiply");
  int var = Mean(Reduce(sq, spatial, HloOpcode::kAdd, 0.0), count);
  int ve = BinaryScalar(HloOpcode::kAdd, var, AttrFloat("epsilon", 1e-5));
  int rs = Unary(HloOpcode::kRsqrt, ve);
  int norm = Emit(HloOpcode::kMultiply, ShapeOf(x), {centered, BroadcastBack(rs, xd, spatial)}, {},
                  "multiply");
  ASSIGN_OR_RETURN(int scale, Op(1));
  ASSIGN_OR_RETURN(int bias, Op(2));
  int scaled = Emit(HloOpcode::kMultiply, ShapeOf(x), {norm, Broadcast(scale, xd, {1})}, {}, "scale");
  SetOut(0, Emit(HloOpcode::kAdd, ShapeOf(x), {scaled, Broadcast(bias, xd, {1})}, {}, "bias_add"));
  return absl::OkStatus();
}

// LayerNormalization (opset 17): mean and variance over dims [axis, rank).
absl::Status NodeLowering::LowerLayerNorm() {
  ASSIGN_OR_RETURN(int x, Op(0));
  const Dims xd = DimsOf(x);
  int64_t rank = static_cast<int64_t>(xd.size());
  int64_t axis = NormalizeAxis(AttrInt("axis", -1), rank);
  RETURN_IF_ERROR(CheckAxis(axis, rank, "LayerNormalization"));
  Dims dims;
  int64_t count = 1;
  for (int64_t i = axis; i < rank; ++i) {
    dims.push_back(i);
    count *= xd[i];
  }
  int mean = Mean(Reduce(x, dims, HloOpcode::kAdd, 0.0), count);
  int centered = Emit(HloOpcode::kSubtract, ShapeOf(x), {x, BroadcastBack(mean, xd, dims)}, {},
                      "subtract");
  int sq = Emit(HloOpcode::kMultiply, ShapeOf(x), {centered, centered}, {}, "multiply");
  int var = Mean(Reduce(sq, dims, HloOpcode::kAdd, 0.0), count);
  int ve = BinaryScalar(HloOpcode::kAdd, var, AttrFloat("epsilon", 1e-5));
  int rs = Unary(HloOpcode::kRsqrt, ve);
  int y = Emit(HloOpcode::kMultiply, ShapeOf(x), {centered, BroadcastBack(rs, xd, dims)}, {},
               "multiply");
  ASSIGN_OR_RETURN(int scale, Op(1));
  ASSIGN_OR_RETURN(int sb, BroadcastTo(scale, xd));
  y = Emit(HloOpcode::kMultiply, ShapeOf(x), {y, sb}, {}, "scale");
  if (HasIn(2)) {
    ASSIGN_OR_RETURN(int bias, Op(2));
    ASSIGN_OR_RETURN(int bb, BroadcastTo(bias, xd));
    y = Emit(HloOpcode::kAdd, ShapeOf(x), {y, bb}, {}, "bias_add");
  }
  SetOut(0, y);
  Dims kept = xd;
  for (int64_t d : dims) kept[d] = 1;
  if (WantsOut(1)) SetOut(1, Reshape(mean, kept));
  if (WantsOut(2)) SetOut(2, Reshape(rs, kept));
  return absl::OkStatus();
}

// LRN across channels: x / (bias + alpha/size * window_sum(x^2))^beta.
absl::Status NodeLowering::LowerLrn() {
  ASSIGN_OR_RETURN(int x, Op(0));
  const Dims xd = DimsOf(x);
  int64_t size = AttrInt("size", 1);
  if (xd.size() < 3 || size < 1) return absl::InvalidArgumentError("LRN needs rank >= 3 and size >= 1");
  int sq = Emit(HloOpcode::kMultiply, ShapeOf(x), {x, x}, {}, "multiply");
  std::vector<WindowDimension> window(xd.size());
  window[1].size = size;
  window[1].padding_low = (size - 1) / 2;
  window[1].padding_high = size - 1 - (size - 1) / 2;
  Attributes attrs;
  attrs.window = window;
  attrs.reduce_computation = HloOpcode::kAdd;
  int init = ScalarConst(TypeOf(x), 0.0);
  int sum = Emit(HloOpcode::kReduceWindow, ShapeOf(x), {sq, init}, std::move(attrs), "reduce-window");
  int scaled = BinaryScalar(HloOpcode::kMultiply, sum, AttrFloat("alpha", 1e-4) / size);
  int biased = BinaryScalar(HloOpcode::kAdd, scaled, AttrFloat("bias", 1.0));
  int powered = BinaryScalar(HloOpcode::kPower, biased, AttrFloat("beta", 0.75));
  SetOut(0, Emit(HloOpcode::kDivide, ShapeOf(x), {x, powered}, {}, "divide"));
  return absl::OkStatus();
}

// softmax: exp(x - max) / sum(exp(x - max)); log-softmax: (x - max) - log(sum(exp(x - max))).
absl::StatusOr<int> NodeLowering::SoftmaxAlong(int x, int64_t axis, bool log) {
  const Dims xd = DimsOf(x);
  double lowest = IsFloatingPoint(TypeOf(x)) ? -kInf : -9.2e18;
  int m = Reduce(x, {axis}, HloOpcode::kMaximum, lowest);
  int s = Emit(HloOpcode::kSubtract, ShapeOf(x), {x, BroadcastBack(m, xd, {axis})}, {}, "subtract");
  int e = Unary(HloOpcode::kExponential, s);
  int sum = Reduce(e, {axis}, HloOpcode::kAdd, 0.0);
  if (log) {
    int l = Unary(HloOpcode::kLog, sum);
    return Emit(HloOpcode::kSubtract, ShapeOf(x), {s, BroadcastBack(l, xd, {axis})}, {}, "subtract");
  }
  return Emit(HloOpcode::kDivide, ShapeOf(x), {e, BroadcastBack(sum, xd, {axis})}, {}, "divide");
}

// Opset < 13 coerces the input to 2-D [prod(d[:axis]), prod(d[axis:])] (default axis 1); opset >= 13
// normalizes along one axis (default -1).
absl::Status NodeLowering::LowerSoftmax() {
  ASSIGN_OR_RETURN(int x, Op(0));
  const Dims xd = DimsOf(x);
  int64_t rank = static_cast<int64_t>(xd.size());
  bool log = node_.op_type() == "LogSoftmax";
  int64_t axis = NormalizeAxis(AttrInt("axis", g_.opset_ < 13 ? 1 : -1), rank);
  if (rank == 0) return absl::InvalidArgumentError("Softmax of a scalar");
  RETURN_IF_ERROR(CheckAxis(axis, rank, "Softmax"));
  int out;
  if (g_.opset_ < 13 && axis != rank - 1) {
    int flat = Reshape(x, {Product(xd, 0, axis), Product(xd, axis)});
    ASSIGN_OR_RETURN(int sm, SoftmaxAlong(flat, 1, log));
    out = Reshape(sm, xd);
  } else {
    ASSIGN_OR_RETURN(out, SoftmaxAlong(x, axis, log));
  }
  SetOut(0, out);
  return absl::OkStatus();
}

// MaxPool -> reduce-window(max, -inf); AveragePool -> reduce-window(add, 0) / count, where count is
// the window size, or (count_include_pad=0 with padding) a reduce-window over ones (as jax does).
absl::Status NodeLowering::LowerPool() {
  bool is_max = node_.op_type() == "MaxPool";
  if (is_max && WantsOut(1)) return absl::UnimplementedError("MaxPool with an Indices output");
  ASSIGN_OR_RETURN(int x, Op(0));
  const Dims xd = DimsOf(x);
  if (xd.size() < 3) return absl::InvalidArgumentError("pooling input rank < 3");
  std::optional<Dims> kernel = AttrInts("kernel_shape");
  if (!kernel.has_value()) return absl::InvalidArgumentError("pooling without kernel_shape");
  if (std::optional<Dims> dilations = AttrInts("dilations"); !is_max && dilations.has_value()) {
    for (int64_t d : *dilations) {
      if (d != 1) return absl::UnimplementedError("AveragePool with dilations");
    }
  }
  ASSIGN_OR_RETURN(std::vector<WindowDimension> spatial,
                   ConvWindow(Dims(xd.begin() + 2, xd.end()), *kernel, true));
  std::vector<WindowDimension> window(2);
  window.insert(window.end(), spatial.begin(), spatial.end());
  Dims out;
  bool padded = false;
  for (size_t i = 0; i < xd.size(); ++i) {
    out.push_back(WindowOutputDim(xd[i], window[i]));
    padded |= window[i].padding_low != 0 || window[i].padding_high != 0;
  }
  PrimitiveType t = TypeOf(x);
  double init = is_max ? (IsFloatingPoint(t) ? -kInf : -9.2e18) : 0.0;
  Attributes attrs;
  attrs.window = window;
  attrs.reduce_computation = is_max ? HloOpcode::kMaximum : HloOpcode::kAdd;
  int c = ScalarConst(t, init);
  int rw = Emit(HloOpcode::kReduceWindow, Shape::Make(t, out), {x, c}, attrs, "reduce-window");
  if (!is_max) {
    if (padded && AttrInt("count_include_pad", 0) == 0) {
      int ones = SplatConst(t, 1.0, xd);
      int zero = ScalarConst(t, 0.0);
      int counts = Emit(HloOpcode::kReduceWindow, Shape::Make(t, out), {ones, zero}, attrs,
                        "reduce-window");
      rw = Emit(HloOpcode::kDivide, ShapeOf(rw), {rw, counts}, {}, "divide");
    } else {
      rw = Mean(rw, Product(*kernel));
    }
  }
  SetOut(0, rw);
  return absl::OkStatus();
}

absl::Status NodeLowering::LowerGlobalPool() {
  bool is_max = node_.op_type() == "GlobalMaxPool";
  ASSIGN_OR_RETURN(int x, Op(0));
  const Dims xd = DimsOf(x);
  if (xd.size() < 2) return absl::InvalidArgumentError("global pooling input rank < 2");
  Dims spatial;
  for (size_t i = 2; i < xd.size(); ++i) spatial.push_back(static_cast<int64_t>(i));
  PrimitiveType t = TypeOf(x);
  int r = Reduce(x, spatial, is_max ? HloOpcode::kMaximum : HloOpcode::kAdd,
                 is_max ? (IsFloatingPoint(t) ? -kInf : -9.2e18) : 0.0);
  if (!is_max) r = Mean(r, Product(xd, 2));
  Dims kept = xd;
  for (int64_t d : spatial) kept[d] = 1;
  SetOut(0, Reshape(r, kept));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------------
// Shape manipulation (each also folds constant data).


}  // namespace perfgraph::graph::onnx_internal
