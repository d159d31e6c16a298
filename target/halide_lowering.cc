#include "target/halide_lowering.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"

namespace perfgraph::target::internal {
namespace {

using graph::HloOpcode;
using graph::Instruction;
using graph::Kernel;
using graph::PrimitiveType;
using graph::Shape;
using Halide::Expr;
using Halide::Func;
using Halide::RDom;
using Halide::RVar;
using Halide::TailStrategy;
using Halide::Type;
using Halide::Var;
using Halide::VarOrRVar;

// One lowered instruction: a pure Func over `rank` dims computing `type`.
struct Value {
  Func func;
  Type type;
  int rank = 0;
};

// The accumulator of a lowered reduction, for scheduling.
struct Reduction {
  int instruction = -1;
  Func acc;
  int rank = 0;                 // pure dims of acc
  std::vector<RVar> rvars;      // innermost first
  int split_rvar = -1;          // index into rvars of the loop reduction_split splits
};

// Halide variables d0, d1, ...; d0 is the innermost (last IR) dim. (Not "v<n>": Halide names its own
// implicit variables that way.)
const std::vector<Var>& Vars() {
  static const std::vector<Var>* vars = [] {
    auto* v = new std::vector<Var>();
    for (int i = 0; i < 64; ++i) v->push_back(Var(absl::StrCat("d", i)));
    return v;
  }();
  return *vars;
}

std::vector<Var> Args(int rank) { return std::vector<Var>(Vars().begin(), Vars().begin() + rank); }

// The IR index of a rank-`rank` Func's definition: IR dim d is Halide var v(rank-1-d).
std::vector<Expr> IrIndex(int rank) {
  std::vector<Expr> index(rank);
  for (int d = 0; d < rank; ++d) index[d] = Vars()[rank - 1 - d];
  return index;
}

// f at an IR index (Func or ImageParam).
template <typename F>
Expr Call(const F& f, const std::vector<Expr>& ir_index) {
  std::vector<Expr> args(ir_index.rbegin(), ir_index.rend());
  return f(args);
}

Expr ConvertTo(Type t, Expr e) {
  if (t.is_bool()) return e.type().is_bool() ? e : (e != Halide::Internal::make_zero(e.type()));
  if (e.type().is_bool()) return Halide::select(e, Halide::Internal::make_one(t), Halide::Internal::make_zero(t));
  return e.type() == t ? e : Halide::cast(t, e);
}

bool FitsInt32(int64_t v) { return v >= 0 && v <= std::numeric_limits<int32_t>::max(); }

absl::Status CheckBufferShape(const Shape& shape) {
  if (shape.IsTuple()) {
    return absl::UnimplementedError(absl::StrCat("HalideCpuTarget: tuple shape ",
                                                 shape.ToString(false), " has no buffer"));
  }
  for (int64_t d : shape.dims) {
    if (!FitsInt32(d)) {
      return absl::InvalidArgumentError(absl::StrCat("HalideCpuTarget: dim ", d, " of ",
                                                     shape.ToString(false),
                                                     " does not fit Halide's int32 extents"));
    }
  }
  if (!FitsInt32(shape.NumElements())) {
    return absl::InvalidArgumentError(absl::StrCat("HalideCpuTarget: ", shape.ToString(false),
                                                   " has more than 2^31-1 elements"));
  }
  return absl::OkStatus();
}

std::vector<int> HalideSizes(const Shape& shape) {
  return std::vector<int>(shape.dims.rbegin(), shape.dims.rend());
}

// Deterministic 64-bit generator (splitmix64), so the same seed gives the same data everywhere.
uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Lowerer {
 public:
  // `schedule` false: leave every Func with Halide's default schedule (LowerKernelUnscheduled).
  Lowerer(const Kernel& kernel, const tiling::TileConfig& config, uint64_t seed, bool schedule)
      : kernel_(kernel), config_(config), seed_(seed), schedule_(schedule) {}

  absl::StatusOr<LoweredKernel> Lower();

 private:
  absl::Status Error(absl::StatusCode code, const Instruction& inst, absl::string_view what) const {
    return absl::Status(code, absl::StrCat("HalideCpuTarget: kernel '", kernel_.name,
                                           "', instruction '", inst.name, "' (",
                                           graph::HloOpcodeName(inst.opcode), " ",
                                           inst.shape.ToString(false), "): ", what));
  }
  absl::Status Invalid(const Instruction& inst, absl::string_view what) const {
    return Error(absl::StatusCode::kInvalidArgument, inst, what);
  }
  absl::Status Unimplemented(const Instruction& inst, absl::string_view what) const {
    return Error(absl::StatusCode::kUnimplemented, inst, what);
  }

  const Shape& OperandShape(const Instruction& inst, int k) const {
    return kernel_.instructions[inst.operands[k]].shape;
  }
  const Value& OperandValue(const Instruction& inst, int k) const {
    return values_[inst.operands[k]];
  }
  // Operand k at `ir_index` (a scalar operand ignores the index: XLA's implicit scalar broadcast).
  Expr Operand(const Instruction& inst, int k, const std::vector<Expr>& ir_index) const {
    const Value& v = OperandValue(inst, k);
    if (v.rank == 0) return v.func();
    return Call(v.func, ir_index);
  }
  absl::Status CheckOperands(const Instruction& inst, size_t n) const {
    if (inst.operands.size() != n) {
      return Invalid(inst, absl::StrCat("has ", inst.operands.size(), " operands, expected ", n));
    }
    return absl::OkStatus();
  }
  // Elementwise operands must have the result's dims or be scalars.
  absl::Status CheckElementwiseOperands(const Instruction& inst) const {
    for (size_t k = 0; k < inst.operands.size(); ++k) {
      const Shape& s = OperandShape(inst, static_cast<int>(k));
      if (s.rank() != 0 && s.dims != inst.shape.dims) {
        return Invalid(inst, absl::StrCat("operand ", k, " has shape ", s.ToString(false),
                                          ", not the result's dims or a scalar"));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Expr> LowerInstruction(const Instruction& inst, Type type);
  absl::StatusOr<Expr> LowerUnary(const Instruction& inst, Type type, Expr x);
  absl::StatusOr<Expr> LowerBinary(const Instruction& inst, Type type, Expr a, Expr b);
  absl::StatusOr<Expr> LowerDataMovement(const Instruction& inst, Type type);
  absl::StatusOr<Expr> LowerReduce(const Instruction& inst, Type type);
  absl::StatusOr<Expr> LowerReduceWindow(const Instruction& inst, Type type);
  absl::StatusOr<Expr> LowerConvolution(const Instruction& inst, Type type);
  absl::StatusOr<Expr> LowerDot(const Instruction& inst, Type type);
  // Combines an accumulator and a value with reduce_computation.
  absl::StatusOr<Expr> Combine(const Instruction& inst, Expr acc, Expr value) const;
  // Defines acc(args) = init; acc(args) = update and registers the reduction; returns acc's call.
  Expr DefineReduction(const Instruction& inst, Type type, Expr init, const RDom& rdom,
                       int split_rvar, const std::function<Expr(Expr acc)>& update);
  // For a windowed op (convolution, reduce-window) reading operand k: a Func over the operand's
  // base-dilated and edge-padded index space (padded coordinate p = position + padding_low, so every
  // window position is >= 0) that holds the operand, or `fill` in padding and dilation holes.
  // window_of_dim[d] is the window of operand dim d (nullptr: not windowed, identity). The Func is
  // computed per output tile (tile_funcs_), so window taps read it densely instead of through
  // clamped, guarded (gathered) loads.
  Func PaddedOperand(const Instruction& inst, int k,
                     const std::vector<const graph::WindowDimension*>& window_of_dim, Expr fill,
                     Type type);
  absl::Status Schedule(Func output);

  const Kernel& kernel_;
  const tiling::TileConfig& config_;
  uint64_t seed_;
  bool schedule_;
  std::vector<Value> values_;
  std::vector<Reduction> reductions_;
  std::vector<Func> tile_funcs_;  // pure Funcs computed per output tile (padded operands)
  LoweredKernel result_;
};

absl::StatusOr<LoweredKernel> Lowerer::Lower() {
  if (schedule_) {
    RETURN_IF_ERROR(tiling::Validate(kernel_, config_));
  } else {
    RETURN_IF_ERROR(kernel_.Validate());  // a tuple root fails CheckBufferShape below
  }
  // Parameters by number.
  int num_params = 0;
  for (const Instruction& inst : kernel_.instructions) {
    if (inst.opcode == HloOpcode::kParameter) ++num_params;
  }
  result_.params.resize(num_params);
  result_.param_shapes.resize(num_params);
  std::vector<bool> seen(num_params, false);
  values_.resize(kernel_.size());
  for (const Instruction& inst : kernel_.instructions) {
    if (absl::Status s = CheckBufferShape(inst.shape); !s.ok()) {
      return Error(s.code(), inst, s.message());
    }
    ASSIGN_OR_RETURN(Type type, ComputeType(inst.shape.element_type));
    const int rank = static_cast<int>(inst.shape.rank());
    Value value;
    value.func = Func(absl::StrCat("i", inst.id, "_", graph::HloOpcodeName(inst.opcode)));
    value.type = type;
    value.rank = rank;
    if (inst.opcode == HloOpcode::kParameter) {
      const int64_t n = inst.attrs.parameter_number;
      if (n < 0 || n >= num_params || seen[n]) {
        return Invalid(inst, absl::StrCat("parameter_number ", n, " is out of [0, ", num_params,
                                          ") or repeated"));
      }
      seen[n] = true;
      ASSIGN_OR_RETURN(Type storage, StorageType(inst.shape.element_type));
      result_.params[n] = Halide::ImageParam(storage, rank, absl::StrCat("p", n));
      result_.param_shapes[n] = inst.shape;
      value.func(Args(rank)) = ConvertTo(type, Call(result_.params[n], IrIndex(rank)));
    } else {
      for (int operand : inst.operands) {
        if (operand < 0 || operand >= inst.id) {
          return Invalid(inst, absl::StrCat("operand ", operand, " is not an earlier instruction"));
        }
      }
      ASSIGN_OR_RETURN(Expr e, LowerInstruction(inst, type));
      value.func(Args(rank)) = ConvertTo(type, e);
    }
    values_[inst.id] = std::move(value);
  }
  const Instruction& root = kernel_.root_instruction();
  ASSIGN_OR_RETURN(Type storage, StorageType(root.shape.element_type));
  const int rank = static_cast<int>(root.shape.rank());
  Func output("output");
  output(Args(rank)) = ConvertTo(storage, Call(values_[root.id].func, IrIndex(rank)));
  if (schedule_) RETURN_IF_ERROR(Schedule(output));
  result_.output = output;
  result_.output_shape = root.shape;
  return std::move(result_);
}

absl::StatusOr<Expr> Lowerer::LowerInstruction(const Instruction& inst, Type type) {
  const int rank = static_cast<int>(inst.shape.rank());
  const std::vector<Expr> idx = IrIndex(rank);
  const HloOpcode op = inst.opcode;
  if (op == HloOpcode::kConstant) {
    if (inst.attrs.constant_value.has_value()) {
      return ConvertTo(type, Expr(*inst.attrs.constant_value));
    }
    ASSIGN_OR_RETURN(Halide::Buffer<> data,
                     SeededBuffer(inst.shape, seed_ ^ (0xC0FFEEull + 7919ull * inst.id)));
    return ConvertTo(type, Call(Func(data), idx));
  }
  if (op == HloOpcode::kSelect || op == HloOpcode::kClamp) {
    RETURN_IF_ERROR(CheckOperands(inst, 3));
    RETURN_IF_ERROR(CheckElementwiseOperands(inst));
    Expr a = Operand(inst, 0, idx), b = Operand(inst, 1, idx), c = Operand(inst, 2, idx);
    if (op == HloOpcode::kSelect) {
      return Halide::select(ConvertTo(Halide::Bool(), a), ConvertTo(type, b), ConvertTo(type, c));
    }
    // clamp(min, operand, max)
    return Halide::min(Halide::max(ConvertTo(type, b), ConvertTo(type, a)), ConvertTo(type, c));
  }
  if (graph::IsElementwiseUnary(op)) {
    RETURN_IF_ERROR(CheckOperands(inst, 1));
    RETURN_IF_ERROR(CheckElementwiseOperands(inst));
    return LowerUnary(inst, type, Operand(inst, 0, idx));
  }
  if (graph::IsElementwiseBinary(op)) {
    RETURN_IF_ERROR(CheckOperands(inst, 2));
    RETURN_IF_ERROR(CheckElementwiseOperands(inst));
    return LowerBinary(inst, type, Operand(inst, 0, idx), Operand(inst, 1, idx));
  }
  switch (op) {
    case HloOpcode::kReduce:
      return LowerReduce(inst, type);
    case HloOpcode::kReduceWindow:
      return LowerReduceWindow(inst, type);
    case HloOpcode::kConvolution:
      return LowerConvolution(inst, type);
    case HloOpcode::kDot:
      return LowerDot(inst, type);
    case HloOpcode::kCustomCall:
      return Unimplemented(inst, absl::StrCat("custom-call target '", inst.attrs.custom_call_target,
                                              "' has no Halide lowering"));
    default:
      return LowerDataMovement(inst, type);
  }
}

absl::StatusOr<Expr> Lowerer::LowerUnary(const Instruction& inst, Type type, Expr x) {
  const Type operand_type = x.type();
  const bool is_float = operand_type.is_float();
  Expr xf = ConvertTo(Halide::Float(32), x);
  if (is_float) xf = x;
  auto float_result = [&](Expr e) { return ConvertTo(type, e); };
  switch (inst.opcode) {
    case HloOpcode::kAbs:
      return ConvertTo(type, is_float ? Halide::abs(x) : Halide::cast(operand_type, Halide::abs(x)));
    case HloOpcode::kNegate:
      return ConvertTo(type, -x);
    case HloOpcode::kCopy:
    case HloOpcode::kConvert:
    case HloOpcode::kReducePrecision:
      return ConvertTo(type, x);
    case HloOpcode::kCeil:
      return is_float ? ConvertTo(type, Halide::ceil(x)) : ConvertTo(type, x);
    case HloOpcode::kFloor:
      return is_float ? ConvertTo(type, Halide::floor(x)) : ConvertTo(type, x);
    case HloOpcode::kRoundNearestEven:
      return is_float ? ConvertTo(type, Halide::round(x)) : ConvertTo(type, x);
    case HloOpcode::kRoundNearestAfz:
      return is_float ? ConvertTo(type, Halide::select(x < 0, -Halide::floor(-x + 0.5f),
                                                       Halide::floor(x + 0.5f)))
                      : ConvertTo(type, x);
    case HloOpcode::kSign: {
      Expr one = Halide::Internal::make_one(operand_type), zero = Halide::Internal::make_zero(operand_type);
      return ConvertTo(type, Halide::select(x > zero, one, x < zero, -one, x));
    }
    case HloOpcode::kCosine: return float_result(Halide::cos(xf));
    case HloOpcode::kSine: return float_result(Halide::sin(xf));
    case HloOpcode::kTan: return float_result(Halide::tan(xf));
    case HloOpcode::kExponential: return float_result(Halide::exp(xf));
    case HloOpcode::kExponentialMinusOne: return float_result(Halide::exp(xf) - 1.0f);
    case HloOpcode::kLog: return float_result(Halide::log(xf));
    case HloOpcode::kLogPlusOne: return float_result(Halide::log(xf + 1.0f));
    case HloOpcode::kLogistic: return float_result(1.0f / (1.0f + Halide::exp(-xf)));
    case HloOpcode::kSqrt: return float_result(Halide::sqrt(xf));
    case HloOpcode::kRsqrt: return float_result(1.0f / Halide::sqrt(xf));
    case HloOpcode::kTanh: return float_result(Halide::tanh(xf));
    case HloOpcode::kCbrt: {
      Expr c = Halide::pow(Halide::abs(xf), 1.0f / 3.0f);
      return float_result(Halide::select(xf < 0, -c, c));
    }
    case HloOpcode::kIsFinite:
      return ConvertTo(type, is_float ? Halide::is_finite(x) : Expr(true));
    case HloOpcode::kNot:
      return ConvertTo(type, operand_type.is_bool() ? !x : ~x);
    case HloOpcode::kPopcnt:
    case HloOpcode::kCountLeadingZeros: {
      if (is_float || operand_type.is_bool()) return Invalid(inst, "needs an integer operand");
      const PrimitiveType pt = OperandShape(inst, 0).element_type;
      const int bits = graph::BitWidth(pt) >= 8 ? graph::BitWidth(pt) : 8;
      Type native = Halide::UInt(bits);
      Expr v = Halide::cast(native, x);
      Expr r = inst.opcode == HloOpcode::kPopcnt ? Halide::popcount(v)
                                                  : Halide::count_leading_zeros(v);
      return ConvertTo(type, r);
    }
    case HloOpcode::kBitcastConvert: {
      const PrimitiveType from = OperandShape(inst, 0).element_type;
      const PrimitiveType to = inst.shape.element_type;
      auto native = [](PrimitiveType t) -> std::optional<Type> {
        switch (t) {
          case PrimitiveType::kF32: return Halide::Float(32);
          case PrimitiveType::kS32: return Halide::Int(32);
          case PrimitiveType::kU32: return Halide::UInt(32);
          case PrimitiveType::kS64: return Halide::Int(64);
          case PrimitiveType::kU64: return Halide::UInt(64);
          case PrimitiveType::kF64: return Halide::Float(64);
          default: return std::nullopt;
        }
      };
      std::optional<Type> nf = native(from), nt = native(to);
      if (!nf || !nt || nf->bits() != nt->bits()) {
        return Unimplemented(inst, "bitcast-convert is only lowered between 32/64-bit types of "
                                   "equal width");
      }
      return ConvertTo(type, Halide::reinterpret(*nt, Halide::cast(*nf, x)));
    }
    default:
      return Unimplemented(inst, "unary op has no Halide lowering (complex or unsupported)");
  }
}

absl::StatusOr<Expr> Lowerer::LowerBinary(const Instruction& inst, Type type, Expr a, Expr b) {
  // Operands are computed in their own types; arithmetic happens in the result type, comparisons in
  // the wider operand type.
  if (inst.opcode == HloOpcode::kCompare) {
    if (!inst.attrs.comparison_direction) return Invalid(inst, "compare without a direction");
    Type t = a.type();
    if (b.type() != t) {
      if (a.type().is_float() || b.type().is_float()) {
        t = Halide::Float(32);
      } else {
        t = a.type().bits() >= b.type().bits() ? a.type() : b.type();
      }
    }
    a = ConvertTo(t, a);
    b = ConvertTo(t, b);
    switch (*inst.attrs.comparison_direction) {
      case graph::ComparisonDirection::kEq: return ConvertTo(type, a == b);
      case graph::ComparisonDirection::kNe: return ConvertTo(type, a != b);
      case graph::ComparisonDirection::kLt: return ConvertTo(type, a < b);
      case graph::ComparisonDirection::kLe: return ConvertTo(type, a <= b);
      case graph::ComparisonDirection::kGt: return ConvertTo(type, a > b);
      case graph::ComparisonDirection::kGe: return ConvertTo(type, a >= b);
    }
  }
  a = ConvertTo(type, a);
  b = ConvertTo(type, b);
  const bool is_float = type.is_float();
  const bool is_bool = type.is_bool();
  auto trunc_div = [&](Expr x, Expr y) {
    // Halide's integer division rounds toward -inf; XLA truncates toward zero.
    Expr q = x / y;
    Expr r = x - q * y;
    Expr one = Halide::Internal::make_one(type);
    return Halide::select(x < 0 && r != 0, q + Halide::select(y > 0, one, -one), q);
  };
  switch (inst.opcode) {
    case HloOpcode::kAdd: return is_bool ? (a || b) : a + b;
    case HloOpcode::kSubtract: return a - b;
    case HloOpcode::kMultiply: return is_bool ? (a && b) : a * b;
    case HloOpcode::kDivide: return is_float ? a / b : trunc_div(a, b);
    case HloOpcode::kRemainder:
      return is_float ? a - b * Halide::trunc(a / b) : a - b * trunc_div(a, b);
    case HloOpcode::kMaximum: return is_bool ? (a || b) : Halide::max(a, b);
    case HloOpcode::kMinimum: return is_bool ? (a && b) : Halide::min(a, b);
    case HloOpcode::kPower:
      if (is_float) return Halide::pow(a, b);
      return ConvertTo(type, Halide::pow(ConvertTo(Halide::Float(32), a),
                                         ConvertTo(Halide::Float(32), b)));
    case HloOpcode::kAtan2:
      return ConvertTo(type, Halide::atan2(ConvertTo(Halide::Float(32), a),
                                           ConvertTo(Halide::Float(32), b)));
    case HloOpcode::kAnd: return is_bool ? (a && b) : (a & b);
    case HloOpcode::kOr: return is_bool ? (a || b) : (a | b);
    case HloOpcode::kXor: return is_bool ? (a != b) : (a ^ b);
    case HloOpcode::kShiftLeft:
    case HloOpcode::kShiftRightArithmetic:
    case HloOpcode::kShiftRightLogical: {
      if (is_float || is_bool) return Invalid(inst, "shift needs integer operands");
      if (inst.opcode == HloOpcode::kShiftLeft) return a << b;
      if (inst.opcode == HloOpcode::kShiftRightArithmetic) return a >> b;
      Type u = Halide::UInt(type.bits());
      return Halide::cast(type, Halide::cast(u, a) >> Halide::cast(u, b));
    }
    default:
      return Unimplemented(inst, "binary op has no Halide lowering (complex or unsupported)");
  }
}

absl::StatusOr<Expr> Lowerer::LowerDataMovement(const Instruction& inst, Type type) {
  const int rank = static_cast<int>(inst.shape.rank());
  const std::vector<Expr> idx = IrIndex(rank);
  const std::vector<int64_t>& out_dims = inst.shape.dims;
  const graph::Attributes& attrs = inst.attrs;
  switch (inst.opcode) {
    case HloOpcode::kBroadcast: {
      RETURN_IF_ERROR(CheckOperands(inst, 1));
      const Shape& in = OperandShape(inst, 0);
      if (attrs.dimensions.size() != in.dims.size()) {
        return Invalid(inst, absl::StrCat("broadcast dimensions {", absl::StrJoin(attrs.dimensions, ","),
                                          "} do not match operand rank ", in.rank()));
      }
      std::vector<Expr> in_idx(in.rank());
      for (size_t k = 0; k < attrs.dimensions.size(); ++k) {
        const int64_t d = attrs.dimensions[k];
        if (d < 0 || d >= rank || (out_dims[d] != in.dims[k] && in.dims[k] != 1)) {
          return Invalid(inst, absl::StrCat("broadcast maps operand dim ", k, " (", in.dims[k],
                                            ") to output dim ", d));
        }
        in_idx[k] = in.dims[k] == 1 ? Expr(0) : idx[d];
      }
      return Call(OperandValue(inst, 0).func, in_idx);
    }
    case HloOpcode::kReshape:
    case HloOpcode::kBitcast: {
      RETURN_IF_ERROR(CheckOperands(inst, 1));
      const Shape& in = OperandShape(inst, 0);
      if (in.NumElements() != inst.shape.NumElements()) {
        return Invalid(inst, absl::StrCat("reshape of ", in.ToString(false), " changes the element count"));
      }
      std::vector<Expr> in_idx(in.rank(), Expr(0));
      if (graph::SameNonUnitDims(in.dims, out_dims)) {
        // Only unit dims are inserted or removed: map the non-unit dims one to one.
        int j = 0;
        for (int d = 0; d < in.rank(); ++d) {
          if (in.dims[d] == 1) continue;
          while (out_dims[j] == 1) ++j;
          in_idx[d] = idx[j++];
        }
      } else {
        // Row-major linearisation: flat = sum idx[d] * stride[d], then de-linearise.
        Expr flat = Expr(0);
        for (int d = 0; d < rank; ++d) {
          flat = flat * static_cast<int>(out_dims[d]) + idx[d];
        }
        int64_t stride = 1;
        for (int d = static_cast<int>(in.rank()) - 1; d >= 0; --d) {
          Expr q = stride == 1 ? flat : flat / static_cast<int>(stride);
          in_idx[d] = d == 0 ? q : q % static_cast<int>(in.dims[d]);
          stride *= in.dims[d];
        }
      }
      return Call(OperandValue(inst, 0).func, in_idx);
    }
    case HloOpcode::kTranspose: {
      RETURN_IF_ERROR(CheckOperands(inst, 1));
      const Shape& in = OperandShape(inst, 0);
      if (static_cast<int>(attrs.dimensions.size()) != rank || in.rank() != rank) {
        return Invalid(inst, "transpose permutation does not match the ranks");
      }
      std::vector<Expr> in_idx(rank);
      std::vector<bool> used(rank, false);
      for (int i = 0; i < rank; ++i) {
        const int64_t p = attrs.dimensions[i];
        if (p < 0 || p >= rank || used[p] || in.dims[p] != out_dims[i]) {
          return Invalid(inst, absl::StrCat("transpose permutation {", absl::StrJoin(attrs.dimensions, ","),
                                            "} is not a permutation matching ", in.ToString(false)));
        }
        used[p] = true;
        in_idx[p] = idx[i];
      }
      return Call(OperandValue(inst, 0).func, in_idx);
    }
    case HloOpcode::kSlice: {
      RETURN_IF_ERROR(CheckOperands(inst, 1));
      const Shape& in = OperandShape(inst, 0);
      if (static_cast<int>(attrs.slice.size()) != rank || in.rank() != rank) {
        return Invalid(inst, "slice bounds do not match the ranks");
      }
      std::vector<Expr> in_idx(rank);
      for (int d = 0; d < rank; ++d) {
        const graph::SliceDimension& s = attrs.slice[d];
        if (s.stride < 1 || s.start < 0 || s.limit > in.dims[d] || s.start > s.limit ||
            (s.limit - s.start + s.stride - 1) / s.stride != out_dims[d]) {
          return Invalid(inst, absl::StrCat("slice [", s.start, ":", s.limit, ":", s.stride,
                                            "] of dim ", d, " (", in.dims[d],
                                            ") does not give ", out_dims[d], " elements"));
        }
        in_idx[d] = static_cast<int>(s.start) + idx[d] * static_cast<int>(s.stride);
      }
      return Call(OperandValue(inst, 0).func, in_idx);
    }
    case HloOpcode::kConcatenate: {
      if (inst.operands.empty() || attrs.dimensions.size() != 1) {
        return Invalid(inst, "concatenate needs operands and one dimension");
      }
      const int64_t c = attrs.dimensions[0];
      if (c < 0 || c >= rank) return Invalid(inst, absl::StrCat("concatenate dimension ", c));
      std::vector<int64_t> offsets;
      int64_t offset = 0;
      for (size_t k = 0; k < inst.operands.size(); ++k) {
        const Shape& s = OperandShape(inst, static_cast<int>(k));
        if (s.rank() != rank) return Invalid(inst, "concatenate operand rank mismatch");
        for (int d = 0; d < rank; ++d) {
          if (d != c && s.dims[d] != out_dims[d]) {
            return Invalid(inst, absl::StrCat("concatenate operand ", k, " ", s.ToString(false),
                                              " does not match the output in dim ", d));
          }
        }
        offsets.push_back(offset);
        offset += s.dims[c];
      }
      if (offset != out_dims[c]) return Invalid(inst, "concatenate sizes do not add up");
      std::optional<Expr> e;
      for (int k = static_cast<int>(inst.operands.size()) - 1; k >= 0; --k) {
        const int64_t n = OperandShape(inst, k).dims[c];
        if (n == 0) continue;
        std::vector<Expr> in_idx = idx;
        in_idx[c] = Halide::clamp(idx[c] - static_cast<int>(offsets[k]), 0, static_cast<int>(n - 1));
        Expr v = Call(OperandValue(inst, k).func, in_idx);
        e = e ? Halide::select(idx[c] < static_cast<int>(offsets[k] + n), v, *e) : v;
      }
      if (!e) return Invalid(inst, "concatenate of empty operands");
      return *e;
    }
    case HloOpcode::kPad: {
      RETURN_IF_ERROR(CheckOperands(inst, 2));
      const Shape& in = OperandShape(inst, 0);
      if (static_cast<int>(attrs.padding.size()) != rank || in.rank() != rank ||
          OperandShape(inst, 1).rank() != 0) {
        return Invalid(inst, "pad config or operand ranks do not match");
      }
      std::vector<Expr> in_idx(rank);
      Expr valid = Halide::Internal::const_true();
      for (int d = 0; d < rank; ++d) {
        const graph::PaddingDimension& p = attrs.padding[d];
        const int64_t n = in.dims[d];
        const int64_t expect = n == 0 ? p.edge_padding_low + p.edge_padding_high
                                      : p.edge_padding_low + p.edge_padding_high + n +
                                            (n - 1) * p.interior_padding;
        if (p.interior_padding < 0 || expect != out_dims[d] || n == 0) {
          return Invalid(inst, absl::StrCat("padding (", p.edge_padding_low, ", ",
                                            p.edge_padding_high, ", ", p.interior_padding,
                                            ") of dim ", d, " (", n, ") does not give ",
                                            out_dims[d]));
        }
        Expr pos = idx[d] - static_cast<int>(p.edge_padding_low);
        if (p.edge_padding_low <= 0 && p.edge_padding_high <= 0 && p.interior_padding == 0) {
          in_idx[d] = pos;  // pure crop: always inside
          continue;
        }
        const int step = static_cast<int>(p.interior_padding + 1);
        Expr q = step == 1 ? pos : pos / step;
        Expr ok = pos >= 0 && q < static_cast<int>(n);
        if (step > 1) ok = ok && (pos % step == 0);
        valid = valid && ok;
        in_idx[d] = Halide::clamp(q, 0, static_cast<int>(n - 1));
      }
      Expr v = Call(OperandValue(inst, 0).func, in_idx);
      return Halide::select(valid, v, ConvertTo(v.type(), OperandValue(inst, 1).func()));
    }
    case HloOpcode::kReverse: {
      RETURN_IF_ERROR(CheckOperands(inst, 1));
      std::vector<Expr> in_idx = idx;
      for (int64_t d : attrs.dimensions) {
        if (d < 0 || d >= rank) return Invalid(inst, absl::StrCat("reverse dimension ", d));
        in_idx[d] = static_cast<int>(out_dims[d] - 1) - idx[d];
      }
      if (OperandShape(inst, 0).dims != out_dims) return Invalid(inst, "reverse changes the shape");
      return Call(OperandValue(inst, 0).func, in_idx);
    }
    case HloOpcode::kGather: {
      // The importer's two axis forms (attrs.dimensions = {axis}): ONNX Gather, out = x.dims[:axis] +
      // ind.dims + x.dims[axis+1:], and ONNX GatherElements, out = ind.dims (same rank as x). Indices
      // may be negative (counted from the end); out-of-range indices are clamped. GatherND (no axis)
      // is not lowered.
      RETURN_IF_ERROR(CheckOperands(inst, 2));
      const Shape& x = OperandShape(inst, 0);
      const Shape& ind = OperandShape(inst, 1);
      if (attrs.dimensions.size() != 1) {
        return Unimplemented(inst, "gather without a single axis (GatherND) is not lowered");
      }
      const int64_t axis = attrs.dimensions[0];
      if (axis < 0 || axis >= x.rank() || x.dims[axis] == 0) {
        return Invalid(inst, absl::StrCat("gather axis ", axis, " of ", x.ToString(false)));
      }
      if (!graph::IsInteger(ind.element_type)) return Invalid(inst, "gather indices are not integers");
      const int n = static_cast<int>(x.dims[axis]);
      auto wrap = [n](Expr i) {
        i = Halide::cast(Halide::Int(32), i);
        return Halide::clamp(Halide::select(i < 0, i + n, i), 0, n - 1);
      };
      std::vector<Expr> x_idx(x.rank());
      const bool elements = ind.rank() == x.rank() && ind.dims == out_dims && x.rank() > 1;
      if (elements) {
        x_idx = idx;
        x_idx[axis] = wrap(Call(OperandValue(inst, 1).func, idx));
      } else {
        const int64_t ri = ind.rank();
        std::vector<int64_t> expect(x.dims.begin(), x.dims.begin() + axis);
        expect.insert(expect.end(), ind.dims.begin(), ind.dims.end());
        expect.insert(expect.end(), x.dims.begin() + axis + 1, x.dims.end());
        if (expect != out_dims) {
          return Invalid(inst, absl::StrCat("gather of ", x.ToString(false), " by ",
                                            ind.ToString(false), " on axis ", axis,
                                            " does not give the result dims"));
        }
        std::vector<Expr> ind_idx(idx.begin() + axis, idx.begin() + axis + ri);
        for (int64_t d = 0; d < axis; ++d) x_idx[d] = idx[d];
        x_idx[axis] = wrap(ri == 0 ? OperandValue(inst, 1).func()
                                   : Call(OperandValue(inst, 1).func, ind_idx));
        for (int64_t d = axis + 1; d < x.rank(); ++d) x_idx[d] = idx[d + ri - 1];
      }
      return Call(OperandValue(inst, 0).func, x_idx);
    }
    case HloOpcode::kIota: {
      if (attrs.dimensions.size() != 1 || attrs.dimensions[0] < 0 || attrs.dimensions[0] >= rank) {
        return Invalid(inst, "iota needs one dimension within the rank");
      }
      return ConvertTo(type, idx[attrs.dimensions[0]]);
    }
    default:
      return Unimplemented(inst, "op has no Halide lowering");
  }
}

absl::StatusOr<Expr> Lowerer::Combine(const Instruction& inst, Expr acc, Expr value) const {
  const bool is_bool = acc.type().is_bool();
  switch (inst.attrs.reduce_computation) {
    case HloOpcode::kAdd: return is_bool ? (acc || value) : acc + value;
    case HloOpcode::kMultiply: return is_bool ? (acc && value) : acc * value;
    case HloOpcode::kMaximum: return is_bool ? (acc || value) : Halide::max(acc, value);
    case HloOpcode::kMinimum: return is_bool ? (acc && value) : Halide::min(acc, value);
    case HloOpcode::kAnd: return is_bool ? (acc && value) : (acc & value);
    case HloOpcode::kOr: return is_bool ? (acc || value) : (acc | value);
    default:
      return Unimplemented(inst, absl::StrCat("reduce computation '",
                                              graph::HloOpcodeName(inst.attrs.reduce_computation),
                                              "' is not add, multiply, maximum, minimum, and, or"));
  }
}

Expr Lowerer::DefineReduction(const Instruction& inst, Type type, Expr init, const RDom& rdom,
                              int split_rvar, const std::function<Expr(Expr)>& update) {
  const int rank = static_cast<int>(inst.shape.rank());
  Reduction r;
  r.instruction = inst.id;
  r.acc = Func(absl::StrCat("i", inst.id, "_acc"));
  r.rank = rank;
  for (int k = 0; k < rdom.dimensions(); ++k) r.rvars.push_back(rdom[k]);
  r.split_rvar = split_rvar;
  const std::vector<Var> args = Args(rank);
  r.acc(args) = ConvertTo(type, init);
  const std::vector<Expr> idx = IrIndex(rank);
  r.acc(args) = ConvertTo(type, update(Call(r.acc, idx)));
  reductions_.push_back(r);
  return Call(r.acc, idx);
}

absl::StatusOr<Expr> Lowerer::LowerReduce(const Instruction& inst, Type type) {
  if (inst.operands.size() != 2) {
    return Unimplemented(inst, absl::StrCat("variadic reduce with ", inst.operands.size(),
                                            " operands (only input + init is lowered)"));
  }
  const Shape& in = OperandShape(inst, 0);
  if (OperandShape(inst, 1).rank() != 0) return Invalid(inst, "reduce init is not a scalar");
  const int in_rank = static_cast<int>(in.rank());
  std::vector<bool> reduced(in_rank, false);
  for (int64_t d : inst.attrs.dimensions) {
    if (d < 0 || d >= in_rank || reduced[d]) {
      return Invalid(inst, absl::StrCat("reduce dimension ", d, " of ", in.ToString(false)));
    }
    reduced[d] = true;
  }
  std::vector<int64_t> kept;
  for (int d = 0; d < in_rank; ++d) if (!reduced[d]) kept.push_back(in.dims[d]);
  if (kept != inst.shape.dims) {
    return Invalid(inst, absl::StrCat("reducing {", absl::StrJoin(inst.attrs.dimensions, ","),
                                      "} of ", in.ToString(false), " does not give the result dims"));
  }
  const int rank = static_cast<int>(inst.shape.rank());
  const std::vector<Expr> idx = IrIndex(rank);
  Expr init = ConvertTo(type, OperandValue(inst, 1).func());
  // RDom over reduced dims, innermost (highest IR dim) first.
  std::vector<Halide::Range> ranges;
  std::vector<int> rdim_of_dim(in_rank, -1);
  int split = -1;
  int64_t split_extent = 0;
  for (int d = in_rank - 1; d >= 0; --d) {
    if (!reduced[d]) continue;
    rdim_of_dim[d] = static_cast<int>(ranges.size());
    if (in.dims[d] > split_extent) {
      split_extent = in.dims[d];
      split = static_cast<int>(ranges.size());
    }
    ranges.push_back(Halide::Range(0, static_cast<int>(in.dims[d])));
  }
  auto input_at = [&](const std::vector<Expr>& rv) {
    std::vector<Expr> in_idx(in_rank);
    int j = 0;
    for (int d = 0; d < in_rank; ++d) in_idx[d] = reduced[d] ? rv[rdim_of_dim[d]] : idx[j++];
    return ConvertTo(type, Call(OperandValue(inst, 0).func, in_idx));
  };
  if (ranges.empty() || in.NumElements() == 0) {
    if (in.NumElements() == 0) return init;
    return Combine(inst, init, input_at({}));
  }
  RDom rdom(ranges, absl::StrCat("r", inst.id, "_"));
  std::vector<Expr> rv;
  for (int k = 0; k < rdom.dimensions(); ++k) rv.push_back(rdom[k]);
  Expr value = input_at(rv);
  ASSIGN_OR_RETURN(Expr check, Combine(inst, init, value));  // validates the computation
  (void)check;
  return DefineReduction(inst, type, init, rdom, split, [&](Expr acc) {
    return Combine(inst, acc, value).value();
  });
}

Func Lowerer::PaddedOperand(const Instruction& inst, int k,
                            const std::vector<const graph::WindowDimension*>& window_of_dim,
                            Expr fill, Type type) {
  const Shape& in = OperandShape(inst, k);
  const int rank = static_cast<int>(in.rank());
  const std::vector<Expr> idx = IrIndex(rank);
  std::vector<Expr> in_idx(rank);
  Expr valid = Halide::Internal::const_true();
  for (int d = 0; d < rank; ++d) {
    const graph::WindowDimension* w = window_of_dim[d];
    if (w == nullptr) {
      in_idx[d] = idx[d];
      continue;
    }
    const int bd = static_cast<int>(w->base_dilation);
    Expr pos = idx[d] - static_cast<int>(w->padding_low);
    Expr q = bd == 1 ? pos : pos / bd;
    Expr ok = pos >= 0 && q < static_cast<int>(in.dims[d]);
    if (bd > 1) ok = ok && (pos % bd == 0);
    valid = valid && ok;
    in_idx[d] = Halide::clamp(q, 0, static_cast<int>(in.dims[d] - 1));
  }
  Func padded(absl::StrCat("i", inst.id, "_padded", k));
  padded(Args(rank)) = Halide::select(
      valid, ConvertTo(type, Call(OperandValue(inst, k).func, in_idx)), ConvertTo(type, fill));
  tile_funcs_.push_back(padded);
  return padded;
}

absl::StatusOr<Expr> Lowerer::LowerReduceWindow(const Instruction& inst, Type type) {
  if (inst.operands.size() != 2) {
    return Unimplemented(inst, "variadic reduce-window (only input + init is lowered)");
  }
  const Shape& in = OperandShape(inst, 0);
  const int rank = static_cast<int>(inst.shape.rank());
  if (in.rank() != rank || static_cast<int>(inst.attrs.window.size()) != rank ||
      OperandShape(inst, 1).rank() != 0) {
    return Invalid(inst, "reduce-window window/operand ranks do not match");
  }
  const std::vector<Expr> idx = IrIndex(rank);
  Expr init = ConvertTo(type, OperandValue(inst, 1).func());
  std::vector<Halide::Range> ranges;
  std::vector<int> rdim_of_dim(rank, -1);
  int split = -1;
  int64_t split_extent = 1;
  for (int d = rank - 1; d >= 0; --d) {
    const graph::WindowDimension& w = inst.attrs.window[d];
    if (w.size < 1 || w.stride < 1 || w.window_dilation < 1 || w.base_dilation < 1) {
      return Invalid(inst, absl::StrCat("window of dim ", d, " has a non-positive size/stride/dilation"));
    }
    const int64_t base = (in.dims[d] - 1) * w.base_dilation + 1 + w.padding_low + w.padding_high;
    const int64_t win = (w.size - 1) * w.window_dilation + 1;
    const int64_t expect = base < win ? 0 : (base - win) / w.stride + 1;
    if (in.dims[d] == 0 || expect != inst.shape.dims[d]) {
      return Invalid(inst, absl::StrCat("window of dim ", d, " on ", in.dims[d],
                                        " elements gives ", expect, ", not ", inst.shape.dims[d]));
    }
    if (w.size > 1) {
      rdim_of_dim[d] = static_cast<int>(ranges.size());
      if (w.size > split_extent) {
        split_extent = w.size;
        split = static_cast<int>(ranges.size());
      }
      ranges.push_back(Halide::Range(0, static_cast<int>(w.size)));
    }
  }
  // Padded or base-dilated windows read a per-tile padded copy of the input (PaddedOperand).
  bool guarded = false;
  std::vector<const graph::WindowDimension*> window_of_dim(rank, nullptr);
  for (int d = 0; d < rank; ++d) {
    const graph::WindowDimension& w = inst.attrs.window[d];
    if (w.padded_or_dilated()) {
      guarded = true;
      window_of_dim[d] = &w;
    }
  }
  std::optional<Func> padded;
  if (guarded) padded = PaddedOperand(inst, 0, window_of_dim, init, type);
  auto value_at = [&](const std::vector<Expr>& rv) {
    std::vector<Expr> in_idx(rank);
    for (int d = 0; d < rank; ++d) {
      const graph::WindowDimension& w = inst.attrs.window[d];
      Expr k = rdim_of_dim[d] >= 0 ? rv[rdim_of_dim[d]] : Expr(0);
      // Position in the padded space; in the operand's own space when the dim is not padded.
      in_idx[d] = idx[d] * static_cast<int>(w.stride) + k * static_cast<int>(w.window_dilation);
      if (!padded) in_idx[d] -= static_cast<int>(w.padding_low);
    }
    return padded ? Call(*padded, in_idx)
                  : ConvertTo(type, Call(OperandValue(inst, 0).func, in_idx));
  };
  if (ranges.empty()) return Combine(inst, init, value_at({}));
  RDom rdom(ranges, absl::StrCat("r", inst.id, "_"));
  std::vector<Expr> rv;
  for (int k = 0; k < rdom.dimensions(); ++k) rv.push_back(rdom[k]);
  Expr value = value_at(rv);
  ASSIGN_OR_RETURN(Expr check, Combine(inst, init, value));
  (void)check;
  return DefineReduction(inst, type, init, rdom, split, [&](Expr acc) {
    return Combine(inst, acc, value).value();
  });
}

absl::StatusOr<Expr> Lowerer::LowerConvolution(const Instruction& inst, Type type) {
  RETURN_IF_ERROR(CheckOperands(inst, 2));
  if (!inst.attrs.convolution_dimension_numbers) {
    return Invalid(inst, "convolution without dimension numbers");
  }
  const graph::ConvolutionDimensionNumbers& dn = *inst.attrs.convolution_dimension_numbers;
  const Shape& lhs = OperandShape(inst, 0);
  const Shape& rhs = OperandShape(inst, 1);
  const Shape& out = inst.shape;
  const int num_spatial = static_cast<int>(dn.input_spatial_dimensions.size());
  if (inst.attrs.batch_group_count != 1) {
    return Unimplemented(inst, absl::StrCat("batch_group_count ", inst.attrs.batch_group_count));
  }
  auto in_range = [](int64_t d, const Shape& s) { return d >= 0 && d < s.rank(); };
  bool ok = lhs.rank() == num_spatial + 2 && rhs.rank() == num_spatial + 2 &&
            out.rank() == num_spatial + 2 &&
            static_cast<int>(dn.kernel_spatial_dimensions.size()) == num_spatial &&
            static_cast<int>(dn.output_spatial_dimensions.size()) == num_spatial &&
            static_cast<int>(inst.attrs.window.size()) == num_spatial &&
            in_range(dn.input_batch_dimension, lhs) && in_range(dn.input_feature_dimension, lhs) &&
            in_range(dn.kernel_input_feature_dimension, rhs) &&
            in_range(dn.kernel_output_feature_dimension, rhs) &&
            in_range(dn.output_batch_dimension, out) && in_range(dn.output_feature_dimension, out);
  for (int s = 0; ok && s < num_spatial; ++s) {
    ok = in_range(dn.input_spatial_dimensions[s], lhs) &&
         in_range(dn.kernel_spatial_dimensions[s], rhs) &&
         in_range(dn.output_spatial_dimensions[s], out);
  }
  if (!ok) return Invalid(inst, "convolution dimension numbers or window do not match the ranks");
  const int64_t groups = inst.attrs.feature_group_count;
  const int64_t cin = lhs.dims[dn.input_feature_dimension];
  const int64_t cin_g = rhs.dims[dn.kernel_input_feature_dimension];
  const int64_t cout = rhs.dims[dn.kernel_output_feature_dimension];
  if (groups < 1 || cin != cin_g * groups || cout % groups != 0 ||
      out.dims[dn.output_feature_dimension] != cout ||
      out.dims[dn.output_batch_dimension] != lhs.dims[dn.input_batch_dimension]) {
    return Invalid(inst, absl::StrCat("features do not match: input ", cin, ", kernel input ", cin_g,
                                      ", kernel output ", cout, ", groups ", groups));
  }
  const int64_t cout_g = cout / groups;
  for (int s = 0; s < num_spatial; ++s) {
    const graph::WindowDimension& w = inst.attrs.window[s];
    const int64_t n = lhs.dims[dn.input_spatial_dimensions[s]];
    if (w.stride < 1 || w.window_dilation < 1 || w.base_dilation < 1 ||
        w.size != rhs.dims[dn.kernel_spatial_dimensions[s]] || n == 0) {
      return Invalid(inst, absl::StrCat("window of spatial dim ", s,
                                        " does not match the kernel or has a non-positive "
                                        "stride/dilation"));
    }
    const int64_t base = (n - 1) * w.base_dilation + 1 + w.padding_low + w.padding_high;
    const int64_t win = (w.size - 1) * w.window_dilation + 1;
    const int64_t expect = base < win ? 0 : (base - win) / w.stride + 1;
    if (expect != out.dims[dn.output_spatial_dimensions[s]]) {
      return Invalid(inst, absl::StrCat("spatial dim ", s, ": input ", n, ", window ", w.size,
                                        " gives ", expect, " outputs, not ",
                                        out.dims[dn.output_spatial_dimensions[s]]));
    }
  }
  const int rank = static_cast<int>(out.rank());
  const std::vector<Expr> idx = IrIndex(rank);
  // RDom: kernel spatial dims (last spatial innermost), then input features of the group.
  std::vector<Halide::Range> ranges;
  for (int s = num_spatial - 1; s >= 0; --s) {
    ranges.push_back(Halide::Range(0, static_cast<int>(inst.attrs.window[s].size)));
  }
  ranges.push_back(Halide::Range(0, static_cast<int>(cin_g)));
  RDom r(ranges, absl::StrCat("r", inst.id, "_"));
  Expr r_ci = r[num_spatial];
  Expr o = idx[dn.output_feature_dimension];
  Expr group = groups == 1 ? Expr(0) : o / static_cast<int>(cout_g);
  std::vector<Expr> lhs_idx(rank), rhs_idx(rank);
  lhs_idx[dn.input_batch_dimension] = idx[dn.output_batch_dimension];
  lhs_idx[dn.input_feature_dimension] = groups == 1 ? r_ci : group * static_cast<int>(cin_g) + r_ci;
  rhs_idx[dn.kernel_output_feature_dimension] = o;
  rhs_idx[dn.kernel_input_feature_dimension] = r_ci;
  if (type.is_bool()) return Unimplemented(inst, "pred convolution");
  // Padded or base-dilated (transposed) convolutions read a per-tile padded copy of the input.
  bool guarded = false;
  std::vector<const graph::WindowDimension*> window_of_dim(lhs.rank(), nullptr);
  for (int s = 0; s < num_spatial; ++s) {
    const graph::WindowDimension& w = inst.attrs.window[s];
    if (w.padded_or_dilated()) {
      guarded = true;
      window_of_dim[dn.input_spatial_dimensions[s]] = &w;
    }
  }
  std::optional<Func> padded;
  if (guarded) padded = PaddedOperand(inst, 0, window_of_dim, Halide::Internal::make_zero(type), type);
  for (int s = 0; s < num_spatial; ++s) {
    const graph::WindowDimension& w = inst.attrs.window[s];
    Expr k = r[num_spatial - 1 - s];
    rhs_idx[dn.kernel_spatial_dimensions[s]] =
        w.window_reversal ? static_cast<int>(w.size - 1) - k : k;
    Expr pos = idx[dn.output_spatial_dimensions[s]] * static_cast<int>(w.stride) +
               k * static_cast<int>(w.window_dilation);
    if (!padded) pos -= static_cast<int>(w.padding_low);
    lhs_idx[dn.input_spatial_dimensions[s]] = pos;
  }
  Expr lhs_value = padded ? Call(*padded, lhs_idx)
                          : ConvertTo(type, Call(OperandValue(inst, 0).func, lhs_idx));
  Expr product = lhs_value * ConvertTo(type, Call(OperandValue(inst, 1).func, rhs_idx));
  return DefineReduction(inst, type, Halide::Internal::make_zero(type), r, num_spatial,
                         [&](Expr acc) { return acc + product; });
}

absl::StatusOr<Expr> Lowerer::LowerDot(const Instruction& inst, Type type) {
  RETURN_IF_ERROR(CheckOperands(inst, 2));
  if (!inst.attrs.dot_dimension_numbers) return Invalid(inst, "dot without dimension numbers");
  if (type.is_bool()) return Unimplemented(inst, "pred dot");
  const graph::DotDimensionNumbers& dn = *inst.attrs.dot_dimension_numbers;
  const Shape& lhs = OperandShape(inst, 0);
  const Shape& rhs = OperandShape(inst, 1);
  if (dn.lhs_batch_dimensions.size() != dn.rhs_batch_dimensions.size() ||
      dn.lhs_contracting_dimensions.size() != dn.rhs_contracting_dimensions.size()) {
    return Invalid(inst, "dot batch/contracting dimension lists differ in length");
  }
  // Role of each operand dim: -1 free, 0..nb-1 batch j, 1000+j contracting j.
  constexpr int kContract = 1000;
  auto roles = [&](const Shape& s, const std::vector<int64_t>& batch,
                   const std::vector<int64_t>& contract) -> std::optional<std::vector<int>> {
    std::vector<int> role(s.rank(), -1);
    for (size_t j = 0; j < batch.size(); ++j) {
      if (batch[j] < 0 || batch[j] >= s.rank() || role[batch[j]] != -1) return std::nullopt;
      role[batch[j]] = static_cast<int>(j);
    }
    for (size_t j = 0; j < contract.size(); ++j) {
      if (contract[j] < 0 || contract[j] >= s.rank() || role[contract[j]] != -1) return std::nullopt;
      role[contract[j]] = kContract + static_cast<int>(j);
    }
    return role;
  };
  std::optional<std::vector<int>> lrole =
      roles(lhs, dn.lhs_batch_dimensions, dn.lhs_contracting_dimensions);
  std::optional<std::vector<int>> rrole =
      roles(rhs, dn.rhs_batch_dimensions, dn.rhs_contracting_dimensions);
  if (!lrole || !rrole) return Invalid(inst, "dot dimension numbers are out of range or repeated");
  const size_t nb = dn.lhs_batch_dimensions.size();
  const size_t nc = dn.lhs_contracting_dimensions.size();
  std::vector<int64_t> expect;
  for (size_t j = 0; j < nb; ++j) {
    if (lhs.dims[dn.lhs_batch_dimensions[j]] != rhs.dims[dn.rhs_batch_dimensions[j]]) {
      return Invalid(inst, absl::StrCat("dot batch dim ", j, " sizes differ"));
    }
    expect.push_back(lhs.dims[dn.lhs_batch_dimensions[j]]);
  }
  for (size_t j = 0; j < nc; ++j) {
    if (lhs.dims[dn.lhs_contracting_dimensions[j]] != rhs.dims[dn.rhs_contracting_dimensions[j]]) {
      return Invalid(inst, absl::StrCat("dot contracting dim ", j, " sizes differ: ",
                                        lhs.dims[dn.lhs_contracting_dimensions[j]], " vs ",
                                        rhs.dims[dn.rhs_contracting_dimensions[j]]));
    }
  }
  for (int d = 0; d < lhs.rank(); ++d) if ((*lrole)[d] == -1) expect.push_back(lhs.dims[d]);
  for (int d = 0; d < rhs.rank(); ++d) if ((*rrole)[d] == -1) expect.push_back(rhs.dims[d]);
  if (expect != inst.shape.dims) {
    return Invalid(inst, absl::StrCat("dot of ", lhs.ToString(false), " and ", rhs.ToString(false),
                                      " gives dims {", absl::StrJoin(expect, ","), "}"));
  }
  const int rank = static_cast<int>(inst.shape.rank());
  const std::vector<Expr> idx = IrIndex(rank);
  // RDom over contracting pairs, the last pair innermost; the first pair is the split loop.
  std::vector<Halide::Range> ranges;
  for (int j = static_cast<int>(nc) - 1; j >= 0; --j) {
    ranges.push_back(Halide::Range(0, static_cast<int>(lhs.dims[dn.lhs_contracting_dimensions[j]])));
  }
  std::optional<RDom> rdom;
  std::vector<Expr> rv(nc);
  if (nc > 0) {
    rdom = RDom(ranges, absl::StrCat("r", inst.id, "_"));
    for (size_t j = 0; j < nc; ++j) rv[j] = (*rdom)[static_cast<int>(nc - 1 - j)];
  }
  int out_pos = static_cast<int>(nb);
  auto operand_index = [&](const Shape& s, const std::vector<int>& role) {
    std::vector<Expr> in_idx(s.rank());
    for (int d = 0; d < s.rank(); ++d) {
      if (role[d] == -1) {
        in_idx[d] = idx[out_pos++];
      } else if (role[d] >= kContract) {
        in_idx[d] = rv[role[d] - kContract];
      } else {
        in_idx[d] = idx[role[d]];
      }
    }
    return in_idx;
  };
  std::vector<Expr> lhs_idx = operand_index(lhs, *lrole);
  std::vector<Expr> rhs_idx = operand_index(rhs, *rrole);
  Expr product = ConvertTo(type, Call(OperandValue(inst, 0).func, lhs_idx)) *
                 ConvertTo(type, Call(OperandValue(inst, 1).func, rhs_idx));
  if (nc == 0) return product;
  return DefineReduction(inst, type, Halide::Internal::make_zero(type), *rdom, static_cast<int>(nc) - 1,
                         [&](Expr acc) { return acc + product; });
}

// Rows of an accumulator's second dim computed together in its update (see Schedule).
constexpr int kUnrollRows = 4;

absl::Status Lowerer::Schedule(Func output) {
  const Shape& shape = kernel_.root_instruction().shape;
  const int rank = static_cast<int>(shape.rank());
  const std::vector<Var> vars = Args(rank);
  // Loops of the output, innermost first; inner tile loops come first.
  std::vector<VarOrRVar> inner, rest;
  std::vector<std::optional<Var>> outer_of_slot(tiling::kMaxTiledDims);
  std::vector<std::optional<Var>> inner_of_slot(tiling::kMaxTiledDims);
  std::vector<bool> split_dim(rank, false);
  std::vector<std::optional<Var>> outer_of_hdim(rank);
  for (int i = 0; i < tiling::kMaxTiledDims; ++i) {
    const int d = config_.tiled_dims[i];
    if (d < 0) break;
    const int h = rank - 1 - d;
    const int64_t extent = shape.dims[d];
    if (config_.tile[i] < extent) {
      Var vo(absl::StrCat("d", h, "_o")), vi(absl::StrCat("d", h, "_i"));
      output.split(vars[h], vo, vi, static_cast<int>(config_.tile[i]), TailStrategy::ShiftInwards);
      outer_of_slot[i] = vo;
      inner_of_slot[i] = vi;
      outer_of_hdim[h] = vo;
    } else {
      inner_of_slot[i] = vars[h];
    }
    split_dim[h] = true;
    inner.push_back(*inner_of_slot[i]);
  }
  for (int h = 0; h < rank; ++h) {
    if (!split_dim[h]) {
      rest.push_back(vars[h]);
    } else if (outer_of_hdim[h]) {
      rest.push_back(*outer_of_hdim[h]);
    }
  }
  std::vector<VarOrRVar> order = inner;
  order.insert(order.end(), rest.begin(), rest.end());
  if (order.size() > 1) output.reorder(order);
  if (config_.vector_width > 1 && inner_of_slot[0]) {
    output.vectorize(*inner_of_slot[0], config_.vector_width, TailStrategy::ShiftInwards);
  }
  if (config_.parallel_loop >= 0) {
    const int p = config_.parallel_loop;
    if (outer_of_slot[p]) {
      output.parallel(*outer_of_slot[p]);
    } else if (inner_of_slot[p]) {
      output.parallel(*inner_of_slot[p]);
    }
  }
  // Padded operands: per tile of the output, innermost dim vectorised.
  for (Func& f : tile_funcs_) {
    if (!rest.empty()) {
      f.compute_at(output, rest.front().var);
    } else {
      f.compute_root();
    }
    if (config_.vector_width > 1 && f.dimensions() > 0) {
      f.vectorize(f.args()[0], config_.vector_width, TailStrategy::GuardWithIf);
    }
  }
  // Reductions: per tile of the output.
  const int primary = tiling::PrimaryReduction(kernel_);
  for (Reduction& r : reductions_) {
    if (!rest.empty()) {
      r.acc.compute_at(output, rest.front().var);
    } else {
      r.acc.compute_root();
    }
    const std::vector<Var> acc_vars = Args(r.rank);
    Halide::Stage update = r.acc.update(0);
    std::vector<VarOrRVar> update_order;
    if (r.rank > 0) update_order.push_back(acc_vars[0]);
    // Register blocking: kUnrollRows iterations of the second pure dim run unrolled inside the
    // reduction loops, so their accumulators can stay in registers across the reduction.
    std::optional<Var> row_outer;
    if (r.rank > 1) {
      Var ri(absl::StrCat("d1_r", r.instruction)), ro(absl::StrCat("d1_ro", r.instruction));
      update.split(acc_vars[1], ro, ri, kUnrollRows, TailStrategy::GuardWithIf);
      update.unroll(ri);
      update_order.push_back(ri);
      row_outer = ro;
    }
    std::optional<RVar> split_outer;
    for (int k = 0; k < static_cast<int>(r.rvars.size()); ++k) {
      if (k == r.split_rvar && r.instruction == primary && config_.reduction_split > 1 &&
          r.rvars[k].extent().defined()) {
        RVar ro(absl::StrCat(r.rvars[k].name(), "_o")), ri(absl::StrCat(r.rvars[k].name(), "_i"));
        update.split(r.rvars[k], ro, ri, static_cast<int>(config_.reduction_split),
                     TailStrategy::GuardWithIf);
        update_order.push_back(ri);
        split_outer = ro;
      } else {
        update_order.push_back(r.rvars[k]);
      }
    }
    if (row_outer) update_order.push_back(*row_outer);
    for (int h = 2; h < r.rank; ++h) update_order.push_back(acc_vars[h]);
    if (split_outer) update_order.push_back(*split_outer);
    if (update_order.size() > 1) update.reorder(update_order);
    if (config_.vector_width > 1 && r.rank > 0) {
      r.acc.vectorize(acc_vars[0], config_.vector_width, TailStrategy::GuardWithIf);
      update.vectorize(acc_vars[0], config_.vector_width, TailStrategy::GuardWithIf);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Type> ComputeType(PrimitiveType type) {
  switch (type) {
    case PrimitiveType::kPred:
      return Halide::Bool();
    case PrimitiveType::kS4: case PrimitiveType::kS8: case PrimitiveType::kS16:
    case PrimitiveType::kS32: case PrimitiveType::kU4: case PrimitiveType::kU8:
    case PrimitiveType::kU16:
      return Halide::Int(32);
    case PrimitiveType::kU32: case PrimitiveType::kS64: case PrimitiveType::kU64:
      return Halide::Int(64);
    case PrimitiveType::kF16: case PrimitiveType::kBF16: case PrimitiveType::kF32:
    case PrimitiveType::kF64: case PrimitiveType::kF8E5M2: case PrimitiveType::kF8E4M3FN:
    case PrimitiveType::kF8E4M3B11FNUZ: case PrimitiveType::kF8E5M2FNUZ:
    case PrimitiveType::kF8E4M3FNUZ:
      return Halide::Float(32);
    default:
      return absl::UnimplementedError(absl::StrCat("HalideCpuTarget: element type ",
                                                   graph::PrimitiveTypeName(type),
                                                   " is not lowered"));
  }
}

absl::StatusOr<Type> StorageType(PrimitiveType type) {
  ASSIGN_OR_RETURN(Type t, ComputeType(type));
  return t.is_bool() ? Halide::UInt(8) : t;
}

absl::StatusOr<Halide::Buffer<>> MakeBuffer(const Shape& shape) {
  RETURN_IF_ERROR(CheckBufferShape(shape));
  ASSIGN_OR_RETURN(Type t, StorageType(shape.element_type));
  return Halide::Buffer<>(t, HalideSizes(shape));
}

absl::StatusOr<Halide::Buffer<>> SeededBuffer(const Shape& shape, uint64_t seed) {
  ASSIGN_OR_RETURN(Halide::Buffer<> buffer, MakeBuffer(shape));
  uint64_t state = seed;
  const int64_t n = shape.NumElements();
  const Type t = buffer.type();
  void* data = buffer.data();
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t bits = SplitMix64(state);
    if (t.is_float()) {
      const double u = static_cast<double>(bits >> 11) * 0x1.0p-53;  // [0, 1)
      static_cast<float*>(data)[i] = static_cast<float>(2.0 * u - 1.0);
    } else if (t == Halide::UInt(8)) {
      static_cast<uint8_t*>(data)[i] = static_cast<uint8_t>(bits >> 63);
    } else if (t == Halide::Int(64)) {
      static_cast<int64_t*>(data)[i] = static_cast<int64_t>(bits >> 61);
    } else {
      static_cast<int32_t*>(data)[i] = static_cast<int32_t>(bits >> 61);
    }
  }
  return buffer;
}

absl::StatusOr<LoweredKernel> LowerKernel(const Kernel& kernel, const tiling::TileConfig& config,
                                          uint64_t seed) {
  try {
    Lowerer lowerer(kernel, config, seed, /*schedule=*/true);
    return lowerer.Lower();
  } catch (const Halide::Error& e) {
    return absl::InternalError(absl::StrCat("HalideCpuTarget: Halide rejected kernel '",
                                            kernel.name, "' with config '", config.ToString(),
                                            "': ", e.what()));
  }
}

absl::StatusOr<LoweredKernel> LowerKernelUnscheduled(const Kernel& kernel, uint64_t seed) {
  // Only Schedule() reads the config.
  const tiling::TileConfig unused;
  try {
    Lowerer lowerer(kernel, unused, seed, /*schedule=*/false);
    return lowerer.Lower();
  } catch (const Halide::Error& e) {
    return absl::InternalError(absl::StrCat("HalideCpuTarget: Halide rejected kernel '",
                                            kernel.name, "' (unscheduled): ", e.what()));
  }
}

}  // namespace perfgraph::target::internal
