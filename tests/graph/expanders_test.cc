#include "graph/expanders.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fusion/default_fusion.h"
#include "gmock/gmock.h"
#include "graph/analysis.h"
#include "graph/hlo_parser.h"
#include "graph/import.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace perfgraph::graph {
namespace {

using ::perfgraph::testing::IsOk;
using ::perfgraph::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

const char kFile[] = "tests/testdata/hlo/batch_norm.hlo";

// Every module of batch_norm.hlo, as written (batch-norm ops kept) or expanded at import.
std::vector<ImportedModel> Load(bool expand) {
  ImportOptions options;
  options.expand_batch_norm = expand;
  absl::StatusOr<std::vector<ImportedModel>> models = ParseHloFileAll(kFile, options);
  EXPECT_THAT(models.status(), IsOk());
  if (!models.ok()) return {};
  EXPECT_THAT(*models, SizeIs(4));
  return *std::move(models);
}

const Instruction* Find(const std::vector<Instruction>& instructions, const std::string& name) {
  for (const Instruction& inst : instructions) {
    if (inst.name == name) return &inst;
  }
  return nullptr;
}

int CountBatchNorm(const std::vector<Instruction>& instructions) {
  int n = 0;
  for (const Instruction& inst : instructions) n += IsBatchNorm(inst.opcode) ? 1 : 0;
  return n;
}

// Whether `target` is `from` or one of its transitive operands.
bool DependsOn(const Program& p, int from, int target) {
  std::vector<bool> seen(p.size(), false);
  std::vector<int> stack = {from};
  while (!stack.empty()) {
    const int id = stack.back();
    stack.pop_back();
    if (id == target) return true;
    if (seen[id]) continue;
    seen[id] = true;
    for (int op : p.at(id).operands) stack.push_back(op);
  }
  return false;
}

// ------------------------------------------------------------------------------------------------
// A reference evaluator for the primitive ops the expansion emits (test only), in double.

struct Array {
  std::vector<int64_t> dims;
  std::vector<double> data;
};

int64_t Count(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// Row-major multi-index of linear index `i`.
std::vector<int64_t> Unravel(int64_t i, const std::vector<int64_t>& dims) {
  std::vector<int64_t> index(dims.size());
  for (int64_t d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
    index[d] = i % dims[d];
    i /= dims[d];
  }
  return index;
}

int64_t Ravel(const std::vector<int64_t>& index, const std::vector<int64_t>& dims) {
  int64_t i = 0;
  for (size_t d = 0; d < dims.size(); ++d) i = i * dims[d] + index[d];
  return i;
}

// Values of every instruction of `p` (tuples stay empty). Fails the test on an unexpected op.
std::vector<Array> Evaluate(const Program& p, const std::map<std::string, Array>& inputs) {
  std::vector<Array> v(p.size());
  for (const Instruction& inst : p.instructions) {
    Array& out = v[inst.id];
    out.dims = inst.shape.dims;
    const int64_t n = inst.shape.IsTuple() ? 0 : Count(out.dims);
    out.data.assign(n, 0.0);
    auto operand = [&](int k) -> const Array& { return v[inst.operands[k]]; };
    switch (inst.opcode) {
      case HloOpcode::kParameter:
        out = inputs.at(inst.name);
        break;
      case HloOpcode::kConstant:
        EXPECT_TRUE(inst.attrs.constant_value.has_value()) << inst.name;
        for (double& x : out.data) x = inst.attrs.constant_value.value_or(0);
        break;
      case HloOpcode::kBroadcast:
        for (int64_t i = 0; i < n; ++i) {
          const std::vector<int64_t> index = Unravel(i, out.dims);
          std::vector<int64_t> from;
          for (int64_t d : inst.attrs.dimensions) from.push_back(index[d]);
          out.data[i] = operand(0).data[Ravel(from, operand(0).dims)];
        }
        break;
      case HloOpcode::kReduce: {
        EXPECT_EQ(inst.attrs.reduce_computation, HloOpcode::kAdd) << inst.name;
        for (double& x : out.data) x = operand(1).data[0];
        const Array& in = operand(0);
        for (int64_t i = 0; i < Count(in.dims); ++i) {
          const std::vector<int64_t> index = Unravel(i, in.dims);
          std::vector<int64_t> kept;
          for (int64_t d = 0; d < static_cast<int64_t>(index.size()); ++d) {
            if (std::find(inst.attrs.dimensions.begin(), inst.attrs.dimensions.end(), d) ==
                inst.attrs.dimensions.end()) {
              kept.push_back(index[d]);
            }
          }
          out.data[Ravel(kept, out.dims)] += in.data[i];
        }
        break;
      }
      case HloOpcode::kAdd:
      case HloOpcode::kSubtract:
      case HloOpcode::kMultiply:
      case HloOpcode::kDivide:
      case HloOpcode::kMaximum:
        EXPECT_EQ(operand(0).dims, out.dims) << inst.name;
        EXPECT_EQ(operand(1).dims, out.dims) << inst.name;
        for (int64_t i = 0; i < n; ++i) {
          const double a = operand(0).data[i], b = operand(1).data[i];
          switch (inst.opcode) {
            case HloOpcode::kAdd: out.data[i] = a + b; break;
            case HloOpcode::kSubtract: out.data[i] = a - b; break;
            case HloOpcode::kMultiply: out.data[i] = a * b; break;
            case HloOpcode::kDivide: out.data[i] = a / b; break;
            default: out.data[i] = std::max(a, b); break;
          }
        }
        break;
      case HloOpcode::kRsqrt:
      case HloOpcode::kNegate:
        for (int64_t i = 0; i < n; ++i) {
          const double a = operand(0).data[i];
          out.data[i] = inst.opcode == HloOpcode::kRsqrt ? 1.0 / std::sqrt(a) : -a;
        }
        break;
      case HloOpcode::kTuple:
        break;
      default:
        ADD_FAILURE() << "unexpected opcode " << HloOpcodeName(inst.opcode) << " of " << inst.name;
    }
  }
  return v;
}

// Deterministic pseudo-random values in [lo, hi).
Array Random(std::vector<int64_t> dims, double lo, double hi, uint32_t seed) {
  Array a;
  a.dims = std::move(dims);
  uint32_t state = seed;
  for (int64_t i = 0; i < Count(a.dims); ++i) {
    state = state * 1664525u + 1013904223u;
    a.data.push_back(lo + (hi - lo) * (state >> 8) / double(1u << 24));
  }
  return a;
}

void ExpectNear(const Array& got, const Array& want, const std::string& what) {
  ASSERT_EQ(got.dims, want.dims) << what;
  ASSERT_EQ(got.data.size(), want.data.size()) << what;
  for (size_t i = 0; i < want.data.size(); ++i) {
    ASSERT_NEAR(got.data[i], want.data[i], 1e-9 * (1 + std::abs(want.data[i])))
        << what << " element " << i;
  }
}

// ------------------------------------------------------------------------------------------------

TEST(ExpandersTest, ParserKeepsFeatureIndexAndEpsilon) {
  std::vector<ImportedModel> models = Load(/*expand=*/false);
  ASSERT_THAT(models, SizeIs(4));
  const Program& p = models[0].program;
  EXPECT_EQ(CountBatchNorm(p.instructions), 3);
  const Instruction* train = Find(p.instructions, "bn_train");
  const Instruction* infer = Find(p.instructions, "bn_infer");
  ASSERT_NE(train, nullptr);
  ASSERT_NE(infer, nullptr);
  EXPECT_EQ(train->opcode, HloOpcode::kBatchNormTraining);
  EXPECT_THAT(train->attrs.dimensions, ElementsAre(1));
  EXPECT_EQ(train->attrs.constant_value, 0.001);
  EXPECT_EQ(infer->opcode, HloOpcode::kBatchNormInference);
  EXPECT_EQ(infer->attrs.constant_value, 1e-5);
  const Instruction* nhwc = Find(models[1].program.instructions, "bn");
  ASSERT_NE(nhwc, nullptr);
  EXPECT_THAT(nhwc->attrs.dimensions, ElementsAre(3));
}

TEST(ExpandersTest, NoBatchNormRemainsAndShapesMatch) {
  std::vector<ImportedModel> models = Load(/*expand=*/false);
  ASSERT_THAT(models, SizeIs(4));
  const Program original = models[0].program;
  Program p = original;
  ASSERT_THAT(ExpandBatchNorm(&p), IsOk());
  EXPECT_THAT(p.Validate(), IsOk());
  EXPECT_EQ(CountBatchNorm(p.instructions), 0);
  for (const Instruction& inst : p.instructions) {
    EXPECT_NE(inst.opcode, HloOpcode::kGetTupleElement) << inst.name << " should be resolved";
    for (int op : inst.operands) EXPECT_LT(op, inst.id);
  }
  // Each get-tuple-element's consumer now reads the replacing value, shaped like the tuple element.
  struct Case {
    const char* gte;       // get-tuple-element of the original
    const char* consumer;  // its consumer (same name after expansion)
    int operand;           // operand index of the gte in the consumer
    const char* value;     // expected replacing instruction
  };
  for (const Case& c : std::vector<Case>{{"normalized", "relu", 0, "bn_train/output"},
                                         {"batch_mean", "out", 1, "bn_train/mean"},
                                         {"batch_var", "out", 2, "bn_train/variance"},
                                         {"bn_infer", "infer_relu", 0, "bn_infer/output"},
                                         {"grad_x", "neg_grad_x", 0, "bn_grad/grad_operand"},
                                         {"grad_scale", "new_scale", 1, "bn_grad/grad_scale"},
                                         {"grad_offset", "new_offset", 1, "bn_grad/grad_offset"}}) {
    SCOPED_TRACE(c.gte);
    const Instruction* before = Find(original.instructions, c.gte);
    const Instruction* consumer = Find(p.instructions, c.consumer);
    ASSERT_NE(before, nullptr);
    ASSERT_NE(consumer, nullptr);
    const Instruction& value = p.at(consumer->operands[c.operand]);
    EXPECT_EQ(value.name, c.value);
    EXPECT_EQ(value.shape, before->shape);
    EXPECT_EQ(value.shape.ToString(), before->shape.ToString());
  }
  // The program output is still the 7-element tuple, with the original shape.
  ASSERT_THAT(p.outputs, SizeIs(1));
  EXPECT_EQ(p.at(p.outputs[0]).name, "out");
  EXPECT_EQ(p.at(p.outputs[0]).shape, original.at(original.outputs[0]).shape);
  EXPECT_NE(Find(p.instructions, "x"), nullptr);
  EXPECT_EQ(Find(p.instructions, "bn_train"), nullptr);  // no tuple kept: read only via gte
}

TEST(ExpandersTest, TrainingStructureFollowsXla) {
  std::vector<ImportedModel> models = Load(/*expand=*/true);
  ASSERT_THAT(models, SizeIs(4));
  const Program& p = models[0].program;
  const Instruction* x = Find(p.instructions, "x");
  const Instruction* output = Find(p.instructions, "bn_train/output");
  const Instruction* sum = Find(p.instructions, "bn_train/sum");
  const Instruction* squared_sum = Find(p.instructions, "bn_train/squared_sum");
  const Instruction* variance = Find(p.instructions, "bn_train/variance");
  ASSERT_NE(x, nullptr);
  ASSERT_NE(output, nullptr);
  ASSERT_NE(sum, nullptr);
  ASSERT_NE(squared_sum, nullptr);
  ASSERT_NE(variance, nullptr);
  // mean = reduce-add of x over every dim but the feature dim.
  EXPECT_EQ(sum->opcode, HloOpcode::kReduce);
  EXPECT_EQ(sum->attrs.reduce_computation, HloOpcode::kAdd);
  EXPECT_THAT(sum->attrs.dimensions, ElementsAre(0, 2, 3));
  EXPECT_EQ(sum->operands[0], x->id);
  EXPECT_EQ(p.at(sum->operands[1]).attrs.constant_value, 0.0);
  EXPECT_EQ(sum->shape.dims, std::vector<int64_t>{16});
  // variance = E[x^2] - E[x]^2 (XLA's form): the squared sum reduces x * x.
  const Instruction& squared = p.at(squared_sum->operands[0]);
  EXPECT_EQ(squared.opcode, HloOpcode::kMultiply);
  EXPECT_THAT(squared.operands, ElementsAre(x->id, x->id));
  EXPECT_EQ(variance->opcode, HloOpcode::kSubtract);
  // normalized = ... + offset, depending on both reductions and on rsqrt.
  EXPECT_EQ(output->opcode, HloOpcode::kAdd);
  EXPECT_TRUE(DependsOn(p, output->id, sum->id));
  EXPECT_TRUE(DependsOn(p, output->id, squared_sum->id));
  const Instruction* rsqrt = Find(p.instructions, "bn_train/rsqrt");
  ASSERT_NE(rsqrt, nullptr);
  EXPECT_EQ(rsqrt->opcode, HloOpcode::kRsqrt);
  EXPECT_TRUE(DependsOn(p, output->id, rsqrt->id));
  // The epsilon constant.
  const Instruction* epsilon = Find(p.instructions, "bn_train/epsilon");
  ASSERT_NE(epsilon, nullptr);
  EXPECT_EQ(epsilon->opcode, HloOpcode::kConstant);
  EXPECT_EQ(epsilon->attrs.constant_value, 0.001);
  // Broadcasts of [16] values to the operand use dimensions={1}.
  const Instruction* mean_broadcast = Find(p.instructions, "bn_train/mean_broadcast");
  ASSERT_NE(mean_broadcast, nullptr);
  EXPECT_THAT(mean_broadcast->attrs.dimensions, ElementsAre(1));
  // NHWC (module 2): reduce over {0, 1, 2}, broadcast along 3.
  const Program& nhwc = models[1].program;
  const Instruction* nhwc_sum = Find(nhwc.instructions, "bn/sum");
  ASSERT_NE(nhwc_sum, nullptr);
  EXPECT_THAT(nhwc_sum->attrs.dimensions, ElementsAre(0, 1, 2));
  const Instruction* nhwc_count = Find(nhwc.instructions, "bn/elements_per_feature");
  ASSERT_NE(nhwc_count, nullptr);
  EXPECT_EQ(nhwc_count->attrs.constant_value, 2.0 * 4 * 4);
  EXPECT_THAT(Find(nhwc.instructions, "bn/scale_broadcast")->attrs.dimensions, ElementsAre(3));
}

TEST(ExpandersTest, TupleKeptWhenUsedAsAWhole) {
  std::vector<ImportedModel> models = Load(/*expand=*/true);
  ASSERT_THAT(models, SizeIs(4));
  const Program& p = models[1].program;
  EXPECT_EQ(CountBatchNorm(p.instructions), 0);
  ASSERT_THAT(p.outputs, SizeIs(1));
  const Instruction& root = p.at(p.outputs[0]);
  EXPECT_EQ(root.opcode, HloOpcode::kTuple);
  EXPECT_EQ(root.name, "bn");
  EXPECT_EQ(root.shape.ToString(false), "(f32[2,4,4,8], f32[8], f32[8])");
  ASSERT_THAT(root.operands, SizeIs(3));
  EXPECT_EQ(p.at(root.operands[0]).name, "bn/output");
  EXPECT_EQ(p.at(root.operands[1]).name, "bn/mean");
  EXPECT_EQ(p.at(root.operands[2]).name, "bn/variance");
  for (int k = 0; k < 3; ++k) EXPECT_EQ(p.at(root.operands[k]).shape, root.shape.tuple_shapes[k]);
}

TEST(ExpandersTest, MatchesReferenceBatchNormNumerically) {
  std::vector<ImportedModel> models = Load(/*expand=*/true);
  ASSERT_THAT(models, SizeIs(4));
  const Program& p = models[0].program;
  const int64_t batch = 8, channels = 16, spatial = 16;  // f32[8,16,4,4], feature_index=1
  std::map<std::string, Array> inputs;
  inputs["x"] = Random({8, 16, 4, 4}, -2.0, 3.0, 1);
  inputs["scale"] = Random({16}, 0.5, 1.5, 2);
  inputs["offset"] = Random({16}, -0.5, 0.5, 3);
  inputs["mean"] = Random({16}, -0.2, 0.2, 4);
  inputs["variance"] = Random({16}, 0.5, 2.0, 5);
  inputs["grad"] = Random({8, 16, 4, 4}, -1.0, 1.0, 6);
  const std::vector<Array> values = Evaluate(p, inputs);
  auto value = [&](const std::string& name) -> const Array& {
    const Instruction* inst = Find(p.instructions, name);
    EXPECT_NE(inst, nullptr) << name;
    return values[inst != nullptr ? inst->id : 0];
  };

  // Reference, straight from the operation semantics (two-pass variance), in double.
  const std::vector<double>& x = inputs["x"].data;
  const std::vector<double>& dy = inputs["grad"].data;
  const double n = batch * spatial;
  auto at = [&](int64_t b, int64_t c, int64_t s) { return (b * channels + c) * spatial + s; };
  Array normalized{{8, 16, 4, 4}, std::vector<double>(x.size())};
  Array inferred = normalized, grad_x = normalized;
  Array mean{{16}, std::vector<double>(16)}, var = mean, grad_scale = mean, grad_offset = mean;
  for (int64_t c = 0; c < channels; ++c) {
    double m = 0;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t s = 0; s < spatial; ++s) m += x[at(b, c, s)];
    m /= n;
    double v = 0;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t s = 0; s < spatial; ++s) v += (x[at(b, c, s)] - m) * (x[at(b, c, s)] - m);
    v /= n;
    mean.data[c] = m;
    var.data[c] = v;
    const double gamma = inputs["scale"].data[c], beta = inputs["offset"].data[c];
    const double inv = 1.0 / std::sqrt(v + 0.001);
    const double inv_infer = 1.0 / std::sqrt(inputs["variance"].data[c] + 1e-5);
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t s = 0; s < spatial; ++s) {
        const int64_t i = at(b, c, s);
        normalized.data[i] = std::max(0.0, (x[i] - m) * inv * gamma + beta);  // relu
        inferred.data[i] = std::max(
            0.0, (x[i] - inputs["mean"].data[c]) * inv_infer * gamma + beta);  // relu
        sum_dy += dy[i];
        sum_dy_xhat += dy[i] * (x[i] - m) * inv;
      }
    }
    // Backprop of y = gamma * xhat + beta with batch statistics (mean, var = those of x).
    grad_offset.data[c] = inputs["offset"].data[c] - sum_dy;            // new_offset
    grad_scale.data[c] = inputs["scale"].data[c] - sum_dy_xhat;         // new_scale
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t s = 0; s < spatial; ++s) {
        const int64_t i = at(b, c, s);
        const double xhat = (x[i] - m) * inv;
        grad_x.data[i] = -(gamma * inv / n * (n * dy[i] - sum_dy - xhat * sum_dy_xhat));
      }
    }
  }
  ExpectNear(value("relu"), normalized, "relu(training output)");
  ExpectNear(value("bn_train/mean"), mean, "batch mean");
  ExpectNear(value("bn_train/variance"), var, "batch variance");
  ExpectNear(value("infer_relu"), inferred, "relu(inference output)");
  ExpectNear(value("neg_grad_x"), grad_x, "-grad_operand");
  ExpectNear(value("new_scale"), grad_scale, "scale - grad_scale");
  ExpectNear(value("new_offset"), grad_offset, "offset - grad_offset");
}

