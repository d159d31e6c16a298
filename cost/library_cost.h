// Cost of library kernels (graph/library_ops.h: sort, scatter, random numbers, linear-algebra
// solvers, fused attention / cuDNN / TopK custom-calls) on a target. The target does not lower these
// ops, so no dataset holds a measured label of one and no tile config changes them; their time is a
// roofline over the work graph::LibraryOpWork counts, at a rate that depends on how the work runs:
//
//   kDense, kVector   FLOP / TargetDescription::peak_flops_all (the calibrated all-thread vector
//                     FMA peak; dense library kernels such as FlashAttention and cuDNN reach a
//                     large fraction of it, element-wise generators stream at it);
//   kScalar           FLOP / (peak_flops_1t / (2 * native_f32_lanes)): one comparison or indexed
//                     update per scalar issue slot of one thread (peak_flops_1t counts 2 FLOP per
//                     FMA lane). Assumed, not measured: data-dependent branches and gathers keep
//                     sorts and scatters off the vector units, and XLA's CPU sort and scatter
//                     loops run on one thread.
//   memory            (bytes read + bytes written) / the DRAM bandwidth of the same thread count
//                     (TargetDescription::memory[kDram]).
//
// A library op takes max(compute, memory) (a roofline: the work overlaps its data movement); the
// kernel's other instructions (elementwise producers fused with a scatter, the get-tuple-elements of
// a sort) add their graph::InstructionCost FLOP at peak_flops_all; the kernel pays
// kernel_launch_ns once. The learned models defer to this estimate for library kernels (they never
// saw one) and say so (kDeferredLibrary).
#ifndef PERFGRAPH_COST_LIBRARY_COST_H_
#define PERFGRAPH_COST_LIBRARY_COST_H_

#include <string>

#include "absl/status/statusor.h"
#include "cost/target_description.h"
#include "graph/ir.h"

namespace perfgraph::cost {

struct LibraryCost {
  double total_ns = 0;
  double compute_ns = 0;  // library ops' compute terms plus the other instructions', ns
  double memory_ns = 0;   // library ops' memory terms, ns
  double launch_ns = 0;
  double flops = 0;       // library ops' FLOP plus the other instructions'
  std::string formula;    // each library op's graph::LibraryWork::formula, "; "-separated
};

// The out-of-distribution reason learned models give for a library kernel, whose estimate they
// take from EstimateLibraryKernel instead of their own prediction.
inline constexpr char kDeferredLibrary[] =
    "library op: estimated by the analytical model's library-op formulas (cost/library_cost.h), "
    "not by this model";

// The cost of `kernel` (graph::IsLibraryKernel) on `target` (ValidateTargetDescription).
// Errors: kInvalidArgument naming the kernel when it holds no library op or fails Validate, or
// graph::LibraryOpWork's error for an op whose operands contradict it; kUnimplemented for a
// fused-attention call without its dims (counted as not estimated).
absl::StatusOr<LibraryCost> EstimateLibraryKernel(const TargetDescription& target,
                                                  const graph::Kernel& kernel);

}  // namespace perfgraph::cost

#endif  // PERFGRAPH_COST_LIBRARY_COST_H_
