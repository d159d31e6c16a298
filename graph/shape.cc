#include "graph/shape.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace perfgraph::graph {
namespace {

struct TypeInfo {
  PrimitiveType type;
  absl::string_view name;
  int bits;
};

constexpr std::array<TypeInfo, kNumPrimitiveTypes> kTypes = {{
    {PrimitiveType::kInvalid, "invalid", 0},
    {PrimitiveType::kPred, "pred", 8},
    {PrimitiveType::kS4, "s4", 4},
    {PrimitiveType::kS8, "s8", 8},
    {PrimitiveType::kS16, "s16", 16},
    {PrimitiveType::kS32, "s32", 32},
    {PrimitiveType::kS64, "s64", 64},
    {PrimitiveType::kU4, "u4", 4},
    {PrimitiveType::kU8, "u8", 8},
    {PrimitiveType::kU16, "u16", 16},
    {PrimitiveType::kU32, "u32", 32},
    {PrimitiveType::kU64, "u64", 64},
    {PrimitiveType::kF16, "f16", 16},
    {PrimitiveType::kBF16, "bf16", 16},
    {PrimitiveType::kF32, "f32", 32},
    {PrimitiveType::kF64, "f64", 64},
    {PrimitiveType::kF8E5M2, "f8e5m2", 8},
    {PrimitiveType::kF8E4M3FN, "f8e4m3fn", 8},
    {PrimitiveType::kF8E4M3B11FNUZ, "f8e4m3b11fnuz", 8},
    {PrimitiveType::kF8E5M2FNUZ, "f8e5m2fnuz", 8},
    {PrimitiveType::kF8E4M3FNUZ, "f8e4m3fnuz", 8},
    {PrimitiveType::kC64, "c64", 64},
    {PrimitiveType::kC128, "c128", 128},
    {PrimitiveType::kTuple, "tuple", 0},
    {PrimitiveType::kToken, "token", 0},
}};

const TypeInfo& Info(PrimitiveType type) {
  int index = static_cast<int>(type);
  if (index < 0 || index >= kNumPrimitiveTypes) return kTypes[0];
  return kTypes[index];
}

}  // namespace

absl::string_view PrimitiveTypeName(PrimitiveType type) { return Info(type).name; }

std::optional<PrimitiveType> PrimitiveTypeFromName(absl::string_view name) {
  for (const TypeInfo& info : kTypes) {
    if (info.name == name && info.type != PrimitiveType::kInvalid) return info.type;
  }
  return std::nullopt;
}

int BitWidth(PrimitiveType type) { return Info(type).bits; }

bool IsFloatingPoint(PrimitiveType type) {
  switch (type) {
    case PrimitiveType::kF16: case PrimitiveType::kBF16: case PrimitiveType::kF32:
    case PrimitiveType::kF64: case PrimitiveType::kF8E5M2: case PrimitiveType::kF8E4M3FN:
    case PrimitiveType::kF8E4M3B11FNUZ: case PrimitiveType::kF8E5M2FNUZ:
    case PrimitiveType::kF8E4M3FNUZ:
      return true;
    default:
      return false;
  }
}

int ExponentBits(PrimitiveType type) {
  switch (type) {
    case PrimitiveType::kF16: case PrimitiveType::kF8E5M2: case PrimitiveType::kF8E5M2FNUZ:
      return 5;
    case PrimitiveType::kF8E4M3FN: case PrimitiveType::kF8E4M3B11FNUZ:
    case PrimitiveType::kF8E4M3FNUZ:
      return 4;
    case PrimitiveType::kBF16: case PrimitiveType::kF32: case PrimitiveType::kC64:
      return 8;
    case PrimitiveType::kF64: case PrimitiveType::kC128:
      return 11;
    default:
      return 0;
  }
}

bool IsUnsignedInteger(PrimitiveType type) {
  switch (type) {
    case PrimitiveType::kU4: case PrimitiveType::kU8: case PrimitiveType::kU16:
    case PrimitiveType::kU32: case PrimitiveType::kU64:
      return true;
    default:
      return false;
  }
}

