// TileConfig <-> TileConfigProto (data/config_proto.h): round trips over whole config spaces, the
// rebuild's errors, and DecodeRecordConfig's kernel checks and fusion-task default.
#include "data/config_proto.h"

#include <string>
#include <vector>

#include "data/kernel_proto.h"
#include "graph/kernel_hash.h"
#include "data/perfgraph.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/graph/kernel_builder.h"
#include "tests/status_matchers.h"
#include "tiling/tile_config.h"

namespace perfgraph::data {
namespace {

using graph::Attributes;
using graph::HloOpcode;
using graph::Kernel;
using perfgraph::testing::IsOk;
using perfgraph::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

// dot [100,300] x [300,512] -> [100,512]: two used slots and a reduction to split.
Kernel DotKernel() {
  test::KernelBuilder b("dot");
  int x = b.Parameter({100, 300}), y = b.Parameter({300, 512});
  b.Dot(x, y, {100, 512});
  return b.Build();
}

// add of two [2,6,5] tensors: three used slots, no reduction.
Kernel ElementwiseKernel() {
  test::KernelBuilder b("add");
  int x = b.Parameter({2, 6, 5}), y = b.Parameter({2, 6, 5});
  b.Add(HloOpcode::kAdd, {2, 6, 5}, {x, y});
  return b.Build();
}

// add of two scalars: no dim to tile, so every config (the default included) has all slots unused.
Kernel ScalarKernel() {
  test::KernelBuilder b("scalar_add");
  int x = b.Parameter({}), y = b.Parameter({});
  b.Add(HloOpcode::kAdd, {}, {x, y});
  return b.Build();
}

// A well-formed proto of "tile=64,8,0;dims=1,0,-1;split=4;vec=8;par=1" (valid for DotKernel).
TileConfigProto GoodProto() {
  tiling::TileConfig c;
  c.tiled_dims = {1, 0, -1};
  c.tile = {64, 8, 0};
  c.reduction_split = 4;
  c.vector_width = 8;
  c.parallel_loop = 1;
  TileConfigProto proto;
  ConfigToProto(c, /*is_default=*/false, &proto);
  return proto;
}

TEST(ConfigProtoTest, EveryConfigOfTheSpaceRoundTripsWithoutStoredFeatures) {
  for (const Kernel& kernel : {DotKernel(), ElementwiseKernel(), ScalarKernel()}) {
    SCOPED_TRACE(kernel.name);
    absl::StatusOr<std::vector<tiling::TileConfig>> space = tiling::ConfigSpace(kernel);
    ASSERT_THAT(space, IsOk());
    ASSERT_FALSE(space->empty());
    for (const tiling::TileConfig& config : *space) {
      const bool is_default = config == tiling::Default(kernel);
      TileConfigProto proto;
      proto.add_features(42.0f);  // replaced: ConfigToProto clears the proto first
      ConfigToProto(config, is_default, &proto);
      EXPECT_EQ(proto.features_size(), 0) << config.ToString();
      EXPECT_EQ(proto.text(), config.ToString());
      EXPECT_EQ(proto.is_default(), is_default);
      EXPECT_EQ(proto.tile_sizes_size(), tiling::kMaxTiledDims);
      EXPECT_EQ(proto.tiled_dims_size(), tiling::kMaxTiledDims);
      // Through the wire format, as a dataset file stores it.
      TileConfigProto parsed;
      ASSERT_TRUE(parsed.ParseFromString(proto.SerializeAsString()));
      absl::StatusOr<tiling::TileConfig> rebuilt = ConfigFromProto(parsed, "round trip");
      ASSERT_THAT(rebuilt, IsOk());
      EXPECT_EQ(*rebuilt, config) << rebuilt->ToString() << " vs " << config.ToString();
    }
  }
}

TEST(ConfigProtoTest, StoredFeaturesAreIgnored) {
  TileConfigProto proto = GoodProto();
  for (float f : {1.0f, -7.0f, 1e9f}) proto.add_features(f);  // 3 bogus values
  absl::StatusOr<tiling::TileConfig> config = ConfigFromProto(proto, "bogus features");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->ToString(), "tile=64,8,0;dims=1,0,-1;split=4;vec=8;par=1");
}

TEST(ConfigProtoTest, ProtoWithOnlyTextIsReadFromTheText) {
  TileConfigProto proto;
  proto.set_text("tile=64,8,0;dims=1,0,-1;split=4;vec=8;par=1");
  absl::StatusOr<tiling::TileConfig> config = ConfigFromProto(proto, "text only");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(*config, *ConfigFromProto(GoodProto(), "raw"));
}

// One malformed proto and what its error must say.
struct BadProtoCase {
  std::string name;
  void (*damage)(TileConfigProto*);
  absl::StatusCode code;
  std::string message;  // a substring of the error
};

class BadProtoTest : public ::testing::TestWithParam<BadProtoCase> {};

TEST_P(BadProtoTest, IsAnErrorNamingTheContextTheTextAndTheField) {
  const BadProtoCase& c = GetParam();
  TileConfigProto proto = GoodProto();
  c.damage(&proto);
  EXPECT_THAT(ConfigFromProto(proto, "record 7 of x.pgd"),
              StatusIs(c.code, AllOf(HasSubstr("record 7 of x.pgd"), HasSubstr(c.message))));
  if (!proto.text().empty()) {
    EXPECT_THAT(ConfigFromProto(proto, "record 7 of x.pgd"),
                StatusIs(c.code, HasSubstr(proto.text())));
  }
}

INSTANTIATE_TEST_SUITE_P(
    ConfigProto, BadProtoTest,
    ::testing::Values(
        BadProtoCase{"TwoTileSizes", [](TileConfigProto* p) { p->mutable_tile_sizes()->RemoveLast(); },
                     absl::StatusCode::kInvalidArgument, "has 2 tile_sizes and 3 tiled_dims"},
        BadProtoCase{"FourTiledDims", [](TileConfigProto* p) { p->add_tiled_dims(-1); },
                     absl::StatusCode::kInvalidArgument, "has 3 tile_sizes and 4 tiled_dims"},
        BadProtoCase{"NoTiledDims", [](TileConfigProto* p) { p->clear_tiled_dims(); },
                     absl::StatusCode::kInvalidArgument, "has 3 tile_sizes and 0 tiled_dims"},
        BadProtoCase{"NegativeTile", [](TileConfigProto* p) { p->set_tile_sizes(1, -8); },
                     absl::StatusCode::kInvalidArgument, "tile_sizes[1] = -8"},
        BadProtoCase{"TiledDimBelowMinusOne", [](TileConfigProto* p) { p->set_tiled_dims(2, -2); },
                     absl::StatusCode::kInvalidArgument, "tiled_dims[2] = -2"},
        BadProtoCase{"TiledDimBeyondMaxRank", [](TileConfigProto* p) { p->set_tiled_dims(0, 64); },
                     absl::StatusCode::kInvalidArgument, "tiled_dims[0] = 64"},
        BadProtoCase{"ZeroSplit", [](TileConfigProto* p) { p->set_reduction_split(0); },
                     absl::StatusCode::kInvalidArgument, "reduction_split = 0"},
        BadProtoCase{"ZeroVectorWidth", [](TileConfigProto* p) { p->set_vector_width(0); },
                     absl::StatusCode::kInvalidArgument, "vector_width = 0"},
        BadProtoCase{"ParallelSlotThree", [](TileConfigProto* p) { p->set_parallel_loop(3); },
                     absl::StatusCode::kInvalidArgument, "parallel_loop = 3"},
        BadProtoCase{"UnparsableText",
                     [](TileConfigProto* p) { p->set_text("tile=64,8;dims=1,0,-1"); },
                     absl::StatusCode::kInvalidArgument, "TileConfig::Parse"},
        BadProtoCase{"TextDisagreesWithTheRawFields",
                     [](TileConfigProto* p) {
                       p->set_text("tile=64,8,0;dims=1,0,-1;split=4;vec=4;par=1");
                     },
                     absl::StatusCode::kDataLoss,
                     "the raw fields say 'tile=64,8,0;dims=1,0,-1;split=4;vec=8;par=1' but the text "
                     "says 'tile=64,8,0;dims=1,0,-1;split=4;vec=4;par=1'"},
        BadProtoCase{"NothingAtAll", [](TileConfigProto* p) { p->Clear(); },
                     absl::StatusCode::kInvalidArgument, "holds no config"}),
    [](const ::testing::TestParamInfo<BadProtoCase>& info) { return info.param.name; });

Record RecordOf(const Kernel& kernel, Record::Task task) {
  Record r;
  r.set_program("p");
  KernelToProto(kernel, r.mutable_kernel());
  r.set_kernel_hash(graph::CanonicalKernelHash(kernel));
  r.set_task(task);
  return r;
}

TEST(DecodeRecordConfigTest, ValidConfigOfEachKindIsReturned) {
  const Kernel dot = DotKernel();
  Record r = RecordOf(dot, Record::TASK_TILE);
  *r.mutable_config() = GoodProto();
  absl::StatusOr<tiling::TileConfig> config = DecodeRecordConfig(r, dot, "record 0");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->ToString(), GoodProto().text());

