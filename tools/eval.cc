// `perfgraph eval --dataset DATASET... [--model MODEL_DIR] [--xgboost-model DIR] [--split FILE]
//  [--split-part test|validation|train] [--per-kernel] [--explain PROGRAM/KERNEL] [--guard-sweep]
//  [--plot DIR] [--json]`
//
// Scores the learned model of MODEL_DIR as it is served (cost::LearnedModel: kernels::Predictor and
// the roofline lower bound, no LibTorch), the XGBoost baseline (cost::XgboostModel of
// --xgboost-model DIR, default models/xgboost, when that directory holds one; an explicit
// --xgboost-model that cannot be loaded is an error) and the analytical model (cost::AnalyticalModel
// with the committed target description) side by side on the same held-out programs and the same
// configs (DESIGN.md "Metrics"): a config the analytical or the XGBoost model cannot estimate is
// dropped for every column. Held-out programs: the `test` part of --split FILE; without --split, every
// program of the dataset that the model did not train or validate on (model.json's split).
// --split-part validation (or train) scores that part of --split FILE instead, to choose settings
// on programs the test figures never see.
// Only OK configs are scored; a config the analytical model cannot estimate is dropped for both
// models (counted in analytical_failures).
//
// MODEL_DIR defaults to models/default (the shipped model). When --model is not given and no model
// is shipped, only the analytical figures are reported (learned columns n/a / null, a note on
// stderr) and --split is required; an explicit --model that cannot be loaded is an error.
// --per-kernel adds one line per held-out kernel (table) or a "per_kernel" array (JSON): program,
// kernel, task, configs scored and each model's Kendall's tau and top-1 slowdown (tile) or absolute
// percentage error (fusion), to find the classes of kernels a model gets wrong.
// --explain PROGRAM/KERNEL prints, for that held-out kernel (tile task), every config sorted by
// measured runtime with the measured, learned and analytical ns and the analytical model's
// CostBreakdown; an unknown PROGRAM/KERNEL is kNotFound.
// --guard-sweep replays the tiling pass's default guard (tiling::TilingPassOptions::
// min_predicted_gain, gnn::ReplayDefaultGuard) for each column at bands 0 % to 100 %: kernels whose
// default config was measured, how often the guard kept it, how often the choice measured slower
// than the default, the geometric mean and worst measured(choice) / measured(default), and the
// mean top-1 slowdown; JSON key default_guard {column: [rows]}.
//
// --plot DIR writes DIR/eval_points.json (every scored config: measured and predicted ns per column,
// null where a column has none or the config timed out; each tile kernel's Kendall's tau per
// column) and draws from it with tools/plot.py: scatter_tile and scatter_fusion (predicted vs
// measured, log-log, one panel per column, y = x) and tau_histogram (per-kernel tile tau), each
// as .png and .svg. Errors: those of RunPlotScript (tools/plot.h), an uncreatable DIR.
// Datasets of a foreign feature schema (e.g. TpuGraphs tiles, `dataset import --tpugraphs-tile`)
// are scored with a model trained on that schema only (a model of one schema and data of another
// is kFailedPrecondition, naming both): through kernels::Predictor over MODEL_DIR/weights.pgw on the
// records' features, without the analytical and XGBoost columns (they need perfgraph kernels; their
// figures are null) or the roofline clamp; --explain and --guard-sweep need perfgraph kernels too.
// --json prints {tile:{learned:{top1_slowdown, top5_slowdown, kendall_tau}, xgboost?:{...},
// analytical:{...}}, fusion:{learned:{mape, mape_5us, kendall_tau}, xgboost?:{...},
// analytical:{...}}, kernels, configs} (slowdowns and MAPE as fractions, null when not
// computable; xgboost only with an XGBoost model), plus programs, tile_kernels, fusion_kernels,
// analytical_failures, learned_model, xgboost_model (null without one), xgboost_failures.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>
#include <set>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cost/analytical_model.h"
#include "cost/xgboost_model.h"
#include "data/split.h"
#include "gnn/train.h"
#include "gnn/xgboost_train.h"
#include "graph/atomic_file.h"
#include "kernels/predictor.h"
#include "graph/status_macros.h"
#include "nlohmann/json.hpp"
#include "tiling/tile_config.h"
#include "pipeline/cost_models.h"
#include "tools/cli.h"
#include "tools/flags.h"
#include "tools/plot.h"
#include "tools/side_by_side.h"