// FLOPs and transcendentals of the instructions named "<prefix>/...".
OpCost CostOf(const Program& p, const std::string& prefix) {
  const std::vector<OpCost> costs = ProgramCosts(p);
  OpCost total;
  for (const Instruction& inst : p.instructions) {
    if (!absl::StartsWith(inst.name, absl::StrCat(prefix, "/"))) continue;
    total.flops += costs[inst.id].flops;
    total.transcendentals += costs[inst.id].transcendentals;
  }
  return total;
}

TEST(ExpandersTest, FlopsHaveTheExpectedOrder) {
  std::vector<ImportedModel> models = Load(/*expand=*/true);
  ASSERT_THAT(models, SizeIs(4));
  const Program& p = models[0].program;
  const double elements = 8 * 16 * 4 * 4, channels = 16;
  // Training: x*x, two reductions, var+eps, x-mean, *rsqrt, *scale, +offset per element; rsqrt per
  // element (XLA broadcasts the variance first).
  const OpCost train = CostOf(p, "bn_train");
  EXPECT_GE(train.flops, 6 * elements);
  EXPECT_LE(train.flops, 10 * elements);
  EXPECT_EQ(train.transcendentals, elements);
  // Inference: per-feature scale/shift, then one multiply-add per element; rsqrt per feature.
  const OpCost infer = CostOf(p, "bn_infer");
  EXPECT_GE(infer.flops, 2 * elements);
  EXPECT_LE(infer.flops, 2 * elements + 8 * channels);
  EXPECT_EQ(infer.transcendentals, channels);
  // Grad: two reductions and about ten elementwise ops per element.
  const OpCost grad = CostOf(p, "bn_grad");
  EXPECT_GE(grad.flops, 10 * elements);
  EXPECT_LE(grad.flops, 16 * elements);
  EXPECT_EQ(grad.transcendentals, elements + channels);
}

