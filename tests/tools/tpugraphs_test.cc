// TpuGraphs interchange end to end with the real binaries: `dataset export --format tpugraphs-tile`
// of a committed dataset, NumPy reading the files as TpuGraphs' loader does, `dataset import
// --tpugraphs-tile` of a TpuGraphs-style split root, `train` for 2 epochs and `eval` on the
// held-out benchmark; schema mismatches and bad inputs are clear errors (exit status 2).
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/python_runner.h"
#include "tests/temp_dir.h"
#include "tests/tools/cli_runner.h"

namespace perfgraph::tools {
namespace {

namespace fs = std::filesystem;
using ::perfgraph::testing::HaveNumpy;
using ::perfgraph::testing::RunPython;
using test::CliResult;
using test::RunPerfgraph;
using ::testing::HasSubstr;

#define REQUIRE_NUMPY() \
  if (!HaveNumpy()) GTEST_SKIP() << "python3 with NumPy is not installed (scripts/setup.sh)"

// A small measured tile dataset committed with the repository: 15 tile kernels of two programs,
// conv1d_speech (8 kernels) and mlp_wide (7).
const std::string kTileDataset = std::string(PERFGRAPH_SOURCE_DIR) + "/data/outside/tile.pgd";

std::string Dir(const std::string& name) {
  fs::path dir = perfgraph::testing::ProcessTempDir() / "tpugraphs_cli_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Exports kTileDataset into `dir`/export and arranges it as a TpuGraphs split root `dir`/root:
// conv1d_speech in train/, mlp_wide in valid/.
void ExportAsSplitRoot(const std::string& dir) {
  CliResult r = RunPerfgraph("dataset export --json " + kTileDataset + " " + dir + "/export");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["files"], 15);
  EXPECT_EQ(j["node_features"], 72);
  EXPECT_EQ(j["config_features"], 25);
  fs::create_directories(dir + "/root/train");
  fs::create_directories(dir + "/root/valid");
  for (const fs::directory_entry& e : fs::directory_iterator(dir + "/export")) {
    const std::string name = e.path().filename().string();
    const bool train = name.rfind("conv1d_speech_", 0) == 0;
    fs::copy_file(e.path(), dir + (train ? "/root/train/" : "/root/valid/") + name);
  }
}

TEST(TpuGraphsCliTest, ExportedFilesReadInNumpyAsTpuGraphsLoaderReadsThem) {
  REQUIRE_NUMPY();
  const std::string dir = Dir("numpy");
  ASSERT_NO_FATAL_FAILURE(ExportAsSplitRoot(dir));
  // What TpuGraphs' baselines/tiles/data.py does with every file: the six keys, the node and
  // config row counts agreeing, runtimes divided by their normalisers.
  auto r = RunPython(R"(
import sys, glob, numpy as np
files = sorted(glob.glob(sys.argv[1] + '/*.npz'))
assert len(files) == 15, len(files)
configs = 0
for f in files:
    z = dict(np.load(f).items())
    assert set(z) == {'node_feat', 'node_opcode', 'edge_index', 'config_feat', 'config_runtime',
                      'config_runtime_normalizers'}, set(z)
    n = z['node_feat'].shape[0]
    assert z['node_feat'].dtype == np.float32 and z['node_feat'].shape[1] == 72
    assert z['node_opcode'].dtype == np.uint8 and z['node_opcode'].shape == (n,)
    assert z['edge_index'].dtype == np.int64 and z['edge_index'].shape[1] == 2
    # nodes are topological: every consumer comes after its producer
    assert (z['edge_index'][:, 0] > z['edge_index'][:, 1]).all()
    c = z['config_feat'].shape[0]
    assert z['config_feat'].shape[1] == 25 and z['config_runtime'].shape == (c,)
    assert z['config_runtime_normalizers'].shape == (c,)
    ratio = z['config_runtime'] / z['config_runtime_normalizers']
    assert (ratio > 0).all()
    configs += c
print(configs)
)",
                     dir + "/export");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("310"));
  // An export never mixes with an earlier one.
  CliResult again = RunPerfgraph("dataset export " + kTileDataset + " " + dir + "/export");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_THAT(again.out, HasSubstr("already holds .npz files"));
}

