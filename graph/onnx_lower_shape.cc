// ONNX lowering, shape and data movement: Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Slice, Split, Pad, Resize, Expand, Tile, DepthToSpace, SpaceToDepth.
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

absl::StatusOr<Dims> NodeLowering::ReshapeTarget(const Dims& in, const Dims& shape, bool allow_zero) {
  Dims out = shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0 && !allow_zero) {
      if (i >= in.size()) {
        return absl::InvalidArgumentError(absl::StrCat("Reshape target ", DimsStr(shape),
                                                       " copies dim ", i, " of ", DimsStr(in)));
      }
      out[i] = in[i];
    }
    if (out[i] == -1) {
      if (infer >= 0) return absl::InvalidArgumentError(absl::StrCat("Reshape target ", DimsStr(shape), " has two -1"));
      infer = static_cast<int>(i);
    } else if (out[i] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("Reshape target ", DimsStr(shape), " is invalid"));
    } else if (__builtin_mul_overflow(known, out[i], &known)) {
      // (found by fuzz/onnx_import_fuzzer.cc: the product overflowed int64_t)
      return absl::InvalidArgumentError(absl::StrCat(
          "Reshape target ", DimsStr(shape), " has more elements than int64 can count"));
    }
  }
  int64_t total = Product(in);
  if (infer >= 0) {
    if (known == 0 || total % known != 0) {
      return absl::InvalidArgumentError(absl::StrCat("cannot reshape ", DimsStr(in), " to ", DimsStr(shape)));
    }
    out[infer] = total / known;
  }
  if (Product(out) != total) {
    return absl::InvalidArgumentError(absl::StrCat("cannot reshape ", DimsStr(in), " to ", DimsStr(shape)));
  }
  return out;
}

// Output 0 = input 0 reshaped to `dims` (literal or reshape instruction).
#define PERFGRAPH_RESHAPE_OUT(dims)                                   \
  do {                                                                \
    if (const Literal* lit_ = Lit(0)) {                               \
      SetOutLiteral(0, Reshaped(*lit_, dims));                        \
      return absl::OkStatus();                                        \
    }                                                                 \
    ASSIGN_OR_RETURN(int x_, Op(0));                                  \
    SetOut(0, Reshape(x_, dims));                                     \
    return absl::OkStatus();                                          \
  } while (0)

absl::Status NodeLowering::LowerReshape() {
  ASSIGN_OR_RETURN(const Value* in, InValue(0));
  Dims dims;
  if (node_.op_type() == "Reshape" && g_.opset_ < 5) {
    dims = AttrInts("shape").value_or(Dims{});
  } else {
    absl::StatusOr<Dims> shape = InInts(1);
    if (!shape.ok()) {
      // The target is computed at run time: use ONNX's inferred (data-propagated) shape if static.
      if (shape.status().code() != absl::StatusCode::kUnimplemented) return shape.status();
      std::optional<Shape> inferred = InferredOutput(0);
      if (!inferred.has_value()) return shape.status();
      dims = inferred->dims;
    } else {
      ASSIGN_OR_RETURN(dims, ReshapeTarget(in->shape.dims, *shape, AttrInt("allowzero", 0) != 0));
    }
  }
  PERFGRAPH_RESHAPE_OUT(dims);
}

absl::Status NodeLowering::LowerFlatten() {
  ASSIGN_OR_RETURN(const Value* in, InValue(0));
  const Dims& d = in->shape.dims;
  int64_t rank = static_cast<int64_t>(d.size());
  int64_t axis = NormalizeAxis(AttrInt("axis", 1), rank);
  if (axis < 0 || axis > rank) return absl::InvalidArgumentError(absl::StrCat("Flatten axis ", axis, " out of range"));
  Dims dims = {Product(d, 0, axis), Product(d, axis)};
  PERFGRAPH_RESHAPE_OUT(dims);
}