TEST(ExpandersTest, DefaultFusionGivesNoTupleRootedKernels) {
  std::vector<ImportedModel> models = Load(/*expand=*/true);
  ASSERT_THAT(models, SizeIs(4));
  for (int m = 0; m < 2; ++m) {
    SCOPED_TRACE(models[m].program.name);
    absl::StatusOr<std::vector<Kernel>> kernels = fusion::DefaultFusion(models[m].program);
    ASSERT_THAT(kernels.status(), IsOk());
    EXPECT_FALSE(kernels->empty());
    for (const Kernel& k : *kernels) {
      EXPECT_THAT(k.Validate(), IsOk());
      EXPECT_FALSE(k.root_instruction().shape.IsTuple()) << k.name;
      EXPECT_EQ(CountBatchNorm(k.instructions), 0) << k.name;
      EXPECT_GT(KernelCost(k).flops, 0) << k.name;
    }
  }
  // The relu consuming the training output fuses with the normalisation arithmetic.
  const Program& p = models[0].program;
  absl::StatusOr<std::vector<Kernel>> kernels = fusion::DefaultFusion(p);
  ASSERT_THAT(kernels.status(), IsOk());
  const Instruction* relu = Find(p.instructions, "relu");
  const Instruction* output = Find(p.instructions, "bn_train/output");
  ASSERT_NE(relu, nullptr);
  ASSERT_NE(output, nullptr);
  bool fused = false;
  for (const Kernel& k : *kernels) {
    if (k.origin[k.root] != relu->id) continue;
    for (size_t i = 0; i < k.instructions.size(); ++i) {
      fused |= k.origin[i] == output->id && k.instructions[i].opcode == HloOpcode::kAdd;
    }
  }
  EXPECT_TRUE(fused) << "bn_train/output should fuse into the relu's kernel";
}

