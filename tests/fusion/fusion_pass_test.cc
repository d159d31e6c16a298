#include "fusion/fusion_pass.h"

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "cost/analytical_model.h"
#include "data/kernel_proto.h"
#include "graph/kernel_hash.h"
#include "fusion/default_fusion.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cost/cost_test_util.h"
#include "tests/graph/test_programs.h"
#include "tests/status_matchers.h"

namespace perfgraph::fusion {
namespace {

using graph::HloOpcode;
using graph::Kernel;
using graph::Program;
using ::perfgraph::testing::StatusIs;
using ::testing::HasSubstr;
namespace test = graph::test;

// A cost model whose estimate depends only on the kernel (every config costs the same), so the
// pass's decisions follow directly from `cost`.
class FakeModel : public cost::CostModel {
 public:
  explicit FakeModel(std::function<absl::StatusOr<double>(const Kernel&)> cost)
      : cost_(std::move(cost)) {}
  std::string name() const override { return "fake"; }
  std::vector<absl::StatusOr<double>> EstimateNs(
      absl::Span<const cost::CostQuery> queries) override {
    std::vector<absl::StatusOr<double>> result;
    for (const cost::CostQuery& q : queries) result.push_back(cost_(*q.kernel));
    return result;
  }

 private:
  std::function<absl::StatusOr<double>(const Kernel&)> cost_;
};

int CountOpcode(const Kernel& k, HloOpcode opcode) {
  int n = 0;
  for (const auto& inst : k.instructions) n += inst.opcode == opcode;
  return n;
}

int CountNonParameters(const Kernel& k) {
  int n = 0;
  for (const auto& inst : k.instructions) {
    n += inst.opcode != HloOpcode::kParameter && inst.opcode != HloOpcode::kConstant;
  }
  return n;
}

const FusionDecision* DecisionFor(const FusionPassResult& result, const std::string& name) {
  for (const FusionDecision& d : result.decisions) {
    if (d.producer_name == name) return &d;
  }
  return nullptr;
}

// Every kernel valid, at most one heavy op each, and every non-parameter, non-constant program
// instruction computed by some kernel.
void ExpectValidCover(const Program& program, const std::vector<Kernel>& kernels) {
  std::set<int> covered;
  for (const Kernel& k : kernels) {
    EXPECT_OK(k.Validate());
    int heavy = 0;
    for (size_t i = 0; i < k.instructions.size(); ++i) {
      const HloOpcode op = k.instructions[i].opcode;
      heavy += op == HloOpcode::kConvolution || op == HloOpcode::kDot ||
               op == HloOpcode::kReduce || op == HloOpcode::kReduceWindow;
      if (op != HloOpcode::kParameter && op != HloOpcode::kConstant) covered.insert(k.origin[i]);
    }
    EXPECT_LE(heavy, 1) << k.name;
  }
  for (const auto& inst : program.instructions) {
    if (inst.opcode == HloOpcode::kParameter || inst.opcode == HloOpcode::kConstant) continue;
    EXPECT_TRUE(covered.count(inst.id)) << inst.name << " is in no kernel";
  }
}

// Fused is always cheaper: one launch per kernel, nothing else.
double LaunchOnly(const Kernel&) { return 100.0; }
// Fused is never cheaper: quadratic in kernel size, so (a + 1)^2 > a^2 + 1.
double Quadratic(const Kernel& k) {
  const double n = CountNonParameters(k);
  return 100.0 * n * n;
}

TEST(FusionPassTest, FusesWhenTheModelSaysFusedIsCheaper) {
  FakeModel model([](const Kernel& k) -> absl::StatusOr<double> { return LaunchOnly(k); });
  FusionPass pass(model);
  const Program program = test::ConvBiasRelu();
  auto result = pass.Run(program);
  ASSERT_OK(result);
  ASSERT_EQ(result->kernels.size(), 1u);
  EXPECT_EQ(result->kernels[0].kind, graph::FusionKind::kOutput);
  const FusionDecision* conv = DecisionFor(*result, "conv");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->kind, FusionDecisionKind::kFused);
  EXPECT_DOUBLE_EQ(conv->fused_ns, 100.0);
  EXPECT_DOUBLE_EQ(conv->unfused_ns, 200.0);
  EXPECT_THAT(conv->reason, HasSubstr("fused: 100 ns < 200 ns"));
  ExpectValidCover(program, result->kernels);
}

TEST(FusionPassTest, DeclinesWithARecordedReasonWhenFusedIsNotCheaper) {
  FakeModel model([](const Kernel& k) -> absl::StatusOr<double> { return Quadratic(k); });
  FusionPass pass(model);
  const Program program = test::ConvBiasRelu();
  auto result = pass.Run(program);
  ASSERT_OK(result);
  // conv, two broadcasts, add, maximum: each its own kernel.
  EXPECT_EQ(result->kernels.size(), 5u);
  const FusionDecision* conv = DecisionFor(*result, "conv");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->kind, FusionDecisionKind::kDeclinedCost);
  // Consumer "bias_add" alone: 1 op -> 100; with conv: 2 ops -> 400; conv alone: 100.
  EXPECT_DOUBLE_EQ(conv->fused_ns, 400.0);
  EXPECT_DOUBLE_EQ(conv->unfused_ns, 200.0);
  EXPECT_THAT(conv->reason, HasSubstr("declined: 400 ns >= 200 ns"));
  const FusionDecision* relu = DecisionFor(*result, "relu");
  ASSERT_NE(relu, nullptr);
  EXPECT_EQ(relu->kind, FusionDecisionKind::kDeclinedLegality);
  EXPECT_THAT(relu->reason, HasSubstr("program output"));
  ExpectValidCover(program, result->kernels);
}

