// What a trained cost model saw: the opcodes, element types, fusion kinds and size ranges of its
// training kernels, written next to the model (distribution.json) by `perfgraph train` (both model
// kinds), so that `plan` and `predict` can flag a kernel the model has to extrapolate to
// (`out_of_distribution` with the reason) instead of presenting its estimate as trusted.
//
// A kernel is out of distribution when it holds an opcode, an element type or a fusion kind that no
// training kernel had, or when its FLOPs, bytes (graph::KernelCost: read + written) or instruction
// count lie more than kDistributionMargin times outside the trained range. The margin is a choice,
// not a measurement: sizes within a factor of 2 of the trained ones are interpolation-like for
// log-scaled features; anything further is extrapolation.
#ifndef PERFGRAPH_COST_TRAINING_DISTRIBUTION_H_
#define PERFGRAPH_COST_TRAINING_DISTRIBUTION_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cost/target_description.h"
#include "graph/ir.h"

namespace perfgraph::cost {

inline constexpr char kTrainingDistributionFile[] = "distribution.json";
inline constexpr double kDistributionMargin = 2.0;

struct TrainingDistribution {
  int64_t kernels = 0;                    // training kernels added
  std::set<std::string> opcodes;          // HLO names of every instruction's opcode
  std::set<std::string> element_types;    // names of every instruction's output element type
  std::set<std::string> fusion_kinds;     // "kLoop", ...
  // Ranges over the training kernels (valid when kernels > 0): FLOP, bytes, instructions.
  double min_flops = 0, max_flops = 0;
  double min_bytes = 0, max_bytes = 0;
  int64_t min_instructions = 0, max_instructions = 0;
  // kAnalyticalModelVersion of the build that computed the model's analytical features (hybrid GNN,
  // XGBoost); 0 = not recorded (a model without such features, or trained before the key existed).
  int analytical_model_version = 0;
  // TargetDescriptionFingerprint of the description those features were computed with (the
  // committed reference description at training time); "" = not recorded.
  std::string analytical_target;

  // Widens the distribution by one kernel (which should pass graph::Kernel::Validate).
  void Add(const graph::Kernel& kernel);
  // "" when `kernel` is inside the distribution (file comment), else the first reason found, e.g.
  // "opcode 'all-reduce' was not in the training kernels" or "4.2e+13 FLOP is more than 2x above
  // the trained maximum 3.1e+09 FLOP". Every kernel is outside an empty distribution.
  std::string OutOfDistribution(const graph::Kernel& kernel) const;
};

// JSON text of the distribution, and its inverse. Errors (naming `source` and the key): kDataLoss
// for text that is not JSON of this layout.
std::string TrainingDistributionToJson(const TrainingDistribution& distribution);
absl::StatusOr<TrainingDistribution> TrainingDistributionFromJson(absl::string_view text,
                                                                  absl::string_view source);

// model_dir/distribution.json, written atomically (graph::WriteFileAtomically's errors).
absl::Status WriteTrainingDistribution(const std::string& model_dir,
                                       const TrainingDistribution& distribution);
// Reads model_dir/distribution.json: nullopt when the file does not exist (models trained before
// the file existed), else the parsed distribution or TrainingDistributionFromJson's error.
absl::StatusOr<std::optional<TrainingDistribution>> ReadTrainingDistribution(
    const std::string& model_dir);

// "" when a model whose features include the analytical model's breakdown can trust this build's
// (its distribution records kAnalyticalModelVersion), else why not, naming `model_dir` and both
// versions: the model reads features computed by other formulas than it was trained on, and its
// estimates are degraded until it is retrained. A missing distribution counts as not recorded.
// The same when the description this build computes them with (`target`: the reference description
// the model is served with) has another fingerprint than the recorded one (a re-calibrated
// reference, or --data-dir naming another one); a model without a recorded fingerprint is only
// checked for its version.
std::string StaleAnalyticalFeatures(const std::optional<TrainingDistribution>& distribution,
                                    absl::string_view model_dir, const TargetDescription& target);
// Prints StaleAnalyticalFeatures' reason to stderr as a warning, once per distinct message.
void WarnIfStaleAnalyticalFeatures(const std::optional<TrainingDistribution>& distribution,
                                   absl::string_view model_dir, const TargetDescription& target);

}  // namespace perfgraph::cost

#endif  // PERFGRAPH_COST_TRAINING_DISTRIBUTION_H_
