#include "pipeline/tune.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cost/tabular_features.h"
#include "cost/xgboost_booster.h"
#include "data/config_proto.h"
#include "data/kernel_proto.h"
#include "data/label.h"
#include "graph/status_macros.h"

namespace perfgraph::pipeline {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct StrategyName {
  TuneStrategy strategy;
  const char* name;
};
constexpr StrategyName kStrategyNames[] = {
    {TuneStrategy::kRandom, "random"},
    {TuneStrategy::kAnalytical, "analytical"},
    {TuneStrategy::kLearned, "learned"},
    {TuneStrategy::kLearnedOnline, "learned-online"},
    {TuneStrategy::kXgboost, "xgboost"},
};

int CandidateIndex(const TuneKernel& kernel, const tiling::TileConfig& config) {
  for (size_t i = 0; i < kernel.candidates.size(); ++i) {
    if (kernel.candidates[i] == config) return static_cast<int>(i);
  }
  return -1;
}

double Median(std::vector<double> v) { return data::Median(std::move(v)); }

}  // namespace

absl::string_view TuneStrategyName(TuneStrategy strategy) {
  for (const StrategyName& s : kStrategyNames) {
    if (s.strategy == strategy) return s.name;
  }
  return "unknown";
}

absl::StatusOr<TuneStrategy> ParseTuneStrategy(absl::string_view name) {
  std::vector<std::string> names;
  for (const StrategyName& s : kStrategyNames) {
    if (name == s.name) return s.strategy;
    names.push_back(s.name);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown tuning strategy '", name,
                                                 "' (expected one of ",
                                                 absl::StrJoin(names, ", "), ")"));
}

std::vector<TuneStrategy> AllTuneStrategies() {
  std::vector<TuneStrategy> out;
  for (const StrategyName& s : kStrategyNames) out.push_back(s.strategy);
  return out;
}

absl::string_view TrialStatusName(TrialStatus status) {
  switch (status) {
    case TrialStatus::kOk: return "ok";
    case TrialStatus::kInvalid: return "invalid";
    case TrialStatus::kTimeout: return "timeout";
  }
  return "unknown";
}

absl::StatusOr<Trial> TrialFromRecord(const TuneKernel& kernel, const data::Record& record) {
  const std::string context = absl::StrCat("record of kernel '", record.kernel().name(),
                                           "' at config ", record.config().text());
  Trial trial;
  for (size_t i = 0; i < kernel.candidates.size(); ++i) {
    if (kernel.candidates[i].ToString() == record.config().text()) {
      trial.candidate = static_cast<int>(i);
      break;
    }
  }
  if (trial.candidate < 0) {
    return absl::NotFoundError(
        absl::StrCat(context, ": the config is not a candidate of the kernel"));
  }
  double sum_samples = 0;
  for (double s : record.runtime_ns()) sum_samples += s;
  trial.hardware_s = (static_cast<double>(record.compile_time_ns()) + sum_samples) * 1e-9;
  switch (record.status()) {
    case data::Record::MEASURE_STATUS_OK: {
      ASSIGN_OR_RETURN(trial.runtime_ns, data::RecordLabelNs(record, context));
      trial.status = TrialStatus::kOk;
      break;
    }
    case data::Record::MEASURE_STATUS_TIMEOUT: {
      double bound = record.runtime_lower_bound_ns();
      for (double s : record.runtime_ns()) bound = std::max(bound, s);
      trial.status = TrialStatus::kTimeout;
      trial.runtime_ns = bound;  // 0 when the record holds no bound at all
      break;
    }
    default:
      trial.status = TrialStatus::kInvalid;
      trial.runtime_ns = 0;
  }
  return trial;
}

TrialMeasurer::~TrialMeasurer() = default;
TuneSurrogate::~TuneSurrogate() = default;

// ---------------------------------------------------------------------------------------------
// ReplayMeasurer

