#include "graph/expanders.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"

namespace perfgraph::graph {
namespace {

// Appends the instructions of one expansion to `out`, named "<prefix>/<role>", each with the origin
// of the instruction it replaces.
class Emitter {
 public:
  Emitter(std::vector<Instruction>* out, std::vector<int>* origin,
          absl::flat_hash_set<std::string>* used_names)
      : out_(out), origin_(origin), used_names_(used_names) {}

  void Start(const std::string& prefix, int origin) {
    prefix_ = prefix;
    current_origin_ = origin;
  }

  int Add(HloOpcode opcode, Shape shape, std::vector<int> operands, Attributes attrs,
          absl::string_view role) {
    Instruction inst;
    inst.id = static_cast<int>(out_->size());
    inst.opcode = opcode;
    inst.shape = std::move(shape);
    inst.operands = std::move(operands);
    inst.attrs = std::move(attrs);
    inst.name = UniqueName(role.empty() ? prefix_ : absl::StrCat(prefix_, "/", role));
    out_->push_back(std::move(inst));
    origin_->push_back(current_origin_);
    return out_->back().id;
  }
  // A scalar constant of `type` holding `value`.
  int Constant(PrimitiveType type, double value, absl::string_view role) {
    Attributes attrs;
    attrs.constant_value = value;
    return Add(HloOpcode::kConstant, Shape::Make(type, {}), {}, std::move(attrs), role);
  }
  // XLA broadcast: operand dim i -> output dim map[i].
  int Broadcast(int x, Shape to, std::vector<int64_t> map, absl::string_view role) {
    Attributes attrs;
    attrs.dimensions = std::move(map);
    return Add(HloOpcode::kBroadcast, std::move(to), {x}, std::move(attrs), role);
  }
  // reduce(x, init) over `dims` with an add computation.
  int ReduceSum(int x, int init, Shape to, std::vector<int64_t> dims, absl::string_view role) {
    Attributes attrs;
    attrs.dimensions = std::move(dims);
    attrs.reduce_computation = HloOpcode::kAdd;
    return Add(HloOpcode::kReduce, std::move(to), {x, init}, std::move(attrs), role);
  }
  int Binary(HloOpcode opcode, Shape shape, int a, int b, absl::string_view role) {
    return Add(opcode, std::move(shape), {a, b}, {}, role);
  }
  int Unary(HloOpcode opcode, Shape shape, int a, absl::string_view role) {
    return Add(opcode, std::move(shape), {a}, {}, role);
  }

 private:
  std::string UniqueName(const std::string& name) {
    std::string unique = name;
    for (int k = 1; used_names_->contains(unique); ++k) unique = absl::StrCat(name, ".", k);
    used_names_->insert(unique);
    return unique;
  }

  std::vector<Instruction>* out_;
  std::vector<int>* origin_;
  absl::flat_hash_set<std::string>* used_names_;
  std::string prefix_;
  int current_origin_ = -1;
};

// What a batch-norm computes on: its checked attributes and shapes.
struct BatchNormInfo {
  PrimitiveType type = PrimitiveType::kF32;
  int64_t feature_index = 0;
  double epsilon = 0;
  double elements_per_feature = 1;                  // N
  std::vector<int64_t> dimensions_without_feature;  // the reduce dims
  Shape full;                                       // the operand's shape
  Shape feature;                                    // [C] of the operand's type
  std::vector<Shape> results;                       // result shapes (tuple elements, or the array)
};

std::string Dims(const std::vector<int64_t>& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ","), "]");
}