namespace perfgraph::tools {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string Percent(const std::optional<double>& v) {
  return v ? absl::StrFormat("%7.2f%%", 100 * *v) : "     n/a";
}
std::string Number(const std::optional<double>& v) {
  return v ? absl::StrFormat("%8.3f", *v) : "     n/a";
}

// One column of `eval --plot`: its name and its predictions, [examples][num_configs] ns (NaN: none).
using PlotColumns =
    std::vector<std::pair<std::string, const std::vector<std::vector<double>>*>>;

// --plot DIR (file comment): DIR/eval_points.json, then tools/plot.py draws from it.
absl::Status WritePlots(const std::string& plot_dir, const std::vector<gnn::KernelExample>& examples,
                        const PlotColumns& columns, const std::set<std::string>& held_out,
                        const std::string& part) {
  auto values = [](const std::vector<double>& v) {
    nlohmann::ordered_json a = nlohmann::ordered_json::array();
    for (double x : v) a.push_back(std::isfinite(x) ? nlohmann::ordered_json(x) : nullptr);
    return a;
  };
  nlohmann::ordered_json points;
  points["programs"] = std::vector<std::string>(held_out.begin(), held_out.end());
  points["split_part"] = part;
  nlohmann::ordered_json column_names = nlohmann::ordered_json::array();
  for (const auto& column : columns) column_names.push_back(column.first);
  points["columns"] = column_names;
  nlohmann::ordered_json kernels = nlohmann::ordered_json::array();
  for (size_t e = 0; e < examples.size(); ++e) {
    const gnn::KernelExample& ex = examples[e];
    const bool tile = ex.task == gnn::Task::kTile;
    nlohmann::ordered_json k;
    k["program"] = ex.program;
    k["kernel"] = ex.kernel_name;
    k["task"] = tile ? "tile" : "fusion";
    std::vector<double> measured = ex.runtime_ns;
    for (int c = 0; c < ex.num_configs; ++c) {
      if (ex.timed_out[c]) measured[c] = kNaN;
    }
    k["measured_ns"] = values(measured);
    for (const auto& [name, predictions] : columns) {
      k["predicted_ns"][name] = values((*predictions)[e]);
      if (!tile) continue;
      ASSIGN_OR_RETURN(gnn::TaskMetrics m, gnn::ComputeTaskMetrics({ex}, {(*predictions)[e]}));
      k["kendall_tau"][name] = m.tile_kendall_tau.has_value()
                                   ? nlohmann::ordered_json(*m.tile_kendall_tau)
                                   : nlohmann::ordered_json(nullptr);
    }
    kernels.push_back(std::move(k));
  }
  points["kernels"] = std::move(kernels);
  std::error_code error;
  std::filesystem::create_directories(plot_dir, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("--plot ", plot_dir, ": cannot create the directory: ", error.message()));
  }
  const std::string points_file = (std::filesystem::path(plot_dir) / "eval_points.json").string();
  RETURN_IF_ERROR(graph::WriteFileAtomically(points_file, points.dump(1) + "\n", "--plot"));
  RETURN_IF_ERROR(RunPlotScript({"eval", points_file, plot_dir}));
  std::cerr << "perfgraph eval: pictures in " << plot_dir
            << " (scatter_tile, scatter_fusion, tau_histogram; .png and .svg)\n";
  return absl::OkStatus();
}

