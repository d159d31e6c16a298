#include "cost/training_distribution.h"

#include <algorithm>
#include <type_traits>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cost/analytical_model.h"
#include "graph/analysis.h"
#include "graph/atomic_file.h"
#include "graph/hlo_opcode.h"
#include "graph/shape.h"
#include "nlohmann/json.hpp"

namespace perfgraph::cost {
namespace {

using Json = nlohmann::ordered_json;

struct KernelSummary {
  double flops = 0;
  double bytes = 0;
  int64_t instructions = 0;
};

KernelSummary Summarize(const graph::Kernel& kernel) {
  const graph::OpCost cost = graph::KernelCost(kernel);
  return {cost.flops, static_cast<double>(cost.bytes_read + cost.bytes_written),
          static_cast<int64_t>(kernel.size())};
}

// "" when value lies within [min / margin, max * margin], else the reason.
std::string Outside(double value, double min, double max, const char* unit) {
  if (value > max * kDistributionMargin) {
    return absl::StrFormat("%.3g %s is more than %gx above the trained maximum %.3g %s", value,
                           unit, kDistributionMargin, max, unit);
  }
  if (value * kDistributionMargin < min) {
    return absl::StrFormat("%.3g %s is more than %gx below the trained minimum %.3g %s", value,
                           unit, kDistributionMargin, min, unit);
  }
  return "";
}

}  // namespace

void TrainingDistribution::Add(const graph::Kernel& kernel) {
  const KernelSummary s = Summarize(kernel);
  if (kernels == 0) {
    min_flops = max_flops = s.flops;
    min_bytes = max_bytes = s.bytes;
    min_instructions = max_instructions = s.instructions;
  } else {
    min_flops = std::min(min_flops, s.flops);
    max_flops = std::max(max_flops, s.flops);
    min_bytes = std::min(min_bytes, s.bytes);
    max_bytes = std::max(max_bytes, s.bytes);
    min_instructions = std::min(min_instructions, s.instructions);
    max_instructions = std::max(max_instructions, s.instructions);
  }
  ++kernels;
  for (const graph::Instruction& inst : kernel.instructions) {
    opcodes.insert(std::string(graph::HloOpcodeName(inst.opcode)));
    element_types.insert(std::string(graph::PrimitiveTypeName(inst.shape.element_type)));
  }
  fusion_kinds.insert(std::string(graph::FusionKindName(kernel.kind)));
}

std::string TrainingDistribution::OutOfDistribution(const graph::Kernel& kernel) const {
  if (kernels == 0) return "the model records no training kernel";
  for (const graph::Instruction& inst : kernel.instructions) {
    const std::string opcode(graph::HloOpcodeName(inst.opcode));
    if (!opcodes.count(opcode)) {
      return absl::StrCat("opcode '", opcode, "' was not in the training kernels");
    }
    const std::string type(graph::PrimitiveTypeName(inst.shape.element_type));
    if (!element_types.count(type)) {
      return absl::StrCat("element type '", type, "' was not in the training kernels");
    }
  }
  const std::string kind(graph::FusionKindName(kernel.kind));
  if (!fusion_kinds.count(kind)) {
    return absl::StrCat("fusion kind ", kind, " was not in the training kernels");
  }
  const KernelSummary s = Summarize(kernel);
  for (const std::string& reason :
       {Outside(s.flops, min_flops, max_flops, "FLOP"), Outside(s.bytes, min_bytes, max_bytes, "bytes"),
        Outside(static_cast<double>(s.instructions), static_cast<double>(min_instructions),
                static_cast<double>(max_instructions), "instructions")}) {
    if (!reason.empty()) return reason;
  }
  return "";
}

std::string TrainingDistributionToJson(const TrainingDistribution& d) {
  Json j;
  j["kernels"] = d.kernels;
  j["opcodes"] = d.opcodes;
  j["element_types"] = d.element_types;
  j["fusion_kinds"] = d.fusion_kinds;
  j["flops"] = {d.min_flops, d.max_flops};
  j["bytes"] = {d.min_bytes, d.max_bytes};
  j["instructions"] = {d.min_instructions, d.max_instructions};
  j["margin"] = kDistributionMargin;
  if (d.analytical_model_version > 0) j["analytical_model_version"] = d.analytical_model_version;
  if (!d.analytical_target.empty()) j["analytical_target"] = d.analytical_target;
  return j.dump(2) + "\n";
}

absl::StatusOr<TrainingDistribution> TrainingDistributionFromJson(absl::string_view text,
                                                                  absl::string_view source) {
  const Json j = Json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(absl::StrCat("'", source, "' is not JSON"));
  }
  auto bad = [&](const char* key) {
    return absl::DataLossError(
        absl::StrCat("'", source, "': '", key, "' is missing or has the wrong type"));
  };
  TrainingDistribution d;
  if (!j.contains("kernels") || !j["kernels"].is_number_integer()) return bad("kernels");
  d.kernels = j["kernels"].get<int64_t>();
  auto strings = [&](const char* key, std::set<std::string>* out) -> absl::Status {
    if (!j.contains(key) || !j[key].is_array()) return bad(key);
    for (const Json& v : j[key]) {
      if (!v.is_string()) return bad(key);
      out->insert(v.get<std::string>());
    }
    return absl::OkStatus();
  };
  auto range = [&](const char* key, auto* min, auto* max) -> absl::Status {
    if (!j.contains(key) || !j[key].is_array() || j[key].size() != 2 || !j[key][0].is_number() ||
        !j[key][1].is_number()) {
      return bad(key);
    }
    *min = j[key][0].get<std::remove_pointer_t<decltype(min)>>();
    *max = j[key][1].get<std::remove_pointer_t<decltype(max)>>();
    return absl::OkStatus();
  };
  for (absl::Status s : {strings("opcodes", &d.opcodes), strings("element_types", &d.element_types),
                         strings("fusion_kinds", &d.fusion_kinds),
                         range("flops", &d.min_flops, &d.max_flops),
                         range("bytes", &d.min_bytes, &d.max_bytes),
                         range("instructions", &d.min_instructions, &d.max_instructions)}) {
    if (!s.ok()) return s;
  }
  if (j.contains("analytical_model_version")) {
    if (!j["analytical_model_version"].is_number_integer() ||
        j["analytical_model_version"].get<int64_t>() < 1) {
      return bad("analytical_model_version");
    }
    d.analytical_model_version = j["analytical_model_version"].get<int>();
  }
  if (j.contains("analytical_target")) {
    if (!j["analytical_target"].is_string()) return bad("analytical_target");
    d.analytical_target = j["analytical_target"].get<std::string>();
  }
  return d;
}

