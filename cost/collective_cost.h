// Cost of cross-device collectives (all-reduce, all-gather, reduce-scatter, all-to-all,
// collective-permute) with the alpha-beta model of Thakur, Rabenseifner & Gropp, "Optimization of
// Collective Communication Operations in MPICH" (IJHPCA 19(1), 2005): a message of n bytes between
// two devices takes alpha + n * beta, links are full duplex and do not contend. For each collective
// the cheapest of the paper's algorithms for its size is taken, as MPICH's selection does:
//
//   p devices per replica group, n bytes (below), alpha = InterconnectDescription::latency_ns,
//   beta = 1 / link_bandwidth_bytes_per_s:
//   all-reduce          ring (reduce-scatter + all-gather)  2 (p - 1) alpha + 2 (p - 1) / p * n beta
//                       recursive doubling                  ceil(log2 p) (alpha + n beta)
//                       Rabenseifner (p a power of two)     2 log2 p alpha + 2 (p - 1) / p * n beta
//                       n = bytes of the operand (= of the result)
//   all-gather          ring                                (p - 1) alpha + (p - 1) / p * n beta
//                       recursive doubling (p power of 2)   log2 p alpha + (p - 1) / p * n beta
//                       n = bytes of the gathered result
//   reduce-scatter      ring / recursive halving            as all-gather, n = bytes of the operand
//   all-to-all          pairwise exchange                   (p - 1) alpha + (p - 1) / p * n beta
//                       Bruck                               ceil(log2 p) (alpha + n / 2 beta)
//                       n = bytes of the operand
//   collective-permute  one send per device                 alpha + n beta, n = operand bytes
//
// The reduction arithmetic of all-reduce / reduce-scatter is not counted (it is bandwidth-bound and
// overlaps the transfers). p = 1 costs 0. -start forms cost as their synchronous op; the matching
// -done forms no kernel (graph::IsKernelWork).
#ifndef PERFGRAPH_COST_COLLECTIVE_COST_H_
#define PERFGRAPH_COST_COLLECTIVE_COST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/ir.h"

namespace perfgraph::cost {

// The interconnect between the devices a program runs on (a section of the target description).
struct InterconnectDescription {
  std::string name;  // e.g. "ethernet-100g"
  // Bandwidth of one device's link in one direction, bytes/s (> 0): 1 / beta.
  double link_bandwidth_bytes_per_s = 0;
  // Latency of one message (alpha), ns (>= 0): software and switch time per step.
  double latency_ns = 0;
  // Devices of the system: the group size of a collective whose replica_groups is empty (every
  // device takes part), >= 1.
  int64_t devices = 1;
  std::string source;  // where the values come from (datasheet, measurement, assumption)
};

// Interconnects with values from their datasheets (bandwidth) and stated latencies:
//   "ethernet-100g"   12.5 GB/s per direction (IEEE 802.3 100GBASE line rate), alpha 10 us
//                     (assumed: TCP over kernel sockets, as Gloo uses; not measured here);
//   "infiniband-ndr"  50 GB/s (400 Gb/s per port, NVIDIA ConnectX-7 datasheet), alpha 5 us
//                     (assumed: order of NCCL's network step latency);
//   "nvlink4"         450 GB/s per direction per GPU (900 GB/s bidirectional, NVIDIA H100 SXM
//                     datasheet), alpha 3.4 us (NCCL's tuning model, src/graph/tuning.cc: NVLink
//                     ring / Simple protocol per-step latency).
// devices is 8 for each (one typical node); set it for the system at hand.
std::vector<InterconnectDescription> KnownInterconnects();
// One of KnownInterconnects by name; kNotFound listing the known names.
absl::StatusOr<InterconnectDescription> KnownInterconnect(absl::string_view name);
// The interconnect of a target description that has none: "ethernet-100g" (CPU hosts).
InterconnectDescription DefaultInterconnect();

// kInvalidArgument naming the field when a value is out of range.
absl::Status ValidateInterconnect(const InterconnectDescription& interconnect);

struct CollectiveCost {
  double total_ns = 0;
  std::string algorithm;  // "ring", "recursive doubling", "Rabenseifner", "pairwise", "Bruck", ...
  int64_t group_size = 1;  // p
  int64_t bytes = 0;       // n
  std::string ToString() const;  // "ring all-reduce of 1.0 MB over 64 devices: 12.3 us"
};

// The out-of-distribution reason learned models give for a collective kernel, whose estimate they
// take from EstimateCollective instead of their own prediction.
inline constexpr char kDeferredCollective[] =
    "collective: estimated by the alpha-beta model of the interconnect (cost/collective_cost.h), "
    "not by this model";

// Whether the kernel's root is a collective (graph::IsCollective). Collective kernels hold the
// collective and its parameters only (fusion::DefaultFusion never fuses them).
bool IsCollectiveKernel(const graph::Kernel& kernel);

// The cost of the collective kernel `kernel` (IsCollectiveKernel). Errors (kInvalidArgument naming the
// kernel and the value): not a collective kernel, or a collective kernel holding other work than
// the collective and its parameters; a replica group larger than interconnect.devices is allowed
// (the program states it).
absl::StatusOr<CollectiveCost> EstimateCollective(const graph::Kernel& kernel,
                                                  const InterconnectDescription& interconnect);

}  // namespace perfgraph::cost

#endif  // PERFGRAPH_COST_COLLECTIVE_COST_H_
