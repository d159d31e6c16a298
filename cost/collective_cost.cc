#include "cost/collective_cost.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "graph/hlo_opcode.h"
#include "graph/status_macros.h"

namespace perfgraph::cost {
namespace {

using graph::HloOpcode;

bool IsPowerOfTwo(int64_t p) { return p > 0 && (p & (p - 1)) == 0; }

int64_t CeilLog2(int64_t p) {
  int64_t steps = 0;
  while ((int64_t{1} << steps) < p) ++steps;
  return steps;
}

struct Candidate {
  const char* algorithm;
  double ns;
};

}  // namespace

std::vector<InterconnectDescription> KnownInterconnects() {
  return {
      {"ethernet-100g", 12.5e9, 10000, 8,
       "12.5 GB/s per direction: IEEE 802.3 100GBASE line rate; latency 10 us per step assumed "
       "(TCP over kernel sockets, as Gloo uses), not measured"},
      {"infiniband-ndr", 50e9, 5000, 8,
       "50 GB/s per direction: 400 Gb/s per port, NVIDIA ConnectX-7 datasheet; latency 5 us per "
       "step assumed (order of NCCL's network step latency), not measured"},
      {"nvlink4", 450e9, 3400, 8,
       "450 GB/s per direction per GPU: 900 GB/s bidirectional NVLink, NVIDIA H100 SXM datasheet; "
       "latency 3.4 us per step: NCCL's tuning model (src/graph/tuning.cc, NVLink ring, Simple "
       "protocol)"},
  };
}

absl::StatusOr<InterconnectDescription> KnownInterconnect(absl::string_view name) {
  std::vector<std::string> names;
  for (InterconnectDescription& known : KnownInterconnects()) {
    if (known.name == name) return known;
    names.push_back(known.name);
  }
  return absl::NotFoundError(absl::StrCat("unknown interconnect '", name, "' (known: ",
                                          absl::StrJoin(names, ", "), ")"));
}

InterconnectDescription DefaultInterconnect() { return KnownInterconnects().front(); }

absl::Status ValidateInterconnect(const InterconnectDescription& interconnect) {
  const std::string where = absl::StrCat("interconnect '", interconnect.name, "': ");
  if (!(interconnect.link_bandwidth_bytes_per_s > 0) ||
      !std::isfinite(interconnect.link_bandwidth_bytes_per_s)) {
    return absl::InvalidArgumentError(absl::StrCat(where, "link_bandwidth_bytes_per_s must be > 0, got ",
                                                   interconnect.link_bandwidth_bytes_per_s));
  }
  if (!(interconnect.latency_ns >= 0) || !std::isfinite(interconnect.latency_ns)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "latency_ns must be >= 0, got ", interconnect.latency_ns));
  }
  if (interconnect.devices < 1 || interconnect.devices > (int64_t{1} << 24)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "devices must be in [1, 2^24], got ", interconnect.devices));
  }
  return absl::OkStatus();
}

std::string CollectiveCost::ToString() const {
  return absl::StrFormat("%s of %d bytes over %d devices: %.1f us", algorithm, bytes, group_size,
                         total_ns / 1e3);
}

bool IsCollectiveKernel(const graph::Kernel& kernel) {
  return kernel.root >= 0 && kernel.root < kernel.size() &&
         graph::IsCollective(kernel.root_instruction().opcode);
}

