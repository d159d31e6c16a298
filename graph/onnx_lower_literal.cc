// ONNX lowering, literal folding: Identity, Dropout, Constant, Shape, Size, ConstantOfShape, Range, Cast, CastLike.
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

absl::Status NodeLowering::LowerIdentity() { return Alias(0, 0); }

// Dropout in inference is the identity; its optional mask output is all true.
absl::Status NodeLowering::LowerDropout() {
  RETURN_IF_ERROR(Alias(0, 0));
  if (WantsOut(1)) {
    Literal mask;
    mask.type = PrimitiveType::kPred;
    mask.dims = InDims(0);
    if (Product(mask.dims) <= kMaxFoldElements) {
      mask.ints.assign(Product(mask.dims), 1);
      SetOutLiteral(1, std::move(mask));
    } else {
      SetOut(1, SplatConst(PrimitiveType::kPred, 1.0, InDims(0)));
    }
  }
  return absl::OkStatus();
}

absl::Status NodeLowering::LowerConstant() {
  for (const auto& a : node_.attribute()) {
    if (a.name() == "value") {
      std::optional<PrimitiveType> type = PrimitiveTypeFromOnnx(a.t().data_type());
      if (!type.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat("constant tensor has unknown element type ",
                                                       a.t().data_type()));
      }
      ASSIGN_OR_RETURN(std::optional<Literal> lit, LiteralFromTensor(a.t(), kMaxFoldElements));
      if (lit.has_value()) {
        SetOutLiteral(0, std::move(*lit));
      } else {
        Value v;
        v.shape = Shape::Make(*type, Dims(a.t().dims().begin(), a.t().dims().end()));
        v.has_external_data = a.t().data_location() == onnx::TensorProto::EXTERNAL;
        SetOutValue(0, std::move(v));
      }
      return absl::OkStatus();
    }
    if (a.name() == "value_float") {
      SetOutLiteral(0, Literal::FromDoubles(PrimitiveType::kF32, {}, {a.f()}));
      return absl::OkStatus();
    }
    if (a.name() == "value_floats") {
      std::vector<double> v(a.floats().begin(), a.floats().end());
      Dims dims = {static_cast<int64_t>(v.size())};
      SetOutLiteral(0, Literal::FromDoubles(PrimitiveType::kF32, dims, std::move(v)));
      return absl::OkStatus();
    }
    if (a.name() == "value_int") {
      SetOutLiteral(0, Literal::FromInts(PrimitiveType::kS64, {}, {a.i()}));
      return absl::OkStatus();
    }
    if (a.name() == "value_ints") {
      Dims v(a.ints().begin(), a.ints().end());
      Dims dims = {static_cast<int64_t>(v.size())};
      SetOutLiteral(0, Literal::FromInts(PrimitiveType::kS64, dims, std::move(v)));
      return absl::OkStatus();
    }
  }
  return absl::UnimplementedError("Constant without a value/value_float(s)/value_int(s) attribute "
                                  "(sparse and string constants are not supported)");
}

absl::Status NodeLowering::LowerShape() {
  ASSIGN_OR_RETURN(const Value* v, InValue(0));
  const Dims& dims = v->shape.dims;
  int64_t rank = static_cast<int64_t>(dims.size());
  int64_t start = AttrInt("start", 0), end = AttrInt("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  Dims values(dims.begin() + start, dims.begin() + std::max(start, end));
  Dims out_dims = {static_cast<int64_t>(values.size())};
  SetOutLiteral(0, Literal::FromInts(PrimitiveType::kS64, out_dims, std::move(values)));
  return absl::OkStatus();
}

absl::Status NodeLowering::LowerSize() {
  ASSIGN_OR_RETURN(const Value* v, InValue(0));
  SetOutLiteral(0, Literal::FromInts(PrimitiveType::kS64, {}, {v->shape.NumElements()}));
  return absl::OkStatus();
}

absl::Status NodeLowering::LowerConstantOfShape() {
  ASSIGN_OR_RETURN(Dims dims, InInts(0));
  for (int64_t d : dims) {
    if (d < 0 || d > kMaxDimension) {
      return absl::InvalidArgumentError(absl::StrCat("invalid shape ", DimsStr(dims)));
    }
  }
  PrimitiveType type = PrimitiveType::kF32;
  double value = 0;
  if (const auto* a = Attr("value")) {
    ASSIGN_OR_RETURN(std::optional<Literal> lit, LiteralFromTensor(a->t(), 1));
    if (!lit.has_value() || lit->size() != 1) {
      return absl::InvalidArgumentError("ConstantOfShape 'value' must hold exactly one element");
    }
    type = lit->type;
    value = lit->GetDouble(0);
  }
  int64_t n = Product(dims);
  if (n <= kMaxFoldElements) {
    SetOutLiteral(0, Literal::FromDoubles(type, dims, std::vector<double>(n, value)));
  } else {
    SetOut(0, SplatConst(type, value, dims));
  }
  return absl::OkStatus();
}

absl::Status NodeLowering::LowerRange() {
  const Literal *start = Lit(0), *limit = Lit(1), *delta = Lit(2);
  PrimitiveType type = InType(0);
  if (start != nullptr && limit != nullptr && delta != nullptr) {
    double s = start->GetDouble(0), l = limit->GetDouble(0), d = delta->GetDouble(0);
    if (d == 0) return absl::InvalidArgumentError("Range delta is 0");
    int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((l - s) / d)));
    if (n > kMaxDimension) return absl::InvalidArgumentError("Range has too many elements");
    if (n <= kMaxFoldElements) {
      std::vector<double> v(n);
      for (int64_t i = 0; i < n; ++i) v[i] = s + i * d;
      SetOutLiteral(0, Literal::FromDoubles(type, {n}, std::move(v)));
      return absl::OkStatus();
    }
  }
  // Run-time bounds: iota * delta + start, with the length ONNX's shape inference found.
  std::optional<Shape> inferred = InferredOutput(0);
  if (!inferred.has_value()) {
    return absl::UnimplementedError("Range with run-time bounds and unknown length");
  }
  Attributes attrs;
  attrs.dimensions = {0};
  int iota = Emit(HloOpcode::kIota, Shape::Make(type, inferred->dims), {}, std::move(attrs), "iota");
  ASSIGN_OR_RETURN(int d, Op(2));
  ASSIGN_OR_RETURN(int s, Op(0));
  ASSIGN_OR_RETURN(int scaled, Binary(HloOpcode::kMultiply, iota, d));
  ASSIGN_OR_RETURN(int out, Binary(HloOpcode::kAdd, scaled, s));
  SetOut(0, out);
  return absl::OkStatus();
}

absl::Status NodeLowering::LowerCast() {
  std::optional<PrimitiveType> type = PrimitiveTypeFromOnnx(static_cast<int32_t>(AttrInt("to", 0)));
  if (!type.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Cast to unsupported element type ", AttrInt("to", 0)));
  }
  if (const Literal* lit = Lit(0)) {
    SetOutLiteral(0, CastLiteral(*lit, *type));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(int x, Op(0));
  SetOut(0, Convert(x, *type));
  return absl::OkStatus();
}

absl::Status NodeLowering::LowerCastLike() {
  ASSIGN_OR_RETURN(const Value* target, InValue(1));
  PrimitiveType type = target->shape.element_type;
  if (const Literal* lit = Lit(0)) {
    SetOutLiteral(0, CastLiteral(*lit, type));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(int x, Op(0));
  SetOut(0, Convert(x, type));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------------
// Elementwise ops.


}  // namespace perfgraph::graph::onnx_internal
