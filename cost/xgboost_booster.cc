#include "cost/xgboost_booster.h"

#include <xgboost/c_api.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace perfgraph::cost {
namespace {

std::string LastError() {
  const char* message = XGBGetLastError();
  return message != nullptr ? std::string(message) : std::string("(no message)");
}

absl::Status Check(int code, absl::string_view what,
                   absl::StatusCode error_code = absl::StatusCode::kInternal) {
  if (code == 0) return absl::OkStatus();
  return absl::Status(error_code, absl::StrCat("XGBoost ", what, ": ", LastError()));
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// XgbMatrix

absl::StatusOr<XgbMatrix> XgbMatrix::Create(absl::Span<const float> rows, int num_features,
                                            absl::Span<const float> labels,
                                            absl::Span<const unsigned> groups) {
  if (num_features <= 0 || rows.size() % static_cast<size_t>(num_features) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("XgbMatrix: ", rows.size(),
                                                   " values are not rows of ", num_features,
                                                   " features"));
  }
  const size_t num_rows = rows.size() / static_cast<size_t>(num_features);
  if (!labels.empty() && labels.size() != num_rows) {
    return absl::InvalidArgumentError(
        absl::StrCat("XgbMatrix: ", labels.size(), " labels for ", num_rows, " rows"));
  }
  if (!groups.empty()) {
    uint64_t total = 0;
    for (unsigned g : groups) total += g;
    if (total != num_rows) {
      return absl::InvalidArgumentError(absl::StrCat("XgbMatrix: groups of ", total,
                                                     " rows in total for ", num_rows, " rows"));
    }
  }
  XgbMatrix matrix;
  matrix.num_rows_ = static_cast<int64_t>(num_rows);
  // XGBoost refuses an empty data pointer; a zero-row matrix still needs one.
  static const float kEmpty = 0.0f;
  absl::Status status = Check(
      XGDMatrixCreateFromMat(rows.empty() ? &kEmpty : rows.data(), num_rows,
                             static_cast<bst_ulong>(num_features),
                             std::numeric_limits<float>::quiet_NaN(), &matrix.handle_),
      "DMatrix creation");
  if (!status.ok()) return status;
  if (!labels.empty()) {
    status = Check(XGDMatrixSetFloatInfo(matrix.handle_, "label", labels.data(), labels.size()),
                   "setting labels");
    if (!status.ok()) return status;
  }
  if (!groups.empty()) {
    status = Check(XGDMatrixSetUIntInfo(matrix.handle_, "group", groups.data(), groups.size()),
                   "setting query groups");
    if (!status.ok()) return status;
  }
  return matrix;
}

XgbMatrix& XgbMatrix::operator=(XgbMatrix&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) XGDMatrixFree(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
    num_rows_ = other.num_rows_;
  }
  return *this;
}

XgbMatrix::~XgbMatrix() {
  if (handle_ != nullptr) XGDMatrixFree(handle_);
}

// ------------------------------------------------------------------------------------------------
// XgbBooster

absl::StatusOr<XgbBooster> XgbBooster::Create(
    const XgbMatrix& train, const std::vector<std::pair<std::string, std::string>>& params) {
  XgbBooster booster;
  void* cache[] = {train.handle()};
  absl::Status status = Check(XGBoosterCreate(cache, 1, &booster.handle_), "booster creation");
  if (!status.ok()) return status;
  status = booster.SetParam("verbosity", "1");
  if (!status.ok()) return status;
  for (const auto& [name, value] : params) {
    status = booster.SetParam(name, value);
    if (!status.ok()) return status;
  }
  return booster;
}

absl::StatusOr<XgbBooster> XgbBooster::Load(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return absl::NotFoundError(absl::StrCat("XGBoost model '", path, "' does not exist"));
  }
  XgbBooster booster;
  absl::Status status = Check(XGBoosterCreate(nullptr, 0, &booster.handle_), "booster creation");
  if (!status.ok()) return status;
  if (XGBoosterLoadModel(booster.handle_, path.c_str()) != 0) {
    return absl::DataLossError(
        absl::StrCat("'", path, "' is not a valid XGBoost model: ", LastError()));
  }
  // A loaded model must answer; a file XGBoost half-read fails here rather than at prediction.
  absl::StatusOr<int> features = booster.NumFeatures();
  if (!features.ok() || *features <= 0) {
    return absl::DataLossError(absl::StrCat("'", path, "' is not a valid XGBoost model: ",
                                            features.ok() ? "it has no input feature"
                                                          : features.status().message()));
  }
  status = booster.SetParam("verbosity", "1");
  if (!status.ok()) return status;
  return booster;
}