absl::StatusOr<std::unique_ptr<ReplayMeasurer>> ReplayMeasurer::Create(
    std::vector<data::Record> records, absl::string_view context) {
  std::unique_ptr<ReplayMeasurer> replay(new ReplayMeasurer());
  std::unordered_map<uint64_t, int> kernel_index;
  for (size_t i = 0; i < records.size(); ++i) {
    data::Record& record = records[i];
    if (record.task() != data::Record::TASK_TILE) continue;
    const std::string where = absl::StrCat(context, ": record ", i);
    auto it = kernel_index.find(record.kernel_hash());
    if (it == kernel_index.end()) {
      ASSIGN_OR_RETURN(graph::Kernel kernel, data::DecodeRecordKernel(record, where));
      replay->owned_.push_back(std::make_unique<graph::Kernel>(std::move(kernel)));
      TuneKernel tk;
      tk.program = record.program();
      tk.kernel = replay->owned_.back().get();
      tk.hash = record.kernel_hash();
      it = kernel_index.emplace(record.kernel_hash(), static_cast<int>(replay->kernels_.size())).first;
      replay->kernels_.push_back(std::move(tk));
    }
    TuneKernel& tk = replay->kernels_[it->second];
    ASSIGN_OR_RETURN(tiling::TileConfig config,
                     data::DecodeRecordConfig(record, *tk.kernel, where));
    auto key = std::make_pair(record.kernel_hash(), config.ToString());
    if (replay->records_.count(key)) continue;  // the first record of a pair wins
    if (config == tiling::Default(*tk.kernel)) {
      tk.candidates.insert(tk.candidates.begin(), config);
    } else {
      tk.candidates.push_back(config);
    }
    replay->records_.emplace(std::move(key), std::move(record));
  }
  if (replay->kernels_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": no tile-task records to replay"));
  }
  return replay;
}

