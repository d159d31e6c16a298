// INTERNAL header of target/: lowering of a graph::Kernel plus a tiling::TileConfig to a scheduled
// Halide pipeline. Includes Halide.h, so only target/*.cc may include it; the public API is
// target/halide_cpu_target.h.
//
// Lowering (one Halide Func per instruction; IR dim d of a rank-r value is Halide dimension r-1-d, so
// the row-major IR array and the dense Halide buffer share one memory layout):
//  * Element types are computed in: f32 for every floating type (f16, bf16, f64 and f8 values are
//    computed and stored as f32, so their results differ from native precision by f32 rounding), int32
//    for s4/s8/s16/s32/u4/u8/u16, int64 for u32/s64/u64, bool for pred. Buffers store the compute type,
//    except pred which is stored as uint8 (0/1). Complex types are kUnimplemented.
//  * Parameters are ImageParams (ordered by parameter_number). Splat constants are immediates, other
//    constants are buffers of seeded random data (the IR carries no constant payloads).
//  * Integer divide/remainder truncate toward zero as in XLA (Halide's own rounds toward -inf); integer
//    division by zero yields 0 (XLA: -1). reduce-precision is lowered as the identity. Shifts, popcnt
//    and count-leading-zeros of narrow integers act on the 32/64-bit compute type except clz/popcnt,
//    which use the declared width. Layouts (minor_to_major) are ignored: values are logical arrays.
//  * dot, convolution, reduce and reduce-window become an accumulator Func (pure init + one update over
//    an RDom) wrapped by a pure Func. A convolution or reduce-window with edge padding or base
//    (lhs) dilation reads a padded copy of its input (a Func over the padded, dilated index space
//    filled with 0 or the init value), so window taps are dense loads; pad, concatenate and the
//    padded copy read through clamped indices guarded by `select`, so no access leaves its buffer.
//
// Schedule (see tiling/tile_config.h for the knobs):
//  * The output Func is tiled: for every used slot i, its dim is split by tile[i] (ShiftInwards; a
//    tile equal to the extent leaves the dim unsplit); loop order, innermost first, is the three inner
//    tile loops (slot 0, 1, 2), then every other loop in natural order (outer tile loops in place of
//    their dims). The slot-0 inner loop is vectorised by vector_width. parallel_loop p parallelises
//    the outer tile loop of slot p, or its only loop when slot p is untiled.
//  * Pure non-root Funcs are inlined, except padded copies of windowed inputs, which are computed per
//    output tile like accumulators (innermost dim vectorised, GuardWithIf). Every reduction
//    accumulator is computed at the innermost outer
//    tile loop of the output (per tile; compute_root when the output has no outer loop). Its innermost
//    pure dim is vectorised by vector_width (GuardWithIf); its update runs, innermost first:
//    the vectorised pure dim, 4 unrolled rows of the second pure dim (register blocking,
//    GuardWithIf), the reduction loops, the outer loop of those rows, the other pure dims. For the primary reduction
//    (tiling::PrimaryReduction) with reduction_split s > 1, the split loop (tiling::
//    SplitReductionExtent) is split into an inner chunk of s iterations, kept in place, and an outer
//    loop placed outermost (GuardWithIf for ragged chunks).
#ifndef PERFGRAPH_TARGET_HALIDE_LOWERING_H_
#define PERFGRAPH_TARGET_HALIDE_LOWERING_H_

#include <cstdint>
#include <vector>

#include "Halide.h"
#include "absl/status/statusor.h"
#include "graph/ir.h"
#include "tiling/tile_config.h"

namespace perfgraph::target::internal {

// Halide type a value of `type` is computed in (see the file comment). kUnimplemented for complex,
// tuple, token and invalid types.
absl::StatusOr<Halide::Type> ComputeType(graph::PrimitiveType type);
// Halide type of a buffer holding a value of `type`: the compute type, uint8 for pred.
absl::StatusOr<Halide::Type> StorageType(graph::PrimitiveType type);

// Dense buffer for `shape` (Halide dims reversed) of StorageType, filled with reproducible pseudo-random
// data from `seed`: floats uniform in [-1, 1), integers uniform in [0, 8), pred 0/1 with p = 1/2.
// kInvalidArgument when the shape has more than 2^31 - 1 elements or a dim that does not fit an int32.
absl::StatusOr<Halide::Buffer<>> SeededBuffer(const graph::Shape& shape, uint64_t seed);
// Uninitialised dense buffer for `shape` of StorageType; same errors.
absl::StatusOr<Halide::Buffer<>> MakeBuffer(const graph::Shape& shape);

struct LoweredKernel {
  std::vector<Halide::ImageParam> params;  // [parameter_number]
  std::vector<graph::Shape> param_shapes;  // [parameter_number]
  Halide::Func output;                     // output Func, StorageType of the root; scheduled by
                                           // LowerKernel, not by LowerKernelUnscheduled
  graph::Shape output_shape;
};

// Lowers and schedules `kernel` with `config` (which must pass tiling::Validate; checked again here).
// `seed` drives the data of non-splat constants. Errors: kInvalidArgument (invalid kernel/config,
// inconsistent shapes or attributes, buffers too large), kUnimplemented (custom-call, tuple, gather,
// sort, complex, ... naming the instruction and opcode), kInternal (Halide rejected the pipeline).
absl::StatusOr<LoweredKernel> LowerKernel(const graph::Kernel& kernel,
                                          const tiling::TileConfig& config, uint64_t seed);

// The same lowering without any schedule: every Func keeps Halide's default schedule, so a Halide
// autoscheduler can schedule the whole pipeline (target/autoschedule.h). Funcs, Vars and RVars are
// named as in LowerKernel. Errors as LowerKernel's, except that no config is checked.
absl::StatusOr<LoweredKernel> LowerKernelUnscheduled(const graph::Kernel& kernel, uint64_t seed);

}  // namespace perfgraph::target::internal

#endif  // PERFGRAPH_TARGET_HALIDE_LOWERING_H_
