// gnn::Model, batching and the model file format. One binary so LibTorch starts once.
#include "gnn/model.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "data/config_proto.h"
#include "data/kernel_proto.h"
#include "graph/kernel_hash.h"
#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "gmock/gmock.h"
#include "gnn/batch.h"
#include "gnn/checkpoint.h"
#include "gnn/export.h"
#include "gnn/train.h"
#include "graph/featurize.h"
#include "graph/hlo_opcode.h"
#include "gtest/gtest.h"
#include "kernels/predictor.h"
#include "tests/gnn/gnn_test_util.h"
#include "tests/status_matchers.h"
#include "tiling/tile_config.h"
#include "tests/temp_dir.h"

namespace perfgraph::gnn {
namespace {

using ::perfgraph::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr int F = graph::kNumNodeFeatures;
constexpr int C = tiling::kNumConfigFeatures;

std::string TempPath(const std::string& name) {
  auto dir = perfgraph::testing::ProcessTempDir() / "perfgraph_gnn_model_test";
  std::filesystem::create_directories(dir);
  auto path = dir / name;
  std::filesystem::remove_all(path);
  return path.string();
}

std::vector<const KernelExample*> Pointers(const std::vector<KernelExample>& examples) {
  std::vector<const KernelExample*> p;
  for (const KernelExample& e : examples) p.push_back(&e);
  return p;
}

ModelOptions SmallOptions(Join join, Reduction reduction = Reduction::kLstm) {
  ModelOptions o;
  o.join = join;
  o.reduction = reduction;
  o.hidden = 16;
  o.opcode_embedding = 8;
  o.head_hidden = 16;
  return o;
}

// Every (join, reduction) architecture the model supports.
constexpr std::pair<Join, Reduction> kArchitectures[] = {{Join::kLate, Reduction::kLstm},
                                                         {Join::kEarly, Reduction::kLstm},
                                                         {Join::kLate, Reduction::kMean},
                                                         {Join::kEarly, Reduction::kMean}};

// ---------------------------------------------------------------- batching

TEST(BatchTest, LateJoinConcatenatesGraphsWithNodeOffsets) {
  std::vector<KernelExample> examples = test::SyntheticExamples(2, 4);
  const HostBatch b = MakeHostBatch(Pointers(examples), Join::kLate);
  const auto& t0 = examples[0].tensors;
  const auto& t1 = examples[1].tensors;
  EXPECT_EQ(b.num_graphs, 2);
  EXPECT_EQ(b.num_nodes, t0.num_nodes + t1.num_nodes);
  EXPECT_EQ(b.num_edges, t0.num_edges + t1.num_edges);
  EXPECT_EQ(b.num_rows, examples[0].num_configs + examples[1].num_configs);
  EXPECT_EQ(b.max_graph_nodes, std::max(t0.num_nodes, t1.num_nodes));
  ASSERT_EQ(b.node_feat.size(), static_cast<size_t>(b.num_nodes * F));
  ASSERT_EQ(b.config_feat.size(), static_cast<size_t>(b.num_rows * C));
  // The second graph's edges are shifted by the first graph's node count.
  ASSERT_GT(t1.num_edges, 0);
  EXPECT_EQ(b.edge_src[t0.num_edges], t1.edge_index[0] + t0.num_nodes);
  EXPECT_EQ(b.edge_dst[t0.num_edges], t1.edge_index[1] + t0.num_nodes);
  EXPECT_EQ(b.node_graph[t0.num_nodes], 1);
  EXPECT_EQ(b.node_position[t0.num_nodes], 0);
  EXPECT_EQ(b.node_feat[t0.num_nodes * F + 3], t1.feat(0, 3));
  // Rows point at their example's graph and config.
  EXPECT_EQ(b.row_graph[examples[0].num_configs], 1);
  EXPECT_EQ(b.row_example[examples[0].num_configs], 1);
  EXPECT_EQ(b.row_config[examples[0].num_configs], 0);
  EXPECT_FLOAT_EQ(b.label_log_ns[0], std::log(examples[0].runtime_ns[0]));
}

TEST(BatchTest, EarlyJoinReplicatesTheGraphPerConfig) {
  std::vector<KernelExample> examples = test::SyntheticExamples(2, 3);
  const HostBatch b = MakeHostBatch(Pointers(examples), Join::kEarly);
  EXPECT_EQ(b.num_graphs, b.num_rows);
  int64_t nodes = 0;
  for (const auto& e : examples) nodes += e.num_configs * e.tensors.num_nodes;
  EXPECT_EQ(b.num_nodes, nodes);
  for (int64_t r = 0; r < b.num_rows; ++r) EXPECT_EQ(b.row_graph[r], r);
}

TEST(BatchTest, RankingPairsOrderOkConfigsAndPutTimeoutsLast) {
  const std::vector<graph::Kernel> kernels = test::SmallKernels();
  KernelExample e = test::MakeExample(kernels[0], "p", 4);
  ASSERT_EQ(e.num_configs, 4);
  e.runtime_ns = {100, 200, 100.5, std::numeric_limits<double>::infinity()};
  e.timed_out = {0, 0, 0, 1};
  const KernelExample* p = &e;
  const HostBatch b = MakeHostBatch({&p, 1}, Join::kLate);
  std::set<std::pair<int64_t, int64_t>> pairs;
  for (size_t i = 0; i < b.pair_faster.size(); ++i) pairs.insert({b.pair_faster[i], b.pair_slower[i]});
  // 100 vs 100.5 is a tie (0.5 % < kRankTieTolerance); the TIMEOUT config is slower than every OK one.
  const std::set<std::pair<int64_t, int64_t>> expected = {{0, 1}, {2, 1}, {0, 3}, {1, 3}, {2, 3}};
  EXPECT_EQ(pairs, expected);
  EXPECT_EQ(b.label_ok[3], 0.0f);
  // Fusion examples make no ranking pairs.
  KernelExample f = test::MakeExample(kernels[1], "p", 1, Task::kFusion);
  const KernelExample* fp = &f;
  EXPECT_TRUE(MakeHostBatch({&fp, 1}, Join::kLate).pair_faster.empty());
}

TEST(BatchTest, RankingListsRunFastestFirstWithTimeoutsBelowAndArePadded) {
  const std::vector<graph::Kernel> kernels = test::SmallKernels();
  KernelExample a = test::MakeExample(kernels[0], "p", 4);
  ASSERT_EQ(a.num_configs, 4);
  a.runtime_ns = {300, 100, std::numeric_limits<double>::infinity(), 200};
  a.timed_out = {0, 0, 1, 0};
  KernelExample f = test::MakeExample(kernels[1], "p", 1, Task::kFusion);  // no list
  KernelExample c = test::MakeExample(kernels[0], "p", 2);
  ASSERT_EQ(c.num_configs, 2);
  c.runtime_ns = {50, 40};
  const std::vector<const KernelExample*> examples = {&a, &f, &c};
  const HostBatch b = MakeHostBatch(examples, Join::kLate);
  ASSERT_EQ(b.num_lists, 2);
  ASSERT_EQ(b.list_width, 4);
  // a's rows are 0..3, f's row 4, c's rows 5..6.
  EXPECT_EQ(b.list_rows, (std::vector<int64_t>{1, 3, 0, 2, 6, 5, 0, 0}));
  EXPECT_EQ(b.list_valid, (std::vector<float>{1, 1, 1, 1, 1, 1, 0, 0}));
  EXPECT_EQ(b.list_scored, (std::vector<float>{1, 1, 1, 0, 1, 1, 0, 0}));
  const TensorBatch t = ToTensors(b);
  EXPECT_EQ(t.list_rows.sizes(), (std::vector<int64_t>{2, 4}));
}

data::Record MakeRecord(const graph::Kernel& kernel, const std::string& program,
                        const tiling::TileConfig& config, data::Record::MeasureStatus status,
                        std::vector<double> samples) {
  data::Record r;
  r.set_program(program);
  data::KernelToProto(kernel, r.mutable_kernel());
  r.set_kernel_hash(graph::CanonicalKernelHash(kernel));
  data::ConfigToProto(config, config == tiling::Default(kernel), r.mutable_config());
  r.set_status(status);
  for (double s : samples) r.add_runtime_ns(s);
  r.set_feature_schema_version(graph::kFeatureSchemaVersion);
  r.set_task(data::Record::TASK_TILE);
  if (status != data::Record::MEASURE_STATUS_OK) r.set_error_message("synthetic");
  return r;
}

TEST(BatchTest, LoadExamplesGroupsTileRecordsByKernelAndKeepsOnlyLabelledConfigs) {
  const std::vector<graph::Kernel> kernels = test::SmallKernels();
  const graph::Kernel& k0 = kernels[0];
  const graph::Kernel& k1 = kernels[1];
  auto space0 = tiling::ConfigSpace(k0);
  ASSERT_TRUE(space0.ok() && space0->size() >= 3);
  const std::string path = TempPath("load.pgd");
  {
    auto writer = data::RecordWriter::Open(path);
    ASSERT_OK(writer);
    using R = data::Record;
    ASSERT_OK(writer->Append(MakeRecord(k0, "a", (*space0)[0], R::MEASURE_STATUS_OK, {300, 250, 280})));
    ASSERT_OK(writer->Append(MakeRecord(k0, "a", (*space0)[1], R::MEASURE_STATUS_TIMEOUT, {})));
    ASSERT_OK(writer->Append(MakeRecord(k0, "a", (*space0)[2], R::MEASURE_STATUS_INVALID, {})));
    // The same config again (a second file or run): merged, the label is the minimum.
    ASSERT_OK(writer->Append(MakeRecord(k0, "a", (*space0)[0], R::MEASURE_STATUS_OK, {240})));
    // A kernel whose only config timed out has no label and is dropped.
    ASSERT_OK(writer->Append(MakeRecord(k1, "b", tiling::Default(k1), R::MEASURE_STATUS_TIMEOUT, {})));
  }
  LoadSummary summary;
  auto examples = LoadExamples({path}, &summary);
  ASSERT_OK(examples);
  ASSERT_EQ(examples->size(), 1u);
  const KernelExample& e = (*examples)[0];
  EXPECT_EQ(e.program, "a");
  EXPECT_EQ(e.num_configs, 2);
  EXPECT_EQ(e.runtime_ns[0], 240);
  EXPECT_EQ(e.timed_out[1], 1);
  EXPECT_TRUE(std::isinf(e.runtime_ns[1]));
  EXPECT_EQ(e.tensors.num_nodes, k0.size());
  EXPECT_EQ(summary.records, 5);
  EXPECT_EQ(summary.invalid_records, 1);
  EXPECT_EQ(summary.duplicate_records, 1);
  EXPECT_EQ(summary.examples_without_ok, 1);
  EXPECT_EQ(summary.programs, std::vector<std::string>{"a"});
}

// A record of a foreign-schema file (as `dataset import --tpugraphs-tile` writes them): 2-wide node
// and 1-wide config features; the graph (3 nodes, edges 0->2 and 1->2) only when `with_graph`.
data::Record ForeignRecord(uint64_t hash, int config, double runtime_ns, bool with_graph) {
  data::Record r;
  r.set_program("bench");
  r.mutable_kernel()->set_name("bench_" + std::to_string(hash));
  r.mutable_config()->set_text("config " + std::to_string(config));
  r.add_runtime_ns(runtime_ns);
  r.set_status(data::Record::MEASURE_STATUS_OK);
  r.set_feature_schema_version(graph::kFeatureSchemaVersion);
  r.set_kernel_hash(hash);
  r.set_task(data::Record::TASK_TILE);
  data::PrecomputedFeatures* p = r.mutable_precomputed();
  if (with_graph) {
    p->set_num_nodes(3);
    for (float v : {1.f, 2.f, 3.f, 4.f, 5.f, 6.f}) p->add_node_feat(v);
    for (int op : {63, 63, 1}) p->add_node_opcode(op);
    for (int id : {0, 2, 1, 2}) p->add_edge_index(id);
  }
  p->add_config_feat(static_cast<float>(config));
  return r;
}

TEST(BatchTest, LoadExamplesReadsForeignFeaturesAsGivenAndNeedsEachKernelsGraphFirst) {
  data::RecordWriterOptions options;
  options.foreign_features = data::ForeignFeatureSchema{"test-schema", 2, 1};
  const std::string path = TempPath("foreign.pgd");
  {
    auto writer = data::RecordWriter::Open(path, options);
    ASSERT_OK(writer);
    ASSERT_OK(writer->Append(ForeignRecord(7, 0, 300, /*with_graph=*/true)));
    ASSERT_OK(writer->Append(ForeignRecord(7, 1, 100, false)));
    ASSERT_OK(writer->Append(ForeignRecord(7, 2, 200, false)));
  }
  LoadSummary summary;
  absl::StatusOr<std::vector<KernelExample>> examples = LoadExamples({path}, &summary);
  ASSERT_OK(examples);
  ASSERT_EQ(examples->size(), 1u);
  const KernelExample& e = (*examples)[0];
  ASSERT_TRUE(summary.foreign_features.has_value());
  EXPECT_EQ(summary.foreign_features->name, "test-schema");
  EXPECT_EQ(e.node_width(), 2);
  EXPECT_EQ(e.config_width(), 1);
  EXPECT_EQ(e.kernel, nullptr);
  EXPECT_EQ(e.num_configs, 3);
  EXPECT_EQ(e.tensors.num_nodes, 3);
  EXPECT_EQ(e.tensors.node_feat, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(e.tensors.edge_index, (std::vector<int32_t>{0, 2, 1, 2}));
  EXPECT_EQ(e.config_feat, (std::vector<float>{0, 1, 2}));
  EXPECT_EQ(e.runtime_ns, (std::vector<double>{300, 100, 200}));
  EXPECT_EQ(e.config_text[1], "config 1");

  // A kernel whose graph record is missing from its file; features of the wrong width.
  const std::string orphan = TempPath("orphan.pgd");
  {
    auto writer = data::RecordWriter::Open(orphan, options);
    ASSERT_OK(writer);
    ASSERT_OK(writer->Append(ForeignRecord(8, 0, 300, /*with_graph=*/false)));
  }
  EXPECT_THAT(LoadExamples({orphan}),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("has no graph in an earlier record of the file")));
  const std::string wide = TempPath("wide.pgd");
  {
    options.foreign_features->num_node_features = 3;
    auto writer = data::RecordWriter::Open(wide, options);
    ASSERT_OK(writer);
    ASSERT_OK(writer->Append(ForeignRecord(9, 0, 300, /*with_graph=*/true)));
  }
  EXPECT_THAT(LoadExamples({wide}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("do not fit 3 nodes of test-schema")));
  // Files of two schemas never load together.
  EXPECT_THAT(LoadExamples({path, wide}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("a model reads one schema")));
}

// The config features LoadExamples computed for the config of `text` in `example`, or nullopt.
std::optional<std::vector<float>> LoadedFeatures(const KernelExample& example,
                                                 const std::string& text) {
  for (int c = 0; c < example.num_configs; ++c) {
    if (example.config_text[c] != text) continue;
    return std::vector<float>(example.config_feat.begin() + c * C,
                              example.config_feat.begin() + (c + 1) * C);
  }
  return std::nullopt;
}

std::vector<float> Features(const graph::Kernel& kernel, const tiling::TileConfig& config) {
  std::vector<float> f(C);
  tiling::ConfigFeatures(kernel, config, f.data());
  return f;
}

TEST(BatchTest, LoadExamplesIgnoresStoredConfigFeatures) {
  // Stored features of any count or value are never read: 3 bogus values (an old file of another
  // config schema, or corruption) load fine, with the features this build computes.
  const std::vector<graph::Kernel> kernels = test::SmallKernels();
  const graph::Kernel& k = kernels[0];
  const tiling::TileConfig config = tiling::Default(k);
  data::Record r = MakeRecord(k, "a", config, data::Record::MEASURE_STATUS_OK, {100});
  for (float f : {-1.0f, 1e9f, 3.0f}) r.mutable_config()->add_features(f);
  const std::string path = TempPath("bogus_features.pgd");
  {
    auto writer = data::RecordWriter::Open(path);
    ASSERT_OK(writer);
    ASSERT_OK(writer->Append(r));
  }
  auto examples = LoadExamples({path});
  ASSERT_OK(examples);
  ASSERT_EQ(examples->size(), 1u);
  const KernelExample& e = (*examples)[0];
  ASSERT_EQ(e.num_configs, 1);
  ASSERT_EQ(e.config_feat.size(), static_cast<size_t>(C));
  EXPECT_EQ(e.config_feat, Features(k, config));
  EXPECT_EQ(e.config_text[0], config.ToString());
}

TEST(BatchTest, LoadExamplesRecomputesExactlyTheFeaturesVersionOneFilesStored) {
  // A dataset written the way measure did before features were computed at load (raw config fields
  // plus tiling::ConfigFeatures at measure time, i.e. config feature schema 1): for every record
  // the recomputed features equal the stored ones, for tile and fusion records alike, TIMEOUT
  // records included.
  static_assert(tiling::kConfigFeatureSchemaVersion == 1,
                "files of schema 1 store other features than this build computes: compare a "
                "frozen copy of the schema-1 encoding instead");
  const std::vector<graph::Kernel> kernels = test::SmallKernels();
  const std::string path = TempPath("schema1.pgd");
  std::vector<data::Record> written;
  for (size_t k = 0; k < kernels.size(); ++k) {
    auto space = tiling::ConfigSpace(kernels[k]);
    ASSERT_OK(space);
    std::vector<tiling::TileConfig> configs = {tiling::Default(kernels[k])};
    for (size_t i = 0; i < space->size(); i += std::max<size_t>(1, space->size() / 7)) {
      configs.push_back((*space)[i]);
    }
    for (size_t c = 0; c < configs.size(); ++c) {
      const bool timeout = c % 3 == 2;
      data::Record r = MakeRecord(kernels[k], "p" + std::to_string(k % 2), configs[c],
                                  timeout ? data::Record::MEASURE_STATUS_TIMEOUT
                                          : data::Record::MEASURE_STATUS_OK,
                                  timeout ? std::vector<double>{} : std::vector<double>{100.0 + c});
      if (c == 0 && k % 2 == 1) r.set_task(data::Record::TASK_FUSION);
      for (float f : Features(kernels[k], configs[c])) r.mutable_config()->add_features(f);
      written.push_back(std::move(r));
    }
  }
  {
    auto writer = data::RecordWriter::Open(path);
    ASSERT_OK(writer);
    for (const data::Record& r : written) ASSERT_OK(writer->Append(r));
  }
  auto examples = LoadExamples({path});
  ASSERT_OK(examples);
  int compared = 0;
  for (const data::Record& r : written) {
    const bool fusion = r.task() == data::Record::TASK_FUSION;
    const KernelExample* example = nullptr;
    for (const KernelExample& e : *examples) {
      if (e.kernel_hash == r.kernel_hash() && (e.task == Task::kFusion) == fusion) example = &e;
    }
    ASSERT_NE(example, nullptr) << r.config().text();
    std::optional<std::vector<float>> loaded = LoadedFeatures(*example, r.config().text());
    ASSERT_TRUE(loaded.has_value()) << r.config().text();
    const std::vector<float> stored(r.config().features().begin(), r.config().features().end());
    EXPECT_EQ(*loaded, stored) << r.config().text();
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int>(written.size()));
  EXPECT_GE(compared, 20);
}

TEST(BatchTest, LoadExamplesRejectsAConfigWhoseTextDisagreesWithItsRawFields) {
  const std::vector<graph::Kernel> kernels = test::SmallKernels();
  data::Record r = MakeRecord(kernels[0], "a", tiling::Default(kernels[0]),
                              data::Record::MEASURE_STATUS_OK, {100});
  r.mutable_config()->set_vector_width(r.config().vector_width() == 1 ? 4 : 1);
  const std::string path = TempPath("disagreeing_config.pgd");
  {
    auto writer = data::RecordWriter::Open(path);
    ASSERT_OK(writer);
    ASSERT_OK(writer->Append(r));
  }
  EXPECT_THAT(LoadExamples({path}),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("record 0 of " + path), HasSubstr("raw fields"))));
}

