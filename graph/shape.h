// Static shapes of the kernel-graph IR: element type, dimensions and layout, as XLA's Shape.
#ifndef PERFGRAPH_GRAPH_SHAPE_H_
#define PERFGRAPH_GRAPH_SHAPE_H_

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"

namespace perfgraph::graph {

// Element types, named as in XLA's PrimitiveType (text names "pred", "s8", "f32", "bf16", ...).
enum class PrimitiveType : int {
  kInvalid = 0,
  kPred,
  kS4,
  kS8,
  kS16,
  kS32,
  kS64,
  kU4,
  kU8,
  kU16,
  kU32,
  kU64,
  kF16,
  kBF16,
  kF32,
  kF64,
  kF8E5M2,
  kF8E4M3FN,
  kF8E4M3B11FNUZ,
  kF8E5M2FNUZ,
  kF8E4M3FNUZ,
  kC64,
  kC128,
  kTuple,
  kToken,
};
// Number of PrimitiveType values (for one-hot features).
inline constexpr int kNumPrimitiveTypes = static_cast<int>(PrimitiveType::kToken) + 1;

// XLA text name ("f32", "bf16", "f8e4m3fn", "pred", "token"); "invalid" for kInvalid.
absl::string_view PrimitiveTypeName(PrimitiveType type);
// Inverse of PrimitiveTypeName (case-sensitive, as in HLO text); nullopt for unknown names.
std::optional<PrimitiveType> PrimitiveTypeFromName(absl::string_view name);
// Storage width of one element in bits (pred = 8 as stored by XLA, s4/u4 = 4, tuple/token = 0).
int BitWidth(PrimitiveType type);
bool IsFloatingPoint(PrimitiveType type);
// Exponent bits of a floating-point (or complex) type per IEEE 754 / the OCP FP8 spec: f16 5, bf16 8,
// f32 8, f64 11, f8e5m2* 5, f8e4m3* 4, c64 8, c128 11; 0 for integers, pred, tuple and token.
// Distinguishes types of equal width (f16 vs bf16, f8e4m3fn vs f8e5m2).
int ExponentBits(PrimitiveType type);
bool IsInteger(PrimitiveType type);  // signed or unsigned, not pred
bool IsUnsignedInteger(PrimitiveType type);  // u4, u8, u16, u32, u64

// Largest dimension or element count accepted anywhere (2^40). Real programs stay far below; bigger
// values come from corrupt files and would overflow byte counts.
inline constexpr int64_t kMaxDimension = int64_t{1} << 40;

struct Shape {
  PrimitiveType element_type = PrimitiveType::kF32;
  // Logical dimensions, major to minor as written in HLO text (f32[1,3,224,224] -> {1,3,224,224}).
  std::vector<int64_t> dims;
  // Physical layout, XLA convention: minor_to_major[0] is the fastest-varying dimension. Empty means
  // the default row-major layout {rank-1, ..., 1, 0}.
  std::vector<int64_t> minor_to_major;
  // Memory space from an HLO layout `S(n)`; 0 is default memory.
  int64_t memory_space = 0;
  // Element shapes when element_type == kTuple.
  std::vector<Shape> tuple_shapes;

  static Shape Make(PrimitiveType type, std::vector<int64_t> dims) {
    Shape s;
    s.element_type = type;
    s.dims = std::move(dims);
    return s;
  }
  static Shape Tuple(std::vector<Shape> elements) {
    Shape s;
    s.element_type = PrimitiveType::kTuple;
    s.tuple_shapes = std::move(elements);
    return s;
  }

  bool IsTuple() const { return element_type == PrimitiveType::kTuple; }
  int64_t rank() const { return static_cast<int64_t>(dims.size()); }
  // Product of dims (1 for a scalar); for a tuple, the sum over its elements.
  int64_t NumElements() const;
  // Bytes of the dense array: ceil(NumElements * BitWidth / 8); tuples sum their elements.
  int64_t ByteSize() const;
  // The layout actually in effect (minor_to_major, or the default when empty).
  std::vector<int64_t> EffectiveMinorToMajor() const;
  // True when the layout is the default row-major one.
  bool HasDefaultLayout() const;
  // HLO text: "f32[1,3,224,224]{3,2,1,0}", "(f32[2], s32[])", "pred[]".
  std::string ToString(bool print_layout = true) const;
  // OK when every dim is in [0, kMaxDimension], the element count does not exceed kMaxDimension and
  // minor_to_major (if set) is a permutation of [0, rank). The message names the offending value.
  absl::Status Validate() const;

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.element_type == b.element_type && a.dims == b.dims &&
           a.EffectiveMinorToMajor() == b.EffectiveMinorToMajor() && a.tuple_shapes == b.tuple_shapes;
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }
};

// True when two dim lists are equal once their unit dims are dropped: a reshape between them only
// inserts or removes unit dims, so its other dims map one to one (target/halide_lowering.cc lowers
// it that way, cost/analytical_model.cc bounds it that way).
bool SameNonUnitDims(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_SHAPE_H_
