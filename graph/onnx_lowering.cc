// Lowering of ONNX operators to HLO-like instructions, and constant folding of shape subgraphs.
// See onnx_lowering.h for the value model. Each Lower* function documents the HLO it emits; the
// patterns follow what XLA produces for the same computation written in JAX / TF (jax.nn, jax.lax,
// jax.image.resize), which is what the cost model is trained on.
#include "graph/onnx_lowering.h"

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
namespace {

using Dims = std::vector<int64_t>;

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string DimsStr(const Dims& dims) { return absl::StrCat("[", absl::StrJoin(dims, ","), "]"); }

// Product of dims[begin, end), saturating at 2^62 so corrupt shapes cannot overflow (every caller
// compares the result against limits far below that).
int64_t Product(const Dims& dims, size_t begin = 0, size_t end = std::string::npos) {
  constexpr int64_t kSaturated = int64_t{1} << 62;
  int64_t p = 1;
  for (size_t i = begin; i < dims.size() && i < end; ++i) {
    if (dims[i] <= 0) return dims[i] == 0 ? 0 : kSaturated;
    p = p > kSaturated / dims[i] ? kSaturated : p * dims[i];
  }
  return p;
}

Dims Strides(const Dims& dims) {
  Dims s(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

// Calls fn(multi_index, linear_index) for every element of `dims` in row-major order.
void ForEachIndex(const Dims& dims, const std::function<void(const Dims&, int64_t)>& fn) {
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
absl::StatusOr<Dims> BroadcastDims(const Dims& a, const Dims& b) {
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
std::vector<int64_t> BroadcastSourceIndex(const Dims& in, const Dims& out) {
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

int64_t NormalizeAxis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

absl::Status CheckAxis(int64_t axis, int64_t rank, absl::string_view what) {
  if (axis < 0 || axis >= rank) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " axis ", axis, " is out of range for rank ", rank));
  }
  return absl::OkStatus();
}

// One dimension of the output of a window op: XLA's formula with base dilation, padding, window
// dilation and stride.
int64_t WindowOutputDim(int64_t in, const WindowDimension& w) {
  int64_t dilated_base = in == 0 ? 0 : (in - 1) * w.base_dilation + 1;
  int64_t padded = dilated_base + w.padding_low + w.padding_high;
  int64_t dilated_window = (w.size - 1) * w.window_dilation + 1;
  if (padded < dilated_window) return 0;
  return (padded - dilated_window) / w.stride + 1;
}

uint32_t F16BitsToF32Bits(uint16_t h) {
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

double BitsToFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

}  // namespace

int64_t Literal::size() const {
  return is_float() ? static_cast<int64_t>(floats.size()) : static_cast<int64_t>(ints.size());
}

bool Literal::IsSplat() const {
  if (size() == 0) return false;
  if (is_float()) {
    return std::all_of(floats.begin(), floats.end(), [&](double v) {
      return v == floats[0] || (std::isnan(v) && std::isnan(floats[0]));
    });
  }
  return std::all_of(ints.begin(), ints.end(), [&](int64_t v) { return v == ints[0]; });
}

Literal Literal::FromInts(PrimitiveType type, std::vector<int64_t> dims, std::vector<int64_t> values) {
  Literal lit;
  lit.type = type;
  lit.dims = std::move(dims);
  if (IsFloatingPoint(type)) {
    lit.floats.assign(values.begin(), values.end());
  } else {
    lit.ints = std::move(values);
    if (type == PrimitiveType::kPred) {
      for (int64_t& v : lit.ints) v = v != 0;
    }
  }
  return lit;
}

Literal Literal::FromDoubles(PrimitiveType type, std::vector<int64_t> dims,
                             std::vector<double> values) {
  Literal lit;
  lit.type = type;
  lit.dims = std::move(dims);
  if (IsFloatingPoint(type)) {
    lit.floats = std::move(values);
  } else {
    lit.ints.reserve(values.size());
    for (double v : values) {
      if (type == PrimitiveType::kPred) {
        lit.ints.push_back(v != 0);
      } else if (std::isnan(v)) {
        lit.ints.push_back(0);
      } else {
        v = std::trunc(v);
        v = std::min(v, 9.2e18);
        v = std::max(v, -9.2e18);
        lit.ints.push_back(static_cast<int64_t>(v));
      }
    }
  }
  return lit;
}

std::optional<PrimitiveType> PrimitiveTypeFromOnnx(int32_t elem_type) {
  switch (elem_type) {
    case onnx::TensorProto::FLOAT: return PrimitiveType::kF32;
    case onnx::TensorProto::UINT8: return PrimitiveType::kU8;
    case onnx::TensorProto::INT8: return PrimitiveType::kS8;
    case onnx::TensorProto::UINT16: return PrimitiveType::kU16;
    case onnx::TensorProto::INT16: return PrimitiveType::kS16;
    case onnx::TensorProto::INT32: return PrimitiveType::kS32;
    case onnx::TensorProto::INT64: return PrimitiveType::kS64;
    case onnx::TensorProto::BOOL: return PrimitiveType::kPred;
    case onnx::TensorProto::FLOAT16: return PrimitiveType::kF16;
    case onnx::TensorProto::DOUBLE: return PrimitiveType::kF64;
    case onnx::TensorProto::UINT32: return PrimitiveType::kU32;
    case onnx::TensorProto::UINT64: return PrimitiveType::kU64;
    case onnx::TensorProto::COMPLEX64: return PrimitiveType::kC64;
    case onnx::TensorProto::COMPLEX128: return PrimitiveType::kC128;
    case onnx::TensorProto::BFLOAT16: return PrimitiveType::kBF16;
    default: return std::nullopt;  // UNDEFINED, STRING, unknown values
  }
}

absl::StatusOr<std::optional<Literal>> LiteralFromTensor(const onnx::TensorProto& tensor,
                                                         int64_t max_elements) {
  std::optional<PrimitiveType> type = PrimitiveTypeFromOnnx(tensor.data_type());
  if (!type.has_value() || *type == PrimitiveType::kC64 || *type == PrimitiveType::kC128) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", tensor.name(),
                                                   "' has unsupported element type ",
                                                   tensor.data_type()));
  }
  Dims dims(tensor.dims().begin(), tensor.dims().end());
  for (int64_t d : dims) {
    if (d < 0 || d > kMaxDimension) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", tensor.name(), "' has invalid dims ", DimsStr(dims)));
    }
  }
  int64_t n = Product(dims);
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL || n > max_elements) {
    return std::optional<Literal>();
  }
  Literal lit;
  lit.type = *type;
  lit.dims = dims;
  auto mismatch = [&](int64_t have) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", tensor.name(), "' with dims ",
                                                   DimsStr(dims), " holds ", have,
                                                   " values, expected ", n));
  };
  if (tensor.has_raw_data()) {
    const std::string& raw = tensor.raw_data();
    int width = BitWidth(*type) / 8;
    if (static_cast<int64_t>(raw.size()) != n * width) {
      return mismatch(static_cast<int64_t>(raw.size()) / std::max(width, 1));
    }
    const char* p = raw.data();
    for (int64_t i = 0; i < n; ++i, p += width) {
      switch (*type) {
        case PrimitiveType::kF32: {
          float v;
          std::memcpy(&v, p, 4);
          lit.floats.push_back(v);
          break;
        }
        case PrimitiveType::kF64: {
          double v;
          std::memcpy(&v, p, 8);
          lit.floats.push_back(v);
          break;
        }
        case PrimitiveType::kF16: {
          uint16_t v;
          std::memcpy(&v, p, 2);
          lit.floats.push_back(BitsToFloat(F16BitsToF32Bits(v)));
          break;
        }
        case PrimitiveType::kBF16: {
          uint16_t v;
          std::memcpy(&v, p, 2);
          lit.floats.push_back(BitsToFloat(static_cast<uint32_t>(v) << 16));
          break;
        }
        case PrimitiveType::kS8: lit.ints.push_back(static_cast<int8_t>(*p)); break;
        case PrimitiveType::kU8:
        case PrimitiveType::kPred: lit.ints.push_back(static_cast<uint8_t>(*p)); break;
        case PrimitiveType::kS16: {
          int16_t v;
          std::memcpy(&v, p, 2);
          lit.ints.push_back(v);
          break;
        }
        case PrimitiveType::kU16: {
          uint16_t v;
          std::memcpy(&v, p, 2);
          lit.ints.push_back(v);
          break;
        }
        case PrimitiveType::kS32: {
          int32_t v;
          std::memcpy(&v, p, 4);
          lit.ints.push_back(v);
          break;
        }
        case PrimitiveType::kU32: {
          uint32_t v;
          std::memcpy(&v, p, 4);
          lit.ints.push_back(v);
          break;
        }
        case PrimitiveType::kS64:
        case PrimitiveType::kU64: {
          int64_t v;
          std::memcpy(&v, p, 8);
          lit.ints.push_back(v);
          break;
        }
        default:
          return absl::InvalidArgumentError(absl::StrCat("tensor '", tensor.name(),
                                                         "': cannot read element type ",
                                                         PrimitiveTypeName(*type)));
      }
    }
    return std::optional<Literal>(std::move(lit));
  }
  switch (*type) {
    case PrimitiveType::kF32:
      if (tensor.float_data_size() != n) return mismatch(tensor.float_data_size());
      lit.floats.assign(tensor.float_data().begin(), tensor.float_data().end());
      break;
    case PrimitiveType::kF64:
      if (tensor.double_data_size() != n) return mismatch(tensor.double_data_size());
      lit.floats.assign(tensor.double_data().begin(), tensor.double_data().end());
      break;
    case PrimitiveType::kF16:
    case PrimitiveType::kBF16:
      if (tensor.int32_data_size() != n) return mismatch(tensor.int32_data_size());
      for (int32_t v : tensor.int32_data()) {
        uint32_t bits = *type == PrimitiveType::kF16 ? F16BitsToF32Bits(static_cast<uint16_t>(v))
                                                      : static_cast<uint32_t>(v & 0xffff) << 16;
        lit.floats.push_back(BitsToFloat(bits));
      }
      break;
    case PrimitiveType::kS64:
      if (tensor.int64_data_size() != n) return mismatch(tensor.int64_data_size());
      lit.ints.assign(tensor.int64_data().begin(), tensor.int64_data().end());
      break;
    case PrimitiveType::kU32:
    case PrimitiveType::kU64:
      if (tensor.uint64_data_size() != n) return mismatch(tensor.uint64_data_size());
      for (uint64_t v : tensor.uint64_data()) lit.ints.push_back(static_cast<int64_t>(v));
      break;
    default:  // int8/16/32, uint8/16, bool: int32_data
      if (tensor.int32_data_size() != n) return mismatch(tensor.int32_data_size());
      lit.ints.assign(tensor.int32_data().begin(), tensor.int32_data().end());
      break;
  }
  return std::optional<Literal>(std::move(lit));
}

