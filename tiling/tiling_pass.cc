#include "tiling/tiling_pass.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "graph/kernel_hash.h"

namespace perfgraph::tiling {
namespace {

// The configs to score: the whole space, or Default plus a seeded sample (TilingPassOptions).
std::vector<TileConfig> SelectConfigs(const graph::Kernel& kernel, std::vector<TileConfig> space,
                                      int cap, uint64_t seed) {
  if (cap <= 0 || static_cast<int>(space.size()) <= cap) return space;
  const TileConfig default_config = Default(kernel);
  auto it = std::find(space.begin(), space.end(), default_config);
  std::vector<TileConfig> result;
  result.reserve(cap);
  if (it != space.end()) {
    result.push_back(*it);
    space.erase(it);
  }
  std::mt19937_64 rng(seed);
  // Partial Fisher-Yates: the first `need` entries become a uniform sample without replacement.
  const size_t need = std::min(space.size(), static_cast<size_t>(cap) - result.size());
  for (size_t i = 0; i < need; ++i) {
    std::uniform_int_distribution<size_t> pick(i, space.size() - 1);
    std::swap(space[i], space[pick(rng)]);
    result.push_back(space[i]);
  }
  return result;
}

}  // namespace

TilingPass::TilingPass(cost::CostModel& model, TilingPassOptions options)
    : model_(model), options_(options) {}

absl::StatusOr<KernelTiling> TilingPass::Run(const graph::Kernel& kernel) {
  if (options_.max_configs_per_kernel < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("TilingPass: max_configs_per_kernel must be >= 0, got ",
                     options_.max_configs_per_kernel));
  }
  if (!(options_.min_predicted_gain >= 0) || !std::isfinite(options_.min_predicted_gain)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TilingPass: min_predicted_gain must be a finite value >= 0, got ", options_.min_predicted_gain));
  }
  uint64_t hash = 0;
  if (options_.reuse_identical_kernels || options_.max_configs_per_kernel > 0) {
    hash = graph::CanonicalKernelHash(kernel);
  }
  if (options_.reuse_identical_kernels) {
    if (auto it = cache_.find(hash); it != cache_.end()) {
      ++cache_hits_;
      if (!it->second.ok()) {
        return absl::Status(it->second.status().code(),
                            absl::StrCat("TilingPass: kernel ", kernel.name, ": ",
                                         it->second.status().message()));
      }
      KernelTiling cached = *it->second;
      cached.from_cache = true;
      return cached;
    }
  }
  auto space = ConfigSpace(kernel);
  if (!space.ok()) {
    // An opaque library call (often tuple-shaped, e.g. a fused attention) is reported as what it
    // is, the way the cost models report it, rather than by the config space's complaint.
    if (absl::Status opaque = cost::UnknownCustomCall(kernel); !opaque.ok()) {
      return absl::Status(opaque.code(),
                          absl::StrCat("TilingPass: kernel ", kernel.name, ": ", opaque.message()));
    }
    return absl::Status(space.status().code(),
                        absl::StrCat("TilingPass: kernel ", kernel.name, ": ",
                                     space.status().message()));
  }
  const int space_size = static_cast<int>(space->size());
  const std::vector<TileConfig> configs = SelectConfigs(
      kernel, std::move(space).value(), options_.max_configs_per_kernel, options_.seed ^ hash);

  std::vector<cost::CostQuery> queries;
  queries.reserve(configs.size());
  for (const TileConfig& config : configs) queries.push_back({&kernel, config});
  queries_ += static_cast<int64_t>(queries.size());
  std::vector<absl::StatusOr<double>> estimates = model_.EstimateNs(queries);
  if (estimates.size() != queries.size()) {
    return absl::InternalError(absl::StrCat("TilingPass: kernel ", kernel.name, ": cost model '",
                                            model_.name(), "' returned ", estimates.size(),
                                            " estimates for ", queries.size(), " queries"));
  }

  KernelTiling best;
  best.configs_in_space = space_size;
  int best_index = -1;
  int default_index = -1;
  const TileConfig default_config = Default(kernel);
  absl::Status first_error;
  for (size_t i = 0; i < estimates.size(); ++i) {
    absl::Status error = estimates[i].status();
    if (error.ok() && !(std::isfinite(*estimates[i]) && *estimates[i] > 0)) {
      error = absl::InternalError(absl::StrCat("cost model '", model_.name(), "' returned ",
                                               *estimates[i], " ns for config ",
                                               configs[i].ToString()));
    }
    if (!error.ok()) {
      ++best.configs_failed;
      if (first_error.ok()) first_error = error;
      continue;
    }
    ++best.configs_scored;
    if (default_index < 0 && configs[i] == default_config) {
      default_index = static_cast<int>(i);
      best.default_predicted_ns = *estimates[i];
    }
    if (best_index < 0 || *estimates[i] < best.predicted_ns) {
      best_index = static_cast<int>(i);
      best.predicted_ns = *estimates[i];
    }
  }
  absl::StatusOr<KernelTiling> result;
  if (best_index < 0 && first_error.ok()) {
    first_error = absl::InvalidArgumentError("ConfigSpace is empty");
  }
  if (best_index < 0) {
    // Cached without the kernel name; the name is added for each caller below.
    result = absl::Status(first_error.code(),
                          absl::StrCat("no config of ", configs.size(), " could be estimated by '",
                                       model_.name(), "': ", first_error.message()));
  } else {
    if (default_index >= 0 && best_index != default_index &&
        GuardKeepsDefault(best.default_predicted_ns, best.predicted_ns, options_.min_predicted_gain)) {
      best_index = default_index;
      best.predicted_ns = best.default_predicted_ns;
      best.kept_default = true;
    }
    best.config = configs[best_index];
    result = best;
  }
  if (options_.reuse_identical_kernels) cache_.emplace(hash, result);
  if (!result.ok()) {
    return absl::Status(result.status().code(), absl::StrCat("TilingPass: kernel ", kernel.name,
                                                             ": ", result.status().message()));
  }
  return result;
}

std::vector<absl::StatusOr<KernelTiling>> TilingPass::RunAll(
    absl::Span<const graph::Kernel> kernels) {
  std::vector<absl::StatusOr<KernelTiling>> results;
  results.reserve(kernels.size());
  for (const graph::Kernel& kernel : kernels) results.push_back(Run(kernel));
  return results;
}

}  // namespace perfgraph::tiling
