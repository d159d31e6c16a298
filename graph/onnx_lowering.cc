// Lowering of ONNX operators to HLO-like instructions, and constant folding of shape subgraphs.
// See onnx_lowering.h for the value model. Each Lower* function documents the HLO it emits; the
// patterns follow what XLA produces for the same computation written in JAX / TF (jax.nn, jax.lax,
// jax.image.resize), which is what the cost model is trained on.
#include "graph/onnx_lowering.h"
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

int GraphLowerer::AddInstruction(HloOpcode opcode, Shape shape, std::vector<int> operands,
                                 Attributes attrs, absl::string_view name) {
  std::string unique(name);
  for (int k = 1; used_names_.contains(unique); ++k) unique = absl::StrCat(name, ".", k);
  used_names_.insert(unique);
  names_in_node_.push_back(unique);
  return program_->Add(opcode, std::move(shape), std::move(operands), std::move(attrs), unique);
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
    add({"If"}, &NodeLowering::LowerIf);
    add({"Loop"}, &NodeLowering::LowerLoop);
    add({"Scan"}, &NodeLowering::LowerScan);
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
  const size_t start_unsupported = unsupported->size();
  const size_t start_computations = control_flow_ != nullptr ? control_flow_->taken.size() : 0;
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
    // Computations (and unsupported nodes) of the node's subgraphs go with it.
    unsupported->resize(start_unsupported);
    while (control_flow_ != nullptr && control_flow_->taken.size() > start_computations) {
      const std::string name = control_flow_->taken.back();
      control_flow_->taken.pop_back();
      control_flow_->computation_names.erase(name);
      control_flow_->model->called_programs.erase(name);
      control_flow_->model->call_sites.erase(name);
    }
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
