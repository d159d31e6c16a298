// Internal to the ONNX lowering (graph/onnx_lowering*.cc): NodeLowering, which lowers one ONNX
// node, and the shape and literal helpers its per-family files share. The Lower* methods live by op
// family: onnx_lower_literal.cc (constants, shapes, casts, identity: literal folding),
// onnx_lower_elementwise.cc, onnx_lower_linalg.cc (conv, gemm, matmul, einsum),
// onnx_lower_norm_pool.cc (normalisation, softmax, pooling), onnx_lower_shape.cc (shape and data
// movement), onnx_lower_gather.cc (gather, scatter), onnx_lower_reduce.cc (reductions, arg-min/max,
// cumsum, top-k); dispatch (NodeLowering::Table) and the graph-level lowerer stay in onnx_lowering.cc.
#ifndef PERFGRAPH_GRAPH_ONNX_NODE_LOWERING_H_
#define PERFGRAPH_GRAPH_ONNX_NODE_LOWERING_H_

#include "graph/onnx_lowering.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "graph/status_macros.h"
#include "onnx/onnx_pb.h"

namespace perfgraph::graph::onnx_internal {


using Dims = std::vector<int64_t>;

inline constexpr double kInf = std::numeric_limits<double>::infinity();

inline std::string DimsStr(const Dims& dims) { return absl::StrCat("[", absl::StrJoin(dims, ","), "]"); }

// Product of dims[begin, end), saturating at 2^62 so corrupt shapes cannot overflow (every caller
// compares the result against limits far below that).
inline int64_t Product(const Dims& dims, size_t begin = 0, size_t end = std::string::npos) {
  constexpr int64_t kSaturated = int64_t{1} << 62;
  int64_t p = 1;
  for (size_t i = begin; i < dims.size() && i < end; ++i) {
    if (dims[i] <= 0) return dims[i] == 0 ? 0 : kSaturated;
    p = p > kSaturated / dims[i] ? kSaturated : p * dims[i];
  }
  return p;
}

inline Dims Strides(const Dims& dims) {
  Dims s(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

// Calls fn(multi_index, linear_index) for every element of `dims` in row-major order.
inline void ForEachIndex(const Dims& dims, const std::function<void(const Dims&, int64_t)>& fn) {
  int64_t n = Product(dims);
  if (n == 0) return;
  Dims idx(dims.size(), 0);
  for (int64_t linear = 0; linear < n; ++linear) {
    fn(idx, linear);
    for (int d = static_cast<int>(dims.size()) - 1; d >= 0; --d) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
}

// NumPy (multidirectional) broadcast of two shapes.
inline absl::StatusOr<Dims> BroadcastDims(const Dims& a, const Dims& b) {
  size_t r = std::max(a.size(), b.size());
  Dims out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db || db == 1) {
      out[i] = da;
    } else if (da == 1) {
      out[i] = db;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("shapes ", DimsStr(a), " and ", DimsStr(b), " are not broadcastable"));
    }
  }
  return out;
}

// For each element of `out`, the linear index of the broadcast source element in `in` (NumPy rules).
inline std::vector<int64_t> BroadcastSourceIndex(const Dims& in, const Dims& out) {
  Dims in_strides = Strides(in);
  size_t offset = out.size() - in.size();
  std::vector<int64_t> map(Product(out));
  ForEachIndex(out, [&](const Dims& idx, int64_t linear) {
    int64_t src = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] != 1) src += idx[i + offset] * in_strides[i];
    }
    map[linear] = src;
  });
  return map;
}

inline int64_t NormalizeAxis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

inline absl::Status CheckAxis(int64_t axis, int64_t rank, absl::string_view what) {
  if (axis < 0 || axis >= rank) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " axis ", axis, " is out of range for rank ", rank));
  }
  return absl::OkStatus();
}

// One dimension of the output of a window op: XLA's formula with base dilation, padding, window
// dilation and stride.
inline int64_t WindowOutputDim(int64_t in, const WindowDimension& w) {
  int64_t dilated_base = in == 0 ? 0 : (in - 1) * w.base_dilation + 1;
  int64_t padded = dilated_base + w.padding_low + w.padding_high;
  int64_t dilated_window = (w.size - 1) * w.window_dilation + 1;
  if (padded < dilated_window) return 0;
  return (padded - dilated_window) / w.stride + 1;
}