// The reference datasets were written by measure with config feature schema 1: they must load, and
// the features recomputed at load must be the ones they store.
class ReferenceDatasetTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ReferenceDatasetTest, LoadsAndRecomputesTheStoredConfigFeatures) {
  static_assert(tiling::kConfigFeatureSchemaVersion == 1,
                "the reference datasets store schema-1 features");
  const std::string path = std::string(PERFGRAPH_SOURCE_DIR) + "/" + GetParam();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent";
  auto examples = LoadExamples({path});
  ASSERT_OK(examples);
  ASSERT_FALSE(examples->empty());
  // (task, kernel_hash[, program, variant]) -> example, as LoadExamples groups them.
  std::map<std::tuple<int, std::string, int, uint64_t>, const KernelExample*> by_key;
  for (const KernelExample& e : *examples) {
    by_key[e.task == Task::kTile ? std::make_tuple(0, std::string(), 0, e.kernel_hash)
                                 : std::make_tuple(1, e.program, e.fusion_variant, e.kernel_hash)] =
        &e;
  }
  auto reader = data::RecordReader::Open(path);
  ASSERT_OK(reader);
  data::Record r;
  int64_t compared = 0, index = 0;
  while (true) {
    auto more = reader->Next(&r);
    ASSERT_OK(more);
    if (!*more) break;
    ++index;
    if (r.status() == data::Record::MEASURE_STATUS_INVALID) continue;
    const bool tile = r.task() == data::Record::TASK_TILE;
    auto it = by_key.find(tile ? std::make_tuple(0, std::string(), 0, r.kernel_hash())
                               : std::make_tuple(1, r.program(), r.fusion_variant(),
                                                 r.kernel_hash()));
    if (it == by_key.end()) continue;  // a kernel without an OK config (dropped, no label)
    ASSERT_EQ(r.config().features_size(), C) << "record " << index - 1;
    std::optional<std::vector<float>> loaded = LoadedFeatures(*it->second, r.config().text());
    ASSERT_TRUE(loaded.has_value()) << "record " << index - 1 << ": " << r.config().text();
    for (int j = 0; j < C; ++j) {
      // The same code computed both; FloatEq (4 ulps) only allows for a libm whose log2 rounds
      // differently from the measuring machine's.
      EXPECT_THAT((*loaded)[j], ::testing::FloatEq(r.config().features(j)))
          << "record " << index - 1 << " (" << r.config().text() << "), feature "
          << tiling::ConfigFeatureNames()[j];
    }
    ++compared;
  }
  // Nearly every record has a label (the reference files have no INVALID record and few kernels
  // without an OK config).
  EXPECT_GT(compared, index * 9 / 10) << compared << " of " << index;
}