// Scores a model of a foreign feature schema on held-out examples of that schema (file comment).
absl::Status EvalForeign(const std::string& model_dir, const std::optional<gnn::ModelInfo>& info,
                         const gnn::LoadSummary& summary,
                         const std::vector<gnn::KernelExample>& examples,
                         const std::set<std::string>& held_out) {
  const gnn::ModelOptions& m = info->model;
  const std::string model_schema =
      m.foreign_schema() ? absl::StrCat(m.feature_schema, " (", m.num_node_features, " node, ",
                                        m.num_config_features, " config features)")
                         : "perfgraph";
  if (data::FeatureSchemaText(summary.foreign_features) != model_schema) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model '", model_dir, "' reads features of schema ", model_schema,
        " but the datasets hold schema ", data::FeatureSchemaText(summary.foreign_features),
        "; evaluate a model on data of the schema it was trained on"));
  }
  if (!absl::GetFlag(FLAGS_explain).empty() || absl::GetFlag(FLAGS_guard_sweep) ||
      !absl::GetFlag(FLAGS_xgboost_model).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--explain, --guard-sweep and --xgboost-model need perfgraph kernels; the datasets hold ",
        model_schema, " features"));
  }
  ASSIGN_OR_RETURN(kernels::Predictor predictor,
                   kernels::Predictor::Load(
                       (std::filesystem::path(model_dir) / pipeline::kLearnedWeightsFile).string()));
  std::vector<std::vector<double>> learned(examples.size());
  std::vector<float> out;
  for (size_t e = 0; e < examples.size(); ++e) {
    const gnn::KernelExample& ex = examples[e];
    out.assign(ex.num_configs, 0.0f);
    absl::Status s =
        predictor.Predict(ex.tensors, ex.config_feat.data(), ex.num_configs, out.data());
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat("kernel '", ex.kernel_name, "' of ", ex.program,
                                                 ": ", s.message()));
    }
    learned[e].assign(out.begin(), out.end());
  }
  ASSIGN_OR_RETURN(gnn::TaskMetrics l, gnn::ComputeTaskMetrics(examples, learned));
  if (const std::string plot_dir = absl::GetFlag(FLAGS_plot); !plot_dir.empty()) {
    RETURN_IF_ERROR(WritePlots(plot_dir, examples, {{"learned", &learned}}, held_out, "held-out"));
  }
  const gnn::TaskMetrics none;  // the analytical column: not computable without kernels
  nlohmann::ordered_json per_kernel = nlohmann::ordered_json::array();
  if (absl::GetFlag(FLAGS_per_kernel)) {
    for (size_t e = 0; e < examples.size(); ++e) {
      ASSIGN_OR_RETURN(gnn::TaskMetrics k, gnn::ComputeTaskMetrics({examples[e]}, {learned[e]}));
      per_kernel.push_back({{"program", examples[e].program},
                            {"kernel", examples[e].kernel_name},
                            {"task", "tile"},
                            {"configs", k.tile_configs},
                            {"learned", nlohmann::ordered_json::parse(gnn::TileMetricsJson(k))}});
    }
  }
  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::ordered_json j;
    j["tile"]["learned"] = nlohmann::ordered_json::parse(gnn::TileMetricsJson(l));
    j["tile"]["analytical"] = nlohmann::ordered_json::parse(gnn::TileMetricsJson(none));
    j["fusion"]["learned"] = nlohmann::ordered_json::parse(gnn::FusionMetricsJson(none));
    j["fusion"]["analytical"] = nlohmann::ordered_json::parse(gnn::FusionMetricsJson(none));
    j["kernels"] = l.tile_kernels;
    j["configs"] = l.tile_configs;
    j["programs"] = std::vector<std::string>(held_out.begin(), held_out.end());
    j["tile_kernels"] = l.tile_kernels;
    j["fusion_kernels"] = 0;
    j["analytical_failures"] = 0;
    j["learned_model"] = model_dir;
    j["xgboost_model"] = nullptr;
    j["xgboost_failures"] = 0;
    j["feature_schema"] = m.feature_schema;
    if (absl::GetFlag(FLAGS_per_kernel)) j["per_kernel"] = per_kernel;
    std::cout << j.dump(2) << "\n";
    return absl::OkStatus();
  }
  std::cout << "held-out programs: " << absl::StrJoin(held_out, ", ") << "\n";
  std::cout << absl::StrFormat("%d tile kernels, %d configs scored, features of schema %s (no "
                               "analytical column: it needs perfgraph kernels)\n",
                               l.tile_kernels, l.tile_configs, model_schema);
  std::cout << absl::StrFormat("%-28s %10s\n", "", "learned");
  std::cout << absl::StrFormat("%-28s %10s\n", "tile top-1 slowdown", Percent(l.tile_top1_slowdown));
  std::cout << absl::StrFormat("%-28s %10s\n", "tile top-5 slowdown", Percent(l.tile_top5_slowdown));
  std::cout << absl::StrFormat("%-28s %10s\n", "tile Kendall tau", Number(l.tile_kendall_tau));
  if (absl::GetFlag(FLAGS_per_kernel)) {
    std::cout << absl::StrFormat("\n%-24s %-40s %7s %10s %10s\n", "program", "kernel", "configs",
                                 "l.tau", "l.top1");
    for (const auto& k : per_kernel) {
      const auto& tau = k["learned"]["kendall_tau"];
      const auto& top1 = k["learned"]["top1_slowdown"];
      std::cout << absl::StrFormat(
          "%-24s %-40s %7d %10s %10s\n", k["program"].get<std::string>(),
          k["kernel"].get<std::string>(), k["configs"].get<int>(),
          tau.is_null() ? std::string("n/a") : absl::StrFormat("%.3f", tau.get<double>()),
          top1.is_null() ? std::string("n/a") : absl::StrFormat("%.1f%%", 100 * top1.get<double>()));
    }
  }
  return absl::OkStatus();
}