// Checks `bn` against the operation semantics; `in` holds its operands.
absl::StatusOr<BatchNormInfo> CheckBatchNorm(const Instruction& bn,
                                             const std::vector<Instruction>& in) {
  auto error = [&](const std::string& message) {
    return absl::InvalidArgumentError(
        absl::StrCat(HloOpcodeName(bn.opcode), " '", bn.name, "': ", message));
  };
  const bool inference = bn.opcode == HloOpcode::kBatchNormInference;
  const bool grad = bn.opcode == HloOpcode::kBatchNormGrad;
  const size_t want_operands = bn.opcode == HloOpcode::kBatchNormTraining ? 3 : 5;
  if (bn.operands.size() != want_operands) {
    return error(absl::StrCat("expected ", want_operands, " operands, got ", bn.operands.size()));
  }
  if (bn.attrs.dimensions.size() != 1) {
    return error(bn.attrs.dimensions.empty() ? "missing feature_index"
                                             : "expected one feature_index");
  }
  if (!bn.attrs.constant_value.has_value()) return error("missing epsilon");
  BatchNormInfo info;
  info.full = in[bn.operands[0]].shape;
  info.type = info.full.element_type;
  info.epsilon = *bn.attrs.constant_value;
  info.feature_index = bn.attrs.dimensions[0];
  if (info.full.IsTuple() || !IsFloatingPoint(info.type)) {
    return error(absl::StrCat("operand '", in[bn.operands[0]].name, "' is ",
                              info.full.ToString(false), ", expected a floating-point array"));
  }
  if (info.feature_index < 0 || info.feature_index >= info.full.rank()) {
    return error(absl::StrCat("feature_index ", info.feature_index, " is out of range for operand ",
                              info.full.ToString(false), " (rank ", info.full.rank(), ")"));
  }
  const int64_t channels = info.full.dims[info.feature_index];
  info.feature = Shape::Make(info.type, {channels});
  for (int64_t d = 0; d < info.full.rank(); ++d) {
    if (d == info.feature_index) continue;
    info.dimensions_without_feature.push_back(d);
    info.elements_per_feature *= static_cast<double>(info.full.dims[d]);
  }
  // Operand roles, in operand order (operation semantics).
  std::vector<const char*> roles;
  if (inference) {
    roles = {"operand", "scale", "offset", "mean", "variance"};
  } else if (grad) {
    roles = {"operand", "scale", "mean", "variance", "grad_output"};
  } else {
    roles = {"operand", "scale", "offset"};
  }
  for (size_t i = 1; i < roles.size(); ++i) {
    const Instruction& op = in[bn.operands[i]];
    const bool full_size = grad && i == 4;
    const std::vector<int64_t>& want = full_size ? info.full.dims : info.feature.dims;
    if (op.shape.IsTuple() || op.shape.element_type != info.type || op.shape.dims != want) {
      return error(absl::StrCat(
          roles[i], " '", op.name, "' is ", op.shape.ToString(false), ", expected ",
          PrimitiveTypeName(info.type), Dims(want),
          full_size ? " (the operand's shape)"
                    : absl::StrCat(" (dimension ", info.feature_index, " of the operand)")));
    }
  }
  // Result shapes.
  std::vector<std::vector<int64_t>> want_results = {info.full.dims};
  if (!inference) want_results = {info.full.dims, info.feature.dims, info.feature.dims};
  std::string want_text;
  for (size_t i = 0; i < want_results.size(); ++i) {
    absl::StrAppend(&want_text, i > 0 ? ", " : "", PrimitiveTypeName(info.type),
                    Dims(want_results[i]));
  }
  if (!inference) want_text = absl::StrCat("(", want_text, ")");
  bool ok = true;
  if (inference) {
    info.results = {bn.shape};
    ok = !bn.shape.IsTuple();
  } else {
    info.results = bn.shape.tuple_shapes;
    ok = bn.shape.IsTuple() && info.results.size() == want_results.size();
  }
  for (size_t i = 0; ok && i < info.results.size(); ++i) {
    ok = !info.results[i].IsTuple() && info.results[i].element_type == info.type &&
         info.results[i].dims == want_results[i];
  }
  if (!ok) {
    return error(
        absl::StrCat("result shape is ", bn.shape.ToString(false), ", expected ", want_text));
  }
  return info;
}

