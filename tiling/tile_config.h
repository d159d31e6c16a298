// Tile configurations of a kernel: the knobs the tiling task chooses, the space of valid choices and
// the fixed-length feature encoding of one choice (`config_feat`).
//
// A TileConfig describes how the kernel's root (output) instruction is scheduled:
//  * up to three "tiled dims" of the root's output shape, each split into tiles of `tile[i]` elements.
//    TiledDims(kernel) picks them: the innermost (row-major, i.e. last) output dims whose extent is
//    greater than 1, innermost first; so slot 0 is the contiguous dimension (W of an NCHW conv, N of an
//    MxN dot) and slot 1 and 2 are the next outer ones (H and C; M; ...).
//  * `vector_width`: lanes of the SIMD loop over the tile's slot-0 dimension.
//  * `parallel_loop`: which slot's outer tile loop runs in parallel over the thread pool (or none).
//  * `reduction_split`: the kernel's primary reduction (see PrimaryReduction) splits its main
//    reduction loop (SplitReductionExtent) into chunks of this many iterations; the outer chunk loop
//    runs outside the per-tile output loops, i.e. the tile is swept once per chunk (K-blocking).
// target::HalideCpuTarget documents exactly how each knob becomes a Halide schedule.
#ifndef PERFGRAPH_TILING_TILE_CONFIG_H_
#define PERFGRAPH_TILING_TILE_CONFIG_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/ir.h"

namespace perfgraph::tiling {

// Number of tiled output dims a config can name.
inline constexpr int kMaxTiledDims = 3;
// Largest tile size ConfigSpace proposes for a slot (bigger dims get a tile of at most this, or the
// whole dimension when it is no larger than this).
inline constexpr int64_t kMaxTileSize = 256;
// Vector widths ConfigSpace proposes, in f32 lanes (1 = scalar; 4 = SSE, 8 = AVX2, 16 = AVX-512).
inline constexpr std::array<int, 4> kVectorWidths = {1, 4, 8, 16};
// Reduction splits ConfigSpace proposes (1 = unsplit); a split must be smaller than the extent.
inline constexpr std::array<int64_t, 4> kReductionSplits = {1, 4, 16, 64};

struct TileConfig {
  // Root output dims (indices into root_instruction().shape.dims, major to minor numbering) of slots
  // 0..2; -1 marks an unused slot. Used slots come first and name distinct dims.
  std::array<int, kMaxTiledDims> tiled_dims = {-1, -1, -1};
  // Tile size of each used slot, in elements, in [1, extent of that dim]; a tile equal to the extent
  // leaves the dim untiled. Unused slots hold 0.
  std::array<int64_t, kMaxTiledDims> tile = {0, 0, 0};
  // Inner chunk of the primary reduction's split loop; 1 = no split. Must be 1 when the kernel has no
  // reduction and otherwise lie in [1, SplitReductionExtent).
  int64_t reduction_split = 1;
  // SIMD lanes of the slot-0 loop: 1, 2, 4, 8 or 16, at most tile[0] (1 when no slot is used).
  int vector_width = 1;
  // Slot (0..2, must be used) whose outer tile loop is parallel; -1 = everything serial.
  int parallel_loop = -1;

  // "tile=64,8,4;dims=3,2,1;split=1;vec=8;par=2" (unused slots print tile 0 and dim -1).
  std::string ToString() const;
  // Inverse of ToString: all five fields, in that order, no spaces. Error (kInvalidArgument) names
  // the text and the offending field. Parsing does not check validity for a kernel (see Validate).
  static absl::StatusOr<TileConfig> Parse(absl::string_view text);

