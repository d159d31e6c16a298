#include "cost/tabular_features.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "graph/analysis.h"
#include "graph/featurize.h"
#include "graph/hlo_opcode.h"
#include "graph/shape.h"

namespace perfgraph::cost {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

float Log1p(double x) { return static_cast<float>(std::log1p(std::max(0.0, x))); }

void KernelBlock(const graph::Kernel& kernel, float* out) {
  const graph::OpCost cost = graph::KernelCost(kernel);
  const graph::Instruction& root = kernel.root_instruction();
  int f = 0;
  out[f++] = Log1p(cost.flops);
  out[f++] = Log1p(cost.transcendentals);
  out[f++] = Log1p(static_cast<double>(cost.bytes_read));
  out[f++] = Log1p(static_cast<double>(cost.bytes_written));
  const double bytes = static_cast<double>(cost.bytes_read + cost.bytes_written);
  out[f++] = Log1p(bytes > 0 ? cost.flops / bytes : 0.0);
  out[f++] = Log1p(kernel.size());
  out[f++] = static_cast<float>(kernel.num_parameters());
  out[f++] = static_cast<float>(static_cast<int>(root.opcode));
  out[f++] = static_cast<float>(static_cast<int>(kernel.kind));
  const std::vector<int64_t>& dims = root.shape.dims;
  out[f++] = static_cast<float>(dims.size());
  for (int i = 0; i < graph::kMaxFeatureDims; ++i) {
    const int d = static_cast<int>(dims.size()) - 1 - i;
    out[f++] = d >= 0 ? Log1p(static_cast<double>(dims[d])) : 0.0f;
  }
  out[f++] = Log1p(static_cast<double>(root.shape.IsTuple() ? 0 : root.shape.NumElements()));
  out[f++] = root.shape.IsTuple() ? 0.0f : graph::BitWidth(root.shape.element_type) / 32.0f;
  int dots = 0, convolutions = 0, reduces = 0, reduce_windows = 0;
  for (const graph::Instruction& inst : kernel.instructions) {
    dots += inst.opcode == graph::HloOpcode::kDot;
    convolutions += inst.opcode == graph::HloOpcode::kConvolution;
    reduces += inst.opcode == graph::HloOpcode::kReduce;
    reduce_windows += inst.opcode == graph::HloOpcode::kReduceWindow;
  }
  out[f++] = dots;
  out[f++] = convolutions;
  out[f++] = reduces;
  out[f++] = reduce_windows;
  const int reduction = tiling::PrimaryReduction(kernel);
  out[f++] = reduction >= 0
                 ? Log1p(static_cast<double>(tiling::SplitReductionExtent(kernel, reduction)))
                 : 0.0f;
}

void AnalyticalBlock(const CostBreakdown& b, double default_total_ns, float* out) {
  int f = 0;
  out[f++] = Log1p(b.total_ns);
  out[f++] = Log1p(b.compute_ns);
  out[f++] = Log1p(b.memory_ns);
  out[f++] = Log1p(b.launch_ns + b.tile_overhead_ns + b.parallel_launch_ns);
  out[f++] = Log1p(b.reduction_ns);
  out[f++] = Log1p(b.output_stage_ns);
  out[f++] = static_cast<float>(b.vector_efficiency);
  out[f++] = static_cast<float>(b.parallel_speedup);
  out[f++] = static_cast<float>(b.recompute_factor);
  out[f++] = Log1p(b.tile_working_set_bytes);
  out[f++] = static_cast<float>(static_cast<int>(b.tile_working_set_level));
  out[f++] = Log1p(b.bytes_served[kL2]);
  out[f++] = Log1p(b.bytes_served[kL3]);
  out[f++] = Log1p(b.bytes_served[kDram]);
  out[f++] = (b.total_ns > 0 && default_total_ns > 0)
                 ? static_cast<float>(std::log(b.total_ns) - std::log(default_total_ns))
                 : kMissing;
}

std::vector<std::string> AnalyticalNames() {
  return {"log_total_ns",       "log_compute_ns",         "log_memory_ns",
          "log_overhead_ns",    "log_reduction_ns",       "log_output_stage_ns",
          "vector_efficiency",  "parallel_speedup",       "recompute_factor",
          "log_tile_working_set_bytes", "tile_working_set_level", "log_bytes_l2",
          "log_bytes_l3",       "log_bytes_dram",         "log_total_vs_default"};
}

// The breakdowns of tiling::Default(kernel) (first) and of every config, in one ExplainAll.
std::vector<absl::StatusOr<CostBreakdown>> ExplainWithDefault(
    const graph::Kernel& kernel, absl::Span<const tiling::TileConfig> configs,
    const AnalyticalModel& analytical) {
  std::vector<tiling::TileConfig> all;
  all.reserve(configs.size() + 1);
  all.push_back(tiling::Default(kernel));
  all.insert(all.end(), configs.begin(), configs.end());
  return analytical.ExplainAll(kernel, all);
}

double TotalNsOrZero(const absl::StatusOr<CostBreakdown>& b) { return b.ok() ? b->total_ns : 0.0; }

}  // namespace