INSTANTIATE_TEST_SUITE_P(Reference, ReferenceDatasetTest,
                         ::testing::Values("data/reference/v1/tile.pgd", "data/reference/v1/fusion.pgd"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param).find("tile") != std::string::npos
                                      ? "Tile"
                                      : "Fusion";
                         });

// ---------------------------------------------------------------- model

TEST(ModelTest, EveryLayerHasTheDocumentedShape) {
  torch::manual_seed(3);
  std::vector<KernelExample> examples = test::SyntheticExamples(3, 5);
  for (Join join : {Join::kLate, Join::kEarly}) {
    SCOPED_TRACE(std::string(JoinName(join)));
    const ModelOptions o = SmallOptions(join);
    Model model(o);
    const HostBatch host = MakeHostBatch(Pointers(examples), join);
    const TensorBatch batch = ToTensors(host);
    EXPECT_EQ(batch.node_feat.sizes(), (std::vector<int64_t>{host.num_nodes, F}));
    EXPECT_EQ(batch.config_feat.sizes(), (std::vector<int64_t>{host.num_rows, C}));
    EXPECT_EQ(model->opcode_embedding_(batch.node_opcode).sizes(),
              (std::vector<int64_t>{host.num_nodes, o.opcode_embedding}));
    EXPECT_EQ(model->opcode_embedding_->weight.size(0), graph::kNumOpcodeIds);
    const int input_width = o.opcode_embedding + F + (join == Join::kEarly ? C : 0);
    EXPECT_EQ(model->input_->weight.sizes(), (std::vector<int64_t>{o.hidden, input_width}));
    ASSERT_EQ(model->sage_.size(), 3u);
    torch::Tensor h = torch::randn({host.num_nodes, o.hidden});
    torch::Tensor inv = torch::ones({host.num_nodes, 1});
    EXPECT_EQ(model->sage_[0](h, batch.edge_src, batch.edge_dst, inv, inv).sizes(), h.sizes());
    torch::Tensor nodes;
    torch::Tensor graphs = model->EmbedGraphs(batch, &nodes);
    EXPECT_EQ(nodes.sizes(), (std::vector<int64_t>{host.num_nodes, o.hidden}));
    EXPECT_EQ(graphs.sizes(), (std::vector<int64_t>{host.num_graphs, 2 * o.hidden}));
    const int head_in = 2 * o.hidden + (join == Join::kLate ? C : 0);
    EXPECT_EQ(model->head_->forward(torch::zeros({2, head_in})).sizes(),
              (std::vector<int64_t>{2, 1}));
    torch::Tensor out = model->forward(batch);
    EXPECT_EQ(out.sizes(), (std::vector<int64_t>{host.num_rows}));
    EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  }
}

