#include "cost/analytical_model.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cost/library_cost.h"
#include "graph/analysis.h"
#include "graph/hlo_opcode.h"
#include "graph/library_ops.h"
#include "graph/status_macros.h"

namespace perfgraph::cost {
namespace {

using graph::HloOpcode;
using graph::Instruction;
using graph::Kernel;
using graph::Shape;
// Extent per dim of the part of a value a loop nest touches. Inline storage: Explain builds regions
// for every instruction of every config, and heap-allocated vectors made malloc/free 40 % of a plan.
using Region = absl::InlinedVector<int64_t, 6>;

// ---- Constants that are not measured, with their sources. -------------------------------------
// Native vector ops of one transcendental evaluation. Halide lowers exp/log/tanh/... to a range
// reduction plus a polynomial of degree ~6-8 (Halide's IROperator.cc, halide_exp_f32 and friends),
// about 15-25 vector ops; we take 20.
constexpr double kTranscendentalOps = 20.0;
// Vector ops of the calibrated reduction update (TargetDescription::reduction_update_ns): broadcast
// of the scalar operand, vector load of the other operand, load and store of the accumulator. Extra
// ops of an update are charged relative to these four.
constexpr double kUpdateBaseOps = 4.0;
// A padded or base-dilated window (convolution / reduce-window) reads a copy of its input region
// made per output tile (target/halide_lowering.h, PaddedOperand), so the window taps are dense loads
// without guards and the select over clamped indices runs once per copied element: a load, a
// select and a store per vector of the copy's innermost dim (vectorised by the config's vector
// width). The earlier charge of one guard op per update (from before the target made padded
// copies) is gone. Chosen on the train and validation programs of data/reference/split.txt
// (validation Kendall's tau: guard per update 0.402; no charge 0.410; copy at 1, 3, 6, 12 ops per
// vector 0.422, 0.427, 0.426, 0.412; README, "Analytical baseline").
constexpr double kPaddedCopyOps = 3.0;
// A load with a small constant stride s (2..4) along the vector becomes s dense loads plus shuffles
// (Halide's strided-load lowering in its x86 backend): s extra ops per native vector.
constexpr int64_t kMaxShuffledStride = 4;
// A load whose lanes are not adjacent (transposed operand, large stride, reduction vectorised across
// an outer dim) is scalarised: LLVM's x86 cost model treats gathers as slow on AMD cores and on
// AVX2 targets without fast gathers, so it emits a scalar load plus an insert per lane: 2 ops per
// lane (LLVM's X86TargetTransformInfo, getGatherScatterOpCost). Chosen over the previous 1 op per
// lane (one VGATHERDPS element per cycle) on the train and validation programs of
// data/reference/split.txt: validation Kendall's tau 0.356 with 1, 0.359 with 2 and 3, 0.349 with 4
// and 6 (README, "Analytical baseline").
constexpr double kGatherOpsPerLane = 2.0;
// An integer division or remainder by a constant (a non-trivial reshape's de-linearisation,
// target/halide_lowering.cc) compiles to a multiply-high, shifts and a sign fix-up (Granlund and
// Montgomery, "Division by invariant integers using multiplication", PLDI 1994; Halide's
// IntegerDivisionTable): about 4 integer instructions, which issue at twice the FMA rate on the
// x86 cores we target, so 2 ops at the FMA rate. Measured on the 2026-12-03 Intel host: shufflenet's
// channel-shuffle convolution (9 divisions and remainders per update) ran at 3.9 ns per scalar
// update. Validation sweep of 1 / 2 / 3 / 4 / 6 / 8 ops (README, "Analytical baseline"): tile
// Kendall's tau 0.429 / 0.430 / 0.427 / 0.426 / 0.428 / 0.427; fusion MAPE >= 5 us falls from
// 57.4 % to 54.1 % across the sweep; 2 keeps the best tau.
constexpr double kDivModOps = 2.0;
// L1 set conflicts. The L1 data caches of x86 cores are virtually indexed by address bits 6-11 (a
// 4 KiB period, so that the set is known before address translation; 32 KiB 8-way on Zen, 48 KiB
// 12-way on Intel since Ice Lake: Intel's and AMD's optimisation manuals), so rows a multiple of
// 4 KiB apart share one set, rows 2 KiB apart two sets, and so on: 4096 / gcd(row bytes, 4096)
// sets. A loop walking an outer dim touches one line per iteration; when more rows are live per
// step of the loops outside it (the accumulator row of a reduction, the row of the output stage)
// than those sets' ways hold, every load misses L1 and is served by L2. Source: alexnet's dense
// layers (weights 36 and 16 KiB per row): 8-wide output tiles (8 ways) run fastest, 32-256-wide
// ones 5-17x slower ("Analytical baseline", v1 notes); shufflenet_v2_x0_5_b4's classifier (4 KiB
// rows) measured 15.0 ms where 1.9 ms was estimated. The cost of a missed lane, in ops at the FMA
// rate, was swept on validation (README): tile Kendall's tau 0.431 for 2-32 ops (0.428 without the
// term), fusion MAPE >= 5 us 54.8 / 54.8 / 55.4 % with 2 / 4 / 8.
constexpr int64_t kL1SetPeriodBytes = 4096;
constexpr double kConflictMissOpsPerLane = 4.0;
// Register-resident accumulators. The update nest is: outer accumulator dims, reduction loops, then
// the innermost accumulator dim vectorised by the config's vector width. When that innermost dim is
// only a few native vectors, LLVM fully unrolls it (constant trip count) and, the accumulator's
// address being invariant in the reduction loops, promotes it to registers (LICM scalar promotion;
// Halide marks its buffers noalias): each update is then one FMA plus one vector load of an operand
// and a share of one broadcast, with no accumulator load/store. The bound of 4 native vectors was
// chosen on the train and validation programs of data/reference/split.txt (Kendall's tau 0.39 with
// 4, 0.37 with 2, 0.28 with 8: 7 vectors of 56-wide tiles measure as slow as unpromoted updates).
constexpr int64_t kMaxPromotedVectors = 4;
// A ragged row (its width not a multiple of the vector width) is updated with a predicated vector
// for its last lanes: the target vectorises updates with TailStrategy::GuardWithIf
// (target/halide_lowering.cc), which Halide 14 lowers to masked loads and stores. A masked store
// does not forward to the next load of the same address, and the next reduction step of the row
// loads exactly that address, so every step of a ragged row waits for its store to reach L1: the
// step costs at least kMaskedTailUpdates calibrated updates (reduction_update_ns). Found on a
// [1,256,5,5] x [1280,256,1,1] convolution (efficientnet_v2_s_r160): tile 5 at vec=4 measures 8.98
// ms against 1.53 ms for tile 4 at vec=4 on the 2026-12-03 Intel host, i.e. ~5 ns per row step, 11
// of that host's updates; the labels' host measured the 5-wide default 13.0 ms. 12 was chosen on the
// train and validation programs of data/reference/split.txt (validation Kendall's tau 0.446 / 0.447
// / 0.446 and fusion MAPE >= 5 us 42.1 / 42.2 / 46.0 % with 10 / 12 / 14; README, "Analytical
// baseline").
constexpr double kMaskedTailUpdates = 12.0;
// Issue rate of a promoted update: x86 cores since Haswell/Zen 2 issue 2 vector loads and 2 FMAs
// per cycle (Agner Fog's microarchitecture guide), so one load per update runs at the calibrated
// FMA rate (peak_flops / (2 x lanes) native FMAs per second).
constexpr double kLoadsPerFma = 1.0;
// LLVM's loop vectoriser: a loop the schedule leaves scalar (vector_width 1) is still vectorised by
// LLVM at the native width (Halide keeps LLVM's loop vectoriser on) when its constant trip count
// holds at least kAutoVectorizeMinVectors native vectors. Source: measurements on the reference
// machine (resnet18's 3x3 convolution with vector_width 1 and a 32-wide tile runs at 49 GMAC/s,
// several times the scalar FMA peak); the threshold was chosen on the train and validation programs
// of data/reference/split.txt: one native vector gives Kendall's tau 0.39 there, four (LLVM's usual
// interleave count, which would make 8- and 16-wide tiles scalar) 0.31.
constexpr int64_t kAutoVectorizeMinVectors = 1;
// A loop one of whose loads would be a gather (`gathers()` is true) stays scalar: LLVM's loop
// vectoriser declines when the gathers cost more than the scalar loop (see kGatherOpsPerLane).
// Source: the v2 tile labels, where reductions along a contiguous input dim whose output row walks
// a strided dim (softmax and layer-norm statistics over the last dim) run fastest with
// vector_width 1 and 2-4x slower with explicit vectors. `gathers` walks the kernel, so it is only
// called for a scalar schedule that could be auto-vectorised.
// LLVM's vectoriser also leaves a scalar loop scalar when a load has a small constant stride along
// it (the interleaved loads Halide's own vectoriser shuffles): on an Intel AVX-512 host (Xeon, L2
// 2 MiB; 2026-12 sessions) a stride-2 1-D convolution (conv1d_speech's [1,80,200] x [256,80,11] -> [1,256,100]) with
// vector_width 1 and a 16-wide tile measured 13.8 ms, as scalar code, while its stride-1 twin
// measured 2.16 ms (auto-vectorised, like its vector_width 16 schedule at 2.43 ms) and the
// stride-2 kernel with vector_width 16 3.05 ms. On the train and validation programs of
// data/reference/split.txt (AMD EPYC labels): validation Kendall's tau 0.397 -> 0.402, top-5
// slowdown 13.4 -> 12.5 %; train tau 0.3937 -> 0.3942. (LoopGathers counts such loads.)
template <typename GathersFn>
int EffectiveVectorWidth(int config_width, int64_t inner_extent, int lanes, GathersFn gathers) {
  if (config_width > 1 || inner_extent < kAutoVectorizeMinVectors * lanes || gathers()) {
    return config_width;
  }
  return lanes;
}
// Register-resident scalar accumulators: a scalar (vector_width 1, not auto-vectorised) accumulator
// row of a constant trip count up to 16 elements is unrolled and kept in registers across the
// reduction loops like a vector row (x86-64 has 16 SSE/AVX registers), so an update costs a load
// and an add, not a load and store of the accumulator. Chosen on the train and validation programs
// of data/reference/split.txt (with 1 gather op per lane): validation tau 0.356 with 16, 0.350 with
// 8, 0.353 with 32, 0.346 with 64, 0.298 without (README, "Analytical baseline").
constexpr int64_t kMaxPromotedScalars = 16;
// Cache line size of x86 cores (Intel and AMD optimisation manuals).
constexpr double kCacheLineBytes = 64.0;
// Bytes per stored element: the target stores every float type as f32, integers up to 32 bits (and
// u4/s4) as int32, 64-bit integers as int64 and pred as uint8 (target/halide_lowering.h).
int64_t StorageBytes(graph::PrimitiveType type) {
  switch (type) {
    case graph::PrimitiveType::kPred: return 1;
    case graph::PrimitiveType::kU32: case graph::PrimitiveType::kS64: case graph::PrimitiveType::kU64:
      return 8;
    default: return 4;
  }
}

template <typename Dims>
double Product(const Dims& r) {
  double p = 1;
  for (int64_t e : r) p *= static_cast<double>(e);
  return p;
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A value the target keeps in a buffer: parameters and non-splat constants.
bool IsBuffer(const Instruction& inst) {
  return inst.opcode == HloOpcode::kParameter ||
         (inst.opcode == HloOpcode::kConstant && !inst.attrs.constant_value.has_value() &&
          inst.shape.rank() > 0);
}

// The reduction loop of a reduction instruction as the target lowers it: the RDom variables,
// innermost first, their extents and the one reduction_split splits.
struct ReductionLoops {
  bool has_loop = false;          // false: lowered without an accumulator (e.g. a dot without K)
  Region extents;                 // per RDom variable, innermost first
  int split_rvar = -1;
};

ReductionLoops LoopsOf(const Kernel& kernel, const Instruction& inst) {
  ReductionLoops loops;
  auto operand = [&](int k) -> const Shape& { return kernel.instructions[inst.operands[k]].shape; };
  switch (inst.opcode) {
    case HloOpcode::kConvolution: {
      const auto& dn = *inst.attrs.convolution_dimension_numbers;
      const int ns = static_cast<int>(dn.input_spatial_dimensions.size());
      for (int s = ns - 1; s >= 0; --s) loops.extents.push_back(inst.attrs.window[s].size);
      loops.extents.push_back(operand(1).dims[dn.kernel_input_feature_dimension]);
      loops.split_rvar = ns;
      loops.has_loop = true;
      break;
    }
    case HloOpcode::kDot: {
      const auto& dn = *inst.attrs.dot_dimension_numbers;
      const int nc = static_cast<int>(dn.lhs_contracting_dimensions.size());
      for (int j = nc - 1; j >= 0; --j) {
        loops.extents.push_back(operand(0).dims[dn.lhs_contracting_dimensions[j]]);
      }
      loops.split_rvar = nc - 1;
      loops.has_loop = nc > 0;
      break;
    }
    case HloOpcode::kReduce: {
      const Shape& in = operand(0);
      std::vector<bool> reduced(in.rank(), false);
      for (int64_t d : inst.attrs.dimensions) reduced[d] = true;
      int64_t best = 0;
      for (int d = static_cast<int>(in.rank()) - 1; d >= 0; --d) {
        if (!reduced[d]) continue;
        if (in.dims[d] > best) {
          best = in.dims[d];
          loops.split_rvar = static_cast<int>(loops.extents.size());
        }
        loops.extents.push_back(in.dims[d]);
      }
      loops.has_loop = !loops.extents.empty() && in.NumElements() > 0;
      break;
    }
    case HloOpcode::kReduceWindow: {
      int64_t best = 1;
      for (int d = static_cast<int>(inst.shape.rank()) - 1; d >= 0; --d) {
        const int64_t size = inst.attrs.window[d].size;
        if (size <= 1) continue;
        if (size > best) {
          best = size;
          loops.split_rvar = static_cast<int>(loops.extents.size());
        }
        loops.extents.push_back(size);
      }
      loops.has_loop = !loops.extents.empty();
      break;
    }
    default:
      break;
  }
  return loops;
}

// Integer divisions and remainders the target's reshape evaluates per element to de-linearise the
// flat index into the operand's dims `in` (target/halide_lowering.cc, kReshape): a remainder per
// non-unit dim but the outermost, a division per non-unit dim with a non-unit stride.
int DivModOps(const std::vector<int64_t>& in) {
  int ops = 0;
  int64_t stride = 1;
  for (int d = static_cast<int>(in.size()) - 1; d >= 0; --d) {
    if (in[d] == 1) continue;
    if (stride > 1) ++ops;
    if (d > 0) ++ops;
    stride *= in[d];
  }
  return ops;
}

// What an estimate needs of a kernel whatever its config, computed once per kernel (ExplainAll: a
// plan estimates hundreds of configs of each kernel, and recomputing these per config was a third
// of a plan's instructions). Indexed by instruction id.
struct KernelFacts {
  std::vector<ReductionLoops> loops;  // LoopsOf (no loop for non-reductions)
  std::vector<char> has_loop;         // HasLoop: a reduction lowered with an accumulator
  std::vector<graph::OpCost> costs;   // graph::KernelInstructionCosts
  int primary = -1;                   // tiling::PrimaryReduction
  // Propagate needs Halide's box view besides the elements read: a reshape or bitcast and an
  // accumulator are both present.
  bool box_view = false;
  // Convolutions and reduce-windows with a padded or base-dilated window: they read a padded copy of
  // their input made per output tile (kPaddedCopyOps).
  std::vector<int> padded_windows;
  // Per instruction: a reshape or bitcast that de-linearises its index (it does more than insert or
  // remove unit dims) does DivModOps of its operand's dims per element; -1 for every other one.
  std::vector<int> delinearise_ops;
};

KernelFacts MakeKernelFacts(const Kernel& kernel) {
  KernelFacts f;
  f.loops.reserve(kernel.size());
  f.has_loop.reserve(kernel.size());
  for (const Instruction& inst : kernel.instructions) {
    f.loops.push_back(LoopsOf(kernel, inst));
    f.has_loop.push_back(tiling::IsReductionOpcode(inst.opcode) && f.loops.back().has_loop);
  }
  f.costs = graph::KernelInstructionCosts(kernel);
  f.primary = tiling::PrimaryReduction(kernel);
  bool reshape = false, accumulator = false;
  for (int id = 0; id < kernel.size(); ++id) {
    const Instruction& inst = kernel.instructions[id];
    const HloOpcode op = inst.opcode;
    const bool is_reshape = op == HloOpcode::kReshape || op == HloOpcode::kBitcast;
    reshape = reshape || is_reshape;
    accumulator = accumulator || f.has_loop[id];
    if ((op == HloOpcode::kConvolution || op == HloOpcode::kReduceWindow) && !inst.operands.empty() &&
        std::any_of(inst.attrs.window.begin(), inst.attrs.window.end(),
                    [](const graph::WindowDimension& w) { return w.padded_or_dilated(); })) {
      f.padded_windows.push_back(id);
    }
    int divmods = -1;
    if (is_reshape && !inst.operands.empty()) {
      const std::vector<int64_t>& in = kernel.instructions[inst.operands[0]].shape.dims;
      if (!graph::SameNonUnitDims(in, inst.shape.dims)) divmods = DivModOps(in);
    }
    f.delinearise_ops.push_back(divmods);
  }
  f.box_view = reshape && accumulator;
  return f;
}

// Checks the attributes LoopsOf and OperandRegions rely on (the target checks more when compiling).
absl::Status CheckReduction(const Kernel& kernel, const Instruction& inst) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("AnalyticalModel: kernel '", kernel.name,
                                                   "' instruction '", inst.name, "' (",
                                                   graph::HloOpcodeName(inst.opcode), "): ", why));
  };
  auto operand = [&](int k) -> const Shape& { return kernel.instructions[inst.operands[k]].shape; };
  auto in_range = [](int64_t d, const Shape& s) { return d >= 0 && d < s.rank(); };
  switch (inst.opcode) {
    case HloOpcode::kConvolution: {
      if (inst.operands.size() != 2 || !inst.attrs.convolution_dimension_numbers) {
        return bad("needs 2 operands and dimension numbers");
      }
      const auto& dn = *inst.attrs.convolution_dimension_numbers;
      const size_t ns = dn.input_spatial_dimensions.size();
      const Shape& lhs = operand(0);
      const Shape& rhs = operand(1);
      bool ok = dn.kernel_spatial_dimensions.size() == ns && dn.output_spatial_dimensions.size() == ns &&
                inst.attrs.window.size() == ns && lhs.rank() == static_cast<int64_t>(ns) + 2 &&
                rhs.rank() == lhs.rank() && inst.shape.rank() == lhs.rank() &&
                in_range(dn.input_batch_dimension, lhs) && in_range(dn.input_feature_dimension, lhs) &&
                in_range(dn.kernel_input_feature_dimension, rhs) &&
                in_range(dn.kernel_output_feature_dimension, rhs) &&
                in_range(dn.output_batch_dimension, inst.shape) &&
                in_range(dn.output_feature_dimension, inst.shape) && inst.attrs.feature_group_count >= 1;
      for (size_t s = 0; ok && s < ns; ++s) {
        ok = in_range(dn.input_spatial_dimensions[s], lhs) &&
             in_range(dn.kernel_spatial_dimensions[s], rhs) &&
             in_range(dn.output_spatial_dimensions[s], inst.shape) && inst.attrs.window[s].size >= 1 &&
             inst.attrs.window[s].stride >= 1 && inst.attrs.window[s].window_dilation >= 1 &&
             inst.attrs.window[s].base_dilation >= 1;
      }
      if (!ok) return bad("dimension numbers or window do not match the operand ranks");
      return absl::OkStatus();
    }
    case HloOpcode::kDot: {
      if (inst.operands.size() != 2 || !inst.attrs.dot_dimension_numbers) {
        return bad("needs 2 operands and dimension numbers");
      }
      const auto& dn = *inst.attrs.dot_dimension_numbers;
      if (dn.lhs_batch_dimensions.size() != dn.rhs_batch_dimensions.size() ||
          dn.lhs_contracting_dimensions.size() != dn.rhs_contracting_dimensions.size()) {
        return bad("batch/contracting dimension lists differ in length");
      }
      for (int64_t d : dn.lhs_batch_dimensions) if (!in_range(d, operand(0))) return bad("lhs batch dim");
      for (int64_t d : dn.lhs_contracting_dimensions) {
        if (!in_range(d, operand(0))) return bad("lhs contracting dim out of range");
      }
      for (int64_t d : dn.rhs_batch_dimensions) if (!in_range(d, operand(1))) return bad("rhs batch dim");
      for (int64_t d : dn.rhs_contracting_dimensions) {
        if (!in_range(d, operand(1))) return bad("rhs contracting dim out of range");
      }
      const int64_t free_dims = operand(0).rank() + operand(1).rank() -
                                2 * static_cast<int64_t>(dn.lhs_contracting_dimensions.size()) -
                                static_cast<int64_t>(dn.lhs_batch_dimensions.size());
      if (free_dims != inst.shape.rank()) return bad("result rank does not match the operands");
      return absl::OkStatus();
    }
    case HloOpcode::kReduce: {
      if (inst.operands.size() < 2) return bad("needs an input and an init value");
      std::set<int64_t> seen;
      for (int64_t d : inst.attrs.dimensions) {
        if (!in_range(d, operand(0)) || !seen.insert(d).second) {
          return bad(absl::StrCat("reduce dimension ", d, " is out of range or repeated"));
        }
      }
      if (operand(0).rank() - static_cast<int64_t>(seen.size()) != inst.shape.rank()) {
        return bad("result rank does not match the reduced dims");
      }
      return absl::OkStatus();
    }
    case HloOpcode::kReduceWindow: {
      if (inst.operands.size() < 2 || operand(0).rank() != inst.shape.rank() ||
          static_cast<int64_t>(inst.attrs.window.size()) != inst.shape.rank()) {
        return bad("window/operand ranks do not match");
      }
      for (const auto& w : inst.attrs.window) {
        if (w.size < 1 || w.stride < 1 || w.window_dilation < 1 || w.base_dilation < 1) {
          return bad("window with a non-positive size/stride/dilation");
        }
      }
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

// Ops whose cost the roofline cannot derive from shapes: library calls (custom-call), control flow
// and calls (their cost is that of other computations), data-dependent or collective ops. The target
// does not lower them either (target/halide_lowering.h), so there is nothing to be faithful to.
bool HasNoCostFormula(HloOpcode opcode) {
  switch (opcode) {
    case HloOpcode::kCustomCall: case HloOpcode::kSort: case HloOpcode::kScatter:
    case HloOpcode::kWhile: case HloOpcode::kConditional: case HloOpcode::kCall:
    case HloOpcode::kFft: case HloOpcode::kRng: case HloOpcode::kRngBitGenerator:
    case HloOpcode::kTriangularSolve: case HloOpcode::kCholesky:
    case HloOpcode::kSend: case HloOpcode::kRecv: case HloOpcode::kInfeed: case HloOpcode::kOutfeed:
      return true;
    default:
      return graph::IsCollective(opcode);  // fused with other work (alone: EstimateCollective)
  }
}

int64_t WindowSpan(int64_t outputs, int64_t taps, const graph::WindowDimension& w, int64_t limit) {
  if (outputs <= 0 || taps <= 0) return 0;
  int64_t span = (outputs - 1) * w.stride + (taps - 1) * w.window_dilation + 1;
  if (w.base_dilation > 1) span = CeilDiv(span, w.base_dilation);
  return std::clamp<int64_t>(span, 1, std::max<int64_t>(limit, 1));
}

// Regions of the operands of `inst` touched when computing region `r` of it. `red` holds the extents
// of the reduction loop variables (innermost first) to cover, or null for the whole reduction.
using Regions = absl::InlinedVector<Region, 4>;

Regions OperandRegions(const Kernel& kernel, const Instruction& inst, const ReductionLoops& loops,
                       const Region& r, const Region* red, bool halide_box) {
  Regions out;
  out.reserve(inst.operands.size());
  auto shape = [&](int k) -> const Shape& { return kernel.instructions[inst.operands[k]].shape; };
  auto clamp_to = [](Region region, const Shape& s) {
    region.resize(s.rank(), 1);
    for (int d = 0; d < s.rank(); ++d) region[d] = std::clamp<int64_t>(region[d], 0, s.dims[d]);
    return region;
  };
  auto full = [](const Shape& s) { return Region(s.dims.begin(), s.dims.end()); };
  auto rv = [&](int k) -> int64_t {
    if (k < 0 || k >= static_cast<int>(loops.extents.size())) return 1;
    return red != nullptr ? (*red)[k] : loops.extents[k];
  };
  switch (inst.opcode) {
    case HloOpcode::kBroadcast: {
      const Shape& s = shape(0);
      Region o(s.rank(), 1);
      for (int k = 0; k < s.rank() && k < static_cast<int>(inst.attrs.dimensions.size()); ++k) {
        const int64_t d = inst.attrs.dimensions[k];
        if (d >= 0 && d < static_cast<int64_t>(r.size())) o[k] = r[d];
      }
      out.push_back(clamp_to(o, s));
      break;
    }
    case HloOpcode::kTranspose: {
      const Shape& s = shape(0);
      Region o(s.rank(), 1);
      for (size_t i = 0; i < inst.attrs.dimensions.size() && i < r.size(); ++i) {
        const int64_t p = inst.attrs.dimensions[i];
        if (p >= 0 && p < s.rank()) o[p] = r[i];
      }
      out.push_back(clamp_to(o, s));
      break;
    }
    case HloOpcode::kReshape: case HloOpcode::kBitcast: {
      const Shape& s = shape(0);
      Region o(s.rank(), 1);
      if (graph::SameNonUnitDims(s.dims, inst.shape.dims)) {
        // Only unit dims are inserted or removed: the other dims map one to one (as the target's
        // lowering maps them), in both the element and the box view.
        int j = 0;
        for (int d = 0; d < s.rank(); ++d) {
          if (s.dims[d] == 1) continue;
          while (j < inst.shape.rank() && inst.shape.dims[j] == 1) ++j;
          o[d] = j < static_cast<int>(r.size()) ? r[j] : 1;
          ++j;
        }
      } else if (!halide_box) {
        // Elements read: contiguous-block approximation, the same number of elements filling the
        // innermost dims.
        double needed = Product(r);
        for (int d = static_cast<int>(s.rank()) - 1; d >= 0 && needed > 1; --d) {
          const double e = std::min<double>(needed, static_cast<double>(s.dims[d]));
          o[d] = static_cast<int64_t>(std::ceil(e));
          needed = std::ceil(needed / static_cast<double>(std::max<int64_t>(s.dims[d], 1)));
        }
      } else {
        // Halide's bounds of the target's reshape (target/halide_lowering.cc), which size a
        // realised producer: the output index is linearised (flat = sum idx[k] * stride[k],
        // row-major) and de-linearised, operand dim d reading (flat / s_d) % n_d (s_d: product of
        // the dims inside d; the outermost dim has no %). Interval arithmetic cannot prove that a
        // `%` does not wrap, so every inner operand dim is covered whole unless the region is one
        // element; the outermost dim spans (flat span - 1) / s_0 + 1 values (aligned start). The
        // lowered statement of vit_b_32's attention output (dot [12,50,64] -> transpose -> reshape
        // [50,768], output tile [4, 8]) allocates the dot's accumulator as [12, 4 or 5, 64] per
        // tile, i.e. 96x the tile's own elements; it measured 30.2 ms where the element view
        // estimated 11.5 us.
        double flat_span = 1, stride = 1;
        for (int k = inst.shape.rank() - 1; k >= 0; --k) {
          const int64_t extent = k < static_cast<int>(r.size()) ? r[k] : 1;
          flat_span += static_cast<double>(std::max<int64_t>(extent, 1) - 1) * stride;
          stride *= static_cast<double>(inst.shape.dims[k]);
        }
        double inner = 1;  // s_d
        for (int d = s.rank() - 1; d >= 0; --d) {
          if (flat_span <= 1) {
            o[d] = 1;
          } else if (d > 0) {
            o[d] = s.dims[d];
          } else {
            o[d] = static_cast<int64_t>(std::floor((flat_span - 1) / inner)) + 1;
          }
          inner *= static_cast<double>(s.dims[d]);
        }
      }
      out.push_back(clamp_to(o, s));
      break;
    }
    case HloOpcode::kSlice: {
      const Shape& s = shape(0);
      Region o = r;
      for (size_t d = 0; d < o.size() && d < inst.attrs.slice.size(); ++d) {
        o[d] = (o[d] - 1) * std::max<int64_t>(1, inst.attrs.slice[d].stride) + 1;
      }
      out.push_back(clamp_to(o, s));
      for (size_t k = 1; k < inst.operands.size(); ++k) out.push_back(full(shape(k)));
      break;
    }
    case HloOpcode::kDot: {
      const auto& dn = *inst.attrs.dot_dimension_numbers;
      const int nb = static_cast<int>(dn.lhs_batch_dimensions.size());
      const int nc = static_cast<int>(dn.lhs_contracting_dimensions.size());
      int pos = nb;
      for (int side = 0; side < 2; ++side) {
        const Shape& s = shape(side);
        const auto& batch = side == 0 ? dn.lhs_batch_dimensions : dn.rhs_batch_dimensions;
        const auto& contract = side == 0 ? dn.lhs_contracting_dimensions : dn.rhs_contracting_dimensions;
        Region o(s.rank(), -1);
        for (int j = 0; j < nb; ++j) o[batch[j]] = j < static_cast<int>(r.size()) ? r[j] : 1;
        for (int j = 0; j < nc; ++j) o[contract[j]] = rv(nc - 1 - j);
        for (int d = 0; d < s.rank(); ++d) {
          if (o[d] == -1) o[d] = pos < static_cast<int>(r.size()) ? r[pos++] : 1;
        }
        out.push_back(clamp_to(o, s));
      }
      break;
    }
    case HloOpcode::kConvolution: {
      const auto& dn = *inst.attrs.convolution_dimension_numbers;
      const int ns = static_cast<int>(dn.input_spatial_dimensions.size());
      const Shape& lhs = shape(0);
      const Shape& rhs = shape(1);
      const int64_t groups = inst.attrs.feature_group_count;
      const int64_t cout_g = std::max<int64_t>(1, rhs.dims[dn.kernel_output_feature_dimension] / groups);
      const int64_t ci = rv(ns);
      Region in(lhs.rank(), 1), k(rhs.rank(), 1);
      in[dn.input_batch_dimension] = r[dn.output_batch_dimension];
      const int64_t groups_touched =
          groups == 1 ? 1 : std::min(groups, CeilDiv(r[dn.output_feature_dimension], cout_g));
      in[dn.input_feature_dimension] = groups_touched * ci;
      k[dn.kernel_output_feature_dimension] = r[dn.output_feature_dimension];
      k[dn.kernel_input_feature_dimension] = ci;
      for (int s = 0; s < ns; ++s) {
        const int64_t taps = rv(ns - 1 - s);
        in[dn.input_spatial_dimensions[s]] =
            WindowSpan(r[dn.output_spatial_dimensions[s]], taps, inst.attrs.window[s],
                       lhs.dims[dn.input_spatial_dimensions[s]]);
        k[dn.kernel_spatial_dimensions[s]] = taps;
      }
      out.push_back(clamp_to(in, lhs));
      out.push_back(clamp_to(k, rhs));
      break;
    }
    case HloOpcode::kReduce: {
      const Shape& s = shape(0);
      std::vector<bool> reduced(s.rank(), false);
      for (int64_t d : inst.attrs.dimensions) reduced[d] = true;
      Region o(s.rank(), 1);
      int j = 0, k = 0;
      for (int d = static_cast<int>(s.rank()) - 1; d >= 0; --d) {
        if (reduced[d]) o[d] = rv(k++);
      }
      for (int d = 0; d < s.rank(); ++d) {
        if (!reduced[d]) o[d] = j < static_cast<int>(r.size()) ? r[j++] : 1;
      }
      out.push_back(clamp_to(o, s));
      for (size_t q = 1; q < inst.operands.size(); ++q) out.push_back(full(shape(q)));
      break;
    }
    case HloOpcode::kReduceWindow: {
      const Shape& s = shape(0);
      Region o(s.rank(), 1);
      int k = 0;
      std::vector<int64_t> taps(s.rank(), 1);
      for (int d = static_cast<int>(s.rank()) - 1; d >= 0; --d) {
        if (inst.attrs.window[d].size > 1) taps[d] = rv(k++);
      }
      for (int d = 0; d < s.rank(); ++d) {
        o[d] = WindowSpan(r[d], taps[d], inst.attrs.window[d], s.dims[d]);
      }
      out.push_back(clamp_to(o, s));
      for (size_t q = 1; q < inst.operands.size(); ++q) out.push_back(full(shape(q)));
      break;
    }
    default: {
      // Elementwise ops and the data movement that keeps the output index (pad, reverse,
      // concatenate, copy, convert, ...): the same region, clamped; scalars are one element. Ops
      // without an index mapping we model (gather, custom-call, ...) read their operands whole.
      const bool same_index = graph::IsElementwise(inst.opcode) || inst.opcode == HloOpcode::kPad ||
                              inst.opcode == HloOpcode::kReverse ||
                              inst.opcode == HloOpcode::kConcatenate ||
                              inst.opcode == HloOpcode::kCopy;
      for (size_t q = 0; q < inst.operands.size(); ++q) {
        const Shape& s = shape(static_cast<int>(q));
        if (!same_index) {
          out.push_back(full(s));
        } else if (s.rank() == static_cast<int64_t>(r.size())) {
          out.push_back(clamp_to(r, s));
        } else {
          out.push_back(Region(s.rank(), 1));
        }
      }
      break;
    }
  }
  return out;
}

// Bounds inference: the region of every instruction touched when instruction `start` computes
// `region`. `red_inst`'s reduction covers `red` (innermost-first extents) instead of its whole loop.
// `regions` is overwritten (PropagateCached gives each distinct argument list its own entry).
// Two views travel together: the elements an inlined path reads (what a buffer's cache footprint
// counts) and Halide's bounding box of them (what a realised accumulator computes and allocates,
// computed at a tile or update loop). They differ only across reshapes (OperandRegions'
// `halide_box`), so the box view is skipped for kernels without one. An accumulator's region is its
// box; everything else's, the elements read.
void Propagate(const Kernel& kernel, const KernelFacts& facts, int start, const Region& region,
               int red_inst, const Region* red, std::vector<std::optional<Region>>& regions) {
  regions.assign(kernel.size(), std::nullopt);
  regions[start] = region;
  std::vector<std::optional<Region>> boxes;
  if (facts.box_view) {
    boxes.assign(kernel.size(), std::nullopt);
    boxes[start] = region;
  }
  auto merge = [](std::optional<Region>& target, const Region& r) {
    if (!target) {
      target = r;
      return;
    }
    for (size_t d = 0; d < target->size() && d < r.size(); ++d) (*target)[d] = std::max((*target)[d], r[d]);
  };
  for (int id = start; id >= 0; --id) {
    if (!regions[id]) continue;
    const Instruction& inst = kernel.instructions[id];
    if (inst.operands.empty()) continue;
    const Region* id_red = id == red_inst ? red : nullptr;
    const Regions ops = OperandRegions(kernel, inst, facts.loops[id], *regions[id], id_red, false);
    if (!facts.box_view) {
      for (size_t k = 0; k < inst.operands.size() && k < ops.size(); ++k) merge(regions[inst.operands[k]], ops[k]);
      continue;
    }
    const Regions box_ops = OperandRegions(kernel, inst, facts.loops[id], *boxes[id], id_red, true);
    for (size_t k = 0; k < inst.operands.size() && k < ops.size() && k < box_ops.size(); ++k) {
      const int operand = inst.operands[k];
      merge(regions[operand], facts.has_loop[operand] ? box_ops[k] : ops[k]);
      merge(boxes[operand], box_ops[k]);
    }
  }
}

// Bytes of the cache lines a region of a dense row-major array occupies: each innermost row is
// rounded up to whole lines (caches move lines, so a column of a row-major matrix costs a line per
// element). Assumes rows start line-aligned, as Halide's buffers do for innermost dims that are
// multiples of 16 floats.
double LineBytes(const Region& region, int64_t element_bytes) {
  if (region.empty()) return static_cast<double>(element_bytes);
  const double row = static_cast<double>(region.back() * element_bytes);
  const double lines = std::ceil(row / kCacheLineBytes) * kCacheLineBytes;
  double rows = 1;  // Product of every dim but the innermost
  for (size_t d = 0; d + 1 < region.size(); ++d) rows *= static_cast<double>(region[d]);
  return rows * lines;
}

// Line bytes of each buffer (parameters, non-splat constants) in `regions`, by instruction id, plus
// one last entry (kernel.size()) for the caller's output or accumulator bytes (0 here), into `bytes`
// (overwritten; a subnest's storage, reused across configs).
void BufferLineBytes(const Kernel& kernel, const std::vector<std::optional<Region>>& regions,
                     std::vector<double>& bytes) {
  bytes.assign(kernel.size() + 1, 0.0);
  for (int id = 0; id < kernel.size(); ++id) {
    const Instruction& inst = kernel.instructions[id];
    if (regions[id] && IsBuffer(inst)) {
      bytes[id] = LineBytes(*regions[id], StorageBytes(inst.shape.element_type));
    }
  }
}

// Extra vector ops per native vector when a vector loop walks dim `dim` of `id` (-1: the value does
// not vary along the loop; -2: it varies along some non-innermost dim) with element stride
// `stride`, summed over every buffer or accumulator read. `stop` is where a walk ends besides leaves.
class AccessCounter {
 public:
  // `rows_live`: the iterations of the loop walked (its rows touched per step of the loops outside
  // it, 0: not counted); `l1_ways`: the L1 associativity (kL1SetPeriodBytes; 0: not counted).
  AccessCounter(const Kernel& kernel, const KernelFacts& facts, int lanes, int64_t rows_live = 0,
                int64_t l1_ways = 0)
      : kernel_(kernel), facts_(facts), lanes_(lanes), rows_live_(rows_live), l1_ways_(l1_ways) {}

  // Walks from instruction `id` (read at dim `dim`). Reductions with a loop other than `self` are
  // accumulators (buffers).
  void Walk(int id, int dim, int64_t stride, int self) {
    if (!visited_.insert({id, dim, stride}).second) return;
    const Instruction& inst = kernel_.instructions[id];
    if (id != self && (IsBuffer(inst) || facts_.has_loop[id])) {
      ++loads_;
      Leaf(inst, dim, stride);
      return;
    }
    if (inst.opcode == HloOpcode::kParameter || inst.opcode == HloOpcode::kConstant ||
        inst.opcode == HloOpcode::kIota) {
      return;
    }
    // Ops of a value that does not vary along the loop (dim -1) are hoisted out of it (Halide's and
    // LLVM's loop-invariant code motion): counted apart, per row of the loop rather than per element.
    double& sink = dim == -1 ? invariant_ops_ : ops_;
    if (id != self) {
      const graph::OpCost& cost = facts_.costs[id];
      const double elements = std::max<double>(1, static_cast<double>(inst.shape.NumElements()));
      sink += cost.flops / elements + kTranscendentalOps * cost.transcendentals / elements;
    }
    auto walk_operand = [&](int k, int d, int64_t s) {
      if (k < static_cast<int>(inst.operands.size())) Walk(inst.operands[k], d, s, self);
    };
    const auto operand_rank = [&](int k) { return kernel_.instructions[inst.operands[k]].shape.rank(); };
    switch (inst.opcode) {
      case HloOpcode::kBroadcast: {
        int mapped = -1;
        for (size_t k = 0; k < inst.attrs.dimensions.size(); ++k) {
          if (dim >= 0 && inst.attrs.dimensions[k] == dim) mapped = static_cast<int>(k);
        }
        walk_operand(0, dim == -2 ? -2 : mapped, stride);
        return;
      }
      case HloOpcode::kTranspose:
        walk_operand(0, dim >= 0 && dim < static_cast<int>(inst.attrs.dimensions.size())
                            ? static_cast<int>(inst.attrs.dimensions[dim]) : dim, stride);
        return;
      case HloOpcode::kReshape: case HloOpcode::kBitcast: {
        const int r = static_cast<int>(operand_rank(0));
        const int divmods = facts_.delinearise_ops[id];
        if (divmods < 0) {
          walk_operand(0, dim == inst.shape.rank() - 1 && r > 0 ? r - 1 : (dim == -1 ? -1 : -2), stride);
          return;
        }
        // The flat index is de-linearised with integer divisions and remainders per element, and
        // Halide cannot prove `(base + ramp) % c` is a ramp (the target sets no bounds), so a vector
        // load through it gathers.
        sink += kDivModOps * static_cast<double>(divmods);
        walk_operand(0, dim == -1 ? -1 : -2, stride);
        return;
      }
      case HloOpcode::kSlice: {
        const int64_t s = dim >= 0 && dim < static_cast<int>(inst.attrs.slice.size())
                              ? std::max<int64_t>(1, inst.attrs.slice[dim].stride) : 1;
        walk_operand(0, dim, stride * s);
        return;
      }
      case HloOpcode::kDot: {
        const auto& dn = *inst.attrs.dot_dimension_numbers;
        const int nb = static_cast<int>(dn.lhs_batch_dimensions.size());
        int pos = nb;
        for (int side = 0; side < 2; ++side) {
          const auto& batch = side == 0 ? dn.lhs_batch_dimensions : dn.rhs_batch_dimensions;
          const auto& contract = side == 0 ? dn.lhs_contracting_dimensions : dn.rhs_contracting_dimensions;
          const int r = static_cast<int>(operand_rank(side));
          int mapped = -1;
          for (int d = 0; d < r; ++d) {
            if (std::find(batch.begin(), batch.end(), d) != batch.end() ||
                std::find(contract.begin(), contract.end(), d) != contract.end()) {
              continue;
            }
            if (pos == dim) mapped = d;
            ++pos;
          }
          for (int j = 0; j < nb; ++j) if (j == dim) mapped = static_cast<int>(batch[j]);
          walk_operand(side, dim == -2 ? -2 : mapped, stride);
        }
        return;
      }
      case HloOpcode::kConvolution: {
        const auto& dn = *inst.attrs.convolution_dimension_numbers;
        int in_dim = -1, k_dim = -1;
        int64_t in_stride = stride;
        if (dim == -2) {
          in_dim = k_dim = -2;
        } else if (dim == dn.output_batch_dimension) {
          in_dim = static_cast<int>(dn.input_batch_dimension);
        } else if (dim == dn.output_feature_dimension) {
          k_dim = static_cast<int>(dn.kernel_output_feature_dimension);
          if (inst.attrs.feature_group_count > 1) in_dim = static_cast<int>(dn.input_feature_dimension);
        } else {
          for (size_t s = 0; s < dn.output_spatial_dimensions.size(); ++s) {
            if (dn.output_spatial_dimensions[s] != dim) continue;
            const auto& w = inst.attrs.window[s];
            in_dim = static_cast<int>(dn.input_spatial_dimensions[s]);
            in_stride = stride * w.stride;
            if (w.base_dilation > 1) in_dim = -2;
          }
        }
        walk_operand(0, in_dim, in_stride);
        walk_operand(1, k_dim, stride);
        return;
      }
      case HloOpcode::kReduce: {
        const int r = static_cast<int>(operand_rank(0));
        std::vector<bool> reduced(r, false);
        for (int64_t d : inst.attrs.dimensions) reduced[d] = true;
        int mapped = dim == -2 ? -2 : -1, j = 0;
        for (int d = 0; d < r; ++d) {
          if (reduced[d]) continue;
          if (j++ == dim) mapped = d;
        }
        walk_operand(0, mapped, stride);
        return;
      }
      case HloOpcode::kReduceWindow: {
        int64_t s = stride;
        if (dim >= 0) s *= inst.attrs.window[dim].stride;
        walk_operand(0, dim, s);
        return;
      }
      default: {
        for (size_t k = 0; k < inst.operands.size(); ++k) {
          const bool same_rank = operand_rank(static_cast<int>(k)) == inst.shape.rank();
          walk_operand(static_cast<int>(k), same_rank ? dim : -1, stride);
        }
        return;
      }
    }
  }

  double ops() const { return ops_; }              // arithmetic ops per element
  double invariant_ops() const { return invariant_ops_; }  // ops per row of the loop (hoisted)
  double extra_ops() const { return extra_ops_; }  // extra ops per vector for non-unit-stride loads
  int loads() const { return loads_; }             // buffer reads per element
  int gathers() const { return gathers_; }         // buffer reads whose lanes are not adjacent
  int strided() const { return strided_; }         // buffer reads with a small stride (shuffled)

 private:
  void Leaf(const Instruction& inst, int dim, int64_t stride) {
    if (dim >= 0 && dim + 1 < inst.shape.rank() && rows_live_ > 0 && l1_ways_ > 0) {
      // A walk along an outer dim touches rows `row` bytes apart, each on its own line. When more
      // of them are live than the L1 sets they map to can hold, every load misses L1.
      int64_t row = StorageBytes(inst.shape.element_type) * stride;
      for (int d = dim + 1; d < inst.shape.rank(); ++d) row *= inst.shape.dims[d];
      if (row % static_cast<int64_t>(kCacheLineBytes) == 0) {
        const int64_t sets = kL1SetPeriodBytes / std::gcd(row, kL1SetPeriodBytes);
        if (rows_live_ > sets * l1_ways_) extra_ops_ += kConflictMissOpsPerLane * std::max(1, lanes_);
      }
    }
    if (dim == -1 || lanes_ <= 1) return;  // broadcast (hoisted) or scalar loop
    if (dim == inst.shape.rank() - 1 && stride == 1) return;  // dense vector load
    if (dim == inst.shape.rank() - 1 && stride <= kMaxShuffledStride) {
      extra_ops_ += static_cast<double>(stride);
      ++strided_;
      return;
    }
    extra_ops_ += kGatherOpsPerLane * lanes_ - 1.0;
    ++gathers_;
  }

  const Kernel& kernel_;
  const KernelFacts& facts_;
  int lanes_;
  int64_t rows_live_;
  int64_t l1_ways_;
  absl::flat_hash_set<std::tuple<int, int, int64_t>> visited_;
  double ops_ = 0;
  double invariant_ops_ = 0;
  double extra_ops_ = 0;
  int loads_ = 0;
  int gathers_ = 0;
  int strided_ = 0;
};

// True when a vector loop over dim `dim` of instruction `id` would gather one of its loads or load
// one with a small stride: LLVM's vectoriser leaves such a scalar loop scalar (EffectiveVectorWidth).
bool LoopGathers(const Kernel& kernel, const KernelFacts& facts, int id, int dim, int self,
                 int lanes) {
  AccessCounter probe(kernel, facts, lanes);
  probe.Walk(id, dim, 1, self);
  return probe.gathers() > 0 || probe.strided() > 0;
}

// One loop of the output nest.
struct Loop {
  int dim = -1;        // root dim
  int64_t trip = 1;    // iterations
  int64_t cover = 1;   // elements of `dim` one iteration covers (tile size for outer tile loops)
  int slot = -1;       // slot whose loop this is, -1 for untiled dims
  bool outer = false;  // outer tile loop
};

// Subnest of the whole loop nest: its footprint and how often it runs.
struct Subnest {
  double footprint_bytes = 0;
  double executions = 1;
  // The footprint per buffer (BufferLineBytes: by instruction id, then the output / accumulator).
  std::vector<double> buffer_bytes;
};

// The subnests of one estimate, outermost first, in storage ExplainAll reuses for every config (a
// vector per subnest per config was a tenth of a plan's instructions in malloc and free).
class SubnestList {
 public:
  void Clear() { size_ = 0; }
  // Appends a subnest run `executions` times; the caller fills its buffer_bytes (any size) and then
  // calls Close.
  Subnest& Add(double executions) {
    if (size_ == items_.size()) items_.emplace_back();
    Subnest& n = items_[size_++];
    n.executions = executions;
    n.footprint_bytes = 0;
    return n;
  }
  // Sets the footprint of the last subnest added: the sum of its buffer bytes.
  void Close() {
    Subnest& n = items_[size_ - 1];
    n.footprint_bytes = 0;
    for (double b : n.buffer_bytes) n.footprint_bytes += b;
  }
  absl::Span<const Subnest> span() const { return absl::MakeConstSpan(items_.data(), size_); }
  const Subnest& front() const { return items_.front(); }
  const Subnest& back() const { return items_[size_ - 1]; }

 private:
  std::vector<Subnest> items_;
  size_t size_ = 0;
};

// Storage of one estimate that ExplainAll reuses across the configs of a kernel, and the bounds
// inference results of the kernel's configs: configs that differ only in vector width, parallel loop
// or reduction split share their tile and loop boxes, so most Propagate calls of a config space
// repeat an earlier one (Propagate was a third of a learned plan's instructions).
struct LoopNestScratch {
  SubnestList subnests;
  // Propagate's arguments (start, red_inst, the region's rank and extents, whether `red` is given
  // and its extents) -> its result. Node-based: references stay valid as entries are added.
  absl::node_hash_map<absl::InlinedVector<int64_t, 16>, std::vector<std::optional<Region>>> bounds;
};

// Propagate(kernel, facts, start, region, red_inst, red, ...)'s regions, computed once per distinct
// argument list of an ExplainAll call.
const std::vector<std::optional<Region>>& PropagateCached(const Kernel& kernel,
                                                          const KernelFacts& facts, int start,
                                                          const Region& region, int red_inst,
                                                          const Region* red,
                                                          LoopNestScratch& scratch) {
  absl::InlinedVector<int64_t, 16> key = {start, red_inst, static_cast<int64_t>(region.size())};
  key.insert(key.end(), region.begin(), region.end());
  key.push_back(red != nullptr ? 1 : 0);
  if (red != nullptr) key.insert(key.end(), red->begin(), red->end());
  auto [it, inserted] = scratch.bounds.try_emplace(std::move(key));
  if (inserted) Propagate(kernel, facts, start, region, red_inst, red, it->second);
  return it->second;
}

// Bytes a cache of `usable` bytes loads from the level below for the nest `subnests` (outermost
// first, each the body of the previous one's loop). The outermost subnest whose footprint fits is
// loaded once per execution; but its parent loop, which does not fit, does not reload what
// consecutive iterations share: a buffer whose lines the child touches again in the next iteration
// (a row walked along its contiguous dim, one reduction step after another) costs its distinct lines
// over the parent's loop, never more than trip x its lines per child. Per buffer, per parent
// execution: min(lines of the parent, trip x lines of the child) (the classic working-set argument
// with spatial reuse across the innermost non-fitting loop; Wolf & Lam, PLDI 1991).
double CacheFills(absl::Span<const Subnest> subnests, double usable) {
  for (size_t j = 0; j < subnests.size(); ++j) {
    if (subnests[j].footprint_bytes > usable) continue;
    if (j == 0) return 0.0;
    const Subnest& parent = subnests[j - 1];
    const Subnest& child = subnests[j];
    const double trip = child.executions / std::max(1.0, parent.executions);
    double per_parent = 0;
    for (size_t b = 0; b < child.buffer_bytes.size() && b < parent.buffer_bytes.size(); ++b) {
      per_parent += std::min(parent.buffer_bytes[b], trip * child.buffer_bytes[b]);
    }
    return per_parent * parent.executions;
  }
  return subnests.back().footprint_bytes * subnests.back().executions;
}

}  // namespace

std::string CostBreakdown::ToString() const {
  if (!collective.empty()) return absl::StrCat("total ", total_ns, " ns = ", collective);
  if (!library.empty()) {
    return absl::StrFormat("total %.0f ns = launch %.0f + compute %.0f + memory %.0f (library: %s)",
                           total_ns, launch_ns, compute_ns, memory_ns, library);
  }
  return absl::StrFormat(
      "total %.0f ns = launch %.0f + tiles %.0f + parallel launches %.0f + max(compute %.0f "
      "[reduction %.0f, output %.0f serial], memory %.0f [L2 %.3g B, L3 %.3g B, DRAM %.3g B]); "
      "%lld tiles, working set %.3g B in %s, vector efficiency %.2f, parallel speedup %.2f",
      total_ns, launch_ns, tile_overhead_ns, parallel_launch_ns, compute_ns, reduction_ns,
      output_stage_ns, memory_ns, bytes_served[kL2], bytes_served[kL3], bytes_served[kDram],
      static_cast<long long>(num_tiles), tile_working_set_bytes,
      std::string(MemoryLevelName(tile_working_set_level)), vector_efficiency, parallel_speedup);
}

absl::StatusOr<AnalyticalModel> AnalyticalModel::Create(const TargetDescription& target,
                                                        const AnalyticalModelOptions& options) {
  absl::Status valid = ValidateTargetDescription(target);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("AnalyticalModel::Create: ", valid.message()));
  }
  if (options.num_threads < 1 || options.num_threads > 256) {
    return absl::InvalidArgumentError(absl::StrCat(
        "AnalyticalModel::Create: num_threads must be in [1, 256], got ", options.num_threads));
  }
  return AnalyticalModel(target, options);
}