TEST(TpuGraphsCliTest, ExportImportTrainEvalRoundTrip) {
  const std::string dir = Dir("roundtrip");
  ASSERT_NO_FATAL_FAILURE(ExportAsSplitRoot(dir));
  const std::string dataset = dir + "/tpu.pgd";
  CliResult imported =
      RunPerfgraph("dataset import --json --tpugraphs-tile " + dir + "/root --out " + dataset);
  ASSERT_EQ(imported.exit_code, 0) << imported.out;
  nlohmann::json summary = nlohmann::json::parse(imported.out);
  EXPECT_EQ(summary["files"], 15);
  EXPECT_EQ(summary["records"], 310);
  EXPECT_EQ(summary["programs"], 2);
  EXPECT_EQ(summary["feature_schema"], "tpugraphs-tile");
  EXPECT_EQ(summary["node_features"], 72);
  EXPECT_EQ(summary["split_file"], dir + "/tpu.split.txt");
  const std::string split = ReadText(dir + "/tpu.split.txt");
  EXPECT_THAT(split, HasSubstr("train conv1d_speech"));
  EXPECT_THAT(split, HasSubstr("test mlp_wide"));

  CliResult stats = RunPerfgraph("dataset stats --json " + dataset);
  ASSERT_EQ(stats.exit_code, 0) << stats.out;
  EXPECT_EQ(nlohmann::json::parse(stats.out)["kernels"], 15);
  EXPECT_EQ(nlohmann::json::parse(stats.out)["feature_schema"],
            "tpugraphs-tile (72 node, 25 config features)");

  const std::string model = dir + "/model";
  CliResult train = RunPerfgraph("train --dataset " + dataset + " --split " + dir +
                                 "/tpu.split.txt --epochs 2 --out " + model);
  ASSERT_EQ(train.exit_code, 0) << train.out;
  EXPECT_THAT(train.out, HasSubstr("8 training kernels from 1 programs"));
  nlohmann::json info = nlohmann::json::parse(ReadText(model + "/model.json"));
  EXPECT_EQ(info["feature_schema"], "tpugraphs-tile");
  EXPECT_EQ(info["num_node_features"], 72);
  EXPECT_EQ(info["num_config_features"], 25);
  EXPECT_EQ(info["model"]["feature_schema"], "tpugraphs-tile");
  EXPECT_EQ(info["training"]["rank_loss"], "listmle");  // the default on TpuGraphs features
  ASSERT_TRUE(fs::exists(model + "/weights.pgw"));

  CliResult eval = RunPerfgraph("eval --json --dataset " + dataset + " --model " + model);
  ASSERT_EQ(eval.exit_code, 0) << eval.out;
  nlohmann::json e = nlohmann::json::parse(eval.out);
  EXPECT_EQ(e["feature_schema"], "tpugraphs-tile");
  EXPECT_EQ(e["programs"], nlohmann::json::array({"mlp_wide"}));
  EXPECT_EQ(e["tile_kernels"], 7);
  ASSERT_TRUE(e["tile"]["learned"]["top1_slowdown"].is_number());
  EXPECT_GE(e["tile"]["learned"]["top1_slowdown"].get<double>(), 0.0);
  EXPECT_TRUE(e["tile"]["analytical"]["top1_slowdown"].is_null());
  // eval serves the exported weights (kernels::Predictor); train scored the LibTorch model on the
  // same kernels: the two agree (float32 GEMMs in another order: 1e-6 relative on log runtimes
  // moves no ranking of configs more than 1 % apart, so the slowdowns match to rounding).
  nlohmann::json metrics = nlohmann::json::parse(ReadText(model + "/metrics.json"));
  EXPECT_NEAR(metrics["test_side_by_side"]["tile"]["learned"]["top5_slowdown"].get<double>(),
              e["tile"]["learned"]["top5_slowdown"].get<double>(), 1e-9);

  // --plot on TpuGraphs features: the learned column alone, every held-out tile kernel.
  CliResult plot = RunPerfgraph("eval --dataset " + dataset + " --model " + model + " --plot " +
                                dir + "/plots");
  ASSERT_EQ(plot.exit_code, 0) << plot.out;
  nlohmann::json points = nlohmann::json::parse(ReadText(dir + "/plots/eval_points.json"));
  EXPECT_EQ(points["columns"], nlohmann::json::array({"learned"}));
  EXPECT_EQ(points["kernels"].size(), 7u);
  EXPECT_TRUE(fs::exists(dir + "/plots/scatter_tile.png"));
  EXPECT_TRUE(fs::exists(dir + "/plots/tau_histogram.svg"));
}