TEST(ModelTest, MeanReductionIsMaxAndMeanOfTheNodeEmbeddingsWithoutAnLstm) {
  torch::manual_seed(8);
  std::vector<KernelExample> examples = test::SyntheticExamples(3, 5);
  for (Join join : {Join::kLate, Join::kEarly}) {
    SCOPED_TRACE(std::string(JoinName(join)));
    const ModelOptions o = SmallOptions(join, Reduction::kMean);
    Model model(o);
    model->SetNormalization(ComputeNormalization(Pointers(examples)));
    // No LSTM module: no "lstm.*" parameter, and the head is the same as with the LSTM.
    EXPECT_TRUE(model->lstm_.is_empty());
    for (const auto& p : model->named_parameters()) {
      EXPECT_EQ(p.key().rfind("lstm", 0), std::string::npos) << p.key();
    }
    Model with_lstm(SmallOptions(join, Reduction::kLstm));
    EXPECT_EQ(model->named_parameters().size() + 4, with_lstm->named_parameters().size());
    const int head_in = 2 * o.hidden + (join == Join::kLate ? C : 0);
    EXPECT_EQ(model->head_[0]->as<torch::nn::Linear>()->weight.sizes(),
              (std::vector<int64_t>{o.head_hidden, head_in}));

    const HostBatch host = MakeHostBatch(Pointers(examples), join);
    const TensorBatch batch = ToTensors(host);
    torch::NoGradGuard no_grad;
    torch::Tensor nodes;
    const torch::Tensor graphs = model->EmbedGraphs(batch, &nodes);
    ASSERT_EQ(graphs.sizes(), (std::vector<int64_t>{host.num_graphs, 2 * o.hidden}));
    // g = [max | mean] of each graph's own nodes (checked per graph with a plain slice).
    int64_t first = 0;
    for (int64_t g = 0; g < host.num_graphs; ++g) {
      const int64_t n = host.graph_num_nodes[g];
      const torch::Tensor own = nodes.slice(0, first, first + n);
      first += n;
      EXPECT_TRUE(torch::allclose(graphs[g].slice(0, 0, o.hidden), std::get<0>(own.max(0))))
          << "graph " << g;
      EXPECT_TRUE(torch::allclose(graphs[g].slice(0, o.hidden, 2 * o.hidden), own.mean(0),
                                  /*rtol=*/1e-5, /*atol=*/1e-6))
          << "graph " << g;
    }
    const torch::Tensor out = model->forward(batch);
    EXPECT_EQ(out.sizes(), (std::vector<int64_t>{host.num_rows}));
    EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  }
}