absl::StatusOr<AnalyticalModel> AnalyticalModel::CreateDefault(const AnalyticalModelOptions& options) {
  absl::StatusOr<TargetDescription> target = LoadTargetDescription(DefaultTargetDescriptionPath());
  if (!target.ok()) return target.status();
  return Create(*target, options);
}

std::vector<absl::StatusOr<double>> AnalyticalModel::EstimateNs(absl::Span<const CostQuery> queries) {
  if (auto multi = EstimateMultiOutput(queries, *this)) return *std::move(multi);
  std::vector<absl::StatusOr<double>> results;
  results.reserve(queries.size());
  std::vector<tiling::TileConfig> configs;
  for (size_t i = 0; i < queries.size();) {
    const Kernel* kernel = queries[i].kernel;
    if (kernel == nullptr) {
      results.push_back(absl::InvalidArgumentError(
          absl::StrCat("AnalyticalModel::EstimateNs: query ", i, " has no kernel")));
      ++i;
      continue;
    }
    // A run of queries of one kernel (how the passes ask: a config space at a time) is one ExplainAll.
    configs.clear();
    for (; i < queries.size() && queries[i].kernel == kernel; ++i) configs.push_back(queries[i].config);
    for (absl::StatusOr<CostBreakdown>& breakdown : ExplainAll(*kernel, configs)) {
      if (breakdown.ok()) {
        results.push_back(breakdown->total_ns);
      } else {
        results.push_back(breakdown.status());
      }
    }
  }
  return results;
}

