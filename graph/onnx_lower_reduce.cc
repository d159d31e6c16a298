// ONNX lowering, reductions: Reduce*, ArgMin / ArgMax, CumSum, TopK.
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

// Axes of a Reduce* node: attribute before `first_axes_input_opset`, optional input 1 from it on.
// Empty axes reduce everything unless noop_with_empty_axes (then *noop is set).
absl::StatusOr<Dims> NodeLowering::ReduceAxes(int64_t rank, int first_axes_input_opset, bool* noop) {
  Dims axes;
  *noop = false;
  if (g_.opset_ >= first_axes_input_opset) {
    if (HasNonEmptyIn(1)) { ASSIGN_OR_RETURN(axes, InInts(1)); }
  } else {
    axes = AttrInts("axes").value_or(Dims{});
  }
  if (axes.empty()) {
    if (AttrInt("noop_with_empty_axes", 0) != 0) {
      *noop = true;
      return axes;
    }
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  for (int64_t& a : axes) {
    a = NormalizeAxis(a, rank);
    RETURN_IF_ERROR(CheckAxis(a, rank, node_.op_type()));
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return axes;
}

absl::Status NodeLowering::LowerReduce() {
  const std::string& op = node_.op_type();
  ASSIGN_OR_RETURN(const Value* in, InValue(0));
  const Dims d = in->shape.dims;
  int64_t rank = static_cast<int64_t>(d.size());
  bool noop = false;
  ASSIGN_OR_RETURN(Dims axes, ReduceAxes(rank, op == "ReduceSum" ? 13 : 18, &noop));
  if (noop) return Alias(0, 0);
  bool keepdims = AttrInt("keepdims", 1) != 0;
  Dims kept = d, dropped;
  int64_t count = 1;
  for (int64_t i = 0; i < rank; ++i) {
    if (std::binary_search(axes.begin(), axes.end(), i)) {
      kept[i] = 1;
      count *= d[i];
    } else {
      dropped.push_back(d[i]);
    }
  }
  Dims out_dims = keepdims ? kept : dropped;
  PrimitiveType t = in->shape.element_type;
  double lowest = IsFloatingPoint(t) ? -kInf : -9.2e18;
  double highest = IsFloatingPoint(t) ? kInf : 9.2e18;
  if (const Literal* lit = Lit(0)) {
    if (op == "ReduceSum" || op == "ReduceProd" || op == "ReduceMax" || op == "ReduceMin" ||
        op == "ReduceMean") {
      double init = op == "ReduceProd" ? 1 : op == "ReduceMax" ? lowest : op == "ReduceMin" ? highest : 0;
      std::vector<double> acc(Product(dropped), init);
      Dims dstrides = Strides(dropped);
      ForEachIndex(d, [&](const Dims& idx, int64_t linear) {
        int64_t o = 0, k = 0;
        for (int64_t i = 0; i < rank; ++i) {
          if (!std::binary_search(axes.begin(), axes.end(), i)) o += idx[i] * dstrides[k++];
        }
        double v = lit->GetDouble(linear);
        double& a = acc[o];
        a = op == "ReduceProd" ? a * v : op == "ReduceMax" ? std::max(a, v) : op == "ReduceMin" ? std::min(a, v) : a + v;
      });
      if (op == "ReduceMean") {
        for (double& a : acc) a /= static_cast<double>(count);
      }
      SetOutLiteral(0, Literal::FromDoubles(t, out_dims, std::move(acc)));
      return absl::OkStatus();
    }
  }
  ASSIGN_OR_RETURN(int x, Op(0));
  int r;
  if (op == "ReduceSum") {
    r = Reduce(x, axes, HloOpcode::kAdd, 0.0);
  } else if (op == "ReduceMean") {
    r = Mean(Reduce(x, axes, HloOpcode::kAdd, 0.0), count);
  } else if (op == "ReduceMax") {
    r = Reduce(x, axes, HloOpcode::kMaximum, lowest);
  } else if (op == "ReduceMin") {
    r = Reduce(x, axes, HloOpcode::kMinimum, highest);
  } else if (op == "ReduceProd") {
    r = Reduce(x, axes, HloOpcode::kMultiply, 1.0);
  } else if (op == "ReduceL1") {
    r = Reduce(Unary(HloOpcode::kAbs, x), axes, HloOpcode::kAdd, 0.0);
  } else if (op == "ReduceL2" || op == "ReduceSumSquare") {
    int sq = Emit(HloOpcode::kMultiply, ShapeOf(x), {x, x}, {}, "multiply");
    r = Reduce(sq, axes, HloOpcode::kAdd, 0.0);
    if (op == "ReduceL2") r = Unary(HloOpcode::kSqrt, r);
  } else if (op == "ReduceLogSum") {
    r = Unary(HloOpcode::kLog, Reduce(x, axes, HloOpcode::kAdd, 0.0));
  } else if (op == "ReduceLogSumExp") {
    r = Unary(HloOpcode::kLog, Reduce(Unary(HloOpcode::kExponential, x), axes, HloOpcode::kAdd, 0.0));
  } else {
    return absl::UnimplementedError(absl::StrCat("no reduction lowering for ", op));
  }
  SetOut(0, Reshape(r, out_dims));
  return absl::OkStatus();
}

// ArgMax / ArgMin: XLA's variadic reduce over (values, iota) returning a tuple; the index is
// element 1.
absl::Status NodeLowering::LowerArgMinMax() {
  ASSIGN_OR_RETURN(int x, Op(0));
  const Dims d = DimsOf(x);
  int64_t rank = static_cast<int64_t>(d.size());
  int64_t axis = NormalizeAxis(AttrInt("axis", 0), rank);
  RETURN_IF_ERROR(CheckAxis(axis, rank, node_.op_type()));
  Attributes iota_attrs;
  iota_attrs.dimensions = {axis};
  int iota = Emit(HloOpcode::kIota, Shape::Make(PrimitiveType::kS64, d), {}, std::move(iota_attrs), "iota");
  bool is_max = node_.op_type() == "ArgMax";
  PrimitiveType t = TypeOf(x);
  int init_v = ScalarConst(t, is_max ? (IsFloatingPoint(t) ? -kInf : -9.2e18) : (IsFloatingPoint(t) ? kInf : 9.2e18));
  int init_i = ScalarConst(PrimitiveType::kS64, 0.0);
  Dims reduced = d;
  reduced.erase(reduced.begin() + axis);
  Attributes attrs;
  attrs.dimensions = {axis};
  attrs.reduce_computation = HloOpcode::kSelect;
  Shape tuple = Shape::Tuple({Shape::Make(t, reduced), Shape::Make(PrimitiveType::kS64, reduced)});
  int r = Emit(HloOpcode::kReduce, tuple, {x, iota, init_v, init_i}, std::move(attrs), "reduce");
  Attributes gte;
  gte.tuple_index = 1;
  int idx = Emit(HloOpcode::kGetTupleElement, Shape::Make(PrimitiveType::kS64, reduced), {r},
                 std::move(gte), "get-tuple-element");
  Dims out = d;
  out[axis] = 1;
  SetOut(0, AttrInt("keepdims", 1) != 0 ? Reshape(idx, out) : idx);
  return absl::OkStatus();
}

// CumSum: reduce-window(add) with a window spanning the whole axis, padded so output i sums the
// elements up to i (XLA's cumulative-sum lowering); exclusive/reverse shift the padding.
absl::Status NodeLowering::LowerCumSum() {
  ASSIGN_OR_RETURN(int x, Op(0));
  const Dims d = DimsOf(x);
  ASSIGN_OR_RETURN(Dims axis_v, InInts(1));
  if (axis_v.size() != 1) return absl::InvalidArgumentError("CumSum axis must be a scalar");
  int64_t rank = static_cast<int64_t>(d.size());
  int64_t axis = NormalizeAxis(axis_v[0], rank);
  RETURN_IF_ERROR(CheckAxis(axis, rank, "CumSum"));
  int64_t n = d[axis];
  bool exclusive = AttrInt("exclusive", 0) != 0, reverse = AttrInt("reverse", 0) != 0;
  std::vector<WindowDimension> window(rank);
  window[axis].size = n;
  int64_t lo = exclusive ? n : n - 1, hi = exclusive ? -1 : 0;
  window[axis].padding_low = reverse ? hi : lo;
  window[axis].padding_high = reverse ? lo : hi;
  Attributes attrs;
  attrs.window = window;
  attrs.reduce_computation = HloOpcode::kAdd;
  int init = ScalarConst(TypeOf(x), 0.0);
  SetOut(0, Emit(HloOpcode::kReduceWindow, ShapeOf(x), {x, init}, std::move(attrs), "reduce-window"));
  return absl::OkStatus();
}


// TopK: sort (values, iota) along the axis, then slice the first k of each (XLA's TopK expansion).
absl::Status NodeLowering::LowerTopK() {
  ASSIGN_OR_RETURN(int x, Op(0));
  const Dims d = DimsOf(x);
  int64_t rank = static_cast<int64_t>(d.size());
  int64_t k;
  if (g_.opset_ < 10) {
    k = AttrInt("k", 1);
  } else {
    ASSIGN_OR_RETURN(Dims kv, InInts(1));
    if (kv.size() != 1) return absl::InvalidArgumentError("TopK k must hold one value");
    k = kv[0];
  }
  int64_t axis = NormalizeAxis(AttrInt("axis", -1), rank);
  RETURN_IF_ERROR(CheckAxis(axis, rank, "TopK"));
  if (k < 0 || k > d[axis]) return absl::InvalidArgumentError(absl::StrCat("TopK k=", k, " out of range"));
  Attributes iota_attrs;
  iota_attrs.dimensions = {axis};
  int iota = Emit(HloOpcode::kIota, Shape::Make(PrimitiveType::kS64, d), {}, std::move(iota_attrs), "iota");
  Attributes attrs;
  attrs.dimensions = {axis};
  attrs.reduce_computation = HloOpcode::kCompare;
  Shape tuple = Shape::Tuple({ShapeOf(x), Shape::Make(PrimitiveType::kS64, d)});
  int sorted = Emit(HloOpcode::kSort, tuple, {x, iota}, std::move(attrs), "sort");
  for (int i = 0; i < 2; ++i) {
    if (!WantsOut(i)) continue;
    Attributes gte;
    gte.tuple_index = i;
    int e = Emit(HloOpcode::kGetTupleElement, tuple.tuple_shapes[i], {sorted}, std::move(gte),
                 "get-tuple-element");
    std::vector<SliceDimension> s = FullSlice(e);
    s[axis].limit = k;
    SetOut(i, Slice(e, s));
  }
  return absl::OkStatus();
}


}  // namespace perfgraph::graph::onnx_internal
