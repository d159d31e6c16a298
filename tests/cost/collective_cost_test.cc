// Collectives end to end: HLO text with replica_groups -> default fusion (a kernel per collective,
// none for tuple / get-tuple-element) -> the alpha-beta cost of cost/collective_cost.h, through the
// analytical model and the tiling pass.
#include "cost/collective_cost.h"

#include <cmath>
#include <string>
#include <vector>

#include "cost/analytical_model.h"
#include "cost/target_description.h"
#include "fusion/default_fusion.h"
#include "gmock/gmock.h"
#include "graph/hlo_opcode.h"
#include "graph/hlo_parser.h"
#include "gtest/gtest.h"
#include "tests/cost/cost_test_util.h"
#include "tests/status_matchers.h"
#include "tiling/tile_config.h"

namespace perfgraph::cost {
namespace {

using ::perfgraph::testing::StatusIs;
using ::testing::HasSubstr;

// Binds `lhs` to the value of a StatusOr, failing the test (and returning) on an error.
#define PG_CONCAT_INNER_(a, b) a##b
#define PG_CONCAT_(a, b) PG_CONCAT_INNER_(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  auto PG_CONCAT_(statusor_, __LINE__) = (expr); \
  ASSERT_OK(PG_CONCAT_(statusor_, __LINE__)); \
  lhs = std::move(*PG_CONCAT_(statusor_, __LINE__))

// A tensor-parallel step: an elementwise producer, an all-reduce over groups of 64 (iota form),
// an all-gather over explicit groups of 4, a reduce-scatter over every device ("{}"), and a tuple
// of the results as the output.
constexpr char kModule[] = R"(
HloModule tp_step

sum {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT add = f32[] add(a, b)
}

ENTRY main {
  x = f32[1024,256] parameter(0)
  y = f32[1024,256] parameter(1)
  m = f32[1024,256] multiply(x, y)
  ar = f32[1024,256] all-reduce(m), channel_id=1, replica_groups=[2,64]<=[128], use_global_device_ids=true, to_apply=sum
  e = f32[1024,256] exponential(ar)
  ag = f32[1024,1024] all-gather(e), channel_id=2, replica_groups={{0,1,2,3},{4,5,6,7}}, dimensions={1}
  rs = f32[128,256] reduce-scatter(m), channel_id=3, replica_groups={}, dimensions={0}, to_apply=sum
  ROOT t = (f32[1024,1024], f32[128,256]) tuple(ag, rs)
}
)";

std::vector<graph::Kernel> FusedKernels() {
  absl::StatusOr<std::vector<graph::ImportedModel>> models =
      graph::ParseHloText(kModule, "tp_step.hlo", graph::ImportOptions());
  EXPECT_OK(models);
  if (!models.ok() || models->size() != 1) return {};
  absl::StatusOr<std::vector<graph::Kernel>> kernels = fusion::DefaultFusion((*models)[0].program);
  EXPECT_OK(kernels);
  return kernels.ok() ? *kernels : std::vector<graph::Kernel>{};
}

const graph::Kernel* RootedAt(const std::vector<graph::Kernel>& kernels, graph::HloOpcode opcode) {
  for (const graph::Kernel& k : kernels) {
    if (k.root_instruction().opcode == opcode) return &k;
  }
  return nullptr;
}

TEST(CollectiveFusionTest, EveryCollectiveIsAKernelOfItsOwnAndTuplesFormNone) {
  const std::vector<graph::Kernel> kernels = FusedKernels();
  // multiply, all-reduce, exponential, all-gather, reduce-scatter; no kernel for the tuple.
  ASSERT_EQ(kernels.size(), 5u);
  for (const graph::Kernel& k : kernels) {
    EXPECT_NE(k.root_instruction().opcode, graph::HloOpcode::kTuple) << k.name;
    if (IsCollectiveKernel(k)) {
      // The collective and its parameters only: neither the multiply nor the exponential joined.
      for (const graph::Instruction& inst : k.instructions) {
        EXPECT_TRUE(inst.opcode == graph::HloOpcode::kParameter || inst.id == k.root) << k.name;
      }
    }
  }
  const graph::Kernel* all_reduce = RootedAt(kernels, graph::HloOpcode::kAllReduce);
  const graph::Kernel* all_gather = RootedAt(kernels, graph::HloOpcode::kAllGather);
  const graph::Kernel* reduce_scatter = RootedAt(kernels, graph::HloOpcode::kReduceScatter);
  ASSERT_NE(all_reduce, nullptr);
  ASSERT_NE(all_gather, nullptr);
  ASSERT_NE(reduce_scatter, nullptr);
  EXPECT_EQ(all_reduce->root_instruction().attrs.replica_group_size, 64);
  EXPECT_EQ(all_gather->root_instruction().attrs.replica_group_size, 4);
  EXPECT_EQ(reduce_scatter->root_instruction().attrs.replica_group_size, 0);  // every device
  // One config: nothing to tile in communication.
  absl::StatusOr<std::vector<tiling::TileConfig>> space = tiling::ConfigSpace(*all_reduce);
  ASSERT_OK(space);
  EXPECT_EQ(space->size(), 1u);
}

TEST(CollectiveCostTest, FollowsThakursFormulasAndPicksTheCheapestAlgorithm) {
  const std::vector<graph::Kernel> kernels = FusedKernels();
  const graph::Kernel* all_reduce = RootedAt(kernels, graph::HloOpcode::kAllReduce);
  const graph::Kernel* all_gather = RootedAt(kernels, graph::HloOpcode::kAllGather);
  const graph::Kernel* reduce_scatter = RootedAt(kernels, graph::HloOpcode::kReduceScatter);
  ASSERT_NE(all_reduce, nullptr);
  InterconnectDescription net;
  net.name = "test";
  net.link_bandwidth_bytes_per_s = 10e9;  // beta = 0.1 ns/byte
  net.latency_ns = 5000;
  net.devices = 16;
  const double beta = 0.1;
  // all-reduce of 1 MiB over 64 devices: Rabenseifner (power of two) beats ring (126 latencies) and
  // recursive doubling (6 full-size messages).
  absl::StatusOr<CollectiveCost> ar = EstimateCollective(*all_reduce, net);
  ASSERT_OK(ar);
  const double n = 1024.0 * 256 * 4;
  EXPECT_EQ(ar->bytes, 1024 * 256 * 4);
  EXPECT_EQ(ar->group_size, 64);
  EXPECT_EQ(ar->algorithm, "Rabenseifner all-reduce");
  EXPECT_NEAR(ar->total_ns, 2 * 6 * 5000 + 2 * 63.0 / 64 * n * beta, 1e-6);
  // all-gather over 4 devices of a 4 MiB result: 3 steps either way, recursive doubling needs 2.
  absl::StatusOr<CollectiveCost> ag = EstimateCollective(*all_gather, net);
  ASSERT_OK(ag);
  EXPECT_EQ(ag->bytes, 1024 * 1024 * 4);
  EXPECT_EQ(ag->algorithm, "recursive-doubling all-gather");
  EXPECT_NEAR(ag->total_ns, 2 * 5000 + 3.0 / 4 * (1024.0 * 1024 * 4) * beta, 1e-6);
  // reduce-scatter with "{}": the interconnect's 16 devices, n = the operand's bytes.
  absl::StatusOr<CollectiveCost> rs = EstimateCollective(*reduce_scatter, net);
  ASSERT_OK(rs);
  EXPECT_EQ(rs->group_size, 16);
  EXPECT_EQ(rs->bytes, 1024 * 256 * 4);
  EXPECT_NEAR(rs->total_ns, 4 * 5000 + 15.0 / 16 * n * beta, 1e-6);
  // Small messages with many devices: recursive doubling's log p latencies win over the ring.
  net.latency_ns = 1e6;
  absl::StatusOr<CollectiveCost> latency_bound = EstimateCollective(*all_reduce, net);
  ASSERT_OK(latency_bound);
  EXPECT_LT(latency_bound->total_ns, 2 * 63 * 1e6);
  // One device: no communication.
  graph::Kernel single = *all_reduce;
  single.instructions[single.root].attrs.replica_group_size = 1;
  absl::StatusOr<CollectiveCost> none = EstimateCollective(single, net);
  ASSERT_OK(none);
  EXPECT_EQ(none->total_ns, 0);
}

TEST(CollectiveCostTest, AnalyticalAndErrorsUseTheTargetsInterconnect) {
  const std::vector<graph::Kernel> kernels = FusedKernels();
  const graph::Kernel* all_reduce = RootedAt(kernels, graph::HloOpcode::kAllReduce);
  const graph::Kernel* multiply = RootedAt(kernels, graph::HloOpcode::kMultiply);
  ASSERT_NE(all_reduce, nullptr);
  ASSERT_NE(multiply, nullptr);
  TargetDescription target = test::SyntheticTarget();
  ASSERT_OK_AND_ASSIGN(target.interconnect, KnownInterconnect("nvlink4"));
  ASSERT_OK_AND_ASSIGN(AnalyticalModel model, AnalyticalModel::Create(target));
  ASSERT_OK_AND_ASSIGN(CostBreakdown b, model.Explain(*all_reduce, tiling::Default(*all_reduce)));
  ASSERT_OK_AND_ASSIGN(CollectiveCost direct, EstimateCollective(*all_reduce, target.interconnect));
  EXPECT_DOUBLE_EQ(b.total_ns, direct.total_ns);
  EXPECT_GT(b.total_ns, 0);
  EXPECT_THAT(b.ToString(), HasSubstr("all-reduce"));
  // Slower links cost more.
  ASSERT_OK_AND_ASSIGN(InterconnectDescription ethernet, KnownInterconnect("ethernet-100g"));
  ASSERT_OK_AND_ASSIGN(CollectiveCost slow, EstimateCollective(*all_reduce, ethernet));
  EXPECT_GT(slow.total_ns, direct.total_ns);
  // Not a collective kernel; a collective fused with other work; a bad interconnect; unknown name.
  EXPECT_THAT(EstimateCollective(*multiply, ethernet),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not rooted at a collective")));
  graph::Kernel fused = *all_reduce;
  graph::Instruction negate = fused.instructions[0];
  negate.opcode = graph::HloOpcode::kNegate;
  negate.name = "neg";
  negate.operands = {0};
  negate.attrs = {};
  negate.id = fused.size();
  fused.instructions.push_back(negate);
  fused.origin.push_back(-1);
  EXPECT_THAT(EstimateCollective(fused, ethernet),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'neg' (negate) besides")));
  ethernet.link_bandwidth_bytes_per_s = 0;
  EXPECT_THAT(EstimateCollective(*all_reduce, ethernet),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("link_bandwidth_bytes_per_s")));
  EXPECT_THAT(KnownInterconnect("carrier-pigeon"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nvlink4")));
}

TEST(CollectiveCostTest, TargetDescriptionKeepsItsInterconnect) {
  TargetDescription target = test::SyntheticTarget();
  ASSERT_OK_AND_ASSIGN(target.interconnect, KnownInterconnect("infiniband-ndr"));
  target.interconnect.devices = 512;
  ASSERT_OK_AND_ASSIGN(TargetDescription back,
                       ParseTargetDescription(TargetDescriptionToText(target), "test"));
  EXPECT_EQ(back.interconnect.name, "infiniband-ndr");
  EXPECT_EQ(back.interconnect.devices, 512);
  EXPECT_DOUBLE_EQ(back.interconnect.link_bandwidth_bytes_per_s, 50e9);
  EXPECT_THAT(back.interconnect.source, HasSubstr("ConnectX-7"));
  // A file without the section (every file written before it) gets the default.
  std::string text = TargetDescriptionToText(target);
  text = text.substr(0, text.find("interconnect {"));
  ASSERT_OK_AND_ASSIGN(TargetDescription old, ParseTargetDescription(text, "old"));
  EXPECT_EQ(old.interconnect.name, DefaultInterconnect().name);
  // A broken section names the field.
  target.interconnect.devices = 0;
  EXPECT_THAT(ParseTargetDescription(TargetDescriptionToText(target), "bad.textproto"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("devices")));
}

TEST(CollectiveParseTest, MalformedReplicaGroupsAreErrorsWithTheirPlace) {
  const std::string bad = R"(
HloModule m
ENTRY main {
  x = f32[8] parameter(0)
  ROOT ar = f32[8] all-gather(x), replica_groups={{0,1},{2,}}, dimensions={0}
}
)";
  EXPECT_THAT(graph::ParseHloText(bad, "bad.hlo", graph::ImportOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad.hlo:5")));
}

}  // namespace
}  // namespace perfgraph::cost