XgbBooster& XgbBooster::operator=(XgbBooster&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) XGBoosterFree(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

XgbBooster::~XgbBooster() {
  if (handle_ != nullptr) XGBoosterFree(handle_);
}

absl::Status XgbBooster::SetParam(const std::string& name, const std::string& value) {
  return Check(XGBoosterSetParam(handle_, name.c_str(), value.c_str()),
               absl::StrCat("parameter '", name, "' = '", value, "'"),
               absl::StatusCode::kInvalidArgument);
}

absl::Status XgbBooster::UpdateOneIter(int iteration, const XgbMatrix& train) {
  return Check(XGBoosterUpdateOneIter(handle_, iteration, train.handle()),
               absl::StrCat("boosting round ", iteration));
}

absl::StatusOr<std::vector<float>> XgbBooster::Predict(const XgbMatrix& matrix,
                                                       int iteration_end) const {
  bst_ulong columns = 0;
  absl::Status status = Check(XGDMatrixNumCol(matrix.handle(), &columns), "matrix width");
  if (!status.ok()) return status;
  absl::StatusOr<int> features = NumFeatures();
  if (!features.ok()) return features.status();
  if (static_cast<int>(columns) != *features) {
    return absl::InvalidArgumentError(absl::StrCat("XGBoost prediction: rows of ", columns,
                                                   " features for a model of ", *features));
  }
  const std::string config =
      absl::StrCat(R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": )",
                   iteration_end, R"(, "strict_shape": false})");
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* values = nullptr;
  status = Check(XGBoosterPredictFromDMatrix(handle_, matrix.handle(), config.c_str(), &shape,
                                             &dims, &values),
                 "prediction");
  if (!status.ok()) return status;
  bst_ulong count = 1;
  for (bst_ulong d = 0; d < dims; ++d) count *= shape[d];
  if (count != static_cast<bst_ulong>(matrix.num_rows())) {
    return absl::InternalError(absl::StrCat("XGBoost prediction: ", count, " outputs for ",
                                            matrix.num_rows(), " rows"));
  }
  return std::vector<float>(values, values + count);
}

absl::StatusOr<std::vector<float>> XgbBooster::PredictRows(absl::Span<const float> rows,
                                                           int num_features,
                                                           int iteration_end) const {
  absl::StatusOr<XgbMatrix> matrix = XgbMatrix::Create(rows, num_features);
  if (!matrix.ok()) return matrix.status();
  if (matrix->num_rows() == 0) return std::vector<float>();
  return Predict(*matrix, iteration_end);
}

absl::StatusOr<XgbBooster> XgbBooster::Slice(int rounds) const {
  absl::StatusOr<int> boosted = BoostedRounds();
  if (!boosted.ok()) return boosted.status();
  if (rounds < 1 || rounds > *boosted) {
    return absl::OutOfRangeError(absl::StrCat("XgbBooster::Slice: ", rounds,
                                              " rounds requested of a model of ", *boosted));
  }
  XgbBooster sliced;
  absl::Status status =
      Check(XGBoosterSlice(handle_, 0, rounds, 1, &sliced.handle_), "slicing the model");
  if (!status.ok()) return status;
  return sliced;
}

absl::StatusOr<int> XgbBooster::BoostedRounds() const {
  int rounds = 0;
  absl::Status status = Check(XGBoosterBoostedRounds(handle_, &rounds), "boosted rounds");
  if (!status.ok()) return status;
  return rounds;
}

absl::StatusOr<int> XgbBooster::NumFeatures() const {
  bst_ulong features = 0;
  absl::Status status = Check(XGBoosterGetNumFeature(handle_, &features), "feature count");
  if (!status.ok()) return status;
  return static_cast<int>(features);
}

absl::Status XgbBooster::Save(const std::string& path) const {
  std::string extension;
  if (absl::EndsWith(path, ".ubj")) {
    extension = ".ubj";
  } else if (absl::EndsWith(path, ".json")) {
    extension = ".json";
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("XgbBooster::Save: '", path, "' must end in .ubj or .json"));
  }
  // XGBoost picks the format from the extension, so the temporary file keeps it.
  const std::string temporary = absl::StrCat(path, ".tmp", extension);
  if (XGBoosterSaveModel(handle_, temporary.c_str()) != 0) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    return absl::UnavailableError(
        absl::StrCat("cannot write XGBoost model '", temporary, "': ", LastError()));
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    return absl::UnavailableError(
        absl::StrCat("cannot rename '", temporary, "' to '", path, "': ", error.message()));
  }
  return absl::OkStatus();
}

}  // namespace perfgraph::cost