  // The "empty" default config of a kernel with nothing to tile: every slot unused.
  const Kernel scalar = ScalarKernel();
  r = RecordOf(scalar, Record::TASK_FUSION);
  ConfigToProto(tiling::Default(scalar), /*is_default=*/true, r.mutable_config());
  EXPECT_EQ(r.config().text(), "tile=0,0,0;dims=-1,-1,-1;split=1;vec=1;par=-1");
  config = DecodeRecordConfig(r, scalar, "record 1");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(*config, tiling::Default(scalar));
}

TEST(DecodeRecordConfigTest, FusionRecordWithoutAConfigIsAtTheDefaultConfig) {
  const Kernel dot = DotKernel();
  const Record r = RecordOf(dot, Record::TASK_FUSION);  // config left empty
  absl::StatusOr<tiling::TileConfig> config = DecodeRecordConfig(r, dot, "record 2");
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(*config, tiling::Default(dot));
  // A tile record is one config among many: without it the record says nothing.
  EXPECT_THAT(DecodeRecordConfig(RecordOf(dot, Record::TASK_TILE), dot, "record 3"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("record 3"), HasSubstr("holds no config"))));
}

TEST(DecodeRecordConfigTest, ConfigInvalidForTheKernelIsAnErrorNamingTheRecordAndTheRule) {
  // GoodProto tiles dim 1 by 64 and dim 0 by 8: fine for the [100,512] dot, but the [2,6,5] add has
  // extent 6 on dim 1.
  const Kernel add = ElementwiseKernel();
  Record r = RecordOf(add, Record::TASK_TILE);
  *r.mutable_config() = GoodProto();
  EXPECT_THAT(DecodeRecordConfig(r, add, "record 4 of y.pgd"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("record 4 of y.pgd"), HasSubstr("tile 64 of slot 0"))));
  // Malformed protos fail before the kernel is consulted, with ConfigFromProto's error.
  r.mutable_config()->set_vector_width(-1);
  EXPECT_THAT(DecodeRecordConfig(r, add, "record 4 of y.pgd"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vector_width = -1")));
}

}  // namespace
}  // namespace perfgraph::data
