// The tuning loop (pipeline/tune.h) with fake measurers whose optimum is known, the replay measurer
// and benchmark, the command measurer and the tuning log's best configs.
#include "pipeline/tune.h"

#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "data/config_proto.h"
#include "data/kernel_proto.h"
#include "data/label.h"
#include "gmock/gmock.h"
#include "graph/hlo_parser.h"
#include "graph/kernel_hash.h"
#include "gtest/gtest.h"

namespace perfgraph::pipeline {
namespace {

using ::testing::HasSubstr;

// A 96x96x96 dot, fused (as XLA would dump it): a kernel with a few thousand configs.
constexpr char kDotHlo[] = R"hlo(
HloModule tune_test

%fused_dot (p0: f32[96,96], p1: f32[96,96]) -> f32[96,96] {
  %p0 = f32[96,96]{1,0} parameter(0)
  %p1 = f32[96,96]{1,0} parameter(1)
  ROOT %dot = f32[96,96]{1,0} dot(%p0, %p1), lhs_contracting_dims={1}, rhs_contracting_dims={0}
}

ENTRY %main (a: f32[96,96], b: f32[96,96]) -> f32[96,96] {
  %a = f32[96,96]{1,0} parameter(0)
  %b = f32[96,96]{1,0} parameter(1)
  ROOT %out = f32[96,96]{1,0} fusion(%a, %b), kind=kOutput, calls=%fused_dot
}
)hlo";

graph::Kernel DotKernel() {
  auto models = graph::ParseHloText(kDotHlo, "tune_test.hlo", graph::ImportOptions());
  EXPECT_TRUE(models.ok()) << models.status();
  return models->front().prefused_kernels.front();
}

// A synthetic runtime with one known optimum: smooth in log2 of the tile sizes and the vector width,
// plus a large penalty ("timeout") for every serial scalar config.
double FakeRuntimeNs(const tiling::TileConfig& c) {
  double ns = 1000;
  for (int s = 0; s < tiling::kMaxTiledDims; ++s) {
    if (c.tiled_dims[s] < 0) continue;
    const double l = std::log2(static_cast<double>(c.tile[s]));
    ns += 40 * (l - 4) * (l - 4);
  }
  ns += 150 * std::abs(std::log2(static_cast<double>(c.vector_width)) - 3);
  ns += 30 * std::log2(static_cast<double>(c.reduction_split));
  if (c.parallel_loop < 0) ns += 200;
  return ns;
}

bool FakeTimesOut(const tiling::TileConfig& c) { return c.vector_width == 1 && c.parallel_loop < 0; }

// Measures with FakeRuntimeNs; counts every config it is asked for.
class FakeMeasurer : public TrialMeasurer {
 public:
  absl::StatusOr<std::vector<data::Record>> Measure(
      const TuneKernel&, absl::Span<const tiling::TileConfig> configs) override {
    std::vector<data::Record> out;
    batches.push_back(static_cast<int>(configs.size()));
    for (const tiling::TileConfig& c : configs) {
      ++asked[c.ToString()];
      data::Record r;
      r.set_compile_time_ns(100000000);  // 0.1 s
      if (FakeTimesOut(c)) {
        r.set_status(data::Record::MEASURE_STATUS_TIMEOUT);
        r.set_runtime_lower_bound_ns(10 * FakeRuntimeNs(c));
      } else {
        r.set_status(data::Record::MEASURE_STATUS_OK);
        r.add_runtime_ns(FakeRuntimeNs(c));
      }
      out.push_back(std::move(r));
    }
    return out;
  }
  std::map<std::string, int> asked;
  std::vector<int> batches;
};

// A cost model that knows FakeRuntimeNs (optionally scaled), for static surrogates.
class OracleModel : public cost::CostModel {
 public:
  std::string name() const override { return "oracle"; }
  std::vector<absl::StatusOr<double>> EstimateNs(absl::Span<const cost::CostQuery> queries) override {
    std::vector<absl::StatusOr<double>> out;
    for (const cost::CostQuery& q : queries) {
      out.push_back(FakeTimesOut(q.config) ? 50 * FakeRuntimeNs(q.config) : FakeRuntimeNs(q.config));
    }
    return out;
  }
};

struct Fixture {
  graph::Kernel kernel = DotKernel();
  TuneKernel tune;
  double optimum = 0;
  Fixture() {
    tune.program = "tune_test";
    tune.kernel = &kernel;
    tune.hash = graph::CanonicalKernelHash(kernel);
    absl::StatusOr<std::vector<tiling::TileConfig>> space = tiling::ConfigSpace(kernel);
    EXPECT_TRUE(space.ok()) << space.status();
    tune.candidates = *space;
    optimum = std::numeric_limits<double>::infinity();
    for (const tiling::TileConfig& c : tune.candidates) {
      if (!FakeTimesOut(c)) optimum = std::min(optimum, FakeRuntimeNs(c));
    }
  }
};

double BestOf(const KernelTuneResult& r) {
  return r.best >= 0 ? r.trials[r.best].runtime_ns : std::numeric_limits<double>::infinity();
}

TEST(TuneTest, StrategyNamesRoundTrip) {
  for (TuneStrategy s : AllTuneStrategies()) {
    absl::StatusOr<TuneStrategy> parsed = ParseTuneStrategy(TuneStrategyName(s));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_THAT(ParseTuneStrategy("annealing").status().message(), HasSubstr("'annealing'"));
}

TEST(TuneTest, RandomSearchRespectsTheBudgetAndBatchesAndMeasuresTheDefaultFirst) {
  Fixture f;
  ASSERT_GT(f.tune.candidates.size(), 100u);
  FakeMeasurer measurer;
  TuneOptions options;
  options.batch = 7;
  options.budget_measurements = 30;
  std::vector<std::string> logged;
  absl::StatusOr<KernelTuneResult> r = TuneKernelConfigs(
      f.tune, nullptr, measurer, options, {}, [&](const data::Record& record) {
        EXPECT_EQ(record.kernel_hash(), f.tune.hash);
        EXPECT_EQ(record.program(), "tune_test");
        logged.push_back(record.config().text());
        return absl::OkStatus();
      });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->trials.size(), 30u);
  EXPECT_EQ(logged.size(), 30u);
  EXPECT_EQ(measurer.batches, (std::vector<int>{7, 7, 7, 7, 2}));
  EXPECT_EQ(logged.front(), tiling::Default(f.kernel).ToString());
  for (const auto& [config, times] : measurer.asked) EXPECT_EQ(times, 1) << config;  // no repeats
  ASSERT_GE(r->best, 0);
  for (const Trial& t : r->trials) {
    if (t.status == TrialStatus::kOk) EXPECT_GE(t.runtime_ns, BestOf(*r));
  }
}

TEST(TuneTest, APerfectStaticSurrogateFindsTheOptimumInTheFirstBatch) {
  Fixture f;
  FakeMeasurer measurer;
  OracleModel oracle;
  std::unique_ptr<TuneSurrogate> surrogate = MakeStaticSurrogate(&oracle);
  TuneOptions options;
  options.batch = 4;
  options.budget_measurements = 4;
  options.exploration = 0;
  absl::StatusOr<KernelTuneResult> r =
      TuneKernelConfigs(f.tune, surrogate.get(), measurer, options, {}, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(BestOf(*r), f.optimum);
}

TEST(TuneTest, ResumedTrialsCountTowardsTheBudgetAndAreNotMeasuredAgain) {
  Fixture f;
  FakeMeasurer first;
  TuneOptions options;
  options.batch = 5;
  options.budget_measurements = 10;
  std::vector<data::Record> log;
  absl::StatusOr<KernelTuneResult> r1 = TuneKernelConfigs(
      f.tune, nullptr, first, options, {}, [&](const data::Record& record) {
        log.push_back(record);
        return absl::OkStatus();
      });
  ASSERT_TRUE(r1.ok()) << r1.status();
  std::vector<Trial> prior;
  for (const data::Record& record : log) {
    absl::StatusOr<Trial> t = TrialFromRecord(f.tune, record);
    ASSERT_TRUE(t.ok()) << t.status();
    prior.push_back(*t);
  }
  FakeMeasurer second;
  options.budget_measurements = 16;
  absl::StatusOr<KernelTuneResult> r2 =
      TuneKernelConfigs(f.tune, nullptr, second, options, prior, nullptr);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->prior_trials, 10);
  EXPECT_EQ(r2->trials.size(), 16u);
  int asked = 0;
  for (const auto& [config, times] : second.asked) {
    asked += times;
    EXPECT_EQ(first.asked.count(config), 0u) << config << " was measured again";
  }
  EXPECT_EQ(asked, 6);
  // A budget already spent measures nothing.
  FakeMeasurer third;
  options.budget_measurements = 8;
  absl::StatusOr<KernelTuneResult> r3 =
      TuneKernelConfigs(f.tune, nullptr, third, options, prior, nullptr);
  ASSERT_TRUE(r3.ok());
  EXPECT_TRUE(third.asked.empty());
}

TEST(TuneTest, OnlineTreesLearnTheKernelFromItsOwnMeasurements) {
  Fixture f;
  // Median over seeds of the measurements random search and online XGBoost need to get within 5 %.
  auto needed = [&](bool online, uint64_t seed) {
    FakeMeasurer measurer;
    OnlineSurrogateOptions online_options;
    online_options.seed = seed;
    std::unique_ptr<TuneSurrogate> surrogate =
        online ? MakeOnlineSurrogate(nullptr, online_options) : nullptr;
    TuneOptions options;
    options.batch = 8;
    options.seed = seed;
    options.budget_measurements = 200;
    absl::StatusOr<KernelTuneResult> r =
        TuneKernelConfigs(f.tune, surrogate.get(), measurer, options, {}, nullptr);
    EXPECT_TRUE(r.ok()) << r.status();
    for (size_t i = 0; i < r->trials.size(); ++i) {
      const Trial& t = r->trials[i];
      if (t.status == TrialStatus::kOk && t.runtime_ns <= 1.05 * f.optimum) return i + 1.0;
    }
    return 201.0;  // not within the budget
  };
  std::vector<double> random, xgb;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    random.push_back(needed(false, seed));
    xgb.push_back(needed(true, seed));
  }
  EXPECT_LT(data::Median(xgb), 0.5 * data::Median(random))
      << "online " << data::Median(xgb) << " vs random " << data::Median(random);
}