absl::Status NodeLowering::LowerSqueeze() {
  ASSIGN_OR_RETURN(const Value* in, InValue(0));
  const Dims& d = in->shape.dims;
  int64_t rank = static_cast<int64_t>(d.size());
  Dims axes;
  if (g_.opset_ >= 13) {
    if (HasIn(1)) { ASSIGN_OR_RETURN(axes, InInts(1)); }
  } else {
    axes = AttrInts("axes").value_or(Dims{});
  }
  std::vector<bool> drop(rank, false);
  if (axes.empty()) {
    for (int64_t i = 0; i < rank; ++i) drop[i] = d[i] == 1;
  }
  for (int64_t a : axes) {
    a = NormalizeAxis(a, rank);
    RETURN_IF_ERROR(CheckAxis(a, rank, "Squeeze"));
    if (d[a] != 1) {
      return absl::InvalidArgumentError(absl::StrCat("Squeeze axis ", a, " of ", DimsStr(d), " is not 1"));
    }
    drop[a] = true;
  }
  Dims dims;
  for (int64_t i = 0; i < rank; ++i) {
    if (!drop[i]) dims.push_back(d[i]);
  }
  PERFGRAPH_RESHAPE_OUT(dims);
}

absl::Status NodeLowering::LowerUnsqueeze() {
  ASSIGN_OR_RETURN(const Value* in, InValue(0));
  const Dims& d = in->shape.dims;
  Dims axes;
  if (g_.opset_ >= 13) {
    ASSIGN_OR_RETURN(axes, InInts(1));
  } else {
    axes = AttrInts("axes").value_or(Dims{});
  }
  int64_t out_rank = static_cast<int64_t>(d.size() + axes.size());
  std::vector<bool> inserted(out_rank, false);
  for (int64_t a : axes) {
    a = NormalizeAxis(a, out_rank);
    RETURN_IF_ERROR(CheckAxis(a, out_rank, "Unsqueeze"));
    if (inserted[a]) return absl::InvalidArgumentError("Unsqueeze axes repeat");
    inserted[a] = true;
  }
  Dims dims;
  size_t k = 0;
  for (int64_t i = 0; i < out_rank; ++i) dims.push_back(inserted[i] ? 1 : d[k++]);
  PERFGRAPH_RESHAPE_OUT(dims);
}

#undef PERFGRAPH_RESHAPE_OUT

absl::Status NodeLowering::LowerTranspose() {
  ASSIGN_OR_RETURN(const Value* in, InValue(0));
  const Dims& d = in->shape.dims;
  Dims perm = AttrInts("perm").value_or(Dims{});
  if (perm.empty()) {
    for (int64_t i = static_cast<int64_t>(d.size()) - 1; i >= 0; --i) perm.push_back(i);
  }
  Dims sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i] != static_cast<int64_t>(i) || sorted.size() != d.size()) {
      return absl::InvalidArgumentError(absl::StrCat("Transpose perm ", DimsStr(perm), " is not a permutation of rank ", d.size()));
    }
  }
  if (const Literal* lit = Lit(0)) {
    Dims out(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) out[i] = d[perm[i]];
    Dims strides = Strides(d);
    std::vector<int64_t> index(Product(out));
    ForEachIndex(out, [&](const Dims& idx, int64_t linear) {
      int64_t src = 0;
      for (size_t i = 0; i < perm.size(); ++i) src += idx[i] * strides[perm[i]];
      index[linear] = src;
    });
    SetOutLiteral(0, Gathered(*lit, out, index));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(int x, Op(0));
  SetOut(0, Transpose(x, perm));
  return absl::OkStatus();
}

