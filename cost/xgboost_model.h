// cost::XgboostModel: the gradient-boosted baseline of the learned-model issue, AutoTVM's recipe on
// perfgraph's data: XGBoost tree ensembles over the tabular features of each (kernel, config) pair
// (cost/tabular_features.h, roofline breakdown included). The GNN has to earn its complexity against
// it. Trained by `perfgraph train --model-kind xgboost` (gnn/xgboost_train.h).
//
// Two boosters, each optional, make one estimate:
//  * the tile booster ranks the configs of one kernel. With objective rank:pairwise (XGBoost's
//    LambdaRank pairwise loss, query groups = kernels) its score s is unitless, higher = faster; with
//    reg:squarederror it regresses log(runtime / runtime of tiling::Default) directly. Training fits
//    one scale a (least squares over the training configs) so that
//        log(ns(config) / ns(default)) ~= a * (s(config) - s(default))
//    (a = 1 for reg:squarederror), which makes the scores ns again.
//  * the level booster regresses log(ns) of a kernel at its default config (reg:squarederror),
//    trained on the fusion records and on the default-config records of the tile kernels.
// Estimate of (kernel, config):
//    ns = exp(level(kernel) + a * (s(config) - s(default)))
// where level() is the level booster's prediction, or, for a model without one (trained on tile
// records alone), log of the analytical model's estimate of the default config; the tile term is 0
// for a model without a tile booster. Every estimate is at least the kernel's roofline lower bound
// (cost/roofline_bound.h) on the committed reference target, however the trees extrapolate.
//
// Model directory (written by gnn::TrainXgboost; `perfgraph train` adds split.txt, command.txt and
// metrics.json, so it is a directory of its own):
//   xgboost.json       XgboostModelInfo (format and schema versions, objective, scale, split, rounds)
//   xgboost_tile.ubj   the tile booster (XGBoost universal binary JSON), when trained
//   xgboost_level.ubj  the level booster, when trained
//   distribution.json  the training kernels' cost::TrainingDistribution (out-of-distribution flags)
#ifndef PERFGRAPH_COST_XGBOOST_MODEL_H_
#define PERFGRAPH_COST_XGBOOST_MODEL_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "cost/analytical_model.h"
#include "cost/cost_model.h"
#include "cost/training_distribution.h"
#include "cost/xgboost_booster.h"