TEST(ModelTest, GradientsReachEveryParameterWithBothReductions) {
  torch::manual_seed(4);
  std::vector<KernelExample> examples = test::SyntheticExamples(4, 4);
  for (auto [join, reduction] : kArchitectures) {
    SCOPED_TRACE(absl::StrCat(JoinName(join), " ", ReductionName(reduction)));
    Model model(SmallOptions(join, reduction));
    model->SetNormalization(ComputeNormalization(Pointers(examples)));
    const TensorBatch batch = ToTensors(MakeHostBatch(Pointers(examples), join));
    torch::Tensor pred = model->forward(batch);
    torch::Tensor loss = (pred - batch.label_log_ns).pow(2).mean();
    loss.backward();
    for (const auto& p : model->named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
    }
  }
}

TEST(ModelTest, LateJoinEmbedsEachKernelOnceAndEarlyJoinOncePerConfig) {
  torch::manual_seed(5);
  std::vector<KernelExample> examples = test::SyntheticExamples(2, 5);
  ASSERT_EQ(examples[0].num_configs + examples[1].num_configs, 10);
  Model late(SmallOptions(Join::kLate));
  late->forward(ToTensors(MakeHostBatch(Pointers(examples), Join::kLate)));
  EXPECT_EQ(late->graphs_embedded(), 2);
  Model early(SmallOptions(Join::kEarly));
  early->forward(ToTensors(MakeHostBatch(Pointers(examples), Join::kEarly)));
  EXPECT_EQ(early->graphs_embedded(), 10);

  // Equivalence: with the late join a config's prediction does not depend on the other configs
  // sharing the graph computation (one config alone gives the same value).
  torch::NoGradGuard no_grad;
  const torch::Tensor all = late->forward(ToTensors(MakeHostBatch(Pointers(examples), Join::kLate)));
  KernelExample single = examples[1];
  single.num_configs = 1;
  single.config_feat.assign(examples[1].config_feat.begin() + 2 * C,
                            examples[1].config_feat.begin() + 3 * C);
  single.runtime_ns = {examples[1].runtime_ns[2]};
  single.timed_out = {0};
  single.config_text = {examples[1].config_text[2]};
  const KernelExample* sp = &single;
  const torch::Tensor one = late->forward(ToTensors(MakeHostBatch({&sp, 1}, Join::kLate)));
  // Float32 sums in a different order: 1e-5 relative.
  EXPECT_NEAR(one[0].item<float>(), all[examples[0].num_configs + 2].item<float>(), 1e-4);
}

TEST(ModelTest, BatchingIsBlockDiagonal) {
  // A kernel's predictions are the same alone and batched with other kernels (no leakage across
  // graphs through the aggregation, the padding or the LSTM packing).
  torch::manual_seed(6);
  std::vector<KernelExample> examples = test::SyntheticExamples(5, 3);
  for (auto [join, reduction] : {std::pair{Join::kLate, Reduction::kLstm},
                                 {Join::kEarly, Reduction::kLstm},
                                 {Join::kLate, Reduction::kMean}}) {
    SCOPED_TRACE(absl::StrCat(JoinName(join), " ", ReductionName(reduction)));
    Model model(SmallOptions(join, reduction));
    model->SetNormalization(ComputeNormalization(Pointers(examples)));
    torch::NoGradGuard no_grad;
    const torch::Tensor all = model->forward(ToTensors(MakeHostBatch(Pointers(examples), join)));
    int64_t row = 0;
    for (const KernelExample& e : examples) {
      const KernelExample* p = &e;
      const torch::Tensor alone = model->forward(ToTensors(MakeHostBatch({&p, 1}, join)));
      for (int c = 0; c < e.num_configs; ++c, ++row) {
        EXPECT_NEAR(alone[c].item<float>(), all[row].item<float>(), 1e-4) << e.kernel_name;
      }
    }
  }
}

TEST(ModelTest, NormalizationMapsTheHeadOutputToLogNanoseconds) {
  std::vector<KernelExample> examples = test::SyntheticExamples(3, 4);
  const Normalization n = ComputeNormalization(Pointers(examples));
  double sum = 0;
  int count = 0;
  for (const auto& e : examples) {
    for (double r : e.runtime_ns) {
      sum += std::log(r);
      ++count;
    }
  }
  EXPECT_NEAR(n.label_mean, sum / count, 1e-4);
  EXPECT_GT(n.label_std, 0);
  ASSERT_EQ(n.node_std.size(), static_cast<size_t>(F));
  for (float s : n.node_std) EXPECT_GT(s, 0);  // constant features get std 1, never 0
}