TEST(FusionPassTest, EveryVisitedInstructionGetsOneDecision) {
  FakeModel model([](const Kernel& k) -> absl::StatusOr<double> { return LaunchOnly(k); });
  FusionPass pass(model);
  const Program program = test::Softmax();
  auto result = pass.Run(program);
  ASSERT_OK(result);
  std::vector<int> producers;
  for (const FusionDecision& d : result->decisions) producers.push_back(d.producer);
  std::vector<int> expected;
  for (int id = program.size() - 1; id >= 0; --id) {
    const HloOpcode op = program.at(id).opcode;
    if (op != HloOpcode::kParameter && op != HloOpcode::kConstant) expected.push_back(id);
  }
  EXPECT_EQ(producers, expected);
  for (const FusionDecision& d : result->decisions) EXPECT_FALSE(d.reason.empty()) << d.producer;
}

TEST(FusionPassTest, NeverFusesTwoReductionsEvenWhenTheModelWouldLikeTo) {
  FakeModel model([](const Kernel& k) -> absl::StatusOr<double> { return LaunchOnly(k); });
  FusionPass pass(model);
  const Program program = test::Softmax();
  auto result = pass.Run(program);
  ASSERT_OK(result);
  ExpectValidCover(program, result->kernels);
  // The max reduction would join the kernel of the sum reduction: a legality decision, no cost.
  const FusionDecision* max = DecisionFor(*result, "max");
  ASSERT_NE(max, nullptr);
  EXPECT_EQ(max->kind, FusionDecisionKind::kDeclinedLegality);
  EXPECT_THAT(max->reason, HasSubstr("at most one heavy op per kernel"));
  EXPECT_THAT(max->reason, HasSubstr("sum"));
  EXPECT_DOUBLE_EQ(max->fused_ns, 0);
}

// x -> exp -> {exp + y, exp * z}, both outputs: `exp` has two consumer kernels.
Program SharedExp() {
  Program p;
  p.name = "shared_exp";
  int x = test::Param(p, {1024}, "x");
  int y = test::Param(p, {1024}, "y");
  int z = test::Param(p, {1024}, "z");
  int e = p.Add(HloOpcode::kExponential, test::F32({1024}), {x}, {}, "exp");
  int a = p.Add(HloOpcode::kAdd, test::F32({1024}), {e, y}, {}, "a");
  int m = p.Add(HloOpcode::kMultiply, test::F32({1024}), {e, z}, {}, "m");
  p.outputs = {a, m};
  return p;
}