// Values of one expanded batch-norm: its results (tuple elements in order, or the one array).
std::vector<int> ExpandTraining(const BatchNormInfo& b, const std::vector<int>& operands,
                                Emitter& e) {
  const int x = operands[0], scale = operands[1], offset = operands[2];
  const std::vector<int64_t> f = {b.feature_index};
  const int zero = e.Constant(b.type, 0, "zero");
  const int epsilon = e.Constant(b.type, b.epsilon, "epsilon");
  const int count = e.Constant(b.type, b.elements_per_feature, "elements_per_feature");
  const int epsilon_full = e.Broadcast(epsilon, b.full, {}, "epsilon_broadcast");
  const int scale_full = e.Broadcast(scale, b.full, f, "scale_broadcast");
  const int offset_full = e.Broadcast(offset, b.full, f, "offset_broadcast");
  const int squared = e.Binary(HloOpcode::kMultiply, b.full, x, x, "squared");
  const int sum = e.ReduceSum(x, zero, b.feature, b.dimensions_without_feature, "sum");
  const int squared_sum =
      e.ReduceSum(squared, zero, b.feature, b.dimensions_without_feature, "squared_sum");
  const int count_feature = e.Broadcast(count, b.feature, {}, "elements_per_feature_broadcast");
  const int mean = e.Binary(HloOpcode::kDivide, b.results[1], sum, count_feature, "mean");
  const int square_mean =
      e.Binary(HloOpcode::kDivide, b.feature, squared_sum, count_feature, "square_mean");
  const int mean_square = e.Binary(HloOpcode::kMultiply, b.feature, mean, mean, "mean_square");
  const int variance =
      e.Binary(HloOpcode::kSubtract, b.results[2], square_mean, mean_square, "variance");
  const int mean_full = e.Broadcast(mean, b.full, f, "mean_broadcast");
  const int variance_full = e.Broadcast(variance, b.full, f, "variance_broadcast");
  const int variance_epsilon =
      e.Binary(HloOpcode::kAdd, b.full, variance_full, epsilon_full, "variance_plus_epsilon");
  const int rsqrt = e.Unary(HloOpcode::kRsqrt, b.full, variance_epsilon, "rsqrt");
  const int centered = e.Binary(HloOpcode::kSubtract, b.full, x, mean_full, "centered");
  const int normalized = e.Binary(HloOpcode::kMultiply, b.full, centered, rsqrt, "normalized");
  const int scaled = e.Binary(HloOpcode::kMultiply, b.full, normalized, scale_full, "scaled");
  const int output = e.Binary(HloOpcode::kAdd, b.results[0], scaled, offset_full, "output");
  return {output, mean, variance};
}

std::vector<int> ExpandInference(const BatchNormInfo& b, const std::vector<int>& operands,
                                 Emitter& e) {
  const int x = operands[0], scale = operands[1], offset = operands[2], mean = operands[3],
            variance = operands[4];
  const std::vector<int64_t> f = {b.feature_index};
  const int epsilon = e.Constant(b.type, b.epsilon, "epsilon");
  const int epsilon_feature = e.Broadcast(epsilon, b.feature, {}, "epsilon_broadcast");
  const int variance_epsilon =
      e.Binary(HloOpcode::kAdd, b.feature, variance, epsilon_feature, "variance_plus_epsilon");
  const int rsqrt = e.Unary(HloOpcode::kRsqrt, b.feature, variance_epsilon, "rsqrt");
  const int true_scale = e.Binary(HloOpcode::kMultiply, b.feature, scale, rsqrt, "true_scale");
  const int mean_scaled =
      e.Binary(HloOpcode::kMultiply, b.feature, mean, true_scale, "mean_times_true_scale");
  const int true_shift =
      e.Binary(HloOpcode::kSubtract, b.feature, offset, mean_scaled, "true_shift");
  const int scale_full = e.Broadcast(true_scale, b.full, f, "true_scale_broadcast");
  const int scaled = e.Binary(HloOpcode::kMultiply, b.full, x, scale_full, "scaled");
  const int shift_full = e.Broadcast(true_shift, b.full, f, "true_shift_broadcast");
  const int output = e.Binary(HloOpcode::kAdd, b.results[0], scaled, shift_full, "output");
  return {output};
}