namespace perfgraph::cost {

inline constexpr char kXgboostInfoFile[] = "xgboost.json";
inline constexpr char kXgboostTileBoosterFile[] = "xgboost_tile.ubj";
inline constexpr char kXgboostLevelBoosterFile[] = "xgboost_level.ubj";
// Version of the directory layout and xgboost.json keys above.
inline constexpr int kXgboostModelFormatVersion = 1;

// The tile booster's objectives (XGBoost names).
inline constexpr char kXgbRankPairwise[] = "rank:pairwise";
inline constexpr char kXgbSquaredError[] = "reg:squarederror";

struct XgboostModelInfo {
  int format_version = kXgboostModelFormatVersion;
  // Schema versions of the features the boosters were trained on; Load refuses other values
  // (kFailedPrecondition): graph::kFeatureSchemaVersion, tiling::kConfigFeatureSchemaVersion,
  // kTabularFeatureSchemaVersion, kNumTabularFeatures.
  int feature_schema_version = 0;
  int config_feature_schema_version = 0;
  int tabular_feature_schema_version = 0;
  int num_tabular_features = 0;
  // "" when there is no tile booster; else kXgbRankPairwise or kXgbSquaredError.
  std::string tile_objective;
  // a of the file comment (finite; any sign, negative for rank:pairwise where higher = faster).
  double tile_score_scale = 1.0;
  bool has_level = false;
  // Whether the analytical block of the tabular features is filled (false: left missing, the
  // ablation without the roofline's breakdown).
  bool analytical_features = true;
  // Threads of the analytical model that computes the analytical feature block: those the training
  // records were measured with (their machine fingerprint), so features mean the same at inference.
  int analytical_threads = 1;
  int tile_rounds = 0;   // boosting rounds kept (early stopping on the validation programs)
  int level_rounds = 0;
  std::vector<std::string> train_programs, validation_programs, test_programs;
};

// Writes model_dir/xgboost.json atomically. Errors: I/O as graph::WriteFileAtomically.
absl::Status WriteXgboostModelInfo(const std::string& model_dir, const XgboostModelInfo& info);
// Reads model_dir/xgboost.json. Errors: kNotFound when missing; kDataLoss when it is not JSON or a
// key is missing or of the wrong type (naming the file and key); kFailedPrecondition when a format or
// schema version differs from this build's (naming both values; retrain).
absl::StatusOr<XgboostModelInfo> ReadXgboostModelInfo(const std::string& model_dir);

class XgboostModel : public CostModel {
 public:
  // Loads model_dir (file comment). `num_threads` (>= 1) is XGBoost's prediction threads. Errors:
  // ReadXgboostModelInfo's; XgbBooster::Load's for a booster the info names (kNotFound, kDataLoss);
  // ReadTrainingDistribution's for a corrupt distribution.json;
  // kDataLoss when a booster's feature count is not kNumTabularFeatures or when the model has neither
  // booster; the analytical model's when it cannot be created (committed target description).
  static absl::StatusOr<std::unique_ptr<XgboostModel>> Load(const std::string& model_dir,
                                                            int num_threads = 1);
  // A model from boosters in memory (training). `info` must match them (has_level, tile_objective
  // empty exactly when `tile` is null). Errors: kInvalidArgument when it does not; the analytical
  // model's.
  static absl::StatusOr<std::unique_ptr<XgboostModel>> Create(XgboostModelInfo info,
                                                              std::optional<XgbBooster> tile,
                                                              std::optional<XgbBooster> level);

  // "xgboost".
  std::string name() const override;

  // Estimated ns of each query (file comment; CostModel contract). Per query errors: a null kernel,
  // a kernel failing graph::Kernel::Validate, a tuple-rooted kernel, or a config failing
  // tiling::Validate (kInvalidArgument naming the query index, kernel and config); XGBoost's errors
  // for that kernel's queries; kFailedPrecondition for a model without a level booster when the
  // analytical model cannot estimate the kernel's default config (naming its error).
  std::vector<absl::StatusOr<double>> EstimateNs(absl::Span<const CostQuery> queries) override;

  // Writes info and boosters to model_dir (created if missing), and the training distribution when
  // the model has one. Errors: I/O.
  absl::Status Save(const std::string& model_dir) const;

  // The training distribution's verdict on `kernel` ("" without a distribution; Load reads
  // model_dir/distribution.json when present).
  std::string OutOfDistribution(const graph::Kernel& kernel) const override;
  void set_distribution(std::optional<TrainingDistribution> d) { distribution_ = std::move(d); }

  const XgboostModelInfo& info() const { return info_; }
  // The analytical model of the feature block (analytical_threads threads).
  const AnalyticalModel& analytical() const { return *analytical_; }

 private:
  XgboostModel(XgboostModelInfo info, std::optional<XgbBooster> tile,
               std::optional<XgbBooster> level, std::unique_ptr<AnalyticalModel> analytical)
      : info_(std::move(info)),
        tile_(std::move(tile)),
        level_(std::move(level)),
        analytical_(std::move(analytical)) {}
  XgboostModelInfo info_;
  std::optional<XgbBooster> tile_;
  std::optional<XgbBooster> level_;
  std::unique_ptr<AnalyticalModel> analytical_;
  std::optional<TrainingDistribution> distribution_;
};

}  // namespace perfgraph::cost

#endif  // PERFGRAPH_COST_XGBOOST_MODEL_H_