// Per kernel: a launch cost plus `exp_ns` per exponential it computes.
absl::StatusOr<double> LaunchPlusExp(const Kernel& k, double exp_ns) {
  return 100.0 + exp_ns * CountOpcode(k, HloOpcode::kExponential);
}

TEST(FusionPassTest, DuplicatesAMultiUserProducerWhenRecomputingIsPredictedCheaper) {
  // Duplicated: 2 x (100 + 10) = 220 < unfused: (100 + 10) + 2 x 100 = 310.
  FakeModel model([](const Kernel& k) { return LaunchPlusExp(k, 10); });
  FusionPass pass(model);
  const Program program = SharedExp();
  auto result = pass.Run(program);
  ASSERT_OK(result);
  ASSERT_EQ(result->kernels.size(), 2u);
  for (const Kernel& k : result->kernels) EXPECT_EQ(CountOpcode(k, HloOpcode::kExponential), 1);
  const FusionDecision* exp = DecisionFor(*result, "exp");
  ASSERT_NE(exp, nullptr);
  EXPECT_EQ(exp->kind, FusionDecisionKind::kFused);
  EXPECT_EQ(exp->consumer_roots.size(), 2u);
  EXPECT_DOUBLE_EQ(exp->fused_ns, 220);
  EXPECT_DOUBLE_EQ(exp->unfused_ns, 310);
  EXPECT_THAT(exp->reason, HasSubstr("duplicated into 2 kernels"));
  // The default heuristic never duplicates an exponential.
  auto default_kernels = DefaultFusion(program);
  ASSERT_OK(default_kernels);
  EXPECT_EQ(default_kernels->size(), 3u);
}

TEST(FusionPassTest, KeepsAMultiUserProducerMaterialisedWhenRecomputingIsDearer) {
  // Duplicated: 2 x (100 + 1000) = 2200 >= unfused: 1100 + 200 = 1300.
  FakeModel model([](const Kernel& k) { return LaunchPlusExp(k, 1000); });
  FusionPass pass(model);
  const Program program = SharedExp();
  auto result = pass.Run(program);
  ASSERT_OK(result);
  EXPECT_EQ(result->kernels.size(), 3u);
  const FusionDecision* exp = DecisionFor(*result, "exp");
  ASSERT_NE(exp, nullptr);
  EXPECT_EQ(exp->kind, FusionDecisionKind::kDeclinedCost);
  EXPECT_DOUBLE_EQ(exp->fused_ns, 2200);
  EXPECT_DOUBLE_EQ(exp->unfused_ns, 1300);
  ExpectValidCover(program, result->kernels);
}

TEST(FusionPassTest, AKernelTheModelCannotEstimateIsDeclinedNotFatal) {
  // The model fails on any kernel holding the convolution together with something else.
  FakeModel model([](const Kernel& k) -> absl::StatusOr<double> {
    if (CountOpcode(k, HloOpcode::kConvolution) > 0 && CountNonParameters(k) > 1) {
      return absl::UnimplementedError("fake: fused convolution");
    }
    return 100.0;
  });
  FusionPass pass(model);
  const Program program = test::ConvBiasRelu();
  auto result = pass.Run(program);
  ASSERT_OK(result);
  const FusionDecision* conv = DecisionFor(*result, "conv");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->kind, FusionDecisionKind::kDeclinedNoEstimate);
  EXPECT_THAT(conv->reason, HasSubstr("fake: fused convolution"));
  ExpectValidCover(program, result->kernels);
}

TEST(FusionPassTest, CostsAreCachedByCanonicalKernelHash) {
  int calls = 0;
  FakeModel model([&calls](const Kernel& k) -> absl::StatusOr<double> {
    ++calls;
    return LaunchOnly(k);
  });
  FusionPassOptions options;
  options.max_configs_per_kernel = 1;  // one query per costed kernel
  FusionPass pass(model, options);
  auto first = pass.Run(test::ConvBiasRelu());
  ASSERT_OK(first);
  const int calls_after_first = calls;
  EXPECT_GT(first->cost_cache_hits, 0);  // a consumer kernel is the previous fused kernel
  EXPECT_LT(calls_after_first, first->kernels_costed);
  // The same program again: every kernel is in the cache.
  auto second = pass.Run(test::ConvBiasRelu());
  ASSERT_OK(second);
  EXPECT_EQ(calls, calls_after_first);
  EXPECT_EQ(second->cost_cache_hits, second->kernels_costed);
}