const Value* GraphLowerer::FindValue(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

void GraphLowerer::AddInput(const std::string& name, const Shape& shape) {
  Value v;
  v.shape = shape;
  Attributes attrs;
  attrs.parameter_number = next_parameter_++;
  v.id = program_->Add(HloOpcode::kParameter, shape, {}, std::move(attrs), name);
  used_names_.insert(name);
  values_[name] = std::move(v);
}

void GraphLowerer::AddInitializer(const std::string& name, const Shape& shape,
                                  std::optional<Literal> literal, bool external) {
  Value v;
  v.shape = shape;
  v.literal = std::move(literal);
  v.weight_name = name;
  v.has_external_data = external;
  values_[name] = std::move(v);
}

absl::StatusOr<int> GraphLowerer::Materialize(const std::string& name) {
  auto it = values_.find(name);
  if (it == values_.end()) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' is not defined"));
  }
  return MaterializeValue(name, it->second);
}

absl::StatusOr<int> GraphLowerer::MaterializeValue(const std::string& name, Value& value) {
  if (value.id >= 0) return value.id;
  Attributes attrs;
  std::string inst_name;
  HloOpcode opcode;
  if (!value.weight_name.empty()) {
    opcode = HloOpcode::kParameter;
    attrs.parameter_number = next_parameter_++;
    inst_name = absl::StrCat("weight:", value.weight_name);
  } else {
    opcode = HloOpcode::kConstant;
    if (value.literal.has_value() && value.literal->IsSplat()) {
      attrs.constant_value = value.literal->GetDouble(0);
    }
    inst_name = absl::StrCat("constant:", name);
  }
  std::string unique = inst_name;
  for (int k = 1; used_names_.contains(unique); ++k) unique = absl::StrCat(inst_name, ".", k);
  used_names_.insert(unique);
  names_in_node_.push_back(unique);
  value.id = program_->Add(opcode, value.shape, {}, std::move(attrs), unique);
  materialized_in_node_.push_back(name);
  return value.id;
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

  // Shared helpers of the lowerings.
  absl::StatusOr<Dims> ReshapeTarget(const Dims& in, const Dims& shape, bool allow_zero);
  absl::StatusOr<Dims> ReduceAxes(int64_t rank, int first_axes_input_opset, bool* noop);
  absl::StatusOr<int> SoftmaxAlong(int x, int64_t axis, bool log);
  absl::StatusOr<std::vector<WindowDimension>> ConvWindow(const Dims& in_spatial,
                                                          const Dims& kernel, bool pool);
  absl::StatusOr<int> ResizeDim(int x, int64_t dim, int64_t out, const std::string& mode);

  GraphLowerer& g_;
  const onnx::NodeProto& node_;
  std::string prefix_;
  std::vector<std::pair<std::string, Value>> outputs_;
};