inline uint32_t F16BitsToF32Bits(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    if (mant == 0) return sign;
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400u) == 0);
    return sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
  }
  if (exp == 31) return sign | 0x7f800000u | mant << 13;
  return sign | (exp + 127 - 15) << 23 | mant << 13;
}

inline double BitsToFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}


// Lowers one node. Outputs are collected in `outputs_` and committed to the value table only when
// the whole node lowered successfully.
class NodeLowering {
 public:
  NodeLowering(GraphLowerer& g, const onnx::NodeProto& node) : g_(g), node_(node) {
    std::string base = node.name();
    while (!base.empty() && base[0] == '/') base.erase(0, 1);
    if (base.empty()) {
      base = absl::StrCat(node.op_type(), ":", node.output_size() > 0 ? node.output(0) : "");
    }
    prefix_ = base;
  }

  // Folds the node when possible, else lowers it. Does not commit outputs.
  absl::Status Run();
  void Commit() {
    for (auto& [name, value] : outputs_) g_.values_[name] = std::move(value);
  }

 private:
  using LowerFn = absl::Status (NodeLowering::*)();
  static const absl::flat_hash_map<std::string, LowerFn>& Table();
  friend bool HasLowering(const std::string&, const std::string&);

  // ---- inputs and attributes ----
  int num_inputs() const { return node_.input_size(); }
  bool HasIn(int i) const { return i < node_.input_size() && !node_.input(i).empty(); }
  const Value* In(int i) const { return HasIn(i) ? g_.FindValue(node_.input(i)) : nullptr; }
  absl::StatusOr<const Value*> InValue(int i) const {
    if (!HasIn(i)) {
      return absl::InvalidArgumentError(absl::StrCat("missing input ", i));
    }
    const Value* v = g_.FindValue(node_.input(i));
    if (v == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("input ", i, " ('", node_.input(i), "') is not defined"));
    }
    return v;
  }
  const Shape& InShape(int i) const { return In(i)->shape; }
  const Dims& InDims(int i) const { return In(i)->shape.dims; }
  PrimitiveType InType(int i) const { return In(i)->shape.element_type; }
  // An input holding an empty tensor counts as absent (ONNX's "" placeholders and empty constants).
  bool HasNonEmptyIn(int i) const {
    return HasIn(i) && In(i) != nullptr && In(i)->shape.NumElements() > 0;
  }
  absl::StatusOr<int> Op(int i) {
    ASSIGN_OR_RETURN(const Value* v, InValue(i));
    (void)v;
    return g_.Materialize(node_.input(i));
  }
  // The data of integer input i (shapes, axes, pads...), from folding or ONNX's data propagation.
  absl::StatusOr<Dims> InInts(int i) {
    ASSIGN_OR_RETURN(const Value* v, InValue(i));
    if (v->literal.has_value()) {
      Dims out(v->literal->size());
      for (int64_t k = 0; k < v->literal->size(); ++k) out[k] = v->literal->GetInt(k);
      return out;
    }
    auto it = g_.shape_data_->find(node_.input(i));
    if (it != g_.shape_data_->end()) {
      Dims out;
      for (const auto& d : it->second.dim()) {
        if (!d.has_dim_value()) break;
        out.push_back(d.dim_value());
      }
      if (static_cast<int>(out.size()) == it->second.dim_size()) return out;
    }
    if (v->has_external_data) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input ", i, " ('", node_.input(i),
          "') must be known at import time but its data is stored externally and was not loaded"));
    }
    return absl::UnimplementedError(absl::StrCat("input ", i, " ('", node_.input(i),
                                                 "') is computed at run time; only constant "
                                                 "values are supported there"));
  }
  absl::StatusOr<std::vector<double>> InDoubles(int i) {
    ASSIGN_OR_RETURN(const Value* v, InValue(i));
    if (!v->literal.has_value()) {
      return absl::UnimplementedError(
          absl::StrCat("input ", i, " ('", node_.input(i), "') is not a constant"));
    }
    std::vector<double> out(v->literal->size());
    for (int64_t k = 0; k < v->literal->size(); ++k) out[k] = v->literal->GetDouble(k);
    return out;
  }
  const onnx::AttributeProto* Attr(absl::string_view name) const {
    for (const auto& a : node_.attribute()) {
      if (a.name() == name) return &a;
    }
    return nullptr;
  }
  int64_t AttrInt(absl::string_view name, int64_t def) const {
    const auto* a = Attr(name);
    return a != nullptr ? a->i() : def;
  }
  double AttrFloat(absl::string_view name, double def) const {
    const auto* a = Attr(name);
    return a != nullptr ? a->f() : def;
  }
  std::string AttrString(absl::string_view name, const std::string& def) const {
    const auto* a = Attr(name);
    return a != nullptr ? a->s() : def;
  }
  std::optional<Dims> AttrInts(absl::string_view name) const {
    const auto* a = Attr(name);
    if (a == nullptr) return std::nullopt;
    return Dims(a->ints().begin(), a->ints().end());
  }
  std::optional<std::vector<double>> AttrFloats(absl::string_view name) const {
    const auto* a = Attr(name);
    if (a == nullptr) return std::nullopt;
    return std::vector<double>(a->floats().begin(), a->floats().end());
  }
  // ONNX shape-inference result for output i, when fully static.
  std::optional<Shape> InferredOutput(int i) const {
    if (i >= node_.output_size() || node_.output(i).empty()) return std::nullopt;
    auto it = g_.inferred_->find(node_.output(i));
    if (it == g_.inferred_->end() || !it->second->has_tensor_type()) return std::nullopt;
    const auto& tt = it->second->tensor_type();
    std::optional<PrimitiveType> type = PrimitiveTypeFromOnnx(tt.elem_type());
    if (!type.has_value() || !tt.has_shape()) return std::nullopt;
    Dims dims;
    for (const auto& d : tt.shape().dim()) {
      if (!d.has_dim_value() || d.dim_value() < 0) return std::nullopt;
      dims.push_back(d.dim_value());
    }
    return Shape::Make(*type, dims);
  }

  // ---- outputs ----
  bool WantsOut(int i) const { return i < node_.output_size() && !node_.output(i).empty(); }
  void SetOut(int i, int id) {
    if (!WantsOut(i)) return;
    Value v;
    v.shape = g_.program_->at(id).shape;
    v.id = id;
    outputs_.emplace_back(node_.output(i), std::move(v));
  }
  void SetOutValue(int i, Value v) {
    if (!WantsOut(i)) return;
    v.weight_name.clear();  // an alias of a weight is still that weight's instruction once used
    outputs_.emplace_back(node_.output(i), std::move(v));
  }
  void SetOutLiteral(int i, Literal lit) {
    Value v;
    v.shape = Shape::Make(lit.type, lit.dims);
    v.literal = std::move(lit);
    SetOutValue(i, std::move(v));
  }
  // Output i is the same tensor as input j (Identity, Dropout, no-op reshapes).
  absl::Status Alias(int out, int in) {
    ASSIGN_OR_RETURN(const Value* v, InValue(in));
    if (!v->literal.has_value()) {
      ASSIGN_OR_RETURN(int id, Op(in));
      SetOut(out, id);
      return absl::OkStatus();
    }
    SetOutValue(out, *v);
    return absl::OkStatus();
  }

  // ---- instruction builders ----
  // By value: emitting instructions reallocates the instruction vector.
  Shape ShapeOf(int id) const { return g_.program_->at(id).shape; }
  Dims DimsOf(int id) const { return g_.program_->at(id).shape.dims; }
  PrimitiveType TypeOf(int id) const { return g_.program_->at(id).shape.element_type; }

  int Emit(HloOpcode opcode, Shape shape, std::vector<int> operands, Attributes attrs,
           absl::string_view suffix) {
    std::string name = absl::StrCat(prefix_, ".", suffix);
    std::string unique = name;
    for (int k = 1; g_.used_names_.contains(unique); ++k) unique = absl::StrCat(name, ".", k);
    g_.used_names_.insert(unique);
    g_.names_in_node_.push_back(unique);
    return g_.program_->Add(opcode, std::move(shape), std::move(operands), std::move(attrs), unique);
  }
  int ScalarConst(PrimitiveType type, double value) {
    Attributes attrs;
    attrs.constant_value = value;
    return Emit(HloOpcode::kConstant, Shape::Make(type, {}), {}, std::move(attrs), "constant");
  }
  // A splat constant of shape `dims`: scalar constant + broadcast (XLA's form).
  int SplatConst(PrimitiveType type, double value, const Dims& dims) {
    int c = ScalarConst(type, value);
    if (dims.empty()) return c;
    Attributes attrs;
    return Emit(HloOpcode::kBroadcast, Shape::Make(type, dims), {c}, std::move(attrs), "broadcast");
  }
  // A non-splat constant computed from the weights / attributes (e.g. resize weights).
  int DataConst(PrimitiveType type, const Dims& dims, absl::string_view suffix) {
    return Emit(HloOpcode::kConstant, Shape::Make(type, dims), {}, {}, suffix);
  }
  int Reshape(int x, const Dims& dims) {
    if (DimsOf(x) == dims) return x;
    return Emit(HloOpcode::kReshape, Shape::Make(TypeOf(x), dims), {x}, {}, "reshape");
  }
  int Transpose(int x, const Dims& perm) {
    bool identity = true;
    for (size_t i = 0; i < perm.size(); ++i) identity &= perm[i] == static_cast<int64_t>(i);
    if (identity) return x;
    Dims out(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) out[i] = DimsOf(x)[perm[i]];
    Attributes attrs;
    attrs.dimensions = perm;
    return Emit(HloOpcode::kTranspose, Shape::Make(TypeOf(x), out), {x}, std::move(attrs),
                "transpose");
  }
  // XLA broadcast: operand dim i -> output dim dims[i].
  int Broadcast(int x, const Dims& out, const Dims& dims) {
    if (DimsOf(x) == out) return x;
    Attributes attrs;
    attrs.dimensions = dims;
    return Emit(HloOpcode::kBroadcast, Shape::Make(TypeOf(x), out), {x}, std::move(attrs),
                "broadcast");
  }
  // NumPy broadcast of x to `out` (right-aligned): drops expanded size-1 dims with a reshape first.
  absl::StatusOr<int> BroadcastTo(int x, const Dims& out) {
    const Dims in = DimsOf(x);
    if (in == out) return x;
    if (in.size() > out.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot broadcast ", DimsStr(in), " to ", DimsStr(out)));
    }
    size_t offset = out.size() - in.size();
    Dims kept, bdims;
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] == out[i + offset]) {
        kept.push_back(in[i]);
        bdims.push_back(static_cast<int64_t>(i + offset));
      } else if (in[i] != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot broadcast ", DimsStr(in), " to ", DimsStr(out)));
      }
    }
    int src = Reshape(x, kept);
    return Broadcast(src, out, bdims);
  }
  int Convert(int x, PrimitiveType type) {
    if (TypeOf(x) == type) return x;
    return Emit(HloOpcode::kConvert, Shape::Make(type, DimsOf(x)), {x}, {}, "convert");
  }
  int Unary(HloOpcode op, int x, absl::string_view suffix = "") {
    return Emit(op, ShapeOf(x), {x}, {}, suffix.empty() ? HloOpcodeName(op) : suffix);
  }
  // Elementwise binary op with NumPy broadcasting; b is converted to a's type if they differ.
  absl::StatusOr<int> Binary(HloOpcode op, int a, int b, absl::string_view suffix = "") {
    ASSIGN_OR_RETURN(Dims out, BroadcastDims(DimsOf(a), DimsOf(b)));
    if (TypeOf(b) != TypeOf(a)) b = Convert(b, TypeOf(a));
    ASSIGN_OR_RETURN(a, BroadcastTo(a, out));
    ASSIGN_OR_RETURN(b, BroadcastTo(b, out));
    return Emit(op, Shape::Make(TypeOf(a), out), {a, b}, {},
                suffix.empty() ? HloOpcodeName(op) : suffix);
  }
  // x (op) scalar constant.
  int BinaryScalar(HloOpcode op, int x, double value, absl::string_view suffix = "") {
    int c = SplatConst(TypeOf(x), value, DimsOf(x));
    return Emit(op, ShapeOf(x), {x, c}, {}, suffix.empty() ? HloOpcodeName(op) : suffix);
  }
  absl::StatusOr<int> Compare(ComparisonDirection dir, int a, int b) {
    ASSIGN_OR_RETURN(Dims out, BroadcastDims(DimsOf(a), DimsOf(b)));
    if (TypeOf(b) != TypeOf(a)) b = Convert(b, TypeOf(a));
    ASSIGN_OR_RETURN(a, BroadcastTo(a, out));
    ASSIGN_OR_RETURN(b, BroadcastTo(b, out));
    Attributes attrs;
    attrs.comparison_direction = dir;
    return Emit(HloOpcode::kCompare, Shape::Make(PrimitiveType::kPred, out), {a, b},
                std::move(attrs), "compare");
  }
  int CompareScalar(ComparisonDirection dir, int x, double value) {
    int c = SplatConst(TypeOf(x), value, DimsOf(x));
    Attributes attrs;
    attrs.comparison_direction = dir;
    return Emit(HloOpcode::kCompare, Shape::Make(PrimitiveType::kPred, DimsOf(x)), {x, c},
                std::move(attrs), "compare");
  }
  absl::StatusOr<int> Select(int pred, int on_true, int on_false) {
    ASSIGN_OR_RETURN(Dims out, BroadcastDims(DimsOf(pred), DimsOf(on_true)));
    ASSIGN_OR_RETURN(out, BroadcastDims(out, DimsOf(on_false)));
    if (TypeOf(on_false) != TypeOf(on_true)) on_false = Convert(on_false, TypeOf(on_true));
    ASSIGN_OR_RETURN(pred, BroadcastTo(pred, out));
    ASSIGN_OR_RETURN(on_true, BroadcastTo(on_true, out));
    ASSIGN_OR_RETURN(on_false, BroadcastTo(on_false, out));
    return Emit(HloOpcode::kSelect, Shape::Make(TypeOf(on_true), out), {pred, on_true, on_false},
                {}, "select");
  }
  // reduce(x, init) over `dims` with the given computation root.
  int Reduce(int x, Dims dims, HloOpcode computation, double init) {
    std::sort(dims.begin(), dims.end());
    Dims out;
    for (int64_t i = 0; i < static_cast<int64_t>(DimsOf(x).size()); ++i) {
      if (!std::binary_search(dims.begin(), dims.end(), i)) out.push_back(DimsOf(x)[i]);
    }
    int c = ScalarConst(TypeOf(x), init);
    Attributes attrs;
    attrs.dimensions = dims;
    attrs.reduce_computation = computation;
    return Emit(HloOpcode::kReduce, Shape::Make(TypeOf(x), out), {x, c}, std::move(attrs),
                "reduce");
  }
  // Broadcasts a reduced tensor back over `reduced_dims` of `full`.
  int BroadcastBack(int reduced, const Dims& full, Dims reduced_dims) {
    std::sort(reduced_dims.begin(), reduced_dims.end());
    Dims map;
    for (int64_t i = 0; i < static_cast<int64_t>(full.size()); ++i) {
      if (!std::binary_search(reduced_dims.begin(), reduced_dims.end(), i)) map.push_back(i);
    }
    return Broadcast(reduced, full, map);
  }
  int Slice(int x, const std::vector<SliceDimension>& slice) {
    Dims out;
    bool identity = true;
    for (size_t i = 0; i < slice.size(); ++i) {
      const auto& s = slice[i];
      out.push_back(s.limit <= s.start ? 0 : (s.limit - s.start + s.stride - 1) / s.stride);
      identity &= s.start == 0 && s.limit == DimsOf(x)[i] && s.stride == 1;
    }
    if (identity) return x;
    Attributes attrs;
    attrs.slice = slice;
    return Emit(HloOpcode::kSlice, Shape::Make(TypeOf(x), out), {x}, std::move(attrs), "slice");
  }
  std::vector<SliceDimension> FullSlice(int x) const {
    std::vector<SliceDimension> s(DimsOf(x).size());
    for (size_t i = 0; i < s.size(); ++i) s[i].limit = DimsOf(x)[i];
    return s;
  }
  int Concat(const std::vector<int>& parts, int64_t axis) {
    if (parts.size() == 1) return parts[0];
    Dims out = DimsOf(parts[0]);
    out[axis] = 0;
    for (int p : parts) out[axis] += DimsOf(p)[axis];
    Attributes attrs;
    attrs.dimensions = {axis};
    return Emit(HloOpcode::kConcatenate, Shape::Make(TypeOf(parts[0]), out), parts,
                std::move(attrs), "concatenate");
  }
  int Reverse(int x, const Dims& dims) {
    Attributes attrs;
    attrs.dimensions = dims;
    return Emit(HloOpcode::kReverse, ShapeOf(x), {x}, std::move(attrs), "reverse");
  }
  int Dot(int a, int b, DotDimensionNumbers dnums) {
    const Dims& da = DimsOf(a);
    const Dims& db = DimsOf(b);
    Dims out;
    for (int64_t d : dnums.lhs_batch_dimensions) out.push_back(da[d]);
    auto is_in = [](const Dims& v, int64_t x) { return std::find(v.begin(), v.end(), x) != v.end(); };
    for (int64_t i = 0; i < static_cast<int64_t>(da.size()); ++i) {
      if (!is_in(dnums.lhs_batch_dimensions, i) && !is_in(dnums.lhs_contracting_dimensions, i)) {
        out.push_back(da[i]);
      }
    }
    for (int64_t i = 0; i < static_cast<int64_t>(db.size()); ++i) {
      if (!is_in(dnums.rhs_batch_dimensions, i) && !is_in(dnums.rhs_contracting_dimensions, i)) {
        out.push_back(db[i]);
      }
    }
    Attributes attrs;
    attrs.dot_dimension_numbers = std::move(dnums);
    return Emit(HloOpcode::kDot, Shape::Make(TypeOf(a), out), {a, b}, std::move(attrs), "dot");
  }
  // Unary lowering helpers shared by several ops.
  int Erf(int x);
  int Softplus(int x) {
    int e = Unary(HloOpcode::kExponential, x);
    return Unary(HloOpcode::kLogPlusOne, e);
  }
  absl::StatusOr<int> HardSigmoid(int x, double alpha, double beta) {
    int m = BinaryScalar(HloOpcode::kMultiply, x, alpha);
    int a = BinaryScalar(HloOpcode::kAdd, m, beta);
    int lo = SplatConst(TypeOf(x), 0.0, DimsOf(x));
    int hi = SplatConst(TypeOf(x), 1.0, DimsOf(x));
    return Emit(HloOpcode::kClamp, ShapeOf(x), {lo, a, hi}, {}, "clamp");
  }
  int Mean(int sum, int64_t count) {
    return BinaryScalar(HloOpcode::kDivide, sum, static_cast<double>(count));
  }

  // ---- folding ----
  const Literal* Lit(int i) const {
    const Value* v = In(i);
    return v != nullptr && v->literal.has_value() ? &*v->literal : nullptr;
  }

  // ---- op lowerings (one per ONNX op family) ----
  absl::Status LowerIdentity();
  absl::Status LowerDropout();
  absl::Status LowerConstant();
  absl::Status LowerShape();
  absl::Status LowerSize();
  absl::Status LowerConstantOfShape();
  absl::Status LowerRange();
  absl::Status LowerCast();
  absl::Status LowerCastLike();
  absl::Status LowerUnary();
  absl::Status LowerBinary();
  absl::Status LowerVariadic();
  absl::Status LowerCompare();
  absl::Status LowerWhere();
  absl::Status LowerActivation();
  absl::Status LowerClip();
  absl::Status LowerPRelu();
  absl::Status LowerConv();
  absl::Status LowerConvTranspose();
  absl::Status LowerGemm();
  absl::Status LowerMatMul();
  absl::Status LowerEinsum();
  absl::Status LowerBatchNorm();
  absl::Status LowerInstanceNorm();
  absl::Status LowerLayerNorm();
  absl::Status LowerLrn();
  absl::Status LowerSoftmax();
  absl::Status LowerPool();
  absl::Status LowerGlobalPool();
  absl::Status LowerReshape();
  absl::Status LowerFlatten();
  absl::Status LowerSqueeze();
  absl::Status LowerUnsqueeze();
  absl::Status LowerTranspose();
  absl::Status LowerConcat();
  absl::Status LowerSlice();
  absl::Status LowerSplit();
  absl::Status LowerPad();
  absl::Status LowerResize();
  absl::Status LowerExpand();
  absl::Status LowerTile();
  absl::Status LowerGather();
  absl::Status LowerGatherElements();
  absl::Status LowerGatherNd();
  absl::Status LowerScatter();
  absl::Status LowerReduce();
  absl::Status LowerArgMinMax();
  absl::Status LowerCumSum();
  absl::Status LowerDepthToSpace();
  absl::Status LowerSpaceToDepth();
  absl::Status LowerTopK();
  absl::Status LowerTrilu();
  // Control flow (onnx_lower_control_flow.cc): subgraphs become called programs.
  absl::Status LowerIf();
  absl::Status LowerLoop();
  absl::Status LowerScan();

  // Shared helpers of the lowerings.
  absl::StatusOr<Dims> ReshapeTarget(const Dims& in, const Dims& shape, bool allow_zero);
  absl::StatusOr<Dims> ReduceAxes(int64_t rank, int first_axes_input_opset, bool* noop);
  absl::StatusOr<int> SoftmaxAlong(int x, int64_t axis, bool log);
  absl::StatusOr<std::vector<WindowDimension>> ConvWindow(const Dims& in_spatial,
                                                          const Dims& kernel, bool pool);
  absl::StatusOr<int> ResizeDim(int x, int64_t dim, int64_t out, const std::string& mode);
  // Control-flow helpers (onnx_lower_control_flow.cc; Body is defined there).
  struct Body;
  // One element of a called program's parameter: bound to ONNX tensor `onnx_name` inside the
  // subgraph unless empty; the instruction is named `label` (default: onnx_name, else "param.K").
  struct BodyParam {
    std::string onnx_name;
    std::string label;
    Shape shape;
  };
  absl::StatusOr<const onnx::GraphProto*> GraphAttr(absl::string_view name) const;
  absl::Status CaptureOuter(const onnx::GraphProto& graph, absl::string_view attr,
                            std::vector<std::string>* runtime,
                            std::vector<std::pair<std::string, Value>>* literal);
  std::string TakeComputationName(absl::string_view suffix);
  absl::StatusOr<std::unique_ptr<Body>> StartBody(
      absl::string_view attr, const onnx::GraphProto& graph, absl::string_view suffix,
      const std::vector<BodyParam>& params, bool tuple,
      const std::vector<std::pair<std::string, Value>>& literal_captures);
  absl::Status CheckDeclaredInput(const Body& body, int index, const Shape& actual) const;
  absl::Status LowerBodyNodes(Body& body);
  absl::StatusOr<int> BodyOutput(Body& body, int index, absl::string_view what);
  absl::Status Register(Program program, int root, const std::string& instruction,
                        absl::string_view role, std::optional<int64_t> executions,
                        const std::string& how);
  struct WhileState;
  // The outer values a loop body reads: run-time ones appended to the loop state (and the body's
  // parameters), constants to `literal` (folded into the body).
  absl::Status CaptureIntoState(const onnx::GraphProto& body, WhileState& state,
                                std::vector<BodyParam>& params,
                                std::vector<std::pair<std::string, Value>>& literal);
  absl::Status EmitWhile(Body& body, WhileState& state, std::optional<int64_t> trips,
                         const std::string& how);
  absl::Status CheckCarried(Body& body, int body_output, const Shape& initial,
                            absl::string_view initial_name, int* out);
  int Tuple(const std::vector<int>& elements);

  GraphLowerer& g_;
  const onnx::NodeProto& node_;
  std::string prefix_;
  std::vector<std::pair<std::string, Value>> outputs_;
};