std::string StaleAnalyticalFeatures(const std::optional<TrainingDistribution>& distribution,
                                    absl::string_view model_dir, const TargetDescription& target) {
  const int trained = distribution ? distribution->analytical_model_version : 0;
  if (trained == kAnalyticalModelVersion) {
    const std::string here = TargetDescriptionFingerprint(target);
    if (distribution->analytical_target.empty() || distribution->analytical_target == here) return "";
    return absl::StrCat(
        "the model in ", model_dir,
        " reads the analytical model's breakdown as features, computed in training with the target "
        "description of fingerprint ", distribution->analytical_target, "; it is served with ",
        DefaultTargetDescriptionPath(), " (fingerprint ", here,
        "), so its estimates are degraded until it is retrained with `perfgraph train` on that "
        "description");
  }
  return absl::StrCat(
      "the model in ", model_dir, " reads the analytical model's breakdown as features and was ",
      trained == 0 ? std::string("trained before their version was recorded")
                   : absl::StrCat("trained on version ", trained),
      "; this build computes version ", kAnalyticalModelVersion,
      " (cost::kAnalyticalModelVersion), so its estimates are degraded until it is retrained with "
      "`perfgraph train`");
}

void WarnIfStaleAnalyticalFeatures(const std::optional<TrainingDistribution>& distribution,
                                   absl::string_view model_dir, const TargetDescription& target) {
  const std::string reason = StaleAnalyticalFeatures(distribution, model_dir, target);
  if (reason.empty()) return;
  static std::mutex* mu = new std::mutex();
  static std::set<std::string>* warned = new std::set<std::string>();
  std::lock_guard<std::mutex> lock(*mu);
  if (warned->insert(reason).second) std::cerr << "perfgraph: warning: " << reason << "\n";
}

absl::Status WriteTrainingDistribution(const std::string& model_dir,
                                       const TrainingDistribution& distribution) {
  std::error_code error;
  std::filesystem::create_directories(model_dir, error);
  return graph::WriteFileAtomically(
      (std::filesystem::path(model_dir) / kTrainingDistributionFile).string(),
      TrainingDistributionToJson(distribution), "WriteTrainingDistribution");
}

absl::StatusOr<std::optional<TrainingDistribution>> ReadTrainingDistribution(
    const std::string& model_dir) {
  const std::string path = (std::filesystem::path(model_dir) / kTrainingDistributionFile).string();
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return std::optional<TrainingDistribution>();
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::DataLossError(absl::StrCat("cannot read '", path, "'"));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<TrainingDistribution> d = TrainingDistributionFromJson(text.str(), path);
  if (!d.ok()) return d.status();
  return std::optional<TrainingDistribution>(std::move(*d));
}

}  // namespace perfgraph::cost