absl::StatusOr<std::vector<data::Record>> ReplayMeasurer::Measure(
    const TuneKernel& kernel, absl::Span<const tiling::TileConfig> configs) {
  std::vector<data::Record> out;
  out.reserve(configs.size());
  for (const tiling::TileConfig& config : configs) {
    auto it = records_.find({kernel.hash, config.ToString()});
    if (it == records_.end()) {
      return absl::NotFoundError(absl::StrFormat(
          "replay: no record of kernel %016x at config %s", kernel.hash, config.ToString()));
    }
    out.push_back(it->second);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// CommandMeasurer

namespace {

// Runs `command` with `input` on stdin; returns (exit status or -signal, stdout).
absl::StatusOr<std::pair<int, std::string>> RunCommand(const std::string& command,
                                                       const std::string& input,
                                                       const std::vector<std::pair<std::string, std::string>>& env) {
  int in_pipe[2], out_pipe[2];
  if (pipe(in_pipe) != 0) return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  if (pipe(out_pipe) != 0) {
    close(in_pipe[0]);
    close(in_pipe[1]);
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  const pid_t pid = fork();
  if (pid < 0) {
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) close(fd);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    dup2(in_pipe[0], STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) close(fd);
    for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  // The input is one short line: it fits the pipe buffer, so writing before reading cannot block.
  ssize_t unused = write(in_pipe[1], input.data(), input.size());
  (void)unused;
  close(in_pipe[1]);
  std::string output;
  char buffer[4096];
  for (;;) {
    ssize_t n = read(out_pipe[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.size() < (1 << 20)) output.append(buffer, static_cast<size_t>(n));
  }
  close(out_pipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waitpid: ", strerror(errno)));
  }
  if (WIFEXITED(status)) return std::make_pair(WEXITSTATUS(status), output);
  return std::make_pair(-WTERMSIG(status), output);
}

}  // namespace

absl::StatusOr<std::vector<data::Record>> CommandMeasurer::Measure(
    const TuneKernel& kernel, absl::Span<const tiling::TileConfig> configs) {
  std::vector<data::Record> out;
  for (const tiling::TileConfig& config : configs) {
    const std::string text = config.ToString();
    const absl::Time start = absl::Now();
    ASSIGN_OR_RETURN(auto result,
                     RunCommand(command_, text + "\n",
                                {{"PERFGRAPH_KERNEL", kernel.kernel->name},
                                 {"PERFGRAPH_KERNEL_HASH", absl::StrFormat("%016x", kernel.hash)},
                                 {"PERFGRAPH_CONFIG", text},
                                 {"PERFGRAPH_PROGRAM", kernel.program}}));
    const absl::Duration took = absl::Now() - start;
    auto [exit_status, output] = result;
    data::Record record;
    record.set_compile_time_ns(absl::ToInt64Nanoseconds(took));
    record.set_protocol_version(1);
    const std::string shown = output.substr(0, 200);
    double ns = 0;
    if (exit_status == 0 && absl::SimpleAtod(absl::StripAsciiWhitespace(output), &ns) &&
        std::isfinite(ns) && ns > 0) {
      record.set_status(data::Record::MEASURE_STATUS_OK);
      record.add_runtime_ns(ns);
    } else if (exit_status == 124) {
      record.set_status(data::Record::MEASURE_STATUS_TIMEOUT);
      // A harness that knows how long it waited may print that bound (ns) before exiting.
      double bound = 0;
      if (absl::SimpleAtod(absl::StripAsciiWhitespace(output), &bound) && std::isfinite(bound) &&
          bound > 0) {
        record.set_runtime_lower_bound_ns(bound);
      }
      record.set_error_message(absl::StrCat("--measure-command timed out (exit status 124): ", shown));
    } else {
      record.set_status(data::Record::MEASURE_STATUS_INVALID);
      record.set_error_message(
          exit_status == 0
              ? absl::StrCat("--measure-command printed no runtime in ns (a number > 0): '", shown, "'")
          : exit_status < 0
              ? absl::StrCat("--measure-command killed by signal ", -exit_status, ": ", shown)
              : absl::StrCat("--measure-command exited with status ", exit_status, ": ", shown));
    }
    out.push_back(std::move(record));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Surrogates

namespace {

class StaticSurrogate : public TuneSurrogate {
 public:
  explicit StaticSurrogate(cost::CostModel* model) : model_(model) {}
  absl::StatusOr<std::vector<double>> Predict(const TuneKernel& kernel,
                                              absl::Span<const Trial>) override {
    auto it = cache_.find(kernel.hash);
    if (it != cache_.end() && it->second.size() == kernel.candidates.size()) return it->second;
    std::vector<cost::CostQuery> queries;
    queries.reserve(kernel.candidates.size());
    for (const tiling::TileConfig& c : kernel.candidates) queries.push_back({kernel.kernel, c});
    std::vector<absl::StatusOr<double>> estimates = model_->EstimateNs(queries);
    std::vector<double> out(kernel.candidates.size(), kNaN);
    for (size_t i = 0; i < estimates.size() && i < out.size(); ++i) {
      if (estimates[i].ok() && std::isfinite(*estimates[i]) && *estimates[i] > 0) out[i] = *estimates[i];
    }
    cache_[kernel.hash] = out;
    return out;
  }

 private:
  cost::CostModel* model_;
  std::unordered_map<uint64_t, std::vector<double>> cache_;
};

class OnlineSurrogate : public TuneSurrogate {
 public:
  OnlineSurrogate(cost::CostModel* base, const OnlineSurrogateOptions& options)
      : base_(base ? std::make_unique<StaticSurrogate>(base) : nullptr), options_(options) {}

  absl::StatusOr<std::vector<double>> Predict(const TuneKernel& kernel,
                                              absl::Span<const Trial> trials) override {
    std::vector<double> base;
    if (base_) {
      ASSIGN_OR_RETURN(base, base_->Predict(kernel, trials));
    }
    // Usable trials: OK at their label, timeouts at their lower bound; with a base, only where the
    // base has an estimate.
    std::vector<int> rows;
    std::vector<float> labels;
    for (const Trial& t : trials) {
      if (t.status == TrialStatus::kInvalid || !(t.runtime_ns > 0)) continue;
      if (t.candidate < 0 || t.candidate >= static_cast<int>(kernel.candidates.size())) continue;
      double target = std::log(t.runtime_ns);
      if (base_) {
        const double b = base[t.candidate];
        if (!std::isfinite(b)) continue;
        target -= std::log(b);
      }
      rows.push_back(t.candidate);
      labels.push_back(static_cast<float>(target));
    }
    if (static_cast<int>(rows.size()) < options_.min_trials) return base;  // empty without base

    const std::vector<float>& features = Features(kernel);
    const int width = tiling::kNumConfigFeatures;
    std::vector<float> train(rows.size() * width);
    for (size_t r = 0; r < rows.size(); ++r) {
      std::copy_n(features.begin() + static_cast<size_t>(rows[r]) * width, width,
                  train.begin() + r * width);
    }
    double mean = 0;
    for (float l : labels) mean += l;
    mean /= labels.size();
    ASSIGN_OR_RETURN(cost::XgbMatrix matrix, cost::XgbMatrix::Create(train, width, labels));
    ASSIGN_OR_RETURN(
        cost::XgbBooster booster,
        cost::XgbBooster::Create(matrix, {{"objective", "reg:squarederror"},
                                          {"max_depth", std::to_string(options_.max_depth)},
                                          {"eta", absl::StrCat(options_.eta)},
                                          {"min_child_weight", "1"},
                                          {"base_score", absl::StrCat(mean)},
                                          {"nthread", "1"},
                                          {"seed", std::to_string(options_.seed)},
                                          {"verbosity", "0"}}));
    for (int round = 0; round < options_.rounds; ++round) {
      RETURN_IF_ERROR(booster.UpdateOneIter(round, matrix));
    }
    ASSIGN_OR_RETURN(std::vector<float> predicted, booster.PredictRows(features, width));
    std::vector<double> out(kernel.candidates.size(), kNaN);
    for (size_t i = 0; i < out.size(); ++i) {
      if (base_) {
        if (std::isfinite(base[i])) out[i] = base[i] * std::exp(static_cast<double>(predicted[i]));
      } else {
        out[i] = std::exp(static_cast<double>(predicted[i]));
      }
    }
    return out;
  }

 private:
  const std::vector<float>& Features(const TuneKernel& kernel) {
    auto it = features_.find(kernel.hash);
    if (it != features_.end() &&
        it->second.size() == kernel.candidates.size() * tiling::kNumConfigFeatures) {
      return it->second;
    }
    std::vector<float> f(kernel.candidates.size() * tiling::kNumConfigFeatures);
    for (size_t i = 0; i < kernel.candidates.size(); ++i) {
      tiling::ConfigFeatures(*kernel.kernel, kernel.candidates[i],
                             f.data() + i * tiling::kNumConfigFeatures);
    }
    return features_[kernel.hash] = std::move(f);
  }

  std::unique_ptr<StaticSurrogate> base_;
  OnlineSurrogateOptions options_;
  std::unordered_map<uint64_t, std::vector<float>> features_;
};

}  // namespace

std::unique_ptr<TuneSurrogate> MakeStaticSurrogate(cost::CostModel* model) {
  return std::make_unique<StaticSurrogate>(model);
}

std::unique_ptr<TuneSurrogate> MakeOnlineSurrogate(cost::CostModel* base,
                                                   const OnlineSurrogateOptions& options) {
  return std::make_unique<OnlineSurrogate>(base, options);
}

// ---------------------------------------------------------------------------------------------
// Validity classifier

struct ValidityClassifier::Impl {
  std::optional<cost::XgbBooster> booster;
  const cost::AnalyticalModel* analytical = nullptr;
  std::unordered_map<uint64_t, std::vector<double>> cache;
};

ValidityClassifier::ValidityClassifier() : impl_(std::make_unique<Impl>()) {}
ValidityClassifier::~ValidityClassifier() = default;

namespace {

// Tabular rows and labels (1 = not OK) of the tile records; kernels decoded once per hash.
absl::Status ValidityRows(const std::vector<data::Record>& records,
                          const cost::AnalyticalModel* analytical, absl::string_view context,
                          std::vector<float>* rows, std::vector<float>* labels) {
  // Group the records by kernel so each kernel's block and default estimate are computed once.
  std::map<uint64_t, std::vector<size_t>> by_kernel;
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].task() == data::Record::TASK_TILE) by_kernel[records[i].kernel_hash()].push_back(i);
  }
  for (const auto& [hash, indices] : by_kernel) {
    const std::string where = absl::StrCat(context, ": record ", indices.front());
    ASSIGN_OR_RETURN(graph::Kernel kernel, data::DecodeRecordKernel(records[indices.front()], where));
    std::vector<tiling::TileConfig> configs;
    for (size_t i : indices) {
      ASSIGN_OR_RETURN(tiling::TileConfig config,
                       data::DecodeRecordConfig(records[i], kernel,
                                                absl::StrCat(context, ": record ", i)));
      configs.push_back(config);
      labels->push_back(records[i].status() == data::Record::MEASURE_STATUS_OK ? 0.0f : 1.0f);
    }
    cost::AppendTabularRows(kernel, configs, analytical, rows);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ValidityClassifier>> ValidityClassifier::Train(
    const std::vector<data::Record>& records, const cost::AnalyticalModel* analytical,
    const ValidityTrainOptions& options, absl::string_view context) {
  if (options.rounds < 1) {
    return absl::InvalidArgumentError(absl::StrCat("validity: rounds must be >= 1, got ", options.rounds));
  }
  std::vector<float> rows, labels;
  RETURN_IF_ERROR(ValidityRows(records, analytical, context, &rows, &labels));
  double bad = 0;
  for (float l : labels) bad += l;
  if (labels.empty() || bad == 0 || bad == static_cast<double>(labels.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        context, ": the validity classifier needs tile records of both classes (OK and INVALID or "
                 "TIMEOUT); got ", labels.size(), " records, ", bad, " not OK"));
  }
  ASSIGN_OR_RETURN(cost::XgbMatrix matrix,
                   cost::XgbMatrix::Create(rows, cost::kNumTabularFeatures, labels));
  ASSIGN_OR_RETURN(cost::XgbBooster booster,
                   cost::XgbBooster::Create(matrix, {{"objective", "binary:logistic"},
                                                     {"max_depth", std::to_string(options.max_depth)},
                                                     {"eta", absl::StrCat(options.eta)},
                                                     {"nthread", std::to_string(options.threads)},
                                                     {"seed", std::to_string(options.seed)},
                                                     {"verbosity", "1"}}));
  for (int round = 0; round < options.rounds; ++round) {
    RETURN_IF_ERROR(booster.UpdateOneIter(round, matrix));
  }
  std::unique_ptr<ValidityClassifier> classifier(new ValidityClassifier());
  classifier->impl_->booster = std::move(booster);
  classifier->impl_->analytical = analytical;
  return classifier;
}

absl::StatusOr<std::unique_ptr<ValidityClassifier>> ValidityClassifier::Load(
    const std::string& dir, const cost::AnalyticalModel* analytical) {
  const std::string path = absl::StrCat(dir, "/", kFileName);
  ASSIGN_OR_RETURN(cost::XgbBooster booster, cost::XgbBooster::Load(path));
  ASSIGN_OR_RETURN(int features, booster.NumFeatures());
  if (features != cost::kNumTabularFeatures) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": the validity classifier reads ", features, " features, this build computes ",
        cost::kNumTabularFeatures, " (another feature schema): retrain it with `perfgraph tune "
        "--train-validity`"));
  }
  std::unique_ptr<ValidityClassifier> classifier(new ValidityClassifier());
  classifier->impl_->booster = std::move(booster);
  classifier->impl_->analytical = analytical;
  return classifier;
}

absl::Status ValidityClassifier::Save(const std::string& dir) const {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", error.message()));
  }
  return impl_->booster->Save(absl::StrCat(dir, "/", kFileName));
}

absl::StatusOr<std::vector<double>> ValidityClassifier::Predict(const TuneKernel& kernel) {
  auto it = impl_->cache.find(kernel.hash);
  if (it != impl_->cache.end() && it->second.size() == kernel.candidates.size()) return it->second;
  std::vector<float> rows;
  cost::AppendTabularRows(*kernel.kernel, kernel.candidates, impl_->analytical, &rows);
  ASSIGN_OR_RETURN(std::vector<float> p,
                   impl_->booster->PredictRows(rows, cost::kNumTabularFeatures));
  std::vector<double> out(p.begin(), p.end());
  impl_->cache[kernel.hash] = out;
  return out;
}

absl::StatusOr<ValidityMetrics> ValidityClassifier::Evaluate(const std::vector<data::Record>& records,
                                                             double threshold,
                                                             absl::string_view context) {
  std::vector<float> rows, labels;
  RETURN_IF_ERROR(ValidityRows(records, impl_->analytical, context, &rows, &labels));
  ValidityMetrics m;
  if (labels.empty()) return m;
  ASSIGN_OR_RETURN(std::vector<float> p,
                   impl_->booster->PredictRows(rows, cost::kNumTabularFeatures));
  for (size_t i = 0; i < labels.size(); ++i) {
    const bool bad = labels[i] > 0.5f;
    const bool predicted = p[i] > threshold;
    ++m.records;
    m.bad += bad;
    m.predicted_bad += predicted;
    m.true_positive += bad && predicted;
  }
  m.precision = m.predicted_bad > 0 ? static_cast<double>(m.true_positive) / m.predicted_bad : 0;
  m.recall = m.bad > 0 ? static_cast<double>(m.true_positive) / m.bad : 0;
  return m;
}

// ---------------------------------------------------------------------------------------------
// The tuning loop

absl::StatusOr<KernelTuneResult> TuneKernelConfigs(
    const TuneKernel& kernel, TuneSurrogate* surrogate, TrialMeasurer& measurer,
    const TuneOptions& options, std::vector<Trial> prior,
    const std::function<absl::Status(const data::Record&)>& on_record) {
  if (kernel.kernel == nullptr || kernel.candidates.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tune: kernel ",
                     kernel.kernel ? absl::StrCat("'", kernel.kernel->name, "'") : "(null)",
                     " has no candidate configs"));
  }
  if (options.batch < 1 || options.budget_measurements < 0 || !(options.exploration >= 0) ||
      options.exploration > 1 || !(options.validity_threshold >= 0) ||
      options.validity_threshold > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tune: bad options: batch ", options.batch, " (>= 1), budget ", options.budget_measurements,
        " (>= 0), exploration ", options.exploration, " (in [0, 1]), validity threshold ",
        options.validity_threshold, " (in [0, 1])"));
  }
  const int n = static_cast<int>(kernel.candidates.size());
  KernelTuneResult result;
  std::vector<bool> measured(n, false);
  for (Trial& t : prior) {
    if (t.candidate < 0 || t.candidate >= n || measured[t.candidate]) continue;
    measured[t.candidate] = true;
    result.trials.push_back(t);
  }
  result.prior_trials = static_cast<int>(result.trials.size());
  std::mt19937_64 rng(options.seed ^ (kernel.hash * 0x9E3779B97F4A7C15ull));
  const int default_index =
      options.default_first ? CandidateIndex(kernel, tiling::Default(*kernel.kernel)) : -1;
  const int budget = options.budget_measurements > 0 ? options.budget_measurements : n;
  double best_ns = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < result.trials.size(); ++i) {
    const Trial& t = result.trials[i];
    if (t.status == TrialStatus::kOk && t.runtime_ns < best_ns) {
      best_ns = t.runtime_ns;
      result.best = static_cast<int>(i);
    }
  }
  std::vector<bool> predicted_invalid(n, false);

  while (static_cast<int>(result.trials.size()) < budget &&
         static_cast<int>(result.trials.size()) < n) {
    if (options.should_stop && options.should_stop()) {
      result.stopped = true;
      break;
    }
    const int want = std::min({options.batch, budget - static_cast<int>(result.trials.size()),
                               n - static_cast<int>(result.trials.size())});
    std::vector<int> batch;
    std::vector<bool> chosen(n, false);
    auto take = [&](int c) {
      batch.push_back(c);
      chosen[c] = true;
    };
    if (default_index >= 0 && !measured[default_index]) take(default_index);

    std::vector<double> predicted;
    std::vector<double> p_invalid;
    if (options.validity_model != nullptr) {
      ASSIGN_OR_RETURN(p_invalid, options.validity_model->Predict(kernel));
    }
    if (surrogate != nullptr && static_cast<int>(batch.size()) < want) {
      ASSIGN_OR_RETURN(predicted, surrogate->Predict(kernel, result.trials));
      if (!predicted.empty() && static_cast<int>(predicted.size()) != n) {
        return absl::InternalError(absl::StrCat("tune: the surrogate returned ", predicted.size(),
                                                " estimates for ", n, " candidates"));
      }
    }
    // Unmeasured candidates, shuffled (ties and unestimated configs in random order).
    std::vector<int> order;
    for (int c = 0; c < n; ++c) {
      if (!measured[c] && !chosen[c]) order.push_back(c);
    }
    std::shuffle(order.begin(), order.end(), rng);
    for (int c = 0; c < n; ++c) {
      predicted_invalid[c] = !p_invalid.empty() && p_invalid[c] > options.validity_threshold;
    }
    // Predicted-valid first (when validity acts), then by estimate (unestimated last).
    auto key = [&](int c) {
      const int group = options.validity && predicted_invalid[c] ? 1 : 0;
      const double p = !predicted.empty() && std::isfinite(predicted[c])
                           ? predicted[c]
                           : std::numeric_limits<double>::infinity();
      return std::make_pair(group, p);
    };
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key(a) < key(b); });
    // Epsilon-greedy: each remaining slot takes, with probability `exploration`, a random config of
    // the predicted-valid unmeasured ones instead of the next best.
    std::vector<int> explorable;
    for (int c : order) {
      if (!(options.validity && predicted_invalid[c])) explorable.push_back(c);
    }
    std::uniform_real_distribution<double> coin(0, 1);
    size_t next = 0;
    while (static_cast<int>(batch.size()) < want) {
      int pick = -1;
      if (!predicted.empty() && !explorable.empty() && coin(rng) < options.exploration) {
        std::uniform_int_distribution<size_t> any(0, explorable.size() - 1);
        for (int tries = 0; tries < 8 && pick < 0; ++tries) {
          const int c = explorable[any(rng)];
          if (!chosen[c]) pick = c;
        }
      }
      while (pick < 0 && next < order.size()) {
        if (!chosen[order[next]]) pick = order[next];
        ++next;
      }
      if (pick < 0) break;
      take(pick);
    }
    if (batch.empty()) break;

    std::vector<tiling::TileConfig> configs;
    for (int c : batch) configs.push_back(kernel.candidates[c]);
    ASSIGN_OR_RETURN(std::vector<data::Record> records, measurer.Measure(kernel, configs));
    if (records.size() != batch.size()) {
      return absl::InternalError(absl::StrCat("tune: the measurer returned ", records.size(),
                                              " records for ", batch.size(), " configs"));
    }
    const tiling::TileConfig default_config = tiling::Default(*kernel.kernel);
    for (size_t b = 0; b < batch.size(); ++b) {
      data::Record& record = records[b];
      record.set_program(kernel.program);
      if (!record.has_kernel()) data::KernelToProto(*kernel.kernel, record.mutable_kernel());
      data::ConfigToProto(configs[b], configs[b] == default_config, record.mutable_config());
      record.set_kernel_hash(kernel.hash);
      record.set_task(data::Record::TASK_TILE);
      ASSIGN_OR_RETURN(Trial trial, TrialFromRecord(kernel, record));
      if (on_record) RETURN_IF_ERROR(on_record(record));
      measured[trial.candidate] = true;
      if (predicted_invalid[trial.candidate]) ++result.measured_predicted_invalid;
      result.trials.push_back(trial);
      if (trial.status == TrialStatus::kOk && trial.runtime_ns < best_ns) {
        best_ns = trial.runtime_ns;
        result.best = static_cast<int>(result.trials.size()) - 1;
      }
    }
  }
  return result;
}