// ---- literal (constant-folding) helpers ----


// ---- literal (constant-folding) helpers ----

// The literal whose element k is src[index[k]].
inline Literal Gathered(const Literal& src, Dims out_dims, const std::vector<int64_t>& index) {
  Literal r;
  r.type = src.type;
  r.dims = std::move(out_dims);
  if (src.is_float()) {
    r.floats.resize(index.size());
    for (size_t k = 0; k < index.size(); ++k) r.floats[k] = src.floats[index[k]];
  } else {
    r.ints.resize(index.size());
    for (size_t k = 0; k < index.size(); ++k) r.ints[k] = src.ints[index[k]];
  }
  return r;
}

inline Literal Reshaped(Literal lit, Dims dims) {
  lit.dims = std::move(dims);
  return lit;
}

inline Literal CastLiteral(const Literal& lit, PrimitiveType type) {
  if (lit.is_float()) return Literal::FromDoubles(type, lit.dims, lit.floats);
  return Literal::FromInts(type, lit.dims, lit.ints);
}

// Elementwise combination of up to three literals with NumPy broadcasting. `fn` sees doubles (exact
// for the small integers of shape arithmetic); integer results are truncated by FromDoubles, except
// that int64 operands are combined with `int_fn` when given (exact for large values such as INT64_MAX).
inline absl::StatusOr<Literal> ElementwiseLiteral(
    const std::vector<const Literal*>& in, PrimitiveType out_type,
    const std::function<double(const std::vector<double>&)>& fn,
    const std::function<int64_t(const std::vector<int64_t>&)>& int_fn = nullptr) {
  Dims out = in[0]->dims;
  for (size_t i = 1; i < in.size(); ++i) {
    ASSIGN_OR_RETURN(out, BroadcastDims(out, in[i]->dims));
  }
  std::vector<std::vector<int64_t>> maps;
  for (const Literal* l : in) maps.push_back(BroadcastSourceIndex(l->dims, out));
  int64_t n = Product(out);
  bool all_int = int_fn != nullptr;
  for (const Literal* l : in) all_int &= !l->is_float();
  if (all_int && !IsFloatingPoint(out_type)) {
    std::vector<int64_t> values(n);
    std::vector<int64_t> args(in.size());
    for (int64_t k = 0; k < n; ++k) {
      for (size_t i = 0; i < in.size(); ++i) args[i] = in[i]->ints[maps[i][k]];
      values[k] = int_fn(args);
    }
    return Literal::FromInts(out_type, out, std::move(values));
  }
  std::vector<double> values(n);
  std::vector<double> args(in.size());
  for (int64_t k = 0; k < n; ++k) {
    for (size_t i = 0; i < in.size(); ++i) args[i] = in[i]->GetDouble(maps[i][k]);
    values[k] = fn(args);
  }
  return Literal::FromDoubles(out_type, out, std::move(values));
}

