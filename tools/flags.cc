// The flag registry of the perfgraph programs (tools/flags.h). Help texts say what a flag means;
// tools/subcommands.cc says which subcommands accept it, and `perfgraph SUB --help` prints both.
#include "tools/flags.h"

#include "absl/flags/flag.h"
#include "cost/xgboost_model.h"
#include "gnn/train.h"
#include "gnn/xgboost_train.h"

// Shared.
ABSL_FLAG(bool, json, false, "Print machine-readable JSON instead of a table.");
ABSL_FLAG(int, threads, 0,
          "Threads the kernels run with (Halide's thread pool; cost models predict for this count); "
          "predict: worker threads; train: LibTorch / XGBoost threads. 0 = all logical cores.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of config sampling, fusion variants, input data and training.");
ABSL_FLAG(std::string, out, "", "Output file or directory.");
ABSL_FLAG(std::string, data_dir, "",
          "Directory of perfgraph's shipped files (reference target description, models/default, "
          "models/xgboost); overrides $PERFGRAPH_DATA_DIR and the installed or source tree "
          "(cost/shipped_files.h).");
ABSL_FLAG(bool, allow_unsupported, false,
          "Keep ONNX ops without a lowering as custom-call instructions instead of failing.");
ABSL_FLAG(std::string, model, "",
          "Learned model directory written by `perfgraph train` (default: the shipped "
          "models/default).");
ABSL_FLAG(std::string, xgboost_model, "",
          "Directory of the XGBoost baseline (`perfgraph train --model-kind xgboost`; default: the "
          "shipped models/xgboost).");
ABSL_FLAG(std::string, cost_model, "learned",
          "Cost model: learned (the GNN of --model) | xgboost (the gradient-boosted baseline of "
          "--xgboost-model) | analytical (the calibrated roofline).");
ABSL_FLAG(std::string, fusion, "",
          "Fusion pass: cost (fusion::FusionPass with the cost model) | default (XLA-like "
          "heuristic). Default: cost for plan, default for predict.");
ABSL_FLAG(std::vector<std::string>, dataset, {},
          "Dataset record files (comma-separated; repeatable; further positional arguments are "
          "added).");
ABSL_FLAG(std::string, split, "",
          "Split file ('train|validation|test PROGRAM' lines, data/split.h); train's default: a "
          "stable hash split by program name.");
ABSL_FLAG(std::string, task, "tile",
          "measure: tile | fusion (default tile); train: tile | fusion | both (default both).");

// plan, predict.
ABSL_FLAG(bool, measure, false,
          "Also compile and time every planned kernel on this CPU (Halide; runs perfgraph-measure).");
ABSL_FLAG(std::string, format, "csv",
          "Output format: csv | jsonl (predict); tpugraphs-tile (dataset export, its default).");

// compare.
ABSL_FLAG(int, repeats, 3,
          "Complete repetitions (every kernel re-timed in each); totals are their median.");
ABSL_FLAG(std::vector<std::string>, schedulers,
          std::vector<std::string>({"default", "analytical", "learned", "Adams2019",
                                    "Mullapudi2016", "Li2018"}),
          "Comma-separated columns: default, analytical, learned, xgboost, Adams2019, "
          "Mullapudi2016, Li2018.");

// calibrate.
ABSL_FLAG(int, measure_ms, 300,
          "Time each calibration probe is timed per pass, milliseconds (> 0), split over 10 "
          "interleaved rounds; about 30 probes.");
ABSL_FLAG(int, calibration_passes, 2,
          "Independent calibration passes (>= 1) whose per-constant values must agree within "
          "--tolerance.");
ABSL_FLAG(double, tolerance, 0.05,
          "Largest relative disagreement of a constant between calibration passes (or against "
          "--compare-to) before calibrate refuses to write its file.");
ABSL_FLAG(std::string, compare_to, "",
          "An earlier target description to compare every constant with (within --tolerance).");
ABSL_FLAG(bool, force, false, "Write the target description even when its constants disagree.");

// measure, dataset repeat.
// tune (tools/tune.cc, pipeline/tune.h).
ABSL_FLAG(std::string, strategy, "learned-online",
          "Tuning strategy: random | analytical | learned | learned-online | xgboost.");
ABSL_FLAG(std::vector<std::string>, strategies,
          std::vector<std::string>({"random", "analytical", "learned", "learned-online", "xgboost"}),
          "Replay: the strategies to benchmark (random is always included as the reference).");
ABSL_FLAG(int, budget_measurements, 0,
          "Measurements per kernel (a resumed log's included); 0 = no limit.");
ABSL_FLAG(double, budget_min, 0,
          "Minutes of tuning for the whole run, shared evenly by the kernels left (0 = no limit).");
ABSL_FLAG(int, batch, 8, "Configs measured per round of the tuning loop.");
ABSL_FLAG(std::string, replay, "",
          "Replay benchmark: answer measurements from this dataset instead of the hardware.");
ABSL_FLAG(int, seeds, 10, "Replay: seeds per strategy and kernel.");
ABSL_FLAG(double, exploration, 0.0,
          "Fraction of each batch drawn at random from the predicted-valid configs (epsilon-greedy).");
