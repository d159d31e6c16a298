// Every flag of the `perfgraph` programs, defined once (tools/flags.cc) so that each executable
// (perfgraph, perfgraph-measure, perfgraph-train) has the same registry. Which subcommand accepts
// which flag is declared in tools/subcommands.cc; ParseCommandLine rejects the others.
#ifndef PERFGRAPH_TOOLS_FLAGS_H_
#define PERFGRAPH_TOOLS_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/declare.h"

// Shared by several subcommands.
ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(int, threads);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(std::string, data_dir);
ABSL_DECLARE_FLAG(bool, allow_unsupported);
ABSL_DECLARE_FLAG(std::string, model);
ABSL_DECLARE_FLAG(std::string, xgboost_model);
ABSL_DECLARE_FLAG(std::string, cost_model);
ABSL_DECLARE_FLAG(std::string, fusion);
ABSL_DECLARE_FLAG(std::vector<std::string>, dataset);
ABSL_DECLARE_FLAG(std::string, split);
ABSL_DECLARE_FLAG(std::string, task);

// plan, predict.
ABSL_DECLARE_FLAG(bool, measure);
ABSL_DECLARE_FLAG(std::string, format);

// compare.
ABSL_DECLARE_FLAG(int, repeats);
ABSL_DECLARE_FLAG(std::vector<std::string>, schedulers);

// calibrate.
ABSL_DECLARE_FLAG(int, measure_ms);
ABSL_DECLARE_FLAG(int, calibration_passes);
ABSL_DECLARE_FLAG(double, tolerance);
ABSL_DECLARE_FLAG(std::string, compare_to);
ABSL_DECLARE_FLAG(bool, force);

// tune.
ABSL_DECLARE_FLAG(std::string, strategy);
ABSL_DECLARE_FLAG(std::vector<std::string>, strategies);
ABSL_DECLARE_FLAG(int, budget_measurements);
ABSL_DECLARE_FLAG(double, budget_min);
ABSL_DECLARE_FLAG(int, batch);
ABSL_DECLARE_FLAG(std::string, replay);
ABSL_DECLARE_FLAG(int, seeds);
ABSL_DECLARE_FLAG(double, exploration);
ABSL_DECLARE_FLAG(bool, validity);
ABSL_DECLARE_FLAG(double, validity_threshold);
ABSL_DECLARE_FLAG(std::string, validity_model);
ABSL_DECLARE_FLAG(bool, train_validity);
ABSL_DECLARE_FLAG(std::string, measure_command);
ABSL_DECLARE_FLAG(std::string, tuning_log);

// measure and dataset repeat (the measurement protocol).
ABSL_DECLARE_FLAG(std::vector<std::string>, corpus);
ABSL_DECLARE_FLAG(int, configs_per_kernel);
ABSL_DECLARE_FLAG(int, fusion_variants);
ABSL_DECLARE_FLAG(double, flip_probability);
ABSL_DECLARE_FLAG(double, time_budget_min);
ABSL_DECLARE_FLAG(int, protocol);
ABSL_DECLARE_FLAG(int, min_rounds);
ABSL_DECLARE_FLAG(int, max_rounds);
ABSL_DECLARE_FLAG(double, stability);
ABSL_DECLARE_FLAG(bool, require_idle);
ABSL_DECLARE_FLAG(double, max_other_load);
ABSL_DECLARE_FLAG(int, compile_threads);
ABSL_DECLARE_FLAG(double, hang_timeout_s);
ABSL_DECLARE_FLAG(double, max_compile_s);
ABSL_DECLARE_FLAG(std::string, shard);
ABSL_DECLARE_FLAG(int, max_kernels_per_program);

// dataset repeat, merge, import.
ABSL_DECLARE_FLAG(int, sample);
ABSL_DECLARE_FLAG(int, kernels);
ABSL_DECLARE_FLAG(int, repeat_configs_per_kernel);
ABSL_DECLARE_FLAG(std::string, hlo);
ABSL_DECLARE_FLAG(std::string, runtimes);
ABSL_DECLARE_FLAG(std::string, tpugraphs_tile);
ABSL_DECLARE_FLAG(int, train_configs_per_tile);
ABSL_DECLARE_FLAG(bool, allow_mixed_machines);
ABSL_DECLARE_FLAG(std::string, machine);

// eval.
ABSL_DECLARE_FLAG(bool, per_kernel);
ABSL_DECLARE_FLAG(std::string, explain);
ABSL_DECLARE_FLAG(std::string, plot);
ABSL_DECLARE_FLAG(std::string, split_part);
ABSL_DECLARE_FLAG(bool, guard_sweep);
ABSL_DECLARE_FLAG(double, min_predicted_gain);

// train.
ABSL_DECLARE_FLAG(int, epochs);
ABSL_DECLARE_FLAG(std::string, join);
ABSL_DECLARE_FLAG(std::string, reduction);
ABSL_DECLARE_FLAG(double, rank_weight);
ABSL_DECLARE_FLAG(double, tile_mse_weight);
ABSL_DECLARE_FLAG(double, fusion_mse_weight);
ABSL_DECLARE_FLAG(bool, resume);
ABSL_DECLARE_FLAG(int, hidden);
ABSL_DECLARE_FLAG(int, opcode_embedding);
ABSL_DECLARE_FLAG(int, sage_layers);
ABSL_DECLARE_FLAG(int, batch_kernels);
ABSL_DECLARE_FLAG(double, learning_rate);
ABSL_DECLARE_FLAG(std::string, model_kind);
ABSL_DECLARE_FLAG(std::string, xgb_tile_objective);
ABSL_DECLARE_FLAG(int, xgb_rounds);
ABSL_DECLARE_FLAG(int, xgb_max_depth);
ABSL_DECLARE_FLAG(double, xgb_eta);
ABSL_DECLARE_FLAG(bool, xgb_analytical_features);
ABSL_DECLARE_FLAG(bool, hybrid_features);
ABSL_DECLARE_FLAG(std::string, rank_loss);
ABSL_DECLARE_FLAG(int, patience);
ABSL_DECLARE_FLAG(std::string, select_by);
ABSL_DECLARE_FLAG(int, max_epochs_this_run);
ABSL_DECLARE_FLAG(bool, distributed);
ABSL_DECLARE_FLAG(double, distributed_timeout_s);

#endif  // PERFGRAPH_TOOLS_FLAGS_H_