TEST(ExpandersTest, CalledProgramsAndPrefusedKernelsAreExpanded) {
  std::vector<ImportedModel> models = Load(/*expand=*/true);
  ASSERT_THAT(models, SizeIs(4));
  // Module 3: the while body.
  const ImportedModel& loop = models[2];
  ASSERT_EQ(loop.called_programs.count("body"), 1u);
  const Program& body = loop.called_programs.at("body");
  EXPECT_THAT(body.Validate(), IsOk());
  EXPECT_EQ(CountBatchNorm(body.instructions), 0);
  const Instruction& root = body.at(body.outputs[0]);
  ASSERT_EQ(root.opcode, HloOpcode::kTuple);
  EXPECT_EQ(body.at(root.operands[1]).name, "bn/output");
  // The trip count analysis still sees the induction variable.
  ASSERT_EQ(loop.call_sites.count("body"), 1u);
  EXPECT_EQ(loop.call_sites.at("body").executions, 3);
  // Module 4: the fusion computation.
  const ImportedModel& fused = models[3];
  ASSERT_THAT(fused.prefused_kernels, SizeIs(1));
  const Kernel& k = fused.prefused_kernels[0];
  EXPECT_THAT(k.Validate(), IsOk());
  EXPECT_EQ(CountBatchNorm(k.instructions), 0);
  EXPECT_EQ(k.num_parameters(), 5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(k.instructions[i].opcode, HloOpcode::kParameter);
    EXPECT_EQ(k.origin[i], i);  // the entry parameters x, scale, offset, mean, variance
  }
  EXPECT_EQ(k.root_instruction().name, "relu");
  EXPECT_EQ(k.instructions[k.root_instruction().operands[0]].name, "bn/output");
  EXPECT_EQ(KernelCost(k).transcendentals, 16);
}