std::vector<int> ExpandGrad(const BatchNormInfo& b, const std::vector<int>& operands, Emitter& e) {
  const int x = operands[0], scale = operands[1], mean = operands[2], variance = operands[3],
            grad_output = operands[4];
  const std::vector<int64_t> f = {b.feature_index};
  const int count = e.Constant(b.type, b.elements_per_feature, "elements_per_feature");
  const int zero = e.Constant(b.type, 0, "zero");
  const int epsilon = e.Constant(b.type, b.epsilon, "epsilon");
  const int epsilon_full = e.Broadcast(epsilon, b.full, {}, "epsilon_broadcast");
  const int epsilon_feature = e.Broadcast(epsilon, b.feature, {}, "epsilon_feature_broadcast");
  const int scale_full = e.Broadcast(scale, b.full, f, "scale_broadcast");
  const int variance_full = e.Broadcast(variance, b.full, f, "variance_broadcast");
  const int mean_full = e.Broadcast(mean, b.full, f, "mean_broadcast");
  // rsqrt(Var[X] + epsilon), full-size and per feature.
  const int variance_epsilon_full =
      e.Binary(HloOpcode::kAdd, b.full, variance_full, epsilon_full, "variance_plus_epsilon");
  const int rsqrt_full = e.Unary(HloOpcode::kRsqrt, b.full, variance_epsilon_full, "rsqrt");
  const int variance_epsilon_feature = e.Binary(HloOpcode::kAdd, b.feature, variance,
                                                epsilon_feature, "variance_plus_epsilon_feature");
  const int rsqrt_feature =
      e.Unary(HloOpcode::kRsqrt, b.feature, variance_epsilon_feature, "rsqrt_feature");
  // X - E[X], Grad[Y] * (X - E[X]) and its per-feature sum.
  const int centered = e.Binary(HloOpcode::kSubtract, b.full, x, mean_full, "centered");
  const int grad_centered =
      e.Binary(HloOpcode::kMultiply, b.full, grad_output, centered, "grad_output_times_centered");
  const int sum_grad_centered =
      e.ReduceSum(grad_centered, zero, b.feature, b.dimensions_without_feature,
                  "sum_grad_output_times_centered");
  // Grad[offset] = Sum(Grad[Y]); Grad[scale] = Sum(Grad[Y] * (X - E[X])) * rsqrt(Var[X] + eps).
  const int grad_offset =
      e.ReduceSum(grad_output, zero, b.results[2], b.dimensions_without_feature, "grad_offset");
  const int grad_scale =
      e.Binary(HloOpcode::kMultiply, b.results[1], sum_grad_centered, rsqrt_feature, "grad_scale");
  // Grad[X] = scale * rsqrt(Var[X] + eps) / N * (N * Grad[Y] - I2 - (X - E[X]) * I3 / (Var + eps)).
  const int i2 = e.Broadcast(grad_offset, b.full, f, "grad_offset_broadcast");
  const int i3 =
      e.Broadcast(sum_grad_centered, b.full, f, "sum_grad_output_times_centered_broadcast");
  const int i4 = e.Binary(HloOpcode::kMultiply, b.full, i3, centered, "centered_times_sum");
  const int i5 = e.Binary(HloOpcode::kDivide, b.full, i4, variance_epsilon_full,
                          "centered_times_sum_over_variance");
  const int scale_rsqrt =
      e.Binary(HloOpcode::kMultiply, b.full, scale_full, rsqrt_full, "scale_times_rsqrt");
  const int count_full = e.Broadcast(count, b.full, {}, "elements_per_feature_broadcast");
  const int scale_rsqrt_mean =
      e.Binary(HloOpcode::kDivide, b.full, scale_rsqrt, count_full, "scale_times_rsqrt_over_n");
  const int i1 =
      e.Binary(HloOpcode::kMultiply, b.full, grad_output, count_full, "grad_output_times_n");
  const int i1_minus_i2 = e.Binary(HloOpcode::kSubtract, b.full, i1, i2, "minus_grad_offset");
  const int i6 = e.Binary(HloOpcode::kSubtract, b.full, i1_minus_i2, i5, "minus_centered_term");
  const int grad_operand =
      e.Binary(HloOpcode::kMultiply, b.results[0], scale_rsqrt_mean, i6, "grad_operand");
  return {grad_operand, grad_scale, grad_offset};
}

struct Rewritten {
  std::vector<Instruction> instructions;
  std::vector<int> origin;  // per new instruction
  std::vector<int> value;   // old id -> new id (-1: no value, e.g. an unused batch-norm tuple)
};