namespace {

// The loop-nest estimate (target/halide_lowering.h's schedule) of a kernel that passed ExplainAll's
// kernel checks, for a config that passed tiling::ValidateConfig. `update_lanes` is
// ReductionUpdateLanes(t), resolved once per ExplainAll rather than per config.
absl::StatusOr<CostBreakdown> EstimateLoopNest(const TargetDescription& t, int update_lanes,
                                               int num_threads, const Kernel& kernel,
                                               const KernelFacts& facts,
                                               const tiling::TileConfig& config,
                                               LoopNestScratch& scratch) {
  const Instruction& root = kernel.root_instruction();
  const int lanes = t.native_f32_lanes;
  const int rank = static_cast<int>(root.shape.rank());
  const std::vector<int64_t>& dims = root.shape.dims;
  CostBreakdown b;

  // ---- The output loop nest (target/halide_lowering.h, Schedule). ----
  std::vector<int> slot_of_dim(rank, -1);
  int used_slots = 0;
  for (int i = 0; i < tiling::kMaxTiledDims && config.tiled_dims[i] >= 0; ++i) {
    slot_of_dim[config.tiled_dims[i]] = i;
    ++used_slots;
  }
  auto tile_of = [&](int slot) { return config.tile[slot]; };
  auto extent_of = [&](int slot) { return dims[config.tiled_dims[slot]]; };
  // rest: innermost first, Halide dim h = rank-1-d.
  std::vector<Loop> rest;
  for (int h = 0; h < rank; ++h) {
    const int d = rank - 1 - h;
    const int slot = slot_of_dim[d];
    if (slot < 0) {
      rest.push_back({d, dims[d], 1, -1, false});
    } else if (tile_of(slot) < dims[d]) {
      rest.push_back({d, CeilDiv(dims[d], tile_of(slot)), tile_of(slot), slot, true});
    }
  }
  // Outer -> inner: reversed rest, then inner tile loops of slots 2, 1, 0.
  std::vector<Loop> nest(rest.rbegin(), rest.rend());
  const int num_outer = static_cast<int>(nest.size());
  for (int i = used_slots - 1; i >= 0; --i) {
    nest.push_back({config.tiled_dims[i], std::min(tile_of(i), extent_of(i)), 1, i, false});
  }
  // Output box covered by loops [from, end) of `nest`.
  auto box_from = [&](int from) {
    Region box(rank, 1);
    for (int j = from; j < static_cast<int>(nest.size()); ++j) {
      const Loop& l = nest[j];
      box[l.dim] *= l.trip;  // inner tile loop: t; outer tile loop: x ceil(n / t); plain: n
    }
    for (int d = 0; d < rank; ++d) box[d] = std::min(box[d], dims[d]);
    return box;
  };
  const Region tile_box = box_from(num_outer);
  double num_tiles = 1;
  for (const Loop& l : rest) num_tiles *= static_cast<double>(l.trip);
  b.num_tiles = static_cast<int64_t>(num_tiles);
  const double root_elements = std::max<double>(1, static_cast<double>(root.shape.NumElements()));
  const double computed_elements = num_tiles * Product(tile_box);
  b.recompute_factor = computed_elements / root_elements;

  // ---- Reductions (computed per tile). ----
  const int primary = facts.primary;
  const std::vector<std::optional<Region>>& tile_regions =
      PropagateCached(kernel, facts, kernel.root, tile_box, -1, nullptr, scratch);
  const double op_rate = t.peak_flops_1t / (2.0 * lanes);  // native vector ops per second, 1 thread
  const int64_t l1_ways = t.memory[kL1].capacity_bytes / kL1SetPeriodBytes;
  // The calibrated update is of ReductionUpdateLanes lanes (8 on AVX2 and AVX-512, where the
  // reference description's native width is 4); a native vector's update is that share of it.
  const double update_ns = t.reduction_update_ns;
  const double native_update_ns =
      update_ns * static_cast<double>(lanes) / static_cast<double>(update_lanes);
  const std::vector<graph::OpCost>& costs = facts.costs;
  double acc_tile_bytes = 0;
  double primary_vector_eff = -1;
  for (int id = 0; id < kernel.size(); ++id) {
    const Instruction& inst = kernel.instructions[id];
    if (!facts.has_loop[id] || !tile_regions[id]) continue;
    const ReductionLoops& loops = facts.loops[id];
    const Region& acc = *tile_regions[id];
    const int rr = static_cast<int>(acc.size());
    acc_tile_bytes += Product(acc) * StorageBytes(inst.shape.element_type);
    double red_size = 1;
    for (int64_t e : loops.extents) red_size *= static_cast<double>(e);
    const int64_t inner = rr > 0 ? acc[rr - 1] : 1;
    // An accumulator whose innermost dim has extent 1 has nothing to vectorise: the target's
    // vectorize of it is a no-op, and the update is a scalar accumulation along the reduction loop,
    // kept in a register (its address is invariant in the reduction loops).
    const int v = rr > 0 && inner > 1
                      ? EffectiveVectorWidth(config.vector_width, inner, lanes, [&] {
                             return LoopGathers(kernel, facts, id, rr - 1, id, lanes);
                           })
                         : 1;
    const int64_t natives = CeilDiv(v, lanes);
    const int64_t vec_iters = v > 1 ? inner / v : 0;
    const int64_t scalar_iters = v > 1 ? inner % v : inner;
    const double updates_per_row = static_cast<double>(vec_iters * natives + scalar_iters);
    double rows = red_size;
    for (int d = 0; d + 1 < rr; ++d) rows *= static_cast<double>(acc[d]);
    // Extra work of one update: non-unit-stride operand loads and inlined producers.
    AccessCounter access(kernel, facts, rr > 0 ? std::min(v, lanes) : 1, inner, l1_ways);
    access.Walk(id, rr - 1, 1, id);
    const double update_factor = 1.0 + access.extra_ops() / kUpdateBaseOps;
    // Arithmetic of inlined producers and guards (ops per lane) issues alongside the update's loads
    // and stores; the slower of the two bounds sets the pace. The accumulator's dependency chain is
    // not a bound: LLVM interleaves the target's reduction loops (Halide allows reassociation unless
    // strict_float), and on the reference machine resnet18's convolutions run at the throughput
    // bound even with one vector per step.
    const double ops_ns = (static_cast<double>(natives) * access.ops() +
                           access.invariant_ops() / std::max(1.0, updates_per_row)) / op_rate * 1e9;
    const bool promoted = (v > 1 && scalar_iters == 0 && updates_per_row <= kMaxPromotedVectors) ||
                          (v == 1 && updates_per_row <= kMaxPromotedScalars);
    const double memory_update_ns =
        promoted ? (kLoadsPerFma + 1.0 / updates_per_row + access.extra_ops()) / op_rate * 1e9
                 : native_update_ns * update_factor;
    const double per_update_ns = std::max(memory_update_ns, ops_ns);
    // A ragged row's tail is one predicated vector whose masked store stalls the next step
    // (kMaskedTailUpdates); the row's other vectors run during the stall.
    const double row_step_ns =
        v > 1 && scalar_iters > 0
            ? std::max(static_cast<double>((vec_iters + 1) * natives) * per_update_ns,
                       t.masked_tail_ns > 0 ? t.masked_tail_ns : kMaskedTailUpdates * update_ns)
            : updates_per_row * per_update_ns;
    const double tile_update_ns = rows * row_step_ns;
    // Accumulator initialisation: one store per vector.
    const double init_ns = Product(acc) / std::min(v, lanes) / op_rate * 1e9;
    b.reduction_ns += num_tiles * (tile_update_ns + init_ns);
    if (id == primary) {
      const double useful = static_cast<double>(inner);
      const double paid = static_cast<double>(vec_iters * natives * lanes + scalar_iters * lanes);
      primary_vector_eff = paid > 0 ? useful / paid : 1.0;
    }
    b.executed_flops += costs[id].flops * num_tiles * Product(acc) /
                        std::max<double>(1, static_cast<double>(inst.shape.NumElements()));
  }

  // ---- Output stage: the root's loop nest with everything but reductions inlined. ----
  const int64_t t0 = used_slots > 0 ? std::min(tile_of(0), extent_of(0)) : 1;
  const int v_out =
      used_slots > 0
          ? EffectiveVectorWidth(config.vector_width, t0, lanes, [&] {
              return LoopGathers(kernel, facts, kernel.root, config.tiled_dims[0], -1, lanes);
            })
          : 1;
  const double row_vectors = v_out > 1 ? static_cast<double>(CeilDiv(t0, v_out)) : static_cast<double>(t0);
  const double rows_out = computed_elements / static_cast<double>(t0);
  AccessCounter out_access(kernel, facts, std::min(v_out, lanes), t0, l1_ways);
  out_access.Walk(kernel.root, used_slots > 0 ? config.tiled_dims[0] : -1, 1, -1);
  const double ops_per_vector = out_access.ops() + out_access.loads() + 1.0 /* store */ +
                                out_access.extra_ops() +
                                out_access.invariant_ops() / std::max(1.0, row_vectors);
  const double out_vectors = rows_out * row_vectors * static_cast<double>(CeilDiv(v_out, lanes));
  b.output_stage_ns = out_vectors * ops_per_vector / op_rate * 1e9;
  // Padded copies: a convolution or reduce-window with padding or base dilation reads a copy of its
  // input region made per output tile (target/halide_lowering.h), vectorised by the config's vector
  // width along its innermost dim: a load, a select and a store per vector (kPaddedCopyOps).
  for (int id : facts.padded_windows) {
    if (!tile_regions[id]) continue;
    const std::optional<Region>& in = tile_regions[kernel.instructions[id].operands[0]];
    if (!in || in->empty()) continue;
    const double row = static_cast<double>(in->back());
    const int v = std::max(1, std::min(config.vector_width, lanes));
    const double vectors = Product(*in) / row * std::ceil(row / v);
    b.output_stage_ns += num_tiles * vectors * kPaddedCopyOps / op_rate * 1e9;
  }
  {
    double non_reduction_flops = 0;
    for (int id = 0; id < kernel.size(); ++id) {
      if (!facts.has_loop[id]) non_reduction_flops += costs[id].flops;
    }
    b.executed_flops += non_reduction_flops * b.recompute_factor;
  }
  b.vector_efficiency =
      primary_vector_eff >= 0
          ? primary_vector_eff
          : static_cast<double>(t0) / (row_vectors * static_cast<double>(CeilDiv(v_out, lanes)) * lanes);

  // ---- Parallelism. ----
  const int threads = std::min(num_threads, t.all_threads);
  // Measured on the target's own tiled dot and convolution (TargetDescription::parallel_scaling),
  // not on register-only FMA chains, which scale perfectly and so credited parallel configs with
  // speedups the real kernels never reach.
  const double scaling = threads > 1 ? t.parallel_scaling : 1.0;
  bool parallel_covers_tiles = false;
  double speedup = 1;
  if (config.parallel_loop >= 0) {
    const int p = config.parallel_loop;
    const bool split = tile_of(p) < extent_of(p);
    int position = -1;
    for (int j = 0; j < static_cast<int>(nest.size()); ++j) {
      if (nest[j].slot == p && nest[j].outer == split) position = j;
    }
    if (position < 0) {
      return absl::InternalError(absl::StrCat("AnalyticalModel: no loop for parallel slot ", p,
                                              " of kernel '", kernel.name, "' with config ",
                                              config.ToString()));
    }
    const int64_t iterations = nest[position].trip;
    double launches = 1;
    for (int j = 0; j < position; ++j) launches *= static_cast<double>(nest[j].trip);
    b.parallel_iterations = iterations;
    b.parallel_launches = static_cast<int64_t>(launches);
    b.parallel_launch_ns = launches * t.parallel_launch_ns;
    speedup = static_cast<double>(iterations) / static_cast<double>(CeilDiv(iterations, threads));
    speedup = std::max(1.0, speedup * scaling);
    parallel_covers_tiles = split;
  }
  b.parallel_speedup = speedup;
  const double tile_speedup = parallel_covers_tiles ? speedup : 1.0;
  b.compute_ns = b.reduction_ns / tile_speedup + b.output_stage_ns / speedup;
  b.tile_overhead_ns = num_tiles * t.tile_overhead_ns / tile_speedup;
  b.launch_ns = t.kernel_launch_ns;

  // ---- Memory: reuse analysis over the nest. ----
  SubnestList& subnests = scratch.subnests;
  subnests.Clear();
  const double out_elem_bytes = static_cast<double>(StorageBytes(root.shape.element_type));
  {
    std::vector<double>& whole = subnests.Add(1).buffer_bytes;
    whole.assign(kernel.size() + 1, 0.0);
    for (int id = 0; id < kernel.size(); ++id) {
      const Instruction& inst = kernel.instructions[id];
      if (IsBuffer(inst)) whole[id] = Product(inst.shape.dims) * StorageBytes(inst.shape.element_type);
    }
    whole.back() = root_elements * out_elem_bytes + acc_tile_bytes;
    subnests.Close();
  }
  double executions = 1;
  for (int j = 0; j < num_outer; ++j) {
    executions *= static_cast<double>(nest[j].trip);
    const Region box = box_from(j + 1);
    const std::vector<std::optional<Region>>& regions =
        PropagateCached(kernel, facts, kernel.root, box, -1, nullptr, scratch);
    std::vector<double>& bytes = subnests.Add(executions).buffer_bytes;
    BufferLineBytes(kernel, regions, bytes);
    bytes.back() = LineBytes(box, static_cast<int64_t>(out_elem_bytes)) + acc_tile_bytes;
    subnests.Close();
  }
  if (num_outer == 0) {
    Subnest& copy = subnests.Add(subnests.front().executions);
    copy.buffer_bytes = subnests.front().buffer_bytes;
    subnests.Close();
  }
  b.tile_working_set_bytes = subnests.back().footprint_bytes;
  // The primary reduction's update nest inside one tile.
  if (primary >= 0 && facts.has_loop[primary] && tile_regions[primary]) {
    const Instruction& inst = kernel.instructions[primary];
    const ReductionLoops& loops = facts.loops[primary];
    const Region acc = *tile_regions[primary];
    const int rr = static_cast<int>(acc.size());
    const int nr = static_cast<int>(loops.extents.size());
    const int64_t s = config.reduction_split;
    const bool split = s > 1 && loops.split_rvar >= 0;
    // Loops outer -> inner: [split outer], acc dims 0..rr-2, rvars nr-1..0, acc dim rr-1.
    struct ULoop {
      int acc_dim = -1;
      int rvar = -1;
      int64_t trip = 1;
      bool split_outer = false;
    };
    std::vector<ULoop> loops_u;
    if (split) loops_u.push_back({-1, loops.split_rvar, CeilDiv(loops.extents[loops.split_rvar], s), true});
    for (int d = 0; d + 1 < rr; ++d) loops_u.push_back({d, -1, acc[d], false});
    for (int k = nr - 1; k >= 0; --k) {
      const int64_t trip = split && k == loops.split_rvar ? std::min(s, loops.extents[k]) : loops.extents[k];
      loops_u.push_back({-1, k, trip, false});
    }
    if (rr > 0) loops_u.push_back({rr - 1, -1, acc[rr - 1], false});
    double exec = num_tiles;
    for (size_t u = 0; u < loops_u.size(); ++u) {
      if (u > 0) exec *= static_cast<double>(loops_u[u - 1].trip);
      Region box(rr, 1);
      Region red(nr, 1);
      for (size_t w = u; w < loops_u.size(); ++w) {
        const ULoop& l = loops_u[w];
        if (l.acc_dim >= 0) box[l.acc_dim] = l.trip;
        if (l.rvar >= 0) red[l.rvar] = std::min(loops.extents[l.rvar], red[l.rvar] * l.trip);
      }
      const std::vector<std::optional<Region>>& regions =
          PropagateCached(kernel, facts, primary, box, primary, &red, scratch);
      std::vector<double>& bytes = subnests.Add(exec).buffer_bytes;
      BufferLineBytes(kernel, regions, bytes);
      bytes.back() = LineBytes(box, StorageBytes(inst.shape.element_type));
      subnests.Close();
    }
  }
  // Bytes into each cache from the level below.
  std::array<double, kNumMemoryLevels> into{};  // into[kL1]: L1 fills, ... into[kL3]: L3 fills
  for (int level = kL1; level <= kL3; ++level) {
    into[level] = CacheFills(
        subnests.span(), kCacheUsableFraction * static_cast<double>(t.memory[level].capacity_bytes));
  }
  b.bytes_served[kDram] = into[kL3];
  b.bytes_served[kL3] = std::max(0.0, into[kL2] - into[kL3]);
  b.bytes_served[kL2] = std::max(0.0, into[kL1] - into[kL2]);
  b.bytes_served[kL1] = 0;
  b.tile_working_set_level = kDram;
  for (int level = kL1; level <= kL3; ++level) {
    if (b.tile_working_set_bytes <=
        kCacheUsableFraction * static_cast<double>(t.memory[level].capacity_bytes)) {
      b.tile_working_set_level = static_cast<MemoryLevel>(level);
      break;
    }
  }
  const double memory_speedup = (primary < 0 || parallel_covers_tiles) ? speedup : 1.0;
  for (int level = kL2; level <= kDram; ++level) {
    const double bytes = b.bytes_served[level];
    if (bytes <= 0) continue;
    const MemoryLevelDescription& m = t.memory[level];
    double ns = bytes / m.bandwidth_1t_bytes_per_s * 1e9 / memory_speedup;
    if (memory_speedup > 1) ns = std::max(ns, bytes / m.bandwidth_all_bytes_per_s * 1e9);
    b.memory_ns += ns;
  }

  b.total_ns = b.launch_ns + b.tile_overhead_ns + b.parallel_launch_ns +
               std::max(b.compute_ns, b.memory_ns);
  return b;
}

}  // namespace

