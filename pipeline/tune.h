// Autotuning with a cost model as the surrogate (`perfgraph tune`, issue "Autotuner surrogate"): per
// kernel, the surrogate scores the configs not measured yet, the most promising batch is measured, the
// surrogate learns from the measurements, and the loop repeats until the budget is spent; the best
// measured config wins. This is AutoTVM's loop (Chen et al., "Learning to Optimize Tensor Programs",
// NeurIPS 2018: batches of candidates picked by a cost model, measured, the model retrained, with
// epsilon-greedy exploration), with perfgraph's own models as priors, and with the validity-driven
// start of Rieber et al. 2022 ("Validity-driven initialisation for AutoTVM on VTA"): configs the
// surrogate predicts to be invalid or to time out are measured last.
//
// Nothing here links Halide or LibTorch: measurements come through TrialMeasurer, which is
//  * ReplayMeasurer: answers from a measured dataset (the replay benchmark: every strategy and seed
//    sees the same labels, no noise between them);
//  * CommandMeasurer: an external program per config (a user's own hardware harness);
//  * pipeline/tune_measure.h HardwareMeasurer: this CPU, with the dataset's protocol (links Halide).
// Every measurement is a data::Record, so a tuning log is an ordinary dataset (resumable, usable by
// `perfgraph train`).
#ifndef PERFGRAPH_PIPELINE_TUNE_H_
#define PERFGRAPH_PIPELINE_TUNE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "cost/analytical_model.h"
#include "cost/cost_model.h"
#include "data/perfgraph.pb.h"
#include "graph/ir.h"
#include "tiling/tile_config.h"

namespace perfgraph::pipeline {

// How the next configs to measure are chosen.
enum class TuneStrategy {
  kRandom,         // uniformly at random (the baseline every other strategy is a ratio to)
  kAnalytical,     // cost::AnalyticalModel's estimates, fixed
  kLearned,        // the shipped GNN's estimates, fixed (no update)
  kLearnedOnline,  // the GNN's estimates corrected by trees fitted to the kernel's own measurements
  kXgboost,        // AutoTVM's recipe: trees fitted to the kernel's measurements only (random start)
};
// "random", "analytical", "learned", "learned-online", "xgboost" (the --strategy values).
absl::string_view TuneStrategyName(TuneStrategy strategy);
// Inverse of TuneStrategyName. Error: kInvalidArgument naming `name` and the accepted names.
absl::StatusOr<TuneStrategy> ParseTuneStrategy(absl::string_view name);
// Every strategy, in enum order.
std::vector<TuneStrategy> AllTuneStrategies();

// One kernel to tune and the configs the tuner may measure.
struct TuneKernel {
  std::string program;   // the program it came from (Record.program of the log)
  const graph::Kernel* kernel = nullptr;  // borrowed; must outlive the tuning
  uint64_t hash = 0;     // graph::CanonicalKernelHash(*kernel)
  // The candidates: tiling::ConfigSpace(*kernel) on hardware, the configs the file holds in a replay.
  std::vector<tiling::TileConfig> candidates;
};

enum class TrialStatus { kOk, kInvalid, kTimeout };
// "ok", "invalid", "timeout".
absl::string_view TrialStatusName(TrialStatus status);

// One measured config: what the surrogate learns from.
struct Trial {
  int candidate = -1;       // index into TuneKernel::candidates
  TrialStatus status = TrialStatus::kInvalid;
  // kOk: the label (data/label.h, the default statistic), ns. kTimeout: the runtime's lower bound
  // (censored: the config is at least this slow), ns. kInvalid: 0.
  double runtime_ns = 0;
  // Hardware time the measurement took: compile time plus every timed sample, seconds (warm-up
  // runs are not stored in records and not counted).
  double hardware_s = 0;
};

// The Trial of a measured record of `kernel` (its config must be one of kernel.candidates: else
// kNotFound naming the config). Errors: a record whose label cannot be computed (data/label.h).
absl::StatusOr<Trial> TrialFromRecord(const TuneKernel& kernel, const data::Record& record);

// Measures configs. Not thread-safe.
class TrialMeasurer {
 public:
  virtual ~TrialMeasurer();
  // One record per config of `configs` (same order, each a config of kernel.candidates), carrying
  // status, samples, lower bound and compile time; the caller fills program, kernel and hash. A
  // config that fails is a record with status INVALID or TIMEOUT, never an error; errors are for the
  // measurer itself failing (kNotFound for a config a replay file does not hold, a harness that
  // cannot be started, an interrupted run: kCancelled).
  virtual absl::StatusOr<std::vector<data::Record>> Measure(
      const TuneKernel& kernel, absl::Span<const tiling::TileConfig> configs) = 0;
};

// Answers measurements from a dataset (tile-task records; the first record of each (kernel hash,
// config text) pair wins). Owns the decoded kernels.
class ReplayMeasurer : public TrialMeasurer {
 public:
  // Errors: a record whose kernel or config cannot be decoded (data/kernel_proto.h, naming it);
  // kInvalidArgument when no tile record is given.
  static absl::StatusOr<std::unique_ptr<ReplayMeasurer>> Create(std::vector<data::Record> records,
                                                                absl::string_view context);
  // One TuneKernel per distinct kernel hash, in first-seen order; candidates = its configs in the
  // file, in file order (every status), the default config first when present.
  const std::vector<TuneKernel>& kernels() const { return kernels_; }
  absl::StatusOr<std::vector<data::Record>> Measure(
      const TuneKernel& kernel, absl::Span<const tiling::TileConfig> configs) override;