TEST(ModelTest, CatchTorchTurnsLibTorchErrorsIntoStatus) {
  absl::Status s = CatchTorch("reshape", [] {
    torch::zeros({2, 3}).view({7});
    return absl::OkStatus();
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInternal, HasSubstr("reshape: LibTorch error")));
  EXPECT_OK(CatchTorch("fine", [] { return absl::OkStatus(); }));
}

// ---------------------------------------------------------------- model files

TEST(CheckpointTest, SaveLoadRoundTripGivesIdenticalPredictions) {
  torch::manual_seed(7);
  std::vector<KernelExample> examples = test::SyntheticExamples(4, 4);
  for (auto [join, reduction] : kArchitectures) {
    SCOPED_TRACE(absl::StrCat(JoinName(join), " ", ReductionName(reduction)));
    Model model(SmallOptions(join, reduction));
    model->SetNormalization(ComputeNormalization(Pointers(examples)));
    model->eval();
    const std::string path =
        TempPath(absl::StrCat("model_", JoinName(join), "_", ReductionName(reduction), ".pgm"));
    ASSERT_OK(SaveModelFile(path, *model));
    auto header = ReadModelFileHeader(path);
    ASSERT_OK(header);
    EXPECT_EQ(header->options, model->options());
    EXPECT_EQ(header->feature_schema_version, static_cast<uint32_t>(graph::kFeatureSchemaVersion));
    EXPECT_EQ(header->format_version, kModelFileFormatVersion);
    EXPECT_EQ(header->config_feature_schema_version,
              static_cast<uint32_t>(tiling::kConfigFeatureSchemaVersion));
    auto loaded = LoadModelFile(path);
    ASSERT_OK(loaded);
    EXPECT_EQ((*loaded)->options(), model->options());
    torch::NoGradGuard no_grad;
    const TensorBatch batch = ToTensors(MakeHostBatch(Pointers(examples), join));
    EXPECT_TRUE(torch::equal(model->forward(batch), (*loaded)->forward(batch)));
  }
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}
void PutU32(std::string& bytes, size_t offset, uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes[offset + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t GetU32(const std::string& bytes, size_t offset) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(bytes[offset + i])} << (8 * i);
  return v;
}

// The same model file in format version 1, as written before the config feature schema version
// existed: version 1 at [8, 12) and no [28, 32) field.
std::string AsFormatVersionOne(const std::string& v2) {
  std::string v1 = v2.substr(0, 28) + v2.substr(32);
  PutU32(v1, 8, 1);
  return v1;
}

TEST(CheckpointTest, FilesOfAnotherConfigFeatureSchemaAreRefusedNamingFileAndVersions) {
  Model model(SmallOptions(Join::kLate));
  const std::string path = TempPath("config_schema.pgm");
  ASSERT_OK(SaveModelFile(path, *model));
  std::string bytes = ReadBytes(path);
  ASSERT_EQ(GetU32(bytes, 28), static_cast<uint32_t>(tiling::kConfigFeatureSchemaVersion));
  PutU32(bytes, 28, tiling::kConfigFeatureSchemaVersion + 1);
  WriteBytes(path, bytes);
  const std::string expected =
      "config feature schema version (tiling::kConfigFeatureSchemaVersion) " +
      std::to_string(tiling::kConfigFeatureSchemaVersion + 1) + " but this build uses " +
      std::to_string(tiling::kConfigFeatureSchemaVersion);
  EXPECT_THAT(LoadModelFile(path), StatusIs(absl::StatusCode::kFailedPrecondition,
                                            AllOf(HasSubstr(path), HasSubstr(expected))));
  EXPECT_THAT(ReadModelFileHeader(path), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                  AllOf(HasSubstr(path), HasSubstr(expected))));
  // Exporting such a checkpoint is refused too: no weights file of the wrong schema is written.
  const std::string weights = TempPath("config_schema.pgw");
  EXPECT_THAT(ExportModelFile(path, weights), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_FALSE(std::filesystem::exists(weights));
}

TEST(CheckpointTest, FormatVersionOneFilesLoadAsConfigSchemaOne) {
  torch::manual_seed(5);
  std::vector<KernelExample> examples = test::SyntheticExamples(3, 3);
  for (auto [join, reduction] : kArchitectures) {
    SCOPED_TRACE(absl::StrCat(JoinName(join), " ", ReductionName(reduction)));
    Model model(SmallOptions(join, reduction));
    model->SetNormalization(ComputeNormalization(Pointers(examples)));
    model->eval();
    const std::string path = TempPath("v1.pgm");
    ASSERT_OK(SaveModelFile(path, *model));
    const std::string v1 = AsFormatVersionOne(ReadBytes(path));
    WriteBytes(path, v1);
    auto header = ReadModelFileHeader(path);
    ASSERT_OK(header);
    EXPECT_EQ(header->format_version, 1u);
    EXPECT_EQ(header->config_feature_schema_version, 1u);
    EXPECT_EQ(header->options, model->options());
    auto loaded = LoadModelFile(path);
    ASSERT_OK(loaded);
    torch::NoGradGuard no_grad;
    const TensorBatch batch = ToTensors(MakeHostBatch(Pointers(examples), join));
    EXPECT_TRUE(torch::equal(model->forward(batch), (*loaded)->forward(batch)));
    // Truncated version-1 headers are still data loss, never a crash.
    for (size_t size : {size_t{12}, size_t{20}, size_t{31}, size_t{40}}) {
      WriteBytes(path, v1.substr(0, size));
      EXPECT_THAT(LoadModelFile(path), StatusIs(absl::StatusCode::kDataLoss)) << size;
    }
  }
  // A format version from the future (or 0) has an unknown layout: refused before anything else.
  Model model(SmallOptions(Join::kLate));
  const std::string path = TempPath("future.pgm");
  ASSERT_OK(SaveModelFile(path, *model));
  for (uint32_t version : {0u, kModelFileFormatVersion + 1}) {
    std::string bytes = ReadBytes(path);
    PutU32(bytes, 8, version);
    WriteBytes(path, bytes);
    EXPECT_THAT(LoadModelFile(path),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr("model file format version " + std::to_string(version))));
    ASSERT_OK(SaveModelFile(path, *model));
  }
}