TEST(FusionPassTest, WithTheAnalyticalModelProducesValidKernelsCoveringThePrograms) {
  auto model = cost::AnalyticalModel::Create(cost::test::SyntheticTarget());
  ASSERT_OK(model);
  FusionPass pass(*model);
  for (const Program& program : {test::ConvBiasRelu(), test::Softmax(), SharedExp()}) {
    SCOPED_TRACE(program.name);
    auto result = pass.Run(program);
    ASSERT_OK(result);
    ExpectValidCover(program, result->kernels);
    for (const FusionDecision& d : result->decisions) {
      if (d.kind == FusionDecisionKind::kFused || d.kind == FusionDecisionKind::kDeclinedCost) {
        EXPECT_GT(d.fused_ns, 0) << d.reason;
        EXPECT_GT(d.unfused_ns, 0) << d.reason;
      }
      EXPECT_NE(d.kind, FusionDecisionKind::kDeclinedNoEstimate) << d.reason;
    }
  }
}

TEST(FusionPassTest, InvalidProgramAndOptionsAreInvalidArgument) {
  FakeModel model([](const Kernel& k) -> absl::StatusOr<double> { return LaunchOnly(k); });
  Program broken = test::ConvBiasRelu();
  broken.outputs = {99};
  FusionPass pass(model);
  EXPECT_THAT(pass.Run(broken), StatusIs(absl::StatusCode::kInvalidArgument));
  FusionPassOptions options;
  options.max_kernel_instructions = 0;
  FusionPass bad_options(model, options);
  EXPECT_THAT(bad_options.Run(test::ConvBiasRelu()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_kernel_instructions")));
}

TEST(BuildGroupKernelTest, MatchesDefaultFusionForTheSameGroup) {
  const Program program = test::ConvBiasRelu();
  auto fused = DefaultFusion(program);
  ASSERT_OK(fused);
  ASSERT_EQ(fused->size(), 1u);
  // Members: every non-parameter, non-constant instruction; root: relu.
  std::vector<int> members;
  for (const auto& inst : program.instructions) {
    if (inst.opcode != HloOpcode::kParameter && inst.opcode != HloOpcode::kConstant) {
      members.push_back(inst.id);
    }
  }
  auto kernel = BuildGroupKernel(program, members, program.outputs[0], "fusion.0");
  ASSERT_OK(kernel);
  EXPECT_EQ(graph::CanonicalKernelHash(*kernel), graph::CanonicalKernelHash((*fused)[0]));
  EXPECT_EQ(kernel->origin, (*fused)[0].origin);
  EXPECT_EQ(kernel->kind, graph::FusionKind::kOutput);
}

TEST(BuildGroupKernelTest, RejectsBadGroups) {
  const Program program = test::ConvBiasRelu();
  const int conv = 3;
  ASSERT_EQ(program.at(conv).opcode, HloOpcode::kConvolution);
  EXPECT_THAT(BuildGroupKernel(program, {}, conv, "g"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no members")));
  EXPECT_THAT(BuildGroupKernel(program, {conv}, conv + 1, "g"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a member")));
  EXPECT_THAT(BuildGroupKernel(program, {conv, 100}, conv, "g"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("100")));
  EXPECT_THAT(BuildGroupKernel(program, {0, conv}, conv, "g"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parameter")));
  // A lone convolution: both operands become parameters.
  auto alone = BuildGroupKernel(program, {conv}, conv, "g");
  ASSERT_OK(alone);
  EXPECT_EQ(alone->num_parameters(), 2);
  EXPECT_EQ(alone->size(), 3);
}

}  // namespace
}  // namespace perfgraph::fusion