absl::StatusOr<CollectiveCost> EstimateCollective(const graph::Kernel& kernel,
                                                  const InterconnectDescription& interconnect) {
  if (!IsCollectiveKernel(kernel)) {
    return absl::InvalidArgumentError(
        absl::StrCat("EstimateCollective: kernel '", kernel.name, "' is not rooted at a collective"));
  }
  absl::Status valid = ValidateInterconnect(interconnect);
  if (!valid.ok()) return valid;
  const graph::Instruction& root = kernel.root_instruction();
  for (const graph::Instruction& inst : kernel.instructions) {
    if (inst.id == root.id || inst.opcode == HloOpcode::kParameter) continue;
    if (inst.opcode == HloOpcode::kConstant) continue;
    return absl::InvalidArgumentError(absl::StrCat(
        "EstimateCollective: kernel '", kernel.name, "' holds '", inst.name, "' (",
        graph::HloOpcodeName(inst.opcode), ") besides its collective '", root.name,
        "': collectives are kernels of their own"));
  }
  int64_t operand_bytes = 0;
  for (int operand : root.operands) operand_bytes += kernel.instructions[operand].shape.ByteSize();
  const int64_t result_bytes = root.shape.ByteSize();
  CollectiveCost cost;
  cost.group_size =
      root.attrs.replica_group_size > 0 ? root.attrs.replica_group_size : interconnect.devices;
  const double p = static_cast<double>(cost.group_size);
  const double alpha = interconnect.latency_ns;
  const double beta = 1e9 / interconnect.link_bandwidth_bytes_per_s;  // ns per byte
  const int64_t log_p = CeilLog2(cost.group_size);
  std::vector<Candidate> candidates;
  switch (root.opcode) {
    case HloOpcode::kAllReduce:
    case HloOpcode::kAllReduceStart: {
      cost.bytes = operand_bytes;
      const double n = static_cast<double>(cost.bytes);
      candidates.push_back({"ring all-reduce", 2 * (p - 1) * alpha + 2 * (p - 1) / p * n * beta});
      candidates.push_back({"recursive-doubling all-reduce", log_p * (alpha + n * beta)});
      if (IsPowerOfTwo(cost.group_size)) {
        candidates.push_back(
            {"Rabenseifner all-reduce", 2 * log_p * alpha + 2 * (p - 1) / p * n * beta});
      }
      break;
    }
    case HloOpcode::kAllGather:
    case HloOpcode::kAllGatherStart:
    case HloOpcode::kReduceScatter: {
      const bool gather = root.opcode != HloOpcode::kReduceScatter;
      cost.bytes = gather ? result_bytes : operand_bytes;
      const double n = static_cast<double>(cost.bytes);
      candidates.push_back({gather ? "ring all-gather" : "ring reduce-scatter",
                            (p - 1) * alpha + (p - 1) / p * n * beta});
      if (IsPowerOfTwo(cost.group_size)) {
        candidates.push_back({gather ? "recursive-doubling all-gather"
                                     : "recursive-halving reduce-scatter",
                              log_p * alpha + (p - 1) / p * n * beta});
      }
      break;
    }
    case HloOpcode::kAllToAll: {
      cost.bytes = operand_bytes;
      const double n = static_cast<double>(cost.bytes);
      candidates.push_back({"pairwise all-to-all", (p - 1) * alpha + (p - 1) / p * n * beta});
      candidates.push_back({"Bruck all-to-all", log_p * (alpha + n / 2 * beta)});
      break;
    }
    case HloOpcode::kCollectivePermute:
    case HloOpcode::kCollectivePermuteStart: {
      cost.bytes = operand_bytes;
      candidates.push_back({"collective-permute", alpha + static_cast<double>(cost.bytes) * beta});
      break;
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat("EstimateCollective: kernel '", kernel.name,
                                                     "': no formula for ",
                                                     graph::HloOpcodeName(root.opcode)));
  }
  if (cost.group_size <= 1 && root.opcode != HloOpcode::kCollectivePermute &&
      root.opcode != HloOpcode::kCollectivePermuteStart) {
    cost.algorithm = "single-device (no communication)";
    cost.total_ns = 0;
    return cost;
  }
  const Candidate best = *std::min_element(
      candidates.begin(), candidates.end(),
      [](const Candidate& a, const Candidate& b) { return a.ns < b.ns; });
  cost.algorithm = best.algorithm;
  cost.total_ns = best.ns;
  return cost;
}

}  // namespace perfgraph::cost