TEST(ExpandersTest, ImportModelFileExpands) {
  absl::StatusOr<ImportedModel> model = ImportModelFile(kFile, {});
  ASSERT_THAT(model.status(), IsOk());
  EXPECT_EQ(CountBatchNorm(model->program.instructions), 0);
  EXPECT_NE(Find(model->program.instructions, "bn_grad/grad_operand"), nullptr);
}

TEST(ExpandersTest, ProgramWithoutBatchNormIsUnchanged) {
  ImportOptions options;
  absl::StatusOr<ImportedModel> model =
      ParseHloFile("tests/testdata/hlo/unoptimized_convnet.hlo", options);
  ASSERT_THAT(model.status(), IsOk());
  Program p = model->program;
  ASSERT_THAT(ExpandBatchNorm(&p), IsOk());
  ASSERT_EQ(p.size(), model->program.size());
  for (int i = 0; i < p.size(); ++i) {
    EXPECT_EQ(p.at(i).name, model->program.at(i).name);
    EXPECT_EQ(p.at(i).operands, model->program.at(i).operands);
  }
  EXPECT_EQ(p.outputs, model->program.outputs);
}

// A one-instruction module around `bn_line` (parameters x: f32[8,16,4,4], s: f32[16]).
absl::Status ParseBatchNorm(const std::string& bn_line) {
  const std::string text = absl::StrCat(
      "HloModule bad\n\nENTRY main {\n"
      "  x = f32[8,16,4,4] parameter(0)\n"
      "  s = f32[16] parameter(1)\n"
      "  s8 = f32[8] parameter(2)\n"
      "  i = s32[8,16,4,4] parameter(3)\n  ",
      bn_line, "\n}\n");
  return ParseHloText(text, "bad.hlo", {}).status();
}