absl::StatusOr<std::map<uint64_t, tiling::TileConfig>> BestTunedConfigs(
    const std::vector<data::Record>& records, absl::string_view context) {
  std::map<uint64_t, std::pair<double, tiling::TileConfig>> best;
  for (size_t i = 0; i < records.size(); ++i) {
    const data::Record& r = records[i];
    if (r.task() != data::Record::TASK_TILE || r.status() != data::Record::MEASURE_STATUS_OK) continue;
    const std::string where = absl::StrCat(context, ": record ", i);
    ASSIGN_OR_RETURN(double label, data::RecordLabelNs(r, where));
    auto it = best.find(r.kernel_hash());
    if (it != best.end() && it->second.first <= label) continue;
    ASSIGN_OR_RETURN(tiling::TileConfig config, data::ConfigFromProto(r.config(), where));
    best[r.kernel_hash()] = {label, config};
  }
  std::map<uint64_t, tiling::TileConfig> out;
  for (auto& [hash, entry] : best) out.emplace(hash, entry.second);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Replay benchmark

absl::StatusOr<ReplayReport> RunReplayBenchmark(
    ReplayMeasurer& replay, const ReplayOptions& options,
    const std::function<absl::StatusOr<std::unique_ptr<TuneSurrogate>>(TuneStrategy, uint64_t)>&
        surrogate_for,
    const ReplayProgress& progress) {
  if (options.variants.empty() || options.seeds < 1 || options.within.empty() || options.window < 1) {
    return absl::InvalidArgumentError(
        "replay: need at least one variant, seed and threshold, and a window >= 1");
  }
  int random_variant = -1;
  for (size_t v = 0; v < options.variants.size(); ++v) {
    if (options.variants[v].strategy == TuneStrategy::kRandom) {
      random_variant = static_cast<int>(v);
      break;
    }
  }
  if (random_variant < 0) {
    return absl::InvalidArgumentError("replay: the variants must include random search (the reference)");
  }
  // The benchmarked kernels: those with an OK config; their optimum.
  struct Bench {
    const TuneKernel* kernel;
    double optimum_ns;
  };
  std::vector<Bench> bench;
  ReplayReport report;
  std::vector<double> candidate_counts;
  size_t max_candidates = 0;
  for (const TuneKernel& k : replay.kernels()) {
    ASSIGN_OR_RETURN(std::vector<data::Record> records, replay.Measure(k, k.candidates));
    double optimum = std::numeric_limits<double>::infinity();
    for (const data::Record& r : records) {
      ASSIGN_OR_RETURN(Trial t, TrialFromRecord(k, r));
      if (t.status == TrialStatus::kOk) optimum = std::min(optimum, t.runtime_ns);
    }
    if (!std::isfinite(optimum)) {
      ++report.kernels_skipped;
      continue;
    }
    bench.push_back({&k, optimum});
    candidate_counts.push_back(static_cast<double>(k.candidates.size()));
    max_candidates = std::max(max_candidates, k.candidates.size());
  }
  report.kernels = static_cast<int>(bench.size());
  report.median_candidates = static_cast<int>(Median(candidate_counts));
  if (bench.empty()) return absl::InvalidArgumentError("replay: no kernel has an OK config");

  const size_t num_within = options.within.size();
  const int total_passes = static_cast<int>(options.variants.size()) * options.seeds;
  int passes = 0;
  // needed[v][k][s * num_within + w]: measurements run s of variant v needed on kernel k to get
  // within `within[w]` (candidates + 1 when never); needed_s: the hardware seconds until then.
  std::vector<std::vector<std::vector<double>>> needed(options.variants.size()),
      needed_s(options.variants.size());
  for (size_t v = 0; v < options.variants.size(); ++v) {
    const ReplayVariant& variant = options.variants[v];
    ReplayVariantResult vr;
    vr.name = variant.name;
    vr.curve.assign(max_candidates, 0.0);
    needed[v].assign(bench.size(), {});
    needed_s[v].assign(bench.size(), {});
    double bad = 0, bad_s = 0, window_bad = 0, window_bad_s = 0;
    for (int seed = 1; seed <= options.seeds; ++seed) {
      ASSIGN_OR_RETURN(std::unique_ptr<TuneSurrogate> surrogate,
                       surrogate_for(variant.strategy, static_cast<uint64_t>(seed)));
      for (size_t k = 0; k < bench.size(); ++k) {
        const TuneKernel& kernel = *bench[k].kernel;
        const double optimum = bench[k].optimum_ns;
        TuneOptions tune = options.tune;
        tune.validity = variant.validity;
        tune.seed = static_cast<uint64_t>(seed);
        tune.budget_measurements = 0;
        ASSIGN_OR_RETURN(KernelTuneResult run,
                         TuneKernelConfigs(kernel, surrogate.get(), replay, tune, {}, nullptr));
        std::vector<double> reach(num_within, static_cast<double>(kernel.candidates.size()) + 1);
        std::vector<double> reach_s(num_within, 0);
        double best = std::numeric_limits<double>::infinity();
        double spent_s = 0;
        bool done_last = false;
        for (size_t i = 0; i < max_candidates; ++i) {
          if (i < run.trials.size()) {
            const Trial& t = run.trials[i];
            spent_s += t.hardware_s;
            if (t.status != TrialStatus::kOk) {
              if (!done_last) {
                bad += 1;
                bad_s += t.hardware_s;
              }
              if (static_cast<int>(i) < options.window) {
                window_bad += 1;
                window_bad_s += t.hardware_s;
              }
            }
            if (t.status == TrialStatus::kOk) best = std::min(best, t.runtime_ns);
            for (size_t w = 0; w < num_within; ++w) {
              if (reach[w] > kernel.candidates.size() && best <= (1 + options.within[w]) * optimum) {
                reach[w] = static_cast<double>(i + 1);
                reach_s[w] = spent_s;
              }
            }
            if (reach[num_within - 1] <= kernel.candidates.size()) done_last = true;
          }
          vr.curve[i] += std::isfinite(best) ? optimum / best : 0.0;
        }
        for (size_t w = 0; w < num_within; ++w) {
          needed[v][k].push_back(reach[w]);
          needed_s[v][k].push_back(reach_s[w]);
        }
      }
      ++passes;
      if (progress) {
        progress(passes, total_passes, absl::StrCat(variant.name, " seed ", seed));
      }
    }
    const double runs = static_cast<double>(bench.size()) * options.seeds;
    for (double& c : vr.curve) c /= runs;
    vr.mean_invalid_or_timeout = bad / runs;
    vr.mean_invalid_or_timeout_s = bad_s / runs;
    vr.window_invalid_or_timeout = window_bad / runs;
    vr.window_invalid_or_timeout_s = window_bad_s / runs;
    report.variants.push_back(std::move(vr));
  }
  // needed[v][k] holds seeds x num_within values, seed-major.
  auto per_seed = [&](size_t v, size_t k, size_t w, const auto& table) {
    std::vector<double> out;
    for (int s = 0; s < options.seeds; ++s) out.push_back(table[v][k][s * num_within + w]);
    return out;
  };
  for (size_t v = 0; v < options.variants.size(); ++v) {
    ReplayVariantResult& vr = report.variants[v];
    for (size_t w = 0; w < num_within; ++w) {
      std::vector<double> ratios, all, all_s;
      for (size_t k = 0; k < bench.size(); ++k) {
        const std::vector<double> mine = per_seed(v, k, w, needed);
        const std::vector<double> base = per_seed(random_variant, k, w, needed);
        ratios.push_back(Median(mine) / Median(base));
        for (double x : mine) all.push_back(x);
        for (double x : per_seed(v, k, w, needed_s)) all_s.push_back(x);
      }
      vr.median_ratio_to_random.push_back(Median(ratios));
      vr.median_measurements.push_back(Median(all));
      vr.median_hardware_s.push_back(Median(all_s));
    }
  }
  return report;
}

}  // namespace perfgraph::pipeline