absl::Status NodeLowering::LowerConcat() {
  std::vector<int> inputs;
  for (int i = 0; i < num_inputs(); ++i) {
    if (HasIn(i)) inputs.push_back(i);
  }
  if (inputs.empty()) return absl::InvalidArgumentError("Concat without inputs");
  ASSIGN_OR_RETURN(const Value* first, InValue(inputs[0]));
  int64_t rank = first->shape.rank();
  int64_t axis = NormalizeAxis(AttrInt("axis", 0), rank);
  RETURN_IF_ERROR(CheckAxis(axis, rank, "Concat"));
  bool all_literal = true;
  Dims out = first->shape.dims;
  out[axis] = 0;
  for (int i : inputs) {
    ASSIGN_OR_RETURN(const Value* v, InValue(i));
    if (v->shape.rank() != rank) return absl::InvalidArgumentError("Concat inputs differ in rank");
    for (int64_t k = 0; k < rank; ++k) {
      if (k != axis && v->shape.dims[k] != out[k]) {
        return absl::InvalidArgumentError(absl::StrCat("Concat input ", i, " has dims ",
                                                       DimsStr(v->shape.dims)));
      }
    }
    out[axis] += v->shape.dims[axis];
    all_literal &= v->literal.has_value();
  }
  if (all_literal && Product(out) <= kMaxFoldElements) {
    Literal r;
    r.type = first->literal->type;
    r.dims = out;
    int64_t outer = Product(out, 0, axis);
    for (int64_t o = 0; o < outer; ++o) {
      for (int i : inputs) {
        const Literal& l = *In(i)->literal;
        int64_t chunk = Product(l.dims, axis);
        for (int64_t k = 0; k < chunk; ++k) {
          if (r.is_float()) {
            r.floats.push_back(l.GetDouble(o * chunk + k));
          } else {
            r.ints.push_back(l.GetInt(o * chunk + k));
          }
        }
      }
    }
    SetOutLiteral(0, std::move(r));
    return absl::OkStatus();
  }
  std::vector<int> parts;
  for (int i : inputs) {
    ASSIGN_OR_RETURN(int x, Op(i));
    parts.push_back(x);
  }
  SetOut(0, Concat(parts, axis));
  return absl::OkStatus();
}

