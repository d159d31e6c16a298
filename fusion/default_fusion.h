// XLA-like default fusion: turns a Program into fused Kernels.
//
// The pass visits instructions in reverse topological order (consumers before producers), as XLA's
// InstructionFusion does, and decides for each producer whether it joins the kernels of *all* its
// consumers (fusion is all-or-nothing per producer: either every user reads it fused, or it is
// materialised as the root of its own kernel).
//
// Legality (checked by DefaultFusion before asking should_fuse; what the Halide CPU target can
// compile as one kernel):
//  - parameters and constants are never fused as producers; non-splat constants and parameters become
//    kernel parameters, splat constants are copied into every kernel that reads them;
//  - custom-call, gather, scatter, sort, rng, send/recv, infeed/outfeed, collectives (all-reduce,
//    all-gather, reduce-scatter, all-to-all, collective-permute) and the ops that are no kernel
//    work (graph::IsKernelWork: tuple, get-tuple-element, opt-barrier, while, conditional, call,
//    ...) are never fused as producers;
//  - collectives and ops that are no kernel work absorb no producer either: a collective is a kernel
//    of its own (its cost is communication), and tuple, get-tuple-element, opt-barrier, while,
//    conditional, call, after-all, partition-id, ... form no kernel at all (they cost nothing; the
//    kernels of while / conditional bodies come from ImportedModel::called_programs). bitcast is the
//    exception: it fuses into consumers like a reshape, and a bitcast left as a root forms a kernel
//    when producers fused into it (their work); a group of bitcasts alone forms none (a bitcast
//    reinterprets its operand's buffer in place: zero cost, as XLA emits no kernel for it);
//  - a producer that is a program output is materialised;
//  - the consumer kernel may not grow beyond FusionOptions::max_kernel_instructions;
//  - a kernel holds at most one "heavy" op (convolution, dot, reduce, reduce-window);
//  - a producer used by several kernels is duplicated into each of them.
// Heuristic (DefaultHeuristic; the XLA defaults the learned fusion pass is compared against):
//  - kLoop: elementwise and data-movement producers fuse into their consumers;
//  - kInput: a reduce or reduce-window absorbs its elementwise producers;
//  - kOutput: a convolution or dot fuses into its elementwise consumers (bias add, activation);
//  - only layout-like producers (reshape, bitcast, transpose, broadcast, pad, convert, copy) fuse into
//    a convolution or dot operand, so no elementwise math is recomputed per multiply-add;
//  - a producer with users in several kernels is duplicated only when it is cheap (broadcast, reshape,
//    bitcast, iota, slice, or a scalar), as XLA duplicates cheap producers;
//  - reductions, convolutions and dots are never fused into a consumer that already holds a heavy op.
#ifndef PERFGRAPH_FUSION_DEFAULT_FUSION_H_
#define PERFGRAPH_FUSION_DEFAULT_FUSION_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/ir.h"

namespace perfgraph::fusion {

// One kernel under construction that consumes a fusion candidate.
struct ConsumerKernel {
  int root = -1;                 // Program id of the kernel's root
  int num_instructions = 0;      // instructions in the kernel so far (no parameters)
  int num_heavy = 0;             // convolution, dot, reduce and reduce-window ops in it
  std::vector<int> users;        // Program ids of the producer's users inside this kernel
  // Program ids of the kernel's instructions so far (num_instructions of them, in the order they
  // joined: the root first), e.g. for BuildGroupKernel to cost the kernel with and without the
  // producer.
  std::vector<int> members;
};

// A fusion candidate: `producer` (a Program instruction id) would join every kernel in `consumers`
// (ascending root ids; more than one means the producer is duplicated).
struct FusionCandidate {
  int producer = -1;
  std::vector<ConsumerKernel> consumers;
};

struct FusionOptions {
  // Largest number of non-parameter instructions in one kernel (XLA's CPU backend uses a similar
  // limit to bound compile time; 64 keeps Halide JIT compiles under a second).
  int max_kernel_instructions = 64;
  // Called for each legal candidate; returns whether to fuse. Defaults to DefaultHeuristic. Set it to
  // randomise decisions (fusion dataset) or to ask a cost model (fusion pass).
  std::function<bool(const graph::Program&, const FusionCandidate&)> should_fuse;
  // Called, when set, for every visited instruction (not parameters or constants) that a legality
  // rule keeps out of its consumers, instead of should_fuse: the candidate as it stands (its consumer
  // kernels, possibly none) and the rule, in the order of the file comment: "a program output is
  // materialised as a kernel root", "no users to fuse into", "<opcode> is never fused", "the consumer
  // <name> is a <opcode>, which absorbs no producer", "the consumer kernel rooted at <name> already has N instructions (max_kernel_instructions M)", "at
  // most one heavy op per kernel: <opcode> cannot join the kernel rooted at <name>, which holds
  // <opcode> <name>". Together with should_fuse it sees every decision DefaultFusion takes, in visit
  // order (XLA's FusionDecision); fusion::FusionPass reports them.
  std::function<void(const graph::Program&, const FusionCandidate&, const std::string& rule)>
      on_illegal;
};

// Convolution, dot, reduce and reduce-window: at most one per kernel.
bool IsHeavyOp(graph::HloOpcode opcode);
// Ops never fused into a consumer (parameters and constants, custom-call, gather, scatter, sort, rng,
// cholesky, triangular-solve, fft (library calls on every XLA backend),
// send/recv, infeed/outfeed, collectives, fusion, unknown, and every op that is no kernel work except
// bitcast): each forms its own kernel, or none when it is no kernel work.
bool IsNeverFusedOp(graph::HloOpcode opcode);

// The kernel DefaultFusion materialises for a group of program instructions: `members` (Program ids
// of the non-parameter, non-constant instructions of the kernel, any order, duplicates ignored) with
// `root` (one of them) as the output. Operands from outside the group become `parameter`
// instructions in order of first use (ascending member id, then operand order), except splat
// constants (attrs.constant_value set), which are copied into the kernel after the parameters.
// origin[] maps every kernel instruction to its Program id. The fusion kind is kOutput when the group
// holds a convolution or dot, else kInput when it holds a reduce, else kCustom when it holds an op
// DefaultFusion never fuses (custom-call, gather, ...), else kLoop (DefaultFusion's rule).
// Errors (kInvalidArgument, naming `name`): empty members, a member out of range or a parameter or
// constant, `root` not among the members, or the result failing graph::Kernel::Validate.
absl::StatusOr<graph::Kernel> BuildGroupKernel(const graph::Program& program,
                                               std::vector<int> members, int root,
                                               std::string name);

// The default heuristic described above.
bool DefaultHeuristic(const graph::Program& program, const FusionCandidate& candidate);

// Fuses `program` into kernels, ordered by root id (a topological order of the kernel graph).
// Every non-parameter, non-constant instruction ends up in at least one kernel; constants that
// feed a kernel are either copied (splat) or become parameters. Kernel names are "fusion.<i>".
// Errors: kInvalidArgument when the program fails Program::Validate().
absl::StatusOr<std::vector<graph::Kernel>> DefaultFusion(const graph::Program& program,
                                                         const FusionOptions& options = {});

}  // namespace perfgraph::fusion

#endif  // PERFGRAPH_FUSION_DEFAULT_FUSION_H_