namespace {

// ---- literal (constant-folding) helpers ----

// The literal whose element k is src[index[k]].
Literal Gathered(const Literal& src, Dims out_dims, const std::vector<int64_t>& index) {
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

Literal Reshaped(Literal lit, Dims dims) {
  lit.dims = std::move(dims);
  return lit;
}

Literal CastLiteral(const Literal& lit, PrimitiveType type) {
  if (lit.is_float()) return Literal::FromDoubles(type, lit.dims, lit.floats);
  return Literal::FromInts(type, lit.dims, lit.ints);
}

// Elementwise combination of up to three literals with NumPy broadcasting. `fn` sees doubles (exact
// for the small integers of shape arithmetic); integer results are truncated by FromDoubles, except
// that int64 operands are combined with `int_fn` when given (exact for large values such as INT64_MAX).
absl::StatusOr<Literal> ElementwiseLiteral(
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

AxisSlice ClampSlice(int64_t dim, int64_t start, int64_t end, int64_t step) {
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

Literal SliceLiteral(const Literal& lit, const std::vector<AxisSlice>& slices) {
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
constexpr double kErfP[] = {1.12837445e+00, 2.69096439e-01, 5.97237691e-02, 6.77012154e-03,
                            2.25808225e-04, -2.44269945e-06, 2.08767388e-08};
constexpr double kErfQ[] = {1.0, 0.57177253, 0.14364078, 0.02034398, 0.0017382};

}  // namespace

int NodeLowering::Erf(int x) {
  PrimitiveType t = TypeOf(x);
  const Dims& d = DimsOf(x);
  int lo = SplatConst(t, -4.0, d);
  int hi = SplatConst(t, 4.0, d);
  int xc = Emit(HloOpcode::kClamp, ShapeOf(x), {lo, x, hi}, {}, "clamp");
  int x2 = Emit(HloOpcode::kMultiply, ShapeOf(x), {xc, xc}, {}, "multiply");
  auto horner = [&](const double* c, int n) {
    int acc = SplatConst(t, c[n - 1], d);
    for (int i = n - 2; i >= 0; --i) {
      acc = Emit(HloOpcode::kMultiply, ShapeOf(x), {acc, x2}, {}, "multiply");
      acc = BinaryScalar(HloOpcode::kAdd, acc, c[i]);
    }
    return acc;
  };
  int p = horner(kErfP, 7);
  int q = horner(kErfQ, 5);
  int px = Emit(HloOpcode::kMultiply, ShapeOf(x), {xc, p}, {}, "multiply");
  return Emit(HloOpcode::kDivide, ShapeOf(x), {px, q}, {}, "erf");
}

// ---------------------------------------------------------------------------------------------------
// Trivial, constant and cast ops.

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

absl::Status NodeLowering::LowerUnary() {
  const std::string& op = node_.op_type();
  ASSIGN_OR_RETURN(const Value* in, InValue(0));
  if (const Literal* lit = Lit(0)) {
    std::function<double(double)> fn;
    if (op == "Neg") fn = [](double v) { return -v; };
    if (op == "Abs") fn = [](double v) { return std::fabs(v); };
    if (op == "Floor") fn = [](double v) { return std::floor(v); };
    if (op == "Ceil") fn = [](double v) { return std::ceil(v); };
    if (op == "Round") fn = [](double v) { return std::nearbyint(v); };
    if (op == "Sqrt") fn = [](double v) { return std::sqrt(v); };
    if (op == "Exp") fn = [](double v) { return std::exp(v); };
    if (op == "Log") fn = [](double v) { return std::log(v); };
    if (op == "Reciprocal") fn = [](double v) { return 1.0 / v; };
    if (op == "Relu") fn = [](double v) { return std::max(v, 0.0); };
    if (op == "Not") fn = [](double v) { return v == 0 ? 1.0 : 0.0; };
    if (op == "Sign") fn = [](double v) { return static_cast<double>((v > 0) - (v < 0)); };
    if (fn) {
      ASSIGN_OR_RETURN(Literal r, ElementwiseLiteral({lit}, lit->type, [&](const auto& a) {
                         return fn(a[0]);
                       }));
      SetOutLiteral(0, std::move(r));
      return absl::OkStatus();
    }
  }
  (void)in;
  ASSIGN_OR_RETURN(int x, Op(0));
  static const auto* kSimple = new absl::flat_hash_map<std::string, HloOpcode>{
      {"Neg", HloOpcode::kNegate},      {"Abs", HloOpcode::kAbs},
      {"Exp", HloOpcode::kExponential}, {"Log", HloOpcode::kLog},
      {"Sqrt", HloOpcode::kSqrt},       {"Tanh", HloOpcode::kTanh},
      {"Sigmoid", HloOpcode::kLogistic}, {"Floor", HloOpcode::kFloor},
      {"Ceil", HloOpcode::kCeil},       {"Round", HloOpcode::kRoundNearestEven},
      {"Sign", HloOpcode::kSign},       {"Sin", HloOpcode::kSine},
      {"Cos", HloOpcode::kCosine},      {"Tan", HloOpcode::kTan},
      {"Not", HloOpcode::kNot},
  };
  int out;
  if (auto it = kSimple->find(op); it != kSimple->end()) {
    out = Unary(it->second, x);
  } else if (op == "Relu") {
    int zero = SplatConst(TypeOf(x), 0.0, DimsOf(x));
    out = Emit(HloOpcode::kMaximum, ShapeOf(x), {x, zero}, {}, "maximum");
  } else if (op == "Reciprocal") {
    int one = SplatConst(TypeOf(x), 1.0, DimsOf(x));
    out = Emit(HloOpcode::kDivide, ShapeOf(x), {one, x}, {}, "divide");
  } else if (op == "Erf") {
    out = Erf(x);
  } else if (op == "IsNaN") {
    Attributes attrs;
    attrs.comparison_direction = ComparisonDirection::kNe;
    out = Emit(HloOpcode::kCompare, Shape::Make(PrimitiveType::kPred, DimsOf(x)), {x, x},
               std::move(attrs), "compare");
  } else if (op == "Softplus") {
    out = Softplus(x);
  } else if (op == "Softsign") {
    int a = Unary(HloOpcode::kAbs, x);
    int d = BinaryScalar(HloOpcode::kAdd, a, 1.0);
    out = Emit(HloOpcode::kDivide, ShapeOf(x), {x, d}, {}, "divide");
  } else {
    return absl::UnimplementedError(absl::StrCat("no unary lowering for ", op));
  }
  SetOut(0, out);
  return absl::OkStatus();
}

absl::Status NodeLowering::LowerActivation() {
  const std::string& op = node_.op_type();
  ASSIGN_OR_RETURN(int x, Op(0));
  PrimitiveType t = TypeOf(x);
  const Dims& d = DimsOf(x);
  int out;
  if (op == "LeakyRelu") {
    // select(x > 0, x, alpha * x)
    int pos = CompareScalar(ComparisonDirection::kGt, x, 0.0);
    int neg = BinaryScalar(HloOpcode::kMultiply, x, AttrFloat("alpha", 0.01));
    ASSIGN_OR_RETURN(out, Select(pos, x, neg));
  } else if (op == "Elu" || op == "Selu" || op == "Celu") {
    double alpha = AttrFloat("alpha", op == "Selu" ? 1.67326319217681884765625 : 1.0);
    int pos = CompareScalar(ComparisonDirection::kGt, x, 0.0);
    int arg = op == "Celu" ? BinaryScalar(HloOpcode::kDivide, x, alpha) : x;
    int em1 = Unary(HloOpcode::kExponentialMinusOne, arg);
    int neg = BinaryScalar(HloOpcode::kMultiply, em1, alpha);
    ASSIGN_OR_RETURN(out, Select(pos, x, neg));
    if (op == "Selu") out = BinaryScalar(HloOpcode::kMultiply, out, AttrFloat("gamma", 1.05070102214813232421875));
  } else if (op == "ThresholdedRelu") {
    int pos = CompareScalar(ComparisonDirection::kGt, x, AttrFloat("alpha", 1.0));
    int zero = SplatConst(t, 0.0, d);
    ASSIGN_OR_RETURN(out, Select(pos, x, zero));
  } else if (op == "HardSigmoid") {
    ASSIGN_OR_RETURN(out, HardSigmoid(x, AttrFloat("alpha", 0.2), AttrFloat("beta", 0.5)));
  } else if (op == "HardSwish") {
    ASSIGN_OR_RETURN(int hs, HardSigmoid(x, 1.0 / 6.0, 0.5));
    out = Emit(HloOpcode::kMultiply, ShapeOf(x), {x, hs}, {}, "multiply");
  } else if (op == "Mish") {
    int sp = Softplus(x);
    int th = Unary(HloOpcode::kTanh, sp);
    out = Emit(HloOpcode::kMultiply, ShapeOf(x), {x, th}, {}, "multiply");
  } else if (op == "Gelu") {
    int inner;
    if (AttrString("approximate", "none") == "tanh") {
      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      int x2 = Emit(HloOpcode::kMultiply, ShapeOf(x), {x, x}, {}, "multiply");
      int x3 = Emit(HloOpcode::kMultiply, ShapeOf(x), {x2, x}, {}, "multiply");
      int c = BinaryScalar(HloOpcode::kMultiply, x3, 0.044715);
      int s = Emit(HloOpcode::kAdd, ShapeOf(x), {x, c}, {}, "add");
      int k = BinaryScalar(HloOpcode::kMultiply, s, std::sqrt(2.0 / M_PI));
      inner = Unary(HloOpcode::kTanh, k);
    } else {
      // 0.5 x (1 + erf(x / sqrt(2)))
      int scaled = BinaryScalar(HloOpcode::kMultiply, x, 1.0 / std::sqrt(2.0));
      inner = Erf(scaled);
    }
    int one_plus = BinaryScalar(HloOpcode::kAdd, inner, 1.0);
    int half_x = BinaryScalar(HloOpcode::kMultiply, x, 0.5);
    out = Emit(HloOpcode::kMultiply, ShapeOf(x), {half_x, one_plus}, {}, "multiply");
  } else {
    return absl::UnimplementedError(absl::StrCat("no activation lowering for ", op));
  }
  SetOut(0, out);
  return absl::OkStatus();
}

absl::Status NodeLowering::LowerBinary() {
  const std::string& op = node_.op_type();
  static const auto* kOps = new absl::flat_hash_map<std::string, HloOpcode>{
      {"Add", HloOpcode::kAdd},      {"Sub", HloOpcode::kSubtract}, {"Mul", HloOpcode::kMultiply},
      {"Div", HloOpcode::kDivide},   {"Pow", HloOpcode::kPower},    {"Mod", HloOpcode::kRemainder},
      {"And", HloOpcode::kAnd},      {"Or", HloOpcode::kOr},        {"Xor", HloOpcode::kXor},
  };
  auto it = kOps->find(op);
  if (it == kOps->end()) return absl::UnimplementedError(absl::StrCat("no binary lowering for ", op));
  HloOpcode opcode = it->second;
  const Literal *a = Lit(0), *b = Lit(1);
  if (a != nullptr && b != nullptr) {
    bool fmod = AttrInt("fmod", 0) != 0;
    auto fn = [&](const std::vector<double>& v) -> double {
      switch (opcode) {
        case HloOpcode::kAdd: return v[0] + v[1];
        case HloOpcode::kSubtract: return v[0] - v[1];
        case HloOpcode::kMultiply: return v[0] * v[1];
        case HloOpcode::kDivide:
          if (!a->is_float()) return v[1] == 0 ? 0 : std::trunc(v[0] / v[1]);
          return v[0] / v[1];
        case HloOpcode::kPower: return std::pow(v[0], v[1]);
        case HloOpcode::kRemainder: {
          if (v[1] == 0) return 0;
          double r = std::fmod(v[0], v[1]);
          if (!fmod && r != 0 && ((r < 0) != (v[1] < 0))) r += v[1];
          return r;
        }
        case HloOpcode::kAnd: return (v[0] != 0) && (v[1] != 0);
        case HloOpcode::kOr: return (v[0] != 0) || (v[1] != 0);
        case HloOpcode::kXor: return (v[0] != 0) != (v[1] != 0);
        default: return 0;
      }
    };
    std::function<int64_t(const std::vector<int64_t>&)> int_fn;
    if (opcode == HloOpcode::kAdd) int_fn = [](const auto& v) { return v[0] + v[1]; };
    if (opcode == HloOpcode::kSubtract) int_fn = [](const auto& v) { return v[0] - v[1]; };
    if (opcode == HloOpcode::kMultiply) int_fn = [](const auto& v) { return v[0] * v[1]; };
    if (opcode == HloOpcode::kDivide) {
      int_fn = [](const auto& v) { return v[1] == 0 ? int64_t{0} : v[0] / v[1]; };
    }
    ASSIGN_OR_RETURN(Literal r, ElementwiseLiteral({a, b}, a->type, fn, int_fn));
    if (r.size() <= kMaxFoldElements) {
      SetOutLiteral(0, std::move(r));
      return absl::OkStatus();
    }
  }
  ASSIGN_OR_RETURN(int x, Op(0));
  ASSIGN_OR_RETURN(int y, Op(1));
  ASSIGN_OR_RETURN(int out, Binary(opcode, x, y));
  SetOut(0, out);
  return absl::OkStatus();
}

// Sum / Mean / Max / Min over any number of inputs.
absl::Status NodeLowering::LowerVariadic() {
  const std::string& op = node_.op_type();
  HloOpcode opcode = op == "Max"   ? HloOpcode::kMaximum
                     : op == "Min" ? HloOpcode::kMinimum
                                   : HloOpcode::kAdd;
  bool all_literal = true;
  std::vector<const Literal*> lits;
  for (int i = 0; i < num_inputs(); ++i) {
    if (!HasIn(i)) continue;
    all_literal &= Lit(i) != nullptr;
    lits.push_back(Lit(i));
  }
  if (lits.empty()) return absl::InvalidArgumentError(absl::StrCat(op, " without inputs"));
  if (all_literal) {
    Literal acc = *lits[0];
    for (size_t i = 1; i < lits.size(); ++i) {
      ASSIGN_OR_RETURN(acc, ElementwiseLiteral({&acc, lits[i]}, acc.type, [&](const auto& v) {
                         return opcode == HloOpcode::kMaximum   ? std::max(v[0], v[1])
                                : opcode == HloOpcode::kMinimum ? std::min(v[0], v[1])
                                                                : v[0] + v[1];
                       }));
    }
    if (op == "Mean") {
      double n = static_cast<double>(lits.size());
      ASSIGN_OR_RETURN(acc, ElementwiseLiteral({&acc}, acc.type, [&](const auto& v) { return v[0] / n; }));
    }
    SetOutLiteral(0, std::move(acc));
    return absl::OkStatus();
  }
  int acc = -1;
  int count = 0;
  for (int i = 0; i < num_inputs(); ++i) {
    if (!HasIn(i)) continue;
    ASSIGN_OR_RETURN(int x, Op(i));
    ++count;
    if (acc < 0) {
      acc = x;
    } else {
      ASSIGN_OR_RETURN(acc, Binary(opcode, acc, x));
    }
  }
  if (op == "Mean" && count > 1) acc = Mean(acc, count);
  SetOut(0, acc);
  return absl::OkStatus();
}

absl::Status NodeLowering::LowerCompare() {
  const std::string& op = node_.op_type();
  ComparisonDirection dir = op == "Equal"          ? ComparisonDirection::kEq
                            : op == "Less"         ? ComparisonDirection::kLt
                            : op == "LessOrEqual"  ? ComparisonDirection::kLe
                            : op == "Greater"      ? ComparisonDirection::kGt
                                                   : ComparisonDirection::kGe;
  const Literal *a = Lit(0), *b = Lit(1);
  if (a != nullptr && b != nullptr) {
    ASSIGN_OR_RETURN(Literal r, ElementwiseLiteral({a, b}, PrimitiveType::kPred, [&](const auto& v) {
                       switch (dir) {
                         case ComparisonDirection::kEq: return double(v[0] == v[1]);
                         case ComparisonDirection::kLt: return double(v[0] < v[1]);
                         case ComparisonDirection::kLe: return double(v[0] <= v[1]);
                         case ComparisonDirection::kGt: return double(v[0] > v[1]);
                         default: return double(v[0] >= v[1]);
                       }
                     }));
    if (r.size() <= kMaxFoldElements) {
      SetOutLiteral(0, std::move(r));
      return absl::OkStatus();
    }
  }
  ASSIGN_OR_RETURN(int x, Op(0));
  ASSIGN_OR_RETURN(int y, Op(1));
  ASSIGN_OR_RETURN(int out, Compare(dir, x, y));
  SetOut(0, out);
  return absl::OkStatus();
}

absl::Status NodeLowering::LowerWhere() {
  const Literal *c = Lit(0), *a = Lit(1), *b = Lit(2);
  if (c != nullptr && a != nullptr && b != nullptr) {
    ASSIGN_OR_RETURN(Literal r, ElementwiseLiteral({c, a, b}, a->type, [](const auto& v) {
                       return v[0] != 0 ? v[1] : v[2];
                     }, [](const auto& v) { return v[0] != 0 ? v[1] : v[2]; }));
    if (r.size() <= kMaxFoldElements) {
      SetOutLiteral(0, std::move(r));
      return absl::OkStatus();
    }
  }
  ASSIGN_OR_RETURN(int cond, Op(0));
  ASSIGN_OR_RETURN(int x, Op(1));
  ASSIGN_OR_RETURN(int y, Op(2));
  ASSIGN_OR_RETURN(int out, Select(cond, x, y));
  SetOut(0, out);
  return absl::OkStatus();
}

// clamp(min, x, max) with broadcast bounds; a missing bound is -inf / +inf (the type's lowest /
// highest value for integers).
absl::Status NodeLowering::LowerClip() {
  ASSIGN_OR_RETURN(int x, Op(0));
  PrimitiveType t = TypeOf(x);
  const Dims& d = DimsOf(x);
  double lowest = IsFloatingPoint(t) ? -kInf : static_cast<double>(std::numeric_limits<int64_t>::lowest());
  double highest = IsFloatingPoint(t) ? kInf : static_cast<double>(std::numeric_limits<int64_t>::max());
  auto bound = [&](int input, const char* attr, double def) -> absl::StatusOr<int> {
    if (g_.opset_ < 11) return SplatConst(t, AttrFloat(attr, def), d);
    if (!HasIn(input)) return SplatConst(t, def, d);
    if (const Literal* lit = Lit(input)) {
      if (lit->size() != 1) return absl::InvalidArgumentError("Clip bound must be a scalar");
      return SplatConst(t, lit->GetDouble(0), d);
    }
    ASSIGN_OR_RETURN(int b, Op(input));
    b = Convert(b, t);
    return BroadcastTo(b, d);
  };
  ASSIGN_OR_RETURN(int lo, bound(1, "min", lowest));
  ASSIGN_OR_RETURN(int hi, bound(2, "max", highest));
  SetOut(0, Emit(HloOpcode::kClamp, ShapeOf(x), {lo, x, hi}, {}, "clamp"));
  return absl::OkStatus();
}

// select(x >= 0, x, slope * x) with the slope broadcast to x (unidirectional).
absl::Status NodeLowering::LowerPRelu() {
  ASSIGN_OR_RETURN(int x, Op(0));
  ASSIGN_OR_RETURN(int slope, Op(1));
  Dims sd = DimsOf(slope);
  const Dims& xd = DimsOf(x);
  // ONNX < 7 style per-channel slope [C] on an N-d input broadcasts along dim 1.
  if (sd.size() == 1 && xd.size() >= 2 && sd[0] == xd[1] && sd[0] != xd.back()) {
    slope = Broadcast(slope, xd, {1});
  } else {
    ASSIGN_OR_RETURN(slope, BroadcastTo(slope, xd));
  }
  int neg = Emit(HloOpcode::kMultiply, ShapeOf(x), {x, slope}, {}, "multiply");
  int pos = CompareScalar(ComparisonDirection::kGe, x, 0.0);
  ASSIGN_OR_RETURN(int out, Select(pos, x, neg));
  SetOut(0, out);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------------
// Convolution, pooling windows.

// Spatial window of Conv / pooling from kernel_shape, strides, dilations, pads, auto_pad and (pooling)
// ceil_mode. SAME_* pads so that out = ceil(in / stride), the extra element going to the end
// (UPPER) or the beginning (LOWER). ceil_mode adds high padding so XLA's floor formula yields ONNX's
// ceil((in + pads - dilated_kernel) / stride) + 1.
absl::StatusOr<std::vector<WindowDimension>> NodeLowering::ConvWindow(const Dims& in_spatial,
                                                                      const Dims& kernel, bool pool) {
  size_t n = kernel.size();
  if (in_spatial.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("kernel_shape ", DimsStr(kernel), " does not match ",
                                                   in_spatial.size(), " spatial dims"));
  }
  Dims strides = AttrInts("strides").value_or(Dims(n, 1));
  Dims dilations = AttrInts("dilations").value_or(Dims(n, 1));
  Dims pads = AttrInts("pads").value_or(Dims(2 * n, 0));
  if (strides.empty()) strides.assign(n, 1);
  if (dilations.empty()) dilations.assign(n, 1);
  if (pads.empty()) pads.assign(2 * n, 0);
  if (strides.size() != n || dilations.size() != n || pads.size() != 2 * n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "strides ", DimsStr(strides), ", dilations ", DimsStr(dilations), " or pads ", DimsStr(pads),
        " do not match ", n, " spatial dims"));
  }
  std::string auto_pad = AttrString("auto_pad", "NOTSET");
  bool ceil_mode = pool && AttrInt("ceil_mode", 0) != 0;
  std::vector<WindowDimension> window(n);
  for (size_t i = 0; i < n; ++i) {
    WindowDimension& w = window[i];
    if (kernel[i] < 1 || strides[i] < 1 || dilations[i] < 1) {
      return absl::InvalidArgumentError(absl::StrCat("invalid kernel ", DimsStr(kernel), " / strides ",
                                                     DimsStr(strides), " / dilations ",
                                                     DimsStr(dilations)));
    }
    w.size = kernel[i];
    w.stride = strides[i];
    w.window_dilation = dilations[i];
    int64_t in = in_spatial[i];
    int64_t dk = (kernel[i] - 1) * dilations[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t out = (in + w.stride - 1) / w.stride;
      int64_t total = std::max<int64_t>(0, (out - 1) * w.stride + dk - in);
      if (auto_pad == "SAME_UPPER") {
        w.padding_low = total / 2;
        w.padding_high = total - w.padding_low;
      } else {
        w.padding_high = total / 2;
        w.padding_low = total - w.padding_high;
      }
    } else if (auto_pad == "VALID") {
      w.padding_low = w.padding_high = 0;
    } else if (auto_pad == "NOTSET" || auto_pad.empty()) {
      w.padding_low = pads[i];
      w.padding_high = pads[i + n];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown auto_pad '", auto_pad, "'"));
    }
    if (ceil_mode) {
      int64_t padded = in + w.padding_low + w.padding_high;
      int64_t out_ceil = (padded - dk + w.stride - 1) / w.stride + 1;
      int64_t out_floor = WindowOutputDim(in, w);
      if (out_ceil > out_floor) w.padding_high += (out_ceil - 1) * w.stride + dk - padded;
    }
  }
  return window;
}

absl::Status NodeLowering::LowerConv() {
  ASSIGN_OR_RETURN(int x, Op(0));
  ASSIGN_OR_RETURN(int w, Op(1));
  Dims xd = DimsOf(x), wd = DimsOf(w);
  if (xd.size() < 3 || wd.size() != xd.size()) {
    return absl::InvalidArgumentError(absl::StrCat("Conv input ", DimsStr(xd), " and weight ",
                                                   DimsStr(wd), " must have equal rank >= 3"));
  }
  int64_t group = AttrInt("group", 1);
  if (group < 1 || xd[1] != wd[1] * group || wd[0] % group != 0) {
    return absl::InvalidArgumentError(absl::StrCat("Conv input ", DimsStr(xd), ", weight ", DimsStr(wd),
                                                   " and group ", group, " are inconsistent"));
  }
  int n = static_cast<int>(xd.size()) - 2;
  Dims kernel = AttrInts("kernel_shape").value_or(Dims(wd.begin() + 2, wd.end()));
  if (kernel != Dims(wd.begin() + 2, wd.end())) {
    return absl::InvalidArgumentError(absl::StrCat("kernel_shape ", DimsStr(kernel),
                                                   " disagrees with weight ", DimsStr(wd)));
  }
  ASSIGN_OR_RETURN(std::vector<WindowDimension> window,
                   ConvWindow(Dims(xd.begin() + 2, xd.end()), kernel, false));
  Dims out = {xd[0], wd[0]};
  for (int i = 0; i < n; ++i) out.push_back(WindowOutputDim(xd[2 + i], window[i]));
  Attributes attrs;
  attrs.window = window;
  attrs.convolution_dimension_numbers = ConvolutionDimensionNumbers::Nchw(n);
  attrs.feature_group_count = group;
  int conv = Emit(HloOpcode::kConvolution, Shape::Make(TypeOf(x), out), {x, w}, std::move(attrs),
                  "convolution");
  if (HasIn(2)) {
    ASSIGN_OR_RETURN(int b, Op(2));
    if (DimsOf(b) != Dims{wd[0]}) {
      return absl::InvalidArgumentError(absl::StrCat("Conv bias ", DimsStr(DimsOf(b)), " must be [",
                                                     wd[0], "]"));
    }
    int bb = Broadcast(b, out, {1});
    conv = Emit(HloOpcode::kAdd, ShapeOf(conv), {conv, bb}, {}, "bias_add");
  }
  SetOut(0, conv);
  return absl::OkStatus();
}

// Transposed convolution as XLA expresses a convolution gradient: lhs (base) dilation = stride,
// padding (k-1)*d - pad (+ output_padding at the end), reversed window, kernel in/out features swapped.
absl::Status NodeLowering::LowerConvTranspose() {
  ASSIGN_OR_RETURN(int x, Op(0));
  ASSIGN_OR_RETURN(int w, Op(1));
  Dims xd = DimsOf(x), wd = DimsOf(w);
  if (xd.size() < 3 || wd.size() != xd.size()) {
    return absl::InvalidArgumentError(absl::StrCat("ConvTranspose input ", DimsStr(xd), " and weight ",
                                                   DimsStr(wd), " must have equal rank >= 3"));
  }
  size_t n = xd.size() - 2;
  int64_t group = AttrInt("group", 1);
  if (group < 1 || xd[1] != wd[0] || wd[0] % group != 0) {
    return absl::InvalidArgumentError(absl::StrCat("ConvTranspose input ", DimsStr(xd), ", weight ",
                                                   DimsStr(wd), " and group ", group,
                                                   " are inconsistent"));
  }
  int64_t out_channels = wd[1] * group;
  Dims kernel(wd.begin() + 2, wd.end());
  Dims strides = AttrInts("strides").value_or(Dims(n, 1));
  Dims dilations = AttrInts("dilations").value_or(Dims(n, 1));
  Dims pads = AttrInts("pads").value_or(Dims(2 * n, 0));
  Dims output_padding = AttrInts("output_padding").value_or(Dims(n, 0));
  std::optional<Dims> output_shape = AttrInts("output_shape");
  std::string auto_pad = AttrString("auto_pad", "NOTSET");
  if (strides.size() != n || dilations.size() != n || pads.size() != 2 * n ||
      output_padding.size() != n || (output_shape.has_value() && output_shape->size() != n)) {
    return absl::InvalidArgumentError("ConvTranspose attributes do not match the spatial rank");
  }
  std::vector<WindowDimension> window(n);
  Dims out = {xd[0], out_channels};
  for (size_t i = 0; i < n; ++i) {
    int64_t dk = (kernel[i] - 1) * dilations[i] + 1;
    int64_t natural = strides[i] * (xd[2 + i] - 1) + output_padding[i] + dk;
    int64_t pb = pads[i], pe = pads[i + n];
    bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
    if (output_shape.has_value() || same) {
      int64_t target = output_shape.has_value() ? (*output_shape)[i] : xd[2 + i] * strides[i];
      int64_t total = natural - target;
      if (auto_pad == "SAME_UPPER") {
        pb = total / 2;
        pe = total - total / 2;
      } else {
        pb = total - total / 2;
        pe = total / 2;
      }
    } else if (auto_pad == "VALID") {
      pb = pe = 0;
    }
    WindowDimension& win = window[i];
    win.size = kernel[i];
    win.stride = 1;
    win.base_dilation = strides[i];
    win.window_dilation = dilations[i];
    win.padding_low = (kernel[i] - 1) * dilations[i] - pb;
    win.padding_high = (kernel[i] - 1) * dilations[i] - pe + output_padding[i];
    win.window_reversal = true;
    out.push_back(WindowOutputDim(xd[2 + i], win));
  }
  ConvolutionDimensionNumbers dnums = ConvolutionDimensionNumbers::Nchw(static_cast<int>(n));
  if (group == 1) {
    dnums.kernel_input_feature_dimension = 0;
    dnums.kernel_output_feature_dimension = 1;
  } else {
    // [C, M/g, k...] -> [g, C/g, M/g, k...] -> [g, M/g, C/g, k...] -> [M, C/g, k...]
    Dims split = {group, wd[0] / group, wd[1]};
    split.insert(split.end(), kernel.begin(), kernel.end());
    int r = Reshape(w, split);
    Dims perm = {0, 2, 1};
    for (size_t i = 0; i < n; ++i) perm.push_back(3 + i);
    int t = Transpose(r, perm);
    Dims merged = {out_channels, wd[0] / group};
    merged.insert(merged.end(), kernel.begin(), kernel.end());
    w = Reshape(t, merged);
  }
  Attributes attrs;
  attrs.window = window;
  attrs.convolution_dimension_numbers = dnums;
  attrs.feature_group_count = group;
  int conv = Emit(HloOpcode::kConvolution, Shape::Make(TypeOf(x), out), {x, w}, std::move(attrs),
                  "convolution");
  if (HasIn(2)) {
    ASSIGN_OR_RETURN(int b, Op(2));
    int bb = Broadcast(b, out, {1});
    conv = Emit(HloOpcode::kAdd, ShapeOf(conv), {conv, bb}, {}, "bias_add");
  }
  SetOut(0, conv);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------------
// Matrix products.

absl::Status NodeLowering::LowerGemm() {
  ASSIGN_OR_RETURN(int a, Op(0));
  ASSIGN_OR_RETURN(int b, Op(1));
  if (DimsOf(a).size() != 2 || DimsOf(b).size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("Gemm operands ", DimsStr(DimsOf(a)), " and ",
                                                   DimsStr(DimsOf(b)), " must be matrices"));
  }
  if (AttrInt("transA", 0) != 0) a = Transpose(a, {1, 0});
  if (AttrInt("transB", 0) != 0) b = Transpose(b, {1, 0});
  if (DimsOf(a)[1] != DimsOf(b)[0]) {
    return absl::InvalidArgumentError(absl::StrCat("Gemm contracting dims differ: ",
                                                   DimsStr(DimsOf(a)), " x ", DimsStr(DimsOf(b))));
  }
  DotDimensionNumbers dnums;
  dnums.lhs_contracting_dimensions = {1};
  dnums.rhs_contracting_dimensions = {0};
  int out = Dot(a, b, dnums);
  double alpha = AttrFloat("alpha", 1.0), beta = AttrFloat("beta", 1.0);
  if (alpha != 1.0) out = BinaryScalar(HloOpcode::kMultiply, out, alpha, "alpha");
  if (HasIn(2) && beta != 0.0) {
    ASSIGN_OR_RETURN(int c, Op(2));
    c = Convert(c, TypeOf(out));
    if (beta != 1.0) c = BinaryScalar(HloOpcode::kMultiply, c, beta, "beta");
    ASSIGN_OR_RETURN(c, BroadcastTo(c, DimsOf(out)));
    out = Emit(HloOpcode::kAdd, ShapeOf(out), {out, c}, {}, "bias_add");
  }
  SetOut(0, out);
  return absl::OkStatus();
}

// NumPy matmul: 1-D operands get a unit dim (removed again after the dot); a 2-D rhs contracts
// directly against the last lhs dim (no batch dims, as XLA's dot_general does for x @ W); otherwise
// batch dims are broadcast to a common shape and become dot batch dims.
absl::Status NodeLowering::LowerMatMul() {
  ASSIGN_OR_RETURN(int a, Op(0));
  ASSIGN_OR_RETURN(int b, Op(1));
  Dims da = DimsOf(a), db = DimsOf(b);
  if (da.empty() || db.empty()) return absl::InvalidArgumentError("MatMul of a scalar");
  bool a_vec = da.size() == 1, b_vec = db.size() == 1;
  if (a_vec) a = Reshape(a, {1, da[0]});
  if (b_vec) b = Reshape(b, {db[0], 1});
  da = DimsOf(a);
  db = DimsOf(b);
  size_t ra = da.size(), rb = db.size();
  if (da[ra - 1] != db[rb - 2]) {
    return absl::InvalidArgumentError(
        absl::StrCat("MatMul contracting dims differ: ", DimsStr(da), " x ", DimsStr(db)));
  }
  DotDimensionNumbers dnums;
  Dims final_dims;
  int out;
  if (rb == 2) {
    dnums.lhs_contracting_dimensions = {static_cast<int64_t>(ra - 1)};
    dnums.rhs_contracting_dimensions = {0};
    out = Dot(a, b, dnums);
    final_dims.assign(da.begin(), da.end() - 2);
  } else {
    ASSIGN_OR_RETURN(Dims batch, BroadcastDims(Dims(da.begin(), da.end() - 2),
                                               Dims(db.begin(), db.end() - 2)));
    Dims full_a = batch, full_b = batch;
    full_a.insert(full_a.end(), da.end() - 2, da.end());
    full_b.insert(full_b.end(), db.end() - 2, db.end());
    ASSIGN_OR_RETURN(a, BroadcastTo(a, full_a));
    ASSIGN_OR_RETURN(b, BroadcastTo(b, full_b));
    int64_t nb = static_cast<int64_t>(batch.size());
    for (int64_t i = 0; i < nb; ++i) {
      dnums.lhs_batch_dimensions.push_back(i);
      dnums.rhs_batch_dimensions.push_back(i);
    }
    dnums.lhs_contracting_dimensions = {nb + 1};
    dnums.rhs_contracting_dimensions = {nb};
    out = Dot(a, b, dnums);
    final_dims = batch;
  }
  if (!a_vec) final_dims.push_back(da[ra - 2]);
  if (!b_vec) final_dims.push_back(db[rb - 1]);
  SetOut(0, Reshape(out, final_dims));
  return absl::OkStatus();
}

// Einsum with one or two operands and no repeated label within an operand: labels summed in only
// one operand are reduced first, then one dot (batch = shared labels kept in the output, contracting
// = shared labels not kept), then a transpose to the output order.
absl::Status NodeLowering::LowerEinsum() {
  std::string eq;
  for (char c : AttrString("equation", "")) {
    if (c != ' ') eq += c;
  }
  std::vector<std::string> sides = absl::StrSplit(eq, "->");
  if (sides.size() > 2) return absl::InvalidArgumentError(absl::StrCat("bad equation '", eq, "'"));
  std::vector<std::string> ins = absl::StrSplit(sides[0], ',');
  int count = 0;
  for (int i = 0; i < num_inputs(); ++i) count += HasIn(i);
  if (static_cast<int>(ins.size()) != count || count < 1 || count > 2) {
    return absl::UnimplementedError(absl::StrCat("Einsum '", eq, "' with ", count, " operands"));
  }
  // Expand "..." into digit labels aligned from the right.
  size_t max_ell = 0;
  std::vector<int> operands;
  for (int i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(int x, Op(i));
    operands.push_back(x);
    size_t pos = ins[i].find("...");
    if (pos != std::string::npos) {
      size_t e = DimsOf(x).size() - (ins[i].size() - 3);
      max_ell = std::max(max_ell, e);
    }
  }
  if (max_ell > 10) return absl::UnimplementedError("Einsum ellipsis of more than 10 dims");
  auto expand = [&](const std::string& s, size_t e) {
    size_t pos = s.find("...");
    if (pos == std::string::npos) return s;
    std::string labels;
    for (size_t k = max_ell - e; k < max_ell; ++k) labels += static_cast<char>('0' + k);
    return s.substr(0, pos) + labels + s.substr(pos + 3);
  };
  for (int i = 0; i < count; ++i) {
    size_t pos = ins[i].find("...");
    size_t e = pos == std::string::npos ? 0 : DimsOf(operands[i]).size() - (ins[i].size() - 3);
    ins[i] = expand(ins[i], e);
    if (ins[i].size() != DimsOf(operands[i]).size()) {
      return absl::InvalidArgumentError(absl::StrCat("Einsum term '", ins[i], "' does not match rank ",
                                                     DimsOf(operands[i]).size()));
    }
    for (size_t k = 0; k < ins[i].size(); ++k) {
      if (ins[i].find(ins[i][k]) != k) {
        return absl::UnimplementedError(absl::StrCat("Einsum '", eq, "' with a repeated label"));
      }
    }
  }
  std::string out_labels;
  if (sides.size() == 2) {
    out_labels = expand(sides[1], max_ell);
  } else {
    std::string all = absl::StrJoin(ins, "");
    for (size_t k = 0; k < max_ell; ++k) out_labels += static_cast<char>('0' + k);
    std::string letters;
    for (char c : all) {
      if (std::isalpha(static_cast<unsigned char>(c)) && std::count(all.begin(), all.end(), c) == 1) letters += c;
    }
    std::sort(letters.begin(), letters.end());
    out_labels += letters;
  }
  absl::flat_hash_map<char, int64_t> size;
  for (int i = 0; i < count; ++i) {
    for (size_t k = 0; k < ins[i].size(); ++k) {
      int64_t d = DimsOf(operands[i])[k];
      auto [it, inserted] = size.emplace(ins[i][k], d);
      if (!inserted && it->second != d) {
        return absl::UnimplementedError(absl::StrCat("Einsum label '", std::string(1, ins[i][k]),
                                                     "' has sizes ", it->second, " and ", d));
      }
    }
  }
  auto has = [](const std::string& s, char c) { return s.find(c) != std::string::npos; };
  // Reduce labels that appear in one operand only and not in the output.
  for (int i = 0; i < count; ++i) {
    const std::string& other = count == 2 ? ins[1 - i] : std::string();
    Dims reduce;
    std::string kept;
    for (size_t k = 0; k < ins[i].size(); ++k) {
      char c = ins[i][k];
      if (!has(out_labels, c) && !has(other, c)) {
        reduce.push_back(static_cast<int64_t>(k));
      } else {
        kept += c;
      }
    }
    if (!reduce.empty()) {
      operands[i] = Reduce(operands[i], reduce, HloOpcode::kAdd, 0.0);
      ins[i] = kept;
    }
  }
  std::string result_labels;
  int result;
  if (count == 1) {
    result = operands[0];
    result_labels = ins[0];
  } else {
    const std::string &la = ins[0], &lb = ins[1];
    DotDimensionNumbers dnums;
    std::string batch, lhs_free, rhs_free;
    for (size_t k = 0; k < la.size(); ++k) {
      char c = la[k];
      if (has(lb, c)) {
        if (has(out_labels, c)) {
          batch += c;
          dnums.lhs_batch_dimensions.push_back(static_cast<int64_t>(k));
          dnums.rhs_batch_dimensions.push_back(static_cast<int64_t>(lb.find(c)));
        } else {
          dnums.lhs_contracting_dimensions.push_back(static_cast<int64_t>(k));
          dnums.rhs_contracting_dimensions.push_back(static_cast<int64_t>(lb.find(c)));
        }
      } else {
        lhs_free += c;
      }
    }
    for (char c : lb) {
      if (!has(la, c)) rhs_free += c;
    }
    result = Dot(operands[0], operands[1], dnums);
    result_labels = batch + lhs_free + rhs_free;
  }
  if (result_labels.size() != out_labels.size()) {
    return absl::InvalidArgumentError(absl::StrCat("Einsum '", eq, "': output labels '", out_labels,
                                                   "' do not match the operands"));
  }
  Dims perm;
  for (char c : out_labels) {
    size_t pos = result_labels.find(c);
    if (pos == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("Einsum '", eq, "': unknown output label"));
    }
    perm.push_back(static_cast<int64_t>(pos));
  }
  SetOut(0, Transpose(result, perm));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------------
// Normalizations and softmax.

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
    } else {
      known *= out[i];
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

// Trilu: select(constant triangle mask, x, 0).
absl::Status NodeLowering::LowerTrilu() {
  ASSIGN_OR_RETURN(int x, Op(0));
  if (DimsOf(x).size() < 2) return absl::InvalidArgumentError("Trilu input rank < 2");
  int mask = DataConst(PrimitiveType::kPred, DimsOf(x), "triangle_mask");
  int zero = SplatConst(TypeOf(x), 0.0, DimsOf(x));
  ASSIGN_OR_RETURN(int out, Select(mask, x, zero));
  SetOut(0, out);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------------
// Dispatch.

const absl::flat_hash_map<std::string, NodeLowering::LowerFn>& NodeLowering::Table() {
  static const auto* table = [] {
    auto* t = new absl::flat_hash_map<std::string, LowerFn>();
    auto add = [&](std::initializer_list<const char*> ops, LowerFn fn) {
      for (const char* op : ops) (*t)[op] = fn;
    };
    add({"Identity"}, &NodeLowering::LowerIdentity);
    add({"Dropout"}, &NodeLowering::LowerDropout);
    add({"Constant"}, &NodeLowering::LowerConstant);
    add({"Shape"}, &NodeLowering::LowerShape);
    add({"Size"}, &NodeLowering::LowerSize);
    add({"ConstantOfShape"}, &NodeLowering::LowerConstantOfShape);
    add({"Range"}, &NodeLowering::LowerRange);
    add({"Cast"}, &NodeLowering::LowerCast);
    add({"CastLike"}, &NodeLowering::LowerCastLike);
    add({"Neg", "Abs", "Exp", "Log", "Sqrt", "Tanh", "Sigmoid", "Floor", "Ceil", "Round", "Sign",
         "Sin", "Cos", "Tan", "Not", "Relu", "Reciprocal", "Erf", "IsNaN", "Softplus", "Softsign"},
        &NodeLowering::LowerUnary);
    add({"LeakyRelu", "Elu", "Selu", "Celu", "ThresholdedRelu", "HardSigmoid", "HardSwish", "Mish",
         "Gelu"},
        &NodeLowering::LowerActivation);
    add({"Add", "Sub", "Mul", "Div", "Pow", "Mod", "And", "Or", "Xor"}, &NodeLowering::LowerBinary);
    add({"Sum", "Mean", "Max", "Min"}, &NodeLowering::LowerVariadic);
    add({"Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"}, &NodeLowering::LowerCompare);
    add({"Where"}, &NodeLowering::LowerWhere);
    add({"Clip"}, &NodeLowering::LowerClip);
    add({"PRelu"}, &NodeLowering::LowerPRelu);
    add({"Conv"}, &NodeLowering::LowerConv);
    add({"ConvTranspose"}, &NodeLowering::LowerConvTranspose);
    add({"Gemm"}, &NodeLowering::LowerGemm);
    add({"MatMul"}, &NodeLowering::LowerMatMul);
    add({"Einsum"}, &NodeLowering::LowerEinsum);
    add({"BatchNormalization"}, &NodeLowering::LowerBatchNorm);
    add({"InstanceNormalization"}, &NodeLowering::LowerInstanceNorm);
    add({"LayerNormalization"}, &NodeLowering::LowerLayerNorm);
    add({"LRN"}, &NodeLowering::LowerLrn);
    add({"Softmax", "LogSoftmax"}, &NodeLowering::LowerSoftmax);
    add({"MaxPool", "AveragePool"}, &NodeLowering::LowerPool);
    add({"GlobalAveragePool", "GlobalMaxPool"}, &NodeLowering::LowerGlobalPool);
    add({"Reshape"}, &NodeLowering::LowerReshape);
    add({"Flatten"}, &NodeLowering::LowerFlatten);
    add({"Squeeze"}, &NodeLowering::LowerSqueeze);
    add({"Unsqueeze"}, &NodeLowering::LowerUnsqueeze);
    add({"Transpose"}, &NodeLowering::LowerTranspose);
    add({"Concat"}, &NodeLowering::LowerConcat);
    add({"Slice"}, &NodeLowering::LowerSlice);
    add({"Split"}, &NodeLowering::LowerSplit);
    add({"Pad"}, &NodeLowering::LowerPad);
    add({"Resize", "Upsample"}, &NodeLowering::LowerResize);
    add({"Expand"}, &NodeLowering::LowerExpand);
    add({"Tile"}, &NodeLowering::LowerTile);
    add({"Gather"}, &NodeLowering::LowerGather);
    add({"GatherElements"}, &NodeLowering::LowerGatherElements);
    add({"GatherND"}, &NodeLowering::LowerGatherNd);
    add({"ScatterND", "ScatterElements", "Scatter"}, &NodeLowering::LowerScatter);
    add({"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
         "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"},
        &NodeLowering::LowerReduce);
    add({"ArgMax", "ArgMin"}, &NodeLowering::LowerArgMinMax);
    add({"CumSum"}, &NodeLowering::LowerCumSum);
    add({"DepthToSpace"}, &NodeLowering::LowerDepthToSpace);
    add({"SpaceToDepth"}, &NodeLowering::LowerSpaceToDepth);
    add({"TopK"}, &NodeLowering::LowerTopK);
    add({"Trilu"}, &NodeLowering::LowerTrilu);
    return t;
  }();
  return *table;
}

bool HasLowering(const std::string& domain, const std::string& op_type) {
  if (domain.empty() || domain == "ai.onnx") return NodeLowering::Table().contains(op_type);
  if (domain == "com.microsoft") return op_type == "Gelu";
  return false;
}

absl::Status NodeLowering::Run() {
  auto it = Table().find(node_.op_type());
  if (it == Table().end()) {
    return absl::UnimplementedError(absl::StrCat("no lowering for op ", node_.op_type()));
  }
  for (int i = 0; i < node_.input_size(); ++i) {
    if (HasIn(i) && In(i) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("input '", node_.input(i), "' is not defined"));
    }
  }
  return (this->*(it->second))();
}

// ---------------------------------------------------------------------------------------------------
// GraphLowerer.

absl::Status GraphLowerer::LowerNode(const onnx::NodeProto& node, bool allow_unsupported,
                                     std::vector<std::pair<std::string, std::string>>* unsupported) {
  int start_size = program_->size();
  int start_parameter = next_parameter_;
  materialized_in_node_.clear();
  names_in_node_.clear();
  NodeLowering lowering(*this, node);
  absl::Status status = HasLowering(node.domain(), node.op_type())
                            ? lowering.Run()
                            : absl::UnimplementedError(absl::StrCat("no lowering for op ", node.op_type()));
  if (status.ok()) {
    lowering.Commit();
  } else {
    if (status.code() != absl::StatusCode::kUnimplemented || !allow_unsupported) return status;
    // Roll back the partial lowering and keep the node as a custom-call.
    program_->instructions.resize(start_size);
    next_parameter_ = start_parameter;
    for (const std::string& name : names_in_node_) used_names_.erase(name);
    for (const std::string& name : materialized_in_node_) values_[name].id = -1;
    names_in_node_.clear();
    materialized_in_node_.clear();
    std::string op = node.domain().empty() || node.domain() == "ai.onnx"
                         ? node.op_type()
                         : absl::StrCat(node.domain(), ".", node.op_type());
    unsupported->emplace_back(op, node.name());
    RETURN_IF_ERROR(EmitCustomCall(node));
  }
  return CheckOutputs(node);
}

absl::Status GraphLowerer::EmitCustomCall(const onnx::NodeProto& node) {
  std::vector<int> operands;
  for (const std::string& in : node.input()) {
    if (in.empty()) continue;
    ASSIGN_OR_RETURN(int id, Materialize(in));
    operands.push_back(id);
  }
  std::vector<Shape> shapes;
  for (const std::string& out : node.output()) {
    auto it = inferred_->find(out);
    const onnx::TypeProto* type = it == inferred_->end() ? nullptr : it->second;
    std::optional<PrimitiveType> elem;
    Dims dims;
    bool ok = type != nullptr && type->has_tensor_type() && type->tensor_type().has_shape();
    if (ok) {
      elem = PrimitiveTypeFromOnnx(type->tensor_type().elem_type());
      ok = elem.has_value();
      for (const auto& d : type->tensor_type().shape().dim()) {
        ok &= d.has_dim_value();
        dims.push_back(d.dim_value());
      }
    }
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "output '", out, "' of unsupported op ", node.op_type(),
          " has no static shape from ONNX shape inference; cannot keep it as a custom-call"));
    }
    shapes.push_back(Shape::Make(*elem, dims));
  }
  std::string base = node.name();
  while (!base.empty() && base[0] == '/') base.erase(0, 1);
  if (base.empty()) base = absl::StrCat(node.op_type(), ":", node.output_size() > 0 ? node.output(0) : "");
  auto unique = [&](const std::string& name) {
    std::string u = name;
    for (int k = 1; used_names_.contains(u); ++k) u = absl::StrCat(name, ".", k);
    used_names_.insert(u);
    return u;
  };
  Attributes attrs;
  attrs.custom_call_target = node.op_type();
  if (shapes.size() == 1) {
    Value v;
    v.shape = shapes[0];
    v.id = program_->Add(HloOpcode::kCustomCall, shapes[0], operands, std::move(attrs),
                         unique(absl::StrCat(base, ".custom-call")));
    values_[node.output(0)] = std::move(v);
    return absl::OkStatus();
  }
  int call = program_->Add(HloOpcode::kCustomCall, Shape::Tuple(shapes), operands, std::move(attrs),
                           unique(absl::StrCat(base, ".custom-call")));
  for (int i = 0; i < node.output_size(); ++i) {
    if (node.output(i).empty()) continue;
    Attributes gte;
    gte.tuple_index = i;
    Value v;
    v.shape = shapes[i];
    v.id = program_->Add(HloOpcode::kGetTupleElement, shapes[i], {call}, std::move(gte),
                         unique(absl::StrCat(base, ".get-tuple-element")));
    values_[node.output(i)] = std::move(v);
  }
  return absl::OkStatus();
}