// Per-axis result of ONNX Slice after clamping: first index, step and element count.
struct AxisSlice {
  int64_t start = 0;
  int64_t step = 1;
  int64_t count = 0;
};

inline AxisSlice ClampSlice(int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  AxisSlice s;
  s.step = step;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    s.count = end > start ? (end - start + step - 1) / step : 0;
  } else {
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    s.count = start > end ? (start - end + (-step) - 1) / (-step) : 0;
  }
  s.start = start;
  return s;
}

inline Literal SliceLiteral(const Literal& lit, const std::vector<AxisSlice>& slices) {
  Dims out(lit.dims.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = slices[i].count;
  Dims strides = Strides(lit.dims);
  std::vector<int64_t> index(Product(out));
  ForEachIndex(out, [&](const Dims& idx, int64_t linear) {
    int64_t src = 0;
    for (size_t d = 0; d < idx.size(); ++d) {
      src += (slices[d].start + idx[d] * slices[d].step) * strides[d];
    }
    index[linear] = src;
  });
  return Gathered(lit, out, index);
}

// Coefficients of erf(x) ~= x * P(x^2) / Q(x^2) on [-4, 4] (outside, erf is +-1 to float precision).
// Least-squares fit of the linearised problem x*P(x^2) - erf(x)*Q(x^2) = 0 with Q(0) = 1 on 4001
// uniform points (our own fit, max abs error 6e-7 in double); the op structure (clamp, square, two
// Horner chains, multiply, divide) is the one XLA's rational erf approximation has.
inline constexpr double kErfP[] = {1.12837445e+00, 2.69096439e-01, 5.97237691e-02, 6.77012154e-03,
                            2.25808225e-04, -2.44269945e-06, 2.08767388e-08};
inline constexpr double kErfQ[] = {1.0, 0.57177253, 0.14364078, 0.02034398, 0.0017382};


}  // namespace perfgraph::graph::onnx_internal

#endif  // PERFGRAPH_GRAPH_ONNX_NODE_LOWERING_H_