ABSL_FLAG(bool, validity, true,
          "Measure configs the validity classifier predicts to be invalid or to time out only "
          "after every other one; replay: run every strategy with and without it.");
ABSL_FLAG(double, validity_threshold, 0.3,
          "P(invalid or timeout) above which the validity classifier predicts a config invalid.");
ABSL_FLAG(std::string, validity_model, "",
          "Directory of the validity classifier (default: the shipped models/validity).");
ABSL_FLAG(bool, train_validity, false,
          "tune: train the validity classifier on the train programs of --dataset / --split and "
          "write it to --out.");
ABSL_FLAG(std::string, measure_command, "",
          "Measure with this shell command instead of Halide: config text on stdin, runtime in ns "
          "on stdout, exit status 124 = timeout, other non-zero = invalid.");
ABSL_FLAG(std::string, tuning_log, "",
          "compare: the tuning log (`perfgraph tune --out`) whose best configs the tuned column uses.");

ABSL_FLAG(std::vector<std::string>, corpus, {},
          "Model files or directories (comma-separated; further PATH arguments are added).");
ABSL_FLAG(int, configs_per_kernel, 24, "Configs measured per kernel (tile task), default included.");
ABSL_FLAG(int, fusion_variants, 8, "Fusion variants per program (fusion task), default included.");
ABSL_FLAG(double, flip_probability, 0.3,
          "Probability of flipping each heuristic fusion decision in a random variant.");
ABSL_FLAG(double, time_budget_min, 0, "Stop after this many minutes (0 = no budget).");
ABSL_FLAG(int, protocol, 2,
          "Measurement protocol: 2 = interleaved rounds in child processes (default), 1 = sequential.");
ABSL_FLAG(int, min_rounds, 5, "Protocol 2: rounds at least.");
ABSL_FLAG(int, max_rounds, 15, "Protocol 2: rounds at most.");
ABSL_FLAG(double, stability, 0.02,
          "Protocol 2: stop when every config's round minima have an interquartile range within "
          "this fraction of their median.");
ABSL_FLAG(bool, require_idle, false,
          "Refuse to start when other processes use more than --max-other-load cores, and measure "
          "a kernel again (after waiting for quiet) when they did during it.");
ABSL_FLAG(double, max_other_load, 0.25,
          "CPU (in cores) other processes may use before the machine counts as busy.");
ABSL_FLAG(int, compile_threads, 1,
          "Protocol 2: configs of a kernel compiled concurrently before timing (build/bench/"
          "measure_bench: no measurable gain over 1 with Halide 14).");
ABSL_FLAG(double, hang_timeout_s, 120,
          "Protocol 2: a measuring child silent for this many seconds is killed (a hang).");
ABSL_FLAG(double, max_compile_s, 300,
          "Protocol 2: compiling one kernel's configs may take this many seconds; configs not "
          "compiled by then are recorded as invalid (\"not compiled\").");
ABSL_FLAG(std::string, shard, "",
          "K/N: measure only the kernels whose canonical hash modulo N is K (0 <= K < N), so N hosts "
          "split one corpus (identical kernels land on one shard); merge with `dataset merge`.");
ABSL_FLAG(int, max_kernels_per_program, 0,
          "Tile task: measure a seeded random subset of at most this many kernels per program (0 = "
          "all).");

// dataset repeat, merge, import.
ABSL_FLAG(int, sample, 200, "Re-measure at least this many (kernel, config) pairs.");
ABSL_FLAG(int, kernels, 0, "Re-measure at least this many kernels.");
ABSL_FLAG(int, repeat_configs_per_kernel, 0,
          "Re-measure at most this many OK configs per kernel (0 = all).");
ABSL_FLAG(std::string, hlo, "", "Directory holding the HLO text modules.");
ABSL_FLAG(std::string, runtimes, "", "CSV of measured runtimes (tools/dataset_import.h).");
ABSL_FLAG(int, train_configs_per_tile, 0,
          "dataset import --tpugraphs-tile: keep at most this many configs (a seeded uniform "
          "sample) of each tile of the train part, so that an epoch stays short; the test part "
          "keeps every config (0 = keep all).");
ABSL_FLAG(std::string, tpugraphs_tile, "",
          "dataset import: directory of TpuGraphs tile .npz files, or a TpuGraphs split root with "
          "train/ valid/ [test/] (tools/dataset_tpugraphs.h).");
ABSL_FLAG(bool, allow_mixed_machines, false,
          "Merge files measured on different machines (the result has no machine).");
ABSL_FLAG(std::string, machine, "unknown (imported)",
          "Name of the machine the runtimes were measured on.");

// eval.
ABSL_FLAG(bool, per_kernel, false, "Also report each held-out kernel's figures.");
ABSL_FLAG(std::string, split_part, "test",
          "Which part of --split FILE to score: test (default), validation (to choose settings on) "
          "or train.");
ABSL_FLAG(bool, guard_sweep, false,
          "Also replay the tiling pass's default guard at several bands on the tile kernels "
          "(gnn::ReplayDefaultGuard): how often each model's choice loses to tiling::Default.");