TEST(TuneTest, OnlineSurrogateWithABaseCorrectsIt) {
  Fixture f;
  // A base model that is right except for a factor on vector width 16 (it thinks 16 lanes are
  // 3x faster than they are): the trees must learn the factor from measurements.
  class SkewedModel : public cost::CostModel {
   public:
    std::string name() const override { return "skewed"; }
    std::vector<absl::StatusOr<double>> EstimateNs(absl::Span<const cost::CostQuery> queries) override {
      std::vector<absl::StatusOr<double>> out;
      for (const cost::CostQuery& q : queries) {
        out.push_back(FakeRuntimeNs(q.config) / (q.config.vector_width == 16 ? 3.0 : 1.0));
      }
      return out;
    }
  } skewed;
  std::unique_ptr<TuneSurrogate> surrogate = MakeOnlineSurrogate(&skewed);
  std::vector<Trial> trials;
  FakeMeasurer measurer;
  // Measure a spread of configs: every 7th candidate.
  for (size_t i = 0; i < f.tune.candidates.size(); i += 7) {
    absl::StatusOr<std::vector<data::Record>> rec =
        measurer.Measure(f.tune, {f.tune.candidates[i]});
    ASSERT_TRUE(rec.ok());
    data::Record r = (*rec)[0];
    r.mutable_config()->set_text(f.tune.candidates[i].ToString());
    absl::StatusOr<Trial> t = TrialFromRecord(f.tune, r);
    ASSERT_TRUE(t.ok()) << t.status();
    trials.push_back(*t);
  }
  absl::StatusOr<std::vector<double>> predicted = surrogate->Predict(f.tune, trials);
  ASSERT_TRUE(predicted.ok()) << predicted.status();
  ASSERT_EQ(predicted->size(), f.tune.candidates.size());
  // On the vec=16 configs that do not time out, the corrected estimate is much closer to the truth
  // than the base's 3x error.
  std::vector<double> ratios;
  for (size_t i = 0; i < f.tune.candidates.size(); ++i) {
    const tiling::TileConfig& c = f.tune.candidates[i];
    if (c.vector_width != 16 || FakeTimesOut(c)) continue;
    ratios.push_back((*predicted)[i] / FakeRuntimeNs(c));
  }
  ASSERT_FALSE(ratios.empty());
  EXPECT_GT(data::Median(ratios), 0.75);  // the base alone: 0.33
  EXPECT_LT(data::Median(ratios), 1.25);
}