  friend bool operator==(const TileConfig& a, const TileConfig& b) {
    return a.tiled_dims == b.tiled_dims && a.tile == b.tile &&
           a.reduction_split == b.reduction_split && a.vector_width == b.vector_width &&
           a.parallel_loop == b.parallel_loop;
  }
  friend bool operator!=(const TileConfig& a, const TileConfig& b) { return !(a == b); }
};

// The root output dims a config tiles: up to three innermost dims with extent > 1, innermost first
// (see the file comment). Empty for a scalar root or one whose dims are all 1.
std::vector<int> TiledDims(const graph::Kernel& kernel);

// True for the ops the target lowers as reductions with a reduction loop: dot, convolution, reduce,
// reduce-window.
bool IsReductionOpcode(graph::HloOpcode opcode);

// The reduction that `reduction_split` applies to: the root when it is a reduction, otherwise the
// reduction instruction with the highest id (the one feeding the root most directly); -1 if none.
int PrimaryReduction(const graph::Kernel& kernel);

// Extent of the reduction loop that `reduction_split` splits, for a reduction instruction of `kernel`:
//  dot: the first lhs contracting dim; convolution: the input features per group (kernel input
//  feature dim); reduce: the largest reduced dim; reduce-window: the largest window size.
// 1 when `instruction` is not a reduction or its attributes are missing.
int64_t SplitReductionExtent(const graph::Kernel& kernel, int instruction);

// OK when `config` is valid for `kernel` by the rules documented on each TileConfig field; also
// requires kernel.Validate() to pass. kInvalidArgument otherwise, naming the kernel, the config
// (ToString) and the violated rule with the offending value.
absl::Status Validate(const graph::Kernel& kernel, const TileConfig& config);
// Validate without the kernel.Validate() check, for callers that validated the kernel once and now
// check many configs of it (cost models estimating a whole config space). Precondition:
// kernel.Validate() is OK (otherwise the result is unspecified, but memory-safe only if the root's
// shape and the reduction attributes are consistent, which Kernel::Validate guarantees).
absl::Status ValidateConfig(const graph::Kernel& kernel, const TileConfig& config);

// Every config ConfigSpace proposes for `kernel`, in a deterministic order. Slots always use
// TiledDims(kernel). Per used slot the tile candidates are the powers of two up to
// min(extent, kMaxTileSize) for slot 0 (only those >= 8 unless the extent is < 8) and up to
// min(extent, 64) for slots 1 and 2, plus the extent itself when it is <= kMaxTileSize (untiled),
// or else the largest divisor of the extent that is <= kMaxTileSize (a tiling without ragged tiles).
// Then every vector width of kVectorWidths that is <= tile[0], every split of kReductionSplits below
// the primary reduction's SplitReductionExtent (only 1 when there is none), and parallel_loop -1 or
// any used slot. At most 8^3 * 4 * 4 * 4 = 32768 configs. Every returned config passes Validate.
// A kernel rooted at a collective (graph::IsCollective) has one config, Default(kernel): its cost is
// communication, which no tiling changes. So has a library kernel (graph::IsLibraryKernel: sort,
// scatter, fused attention, ...; Validate accepts only Default(kernel), which for a tuple-shaped
// root uses no slot): the library call schedules itself. A multi-output kernel
// (graph::IsMultiOutput) has the config space of its largest output (graph::PrimaryOutput of graph::OutputKernels), and Validate
// and Default treat it the same way. Error: kernel.Validate()'s error, or kInvalidArgument when the
// root is a tuple (other than a library kernel's).
absl::StatusOr<std::vector<TileConfig>> ConfigSpace(const graph::Kernel& kernel);

// What a simple heuristic picks (always a member of ConfigSpace for a valid kernel): tile the slots
// with the largest candidate <= 64, 8 and 4 respectively; the widest vector width <= 8 that fits
// tile[0] (8 f32 lanes = one AVX2 register); no reduction split; parallelise the outermost used slot.
// For an invalid kernel returns a config with no used slot.
TileConfig Default(const graph::Kernel& kernel);

// config_feat: fixed-length encoding of (kernel, config). For each slot i in 0..2 (unused slots are
// all zero), with n = extent of the slot's dim and t = tile[i]:
//   slot{i}_used         1
//   slot{i}_log2_tile     log2(t)
//   slot{i}_tile_ratio    t / n                       (1 = untiled)
//   slot{i}_log2_tiles    log2(ceil(n / t))           (number of tiles along the dim)
//   slot{i}_divides       1 if n % t == 0 else 0     (no ragged last tile)
// then
//   log2_vector_width         log2(vector_width)
//   log2_reduction_split      log2(reduction_split)
//   reduction_split_ratio     reduction_split / SplitReductionExtent (0 without a reduction)
//   parallel_none, parallel_slot0, parallel_slot1, parallel_slot2   one-hot of parallel_loop
//   log2_tile_elements        log2(product of used tiles)    (work of one tile's inner loops)
//   log2_num_tiles            log2(product over ALL root dims of ceil(extent / tile)), untiled dims
//                             counting their full extent (iterations of all outer loops)
//   log2_parallel_iterations  log2(ceil(n / t)) of the parallel slot (0 when serial)
inline constexpr int kNumSlotFeatures = 5;
inline constexpr int kNumConfigFeatures = kMaxTiledDims * kNumSlotFeatures + 10;
static_assert(kNumConfigFeatures == 25, "update ConfigFeatureNames() and ConfigFeatures()");

// Version of the config feature layout and semantics above, written into every model file (gnn
// checkpoint, model.json, kernels weights file) so a model is never fed features of another layout.
// Bump it whenever ConfigFeatures changes what any value means, not only when kNumConfigFeatures
// changes (a reordering or a new normalisation keeps the count). Datasets do not store config
// features (they are recomputed from the raw TileConfig when a dataset is loaded, see
// data/config_proto.h), so a bump costs retraining, never re-measuring. Model files written before
// the version existed are read as version 1. History:
//   1: the 25 features above (5 per slot, then vector width, split, parallel one-hot, tile counts).
inline constexpr int kConfigFeatureSchemaVersion = 1;

// Writes the kNumConfigFeatures values above to out[0..kNumConfigFeatures). `config` should pass
// Validate; out-of-range slot dims are encoded as unused.
void ConfigFeatures(const graph::Kernel& kernel, const TileConfig& config, float* out);
// Names of the features in order ("slot0_used", ..., "log2_parallel_iterations").
std::vector<std::string> ConfigFeatureNames();

}  // namespace perfgraph::tiling

#endif  // PERFGRAPH_TILING_TILE_CONFIG_H_