TEST(TpuGraphsCliTest, ModelsAndDataOfDifferentSchemasAreRefused) {
  const std::string dir = Dir("schemas");
  ASSERT_NO_FATAL_FAILURE(ExportAsSplitRoot(dir));
  const std::string dataset = dir + "/tpu.pgd";
  ASSERT_EQ(
      RunPerfgraph("dataset import --tpugraphs-tile " + dir + "/root --out " + dataset).exit_code,
      0);
  // The shipped (perfgraph-schema) model on TpuGraphs features.
  CliResult shipped = RunPerfgraph("eval --dataset " + dataset + " --model " +
                                   std::string(PERFGRAPH_SOURCE_DIR) + "/models/default");
  EXPECT_EQ(shipped.exit_code, 2) << shipped.out;
  EXPECT_THAT(shipped.out, HasSubstr("reads features of schema perfgraph but the datasets hold "
                                     "schema tpugraphs-tile (72 node, 25 config features)"));
  // No model: the analytical model cannot read them either.
  CliResult none = RunPerfgraph("eval --dataset " + dataset + " --model " + dir + "/absent");
  EXPECT_EQ(none.exit_code, 2) << none.out;
  // A TpuGraphs-schema model on perfgraph data, and the other way round in one eval.
  const std::string model = dir + "/model";
  ASSERT_EQ(RunPerfgraph("train --dataset " + dataset + " --split " + dir +
                         "/tpu.split.txt --epochs 1 --out " + model)
                .exit_code,
            0);
  CliResult mismatch = RunPerfgraph("eval --dataset " + kTileDataset + " --model " + model +
                                    " --split " + dir + "/tpu.split.txt");
  EXPECT_EQ(mismatch.exit_code, 2) << mismatch.out;
  EXPECT_THAT(mismatch.out, HasSubstr("reads features of schema tpugraphs-tile (72 node, 25 config "
                                      "features) but the datasets hold schema perfgraph"));
  CliResult mixed =
      RunPerfgraph("eval --dataset " + dataset + "," + kTileDataset + " --model " + model);
  EXPECT_EQ(mixed.exit_code, 2) << mixed.out;
  EXPECT_THAT(mixed.out, HasSubstr("a model reads one schema"));
  // plan / predict serve perfgraph kernels: a TpuGraphs model cannot estimate them.
  CliResult plan = RunPerfgraph("plan " + std::string(PERFGRAPH_SOURCE_DIR) +
                                "/tests/testdata/hlo/batch_norm.hlo --model " + model);
  EXPECT_EQ(plan.exit_code, 2) << plan.out;
  EXPECT_THAT(plan.out, HasSubstr("trained on feature schema 'tpugraphs-tile'"));
  // The XGBoost baseline computes its features from kernels, which TpuGraphs records lack.
  CliResult xgb = RunPerfgraph("train --model-kind xgboost --dataset " + dataset + " --split " +
                               dir + "/tpu.split.txt --out " + dir + "/xgb");
  EXPECT_EQ(xgb.exit_code, 2) << xgb.out;
  EXPECT_THAT(xgb.out, HasSubstr("no perfgraph kernels, from which the XGBoost baseline computes"));
  // Tools that need kernels, or that would reorder the per-kernel graph records, refuse such data.
  CliResult merge =
      RunPerfgraph("dataset merge " + dataset + " " + dataset + " --out " + dir + "/merged.pgd");
  EXPECT_EQ(merge.exit_code, 2) << merge.out;
  EXPECT_THAT(merge.out, HasSubstr("merge handles perfgraph datasets"));
  CliResult predict = RunPerfgraph("predict " + dataset);
  EXPECT_EQ(predict.exit_code, 2) << predict.out;
  EXPECT_THAT(predict.out, HasSubstr("no kernels to predict"));
  CliResult hybrid = RunPerfgraph("train --hybrid-features --dataset " + dataset + " --split " +
                                  dir + "/tpu.split.txt --epochs 1 --out " + dir + "/hybrid");
  EXPECT_EQ(hybrid.exit_code, 2) << hybrid.out;
  EXPECT_THAT(hybrid.out, HasSubstr("train without --hybrid-features"));
}