std::vector<std::string> HybridConfigFeatureNames() {
  std::vector<std::string> names = AnalyticalNames();
  names.push_back("analytical_missing");
  return names;
}

void AppendHybridConfigFeatures(const graph::Kernel& kernel,
                                absl::Span<const tiling::TileConfig> configs,
                                const AnalyticalModel& analytical, std::vector<float>* out) {
  const std::vector<absl::StatusOr<CostBreakdown>> breakdowns =
      ExplainWithDefault(kernel, configs, analytical);
  const double default_total_ns = TotalNsOrZero(breakdowns[0]);
  for (size_t c = 0; c < configs.size(); ++c) {
    const size_t begin = out->size();
    out->resize(begin + kNumHybridConfigFeatures, kMissing);
    float* row = out->data() + begin;
    const absl::StatusOr<CostBreakdown>& b = breakdowns[c + 1];
    if (b.ok()) AnalyticalBlock(*b, default_total_ns, row);
    bool missing = false;
    for (int f = 0; f < kNumAnalyticalTabularFeatures; ++f) {
      if (!std::isfinite(row[f])) {
        row[f] = 0.0f;
        missing = true;
      }
    }
    row[kNumAnalyticalTabularFeatures] = missing ? 1.0f : 0.0f;
  }
}

std::vector<std::string> TabularFeatureNames() {
  std::vector<std::string> names = {"log_flops",       "log_transcendentals", "log_bytes_read",
                                    "log_bytes_written", "log_arithmetic_intensity",
                                    "log_instructions", "parameters",        "root_opcode",
                                    "fusion_kind",     "root_rank"};
  for (int i = 0; i < graph::kMaxFeatureDims; ++i) {
    names.push_back("log_root_dim" + std::to_string(i));
  }
  for (const char* n : {"log_root_elements", "root_dtype_bits", "dots", "convolutions", "reduces",
                        "reduce_windows", "log_reduction_extent"}) {
    names.push_back(n);
  }
  for (const std::string& n : tiling::ConfigFeatureNames()) names.push_back(n);
  for (const std::string& n : AnalyticalNames()) names.push_back(n);
  return names;
}

void AppendTabularRows(const graph::Kernel& kernel, absl::Span<const tiling::TileConfig> configs,
                       const AnalyticalModel* analytical, std::vector<float>* out) {
  float kernel_block[kNumKernelTabularFeatures];
  KernelBlock(kernel, kernel_block);
  const std::vector<absl::StatusOr<CostBreakdown>> breakdowns =
      analytical != nullptr ? ExplainWithDefault(kernel, configs, *analytical)
                            : std::vector<absl::StatusOr<CostBreakdown>>{};
  const double default_total_ns = analytical != nullptr ? TotalNsOrZero(breakdowns[0]) : 0.0;
  for (size_t c = 0; c < configs.size(); ++c) {
    const size_t begin = out->size();
    out->resize(begin + kNumTabularFeatures, kMissing);
    float* row = out->data() + begin;
    std::copy(kernel_block, kernel_block + kNumKernelTabularFeatures, row);
    tiling::ConfigFeatures(kernel, configs[c], row + kTabularConfigBegin);
    if (analytical == nullptr) continue;
    const absl::StatusOr<CostBreakdown>& b = breakdowns[c + 1];
    if (b.ok()) AnalyticalBlock(*b, default_total_ns, row + kTabularAnalyticalBegin);
  }
}

}  // namespace perfgraph::cost
