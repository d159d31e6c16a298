// data/tpugraphs.h on tile files NumPy writes the way the TpuGraphs download holds them, and on bad
// ones (missing key, wrong dtype, shapes that disagree, values out of range, a truncated archive).
#include "data/tpugraphs.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/python_runner.h"
#include "tests/status_matchers.h"
#include "tests/temp_dir.h"

namespace perfgraph::data {
namespace {

using ::perfgraph::testing::HaveNumpy;
using ::perfgraph::testing::IsOk;
using ::perfgraph::testing::RunPython;
using ::perfgraph::testing::StatusIs;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

#define REQUIRE_NUMPY() \
  if (!HaveNumpy()) GTEST_SKIP() << "python3 with NumPy is not installed (scripts/setup.sh)"

// Writes ok.npz (a valid 3-node tile in TpuGraphs' dtypes) and one file per defect into `dir`.
constexpr char kMakeTiles[] = R"(
import sys, numpy as np
d = sys.argv[1]
def tile(**over):
    t = dict(
        node_feat=np.arange(3 * 4, dtype=np.float32).reshape(3, 4),
        node_opcode=np.array([63, 63, 1], dtype=np.uint8),      # parameter, parameter, add
        edge_index=np.array([[2, 0], [2, 1]], dtype=np.int64),  # [consumer, producer]
        config_feat=np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32),
        config_runtime=np.array([300, 100, 200], dtype=np.int64),
        config_runtime_normalizers=np.array([100, 50, 100], dtype=np.int64))
    t.update(over)
    return {k: v for k, v in t.items() if v is not None}
np.savez_compressed(d + '/ok.npz', **tile())
np.savez(d + '/ok_stored.npz', **tile())
np.savez(d + '/no_runtime.npz', **tile(config_runtime=None))
np.savez(d + '/int_feat.npz', **tile(node_feat=np.zeros((3, 4), dtype=np.int64)))
np.savez(d + '/float_opcode.npz', **tile(node_opcode=np.array([1.0, 2.0, 3.0], dtype=np.float32)))
np.savez(d + '/short_opcode.npz', **tile(node_opcode=np.array([63, 1], dtype=np.uint8)))
np.savez(d + '/edge3.npz', **tile(edge_index=np.zeros((2, 3), dtype=np.int64)))
np.savez(d + '/bad_opcode.npz', **tile(node_opcode=np.array([63, 121, 1], dtype=np.uint8)))
np.savez(d + '/bad_edge.npz', **tile(edge_index=np.array([[2, 0], [2, 3]], dtype=np.int64)))
np.savez(d + '/zero_runtime.npz', **tile(config_runtime=np.array([300, 0, 200], dtype=np.int64)))
np.savez(d + '/short_normalizers.npz', **tile(config_runtime_normalizers=np.array([1, 2], dtype=np.int64)))
nan = np.arange(12, dtype=np.float32).reshape(3, 4); nan[1, 2] = np.nan
np.savez(d + '/nan_feat.npz', **tile(node_feat=nan))
raw = open(d + '/ok.npz', 'rb').read()
open(d + '/truncated.npz', 'wb').write(raw[: len(raw) * 2 // 3])
)";

class TpuGraphsTileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string((perfgraph::testing::ProcessTempDir() / "tpugraphs_test").string());
    std::filesystem::create_directories(*dir_);
    if (HaveNumpy()) {
      auto r = RunPython(kMakeTiles, *dir_);
      ASSERT_EQ(r.exit_code, 0) << r.out;
    }
  }
  static std::string Path(const std::string& name) { return *dir_ + "/" + name; }
  static absl::Status Read(const std::string& name) {
    return ReadTpuGraphsTile(Path(name)).status();
  }
  static std::string* dir_;
};
std::string* TpuGraphsTileTest::dir_ = nullptr;

TEST_F(TpuGraphsTileTest, ReadsATileFileAsNumpyWritesIt) {
  REQUIRE_NUMPY();
  for (const char* name : {"ok.npz", "ok_stored.npz"}) {
    SCOPED_TRACE(name);
    absl::StatusOr<TpuGraphsTile> t = ReadTpuGraphsTile(Path(name));
    ASSERT_THAT(t.status(), IsOk());
    EXPECT_EQ(t->num_nodes, 3);
    EXPECT_EQ(t->node_width, 4);
    EXPECT_EQ(t->num_edges, 2);
    EXPECT_EQ(t->num_configs, 3);
    EXPECT_EQ(t->config_width, 2);
    EXPECT_EQ(t->node_feat[5], 5.0f);
    EXPECT_THAT(t->node_opcode, ElementsAre(63, 63, 1));
    EXPECT_THAT(t->edge_index, ElementsAre(2, 0, 2, 1));  // as in the file: [consumer, producer]
    EXPECT_THAT(t->config_runtime, ElementsAre(300, 100, 200));
    // Labels: runtime / normaliser * median normaliser (100): 300, 200, 200.
    EXPECT_THAT(TpuGraphsLabels(*t),
                ElementsAre(DoubleNear(300, 1e-9), DoubleNear(200, 1e-9), DoubleNear(200, 1e-9)));
  }
}