 private:
  ReplayMeasurer() = default;
  std::vector<std::unique_ptr<graph::Kernel>> owned_;
  std::vector<TuneKernel> kernels_;
  std::map<std::pair<uint64_t, std::string>, data::Record> records_;
};

// Runs `command` (with /bin/sh -c) once per config: the config's text (tiling::TileConfig::ToString)
// on stdin, the environment variables PERFGRAPH_KERNEL (kernel name), PERFGRAPH_KERNEL_HASH (16 hex
// digits), PERFGRAPH_CONFIG (the config's text) and PERFGRAPH_PROGRAM set; the program prints the
// runtime in nanoseconds on stdout (one number, > 0). Exit status 0 with a valid number: OK (one
// sample); exit status 124 (timeout(1)'s): TIMEOUT, with the runtime's lower bound when the output
// is a number > 0 (ns; else no bound); any other exit status or output: INVALID with
// the reason (the first 200 bytes of its output). Compile time is the command's wall time.
class CommandMeasurer : public TrialMeasurer {
 public:
  explicit CommandMeasurer(std::string command) : command_(std::move(command)) {}
  absl::StatusOr<std::vector<data::Record>> Measure(
      const TuneKernel& kernel, absl::Span<const tiling::TileConfig> configs) override;

 private:
  std::string command_;
};

// Predicts the runtime of every candidate of a kernel, given the kernel's trials so far.
class TuneSurrogate {
 public:
  virtual ~TuneSurrogate();
  // One value per kernel.candidates entry, ns (lower = measured sooner); NaN where there is no
  // estimate (then the config is ordered at random after the estimated ones). An empty result means
  // "nothing to go on yet" (online models before their first fit): the tuner picks at random.
  // Errors: the underlying model's failure for the whole kernel.
  virtual absl::StatusOr<std::vector<double>> Predict(const TuneKernel& kernel,
                                                      absl::Span<const Trial> trials) = 0;
};

// A fixed cost model (analytical, learned, XGBoost): its estimates, computed once per kernel hash and
// cached. `model` is borrowed. A config the model rejects gets NaN.
std::unique_ptr<TuneSurrogate> MakeStaticSurrogate(cost::CostModel* model);

// Online gradient-boosted trees (XGBoost, as AutoTVM's XGBTuner: max_depth 3, eta 0.3, AutoTVM's
// defaults) over tiling::ConfigFeatures of the candidates, refitted to the kernel's trials on every
// call: target log(runtime) (timeouts at their lower bound, invalid configs left out). With a `base`
// model (borrowed; nullable) the trees fit the residual log(measured) - log(base estimate) and the
// prediction is base x exp(trees): the base model corrected by the kernel's own measurements. Before
// `min_trials` usable trials: the base's estimates (or an empty result without base).
struct OnlineSurrogateOptions {
  int rounds = 30;       // boosting rounds per fit
  int max_depth = 3;     // AutoTVM XGBTuner
  double eta = 0.3;      // AutoTVM XGBTuner
  int min_trials = 3;    // usable (OK or timeout) trials before the first fit
  uint64_t seed = 1;
};
std::unique_ptr<TuneSurrogate> MakeOnlineSurrogate(cost::CostModel* base,
                                                   const OnlineSurrogateOptions& options = {});

// Validity before measuring (Rieber et al. 2022): a gradient-boosted classifier (XGBoost,
// binary:logistic) of P(a config is INVALID or TIMEOUT) from the tabular features of the pair
// (cost/tabular_features.h: kernel block, config block and the roofline's breakdown), trained on the
// statuses of measured tile records. A TIMEOUT is the protocol's censoring (a config slower than 10x
// the best of its kernel group, target::InterleavedOptions::timeout_factor) or a run over its cap.
struct ValidityTrainOptions {
  int rounds = 200;     // boosting rounds, >= 1
  int max_depth = 6;
  double eta = 0.1;
  int threads = 1;       // XGBoost nthread
  uint64_t seed = 1;
};

// Precision and recall of "P > threshold" on a set of records (the classifier's report).
struct ValidityMetrics {
  int64_t records = 0;
  int64_t bad = 0;                // INVALID or TIMEOUT records
  int64_t predicted_bad = 0;
  int64_t true_positive = 0;      // predicted bad and bad
  double precision = 0;           // true_positive / predicted_bad (0 when none predicted)
  double recall = 0;              // true_positive / bad (0 when none bad)
};

class ValidityClassifier {
 public:
  // File name of the booster inside a validity model directory (XGBoost universal binary JSON).
  static constexpr char kFileName[] = "validity.ubj";