// Slice: attributes before opset 10, inputs (starts, ends, axes, steps) after. Negative steps become
// reverse + slice.
absl::Status NodeLowering::LowerSlice() {
  ASSIGN_OR_RETURN(const Value* in, InValue(0));
  const Dims& d = in->shape.dims;
  int64_t rank = static_cast<int64_t>(d.size());
  Dims starts, ends, axes, steps;
  if (g_.opset_ < 10) {
    starts = AttrInts("starts").value_or(Dims{});
    ends = AttrInts("ends").value_or(Dims{});
    axes = AttrInts("axes").value_or(Dims{});
  } else {
    ASSIGN_OR_RETURN(starts, InInts(1));
    ASSIGN_OR_RETURN(ends, InInts(2));
    if (HasIn(3)) { ASSIGN_OR_RETURN(axes, InInts(3)); }
    if (HasIn(4)) { ASSIGN_OR_RETURN(steps, InInts(4)); }
  }
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (starts.size() != ends.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
    return absl::InvalidArgumentError(absl::StrCat("Slice starts ", DimsStr(starts), ", ends ", DimsStr(ends),
                                                   ", axes ", DimsStr(axes), ", steps ", DimsStr(steps),
                                                   " differ in length"));
  }
  std::vector<AxisSlice> slices(rank);
  for (int64_t i = 0; i < rank; ++i) slices[i].count = d[i];
  for (size_t k = 0; k < axes.size(); ++k) {
    int64_t a = NormalizeAxis(axes[k], rank);
    RETURN_IF_ERROR(CheckAxis(a, rank, "Slice"));
    if (steps[k] == 0) return absl::InvalidArgumentError("Slice step 0");
    slices[a] = ClampSlice(d[a], starts[k], ends[k], steps[k]);
  }
  if (const Literal* lit = Lit(0)) {
    SetOutLiteral(0, SliceLiteral(*lit, slices));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(int x, Op(0));
  Dims reversed;
  std::vector<SliceDimension> hlo(rank);
  for (int64_t i = 0; i < rank; ++i) {
    AxisSlice s = slices[i];
    if (s.step < 0) {
      reversed.push_back(i);
      s.start = d[i] - 1 - s.start;
      s.step = -s.step;
    }
    hlo[i].start = s.count == 0 ? 0 : s.start;
    hlo[i].stride = s.step;
    hlo[i].limit = s.count == 0 ? 0 : s.start + (s.count - 1) * s.step + 1;
  }
  if (!reversed.empty()) x = Reverse(x, reversed);
  SetOut(0, Slice(x, hlo));
  return absl::OkStatus();
}

// Split: sizes from the `split` attribute (< 13), the split input (>= 13), or equal parts
// (num_outputs in opset 18: ceil(d / n), last part smaller).
absl::Status NodeLowering::LowerSplit() {
  ASSIGN_OR_RETURN(const Value* in, InValue(0));
  const Dims& d = in->shape.dims;
  int64_t rank = static_cast<int64_t>(d.size());
  int64_t axis = NormalizeAxis(AttrInt("axis", 0), rank);
  RETURN_IF_ERROR(CheckAxis(axis, rank, "Split"));
  Dims sizes;
  if (g_.opset_ >= 13) {
    if (HasIn(1)) { ASSIGN_OR_RETURN(sizes, InInts(1)); }
  } else {
    sizes = AttrInts("split").value_or(Dims{});
  }
  int64_t n = node_.output_size();
  if (sizes.empty()) {
    if (n < 1) return absl::InvalidArgumentError("Split without outputs");
    int64_t part = (d[axis] + n - 1) / n;
    for (int64_t i = 0; i < n; ++i) sizes.push_back(std::max<int64_t>(0, std::min(part, d[axis] - i * part)));
  }
  if (static_cast<int64_t>(sizes.size()) != n || std::accumulate(sizes.begin(), sizes.end(), int64_t{0}) != d[axis]) {
    return absl::InvalidArgumentError(absl::StrCat("Split sizes ", DimsStr(sizes), " do not partition dim ",
                                                   axis, " of ", DimsStr(d), " into ", n, " outputs"));
  }
  int64_t offset = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (WantsOut(static_cast<int>(i))) {
      if (const Literal* lit = Lit(0)) {
        std::vector<AxisSlice> slices(rank);
        for (int64_t k = 0; k < rank; ++k) slices[k].count = d[k];
        slices[axis].start = offset;
        slices[axis].count = sizes[i];
        SetOutLiteral(static_cast<int>(i), SliceLiteral(*lit, slices));
      } else {
        ASSIGN_OR_RETURN(int x, Op(0));
        std::vector<SliceDimension> s = FullSlice(x);
        s[axis].start = offset;
        s[axis].limit = offset + sizes[i];
        SetOut(static_cast<int>(i), Slice(x, s));
      }
    }
    offset += sizes[i];
  }
  return absl::OkStatus();
}

