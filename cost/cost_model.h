// cost::CostModel: the one interface behind every source of kernel runtimes (DESIGN.md "Data flow"):
// the analytical roofline model (cost/analytical_model.h), the learned model (later) and real
// measurements on the Halide CPU target (cost/measured_model.h).
//
// Queries are batched, as in Halide's autoscheduler CostModel (enqueue many, evaluate once): a model
// gets the whole batch at once so it can amortise work (a GNN runs one forward pass per batch; the
// measured model compiles each kernel once). Each query gets its own result: a bad (kernel, config)
// pair yields an error for that pair only and never poisons the rest of the batch.
#ifndef PERFGRAPH_COST_COST_MODEL_H_
#define PERFGRAPH_COST_COST_MODEL_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "graph/ir.h"
#include "tiling/tile_config.h"

namespace perfgraph::cost {

// One (kernel, config) pair. `kernel` is borrowed: it must stay alive until the EstimateNs call (or
// CostBatch::Evaluate) that consumes the query has returned. A null kernel is an error for that query.
struct CostQuery {
  const graph::Kernel* kernel = nullptr;
  tiling::TileConfig config;
};

class CostModel {
 public:
  virtual ~CostModel();

  // Short stable identifier of the model ("analytical", "measured", "learned"), used in reports.
  virtual std::string name() const = 0;

  // Estimated runtime of each query, in nanoseconds of wall-clock time of one kernel execution on the
  // model's target (the same quantity target::HalideCpuTarget::Time measures). The result has exactly
  // queries.size() entries, result[i] for queries[i]. A query whose kernel is null or invalid, whose
  // config fails tiling::Validate, or which the model cannot handle gets a non-OK status naming the
  // kernel, the config and the cause (kInvalidArgument for bad input, kUnimplemented for unsupported
  // ops); the other queries are unaffected.
  virtual std::vector<absl::StatusOr<double>> EstimateNs(absl::Span<const CostQuery> queries) = 0;

  // "" when the model has no reason to distrust its estimates for `kernel`; otherwise why the
  // kernel lies outside what the model was trained on (learned models that carry a training
  // distribution, cost/training_distribution.h). This default (analytical and measured models,
  // learned models without a distribution file) returns "".
  virtual std::string OutOfDistribution(const graph::Kernel& kernel) const;
};

// Convenience wrapper in the style of Halide's CostModel (enqueue, then evaluate once):
//   CostBatch batch;
//   int a = batch.Enqueue(kernel, config_a);
//   int b = batch.Enqueue(kernel, config_b);
//   std::vector<absl::StatusOr<double>> ns = batch.Evaluate(model);   // ns[a], ns[b]
// Enqueue borrows `kernel` (it must outlive Evaluate). Evaluate may be called again after more
// Enqueue calls; it always evaluates every query enqueued so far. Clear() forgets them.
class CostBatch {
 public:
  // Appends a query and returns its index into the vector Evaluate returns.
  int Enqueue(const graph::Kernel& kernel, const tiling::TileConfig& config);
  // Runs model.EstimateNs over all enqueued queries.
  std::vector<absl::StatusOr<double>> Evaluate(CostModel& model) const;
  const std::vector<CostQuery>& queries() const { return queries_; }
  int size() const { return static_cast<int>(queries_.size()); }
  void Clear() { queries_.clear(); }

 private:
  std::vector<CostQuery> queries_;
};

// kUnimplemented "unknown custom-call 'TARGET' ('NAME'): no cost formula, counted, not estimated"
// for the first custom-call of `kernel` whose target is not a known library op (graph/library_ops.h:
// fused attention, cuDNN convolutions, TopK have formulas), OK when it holds none. Every cost model
// reports opaque library calls this way; `predict` counts them per program.
absl::Status UnknownCustomCall(const graph::Kernel& kernel);

// For the EstimateNs of models that cost single-output kernels: nullopt when no query's kernel is
// multi-output (graph::IsMultiOutput; the caller goes on as usual). Otherwise every query's
// estimate, with each multi-output query expanded into its outputs (graph::OutputKernels), each at
// the query's config when it is valid for that output (outputs of the largest output's shape, as
// in a multi-output loop fusion) and at tiling::Default of the output otherwise, through
// model.EstimateNs; the multi-output estimate is the sum over its outputs, i.e. the outputs as
// separate kernels: an upper bound, since the fused kernel computes shared producers once and
// launches once. A query whose expansion fails gets that error (kInvalidArgument naming the
// kernel), and one whose output fails gets the output's error. Other queries pass through.
std::optional<std::vector<absl::StatusOr<double>>> EstimateMultiOutput(
    absl::Span<const CostQuery> queries, CostModel& model);

// The valid queries of one kernel in a batch (GroupValidQueries).
struct KernelQueries {
  const graph::Kernel* kernel = nullptr;
  std::vector<size_t> rows;  // indices into the batch, ascending
};

// The shared front half of models that predict a kernel's configs together (learned, XGBoost): the
// valid queries of `queries` grouped by kernel, in first-seen order. A query with a null kernel, a
// kernel failing graph::Kernel::Validate or `check_kernel` (when set; e.g. "its root is a tuple"),
// or a config failing tiling::Validate is left out and gets its kInvalidArgument error in
// `results[i]` ("<context>: query i has no kernel", "<context>: query i: kernel 'K' is invalid:
// ...", "<context>: query i: <validation error>"), and a kernel holding a custom-call gets
// UnknownCustomCall's kUnimplemented (a learned model must not invent the runtime of an opaque
// library call). `results` must have queries.size() entries; the entries of valid queries are not
// touched. Each kernel is validated once.
std::vector<KernelQueries> GroupValidQueries(
    absl::Span<const CostQuery> queries, absl::string_view context,
    const std::function<absl::Status(const graph::Kernel&)>& check_kernel,
    std::vector<absl::StatusOr<double>>& results);

}  // namespace perfgraph::cost

#endif  // PERFGRAPH_COST_COST_MODEL_H_