  // Trains on the tile-task records of `records` (label 1 = INVALID or TIMEOUT, 0 = OK), the
  // analytical block from `analytical` (borrowed; must outlive the classifier; null leaves the block
  // missing). Errors: no tile record or only one class (kInvalidArgument naming `context`), a record
  // that does not decode (naming it), XGBoost's errors.
  static absl::StatusOr<std::unique_ptr<ValidityClassifier>> Train(
      const std::vector<data::Record>& records, const cost::AnalyticalModel* analytical,
      const ValidityTrainOptions& options, absl::string_view context);
  // Loads `dir`/kFileName. Errors: kNotFound naming the file when absent; kDataLoss when it is not a
  // booster; kFailedPrecondition when its feature count is not cost::kNumTabularFeatures (a model of
  // another feature schema: retrain it).
  static absl::StatusOr<std::unique_ptr<ValidityClassifier>> Load(
      const std::string& dir, const cost::AnalyticalModel* analytical);
  ~ValidityClassifier();
  // Writes `dir`/kFileName (the directory is created). Errors: kUnavailable naming the path.
  absl::Status Save(const std::string& dir) const;

  // P(INVALID or TIMEOUT) of every candidate of `kernel`, in [0, 1], cached per kernel hash.
  absl::StatusOr<std::vector<double>> Predict(const TuneKernel& kernel);
  // The classifier's precision and recall at `threshold` on the tile records of `records`.
  absl::StatusOr<ValidityMetrics> Evaluate(const std::vector<data::Record>& records, double threshold,
                                           absl::string_view context);