// Every output must exist and agree with ONNX's inferred type and (known) dims.
absl::Status GraphLowerer::CheckOutputs(const onnx::NodeProto& node) {
  for (const std::string& out : node.output()) {
    if (out.empty()) continue;
    auto vit = values_.find(out);
    if (vit == values_.end()) {
      return absl::InternalError(absl::StrCat("lowering of ", node.op_type(), " produced no value for output '",
                                              out, "'"));
    }
    const Shape& mine = vit->second.shape;
    RETURN_IF_ERROR(mine.Validate());
    auto it = inferred_->find(out);
    if (it == inferred_->end() || !it->second->has_tensor_type()) continue;
    const auto& tt = it->second->tensor_type();
    std::optional<PrimitiveType> type = PrimitiveTypeFromOnnx(tt.elem_type());
    bool mismatch = type.has_value() && *type != mine.element_type;
    if (tt.has_shape()) {
      if (tt.shape().dim_size() != mine.rank()) {
        mismatch = true;
      } else {
        for (int i = 0; i < tt.shape().dim_size(); ++i) {
          const auto& d = tt.shape().dim(i);
          if (d.has_dim_value() && d.dim_value() != mine.dims[i]) mismatch = true;
        }
      }
    }
    if (mismatch) {
      std::string onnx_dims;
      if (tt.has_shape()) {
        std::vector<std::string> parts;
        for (const auto& d : tt.shape().dim()) {
          parts.push_back(d.has_dim_value() ? absl::StrCat(d.dim_value()) : (d.dim_param().empty() ? "?" : d.dim_param()));
        }
        onnx_dims = absl::StrCat("[", absl::StrJoin(parts, ","), "]");
      } else {
        onnx_dims = "(unranked)";
      }
      std::string onnx_shape = absl::StrCat(type.has_value() ? PrimitiveTypeName(*type) : "?", onnx_dims);
      if (declared_->contains(out)) {
        return absl::InvalidArgumentError(absl::StrCat("the model declares tensor '", out, "' as ", onnx_shape,
                                                       " but it computes ", mine.ToString(false)));
      }
      return absl::InternalError(absl::StrCat("lowered shape ", mine.ToString(false), " of output '", out,
                                              "' disagrees with ONNX shape inference (", onnx_shape, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace perfgraph::graph::onnx_internal