TEST_F(TpuGraphsTileTest, BadFilesAreClearErrorsNamingFileAndKey) {
  REQUIRE_NUMPY();
  using absl::StatusCode;
  EXPECT_THAT(Read("no_runtime.npz"),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("no_runtime.npz: missing key 'config_runtime' of a TpuGraphs tile "
                                 "file (TpuGraphs' test split ships without runtimes")));
  EXPECT_THAT(Read("int_feat.npz"),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("int_feat.npz:node_feat: dtype <i8 where a float array")));
  EXPECT_THAT(
      Read("float_opcode.npz"),
      StatusIs(StatusCode::kInvalidArgument,
               HasSubstr("float_opcode.npz:node_opcode: dtype <f4 where an integer array")));
  EXPECT_THAT(
      Read("short_opcode.npz"),
      StatusIs(StatusCode::kInvalidArgument,
               HasSubstr("short_opcode.npz:node_opcode: 2 entries but node_feat has 3 rows")));
  EXPECT_THAT(Read("edge3.npz"), StatusIs(StatusCode::kInvalidArgument,
                                          HasSubstr("edge3.npz:edge_index: shape [2, 3], expected "
                                                    "[edges, 2]")));
  EXPECT_THAT(Read("bad_opcode.npz"),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("bad_opcode.npz:node_opcode: entry 1 = 121 is outside [0, 121)")));
  EXPECT_THAT(Read("bad_edge.npz"),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("bad_edge.npz:edge_index: edge 1 names node 3 outside [0, 3)")));
  EXPECT_THAT(Read("zero_runtime.npz"),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("zero_runtime.npz:config_runtime: entry 1 is 0")));
  EXPECT_THAT(
      Read("short_normalizers.npz"),
      StatusIs(StatusCode::kInvalidArgument,
               HasSubstr("config_runtime_normalizers: 2 entries but config_feat has 3 rows")));
  EXPECT_THAT(Read("nan_feat.npz"),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("nan_feat.npz:node_feat: row 1 column 2 is nan")));
  EXPECT_THAT(Read("truncated.npz"),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("truncated.npz' is not a readable .npz (zip) archive")));
  EXPECT_THAT(Read("absent.npz"), StatusIs(StatusCode::kNotFound));
}

TEST_F(TpuGraphsTileTest, WrittenFilesHaveTpuGraphsDtypesForNumpy) {
  REQUIRE_NUMPY();
  absl::StatusOr<TpuGraphsTile> t = ReadTpuGraphsTile(Path("ok.npz"));
  ASSERT_THAT(t.status(), IsOk());
  t->config_runtime[0] = 299.6;  // rounds to 300
  ASSERT_THAT(WriteTpuGraphsTile(Path("written.npz"), *t), IsOk());
  auto r = RunPython(R"(
import sys, numpy as np
z = np.load(sys.argv[1])
want = dict(node_feat=('float32', (3, 4)), node_opcode=('uint8', (3,)), edge_index=('int64', (2, 2)),
            config_feat=('float32', (3, 2)), config_runtime=('int64', (3,)),
            config_runtime_normalizers=('int64', (3,)))
for k, (dtype, shape) in want.items():
    assert str(z[k].dtype) == dtype and z[k].shape == shape, (k, z[k].dtype, z[k].shape)
assert list(z['config_runtime']) == [300, 100, 200]
assert z['edge_index'].tolist() == [[2, 0], [2, 1]]
print('ok')
)",
                     Path("written.npz"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  // And back: a written file reads as it was.
  absl::StatusOr<TpuGraphsTile> back = ReadTpuGraphsTile(Path("written.npz"));
  ASSERT_THAT(back.status(), IsOk());
  EXPECT_EQ(back->node_feat, t->node_feat);
  EXPECT_EQ(back->config_feat, t->config_feat);
  // The writer refuses arrays that disagree with the counts.
  TpuGraphsTile broken = *back;
  broken.node_opcode.pop_back();
  EXPECT_THAT(WriteTpuGraphsTile(Path("broken.npz"), broken),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("disagree")));
}

TEST(TpuGraphsProgramTest, ProgramIsTheTileIdUpToItsLastUnderscore) {
  EXPECT_EQ(TpuGraphsProgramOfTileId("resnet50_train_batch_32_1f2e3d"), "resnet50_train_batch_32");
  EXPECT_EQ(TpuGraphsProgramOfTileId("alexnet"), "alexnet");
  EXPECT_EQ(TpuGraphsProgramOfTileId("_x"), "_x");
}

}  // namespace
}  // namespace perfgraph::data
