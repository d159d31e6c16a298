#include "pipeline/measurement_plan.h"

#include <algorithm>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "graph/kernel_hash.h"
#include "fusion/default_fusion.h"

namespace perfgraph::pipeline {
namespace {

struct PairKey {
  uint64_t hash;
  std::string config;
  bool operator<(const PairKey& o) const {
    return hash != o.hash ? hash < o.hash : config < o.config;
  }
};

// Interleaves programs kernel by kernel (all configs of a kernel stay together).
std::vector<MeasurementWork> Interleave(std::vector<MeasurementWork> work) {
  std::vector<std::string> program_order;
  std::map<std::string, std::vector<std::vector<MeasurementWork>>> per_program;
  for (MeasurementWork& item : work) {
    auto& groups = per_program[item.program];
    if (groups.empty()) program_order.push_back(item.program);
    if (groups.empty() || groups.back().front().kernel != item.kernel ||
        groups.back().front().variant != item.variant) {
      groups.emplace_back();
    }
    groups.back().push_back(std::move(item));
  }
  std::vector<MeasurementWork> interleaved;
  interleaved.reserve(work.size());
  for (size_t round = 0; interleaved.size() < work.size(); ++round) {
    for (const std::string& program : program_order) {
      auto& groups = per_program[program];
      if (round < groups.size()) {
        for (MeasurementWork& item : groups[round]) interleaved.push_back(std::move(item));
      }
    }
  }
  return interleaved;
}

}  // namespace

absl::StatusOr<std::optional<Shard>> ParseShard(absl::string_view text) {
  if (text.empty()) return std::optional<Shard>();
  const std::vector<std::string> parts = absl::StrSplit(text, '/');
  Shard s;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &s.index) ||
      !absl::SimpleAtoi(parts[1], &s.count) || s.count < 1 || s.count > 1000000 || s.index < 0 ||
      s.index >= s.count) {
    return absl::InvalidArgumentError(
        absl::StrCat("--shard must be K/N with 0 <= K < N, got '", text, "'"));
  }
  return std::optional<Shard>(s);
}

std::vector<tiling::TileConfig> SampleConfigs(const graph::Kernel& kernel, int k, uint64_t seed) {
  tiling::TileConfig default_config = tiling::Default(kernel);
  std::vector<tiling::TileConfig> result = {default_config};
  auto space = tiling::ConfigSpace(kernel);
  if (!space.ok()) return result;
  std::vector<tiling::TileConfig> others;
  for (const auto& c : *space) {
    if (c != default_config) others.push_back(c);
  }
  std::mt19937_64 rng(seed);
  std::shuffle(others.begin(), others.end(), rng);
  for (int i = 0; i < static_cast<int>(others.size()) && static_cast<int>(result.size()) < k; ++i) {
    result.push_back(others[i]);
  }
  return result;
}

absl::StatusOr<MeasurementPlan> PlanCorpusMeasurement(const std::vector<std::string>& files,
                                                      const MeasurementPlanOptions& options,
                                                      const std::vector<data::Record>& existing) {
  if (options.configs_per_kernel < 1 || options.fusion_variants < 1) {
    return absl::InvalidArgumentError("--configs-per-kernel and --fusion-variants must be >= 1");
  }
  const bool tile_task = options.task == MeasureTask::kTile;
  const uint64_t seed = options.seed;
  const std::optional<Shard>& shard = options.shard;
  // Resume: what is already in the output file.
  const data::Record::Task task_enum =
      tile_task ? data::Record::TASK_TILE : data::Record::TASK_FUSION;
  std::set<PairKey> done;
  std::set<std::tuple<std::string, int, uint64_t>> done_fusion;
  for (const data::Record& r : existing) {
    if (r.task() != task_enum) continue;
    done.insert({r.kernel_hash(), r.config().text()});
    done_fusion.insert({r.program(), r.fusion_variant(), r.kernel_hash()});
  }

  MeasurementPlan plan;
  std::vector<MeasurementWork> work;
  std::set<PairKey> planned;
  for (const std::string& file : files) {
    auto model = graph::ImportModelFile(file, options.import_options);
    if (!model.ok()) {
      plan.skipped.push_back(std::string(model.status().message()));
      continue;
    }
    bool fused_ok = true;
    const int num_variants = tile_task ? 1 : options.fusion_variants;
    for (int variant = 0; variant < num_variants; ++variant) {
      fusion::FusionOptions fusion_options;
      if (variant > 0) {
        auto rng = std::make_shared<std::mt19937_64>(
            seed ^ (std::hash<std::string>{}(model->program.name) * 31 + variant));
        const double p = options.flip_probability;
        fusion_options.should_fuse = [rng, p](const graph::Program& program,
                                              const fusion::FusionCandidate& c) {
          bool heuristic = fusion::DefaultHeuristic(program, c);
          return std::uniform_real_distribution<double>(0, 1)(*rng) < p ? !heuristic : heuristic;
        };
      }
      std::vector<graph::Kernel> fused;
      if (!model->prefused_kernels.empty() && variant == 0) {
        fused = model->prefused_kernels;
      } else {
        auto result = fusion::DefaultFusion(model->program, fusion_options);
        if (!result.ok()) {
          plan.skipped.push_back(absl::StrCat(file, ": ", result.status().message()));
          fused_ok = false;
          break;
        }
        fused = std::move(result).value();
      }
      const int max_kernels = options.max_kernels_per_program;
      if (tile_task && max_kernels > 0 && static_cast<int>(fused.size()) > max_kernels) {
        // A seeded random subset (in program order), so every part of the network is represented.
        std::vector<int> index(fused.size());
        std::iota(index.begin(), index.end(), 0);
        std::mt19937_64 rng(seed ^ std::hash<std::string>{}(model->program.name));
        std::shuffle(index.begin(), index.end(), rng);
        index.resize(max_kernels);
        std::sort(index.begin(), index.end());
        std::vector<graph::Kernel> subset;
        for (int i : index) subset.push_back(std::move(fused[i]));
        fused = std::move(subset);
      }
      for (graph::Kernel& kernel : fused) {
        const uint64_t hash = graph::CanonicalKernelHash(kernel);
        if (shard && hash % static_cast<uint64_t>(shard->count) !=
                         static_cast<uint64_t>(shard->index)) {
          continue;  // another host's kernel
        }
        plan.kernels.push_back(std::make_unique<graph::Kernel>(std::move(kernel)));
        const graph::Kernel* k = plan.kernels.back().get();
        if (tile_task) {
          for (const tiling::TileConfig& config :
               SampleConfigs(*k, options.configs_per_kernel, seed ^ hash)) {
            PairKey key{hash, config.ToString()};
            if (done.count(key) || !planned.insert(key).second) continue;
            work.push_back({model->program.name, 0, k, hash, config, config == tiling::Default(*k)});
          }
        } else {
          if (done_fusion.count({model->program.name, variant, hash})) continue;
          done_fusion.insert({model->program.name, variant, hash});
          work.push_back({model->program.name, variant, k, hash, tiling::Default(*k), true});
        }
      }
    }
    if (fused_ok) ++plan.programs;
  }
  plan.work = Interleave(std::move(work));
  return plan;
}

}  // namespace perfgraph::pipeline