// Rewrites `in` (`what` "program" / "kernel" named `owner`; `roots` are the ids read from outside:
// program outputs or the kernel root; `origin` per old instruction, or null).
absl::StatusOr<Rewritten> Rewrite(absl::string_view what, absl::string_view owner,
                                  const std::vector<Instruction>& in, const std::vector<int>& roots,
                                  const std::vector<int>* origin) {
  auto annotate = [&](const absl::Status& status) {
    return absl::Status(status.code(), absl::StrCat(what, " '", owner, "': ", status.message()));
  };
  const int n = static_cast<int>(in.size());
  // Whether each batch-norm's tuple value is read other than through get-tuple-element.
  std::vector<bool> needs_tuple(n, false);
  for (int root : roots) {
    if (IsBatchNorm(in[root].opcode)) needs_tuple[root] = true;
  }
  for (const Instruction& inst : in) {
    for (int op : inst.operands) {
      if (!IsBatchNorm(in[op].opcode) || in[op].opcode == HloOpcode::kBatchNormInference) continue;
      if (inst.opcode != HloOpcode::kGetTupleElement) {
        needs_tuple[op] = true;
      } else if (inst.attrs.tuple_index < 0 || inst.attrs.tuple_index >= 3) {
        return annotate(absl::InvalidArgumentError(absl::StrCat(
            "get-tuple-element '", inst.name, "' reads index ", inst.attrs.tuple_index, " of ",
            HloOpcodeName(in[op].opcode), " '", in[op].name, "', which has 3 elements")));
      }
    }
  }
  Rewritten r;
  r.value.assign(n, -1);
  absl::flat_hash_set<std::string> used_names;
  for (const Instruction& inst : in) used_names.insert(inst.name);
  std::vector<std::vector<int>> elements(n);
  Emitter emitter(&r.instructions, &r.origin, &used_names);
  for (const Instruction& inst : in) {
    const int old_origin = origin != nullptr ? (*origin)[inst.id] : -1;
    std::vector<int> operands;
    operands.reserve(inst.operands.size());
    for (int op : inst.operands) operands.push_back(r.value[op]);
    if (inst.opcode == HloOpcode::kGetTupleElement && inst.operands.size() == 1 &&
        !elements[inst.operands[0]].empty()) {
      r.value[inst.id] = elements[inst.operands[0]][inst.attrs.tuple_index];
      continue;
    }
    for (size_t k = 0; k < operands.size(); ++k) {
      if (operands[k] < 0) {  // a batch-norm tuple used only through get-tuple-element
        return annotate(absl::InternalError(absl::StrCat(
            "'", inst.name, "' reads '", in[inst.operands[k]].name, "', which has no value")));
      }
    }
    if (!IsBatchNorm(inst.opcode)) {
      Instruction copy = inst;
      copy.id = static_cast<int>(r.instructions.size());
      copy.operands = std::move(operands);
      r.value[inst.id] = copy.id;
      r.instructions.push_back(std::move(copy));
      r.origin.push_back(old_origin);
      continue;
    }
    absl::StatusOr<BatchNormInfo> info = CheckBatchNorm(inst, in);
    if (!info.ok()) return annotate(info.status());
    emitter.Start(inst.name, old_origin);
    std::vector<int> results;
    if (inst.opcode == HloOpcode::kBatchNormTraining) {
      results = ExpandTraining(*info, operands, emitter);
    } else if (inst.opcode == HloOpcode::kBatchNormInference) {
      results = ExpandInference(*info, operands, emitter);
    } else {
      results = ExpandGrad(*info, operands, emitter);
    }
    if (inst.opcode == HloOpcode::kBatchNormInference) {
      r.value[inst.id] = results[0];
      continue;
    }
    elements[inst.id] = results;
    if (needs_tuple[inst.id]) {
      used_names.erase(inst.name);  // the tuple takes the batch-norm's name
      r.value[inst.id] = emitter.Add(HloOpcode::kTuple, inst.shape, results, {}, "");
    }
  }
  return r;
}

bool HasBatchNorm(const std::vector<Instruction>& instructions) {
  for (const Instruction& inst : instructions) {
    if (IsBatchNorm(inst.opcode)) return true;
  }
  return false;
}

}  // namespace

bool IsBatchNorm(HloOpcode opcode) {
  return opcode == HloOpcode::kBatchNormTraining || opcode == HloOpcode::kBatchNormInference ||
         opcode == HloOpcode::kBatchNormGrad;
}

absl::Status ExpandBatchNorm(Program* program) {
  if (!HasBatchNorm(program->instructions)) return absl::OkStatus();
  RETURN_IF_ERROR(program->Validate());
  ASSIGN_OR_RETURN(Rewritten r, Rewrite("program", program->name, program->instructions,
                                        program->outputs, nullptr));
  std::vector<int> outputs;
  outputs.reserve(program->outputs.size());
  for (int output : program->outputs) outputs.push_back(r.value[output]);
  program->instructions = std::move(r.instructions);
  program->outputs = std::move(outputs);
  return program->Validate();
}

absl::Status ExpandBatchNorm(Kernel* kernel) {
  if (!HasBatchNorm(kernel->instructions)) return absl::OkStatus();
  RETURN_IF_ERROR(kernel->Validate());
  const bool has_origin = !kernel->origin.empty();
  ASSIGN_OR_RETURN(Rewritten r, Rewrite("kernel", kernel->name, kernel->instructions,
                                        {kernel->root}, has_origin ? &kernel->origin : nullptr));
  kernel->root = r.value[kernel->root];
  kernel->instructions = std::move(r.instructions);
  if (has_origin) kernel->origin = std::move(r.origin);
  return kernel->Validate();
}

}  // namespace perfgraph::graph