// Records of the fake measurer for every candidate of the fixture's kernel: a replay file.
std::vector<data::Record> ReplayRecords(const Fixture& f, size_t limit) {
  std::vector<data::Record> records;
  FakeMeasurer measurer;
  const tiling::TileConfig d = tiling::Default(f.kernel);
  for (size_t i = 0; i < f.tune.candidates.size() && i < limit; ++i) {
    const tiling::TileConfig& c = f.tune.candidates[i];
    data::Record r = (*measurer.Measure(f.tune, {c}))[0];
    r.set_program("tune_test");
    r.set_task(data::Record::TASK_TILE);
    r.set_kernel_hash(f.tune.hash);
    data::KernelToProto(f.kernel, r.mutable_kernel());
    data::ConfigToProto(c, c == d, r.mutable_config());
    records.push_back(std::move(r));
  }
  return records;
}

TEST(TuneTest, ValidityClassifierLearnsTimeoutsAndDefersThem) {
  Fixture f;
  // Train on the fake statuses of every candidate (timeouts: serial scalar configs), without the
  // analytical block.
  const std::vector<data::Record> records = ReplayRecords(f, f.tune.candidates.size());
  absl::StatusOr<std::unique_ptr<ValidityClassifier>> classifier =
      ValidityClassifier::Train(records, nullptr, ValidityTrainOptions(), "fake");
  ASSERT_TRUE(classifier.ok()) << classifier.status();
  absl::StatusOr<ValidityMetrics> metrics = (*classifier)->Evaluate(records, 0.5, "fake");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_GT(metrics->bad, 0);
  EXPECT_GT(metrics->precision, 0.95);
  EXPECT_GT(metrics->recall, 0.95);

  // Saved and loaded, it predicts the same.
  const std::string dir = ::testing::TempDir() + "/tune_test_validity";
  ASSERT_TRUE((*classifier)->Save(dir).ok());
  absl::StatusOr<std::unique_ptr<ValidityClassifier>> loaded = ValidityClassifier::Load(dir, nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  absl::StatusOr<std::vector<double>> p1 = (*classifier)->Predict(f.tune);
  absl::StatusOr<std::vector<double>> p2 = (*loaded)->Predict(f.tune);
  ASSERT_TRUE(p1.ok() && p2.ok());
  EXPECT_EQ(*p1, *p2);
  EXPECT_EQ(ValidityClassifier::Load("/nonexistent/validity", nullptr).status().code(),
            absl::StatusCode::kNotFound);

  // Random search with the classifier measures no timeout within the valid configs' count; without
  // it, timeouts are drawn (about their share of the space) and counted as predicted invalid.
  int valid = 0;
  for (const tiling::TileConfig& c : f.tune.candidates) valid += FakeTimesOut(c) ? 0 : 1;
  ASSERT_GT(valid, 40);
  for (bool validity : {true, false}) {
    FakeMeasurer measurer;
    TuneOptions options;
    options.batch = 8;
    options.budget_measurements = 40;
    options.validity = validity;
    options.validity_model = classifier->get();
    absl::StatusOr<KernelTuneResult> r =
        TuneKernelConfigs(f.tune, nullptr, measurer, options, {}, nullptr);
    ASSERT_TRUE(r.ok()) << r.status();
    int timeouts = 0;
    for (const Trial& t : r->trials) timeouts += t.status == TrialStatus::kTimeout ? 1 : 0;
    if (validity) {
      EXPECT_LE(timeouts, 1);  // the default config is measured first, whatever its prediction
    } else {
      EXPECT_GT(timeouts, 0);
      EXPECT_GE(r->measured_predicted_invalid, timeouts - 1);
    }
  }
  // One class only: nothing to learn.
  std::vector<data::Record> ok_only;
  for (const data::Record& r : records) {
    if (r.status() == data::Record::MEASURE_STATUS_OK) ok_only.push_back(r);
  }
  EXPECT_EQ(ValidityClassifier::Train(ok_only, nullptr, ValidityTrainOptions(), "fake").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TuneTest, ReplayAnswersFromTheFileAndRejectsConfigsItDoesNotHold) {
  Fixture f;
  absl::StatusOr<std::unique_ptr<ReplayMeasurer>> replay =
      ReplayMeasurer::Create(ReplayRecords(f, 200), "replay.pgd");
  ASSERT_TRUE(replay.ok()) << replay.status();
  ASSERT_EQ((*replay)->kernels().size(), 1u);
  const TuneKernel& k = (*replay)->kernels()[0];
  EXPECT_EQ(k.candidates.size(), 200u);
  absl::StatusOr<std::vector<data::Record>> r = (*replay)->Measure(k, {k.candidates[3]});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].config().text(), k.candidates[3].ToString());
  absl::StatusOr<std::vector<data::Record>> missing = (*replay)->Measure(k, {f.tune.candidates[500]});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReplayMeasurer::Create({}, "empty.pgd").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TuneTest, ReplayBenchmarkRanksAPerfectModelAheadOfRandomSearch) {
  Fixture f;
  absl::StatusOr<std::unique_ptr<ReplayMeasurer>> replay =
      ReplayMeasurer::Create(ReplayRecords(f, 300), "replay.pgd");
  ASSERT_TRUE(replay.ok()) << replay.status();
  OracleModel oracle;
  ReplayOptions options;
  options.seeds = 3;
  options.variants = {{"random", TuneStrategy::kRandom, true},
                      {"oracle", TuneStrategy::kAnalytical, true}};
  absl::StatusOr<ReplayReport> report = RunReplayBenchmark(
      **replay, options,
      [&](TuneStrategy s, uint64_t) -> absl::StatusOr<std::unique_ptr<TuneSurrogate>> {
        if (s == TuneStrategy::kRandom) return std::unique_ptr<TuneSurrogate>();
        return MakeStaticSurrogate(&oracle);
      });
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->kernels, 1);
  ASSERT_EQ(report->variants.size(), 2u);
  EXPECT_DOUBLE_EQ(report->variants[0].median_ratio_to_random[0], 1.0);
  EXPECT_LT(report->variants[1].median_ratio_to_random[1], 0.2);
  // Curves: non-decreasing, in (0, 1], reaching 1.
  for (const ReplayVariantResult& v : report->variants) {
    ASSERT_EQ(v.curve.size(), 300u);
    for (size_t i = 1; i < v.curve.size(); ++i) EXPECT_GE(v.curve[i], v.curve[i - 1] - 1e-12);
    EXPECT_DOUBLE_EQ(v.curve.back(), 1.0);
  }
  // Without a random variant there is no reference.
  options.variants = {{"oracle", TuneStrategy::kAnalytical, true}};
  EXPECT_EQ(RunReplayBenchmark(**replay, options, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TuneTest, CommandMeasurerReadsRuntimeExitStatusAndEnvironment) {
  Fixture f;
  const tiling::TileConfig c = tiling::Default(f.kernel);
  auto run = [&](const std::string& command) {
    CommandMeasurer m(command);
    absl::StatusOr<std::vector<data::Record>> r = m.Measure(f.tune, {c});
    EXPECT_TRUE(r.ok()) << r.status();
    return (*r)[0];
  };
  data::Record ok = run("read config; test \"$config\" = \"$PERFGRAPH_CONFIG\" && echo 1234.5");
  EXPECT_EQ(ok.status(), data::Record::MEASURE_STATUS_OK);
  ASSERT_EQ(ok.runtime_ns_size(), 1);
  EXPECT_DOUBLE_EQ(ok.runtime_ns(0), 1234.5);
  data::Record timeout = run("exit 124");
  EXPECT_EQ(timeout.status(), data::Record::MEASURE_STATUS_TIMEOUT);
  EXPECT_EQ(timeout.runtime_lower_bound_ns(), 0);  // no bound printed: none recorded
  data::Record bounded = run("echo 5e6; exit 124");
  EXPECT_EQ(bounded.status(), data::Record::MEASURE_STATUS_TIMEOUT);
  EXPECT_DOUBLE_EQ(bounded.runtime_lower_bound_ns(), 5e6);
  data::Record failed = run("echo broken; exit 3");
  EXPECT_EQ(failed.status(), data::Record::MEASURE_STATUS_INVALID);
  EXPECT_THAT(failed.error_message(), HasSubstr("status 3"));
  EXPECT_THAT(failed.error_message(), HasSubstr("broken"));
  data::Record garbage = run("echo fast");
  EXPECT_EQ(garbage.status(), data::Record::MEASURE_STATUS_INVALID);
  EXPECT_THAT(garbage.error_message(), HasSubstr("no runtime"));
  data::Record negative = run("echo -5");
  EXPECT_EQ(negative.status(), data::Record::MEASURE_STATUS_INVALID);
}

TEST(TuneTest, BestTunedConfigsPicksTheFastestOkRecordPerKernel) {
  Fixture f;
  std::vector<data::Record> records = ReplayRecords(f, 300);
  absl::StatusOr<std::map<uint64_t, tiling::TileConfig>> best = BestTunedConfigs(records, "log");
  ASSERT_TRUE(best.ok()) << best.status();
  ASSERT_EQ(best->size(), 1u);
  double fastest = std::numeric_limits<double>::infinity();
  for (const data::Record& r : records) {
    if (r.status() == data::Record::MEASURE_STATUS_OK) fastest = std::min(fastest, r.runtime_ns(0));
  }
  EXPECT_DOUBLE_EQ(FakeRuntimeNs(best->at(f.tune.hash)), fastest);
}

}  // namespace
}  // namespace perfgraph::pipeline
