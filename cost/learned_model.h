// cost::LearnedModel: the CostModel over the learned GNN, evaluated by kernels::Predictor (the
// hand-tuned CPU forward pass of gnn::Model over weights written by gnn::Export; no LibTorch).
//
// A batch is grouped by kernel: each distinct kernel is validated and featurized (graph::Featurize)
// once per EstimateNs call and all of its configs go through one Predictor::Predict call, so with a
// late-join model the graph part of the network runs once per kernel, not once per query.
//
// Ensembles: a model directory may hold an `ensemble.txt` beside its weights.pgw, naming further
// weights files (one per line, relative to the directory; '#' starts a comment), e.g. the same
// options trained with other seeds. Load then serves all of them: each query's estimate is the
// geometric mean of the members' predictions (the mean of their log runtimes, the scale the
// networks are trained on), before the lower bound below. Members must read the same features
// (feature schema, config width, hybrid threads) as the first.
//
// Physically possible: with a lower-bound target (Load sets the committed reference description),
// every estimate is at least the kernel's roofline lower bound (cost/roofline_bound.h), however the
// network extrapolates.
//
// Collectives (kernels rooted at all-reduce, all-gather, ...; cost/collective_cost.h) are not
// predicted by the network, which was trained on single-device kernels: they get the alpha-beta
// estimate of the lower-bound target's interconnect (DefaultInterconnect without one), the same the
// analytical model gives (XgboostModel defers to its analytical model likewise). Library kernels
// (graph::IsLibraryKernel: sort, scatter, rng, fused attention, cuDNN convolutions, TopK), which no
// dataset can hold, get EstimateLibraryKernel on the lower-bound target (kFailedPrecondition without
// one); OutOfDistribution says so for both (kDeferredCollective, kDeferredLibrary). Multi-output
// kernels are predicted through their outputs (cost::EstimateMultiOutput), as in every model.
#ifndef PERFGRAPH_COST_LEARNED_MODEL_H_
#define PERFGRAPH_COST_LEARNED_MODEL_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "cost/analytical_model.h"
#include "cost/cost_model.h"
#include "cost/target_description.h"
#include "cost/training_distribution.h"
#include "kernels/predictor.h"

namespace perfgraph::cost {

// The optional ensemble file of a model directory (file comment).
inline constexpr char kEnsembleFile[] = "ensemble.txt";

class LearnedModel : public CostModel {
 public:
  // A model without a lower bound (estimates are the network's, unclamped). A hybrid predictor
  // (architecture().hybrid_threads > 0) needs InitHybrid() before EstimateNs.
  explicit LearnedModel(kernels::Predictor predictor);
  // A model whose estimates are clamped to RooflineLowerBound(bound_target, kernel).
  LearnedModel(kernels::Predictor predictor, TargetDescription bound_target);

  // For a hybrid predictor: creates the analytical model that computes the hybrid config features
  // (the committed reference description at architecture().hybrid_threads threads, as in
  // training); a no-op for other predictors. Errors: those of LoadTargetDescription and
  // AnalyticalModel::Create.
  absl::Status InitHybrid();
  // The same with the reference description already loaded (`reference` must be the committed
  // one, DefaultTargetDescriptionPath(): the hybrid features the model was trained on); Load calls
  // it with the description it loaded as the lower-bound target. Errors: those of
  // AnalyticalModel::Create.
  absl::Status InitHybrid(const TargetDescription& reference);

  // Loads the weights file at `weights_path` (kernels::Predictor::Load: its errors, e.g.
  // kFailedPrecondition for a file of another feature schema version, kDataLoss for a corrupt one;
  // kFailedPrecondition for weights of a foreign feature schema, which cannot read perfgraph
  // kernels) with the
  // committed reference target description as the lower-bound target (LoadTargetDescription's
  // errors) and the training distribution of the weights' directory when it has one
  // (ReadTrainingDistribution's errors for a corrupt one).
  // With an ensemble.txt in the weights' directory, every file it names is loaded as a further
  // member (file comment); errors name the ensemble file and the member: Predictor::Load's, and
  // kFailedPrecondition for a member that reads other features than the first, or an ensemble
  // file that names no member.
  static absl::StatusOr<LearnedModel> Load(absl::string_view weights_path);
  // Members beyond the first (predictor()); their predictions are averaged in log space with it.
  // Errors: kFailedPrecondition when `member` reads other features than predictor().
  absl::Status AddEnsembleMember(kernels::Predictor member, absl::string_view source);
  // Networks whose predictions make an estimate: 1 + the members added.
  int ensemble_size() const { return 1 + static_cast<int>(members_.size()); }

  // "learned".
  std::string name() const override;

  // Predicted runtime in ns of each query (CostModel contract). Per query errors: a null kernel, a
  // kernel failing graph::Kernel::Validate or a config failing tiling::Validate (kInvalidArgument,
  // naming the query index, the kernel and the config); errors of Predictor::Predict for that
  // kernel's queries (e.g. non-finite features; a hybrid predictor without InitHybrid() gets
  // kInvalidArgument). Other queries are unaffected. A hybrid model's config rows are
  // tiling::ConfigFeatures followed by AppendHybridConfigFeatures (cost/tabular_features.h).
  std::vector<absl::StatusOr<double>> EstimateNs(absl::Span<const CostQuery> queries) override;

  const kernels::Predictor& predictor() const { return predictor_; }
  const std::optional<TargetDescription>& bound_target() const { return bound_target_; }

  // The training distribution's verdict on `kernel` ("" without a distribution).
  std::string OutOfDistribution(const graph::Kernel& kernel) const override;
  void set_distribution(std::optional<TrainingDistribution> d) { distribution_ = std::move(d); }

 private:
  kernels::Predictor predictor_;
  std::vector<kernels::Predictor> members_;  // ensemble members beyond predictor_
  std::optional<TargetDescription> bound_target_;
  std::optional<TrainingDistribution> distribution_;
  std::shared_ptr<const AnalyticalModel> hybrid_;  // hybrid predictors only (InitHybrid)
};

}  // namespace perfgraph::cost

#endif  // PERFGRAPH_COST_LEARNED_MODEL_H_