TEST(CheckpointTest, ShippedDefaultModelLoadsWithItsHybridFeatures) {
  // models/default is the v2 model: current format, hybrid config features at the one thread its
  // training records were measured with (older formats are covered by the synthetic tests above).
  const std::string dir = std::string(PERFGRAPH_SOURCE_DIR) + "/models/default";
  if (!std::filesystem::exists(dir + "/model.pgm")) GTEST_SKIP() << dir << " is absent";
  auto header = ReadModelFileHeader(dir + "/model.pgm");
  ASSERT_OK(header);
  EXPECT_EQ(header->format_version, kModelFileFormatVersion);
  EXPECT_EQ(header->options.hybrid_threads, 1);
  EXPECT_OK(LoadModelFile(dir + "/model.pgm"));
  auto info = ReadModelInfo(dir);
  ASSERT_OK(info);
  EXPECT_EQ(info->model, header->options);
}

TEST(CheckpointTest, FilesOfAnotherSchemaOrCorruptFilesAreRefused) {
  Model model(SmallOptions(Join::kLate));
  const std::string path = TempPath("schema.pgm");
  ASSERT_OK(SaveModelFile(path, *model));
  const std::string good = ReadBytes(path);

  std::string bytes = good;
  PutU32(bytes, 12, graph::kFeatureSchemaVersion + 1);  // feature schema version
  WriteBytes(path, bytes);
  EXPECT_THAT(LoadModelFile(path),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("feature schema version (graph::kFeatureSchemaVersion) " +
                                 std::to_string(graph::kFeatureSchemaVersion + 1))));

  bytes = good;
  PutU32(bytes, 24, tiling::kNumConfigFeatures - 1);  // kNumConfigFeatures
  WriteBytes(path, bytes);
  EXPECT_THAT(LoadModelFile(path), StatusIs(absl::StatusCode::kFailedPrecondition,
                                            HasSubstr("tiling::kNumConfigFeatures")));
  EXPECT_THAT(ReadModelFileHeader(path), StatusIs(absl::StatusCode::kFailedPrecondition));

  bytes = good;
  PutU32(bytes, 16, graph::kNumNodeFeatures + 2);
  WriteBytes(path, bytes);
  EXPECT_THAT(LoadModelFile(path), StatusIs(absl::StatusCode::kFailedPrecondition,
                                            HasSubstr("graph::kNumNodeFeatures")));

  bytes = good;
  bytes[0] = 'X';
  WriteBytes(path, bytes);
  EXPECT_THAT(LoadModelFile(path), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("not a perfgraph model file")));

  WriteBytes(path, good.substr(0, good.size() - 100));
  EXPECT_THAT(LoadModelFile(path), StatusIs(absl::StatusCode::kDataLoss));

  EXPECT_THAT(LoadModelFile(TempPath("missing.pgm")), StatusIs(absl::StatusCode::kNotFound));
}

TEST(CheckpointTest, ModelOptionsJsonRoundTripsAndRejectsBadValues) {
  ModelOptions o = SmallOptions(Join::kEarly);
  o.sage_layers = 4;
  auto back = ModelOptionsFromJson(ModelOptionsToJson(o), "test");
  ASSERT_OK(back);
  EXPECT_EQ(*back, o);
  EXPECT_THAT(ModelOptionsFromJson(R"({"join":"middle","hidden":8,"opcode_embedding":8,
                                      "sage_layers":3,"head_hidden":8})", "test"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown join 'middle'")));
  EXPECT_THAT(ModelOptionsFromJson(R"({"join":"late","hidden":0,"opcode_embedding":8,
                                      "sage_layers":3,"head_hidden":8})", "test"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hidden = 0")));
  EXPECT_THAT(ModelOptionsFromJson("not json", "test"),
              StatusIs(absl::StatusCode::kInvalidArgument));

  o.reduction = Reduction::kMean;
  EXPECT_THAT(ModelOptionsToJson(o), HasSubstr(R"("reduction":"mean")"));
  back = ModelOptionsFromJson(ModelOptionsToJson(o), "test");
  ASSERT_OK(back);
  EXPECT_EQ(back->reduction, Reduction::kMean);
  EXPECT_EQ(*back, o);
  ModelOptions lstm = o;
  lstm.reduction = Reduction::kLstm;
  EXPECT_FALSE(lstm == o);
  EXPECT_THAT(ModelOptionsFromJson(R"({"join":"late","reduction":"median","hidden":8,
                                      "opcode_embedding":8,"sage_layers":3,"head_hidden":8})",
                                   "test"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown reduction 'median'")));
  EXPECT_THAT(ModelOptionsFromJson(R"({"join":"late","reduction":1,"hidden":8,
                                      "opcode_embedding":8,"sage_layers":3,"head_hidden":8})",
                                   "test"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'reduction'")));
}

TEST(CheckpointTest, OptionsWithoutReductionKeyLoadAsLstm) {
  // The options JSON of every model written before ModelOptions had a reduction.
  auto old = ModelOptionsFromJson(
      R"({"join":"early","hidden":8,"opcode_embedding":8,"sage_layers":2,"head_hidden":8})", "old");
  ASSERT_OK(old);
  EXPECT_EQ(old->reduction, Reduction::kLstm);
  EXPECT_EQ(old->join, Join::kEarly);
  EXPECT_EQ(old->sage_layers, 2);

  // A whole model file of that era: an LSTM model whose header JSON lacks the key loads, as lstm,
  // with its weights.
  torch::manual_seed(9);
  std::vector<KernelExample> examples = test::SyntheticExamples(2, 3);
  Model model(SmallOptions(Join::kLate));
  model->SetNormalization(ComputeNormalization(Pointers(examples)));
  model->eval();
  const std::string path = TempPath("old_options.pgm");
  ASSERT_OK(SaveModelFile(path, *model));
  std::string bytes = ReadBytes(path);
  // Format version 2: the JSON length at [32, 36), the JSON from 36.
  const uint32_t json_bytes = GetU32(bytes, 32);
  std::string json = bytes.substr(36, json_bytes);
  const std::string key = R"("reduction":"lstm",)";
  const size_t key_at = json.find(key);
  ASSERT_NE(key_at, std::string::npos) << json;
  json.erase(key_at, key.size());
  bytes = bytes.substr(0, 36) + json + bytes.substr(36 + json_bytes);
  PutU32(bytes, 32, static_cast<uint32_t>(json.size()));
  WriteBytes(path, bytes);
  auto loaded = LoadModelFile(path);
  ASSERT_OK(loaded);
  EXPECT_EQ((*loaded)->options(), model->options());
  EXPECT_EQ((*loaded)->options().reduction, Reduction::kLstm);
  torch::NoGradGuard no_grad;
  const TensorBatch batch = ToTensors(MakeHostBatch(Pointers(examples), Join::kLate));
  EXPECT_TRUE(torch::equal(model->forward(batch), (*loaded)->forward(batch)));

  // A mean model's file claimed as lstm (e.g. read by a build that ignores the key) lacks the LSTM
  // tensors: refused with kDataLoss, never loaded with random LSTM weights.
  Model mean(SmallOptions(Join::kLate, Reduction::kMean));
  ASSERT_OK(SaveModelFile(path, *mean));
  bytes = ReadBytes(path);
  const size_t at = bytes.find(R"("reduction":"mean")");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 18, R"("reduction":"lstm")");
  WriteBytes(path, bytes);
  EXPECT_THAT(LoadModelFile(path), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("lstm")));
}

