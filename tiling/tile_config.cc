#include "tiling/tile_config.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "graph/hlo_opcode.h"
#include "graph/library_ops.h"
#include "graph/multi_output.h"
#include "graph/status_macros.h"

namespace perfgraph::tiling {
namespace {

using graph::HloOpcode;
using graph::Instruction;
using graph::Kernel;

// Largest tile proposed for slots 1 and 2 (outer tile dims); slot 0 goes up to kMaxTileSize.
constexpr int64_t kMaxOuterSlotTile = 64;
// Smallest power-of-two tile proposed for slot 0 when its extent allows (smaller tiles of the
// contiguous dim waste most of a vector register and a cache line).
constexpr int64_t kMinInnerSlotTile = 8;

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

float Log2(double x) { return x > 0 ? static_cast<float>(std::log2(x)) : 0.0f; }

bool IsPowerOfTwo(int64_t x) { return x > 0 && (x & (x - 1)) == 0; }

// Tile candidates of one slot (see ConfigSpace), ascending.
std::vector<int64_t> TileCandidates(int slot, int64_t extent) {
  std::vector<int64_t> sizes;
  const int64_t lo = (slot == 0 && extent >= kMinInnerSlotTile) ? kMinInnerSlotTile : 1;
  const int64_t hi = std::min(extent, slot == 0 ? kMaxTileSize : kMaxOuterSlotTile);
  for (int64_t t = lo; t <= hi; t *= 2) sizes.push_back(t);
  if (extent <= kMaxTileSize) {
    sizes.push_back(extent);
  } else {
    for (int64_t d = kMaxTileSize; d > 1; --d) {
      if (extent % d == 0) {
        sizes.push_back(d);
        break;
      }
    }
  }
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  return sizes;
}

absl::Status ConfigError(const Kernel& kernel, const TileConfig& config, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("tiling::Validate: kernel '", kernel.name,
                                                 "', config '", config.ToString(), "': ", what));
}

}  // namespace

std::string TileConfig::ToString() const {
  return absl::StrCat("tile=", absl::StrJoin(tile, ","), ";dims=", absl::StrJoin(tiled_dims, ","),
                      ";split=", reduction_split, ";vec=", vector_width, ";par=", parallel_loop);
}

absl::StatusOr<TileConfig> TileConfig::Parse(absl::string_view text) {
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("TileConfig::Parse: '", text, "': ", what,
                     " (expected e.g. 'tile=64,8,4;dims=3,2,1;split=1;vec=8;par=2')"));
  };
  std::vector<absl::string_view> fields = absl::StrSplit(text, ';');
  constexpr const char* kKeys[] = {"tile", "dims", "split", "vec", "par"};
  if (fields.size() != 5) return error(absl::StrCat("has ", fields.size(), " fields, not 5"));
  TileConfig config;
  for (int f = 0; f < 5; ++f) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(fields[f], '=');
    if (kv.first != kKeys[f]) {
      return error(absl::StrCat("field ", f + 1, " is '", fields[f], "', expected key '", kKeys[f],
                                "'"));
    }
    if (f < 2) {
      std::vector<absl::string_view> parts = absl::StrSplit(kv.second, ',');
      if (parts.size() != kMaxTiledDims) {
        return error(absl::StrCat("'", kKeys[f], "' needs ", kMaxTiledDims, " values, got '",
                                  kv.second, "'"));
      }
      for (int i = 0; i < kMaxTiledDims; ++i) {
        int64_t v;
        if (!absl::SimpleAtoi(parts[i], &v)) {
          return error(absl::StrCat("'", parts[i], "' in '", kKeys[f], "' is not an integer"));
        }
        if (f == 0) {
          config.tile[i] = v;
        } else {
          if (v < -1 || v > 1024) return error(absl::StrCat("dim ", v, " is out of range"));
          config.tiled_dims[i] = static_cast<int>(v);
        }
      }
    } else {
      int64_t v;
      if (!absl::SimpleAtoi(kv.second, &v)) {
        return error(absl::StrCat("'", kv.second, "' in '", kKeys[f], "' is not an integer"));
      }
      if (f == 2) config.reduction_split = v;
      if (f == 3) {
        if (v < 0 || v > 1024) return error(absl::StrCat("vec=", v, " is out of range"));
        config.vector_width = static_cast<int>(v);
      }
      if (f == 4) {
        if (v < -1 || v > kMaxTiledDims) return error(absl::StrCat("par=", v, " is out of range"));
        config.parallel_loop = static_cast<int>(v);
      }
    }
  }
  return config;
}

