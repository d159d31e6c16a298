// `perfgraph inspect MODEL [--json]`: import, fuse with the default fusion (or take the file's own
// fusions), and list the kernels with their static cost.
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fusion/default_fusion.h"
#include "graph/analysis.h"
#include "graph/import.h"
#include "graph/status_macros.h"
#include "nlohmann/json.hpp"
#include "tools/cli.h"
#include "tools/report.h"


namespace perfgraph::tools {
namespace {

absl::StatusOr<nlohmann::ordered_json> InspectReport(const std::string& path,
                                                     const graph::ImportOptions& options) {
  ASSIGN_OR_RETURN(graph::ImportedModel model, graph::ImportModelFile(path, options));
  std::vector<graph::Kernel> kernels = std::move(model.prefused_kernels);
  if (kernels.empty()) {
    // The entry program, then the bodies of while loops / conditionals (HLO), each fused on its own;
    // body kernels are named "<computation>/<kernel>" as the HLO parser names prefused ones.
    std::vector<std::pair<std::string, const graph::Program*>> programs = {{"", &model.program}};
    for (const auto& [name, body] : model.called_programs) programs.push_back({name + "/", &body});
    for (const auto& [prefix, program] : programs) {
      auto fused = fusion::DefaultFusion(*program);
      if (!fused.ok()) {
        return absl::Status(fused.status().code(),
                            absl::StrCat(path, ": ", prefix, fused.status().message()));
      }
      for (graph::Kernel& kernel : *fused) {
        kernel.name = prefix + kernel.name;
        kernels.push_back(std::move(kernel));
      }
    }
  }
  nlohmann::ordered_json report;
  report["program"] = model.program.name;
  report["instructions"] = model.program.size();
  nlohmann::ordered_json called = nlohmann::ordered_json::array();
  for (const auto& [name, body] : model.called_programs) called.push_back(name);
  report["called_computations"] = std::move(called);
  nlohmann::ordered_json kernel_list = nlohmann::ordered_json::array();
  double total_flops = 0;
  int64_t total_bytes = 0;
  for (const graph::Kernel& kernel : kernels) {
    const graph::OpCost cost = graph::KernelCost(kernel);
    const int64_t bytes = cost.bytes_read + cost.bytes_written;
    total_flops += cost.flops;
    total_bytes += bytes;
    nlohmann::ordered_json entry;
    entry["name"] = kernel.name;
    entry["fusion_kind"] = std::string(graph::FusionKindName(kernel.kind));
    entry["num_nodes"] = kernel.size();
    entry["root_opcode"] = std::string(graph::HloOpcodeName(kernel.root_instruction().opcode));
    entry["output_shape"] = kernel.root_instruction().shape.ToString();
    entry["flops"] = cost.flops;
    entry["bytes"] = bytes;
    entry["transcendentals"] = cost.transcendentals;
    kernel_list.push_back(std::move(entry));
  }
  report["kernels"] = std::move(kernel_list);
  nlohmann::ordered_json unsupported = nlohmann::ordered_json::array();
  for (const graph::UnsupportedOp& op : model.unsupported_ops) {
    unsupported.push_back({{"op_type", op.op_type},
                           {"count", op.node_names.size()},
                           {"nodes", op.node_names}});
  }
  report["unsupported_ops"] = std::move(unsupported);
  report["total_flops"] = total_flops;
  report["total_bytes"] = total_bytes;
  return report;
}

void PrintTable(const nlohmann::ordered_json& report) {
  std::cout << absl::StrFormat("program %s: %d instructions, %d kernels, %.3g GFLOP, %.3g MB\n",
                               report["program"].get<std::string>(),
                               report["instructions"].get<int>(), report["kernels"].size(),
                               report["total_flops"].get<double>() / 1e9,
                               report["total_bytes"].get<double>() / 1e6);
  size_t name_width = 6;
  for (const auto& k : report["kernels"]) {
    name_width = std::max(name_width, k["name"].get<std::string>().size());
  }
  const int w = static_cast<int>(name_width);
  std::cout << absl::StrFormat("%-*s %-8s %5s %-14s %-28s %12s %12s\n", w, "kernel", "kind", "nodes",
                               "root", "output_shape", "MFLOP", "KB");
  for (const auto& k : report["kernels"]) {
    std::cout << absl::StrFormat("%-*s %-8s %5d %-14s %-28s %12.3f %12.1f\n", w,
                                 k["name"].get<std::string>(), k["fusion_kind"].get<std::string>(),
                                 k["num_nodes"].get<int>(), k["root_opcode"].get<std::string>(),
                                 k["output_shape"].get<std::string>(),
                                 k["flops"].get<double>() / 1e6, k["bytes"].get<double>() / 1e3);
  }
  for (const auto& op : report["unsupported_ops"]) {
    std::cout << absl::StrFormat("unsupported op %s x%d (kept as custom-call)\n",
                                 op["op_type"].get<std::string>(), op["count"].get<int>());
  }
}

}  // namespace

int RunInspect(const std::vector<std::string>& args) {
  return RunReportCommand(
      "inspect", args, /*many_models=*/false,
      [](const std::vector<std::string>& models, const graph::ImportOptions& import_options) {
        return InspectReport(models[0], import_options);
      },
      PrintTable);
}

}  // namespace perfgraph::tools