TEST(TpuGraphsCliTest, ImportOfATpuGraphsLayoutSkipsTheUnlabelledTestSplit) {
  REQUIRE_NUMPY();
  const std::string dir = Dir("layout");
  // TpuGraphs' widths (140 / 24) and layout: train/, valid/ and a test/ without runtimes; one
  // benchmark in both train/ and valid/, one single-config tile.
  auto r = RunPython(R"(
import sys, os, numpy as np
root = sys.argv[1]
rng = np.random.default_rng(7)
def tile(path, configs, runtimes=True):
    n = 5
    t = dict(node_feat=rng.normal(size=(n, 140)).astype(np.float32),
             node_opcode=rng.integers(0, 121, size=n).astype(np.uint8),
             edge_index=np.array([[1, 0], [2, 1], [3, 1], [4, 2], [4, 3]], dtype=np.int64),
             config_feat=rng.normal(size=(configs, 24)).astype(np.float32))
    if runtimes:
        t['config_runtime'] = rng.integers(1000, 5000, size=configs).astype(np.int64)
        t['config_runtime_normalizers'] = np.full(configs, 2000, dtype=np.int64)
    np.savez_compressed(path, **t)
for d in ('train', 'valid', 'test'):
    os.makedirs(os.path.join(root, d))
tile(root + '/train/bert_64_aaaa.npz', 6)
tile(root + '/train/resnet_50_bbbb.npz', 5)
tile(root + '/train/resnet_50_cccc.npz', 1)
tile(root + '/valid/resnet_50_dddd.npz', 4)
tile(root + '/valid/unet_eeee.npz', 3)
tile(root + '/test/gpt_ffff.npz', 3, runtimes=False)
)",
                     dir + "/root");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  CliResult imported =
      RunPerfgraph("dataset import --tpugraphs-tile " + dir + "/root --out " + dir + "/tpu.pgd");
  ASSERT_EQ(imported.exit_code, 0) << imported.out;
  EXPECT_THAT(imported.out, HasSubstr("imported 4 TpuGraphs tiles (18 configs, 4 programs) of 140 "
                                      "node and 24 config features"));
  EXPECT_THAT(imported.out, HasSubstr("skipped 1 tiles with a single config"));
  EXPECT_THAT(imported.out, HasSubstr("skipped test/ (1 files): its files have no config_runtime"));
  const std::string split = ReadText(dir + "/tpu.split.txt");
  EXPECT_THAT(split, HasSubstr("train bert_64"));
  EXPECT_THAT(split, HasSubstr("train resnet_50@train"));
  EXPECT_THAT(split, HasSubstr("test resnet_50@valid"));
  EXPECT_THAT(split, HasSubstr("test unet"));
  // A seeded sample of each train tile's configs keeps epochs short; valid/ keeps all of them.
  CliResult sampled =
      RunPerfgraph("dataset import --json --train-configs-per-tile 2 --tpugraphs-tile " + dir +
                   "/root --out " + dir + "/sampled.pgd");
  ASSERT_EQ(sampled.exit_code, 0) << sampled.out;
  nlohmann::json s = nlohmann::json::parse(sampled.out);
  EXPECT_EQ(s["records"], 2 + 2 + 4 + 3);
  EXPECT_EQ(s["train_configs_dropped"], (6 - 2) + (5 - 2));
  // Training on TpuGraphs' widths works as on any other.
  CliResult train = RunPerfgraph("train --dataset " + dir + "/tpu.pgd --split " + dir +
                                 "/tpu.split.txt --epochs 1 --out " + dir + "/model");
  ASSERT_EQ(train.exit_code, 0) << train.out;
  CliResult eval = RunPerfgraph("eval --dataset " + dir + "/tpu.pgd --model " + dir + "/model");
  ASSERT_EQ(eval.exit_code, 0) << eval.out;
  EXPECT_THAT(eval.out, HasSubstr("2 tile kernels, 7 configs scored"));
}

