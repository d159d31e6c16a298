#include "fusion/default_fusion.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/graph/test_programs.h"
#include "tests/status_matchers.h"

namespace perfgraph::fusion {
namespace {

using graph::FusionKind;
using graph::HloOpcode;
using graph::Kernel;
using graph::Program;
namespace test = graph::test;

std::vector<HloOpcode> Opcodes(const Kernel& k) {
  std::vector<HloOpcode> ops;
  for (const auto& inst : k.instructions) ops.push_back(inst.opcode);
  return ops;
}

TEST(DefaultFusionTest, FusingBiasAddAndReluIntoConvolutionGivesOneOutputFusion) {
  auto kernels = DefaultFusion(test::ConvBiasRelu());
  ASSERT_OK(kernels);
  ASSERT_EQ(kernels->size(), 1u);
  const Kernel& k = (*kernels)[0];
  EXPECT_EQ(k.kind, FusionKind::kOutput);
  EXPECT_EQ(k.num_parameters(), 3);
  EXPECT_EQ(k.root_instruction().opcode, HloOpcode::kMaximum);
  EXPECT_THAT(Opcodes(k),
              ::testing::ElementsAre(HloOpcode::kParameter, HloOpcode::kParameter,
                                     HloOpcode::kParameter, HloOpcode::kConstant,
                                     HloOpcode::kConvolution, HloOpcode::kBroadcast,
                                     HloOpcode::kAdd, HloOpcode::kBroadcast, HloOpcode::kMaximum));
  EXPECT_OK(k.Validate());
  // Parameters map back to the program's x, w, b; the splat zero is copied in.
  EXPECT_THAT(k.origin, ::testing::ElementsAre(0, 1, 2, 6, 3, 4, 5, 7, 8));
}

TEST(DefaultFusionTest, SoftmaxSplitsAtReductionsAndMultiUserExponential) {
  auto kernels = DefaultFusion(test::Softmax());
  ASSERT_OK(kernels);
  ASSERT_EQ(kernels->size(), 4u);
  EXPECT_EQ((*kernels)[0].kind, FusionKind::kInput);  // reduce max
  EXPECT_EQ((*kernels)[0].root_instruction().opcode, HloOpcode::kReduce);
  EXPECT_EQ((*kernels)[1].kind, FusionKind::kLoop);  // broadcast, subtract, exponential
  EXPECT_EQ((*kernels)[1].root_instruction().opcode, HloOpcode::kExponential);
  EXPECT_EQ((*kernels)[1].size(), 5);                // 2 params + 3 ops
  EXPECT_EQ((*kernels)[2].kind, FusionKind::kInput);  // reduce sum
  EXPECT_EQ((*kernels)[3].kind, FusionKind::kLoop);   // broadcast + divide
  EXPECT_EQ((*kernels)[3].root_instruction().opcode, HloOpcode::kDivide);
  for (const Kernel& k : *kernels) EXPECT_OK(k.Validate());
}

TEST(DefaultFusionTest, CheapBroadcastWithSeveralUsersIsDuplicated) {
  Program p;
  p.name = "two_relus";
  int x = test::Param(p, {64}, "x");
  int y = test::Param(p, {64}, "y");
  int zero = test::Splat(p, 0);
  int zb = test::Broadcast(p, zero, {64}, {});
  int r1 = p.Add(HloOpcode::kMaximum, test::F32({64}), {x, zb});
  int e = p.Add(HloOpcode::kExponential, test::F32({64}), {y});
  int r2 = p.Add(HloOpcode::kMaximum, test::F32({64}), {e, zb});
  p.outputs = {r1, r2};
  auto kernels = DefaultFusion(p);
  ASSERT_OK(kernels);
  ASSERT_EQ(kernels->size(), 2u);
  for (const Kernel& k : *kernels) {
    EXPECT_EQ(k.kind, FusionKind::kLoop);
    EXPECT_THAT(Opcodes(k), ::testing::Contains(HloOpcode::kBroadcast));
  }
  EXPECT_THAT(Opcodes((*kernels)[1]), ::testing::Contains(HloOpcode::kExponential));
}

TEST(DefaultFusionTest, ExpensiveProducerWithSeveralConsumerKernelsIsMaterialised) {
  Program p;
  p.name = "shared_exp";
  int x = test::Param(p, {64}, "x");
  int e = p.Add(HloOpcode::kExponential, test::F32({64}), {x});
  int a = p.Add(HloOpcode::kNegate, test::F32({64}), {e});
  int b = p.Add(HloOpcode::kAbs, test::F32({64}), {e});
  p.outputs = {a, b};
  auto kernels = DefaultFusion(p);
  ASSERT_OK(kernels);
  EXPECT_EQ(kernels->size(), 3u);
}

TEST(DefaultFusionTest, BitcastsAloneFormNoKernelButKeepTheWorkFusedIntoThem) {
  Program p;
  p.name = "bitcasts";
  int x = test::Param(p, {16, 16}, "x");
  // A bitcast of a parameter: a buffer reinterpreted in place, no kernel.
  int alone = p.Add(HloOpcode::kBitcast, test::F32({256}), {x});
  // Work fused into a bitcast root stays a kernel: exponential -> bitcast.
  int e = p.Add(HloOpcode::kExponential, test::F32({16, 16}), {x});
  int fused = p.Add(HloOpcode::kBitcast, test::F32({256}), {e});
  p.outputs = {alone, fused};
  auto kernels = DefaultFusion(p);
  ASSERT_OK(kernels);
  ASSERT_EQ(kernels->size(), 1u);
  EXPECT_EQ((*kernels)[0].root_instruction().opcode, HloOpcode::kBitcast);
  EXPECT_EQ((*kernels)[0].size(), 3);  // parameter, exponential, bitcast
}

TEST(DefaultFusionTest, ShouldFuseOverrideControlsDecisionsButNotLegality) {
  FusionOptions never;
  never.should_fuse = [](const Program&, const FusionCandidate&) { return false; };
  auto unfused = DefaultFusion(test::ConvBiasRelu(), never);
  ASSERT_OK(unfused);
  EXPECT_EQ(unfused->size(), 5u);  // conv, 2 broadcasts, add, maximum each alone

  FusionOptions always;
  int calls = 0;
  always.should_fuse = [&calls](const Program&, const FusionCandidate&) {
    ++calls;
    return true;
  };
  auto fused = DefaultFusion(test::Softmax(), always);
  ASSERT_OK(fused);
  // Two reductions cannot share a kernel, so the max reduction stays separate.
  EXPECT_EQ(fused->size(), 2u);
  EXPECT_GT(calls, 0);
}

// Every visited instruction (not a parameter or constant) gets exactly one decision: should_fuse for a
// legal candidate, on_illegal with the rule otherwise; consumer kernels carry their members.
TEST(DefaultFusionTest, EveryVisitedInstructionIsDecidedOnceWithTheLegalityRuleWhenIllegal) {
  const Program program = test::Softmax();
  std::vector<int> visited;
  std::vector<std::string> rules;
  FusionOptions options;
  options.should_fuse = [&](const Program&, const FusionCandidate& c) {
    visited.push_back(c.producer);
    for (const ConsumerKernel& consumer : c.consumers) {
      EXPECT_EQ(static_cast<int>(consumer.members.size()), consumer.num_instructions);
      EXPECT_EQ(consumer.members.front(), consumer.root);  // the root joined first
    }
    return true;  // fuse whatever is legal, so the heavy-op rule is reached
  };
  options.on_illegal = [&](const Program&, const FusionCandidate& c, const std::string& rule) {
    visited.push_back(c.producer);
    rules.push_back(rule);
  };
  auto kernels = DefaultFusion(program, options);
  ASSERT_OK(kernels);
  std::vector<int> expected;
  for (int id = program.size() - 1; id >= 0; --id) {
    const HloOpcode op = program.at(id).opcode;
    if (op != HloOpcode::kParameter && op != HloOpcode::kConstant) expected.push_back(id);
  }
  EXPECT_EQ(visited, expected);  // visit order: consumers before producers, each once
  // The output is materialised by rule; the max reduction cannot join the kernel of the sum.
  EXPECT_THAT(rules, ::testing::Contains("a program output is materialised as a kernel root"));
  EXPECT_THAT(rules, ::testing::Contains(::testing::HasSubstr("at most one heavy op per kernel")));
  // Reporting does not change the kernels: the same as without on_illegal.
  FusionOptions always;
  always.should_fuse = [](const Program&, const FusionCandidate&) { return true; };
  auto plain = DefaultFusion(program, always);
  ASSERT_OK(plain);
  ASSERT_EQ(kernels->size(), plain->size());
  for (size_t i = 0; i < kernels->size(); ++i) {
    EXPECT_EQ((*kernels)[i].origin, (*plain)[i].origin);
  }
}

TEST(DefaultFusionTest, KernelSizeLimitIsRespected) {
  Program p;
  p.name = "chain";
  int v = test::Param(p, {16}, "x");
  for (int i = 0; i < 10; ++i) v = p.Add(HloOpcode::kNegate, test::F32({16}), {v});
  p.outputs = {v};
  FusionOptions options;
  options.max_kernel_instructions = 4;
  auto kernels = DefaultFusion(p, options);
  ASSERT_OK(kernels);
  EXPECT_EQ(kernels->size(), 3u);  // 4 + 4 + 2 negates
}

TEST(DefaultFusionTest, InvalidProgramIsRejected) {
  Program p;
  p.name = "bad";
  p.Add(HloOpcode::kNegate, test::F32({4}), {5});
  EXPECT_THAT(DefaultFusion(p), perfgraph::testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace perfgraph::fusion