// Pad: constant mode -> pad (negative pads crop); reflect/edge -> per-axis concatenate of the
// reflected/replicated border slices and the input.
absl::Status NodeLowering::LowerPad() {
  ASSIGN_OR_RETURN(int x, Op(0));
  const Dims xd = DimsOf(x);
  int64_t rank = static_cast<int64_t>(xd.size());
  std::string mode = AttrString("mode", "constant");
  Dims pads;
  double value = 0;
  int value_id = -1;
  Dims axes;
  if (g_.opset_ < 11) {
    pads = AttrInts("pads").value_or(Dims{});
    if (pads.empty()) pads = AttrInts("paddings").value_or(Dims{});
    value = AttrFloat("value", 0.0);
  } else {
    ASSIGN_OR_RETURN(pads, InInts(1));
    if (HasIn(2)) {
      if (const Literal* lit = Lit(2)) {
        if (lit->size() != 1) return absl::InvalidArgumentError("Pad constant_value must be a scalar");
        value = lit->GetDouble(0);
      } else {
        ASSIGN_OR_RETURN(int v, Op(2));
        value_id = Convert(Reshape(v, {}), TypeOf(x));
      }
    }
    if (HasIn(3)) { ASSIGN_OR_RETURN(axes, InInts(3)); }
  }
  if (axes.empty()) {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  if (pads.size() != 2 * axes.size()) {
    return absl::InvalidArgumentError(absl::StrCat("Pad pads ", DimsStr(pads), " do not match ",
                                                   axes.size(), " axes"));
  }
  std::vector<PaddingDimension> padding(rank);
  for (size_t k = 0; k < axes.size(); ++k) {
    int64_t a = NormalizeAxis(axes[k], rank);
    RETURN_IF_ERROR(CheckAxis(a, rank, "Pad"));
    padding[a].edge_padding_low = pads[k];
    padding[a].edge_padding_high = pads[k + axes.size()];
  }
  Dims out = xd;
  for (int64_t i = 0; i < rank; ++i) {
    out[i] += padding[i].edge_padding_low + padding[i].edge_padding_high;
    if (out[i] < 0) return absl::InvalidArgumentError(absl::StrCat("Pad pads ", DimsStr(pads), " crop below 0"));
  }
  if (mode == "constant") {
    if (value_id < 0) value_id = ScalarConst(TypeOf(x), value);
    Attributes attrs;
    attrs.padding = padding;
    SetOut(0, Emit(HloOpcode::kPad, Shape::Make(TypeOf(x), out), {x, value_id}, std::move(attrs), "pad"));
    return absl::OkStatus();
  }
  if (mode != "reflect" && mode != "edge") {
    return absl::UnimplementedError(absl::StrCat("Pad mode '", mode, "'"));
  }
  int cur = x;
  for (int64_t a = 0; a < rank; ++a) {
    int64_t lo = padding[a].edge_padding_low, hi = padding[a].edge_padding_high;
    if (lo == 0 && hi == 0) continue;
    if (lo < 0 || hi < 0) return absl::UnimplementedError("negative pads in reflect/edge mode");
    int64_t n = DimsOf(cur)[a];
    if (mode == "reflect" && (lo >= n || hi >= n)) {
      return absl::InvalidArgumentError("reflect pads must be smaller than the dim");
    }
    std::vector<int> parts;
    auto border = [&](int64_t start, int64_t count, bool low) -> int {
      std::vector<SliceDimension> s = FullSlice(cur);
      if (mode == "reflect") {
        s[a].start = start;
        s[a].limit = start + count;
        return Reverse(Slice(cur, s), {a});
      }
      s[a].start = low ? 0 : n - 1;
      s[a].limit = s[a].start + 1;
      int edge = Slice(cur, s);
      Dims target = DimsOf(cur);
      target[a] = count;
      Dims squeezed = DimsOf(cur);
      squeezed.erase(squeezed.begin() + a);
      Dims map;
      for (int64_t k = 0; k < rank; ++k) {
        if (k != a) map.push_back(k);
      }
      return Broadcast(Reshape(edge, squeezed), target, map);
    };
    if (lo > 0) parts.push_back(border(1, lo, true));
    parts.push_back(cur);
    if (hi > 0) parts.push_back(border(n - 1 - hi, hi, false));
    cur = Concat(parts, a);
  }
  SetOut(0, cur);
  return absl::OkStatus();
}

// Resizes dim `dim` of x to `out` elements. Nearest with an integer downsampling factor is a strided
// slice; every other case contracts the dim with a constant [in, out] interpolation-weight matrix
// (what jax.image.resize does for linear/cubic), then moves the new dim back into place.
absl::StatusOr<int> NodeLowering::ResizeDim(int x, int64_t dim, int64_t out, const std::string& mode) {
  const Dims xd = DimsOf(x);
  int64_t in = xd[dim];
  if (mode == "nearest" && out > 0 && in % out == 0) {
    std::vector<SliceDimension> s = FullSlice(x);
    s[dim].stride = in / out;
    s[dim].limit = (out - 1) * (in / out) + 1;
    return Slice(x, s);
  }
  int w = DataConst(TypeOf(x), {in, out}, "resize_weights");
  DotDimensionNumbers dnums;
  dnums.lhs_contracting_dimensions = {dim};
  dnums.rhs_contracting_dimensions = {0};
  int dot = Dot(x, w, dnums);
  Dims perm;
  int64_t rank = static_cast<int64_t>(xd.size());
  for (int64_t i = 0; i < rank; ++i) {
    if (i == dim) {
      perm.push_back(rank - 1);
    } else {
      perm.push_back(i < dim ? i : i - 1);
    }
  }
  return Transpose(dot, perm);
}

// Resize (opset 10: X, scales; 11+: X, roi, scales, sizes) and Upsample (7-8: scales attribute;
// 9: scales input). Output dims are `sizes`, or floor(in * scale). Nearest upsampling by integer
// factors is broadcast + reshape (XLA's pattern for jnp.repeat); other dims use ResizeDim.
absl::Status NodeLowering::LowerResize() {
  ASSIGN_OR_RETURN(int x, Op(0));
  const Dims xd = DimsOf(x);
  int64_t rank = static_cast<int64_t>(xd.size());
  std::string mode = AttrString("mode", "nearest");
  bool upsample = node_.op_type() == "Upsample";
  std::vector<double> scales;
  Dims sizes;
  if (upsample && g_.opset_ < 9) {
    scales = AttrFloats("scales").value_or(std::vector<double>{});
  } else {
    int scales_input = upsample || g_.opset_ < 11 ? 1 : 2;
    if (!upsample && g_.opset_ >= 11 && HasNonEmptyIn(3)) {
      ASSIGN_OR_RETURN(sizes, InInts(3));
    } else if (HasNonEmptyIn(scales_input)) {
      ASSIGN_OR_RETURN(scales, InDoubles(scales_input));
    }
  }
  Dims axes = AttrInts("axes").value_or(Dims{});
  if (axes.empty()) {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  Dims out = xd;
  if (!sizes.empty()) {
    if (sizes.size() != axes.size()) return absl::InvalidArgumentError("Resize sizes do not match the rank");
    for (size_t k = 0; k < axes.size(); ++k) out[NormalizeAxis(axes[k], rank)] = sizes[k];
  } else if (!scales.empty()) {
    if (scales.size() != axes.size()) return absl::InvalidArgumentError("Resize scales do not match the rank");
    for (size_t k = 0; k < axes.size(); ++k) {
      int64_t a = NormalizeAxis(axes[k], rank);
      out[a] = static_cast<int64_t>(std::floor(static_cast<double>(xd[a]) * scales[k]));
    }
  } else {
    return absl::InvalidArgumentError("Resize needs scales or sizes");
  }
  if (AttrString("keep_aspect_ratio_policy", "stretch") != "stretch") {
    return absl::UnimplementedError("Resize keep_aspect_ratio_policy other than stretch");
  }
  for (int64_t d : out) {
    if (d < 0 || d > kMaxDimension) return absl::InvalidArgumentError(absl::StrCat("Resize output ", DimsStr(out)));
  }
  // Nearest integer upsampling: one broadcast to [.., d, f, ..] and one reshape.
  Dims expanded, map;
  bool any_repeat = false;
  Dims after_repeat = xd;
  for (int64_t i = 0; i < rank; ++i) {
    map.push_back(static_cast<int64_t>(expanded.size()));
    expanded.push_back(xd[i]);
    if (mode == "nearest" && out[i] > xd[i] && xd[i] > 0 && out[i] % xd[i] == 0) {
      expanded.push_back(out[i] / xd[i]);
      after_repeat[i] = out[i];
      any_repeat = true;
    }
  }
  int cur = x;
  if (any_repeat) cur = Reshape(Broadcast(x, expanded, map), after_repeat);
  for (int64_t i = 0; i < rank; ++i) {
    if (DimsOf(cur)[i] != out[i]) { ASSIGN_OR_RETURN(cur, ResizeDim(cur, i, out[i], mode)); }
  }
  SetOut(0, cur);
  return absl::OkStatus();
}

absl::Status NodeLowering::LowerExpand() {
  ASSIGN_OR_RETURN(const Value* in, InValue(0));
  ASSIGN_OR_RETURN(Dims shape, InInts(1));
  ASSIGN_OR_RETURN(Dims out, BroadcastDims(in->shape.dims, shape));
  if (const Literal* lit = Lit(0)) {
    if (Product(out) <= kMaxFoldElements) {
      SetOutLiteral(0, Gathered(*lit, out, BroadcastSourceIndex(lit->dims, out)));
      return absl::OkStatus();
    }
  }
  ASSIGN_OR_RETURN(int x, Op(0));
  ASSIGN_OR_RETURN(int b, BroadcastTo(x, out));
  SetOut(0, b);
  return absl::OkStatus();
}

// Tile: broadcast [d0, d1, ...] to [r0, d0, r1, d1, ...] and reshape to [r0*d0, r1*d1, ...].
absl::Status NodeLowering::LowerTile() {
  ASSIGN_OR_RETURN(const Value* in, InValue(0));
  const Dims d = in->shape.dims;
  ASSIGN_OR_RETURN(Dims repeats, InInts(1));
  if (repeats.size() != d.size()) return absl::InvalidArgumentError("Tile repeats do not match the rank");
  Dims out(d.size()), expanded, map;
  for (size_t i = 0; i < d.size(); ++i) {
    if (repeats[i] < 0) return absl::InvalidArgumentError("Tile repeat < 0");
    out[i] = d[i] * repeats[i];
    expanded.push_back(repeats[i]);
    map.push_back(static_cast<int64_t>(expanded.size()));
    expanded.push_back(d[i]);
  }
  if (const Literal* lit = Lit(0)) {
    if (Product(out) <= kMaxFoldElements) {
      Dims strides = Strides(d);
      std::vector<int64_t> index(Product(out));
      ForEachIndex(out, [&](const Dims& idx, int64_t linear) {
        int64_t src = 0;
        for (size_t i = 0; i < d.size(); ++i) src += (idx[i] % d[i]) * strides[i];
        index[linear] = src;
      });
      SetOutLiteral(0, Gathered(*lit, out, index));
      return absl::OkStatus();
    }
  }
  ASSIGN_OR_RETURN(int x, Op(0));
  if (out == d) {
    SetOut(0, x);
    return absl::OkStatus();
  }
  SetOut(0, Reshape(Broadcast(x, expanded, map), out));
  return absl::OkStatus();
}


// DepthToSpace / SpaceToDepth: reshape, transpose, reshape.
absl::Status NodeLowering::LowerDepthToSpace() {
  ASSIGN_OR_RETURN(int x, Op(0));
  const Dims d = DimsOf(x);
  int64_t b = AttrInt("blocksize", 0);
  if (d.size() != 4 || b < 1 || d[1] % (b * b) != 0) {
    return absl::InvalidArgumentError("DepthToSpace needs NCHW input with C divisible by blocksize^2");
  }
  int64_t c = d[1] / (b * b);
  bool crd = AttrString("mode", "DCR") == "CRD";
  int r = crd ? Reshape(x, {d[0], c, b, b, d[2], d[3]}) : Reshape(x, {d[0], b, b, c, d[2], d[3]});
  int t = crd ? Transpose(r, {0, 1, 4, 2, 5, 3}) : Transpose(r, {0, 3, 4, 1, 5, 2});
  SetOut(0, Reshape(t, {d[0], c, d[2] * b, d[3] * b}));
  return absl::OkStatus();
}

absl::Status NodeLowering::LowerSpaceToDepth() {
  ASSIGN_OR_RETURN(int x, Op(0));
  const Dims d = DimsOf(x);
  int64_t b = AttrInt("blocksize", 0);
  if (d.size() != 4 || b < 1 || d[2] % b != 0 || d[3] % b != 0) {
    return absl::InvalidArgumentError("SpaceToDepth needs NCHW input with H, W divisible by blocksize");
  }
  int r = Reshape(x, {d[0], d[1], d[2] / b, b, d[3] / b, b});
  int t = Transpose(r, {0, 3, 5, 1, 2, 4});
  SetOut(0, Reshape(t, {d[0], d[1] * b * b, d[2] / b, d[3] / b}));
  return absl::OkStatus();
}


}  // namespace perfgraph::graph::onnx_internal