TEST(TpuGraphsCliTest, BadImportsLeaveNoDataset) {
  REQUIRE_NUMPY();
  const std::string dir = Dir("bad");
  auto r = RunPython(R"(
import sys, os, numpy as np
d = sys.argv[1]
def tile(path, width):
    np.savez(path, node_feat=np.ones((2, width), np.float32), node_opcode=np.array([63, 1], np.uint8),
             edge_index=np.array([[1, 0]], np.int64), config_feat=np.ones((2, 24), np.float32),
             config_runtime=np.array([5, 7], np.int64), config_runtime_normalizers=np.array([5, 5], np.int64))
os.makedirs(d + '/widths'); os.makedirs(d + '/broken'); os.makedirs(d + '/empty')
tile(d + '/widths/a_1.npz', 140)
tile(d + '/widths/b_2.npz', 139)
tile(d + '/broken/a_1.npz', 140)
np.savez(d + '/broken/b_2.npz', node_feat=np.ones((2, 140), np.float32))
)",
                     dir);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  CliResult widths =
      RunPerfgraph("dataset import --tpugraphs-tile " + dir + "/widths --out " + dir + "/w.pgd");
  EXPECT_EQ(widths.exit_code, 2) << widths.out;
  EXPECT_THAT(widths.out, HasSubstr("b_2.npz' has 139 node and 24 config features"));
  EXPECT_FALSE(fs::exists(dir + "/w.pgd"));
  CliResult broken =
      RunPerfgraph("dataset import --tpugraphs-tile " + dir + "/broken --out " + dir + "/b.pgd");
  EXPECT_EQ(broken.exit_code, 2) << broken.out;
  EXPECT_THAT(broken.out, HasSubstr("b_2.npz: missing key 'node_opcode'"));
  EXPECT_FALSE(fs::exists(dir + "/b.pgd"));
  CliResult empty =
      RunPerfgraph("dataset import --tpugraphs-tile " + dir + "/empty --out " + dir + "/e.pgd");
  EXPECT_EQ(empty.exit_code, 2) << empty.out;
  EXPECT_THAT(empty.out, HasSubstr("no .npz file"));
  CliResult both = RunPerfgraph("dataset import --tpugraphs-tile " + dir +
                                "/widths --hlo x --out " + dir + "/x.pgd");
  EXPECT_EQ(both.exit_code, 2) << both.out;
  CliResult format = RunPerfgraph("dataset export --format csv " + kTileDataset + " " + dir + "/x");
  EXPECT_EQ(format.exit_code, 2) << format.out;
  EXPECT_THAT(format.out, HasSubstr("--format must be tpugraphs-tile"));
}

}  // namespace
}  // namespace perfgraph::tools