 private:
  ValidityClassifier();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct TuneOptions {
  int batch = 8;                  // configs measured per round, >= 1
  int budget_measurements = 0;    // per kernel, trials from a resumed log included; 0 = no limit
  // Fraction of each batch (each slot independently, epsilon-greedy as AutoTVM) drawn at random
  // from the predicted-valid unmeasured configs instead of the best predicted; [0, 1]. 0 was level
  // with or better than AutoTVM's 0.05 and than 0.2 on every strategy on the validation programs
  // (README, "Autotuning").
  double exploration = 0;
  // Validity: with a classifier, a config whose P(invalid or timeout) exceeds validity_threshold is
  // predicted invalid and measured only after every predicted-valid config (with `validity` false it
  // is only counted, KernelTuneResult::measured_predicted_invalid). Borrowed; null = no prediction.
  // The threshold was chosen on the validation programs by the replay benchmark (README,
  // "Autotuning": 0.3 gave learned-online the fewest invalid or timed-out measurements among 0.1,
  // 0.2, 0.3, 0.5, 0.7 and 0.9, with the same measurement counts).
  ValidityClassifier* validity_model = nullptr;
  bool validity = true;
  double validity_threshold = 0.3;
  // Measure tiling::Default first when it is a candidate and unmeasured (the baseline a tuned config
  // is compared with).
  bool default_first = true;
  uint64_t seed = 1;
  // Polled before each batch: true stops the kernel (budget in minutes, Ctrl-C).
  std::function<bool()> should_stop;
};

struct KernelTuneResult {
  std::vector<Trial> trials;  // prior trials first, then in measurement order
  int prior_trials = 0;       // trials that came from `prior` (a resumed log)
  int best = -1;              // index into trials of the fastest OK trial; -1 when none
  // Trials measured (not prior) that the surrogate had predicted invalid (only reached after every
  // predicted-valid config, or when validity is off: then counted for the report, not acted on).
  int measured_predicted_invalid = 0;
  bool stopped = false;       // should_stop ended it
};

// Tunes one kernel. `surrogate` may be null (random search). `prior`: trials of this kernel from an
// earlier run (resume); they count towards the budget and are never measured again. `on_record` is
// called with every new record (program, kernel, hash and config filled) before the next batch, e.g.
// to append it to the tuning log; its error stops the tuning with that error. Errors: kernel without
// candidates (kInvalidArgument), bad options, the measurer's or surrogate's errors.
absl::StatusOr<KernelTuneResult> TuneKernelConfigs(
    const TuneKernel& kernel, TuneSurrogate* surrogate, TrialMeasurer& measurer,
    const TuneOptions& options, std::vector<Trial> prior,
    const std::function<absl::Status(const data::Record&)>& on_record);

// The fastest OK config of every kernel in a tuning log (any tile-task dataset): kernel hash ->
// config, by the records' labels (data/label.h). Errors: a record whose config cannot be decoded or
// whose label cannot be computed (naming `context` and the record index).
absl::StatusOr<std::map<uint64_t, tiling::TileConfig>> BestTunedConfigs(
    const std::vector<data::Record>& records, absl::string_view context);

// ---------------------------------------------------------------------------------------------
// The replay benchmark: how many measurements each strategy needs.

struct ReplayVariant {
  std::string name;                    // "learned-online", "learned-online + validity", ...
  TuneStrategy strategy = TuneStrategy::kRandom;
  bool validity = true;
};

struct ReplayOptions {
  std::vector<ReplayVariant> variants;  // the first whose strategy is kRandom is the reference
  int seeds = 10;                       // seeds 1..seeds per kernel and variant
  // batch, exploration, validity_model and validity_threshold (validity and seed are set per run).
  TuneOptions tune;
  OnlineSurrogateOptions online;
  std::vector<double> within = {0.05, 0.01};  // "within 5 %": best <= (1 + w) x optimum
  int window = 50;  // measurements of the budget the invalid/timeout window counts, >= 1
};

// The figures of one variant.
struct ReplayVariantResult {
  std::string name;
  // Per `within` entry: median over kernels of (median over seeds of the measurements this variant
  // needed to get within w of the optimum) / (the same for random search).
  std::vector<double> median_ratio_to_random;
  // Per `within` entry: median over kernels and seeds of the measurements needed (absolute).
  std::vector<double> median_measurements;
  // Per `within` entry: median over kernels and seeds of the hardware seconds spent until then.
  std::vector<double> median_hardware_s;
  // Mean over kernels and seeds, until the run got within the LAST `within` entry: invalid or
  // timed-out measurements, and their hardware seconds.
  double mean_invalid_or_timeout = 0;
  double mean_invalid_or_timeout_s = 0;
  // The same among the first ReplayOptions::window measurements of every run (a tuner with that
  // budget): what validity saves when the search goes on after the good configs are found.
  double window_invalid_or_timeout = 0;
  double window_invalid_or_timeout_s = 0;
  // curve[n-1] = mean over kernels and seeds of optimum / best found after n measurements (0 while
  // no OK config was found; 1 once the optimum was), n = 1 .. the largest candidate count.
  std::vector<double> curve;
};

struct ReplayReport {
  int kernels = 0;            // kernels with at least one OK config (the others are skipped)
  int kernels_skipped = 0;
  int median_candidates = 0;  // median candidates per benchmarked kernel
  std::vector<ReplayVariantResult> variants;
};

// Called after every (variant, seed) pass over all kernels: passes done, passes in total.
using ReplayProgress = std::function<void(int done, int total, const std::string& what)>;

// Runs every variant and seed on every kernel of `replay`, each run until the kernel's every candidate
// is measured (so the whole curve is known). `surrogate_for(strategy, seed)` builds the
// surrogate of a strategy (nullptr for random); it is called once per (variant, seed). Errors: no
// variant, no random variant, a variant's errors.
absl::StatusOr<ReplayReport> RunReplayBenchmark(
    ReplayMeasurer& replay, const ReplayOptions& options,
    const std::function<absl::StatusOr<std::unique_ptr<TuneSurrogate>>(TuneStrategy, uint64_t seed)>&
        surrogate_for,
    const ReplayProgress& progress = nullptr);

}  // namespace perfgraph::pipeline

#endif  // PERFGRAPH_PIPELINE_TUNE_H_