absl::StatusOr<CostBreakdown> AnalyticalModel::Explain(const Kernel& kernel,
                                                       const tiling::TileConfig& config) const {
  std::vector<absl::StatusOr<CostBreakdown>> one = ExplainAll(kernel, absl::MakeConstSpan(&config, 1));
  return std::move(one.front());
}

std::vector<absl::StatusOr<CostBreakdown>> AnalyticalModel::ExplainAll(
    const Kernel& kernel, absl::Span<const tiling::TileConfig> configs) const {
  std::vector<absl::StatusOr<CostBreakdown>> results;
  results.reserve(configs.size());
  const absl::Status kernel_valid = kernel.Validate();
  // What every valid config gets when the kernel is not a loop nest we estimate: a collective's or
  // library call's estimate, or the error of a kernel check (in Explain's documented order).
  std::optional<absl::StatusOr<CostBreakdown>> shared;
  std::optional<KernelFacts> facts;
  if (kernel_valid.ok()) {
    if (IsCollectiveKernel(kernel)) {  // communication, not a loop nest (cost/collective_cost.h)
      absl::StatusOr<CollectiveCost> collective = EstimateCollective(kernel, target_.interconnect);
      if (collective.ok()) {
        CostBreakdown b;
        b.total_ns = collective->total_ns;
        b.communication_ns = collective->total_ns;
        b.collective = collective->ToString();
        shared = std::move(b);
      } else {
        shared = collective.status();
      }
    } else if (graph::IsLibraryKernel(kernel)) {  // sort, scatter, fused attention: library_cost.h
      absl::StatusOr<LibraryCost> library = EstimateLibraryKernel(target_, kernel);
      if (library.ok()) {
        CostBreakdown b;
        b.total_ns = library->total_ns;
        b.compute_ns = library->compute_ns;
        b.memory_ns = library->memory_ns;
        b.launch_ns = library->launch_ns;
        b.executed_flops = library->flops;
        b.library = library->formula;
        shared = std::move(b);
      } else {
        shared = library.status();
      }
    } else if (kernel.root_instruction().shape.IsTuple()) {
      shared = absl::InvalidArgumentError(absl::StrCat(
          "AnalyticalModel: kernel '", kernel.name, "' has a tuple root, which the target does not lower"));
    } else if (absl::Status opaque = UnknownCustomCall(kernel); !opaque.ok()) {
      shared = absl::Status(opaque.code(), absl::StrCat("AnalyticalModel: kernel '", kernel.name,
                                                        "': ", opaque.message()));
    } else {
      for (const Instruction& inst : kernel.instructions) {
        if (HasNoCostFormula(inst.opcode)) {
          // Custom-calls were reported above (UnknownCustomCall).
          shared = absl::UnimplementedError(absl::StrCat(
              "AnalyticalModel: kernel '", kernel.name, "' instruction '", inst.name, "' (",
              graph::HloOpcodeName(inst.opcode),
              ") has no cost formula: an opaque call, control flow or data-dependent op"));
          break;
        }
        if (absl::Status ok = CheckReduction(kernel, inst); !ok.ok()) {
          shared = ok;
          break;
        }
      }
    }
    if (!shared) facts = MakeKernelFacts(kernel);
  }
  LoopNestScratch scratch;
  const int update_lanes = ReductionUpdateLanes(target_);
  for (const tiling::TileConfig& config : configs) {
    // The kernel was validated once above, so each config needs only its own checks.
    absl::Status valid = kernel_valid.ok() ? tiling::ValidateConfig(kernel, config) : kernel_valid;
    if (!valid.ok()) {
      results.push_back(absl::InvalidArgumentError(absl::StrCat("AnalyticalModel: ", valid.message())));
    } else if (shared) {
      results.push_back(*shared);
    } else {
      results.push_back(EstimateLoopNest(target_, update_lanes, options_.num_threads, kernel, *facts,
                                         config, scratch));
    }
  }
  return results;
}

}  // namespace perfgraph::cost