TEST(ExpandersTest, InvalidBatchNormIsAClearError) {
  EXPECT_THAT(ParseBatchNorm("ROOT bn = (f32[8,16,4,4], f32[16], f32[16]) batch-norm-training(x, "
                             "s, s), epsilon=0.001, feature_index=4"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("bad.hlo"), HasSubstr("batch-norm-training 'bn'"),
                             HasSubstr("feature_index 4 is out of range"))));
  EXPECT_THAT(ParseBatchNorm("ROOT bn = (f32[8,16,4,4], f32[16], f32[16]) batch-norm-training(x, "
                             "s8, s), epsilon=0.001, feature_index=1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("'bn'"),
                             HasSubstr("scale 's8' is f32[8], expected f32[16]"))));
  EXPECT_THAT(ParseBatchNorm("ROOT bn = f32[8,16,4,4] batch-norm-inference(x, s, s, s, s8), "
                             "epsilon=0.001, feature_index=1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("batch-norm-inference 'bn'"),
                             HasSubstr("variance 's8' is f32[8]"))));
  EXPECT_THAT(ParseBatchNorm("ROOT bn = (f32[8,16,4,4], f32[16], f32[16]) batch-norm-grad(x, s, "
                             "s, s, s8), epsilon=0.001, feature_index=1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("grad_output 's8' is f32[8], expected f32[8,16,4,4]")));
  EXPECT_THAT(ParseBatchNorm("ROOT bn = (f32[8,16,4,4], f32[16], f32[16]) batch-norm-training(x, "
                             "s, s), feature_index=1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing epsilon")));
  EXPECT_THAT(ParseBatchNorm("ROOT bn = (f32[8,16,4,4], f32[16], f32[16]) batch-norm-training(x, "
                             "s, s), epsilon=0.001"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing feature_index")));
  EXPECT_THAT(ParseBatchNorm("ROOT bn = (f32[8,16,4,4], f32[8], f32[16]) batch-norm-training(x, "
                             "s, s), epsilon=0.001, feature_index=1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("result shape is (f32[8,16,4,4], f32[8], f32[16]), expected "
                                 "(f32[8,16,4,4], f32[16], f32[16])")));
  EXPECT_THAT(ParseBatchNorm("ROOT bn = s32[8,16,4,4] batch-norm-inference(i, s, s, s, s), "
                             "epsilon=0.001, feature_index=1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("operand 'i' is s32[8,16,4,4], expected a floating-point array")));
  EXPECT_THAT(ParseBatchNorm("bn = (f32[8,16,4,4], f32[16], f32[16]) batch-norm-training(x, s, s), "
                             "epsilon=0.001, feature_index=1\n"
                             "  ROOT g = f32[16] get-tuple-element(bn), index=3"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       // The verifier (graph/verifier.h) rejects it before the expander.
                       HasSubstr("bad.hlo:9:8: get-tuple-element 'g': index 3 is out of range "
                                 "for a tuple of 3 elements")));
  EXPECT_THAT(ParseBatchNorm("ROOT bn = f32[8,16,4,4] batch-norm-inference(x, s, s, s, s), "
                             "epsilon=abc, feature_index=1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("expected a finite number as epsilon")));
  // Kept as written when expansion is off: no error.
  ImportOptions keep;
  keep.expand_batch_norm = false;
  EXPECT_THAT(ParseHloText("HloModule m\nENTRY main {\n  x = f32[8,16] parameter(0)\n"
                           "  s = f32[4] parameter(1)\n  ROOT bn = f32[8,16] "
                           "batch-norm-inference(x, s, s, s, s), epsilon=0.1, feature_index=1\n}\n",
                           "keep.hlo", keep)
                  .status(),
              IsOk());
}

// The Kernel overload on a hand-built kernel whose root is the batch-norm tuple itself.
TEST(ExpandersTest, KernelRootBatchNormBecomesMultiOutput) {
  Kernel k;
  k.name = "bn_kernel";
  auto add = [&](HloOpcode opcode, Shape shape, std::vector<int> operands, Attributes attrs,
                 const std::string& name, int origin) {
    Instruction inst;
    inst.id = k.size();
    inst.opcode = opcode;
    inst.shape = std::move(shape);
    inst.operands = std::move(operands);
    inst.attrs = std::move(attrs);
    inst.name = name;
    k.instructions.push_back(std::move(inst));
    k.origin.push_back(origin);
    return k.size() - 1;
  };
  Attributes p0, p1;
  p0.parameter_number = 0;
  p1.parameter_number = 1;
  const Shape full = Shape::Make(PrimitiveType::kBF16, {4, 6});
  const Shape feature = Shape::Make(PrimitiveType::kBF16, {4});
  const int x = add(HloOpcode::kParameter, full, {}, p0, "x", 10);
  const int s = add(HloOpcode::kParameter, feature, {}, p1, "s", 11);
  Attributes bn_attrs;
  bn_attrs.dimensions = {0};
  bn_attrs.constant_value = 0.01;
  k.root = add(HloOpcode::kBatchNormTraining, Shape::Tuple({full, feature, feature}), {x, s, s},
               bn_attrs, "bn", 12);
  ASSERT_THAT(ExpandBatchNorm(&k), IsOk());
  EXPECT_THAT(k.Validate(), IsOk());
  EXPECT_EQ(CountBatchNorm(k.instructions), 0);
  EXPECT_EQ(k.instructions[0].name, "x");
  EXPECT_EQ(k.instructions[1].name, "s");
  EXPECT_THAT(std::vector<int>(k.origin.begin(), k.origin.begin() + 2), ElementsAre(10, 11));
  for (size_t i = 2; i < k.origin.size(); ++i) EXPECT_EQ(k.origin[i], 12);
  const Instruction& root = k.root_instruction();
  EXPECT_EQ(root.opcode, HloOpcode::kTuple);
  EXPECT_EQ(root.name, "bn");
  EXPECT_EQ(root.shape, Shape::Tuple({full, feature, feature}));
  const Instruction* sum = Find(k.instructions, "bn/sum");
  ASSERT_NE(sum, nullptr);
  EXPECT_THAT(sum->attrs.dimensions, ElementsAre(1));
  EXPECT_EQ(sum->shape.element_type, PrimitiveType::kBF16);
}

}  // namespace
}  // namespace perfgraph::graph