std::vector<int> TiledDims(const Kernel& kernel) {
  std::vector<int> dims;
  if (kernel.root < 0 || kernel.root >= kernel.size()) return dims;
  const graph::Shape& shape = kernel.root_instruction().shape;
  if (shape.IsTuple()) return dims;
  for (int d = static_cast<int>(shape.rank()) - 1; d >= 0 && dims.size() < kMaxTiledDims; --d) {
    if (shape.dims[d] > 1) dims.push_back(d);
  }
  return dims;
}

bool IsReductionOpcode(HloOpcode opcode) {
  return opcode == HloOpcode::kDot || opcode == HloOpcode::kConvolution ||
         opcode == HloOpcode::kReduce || opcode == HloOpcode::kReduceWindow;
}

int PrimaryReduction(const Kernel& kernel) {
  if (kernel.root < 0 || kernel.root >= kernel.size()) return -1;
  if (IsReductionOpcode(kernel.root_instruction().opcode)) return kernel.root;
  for (int i = kernel.size() - 1; i >= 0; --i) {
    if (IsReductionOpcode(kernel.instructions[i].opcode)) return i;
  }
  return -1;
}

int64_t SplitReductionExtent(const Kernel& kernel, int instruction) {
  if (instruction < 0 || instruction >= kernel.size()) return 1;
  const Instruction& inst = kernel.instructions[instruction];
  auto operand_dims = [&](int k) -> const std::vector<int64_t>* {
    if (k >= static_cast<int>(inst.operands.size())) return nullptr;
    int id = inst.operands[k];
    if (id < 0 || id >= kernel.size()) return nullptr;
    return &kernel.instructions[id].shape.dims;
  };
  auto dim_or_1 = [](const std::vector<int64_t>* dims, int64_t d) -> int64_t {
    if (dims == nullptr || d < 0 || d >= static_cast<int64_t>(dims->size())) return 1;
    return (*dims)[d];
  };
  switch (inst.opcode) {
    case HloOpcode::kDot: {
      if (!inst.attrs.dot_dimension_numbers ||
          inst.attrs.dot_dimension_numbers->lhs_contracting_dimensions.empty()) {
        return 1;
      }
      return dim_or_1(operand_dims(0),
                      inst.attrs.dot_dimension_numbers->lhs_contracting_dimensions[0]);
    }
    case HloOpcode::kConvolution: {
      if (!inst.attrs.convolution_dimension_numbers) return 1;
      return dim_or_1(operand_dims(1),
                      inst.attrs.convolution_dimension_numbers->kernel_input_feature_dimension);
    }
    case HloOpcode::kReduce: {
      int64_t best = 1;
      for (int64_t d : inst.attrs.dimensions) best = std::max(best, dim_or_1(operand_dims(0), d));
      return best;
    }
    case HloOpcode::kReduceWindow: {
      int64_t best = 1;
      for (const graph::WindowDimension& w : inst.attrs.window) best = std::max(best, w.size);
      return best;
    }
    default:
      return 1;
  }
}

// The kernel of a multi-output kernel's largest output (graph::PrimaryOutput): the loop nest the
// multi-output kernel is tiled over.
absl::StatusOr<Kernel> PrimaryOutputKernel(const Kernel& kernel) {
  ASSIGN_OR_RETURN(std::vector<Kernel> outputs, graph::OutputKernels(kernel));
  return std::move(outputs[graph::PrimaryOutput(outputs)]);
}

absl::Status Validate(const Kernel& kernel, const TileConfig& config) {
  RETURN_IF_ERROR(kernel.Validate());
  return ValidateConfig(kernel, config);
}