// Examples of a foreign feature schema (as LoadExamples makes them from imported TpuGraphs tiles):
// the synthetic kernels' graphs with `node_width` random node features and `config_width` random
// config features, no kernel.
std::vector<KernelExample> ForeignExamples(int node_width, int config_width) {
  std::vector<KernelExample> examples = test::SyntheticExamples(4, 4);
  torch::manual_seed(11);
  for (KernelExample& e : examples) {
    e.foreign_features = data::ForeignFeatureSchema{"test-schema", node_width, config_width};
    e.kernel = nullptr;
    torch::Tensor nodes = torch::randn({e.tensors.num_nodes, node_width});
    e.tensors.node_feat.assign(nodes.data_ptr<float>(), nodes.data_ptr<float>() + nodes.numel());
    torch::Tensor configs = torch::randn({e.num_configs, config_width});
    e.config_feat.assign(configs.data_ptr<float>(), configs.data_ptr<float>() + configs.numel());
  }
  return examples;
}

ModelOptions ForeignOptions(Join join, int node_width, int config_width) {
  ModelOptions o = SmallOptions(join);
  o.feature_schema = "test-schema";
  o.num_node_features = node_width;
  o.num_config_features = config_width;
  return o;
}

TEST(ForeignSchemaTest, ModelFilesAndWeightsCarryTheWidthsAndServeTheSamePredictions) {
  const std::vector<KernelExample> examples = ForeignExamples(5, 3);
  for (Join join : {Join::kLate, Join::kEarly}) {
    SCOPED_TRACE(JoinName(join));
    Model model(ForeignOptions(join, 5, 3));
    model->SetNormalization(ComputeNormalization(Pointers(examples)));
    model->eval();
    const std::string path = TempPath(absl::StrCat("foreign_", JoinName(join), ".pgm"));
    ASSERT_OK(SaveModelFile(path, *model));
    absl::StatusOr<ModelFileHeader> header = ReadModelFileHeader(path);
    ASSERT_OK(header);
    EXPECT_EQ(header->feature_schema_version, 0u);
    EXPECT_EQ(header->num_node_features, 5u);
    EXPECT_EQ(header->num_config_features, 3u);
    EXPECT_EQ(header->options.feature_schema, "test-schema");
    absl::StatusOr<std::shared_ptr<ModelImpl>> loaded = LoadModelFile(path);
    ASSERT_OK(loaded);
    torch::NoGradGuard no_grad;
    const HostBatch host = MakeHostBatch(Pointers(examples), join);
    EXPECT_EQ(host.node_width, 5);
    EXPECT_EQ(host.config_width, 3);
    const torch::Tensor expected = model->forward(ToTensors(host));
    EXPECT_TRUE(torch::equal(expected, (*loaded)->forward(ToTensors(host))));

    // The exported weights name the schema; kernels::Predictor reads rows of its widths.
    const std::string weights_path = TempPath(absl::StrCat("foreign_", JoinName(join), ".pgw"));
    ASSERT_OK(Export(*model, weights_path));
    absl::StatusOr<kernels::Predictor> predictor = kernels::Predictor::Load(weights_path);
    ASSERT_OK(predictor);
    EXPECT_EQ(predictor->architecture().feature_schema, "test-schema");
    EXPECT_EQ(predictor->architecture().node_width(), 5);
    int64_t row = 0;
    kernels::Predictor::Scratch scratch;
    for (const KernelExample& e : examples) {
      std::vector<float> out(e.num_configs);
      ASSERT_OK(predictor->PredictLogNs(e.tensors, e.config_feat.data(), e.num_configs, out.data(),
                                        scratch));
      for (int c = 0; c < e.num_configs; ++c, ++row) {
        // Same float32 arithmetic in another order: agreement to 1e-4 in log(ns).
        EXPECT_NEAR(out[c], expected[row].item<float>(), 1e-4);
      }
    }
  }
}

TEST(ForeignSchemaTest, TrainingRefusesExamplesOfAnotherSchemaAndOptionsAreValidated) {
  const std::vector<KernelExample> foreign = ForeignExamples(5, 3);
  TrainOptions options;
  options.epochs = 1;
  options.model = SmallOptions(Join::kLate);  // perfgraph's schema
  EXPECT_THAT(TrainOnExamples(foreign, {}, {}, options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("has features of schema test-schema (5 node, 3 config features) "
                                 "but the model options name schema 'perfgraph'")));
  options.model = ForeignOptions(Join::kLate, 6, 3);  // other node width
  EXPECT_THAT(TrainOnExamples(foreign, {}, {}, options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  options.model = ForeignOptions(Join::kLate, 5, 3);
  EXPECT_OK(TrainOnExamples(foreign, {}, {}, options).status());

  // JSON: perfgraph's options keep their keys; a foreign schema round-trips with its widths.
  EXPECT_THAT(ModelOptionsToJson(SmallOptions(Join::kLate)),
              ::testing::Not(HasSubstr("feature_schema")));
  const ModelOptions o = ForeignOptions(Join::kEarly, 140, 24);
  absl::StatusOr<ModelOptions> back = ModelOptionsFromJson(ModelOptionsToJson(o), "test");
  ASSERT_OK(back);
  EXPECT_EQ(*back, o);
  EXPECT_EQ(back->node_width(), 140);
  EXPECT_EQ(back->config_width(), 24);
  ModelOptions hybrid = o;
  hybrid.hybrid_threads = 2;
  EXPECT_THAT(ValidateModelOptions(hybrid),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hybrid_threads = 2")));
  ModelOptions wide = o;
  wide.num_node_features = kMaxForeignFeatureWidth + 1;
  EXPECT_THAT(ValidateModelOptions(wide), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace perfgraph::gnn