ABSL_FLAG(double, min_predicted_gain, -1,
          "Default guard of the tiling pass: keep tiling::Default unless the best config is "
          "predicted at least this fraction faster; < 0 = the cost model's own band "
          "(pipeline::DefaultGuardBand).");
ABSL_FLAG(std::string, plot, "",
          "eval: DIR for the pictures (scatter of predicted vs measured per task and model, "
          "per-kernel tau histogram; PNG and SVG). plan: FILE.png or FILE.svg, a per-kernel bar "
          "chart of predicted (and with --measure measured) time against the default config.");
ABSL_FLAG(std::string, explain, "",
          "PROGRAM/KERNEL: print that held-out kernel's configs with measured, learned and "
          "analytical runtimes and the analytical cost breakdown.");

// train.
ABSL_FLAG(int, epochs, 40, "Maximum number of epochs.");
ABSL_FLAG(std::string, join, "late", "Where config features join the model: early | late.");
ABSL_FLAG(std::string, reduction, "lstm",
          "Node embeddings -> graph embedding: lstm ([LSTM last state | mean], Kaufman et al.) | "
          "mean ([max | mean] pooling, no LSTM).");
ABSL_FLAG(double, rank_weight, perfgraph::gnn::TrainOptions().rank_weight,
          "Weight of the tile pairwise ranking loss (>= 0; 0 = MSE-only training).");
ABSL_FLAG(double, tile_mse_weight, perfgraph::gnn::TrainOptions().tile_mse_weight,
          "Weight of the tile squared error on standardised log runtimes (>= 0).");
ABSL_FLAG(double, fusion_mse_weight, perfgraph::gnn::TrainOptions().fusion_mse_weight,
          "Weight of the fusion squared error on standardised log runtimes (> 0 when fusion "
          "kernels are trained).");
ABSL_FLAG(bool, resume, false, "Continue the interrupted run in --out (same options).");
ABSL_FLAG(int, hidden, 64, "Hidden width of the GNN.");
ABSL_FLAG(int, opcode_embedding, 64, "Opcode embedding width.");
ABSL_FLAG(int, sage_layers, 3, "Number of GraphSAGE layers.");
ABSL_FLAG(int, batch_kernels, 16, "Kernels per batch.");
ABSL_FLAG(double, learning_rate, 1e-3, "Adam's initial learning rate (cosine decay).");
ABSL_FLAG(std::string, model_kind, "gnn",
          "gnn (GraphSAGE + LSTM, LibTorch) | xgboost (the gradient-boosted baseline, "
          "cost/xgboost_model.h).");
ABSL_FLAG(std::string, xgb_tile_objective, perfgraph::cost::kXgbSquaredError,
          "--model-kind xgboost: tile booster objective, reg:squarederror (log runtime relative to "
          "the default config) | rank:pairwise.");
ABSL_FLAG(int, xgb_rounds, perfgraph::gnn::XgboostTrainOptions().max_rounds,
          "--model-kind xgboost: maximum boosting rounds per booster.");
ABSL_FLAG(int, xgb_max_depth, perfgraph::gnn::XgboostTrainOptions().max_depth,
          "--model-kind xgboost: maximum tree depth.");
ABSL_FLAG(double, xgb_eta, perfgraph::gnn::XgboostTrainOptions().eta,
          "--model-kind xgboost: learning rate (shrinkage).");
ABSL_FLAG(bool, xgb_analytical_features, true,
          "--model-kind xgboost: give the trees the roofline's cost breakdown as features "
          "(--noxgb-analytical-features: the ablation without them).");
ABSL_FLAG(std::string, rank_loss, "pairwise",
          "train (GNN): the tile task's ranking loss, pairwise (logistic over config pairs) or "
          "listmle (Plackett-Luce likelihood of each kernel's measured order).");
ABSL_FLAG(bool, hybrid_features, true,
          "train (GNN): append the roofline's cost breakdown of every (kernel, config) to its config "
          "features, computed at the threads the first dataset was measured with "
          "(--nohybrid-features: the ablation without them).");
ABSL_FLAG(int, patience, 10, "Early stopping after this many epochs without improvement.");
ABSL_FLAG(std::string, select_by, "loss",
          "train (GNN): what chooses the best epoch (saved as model.pgm; --patience counts from "
          "it): loss (the validation loss) or tile-tau (the validation tile Kendall's tau).");
ABSL_FLAG(int, max_epochs_this_run, 0,
          "train: stop after this many epochs in this call (0 = no limit), leaving a state that "
          "--resume continues exactly (time-sliced training).");
ABSL_FLAG(bool, distributed, false,
          "train: data-parallel over processes and hosts (c10d / Gloo); reads RANK, WORLD_SIZE, "
          "MASTER_ADDR, MASTER_PORT (as torchrun sets them) and GLOO_SOCKET_IFNAME.");
ABSL_FLAG(double, distributed_timeout_s, 1800,
          "train --distributed: seconds a rank waits for the others (rendezvous and every step; "
          "must exceed rank 0's validation pass).");