absl::Status ValidateConfig(const Kernel& kernel, const TileConfig& config) {
  if (graph::IsMultiOutput(kernel)) {
    absl::StatusOr<Kernel> primary = PrimaryOutputKernel(kernel);
    if (!primary.ok()) return ConfigError(kernel, config, primary.status().message());
    return Validate(*primary, config);
  }
  if (graph::IsLibraryKernel(kernel)) {  // one config: the library call decides its own schedule
    if (config == Default(kernel)) return absl::OkStatus();
    return ConfigError(kernel, config,
                       absl::StrCat("a library kernel (graph/library_ops.h) has one config, ",
                                    Default(kernel).ToString()));
  }
  const graph::Shape& shape = kernel.root_instruction().shape;
  if (shape.IsTuple()) return ConfigError(kernel, config, "the root has a tuple shape");
  int used = 0;
  while (used < kMaxTiledDims && config.tiled_dims[used] >= 0) ++used;
  for (int i = 0; i < kMaxTiledDims; ++i) {
    const int d = config.tiled_dims[i];
    if (i >= used) {
      if (d != -1) {
        return ConfigError(kernel, config,
                           absl::StrCat("slot ", i, " names dim ", d, " after an unused slot"));
      }
      if (config.tile[i] != 0) {
        return ConfigError(kernel, config,
                           absl::StrCat("unused slot ", i, " has tile ", config.tile[i], " (not 0)"));
      }
      continue;
    }
    if (d >= shape.rank()) {
      return ConfigError(kernel, config,
                         absl::StrCat("slot ", i, " names dim ", d, " but the root ",
                                      shape.ToString(false), " has rank ", shape.rank()));
    }
    for (int j = 0; j < i; ++j) {
      if (config.tiled_dims[j] == d) {
        return ConfigError(kernel, config, absl::StrCat("dim ", d, " is tiled by two slots"));
      }
    }
    if (config.tile[i] < 1 || config.tile[i] > shape.dims[d]) {
      return ConfigError(kernel, config,
                         absl::StrCat("tile ", config.tile[i], " of slot ", i, " is outside [1, ",
                                      shape.dims[d], "] (extent of root dim ", d, ")"));
    }
  }
  if (!IsPowerOfTwo(config.vector_width) || config.vector_width > 16) {
    return ConfigError(kernel, config,
                       absl::StrCat("vector width ", config.vector_width,
                                    " is not one of 1, 2, 4, 8, 16"));
  }
  const int64_t vector_limit = used > 0 ? config.tile[0] : 1;
  if (config.vector_width > vector_limit) {
    return ConfigError(kernel, config,
                       absl::StrCat("vector width ", config.vector_width,
                                    " exceeds the slot-0 tile ", vector_limit));
  }
  if (config.parallel_loop < -1 || config.parallel_loop >= used) {
    return ConfigError(kernel, config,
                       absl::StrCat("parallel loop ", config.parallel_loop,
                                    " is not -1 or a used slot (", used, " used)"));
  }
  const int primary = PrimaryReduction(kernel);
  const int64_t extent = primary >= 0 ? SplitReductionExtent(kernel, primary) : 1;
  if (config.reduction_split < 1 || (config.reduction_split > 1 && config.reduction_split >= extent)) {
    return ConfigError(kernel, config,
                       absl::StrCat("reduction split ", config.reduction_split,
                                    " is not 1 or in [2, ", extent,
                                    ") (extent of the split reduction loop",
                                    primary >= 0 ? absl::StrCat(" of '",
                                                                kernel.instructions[primary].name, "'")
                                                 : std::string(" (no reduction)"),
                                    ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TileConfig>> ConfigSpace(const Kernel& kernel) {
  RETURN_IF_ERROR(kernel.Validate());
  if (graph::IsMultiOutput(kernel)) {  // tiled over its largest output's loop nest
    ASSIGN_OR_RETURN(Kernel primary, PrimaryOutputKernel(kernel));
    return ConfigSpace(primary);
  }
  if (graph::IsLibraryKernel(kernel)) {
    return std::vector<TileConfig>{Default(kernel)};  // a library call: nothing of ours to tile
  }
  if (kernel.root_instruction().shape.IsTuple()) {
    return absl::InvalidArgumentError(absl::StrCat("tiling::ConfigSpace: kernel '", kernel.name,
                                                   "' has a tuple-shaped root"));
  }
  if (graph::IsCollective(kernel.root_instruction().opcode)) {
    return std::vector<TileConfig>{Default(kernel)};  // communication: no loop nest to tile
  }
  const std::vector<int> dims = TiledDims(kernel);
  const graph::Shape& shape = kernel.root_instruction().shape;
  std::vector<std::vector<int64_t>> candidates(kMaxTiledDims, std::vector<int64_t>{0});
  for (size_t i = 0; i < dims.size(); ++i) {
    candidates[i] = TileCandidates(static_cast<int>(i), shape.dims[dims[i]]);
  }
  std::vector<int64_t> splits;
  const int primary = PrimaryReduction(kernel);
  const int64_t extent = primary >= 0 ? SplitReductionExtent(kernel, primary) : 1;
  for (int64_t s : kReductionSplits) {
    if (s == 1 || s < extent) splits.push_back(s);
  }
  TileConfig base;
  for (size_t i = 0; i < dims.size(); ++i) base.tiled_dims[i] = dims[i];
  std::vector<TileConfig> space;
  for (int64_t t0 : candidates[0]) {
    for (int64_t t1 : candidates[1]) {
      for (int64_t t2 : candidates[2]) {
        for (int vw : kVectorWidths) {
          if (vw > std::max<int64_t>(t0, 1)) continue;
          for (int64_t s : splits) {
            for (int p = -1; p < static_cast<int>(dims.size()); ++p) {
              TileConfig c = base;
              c.tile = {t0, t1, t2};
              c.vector_width = vw;
              c.reduction_split = s;
              c.parallel_loop = p;
              space.push_back(c);
            }
          }
        }
      }
    }
  }
  return space;
}

TileConfig Default(const Kernel& kernel) {
  TileConfig config;
  if (!kernel.Validate().ok()) return config;
  if (graph::IsMultiOutput(kernel)) {
    absl::StatusOr<Kernel> primary = PrimaryOutputKernel(kernel);
    return primary.ok() ? Default(*primary) : config;
  }
  if (kernel.root_instruction().shape.IsTuple()) return config;
  const std::vector<int> dims = TiledDims(kernel);
  const graph::Shape& shape = kernel.root_instruction().shape;
  constexpr int64_t kPreferred[kMaxTiledDims] = {64, 8, 4};
  for (size_t i = 0; i < dims.size(); ++i) {
    config.tiled_dims[i] = dims[i];
    std::vector<int64_t> sizes = TileCandidates(static_cast<int>(i), shape.dims[dims[i]]);
    int64_t pick = sizes.front();
    for (int64_t t : sizes) {
      if (t <= kPreferred[i]) pick = t;
    }
    config.tile[i] = pick;
  }
  if (!dims.empty()) {
    for (int vw : {8, 4, 1}) {
      if (vw <= config.tile[0]) {
        config.vector_width = vw;
        break;
      }
    }
    config.parallel_loop = static_cast<int>(dims.size()) - 1;
  }
  return config;
}

std::vector<std::string> ConfigFeatureNames() {
  std::vector<std::string> names;
  for (int i = 0; i < kMaxTiledDims; ++i) {
    for (const char* f : {"used", "log2_tile", "tile_ratio", "log2_tiles", "divides"}) {
      names.push_back(absl::StrCat("slot", i, "_", f));
    }
  }
  for (const char* f :
       {"log2_vector_width", "log2_reduction_split", "reduction_split_ratio", "parallel_none",
        "parallel_slot0", "parallel_slot1", "parallel_slot2", "log2_tile_elements",
        "log2_num_tiles", "log2_parallel_iterations"}) {
    names.push_back(f);
  }
  return names;
}

void ConfigFeatures(const Kernel& kernel, const TileConfig& config, float* out) {
  std::fill(out, out + kNumConfigFeatures, 0.0f);
  std::vector<int64_t> root_dims;
  if (kernel.root >= 0 && kernel.root < kernel.size()) {
    root_dims = kernel.root_instruction().shape.dims;
  }
  std::vector<int64_t> tiles_per_dim = root_dims;  // untiled dims: one outer iteration per element
  double tile_elements = 1;
  double parallel_iterations = 1;
  for (int i = 0; i < kMaxTiledDims; ++i) {
    const int d = config.tiled_dims[i];
    const int64_t t = config.tile[i];
    if (d < 0 || d >= static_cast<int>(root_dims.size()) || t < 1) continue;
    const int64_t n = root_dims[d];
    const int64_t num_tiles = CeilDiv(n, t);
    float* slot = out + i * kNumSlotFeatures;
    slot[0] = 1.0f;
    slot[1] = Log2(static_cast<double>(t));
    slot[2] = n > 0 ? static_cast<float>(static_cast<double>(t) / n) : 0.0f;
    slot[3] = Log2(static_cast<double>(num_tiles));
    slot[4] = (n % t == 0) ? 1.0f : 0.0f;
    tiles_per_dim[d] = num_tiles;
    tile_elements *= static_cast<double>(t);
    if (config.parallel_loop == i) parallel_iterations = static_cast<double>(num_tiles);
  }
  double num_tiles = 1;
  for (int64_t n : tiles_per_dim) num_tiles *= static_cast<double>(std::max<int64_t>(n, 1));
  float* rest = out + kMaxTiledDims * kNumSlotFeatures;
  rest[0] = Log2(config.vector_width);
  rest[1] = Log2(static_cast<double>(config.reduction_split));
  const int primary = PrimaryReduction(kernel);
  if (primary >= 0) {
    rest[2] = static_cast<float>(static_cast<double>(config.reduction_split) /
                                 SplitReductionExtent(kernel, primary));
  }
  const int p = config.parallel_loop;
  rest[3 + ((p >= 0 && p < kMaxTiledDims) ? p + 1 : 0)] = 1.0f;
  rest[7] = Log2(tile_elements);
  rest[8] = Log2(num_tiles);
  rest[9] = Log2(parallel_iterations);
}

}  // namespace perfgraph::tiling
