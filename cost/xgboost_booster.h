// RAII wrappers with absl::Status errors over XGBoost's C API (Debian libxgboost-dev), the gradient-
// boosted tree library AutoTVM's cost model uses. No XGBoost header is included here: handles are
// opaque pointers, so including this header costs nothing.
//
// XGBoost reports errors by return code and XGBGetLastError(); every wrapper turns them into a
// Status naming the operation and XGBoost's message. XGBoost's own log lines go to stderr at
// warning level (verbosity 1).
#ifndef PERFGRAPH_COST_XGBOOST_BOOSTER_H_
#define PERFGRAPH_COST_XGBOOST_BOOSTER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace perfgraph::cost {

// A dense matrix with labels (and query groups for ranking objectives), XGBoost's DMatrix.
class XgbMatrix {
 public:
  // rows: [num_rows, num_features] row-major float32; NaN marks a missing value. labels: empty or
  // [num_rows]. groups: empty or the sizes of consecutive query groups (rows of one kernel for
  // rank:pairwise), summing to num_rows. Errors: kInvalidArgument for inconsistent sizes
  // (naming them); XGBoost's errors as kInternal.
  static absl::StatusOr<XgbMatrix> Create(absl::Span<const float> rows, int num_features,
                                          absl::Span<const float> labels = {},
                                          absl::Span<const unsigned> groups = {});
  XgbMatrix(XgbMatrix&& other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)), num_rows_(other.num_rows_) {}
  XgbMatrix& operator=(XgbMatrix&& other) noexcept;
  XgbMatrix(const XgbMatrix&) = delete;
  XgbMatrix& operator=(const XgbMatrix&) = delete;
  ~XgbMatrix();

  int64_t num_rows() const { return num_rows_; }
  void* handle() const { return handle_; }

 private:
  XgbMatrix() = default;
  void* handle_ = nullptr;
  int64_t num_rows_ = 0;
};

// A tree ensemble (XGBoost Booster).
class XgbBooster {
 public:
  // A new booster that trains on `train` (XGBoost caches it) with the given parameters (XGBoost
  // names and values, e.g. {"objective", "rank:pairwise"}, {"max_depth", "6"}). XGBoost checks a
  // value when it is set (a malformed value is kInvalidArgument naming the parameter) but reports a
  // misspelt name only as a warning when training starts. Other errors: kInternal.
  static absl::StatusOr<XgbBooster> Create(const XgbMatrix& train,
                                           const std::vector<std::pair<std::string, std::string>>& params);
  // Loads a booster written by Save. Errors: kNotFound when `path` does not exist, kDataLoss (naming
  // the path and XGBoost's message) when it is not a valid XGBoost model.
  static absl::StatusOr<XgbBooster> Load(const std::string& path);

  XgbBooster(XgbBooster&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  XgbBooster& operator=(XgbBooster&& other) noexcept;
  XgbBooster(const XgbBooster&) = delete;
  XgbBooster& operator=(const XgbBooster&) = delete;
  ~XgbBooster();

  // Sets one parameter (e.g. "nthread"). Errors: kInvalidArgument naming it and XGBoost's message.
  absl::Status SetParam(const std::string& name, const std::string& value);
  // One boosting round (iteration `iteration`, 0-based) on `train`. Errors: kInternal.
  absl::Status UpdateOneIter(int iteration, const XgbMatrix& train);
  // Raw predictions (the margin: for rank:pairwise a score, higher = ranked first; for
  // reg:squarederror the regression value) of every row, using the trees of rounds
  // [0, iteration_end) (0 = all). Errors: kInvalidArgument when the matrix's width differs from the
  // model's; kInternal otherwise.
  absl::StatusOr<std::vector<float>> Predict(const XgbMatrix& matrix, int iteration_end = 0) const;
  // Convenience: Predict over `rows` ([n, num_features], NaN = missing).
  absl::StatusOr<std::vector<float>> PredictRows(absl::Span<const float> rows, int num_features,
                                                 int iteration_end = 0) const;
  // The first `rounds` rounds as a new booster. Errors: kOutOfRange when rounds is not in
  // [1, BoostedRounds()].
  absl::StatusOr<XgbBooster> Slice(int rounds) const;
  // Number of boosting rounds and of input features. Errors: kInternal.
  absl::StatusOr<int> BoostedRounds() const;
  absl::StatusOr<int> NumFeatures() const;
  // Writes the model to `path` atomically (a temporary file renamed over it). The format follows
  // the extension, as XGBoost decides it: ".ubj" universal binary JSON, ".json" JSON. Errors:
  // kInvalidArgument for another extension; kUnavailable when the file cannot be written.
  absl::Status Save(const std::string& path) const;

 private:
  XgbBooster() = default;
  void* handle_ = nullptr;
};

}  // namespace perfgraph::cost

#endif  // PERFGRAPH_COST_XGBOOST_BOOSTER_H_