bool IsInteger(PrimitiveType type) {
  switch (type) {
    case PrimitiveType::kS4: case PrimitiveType::kS8: case PrimitiveType::kS16:
    case PrimitiveType::kS32: case PrimitiveType::kS64: case PrimitiveType::kU4:
    case PrimitiveType::kU8: case PrimitiveType::kU16: case PrimitiveType::kU32:
    case PrimitiveType::kU64:
      return true;
    default:
      return false;
  }
}

int64_t Shape::NumElements() const {
  if (IsTuple()) {
    int64_t total = 0;
    for (const Shape& s : tuple_shapes) total += s.NumElements();
    return total;
  }
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

int64_t Shape::ByteSize() const {
  if (IsTuple()) {
    int64_t total = 0;
    for (const Shape& s : tuple_shapes) total += s.ByteSize();
    return total;
  }
  return (NumElements() * BitWidth(element_type) + 7) / 8;
}

std::vector<int64_t> Shape::EffectiveMinorToMajor() const {
  if (!minor_to_major.empty() || dims.empty()) return minor_to_major;
  std::vector<int64_t> layout(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) layout[i] = static_cast<int64_t>(dims.size() - 1 - i);
  return layout;
}

bool Shape::HasDefaultLayout() const {
  if (minor_to_major.empty()) return true;
  for (size_t i = 0; i < minor_to_major.size(); ++i) {
    if (minor_to_major[i] != static_cast<int64_t>(minor_to_major.size() - 1 - i)) return false;
  }
  return true;
}

std::string Shape::ToString(bool print_layout) const {
  if (IsTuple()) {
    std::vector<std::string> parts;
    parts.reserve(tuple_shapes.size());
    for (const Shape& s : tuple_shapes) parts.push_back(s.ToString(print_layout));
    return absl::StrCat("(", absl::StrJoin(parts, ", "), ")");
  }
  std::string out = absl::StrCat(PrimitiveTypeName(element_type), "[", absl::StrJoin(dims, ","), "]");
  if (print_layout && !dims.empty()) {
    absl::StrAppend(&out, "{", absl::StrJoin(EffectiveMinorToMajor(), ","));
    if (memory_space != 0) absl::StrAppend(&out, ":S(", memory_space, ")");
    absl::StrAppend(&out, "}");
  }
  return out;
}

absl::Status Shape::Validate() const {
  if (IsTuple()) {
    for (const Shape& s : tuple_shapes) {
      absl::Status status = s.Validate();
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }
  if (element_type == PrimitiveType::kInvalid) {
    return absl::InvalidArgumentError("shape has an invalid element type");
  }
  int64_t elements = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0 || dims[i] > kMaxDimension) {
      return absl::InvalidArgumentError(absl::StrCat("dimension ", i, " of shape ", ToString(false),
                                                     " is ", dims[i], ", outside [0, 2^40]"));
    }
    if (dims[i] != 0 && elements > kMaxDimension / dims[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape ", ToString(false), " has more than 2^40 elements"));
    }
    elements *= dims[i];
  }
  if (!minor_to_major.empty()) {
    std::vector<int64_t> sorted = minor_to_major;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (sorted.size() != dims.size() || sorted[i] != static_cast<int64_t>(i)) {
        return absl::InvalidArgumentError(
            absl::StrCat("layout {", absl::StrJoin(minor_to_major, ","), "} of shape ",
                         ToString(false), " is not a permutation of its ", dims.size(), " dims"));
      }
    }
  }
  return absl::OkStatus();
}

bool SameNonUnitDims(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  size_t i = 0, j = 0;
  for (;;) {
    while (i < a.size() && a[i] == 1) ++i;
    while (j < b.size() && b[j] == 1) ++j;
    if (i == a.size() || j == b.size()) return i == a.size() && j == b.size();
    if (a[i++] != b[j++]) return false;
  }
}

}  // namespace perfgraph::graph
