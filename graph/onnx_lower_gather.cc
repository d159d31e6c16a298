// ONNX lowering, gather and scatter: Gather, GatherElements, GatherND, ScatterElements / ScatterND.
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

// Gather along `axis`: a constant scalar index is slice + reshape; otherwise a gather instruction
// (attrs.dimensions = {axis}) with output dims data[:axis] + indices + data[axis+1:].
absl::Status NodeLowering::LowerGather() {
  ASSIGN_OR_RETURN(const Value* data, InValue(0));
  ASSIGN_OR_RETURN(const Value* indices, InValue(1));
  const Dims& d = data->shape.dims;
  int64_t rank = static_cast<int64_t>(d.size());
  int64_t axis = NormalizeAxis(AttrInt("axis", 0), rank);
  RETURN_IF_ERROR(CheckAxis(axis, rank, "Gather"));
  Dims out(d.begin(), d.begin() + axis);
  out.insert(out.end(), indices->shape.dims.begin(), indices->shape.dims.end());
  out.insert(out.end(), d.begin() + axis + 1, d.end());
  const Literal* idx = Lit(1);
  if (idx != nullptr) {
    for (int64_t k = 0; k < idx->size(); ++k) {
      int64_t i = idx->GetInt(k);
      if (i < -d[axis] || i >= d[axis]) {
        return absl::InvalidArgumentError(absl::StrCat("Gather index ", i, " out of range for dim ", d[axis]));
      }
    }
  }
  if (idx != nullptr && Lit(0) != nullptr && Product(out) <= kMaxFoldElements) {
    const Literal& lit = *Lit(0);
    int64_t outer = Product(d, 0, axis), inner = Product(d, axis + 1);
    std::vector<int64_t> index;
    index.reserve(Product(out));
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t k = 0; k < idx->size(); ++k) {
        int64_t i = idx->GetInt(k);
        if (i < 0) i += d[axis];
        for (int64_t in = 0; in < inner; ++in) index.push_back((o * d[axis] + i) * inner + in);
      }
    }
    SetOutLiteral(0, Gathered(lit, out, index));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(int x, Op(0));
  if (idx != nullptr && idx->size() == 1) {
    int64_t i = idx->GetInt(0);
    if (i < 0) i += d[axis];
    std::vector<SliceDimension> s = FullSlice(x);
    s[axis].start = i;
    s[axis].limit = i + 1;
    SetOut(0, Reshape(Slice(x, s), out));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(int ind, Op(1));
  Attributes attrs;
  attrs.dimensions = {axis};
  SetOut(0, Emit(HloOpcode::kGather, Shape::Make(TypeOf(x), out), {x, ind}, std::move(attrs), "gather"));
  return absl::OkStatus();
}

absl::Status NodeLowering::LowerGatherElements() {
  ASSIGN_OR_RETURN(int x, Op(0));
  ASSIGN_OR_RETURN(int ind, Op(1));
  int64_t axis = NormalizeAxis(AttrInt("axis", 0), static_cast<int64_t>(DimsOf(x).size()));
  Attributes attrs;
  attrs.dimensions = {axis};
  SetOut(0, Emit(HloOpcode::kGather, Shape::Make(TypeOf(x), DimsOf(ind)), {x, ind}, std::move(attrs),
                 "gather"));
  return absl::OkStatus();
}

absl::Status NodeLowering::LowerGatherNd() {
  ASSIGN_OR_RETURN(int x, Op(0));
  ASSIGN_OR_RETURN(int ind, Op(1));
  const Dims& d = DimsOf(x);
  const Dims& id = DimsOf(ind);
  int64_t b = AttrInt("batch_dims", 0);
  if (id.empty() || id.back() + b > static_cast<int64_t>(d.size())) {
    return absl::InvalidArgumentError("GatherND indices do not match the data rank");
  }
  Dims out(id.begin(), id.end() - 1);
  out.insert(out.end(), d.begin() + b + id.back(), d.end());
  SetOut(0, Emit(HloOpcode::kGather, Shape::Make(TypeOf(x), out), {x, ind}, {}, "gather"));
  return absl::OkStatus();
}

// ScatterND / ScatterElements / Scatter -> scatter(data, indices, updates); output = data's shape.
// ScatterND on constant data is folded (Swin-T builds its attention mask that way).
absl::Status NodeLowering::LowerScatter() {
  std::string reduction = AttrString("reduction", "none");
  const Literal *data = Lit(0), *ind = Lit(1), *upd = Lit(2);
  if (node_.op_type() == "ScatterND" && reduction == "none" && data != nullptr && ind != nullptr &&
      upd != nullptr && !ind->dims.empty()) {
    int64_t k = ind->dims.back();
    if (k <= static_cast<int64_t>(data->dims.size())) {
      Literal r = *data;
      int64_t chunk = Product(data->dims, k);
      int64_t n = Product(ind->dims, 0, ind->dims.size() - 1);
      Dims strides = Strides(data->dims);
      bool ok = upd->size() == n * chunk;
      for (int64_t i = 0; i < n && ok; ++i) {
        int64_t base = 0;
        for (int64_t j = 0; j < k; ++j) {
          int64_t v = ind->GetInt(i * k + j);
          if (v < 0) v += data->dims[j];
          if (v < 0 || v >= data->dims[j]) ok = false;
          base += v * strides[j];
        }
        for (int64_t c = 0; c < chunk && ok; ++c) {
          if (r.is_float()) {
            r.floats[base + c] = upd->GetDouble(i * chunk + c);
          } else {
            r.ints[base + c] = upd->GetInt(i * chunk + c);
          }
        }
      }
      if (ok) {
        SetOutLiteral(0, std::move(r));
        return absl::OkStatus();
      }
    }
  }
  ASSIGN_OR_RETURN(int x, Op(0));
  ASSIGN_OR_RETURN(int i, Op(1));
  ASSIGN_OR_RETURN(int u, Op(2));
  Attributes attrs;
  if (reduction == "add") attrs.reduce_computation = HloOpcode::kAdd;
  if (reduction == "mul") attrs.reduce_computation = HloOpcode::kMultiply;
  if (reduction == "max") attrs.reduce_computation = HloOpcode::kMaximum;
  if (reduction == "min") attrs.reduce_computation = HloOpcode::kMinimum;
  if (node_.op_type() == "ScatterElements" || node_.op_type() == "Scatter") {
    attrs.dimensions = {NormalizeAxis(AttrInt("axis", 0), static_cast<int64_t>(DimsOf(x).size()))};
  }
  SetOut(0, Emit(HloOpcode::kScatter, ShapeOf(x), {x, i, u}, std::move(attrs), "scatter"));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------------
// Reductions.


}  // namespace perfgraph::graph::onnx_internal
