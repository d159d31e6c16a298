// A lower bound on the runtime of any execution of a kernel on a target: what no schedule can beat,
// so that a learned estimate below it is physically impossible and gets clamped to it (the
// learned-model issue: "a prediction must never be faster than the roofline's lower bound").
//
// The bound counts only work every correct execution must do, whatever the schedule:
//  * compute: the FLOPs (graph::InstructionCost) of the instructions whose every output element is
//    needed: the root; an operand of a needed elementwise instruction with the same element count;
//    operand 0 of a needed reduce; both operands of a needed dot. (Other producers may be computed
//    only in part: a slice of an elementwise op computes the slice, so their FLOPs are not counted.)
//    Executed at the target's all-thread peak FLOP rate (TargetDescription::peak_flops_all) times
//    kPeakHeadroom;
//  * memory: the root's output bytes, written once, at the highest streaming bandwidth of any
//    memory level, one or all threads (inputs may be read in part, so they are not counted).
// bound = max(compute, memory). Both rates are calibrated (cost/calibrate.h); the bound is valid as
// long as the calibration does not underestimate the machine's peak (README "Roofline lower bound"
// checks every measured record of the reference datasets against it).
#ifndef PERFGRAPH_COST_ROOFLINE_BOUND_H_
#define PERFGRAPH_COST_ROOFLINE_BOUND_H_

#include "cost/target_description.h"
#include "graph/ir.h"

namespace perfgraph::cost {

// The calibrated peak is what calibrate's probes reached, which can fall short of what the best
// kernels reach: on the reference VM the probes reach 74.6 GFLOP/s (FMA chains alone 59) while a
// kernel of the v2 tile dataset ran its 101 MFLOP in 1.29 ms (78 GFLOP/s,
// transformer_encoder_d256_l2_s256/fusion.0 at tile=16,64;split=4;vec=1). The bound credits the
// machine with 1.25x the calibrated peak so that it stays a lower bound; the README's check of every
// reference record measures how much room is left.
inline constexpr double kPeakHeadroom = 1.25;

struct RooflineBound {
  double needed_flops = 0;   // FLOP every execution performs
  double output_bytes = 0;   // bytes of the root's output
  double compute_ns = 0;     // needed_flops at peak_flops_all
  double memory_ns = 0;      // output_bytes at the best bandwidth
  double bound_ns() const { return compute_ns > memory_ns ? compute_ns : memory_ns; }
};

// The bound of `kernel` (which should pass graph::Kernel::Validate; a kernel without a root or
// with operands out of range gives an all-zero bound) on `target` (ValidateTargetDescription: rates
// > 0; a rate <= 0 leaves that term 0).
RooflineBound RooflineLowerBound(const TargetDescription& target, const graph::Kernel& kernel);

}  // namespace perfgraph::cost

#endif  // PERFGRAPH_COST_ROOFLINE_BOUND_H_
