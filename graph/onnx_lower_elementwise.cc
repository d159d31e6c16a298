// ONNX lowering, elementwise ops: unary math, activations, binary and variadic arithmetic, comparisons, Where, Clip, PRelu, Trilu.
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
    // Integer folding wraps around (two's complement, as integer tensors do at run time) instead
    // of overflowing int64_t, which is undefined behaviour (found by fuzz/onnx_import_fuzzer.cc).
    auto wrap = [](uint64_t value) { return static_cast<int64_t>(value); };
    if (opcode == HloOpcode::kAdd) {
      int_fn = [wrap](const auto& v) { return wrap(uint64_t(v[0]) + uint64_t(v[1])); };
    }
    if (opcode == HloOpcode::kSubtract) {
      int_fn = [wrap](const auto& v) { return wrap(uint64_t(v[0]) - uint64_t(v[1])); };
    }
    if (opcode == HloOpcode::kMultiply) {
      int_fn = [wrap](const auto& v) { return wrap(uint64_t(v[0]) * uint64_t(v[1])); };
    }
    if (opcode == HloOpcode::kDivide) {
      int_fn = [wrap](const auto& v) {
        if (v[1] == 0) return int64_t{0};
        if (v[1] == -1) return wrap(uint64_t{0} - uint64_t(v[0]));  // INT64_MIN / -1 wraps
        return v[0] / v[1];
      };
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


}  // namespace perfgraph::graph::onnx_internal