absl::Status Eval(const std::vector<std::string>& args) {
  ASSIGN_OR_RETURN(CommandLine command_line, ParseCommandLine("eval", args));
  std::vector<std::string> datasets = absl::GetFlag(FLAGS_dataset);
  datasets.insert(datasets.end(), command_line.positional.begin(), command_line.positional.end());
  if (datasets.empty()) return absl::InvalidArgumentError("--dataset DATASET is required");
  std::string model_dir = absl::GetFlag(FLAGS_model);
  const bool explicit_model = !model_dir.empty();
  if (!explicit_model) model_dir = pipeline::ShippedModelDir(pipeline::CostModelKind::kLearned);
  // The learned model is scored as it is served (cost::LearnedModel over kernels::Predictor, with
  // the roofline lower bound), the same predictions plan, predict and compare use; model.json gives
  // the programs it trained and validated on.
  std::optional<gnn::ModelInfo> info;
  std::unique_ptr<cost::CostModel> learned_model;
  if (explicit_model || std::filesystem::exists(model_dir)) {
    ASSIGN_OR_RETURN(info, gnn::ReadModelInfo(model_dir));
    // A foreign-schema model is scored by EvalForeign below (no cost::CostModel reads its features).
    if (!info->model.foreign_schema()) {
      pipeline::CostModelOptions options;
      options.kind = pipeline::CostModelKind::kLearned;
      options.model_dir = model_dir;
      ASSIGN_OR_RETURN(learned_model, pipeline::MakeCostModel(options));
    }
  } else {
    if (absl::GetFlag(FLAGS_split).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "no model to evaluate (", model_dir,
          " does not exist): pass --model MODEL_DIR, or --split FILE for the analytical figures alone"));
    }
    std::cerr << "perfgraph eval: no model in " << model_dir
              << "; reporting the analytical model alone (train one with perfgraph train)\n";
  }
  gnn::LoadSummary summary;
  ASSIGN_OR_RETURN(std::vector<gnn::KernelExample> all, gnn::LoadExamples(datasets, &summary));
  if (summary.foreign_features.has_value() && !info) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the datasets hold ", summary.foreign_features->ToString(),
        " features: only a model trained on them can be evaluated (pass --model MODEL_DIR; the "
        "analytical model needs perfgraph kernels)"));
  }

  std::set<std::string> held_out;
  const std::string part_name = absl::GetFlag(FLAGS_split_part);
  data::SplitPart part = data::SplitPart::kTest;
  if (part_name == "validation") {
    part = data::SplitPart::kValidation;
  } else if (part_name == "train") {
    part = data::SplitPart::kTrain;
  } else if (part_name != "test") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--split-part must be test, validation or train, got '", part_name, "'"));
  }
  if (!absl::GetFlag(FLAGS_split).empty()) {
    ASSIGN_OR_RETURN(data::Split split, data::ReadSplitFile(absl::GetFlag(FLAGS_split)));
    for (const std::string& p : split.Programs(part)) held_out.insert(p);
  } else if (part != data::SplitPart::kTest) {
    return absl::InvalidArgumentError("--split-part needs --split FILE");
  } else {
    std::set<std::string> seen(info->train_programs.begin(), info->train_programs.end());
    seen.insert(info->validation_programs.begin(), info->validation_programs.end());
    for (const std::string& p : summary.programs) {
      if (!seen.count(p)) held_out.insert(p);
    }
  }
  std::vector<gnn::KernelExample> examples;
  for (gnn::KernelExample& e : all) {
    if (held_out.count(e.program)) examples.push_back(std::move(e));
  }
  if (summary.foreign_features.has_value() || (info && info->model.foreign_schema())) {
    return EvalForeign(model_dir, info, summary, examples, held_out);
  }
  if (examples.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no held-out kernel to evaluate: ",
        absl::GetFlag(FLAGS_split).empty()
            ? absl::StrCat("every program of the dataset (", absl::StrJoin(summary.programs, ", "),
                           ") was used to train or validate '", model_dir,
                           "'; pass --split FILE with test programs")
            : absl::StrCat("the ", part_name, " programs of ", absl::GetFlag(FLAGS_split),
                           " have no usable kernel in the dataset")));
  }

  std::vector<std::vector<double>> learned(examples.size());
  if (learned_model != nullptr) {
    learned = gnn::PredictExamplesNs(*learned_model, examples);
  } else {
    for (size_t e = 0; e < examples.size(); ++e) learned[e].assign(examples[e].num_configs, kNaN);
  }

  // The XGBoost baseline's column: --xgboost-model, or the shipped one when it exists.
  std::unique_ptr<cost::XgboostModel> xgboost;
  std::string xgboost_dir = absl::GetFlag(FLAGS_xgboost_model);
  const bool explicit_xgboost = !xgboost_dir.empty();
  if (!explicit_xgboost) xgboost_dir = pipeline::ShippedModelDir(pipeline::CostModelKind::kXgboost);
  if (explicit_xgboost ||
      std::filesystem::exists(std::filesystem::path(xgboost_dir) / cost::kXgboostInfoFile)) {
    ASSIGN_OR_RETURN(xgboost, cost::XgboostModel::Load(xgboost_dir, 1));
  }
  std::vector<std::vector<double>> xgboost_predictions;
  if (xgboost != nullptr) xgboost_predictions = gnn::PredictExamplesNs(*xgboost, examples);

  ASSIGN_OR_RETURN(const int threads, MeasuredThreads(datasets[0]));
  ASSIGN_OR_RETURN(SideBySide scores,
                   ScoreSideBySide(examples, std::move(learned), threads,
                                   xgboost != nullptr ? &xgboost_predictions : nullptr));
  const gnn::TaskMetrics& x = scores.xgboost;
  const bool has_xgboost = scores.has_xgboost;
  const std::vector<std::vector<double>>& learned_ns = scores.learned_ns;
  const std::vector<std::vector<double>>& analytical_ns = scores.analytical_ns;
  const int failures = scores.analytical_failures;
  const gnn::TaskMetrics& a = scores.analytical;
  gnn::TaskMetrics l = scores.learned;
  if (learned_model == nullptr) {  // the analytical model's counts, no learned figure at all
    l = gnn::TaskMetrics{};
    l.tile_kernels = a.tile_kernels;
    l.tile_configs = a.tile_configs;
    l.fusion_kernels = a.fusion_kernels;
    l.fusion_programs = a.fusion_programs;
    l.fusion_kernels_5us = a.fusion_kernels_5us;
  }
  // Per-kernel figures (--per-kernel): each kernel scored alone.
  nlohmann::ordered_json per_kernel = nlohmann::ordered_json::array();
  if (absl::GetFlag(FLAGS_per_kernel)) {
    for (size_t e = 0; e < examples.size(); ++e) {
      const std::vector<gnn::KernelExample> one = {examples[e]};
      ASSIGN_OR_RETURN(gnn::TaskMetrics ka, gnn::ComputeTaskMetrics(one, {analytical_ns[e]}));
      gnn::TaskMetrics kl, kx;
      if (learned_model != nullptr) {
        ASSIGN_OR_RETURN(kl, gnn::ComputeTaskMetrics(one, {learned_ns[e]}));
      }
      if (has_xgboost) {
        ASSIGN_OR_RETURN(kx, gnn::ComputeTaskMetrics(one, {scores.xgboost_ns[e]}));
      }
      nlohmann::ordered_json k;
      k["program"] = examples[e].program;
      k["kernel"] = examples[e].kernel_name;
      const bool tile = examples[e].task == gnn::Task::kTile;
      k["task"] = tile ? "tile" : "fusion";
      k["configs"] = tile ? ka.tile_configs : ka.fusion_kernels;
      k["learned"] = nlohmann::ordered_json::parse(tile ? gnn::TileMetricsJson(kl)
                                                        : gnn::FusionMetricsJson(kl));
      if (has_xgboost) {
        k["xgboost"] = nlohmann::ordered_json::parse(tile ? gnn::TileMetricsJson(kx)
                                                          : gnn::FusionMetricsJson(kx));
      }
      k["analytical"] = nlohmann::ordered_json::parse(tile ? gnn::TileMetricsJson(ka)
                                                           : gnn::FusionMetricsJson(ka));
      per_kernel.push_back(std::move(k));
    }
  }

  // --guard-sweep: the tiling pass's default guard replayed per column and band.
  nlohmann::ordered_json guard = nlohmann::ordered_json::object();
  if (absl::GetFlag(FLAGS_guard_sweep)) {
    std::vector<std::pair<std::string, const std::vector<std::vector<double>>*>> columns;
    if (learned_model != nullptr) columns.push_back({"learned", &learned_ns});
    if (has_xgboost) columns.push_back({"xgboost", &scores.xgboost_ns});
    columns.push_back({"analytical", &analytical_ns});
    for (const auto& [name, predictions] : columns) {
      nlohmann::ordered_json rows = nlohmann::ordered_json::array();
      for (double band : {0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0}) {
        ASSIGN_OR_RETURN(gnn::DefaultGuardFigures g, gnn::ReplayDefaultGuard(examples, *predictions, band));
        rows.push_back({{"band", g.band},
                        {"kernels", g.kernels},
                        {"kept_default", g.kept_default},
                        {"slower_than_default", g.slower_than_default},
                        {"geomean_vs_default", g.geomean_vs_default},
                        {"worst_vs_default", g.worst_vs_default},
                        {"mean_top1_slowdown", g.mean_top1_slowdown}});
      }
      guard[name] = std::move(rows);
    }
  }

  // --plot DIR: every scored point and each tile kernel's tau, drawn by tools/plot.py.
  if (const std::string plot_dir = absl::GetFlag(FLAGS_plot); !plot_dir.empty()) {
    PlotColumns columns;
    if (learned_model != nullptr) columns.push_back({"learned", &learned_ns});
    if (has_xgboost) columns.push_back({"xgboost", &scores.xgboost_ns});
    columns.push_back({"analytical", &analytical_ns});
    RETURN_IF_ERROR(WritePlots(plot_dir, examples, columns, held_out,
                               absl::GetFlag(FLAGS_split).empty() ? "unseen by the model"
                                                                  : part_name));
  }

  if (const std::string target = absl::GetFlag(FLAGS_explain); !target.empty()) {
    cost::AnalyticalModelOptions analytical_options;
    analytical_options.num_threads = threads;
    ASSIGN_OR_RETURN(cost::AnalyticalModel analytical,
                     cost::AnalyticalModel::CreateDefault(analytical_options));
    bool found = false;
    for (size_t e = 0; e < examples.size(); ++e) {
      const gnn::KernelExample& ex = examples[e];
      if (absl::StrCat(ex.program, "/", ex.kernel_name) != target || ex.task != gnn::Task::kTile) {
        continue;
      }
      found = true;
      std::vector<int> order(ex.num_configs);
      for (int c = 0; c < ex.num_configs; ++c) order[c] = c;
      std::sort(order.begin(), order.end(),
                [&](int x, int y) { return ex.runtime_ns[x] < ex.runtime_ns[y]; });
      std::cout << target << " (" << ex.kernel->size() << " instructions, root "
                << ex.kernel->root_instruction().shape.ToString() << ")\n";
      std::cout << absl::StrFormat("%-44s %12s %12s %12s %12s\n", "config", "measured_ns",
                                   "learned_ns", "xgboost_ns", "analytical_ns");
      for (int c : order) {
        std::cout << absl::StrFormat(
            "%-44s %12s %12s %12s %12s\n", ex.config_text[c],
            ex.timed_out[c] ? std::string("timeout") : absl::StrFormat("%.0f", ex.runtime_ns[c]),
            absl::StrFormat("%.0f", learned_ns[e][c]),
            has_xgboost ? absl::StrFormat("%.0f", scores.xgboost_ns[e][c]) : std::string("n/a"),
            absl::StrFormat("%.0f", analytical_ns[e][c]));
        absl::StatusOr<tiling::TileConfig> config = tiling::TileConfig::Parse(ex.config_text[c]);
        if (!config.ok()) continue;
        absl::StatusOr<cost::CostBreakdown> b = analytical.Explain(*ex.kernel, *config);
        std::cout << "    " << (b.ok() ? b->ToString() : std::string(b.status().message())) << "\n";
      }
    }
    if (!found) {
      return absl::NotFoundError(absl::StrCat("--explain ", target,
                                              ": no held-out tile kernel of that PROGRAM/KERNEL name"));
    }
    return absl::OkStatus();
  }
  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::ordered_json j;
    j["tile"]["learned"] = nlohmann::ordered_json::parse(gnn::TileMetricsJson(l));
    if (has_xgboost) j["tile"]["xgboost"] = nlohmann::ordered_json::parse(gnn::TileMetricsJson(x));
    j["tile"]["analytical"] = nlohmann::ordered_json::parse(gnn::TileMetricsJson(a));
    j["fusion"]["learned"] = nlohmann::ordered_json::parse(gnn::FusionMetricsJson(l));
    if (has_xgboost) {
      j["fusion"]["xgboost"] = nlohmann::ordered_json::parse(gnn::FusionMetricsJson(x));
    }
    j["fusion"]["analytical"] = nlohmann::ordered_json::parse(gnn::FusionMetricsJson(a));
    j["kernels"] = l.tile_kernels + l.fusion_kernels;
    j["configs"] = l.tile_configs + l.fusion_kernels;
    j["programs"] = std::vector<std::string>(held_out.begin(), held_out.end());
    j["tile_kernels"] = l.tile_kernels;
    j["fusion_kernels"] = l.fusion_kernels;
    j["analytical_failures"] = failures;
    j["learned_model"] = learned_model != nullptr ? nlohmann::ordered_json(model_dir) : nullptr;
    j["xgboost_model"] = has_xgboost ? nlohmann::ordered_json(xgboost_dir) : nullptr;
    j["xgboost_failures"] = scores.xgboost_failures;
    if (absl::GetFlag(FLAGS_per_kernel)) j["per_kernel"] = per_kernel;
    if (absl::GetFlag(FLAGS_guard_sweep)) j["default_guard"] = guard;
    std::cout << j.dump(2) << "\n";
    return absl::OkStatus();
  }
  std::cout << "held-out programs: " << absl::StrJoin(held_out, ", ") << "\n";
  std::cout << absl::StrFormat("%d kernels, %d configs scored (%d tile kernels, %d fusion kernels)\n",
                               l.tile_kernels + l.fusion_kernels, l.tile_configs + l.fusion_kernels,
                               l.tile_kernels, l.fusion_kernels);
  auto row = [&](const char* name, const std::string& learned_figure,
                 const std::string& xgboost_figure, const std::string& analytical_figure) {
    if (has_xgboost) {
      std::cout << absl::StrFormat("%-28s %10s %10s %10s\n", name, learned_figure, xgboost_figure,
                                   analytical_figure);
    } else {
      std::cout << absl::StrFormat("%-28s %10s %10s\n", name, learned_figure, analytical_figure);
    }
  };
  row("", "learned", "xgboost", "analytical");
  if (l.tile_kernels > 0) {
    row("tile top-1 slowdown", Percent(l.tile_top1_slowdown), Percent(x.tile_top1_slowdown),
        Percent(a.tile_top1_slowdown));
    row("tile top-5 slowdown", Percent(l.tile_top5_slowdown), Percent(x.tile_top5_slowdown),
        Percent(a.tile_top5_slowdown));
    row("tile Kendall tau", Number(l.tile_kendall_tau), Number(x.tile_kendall_tau),
        Number(a.tile_kendall_tau));
  }
  if (l.fusion_kernels > 0) {
    row("fusion MAPE", Percent(l.fusion_mape), Percent(x.fusion_mape), Percent(a.fusion_mape));
    row(absl::StrFormat("fusion MAPE, >= 5 us (%d)", a.fusion_kernels_5us).c_str(),
        Percent(l.fusion_mape_5us), Percent(x.fusion_mape_5us), Percent(a.fusion_mape_5us));
    row("fusion Kendall tau", Number(l.fusion_kendall_tau), Number(x.fusion_kendall_tau),
        Number(a.fusion_kendall_tau));
  }
  if (failures > 0) {
    std::cout << failures << " OK configs the analytical model could not estimate were dropped\n";
  }
  if (scores.xgboost_failures > 0) {
    std::cout << scores.xgboost_failures
              << " OK configs the XGBoost model could not estimate were dropped\n";
  }
  if (absl::GetFlag(FLAGS_guard_sweep)) {
    std::cout << "\ndefault guard (choice vs tiling::Default, measured; tile kernels with a measured "
                 "default):\n";
    std::cout << absl::StrFormat("%-11s %6s %8s %8s %8s %10s %10s %10s\n", "model", "band", "kernels",
                                 "kept", "slower", "geomean", "worst", "top-1");
    for (const auto& [name, rows] : guard.items()) {
      for (const auto& r : rows) {
        std::cout << absl::StrFormat(
            "%-11s %5.0f%% %8d %8d %8d %9.3fx %9.2fx %9.1f%%\n", name, 100 * r["band"].get<double>(),
            r["kernels"].get<int>(), r["kept_default"].get<int>(),
            r["slower_than_default"].get<int>(), r["geomean_vs_default"].get<double>(),
            r["worst_vs_default"].get<double>(), 100 * r["mean_top1_slowdown"].get<double>());
      }
    }
  }
  if (absl::GetFlag(FLAGS_per_kernel)) {
    auto fig = [](const nlohmann::ordered_json& v, bool percent) {
      if (v.is_null()) return std::string("     n/a");
      return percent ? absl::StrFormat("%7.1f%%", 100 * v.get<double>())
                     : absl::StrFormat("%8.3f", v.get<double>());
    };
    std::cout << absl::StrFormat("\n%-24s %-40s %-6s %7s %10s %10s %10s %10s\n", "program", "kernel",
                                 "task", "configs", "l.tau", "a.tau", "l.err", "a.err");
    for (const auto& k : per_kernel) {
      const bool tile = k["task"] == "tile";
      const char* err = tile ? "top1_slowdown" : "mape";
      std::cout << absl::StrFormat(
          "%-24s %-40s %-6s %7d %10s %10s %10s %10s\n", k["program"].get<std::string>(),
          k["kernel"].get<std::string>(), k["task"].get<std::string>(), k["configs"].get<int>(),
          tile ? fig(k["learned"]["kendall_tau"], false) : "",
          tile ? fig(k["analytical"]["kendall_tau"], false) : "", fig(k["learned"][err], true),
          fig(k["analytical"][err], true));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int RunEval(const std::vector<std::string>& args) {
  absl::Status status = Eval(args);
  if (!status.ok()) return ReportError("eval", status);
  return kExitOk;
}

}  // namespace perfgraph::tools
