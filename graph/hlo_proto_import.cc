#include "graph/hlo_proto_import.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/wire_format_lite.h"
#include "graph/expanders.h"
#include "graph/hlo_raw_module.h"
#include "graph/status_macros.h"
#include "graph/xla_hlo.pb.h"

namespace perfgraph::graph {
namespace {

namespace xp = ::perfgraph::xla;
using hlo_internal::RawComputation;
using hlo_internal::RawInstruction;
using hlo_internal::RawModule;

// ------------------------------------------------------------------------------------------------
// Element types and literal values.

// The IR type of an XLA PrimitiveType; nullopt for the types the IR has no equivalent for.
std::optional<PrimitiveType> IrType(int type) {
  switch (type) {
    case xp::PRED:
      return PrimitiveType::kPred;
    case xp::S4:
      return PrimitiveType::kS4;
    case xp::S8:
      return PrimitiveType::kS8;
    case xp::S16:
      return PrimitiveType::kS16;
    case xp::S32:
      return PrimitiveType::kS32;
    case xp::S64:
      return PrimitiveType::kS64;
    case xp::U4:
      return PrimitiveType::kU4;
    case xp::U8:
      return PrimitiveType::kU8;
    case xp::U16:
      return PrimitiveType::kU16;
    case xp::U32:
      return PrimitiveType::kU32;
    case xp::U64:
      return PrimitiveType::kU64;
    case xp::F16:
      return PrimitiveType::kF16;
    case xp::BF16:
      return PrimitiveType::kBF16;
    case xp::F32:
      return PrimitiveType::kF32;
    case xp::F64:
      return PrimitiveType::kF64;
    case xp::F8E5M2:
      return PrimitiveType::kF8E5M2;
    case xp::F8E4M3FN:
      return PrimitiveType::kF8E4M3FN;
    case xp::F8E4M3B11FNUZ:
      return PrimitiveType::kF8E4M3B11FNUZ;
    case xp::F8E5M2FNUZ:
      return PrimitiveType::kF8E5M2FNUZ;
    case xp::F8E4M3FNUZ:
      return PrimitiveType::kF8E4M3FNUZ;
    case xp::C64:
      return PrimitiveType::kC64;
    case xp::C128:
      return PrimitiveType::kC128;
    case xp::TUPLE:
      return PrimitiveType::kTuple;
    case xp::TOKEN:
      return PrimitiveType::kToken;
    default:
      return std::nullopt;
  }
}

// "F8E3M4 (29)", or the bare number for a value the enum does not know.
std::string TypeLabel(int type) {
  const std::string& name = xp::PrimitiveType_IsValid(type)
                                ? xp::PrimitiveType_Name(static_cast<xp::PrimitiveType>(type))
                                : std::string();
  return name.empty() ? absl::StrCat(type) : absl::StrCat(name, " (", type, ")");
}

// A binary floating-point format of at most 16 bits: sign, `exponent_bits`, `mantissa_bits`.
struct NarrowFloat {
  enum class Special {
    kIeee,  // all-ones exponent: infinity (mantissa 0) or NaN (f16, bf16, f8e5m2)
    kFn,    // no infinity; all-ones exponent and mantissa is NaN (f8e4m3fn)
    kFnuz,  // no infinity, no negative zero; the sign bit alone is NaN (the *fnuz types)
  };
  int exponent_bits;
  int mantissa_bits;
  int bias;
  Special special;
};

// The narrow floating-point formats of the IR (exponent and mantissa widths from the IEEE 754 and
// OCP FP8 specifications; biases as XLA documents them in xla_data.proto).
std::optional<NarrowFloat> NarrowFormat(PrimitiveType type) {
  using S = NarrowFloat::Special;
  switch (type) {
    case PrimitiveType::kF16:
      return NarrowFloat{5, 10, 15, S::kIeee};
    case PrimitiveType::kBF16:
      return NarrowFloat{8, 7, 127, S::kIeee};
    case PrimitiveType::kF8E5M2:
      return NarrowFloat{5, 2, 15, S::kIeee};
    case PrimitiveType::kF8E4M3FN:
      return NarrowFloat{4, 3, 7, S::kFn};
    case PrimitiveType::kF8E4M3B11FNUZ:
      return NarrowFloat{4, 3, 11, S::kFnuz};
    case PrimitiveType::kF8E5M2FNUZ:
      return NarrowFloat{5, 2, 16, S::kFnuz};
    case PrimitiveType::kF8E4M3FNUZ:
      return NarrowFloat{4, 3, 8, S::kFnuz};
    default:
      return std::nullopt;
  }
}

// The value of the magnitude bits `magnitude` (sign cleared) of format `f`; NaN or infinity for
// the special encodings.
double DecodeMagnitude(uint32_t magnitude, const NarrowFloat& f) {
  const uint32_t exponent = magnitude >> f.mantissa_bits;
  const uint32_t mantissa = magnitude & ((1u << f.mantissa_bits) - 1);
  const uint32_t max_exponent = (1u << f.exponent_bits) - 1;
  if (f.special == NarrowFloat::Special::kIeee && exponent == max_exponent) {
    return mantissa == 0 ? std::numeric_limits<double>::infinity()
                         : std::numeric_limits<double>::quiet_NaN();
  }
  if (f.special == NarrowFloat::Special::kFn && exponent == max_exponent &&
      mantissa == (1u << f.mantissa_bits) - 1) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (exponent == 0) return std::ldexp(mantissa, 1 - f.bias - f.mantissa_bits);  // subnormal
  return std::ldexp(mantissa + (1u << f.mantissa_bits),
                    static_cast<int>(exponent) - f.bias - f.mantissa_bits);
}

double DecodeNarrow(uint32_t bits, const NarrowFloat& f) {
  const uint32_t sign_bit = 1u << (f.exponent_bits + f.mantissa_bits);
  const uint32_t magnitude = bits & (sign_bit - 1);
  if (f.special == NarrowFloat::Special::kFnuz && bits == sign_bit) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const double value = DecodeMagnitude(magnitude, f);
  return (bits & sign_bit) != 0 ? -value : value;
}

// The value XLA's HLO text printer writes for a floating-point element, read back as a double as
// the HLO text parser reads it, so a module's text and proto forms give the same constant (and
// kernel hash). XLA prints (RoundTripFpToString, xla/util.cc) f64 with 15 significant digits, or 17
// when 15 do not read back as the same double (so: the exact value); f32 with 6, or 9 when 6 do
// not read back as the same float (0.1f prints as 0.1, not 0.100000001490116); bf16, f16 and the
// f8 types with max_digits10 of the type (2 + floor(precision * log10(2)): bf16 4, f16 5,
// f8e4m3* 3, f8e5m2* 2), so bf16 0.1 (0.10009765625) prints as 0.1001.
double PrintedAsDouble(double value, int digits) {
  double printed = 0;
  if (!std::isfinite(value) ||
      !absl::SimpleAtod(absl::StrFormat("%.*g", digits, value), &printed)) {
    return value;
  }
  return printed;
}

double F32AsPrinted(float value) {
  const std::string six = absl::StrFormat("%.*g", 6, value);
  float back = 0;
  double printed = 0;
  if (std::isfinite(value) && absl::SimpleAtof(six, &back) && back == value &&
      absl::SimpleAtod(six, &printed)) {
    return printed;
  }
  return PrintedAsDouble(value, 9);
}

double NarrowAsPrinted(uint32_t bits, const NarrowFloat& f) {
  const int precision = f.mantissa_bits + 1;  // with the implicit bit
  return PrintedAsDouble(DecodeNarrow(bits, f), 2 + precision * 30103 / 100000);
}

// Elements of a literal as doubles, compared the way the HLO text parser compares literal values
// (every NaN equal to every NaN).
class SplatCheck {
 public:
  void Add(double value) {
    if (!any_) {
      first_ = value;
      any_ = true;
    } else if (!(value == first_ || (std::isnan(value) && std::isnan(first_)))) {
      splat_ = false;
    }
    ++count_;
  }
  int64_t count() const { return count_; }
  bool splat() const { return any_ && splat_; }
  double first() const { return first_; }

 private:
  bool any_ = false;
  bool splat_ = true;
  double first_ = 0;
  int64_t count_ = 0;
};

// attrs.constant_value of a constant of array shape `shape` with `literal`: the value when every
// element is equal, nullopt when they differ or the literal holds no elements (XLA elides large
// literals). Error message (without location) when the literal's element count contradicts the
// shape.
absl::StatusOr<std::optional<double>> SplatValue(const xp::LiteralProto& literal,
                                                 const Shape& shape) {
  if (shape.IsTuple() || shape.element_type == PrimitiveType::kToken ||
      shape.element_type == PrimitiveType::kC64 || shape.element_type == PrimitiveType::kC128) {
    return std::optional<double>();
  }
  SplatCheck check;
  std::optional<NarrowFloat> narrow = NarrowFormat(shape.element_type);
  // Narrow floats: compare exact values, convert the first one only (NarrowAsPrinted).
  std::optional<uint32_t> first_narrow_bits;
  auto bytes = [&](const std::string& data, int width, bool is_signed) {
    for (size_t i = 0; i + width <= data.size(); i += width) {
      uint32_t bits = 0;
      for (int b = 0; b < width; ++b)
        bits |= static_cast<uint32_t>(static_cast<uint8_t>(data[i + b])) << (8 * b);
      if (narrow.has_value()) {
        if (!first_narrow_bits.has_value()) first_narrow_bits = bits;
        check.Add(DecodeNarrow(bits, *narrow));
      } else if (is_signed) {
        check.Add(width == 1 ? static_cast<int8_t>(bits) : static_cast<int16_t>(bits));
      } else {
        check.Add(bits);
      }
    }
    return static_cast<int64_t>(data.size() / width);
  };
  int64_t stored = 0;
  switch (shape.element_type) {
    case PrimitiveType::kPred:
      for (bool v : literal.preds()) check.Add(v ? 1 : 0);
      stored = literal.preds_size();
      break;
    case PrimitiveType::kS4:
      // One element per byte, in the low four bits (two's complement).
      for (char c : literal.s4s())
        check.Add(static_cast<int8_t>(static_cast<uint8_t>(c) << 4) >> 4);
      stored = static_cast<int64_t>(literal.s4s().size());
      break;
    case PrimitiveType::kU4:
      for (char c : literal.u4s()) check.Add(static_cast<uint8_t>(c) & 0xf);
      stored = static_cast<int64_t>(literal.u4s().size());
      break;
    case PrimitiveType::kS8:
      stored = bytes(literal.s8s(), 1, true);
      break;
    case PrimitiveType::kU8:
      stored = bytes(literal.u8s(), 1, false);
      break;
    case PrimitiveType::kS16:
      stored = bytes(literal.s16s(), 2, true);
      break;
    case PrimitiveType::kU16:
      stored = bytes(literal.u16s(), 2, false);
      break;
    case PrimitiveType::kS32:
      for (int32_t v : literal.s32s()) check.Add(v);
      stored = literal.s32s_size();
      break;
    case PrimitiveType::kS64:
      for (int64_t v : literal.s64s()) check.Add(static_cast<double>(v));
      stored = literal.s64s_size();
      break;
    case PrimitiveType::kU32:
      for (uint32_t v : literal.u32s()) check.Add(v);
      stored = literal.u32s_size();
      break;
    case PrimitiveType::kU64:
      for (uint64_t v : literal.u64s()) check.Add(static_cast<double>(v));
      stored = literal.u64s_size();
      break;
    case PrimitiveType::kF32:
      for (float v : literal.f32s()) check.Add(v);
      stored = literal.f32s_size();
      break;
    case PrimitiveType::kF64:
      for (double v : literal.f64s()) check.Add(v);
      stored = literal.f64s_size();
      break;
    case PrimitiveType::kF16:
      stored = bytes(literal.f16s(), 2, false);
      break;
    case PrimitiveType::kBF16:
      stored = bytes(literal.bf16s(), 2, false);
      break;
    case PrimitiveType::kF8E5M2:
      stored = bytes(literal.f8e5m2s(), 1, false);
      break;
    case PrimitiveType::kF8E4M3FN:
      stored = bytes(literal.f8e4m3fns(), 1, false);
      break;
    case PrimitiveType::kF8E4M3B11FNUZ:
      stored = bytes(literal.f8e4m3b11fnuzs(), 1, false);
      break;
    case PrimitiveType::kF8E5M2FNUZ:
      stored = bytes(literal.f8e5m2fnuzs(), 1, false);
      break;
    case PrimitiveType::kF8E4M3FNUZ:
      stored = bytes(literal.f8e4m3fnuzs(), 1, false);
      break;
    default:
      return std::optional<double>();
  }
  if (stored == 0) return std::optional<double>();  // elided
  if (stored != shape.NumElements()) {
    return absl::InvalidArgumentError(absl::StrCat("constant literal holds ", stored,
                                                   " elements but its shape ", shape.ToString(),
                                                   " has ", shape.NumElements()));
  }
  if (!check.splat()) return std::optional<double>();
  if (narrow.has_value())
    return std::optional<double>(NarrowAsPrinted(*first_narrow_bits, *narrow));
  if (shape.element_type == PrimitiveType::kF32) {
    return std::optional<double>(F32AsPrinted(static_cast<float>(check.first())));
  }
  return std::optional<double>(check.first());
}

// ------------------------------------------------------------------------------------------------
// Shapes.

// Converts `proto` into `shape` as the text parser reads a shape: an array's dims and layout are
// validated (graph::Shape::Validate), an unbounded dynamic dim (INT64_MIN) becomes -1 and sets
// *unbounded (then only the layout is checked). Error message without location.
absl::Status ConvertShape(const xp::ShapeProto& proto, Shape* shape, bool* unbounded, int depth) {
  const std::optional<PrimitiveType> type = IrType(proto.element_type());
  if (!type.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "element type ", TypeLabel(proto.element_type()),
        " is not supported (supported: PRED, S4..S64, U4..U64, F16, BF16, F32, F64, F8E5M2, "
        "F8E4M3FN, F8E4M3B11FNUZ, F8E5M2FNUZ, F8E4M3FNUZ, C64, C128, TUPLE, TOKEN)"));
  }
  shape->element_type = *type;
  if (*type == PrimitiveType::kTuple) {
    if (depth >= kMaxHloNestingDepth) {
      return absl::InvalidArgumentError(
          absl::StrCat("tuple shapes nested deeper than ", kMaxHloNestingDepth));
    }
    if (proto.dimensions_size() != 0) {
      return absl::InvalidArgumentError(absl::StrCat("a TUPLE shape with ", proto.dimensions_size(),
                                                     " dimensions (tuples have none)"));
    }
    for (const xp::ShapeProto& element : proto.tuple_shapes()) {
      Shape converted;
      RETURN_IF_ERROR(ConvertShape(element, &converted, unbounded, depth + 1));
      shape->tuple_shapes.push_back(std::move(converted));
    }
    return absl::OkStatus();
  }
  bool local_unbounded = false;
  for (int64_t dim : proto.dimensions()) {
    if (dim == std::numeric_limits<int64_t>::min()) {  // XLA's Shape::kUnboundedSize
      local_unbounded = true;
      shape->dims.push_back(-1);
      continue;
    }
    if (dim < 0 || dim > kMaxDimension) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected dimension sizes in [0, 2^40], got ", dim));
    }
    shape->dims.push_back(dim);  // a dynamic dim's size is its bound, as `<=N` in text
  }
  if (proto.has_layout()) {
    shape->minor_to_major.assign(proto.layout().minor_to_major().begin(),
                                 proto.layout().minor_to_major().end());
    shape->memory_space = proto.layout().memory_space();
  }
  if (!shape->minor_to_major.empty() && shape->minor_to_major.size() != shape->dims.size()) {
    return absl::InvalidArgumentError(absl::StrCat("expected a layout with ", shape->dims.size(),
                                                   " entries, got ", shape->minor_to_major.size()));
  }
  if (local_unbounded) {
    std::vector<int64_t> sorted = shape->minor_to_major;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (sorted[i] != static_cast<int64_t>(i)) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid shape: layout {", absl::StrJoin(shape->minor_to_major, ","),
                         "} is not a permutation of its ", shape->dims.size(), " dims"));
      }
    }
    *unbounded = true;
    return absl::OkStatus();
  }
  absl::Status status = shape->Validate();
  if (!status.ok())
    return absl::InvalidArgumentError(absl::StrCat("invalid shape: ", status.message()));
  return absl::OkStatus();
}

// ------------------------------------------------------------------------------------------------
// One HloModuleProto -> RawModule -> ImportedModel.

// HLO text's name characters (graph/hlo_parser.cc): names from a proto must be valid there too.
bool IsHloName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string Quoted(absl::string_view text) {
  return absl::StrCat("'", absl::CHexEscape(text), "'");
}

class ModuleReader {
 public:
  ModuleReader(const xp::HloModuleProto& proto, absl::string_view file_name,
               const ImportOptions& options)
      : proto_(proto), file_name_(file_name), options_(options) {}

  absl::StatusOr<ImportedModel> Run() {
    int64_t count = 0;
    for (const xp::HloComputationProto& comp : proto_.computations()) {
      count += comp.instructions_size();
    }
    const int64_t limit = hlo_internal::MaxInstructions(options_);
    if (count > limit) {
      return ModuleError(absl::StrCat("has ", count, " instructions, more than ", limit,
                                      " (graph::kMaxInstructions, the import limit)"));
    }
    if (proto_.computations_size() == 0) return ModuleError("has no computations");
    RETURN_IF_ERROR(IndexComputations());
    ASSIGN_OR_RETURN(const int entry, FindEntry());
    RawModule raw;
    raw.name = proto_.name();
    raw.computations.resize(proto_.computations_size());
    for (int c = 0; c < proto_.computations_size(); ++c) {
      RETURN_IF_ERROR(ReadComputation(c, &raw));
    }
    raw.computations[entry].is_entry = true;
    raw.instruction_count = count;
    const hlo_internal::HloLocator locator = [this](size_t offset) { return Locate(offset); };
    ASSIGN_OR_RETURN(ParsedHloModule parsed,
                     hlo_internal::FinishRawModule(std::move(raw), file_name_, locator, options_));
    return std::move(parsed.model);
  }

 private:
  // Offsets (RawInstruction::offset) name computation `c` and its instruction `i` (-1: the
  // computation itself).
  static size_t Offset(int c, int i) {
    return (static_cast<size_t>(c) << 32) | static_cast<size_t>(i + 1);
  }

  std::string Locate(size_t offset) const {
    const int c = static_cast<int>(offset >> 32);
    const int i = static_cast<int>(offset & 0xffffffffu) - 1;
    if (c < 0 || c >= proto_.computations_size())
      return absl::StrCat("module ", Quoted(proto_.name()));
    const xp::HloComputationProto& comp = proto_.computations(c);
    if (i < 0 || i >= comp.instructions_size())
      return absl::StrCat("computation ", Quoted(comp.name()));
    const xp::HloInstructionProto& inst = comp.instructions(i);
    return absl::StrCat("computation ", Quoted(comp.name()), ", instruction ", Quoted(inst.name()),
                        " (id ", inst.id(), ")");
  }

  absl::Status ErrorAt(int c, int i, absl::string_view message) const {
    return absl::InvalidArgumentError(
        absl::StrCat(file_name_, ": ", Locate(Offset(c, i)), ": ", message));
  }

  absl::Status ModuleError(absl::string_view message) const {
    return absl::InvalidArgumentError(
        absl::StrCat(file_name_, ": module ", Quoted(proto_.name()), ": ", message));
  }

  absl::Status IndexComputations() {
    for (int c = 0; c < proto_.computations_size(); ++c) {
      const xp::HloComputationProto& comp = proto_.computations(c);
      if (!IsHloName(comp.name())) {
        return ErrorAt(c, -1,
                       absl::StrCat("computation id ", comp.id(), " has name ", Quoted(comp.name()),
                                    ": expected a non-empty name of [A-Za-z0-9_.-]"));
      }
      auto [it, inserted] = computation_of_id_.emplace(comp.id(), c);
      if (!inserted) {
        return ErrorAt(c, -1,
                       absl::StrCat("duplicate computation id ", comp.id(), " (also computation ",
                                    Quoted(proto_.computations(it->second).name()), ")"));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int> FindEntry() const {
    const std::string& name = proto_.entry_computation_name();
    const int64_t id = proto_.entry_computation_id();
    if (!name.empty()) {
      for (int c = 0; c < proto_.computations_size(); ++c) {
        const xp::HloComputationProto& comp = proto_.computations(c);
        if (comp.name() != name) continue;
        if (id != 0 && comp.id() != id) {
          return ModuleError(absl::StrCat("entry_computation_name ", Quoted(name),
                                          " is computation id ", comp.id(),
                                          " but entry_computation_id is ", id));
        }
        return c;
      }
      std::vector<std::string> names;
      for (const xp::HloComputationProto& comp : proto_.computations()) {
        names.push_back(absl::CHexEscape(comp.name()));
      }
      return ModuleError(
          absl::StrCat("no entry computation: entry_computation_name ", Quoted(name),
                       " names no computation (computations: ", absl::StrJoin(names, ", "), ")"));
    }
    auto it = computation_of_id_.find(id);
    if (it == computation_of_id_.end()) {
      return ModuleError(
          absl::StrCat("no entry computation: entry_computation_name is empty and "
                       "entry_computation_id ",
                       id, " names no computation"));
    }
    return it->second;
  }

  absl::Status ReadComputation(int c, RawModule* raw) {
    const xp::HloComputationProto& proto = proto_.computations(c);
    RawComputation& comp = raw->computations[c];
    comp.name = proto.name();
    comp.offset = Offset(c, -1);
    if (proto.instructions_size() == 0) return ErrorAt(c, -1, "has no instructions");
    absl::flat_hash_map<int64_t, int> index_of_id;
    for (int i = 0; i < proto.instructions_size(); ++i) {
      auto [it, inserted] = index_of_id.emplace(proto.instructions(i).id(), i);
      if (!inserted) {
        return ErrorAt(c, i,
                       absl::StrCat("duplicate instruction id ", proto.instructions(i).id(),
                                    " (also instruction ",
                                    Quoted(proto.instructions(it->second).name()), ")"));
      }
    }
    comp.instructions.resize(proto.instructions_size());
    for (int i = 0; i < proto.instructions_size(); ++i) {
      RETURN_IF_ERROR(ReadInstruction(c, i, index_of_id, &comp.instructions[i], raw));
      auto [it, inserted] = comp.by_name.emplace(comp.instructions[i].name, i);
      if (!inserted) {
        return ErrorAt(
            c, i,
            absl::StrCat("duplicate instruction name ", Quoted(comp.instructions[i].name),
                         " (also id ", proto.instructions(it->second).id(), ")"));
      }
    }
    auto root = index_of_id.find(proto.root_id());
    if (root == index_of_id.end()) {
      return ErrorAt(
          c, -1,
          absl::StrCat("root_id ", proto.root_id(), " names no instruction of the computation"));
    }
    comp.root = root->second;
    comp.instructions[comp.root].is_root = true;
    return absl::OkStatus();
  }

  absl::Status ReadInstruction(int c, int i, const absl::flat_hash_map<int64_t, int>& index_of_id,
                               RawInstruction* inst, RawModule* raw) {
    const xp::HloInstructionProto& proto = proto_.computations(c).instructions(i);
    auto error = [&](absl::string_view message) { return ErrorAt(c, i, message); };
    if (!IsHloName(proto.name())) {
      return error(absl::StrCat("instruction name ", Quoted(proto.name()),
                                ": expected a non-empty name of [A-Za-z0-9_.-]"));
    }
    inst->name = proto.name();
    inst->offset = Offset(c, i);
    inst->opcode_text = proto.opcode();
    if (proto.opcode().empty()) return error("has no opcode");
    inst->opcode = HloOpcodeFromName(proto.opcode());
    Attributes& a = inst->attrs;
    if (inst->opcode == HloOpcode::kUnknown) {
      if (!IsHloName(proto.opcode())) {
        return error(absl::StrCat("opcode ", Quoted(proto.opcode()),
                                  " is not an HLO opcode name (expected e.g. 'add', 'fusion')"));
      }
      if (!options_.allow_unsupported) {
        return absl::UnimplementedError(
            absl::StrCat(file_name_, ": ", Locate(Offset(c, i)), ": unsupported HLO opcode ",
                         Quoted(proto.opcode()),
                         " (pass --allow-unsupported to keep it as an unknown instruction)"));
      }
      a.custom_call_target = proto.opcode();
      hlo_internal::RecordUnsupported(raw, proto.opcode(), proto.name());
    }
    if (inst->opcode == HloOpcode::kFusion) raw->has_fusion = true;
    if (!proto.has_shape()) return error("has no shape");
    absl::Status shape_status =
        ConvertShape(proto.shape(), &inst->shape, &inst->has_unbounded_dim, 0);
    if (!shape_status.ok()) return error(absl::StrCat("shape: ", shape_status.message()));

    for (int k = 0; k < proto.operand_ids_size(); ++k) {
      auto it = index_of_id.find(proto.operand_ids(k));
      if (it == index_of_id.end()) {
        return error(absl::StrCat("operand ", k, " is id ", proto.operand_ids(k),
                                  ", which names no instruction of computation ",
                                  Quoted(proto_.computations(c).name())));
      }
      inst->operands.push_back(it->second);
    }
    for (int64_t id : proto.control_predecessor_ids()) {
      auto it = index_of_id.find(id);
      if (it == index_of_id.end()) {
        return error(absl::StrCat("control predecessor id ", id,
                                  " names no instruction of computation ",
                                  Quoted(proto_.computations(c).name())));
      }
      inst->control_predecessors.push_back(it->second);
    }
    RETURN_IF_ERROR(ReadCalledComputations(c, i, proto, inst));

    switch (inst->opcode) {
      case HloOpcode::kParameter:
        if (proto.parameter_number() < 0) {
          return error(
              absl::StrCat("expected a parameter number >= 0, got ", proto.parameter_number()));
        }
        a.parameter_number = proto.parameter_number();
        break;
      case HloOpcode::kGetTupleElement:
        if (proto.tuple_index() < 0) {
          return error(absl::StrCat("expected a tuple index >= 0, got ", proto.tuple_index()));
        }
        a.tuple_index = proto.tuple_index();
        break;
      case HloOpcode::kConstant:
        if (proto.has_literal() && !inst->has_unbounded_dim) {
          absl::StatusOr<std::optional<double>> value = SplatValue(proto.literal(), inst->shape);
          if (!value.ok()) return error(value.status().message());
          if (value->has_value()) a.constant_value = **value;
        }
        break;
      case HloOpcode::kFusion: {
        const std::string& kind = proto.fusion_kind();
        if (!FusionKindFromName(kind).has_value()) {
          return error(absl::StrCat("fusion_kind ", Quoted(kind),
                                    " is not one of kLoop, kInput, kOutput, kCustom"));
        }
        a.fusion_kind = kind;
        inst->has_kind = true;
        break;
      }
      default:
        break;
    }
    if (IsBatchNorm(inst->opcode)) {
      a.dimensions = {proto.feature_index()};
      if (!std::isfinite(proto.epsilon())) {
        return error(absl::StrCat("expected a finite epsilon, got ", proto.epsilon()));
      }
      // HLO text prints epsilon with absl::StrCat: 6 significant digits.
      a.constant_value = PrintedAsDouble(proto.epsilon(), 6);
    } else if (inst->opcode != HloOpcode::kReshape) {
      // A reshape's dimensions field holds its inferred_dimension, which HLO text does not keep.
      a.dimensions.assign(proto.dimensions().begin(), proto.dimensions().end());
    }
    if (proto.has_window()) {
      for (const xp::WindowDimension& w : proto.window().dimensions()) {
        WindowDimension d;
        d.size = w.size();
        d.stride = w.stride();
        d.padding_low = w.padding_low();
        d.padding_high = w.padding_high();
        d.window_dilation = w.window_dilation();
        d.base_dilation = w.base_dilation();
        d.window_reversal = w.window_reversal();
        a.window.push_back(d);
      }
    }
    if (proto.has_convolution_dimension_numbers()) {
      const xp::ConvolutionDimensionNumbers& p = proto.convolution_dimension_numbers();
      ConvolutionDimensionNumbers d;
      d.input_batch_dimension = p.input_batch_dimension();
      d.input_feature_dimension = p.input_feature_dimension();
      d.input_spatial_dimensions.assign(p.input_spatial_dimensions().begin(),
                                        p.input_spatial_dimensions().end());
      d.kernel_input_feature_dimension = p.kernel_input_feature_dimension();
      d.kernel_output_feature_dimension = p.kernel_output_feature_dimension();
      d.kernel_spatial_dimensions.assign(p.kernel_spatial_dimensions().begin(),
                                         p.kernel_spatial_dimensions().end());
      d.output_batch_dimension = p.output_batch_dimension();
      d.output_feature_dimension = p.output_feature_dimension();
      d.output_spatial_dimensions.assign(p.output_spatial_dimensions().begin(),
                                         p.output_spatial_dimensions().end());
      a.convolution_dimension_numbers = std::move(d);
    }
    if (proto.has_dot_dimension_numbers()) {
      const xp::DotDimensionNumbers& p = proto.dot_dimension_numbers();
      DotDimensionNumbers d;
      d.lhs_batch_dimensions.assign(p.lhs_batch_dimensions().begin(),
                                    p.lhs_batch_dimensions().end());
      d.rhs_batch_dimensions.assign(p.rhs_batch_dimensions().begin(),
                                    p.rhs_batch_dimensions().end());
      d.lhs_contracting_dimensions.assign(p.lhs_contracting_dimensions().begin(),
                                          p.lhs_contracting_dimensions().end());
      d.rhs_contracting_dimensions.assign(p.rhs_contracting_dimensions().begin(),
                                          p.rhs_contracting_dimensions().end());
      a.dot_dimension_numbers = std::move(d);
    }
    for (const auto& s : proto.slice_dimensions()) {
      a.slice.push_back(SliceDimension{s.start(), s.limit(), s.stride()});
    }
    if (proto.has_padding_config()) {
      for (const auto& p : proto.padding_config().dimensions()) {
        a.padding.push_back(
            PaddingDimension{p.edge_padding_low(), p.edge_padding_high(), p.interior_padding()});
      }
    }
    // proto3 cannot tell an unset count from 0; XLA's default (and HLO text's) is 1.
    a.feature_group_count = proto.feature_group_count() != 0 ? proto.feature_group_count() : 1;
    a.batch_group_count = proto.batch_group_count() != 0 ? proto.batch_group_count() : 1;
    if (!proto.comparison_direction().empty()) {
      const std::string& d = proto.comparison_direction();
      if (d == "EQ") {
        a.comparison_direction = ComparisonDirection::kEq;
      } else if (d == "NE") {
        a.comparison_direction = ComparisonDirection::kNe;
      } else if (d == "LT") {
        a.comparison_direction = ComparisonDirection::kLt;
      } else if (d == "LE") {
        a.comparison_direction = ComparisonDirection::kLe;
      } else if (d == "GT") {
        a.comparison_direction = ComparisonDirection::kGt;
      } else if (d == "GE") {
        a.comparison_direction = ComparisonDirection::kGe;
      } else {
        return error(absl::StrCat("comparison_direction ", Quoted(d),
                                  " is not one of EQ, NE, LT, LE, GT, GE"));
      }
    }
    if (!proto.custom_call_target().empty()) {
      a.custom_call_target = inst->opcode == HloOpcode::kUnknown
                                 ? absl::StrCat(proto.opcode(), ":", proto.custom_call_target())
                                 : proto.custom_call_target();
    }
    RETURN_IF_ERROR(ReadReplicaGroups(c, i, proto, &a));
    if (!proto.backend_config().empty()) {
      size_t error_offset = 0;
      absl::Status status =
          hlo_internal::InterpretBackendConfig(proto.backend_config(), inst, &error_offset);
      if (!status.ok()) {
        return error(absl::StrCat("backend_config at byte ", error_offset, ": ", status.message()));
      }
    }
    return absl::OkStatus();
  }

  // called_computation_ids -> attrs.called_computations (names, in HLO text's order) and the
  // computation whose root is reduce_computation.
  absl::Status ReadCalledComputations(int c, int i, const xp::HloInstructionProto& proto,
                                      RawInstruction* inst) const {
    std::vector<absl::string_view> names;
    for (int64_t id : proto.called_computation_ids()) {
      auto it = computation_of_id_.find(id);
      if (it == computation_of_id_.end()) {
        return ErrorAt(
            c, i,
            absl::StrCat("called computation id ", id, " names no computation of the module"));
      }
      names.push_back(proto_.computations(it->second).name());
    }
    if ((inst->opcode == HloOpcode::kFusion || inst->opcode == HloOpcode::kCall) &&
        names.size() != 1) {
      return ErrorAt(c, i,
                     absl::StrCat(proto.opcode(), " has ", names.size(),
                                  " called_computation_ids, expected 1"));
    }
    // XLA stores a while's body first (kBodyComputationIndex 0); HLO text prints
    // condition=..., body=....
    if (inst->opcode == HloOpcode::kWhile && names.size() == 2) std::swap(names[0], names[1]);
    if (hlo_internal::HasReduceComputation(inst->opcode) && !names.empty()) {
      // select-and-scatter calls (select, scatter); the others' to_apply is the only one.
      inst->reduce_computation_name =
          inst->opcode == HloOpcode::kSelectAndScatter && names.size() >= 2 ? names[1] : names[0];
    }
    for (absl::string_view name : names) inst->attrs.called_computations.emplace_back(name);
    return absl::OkStatus();
  }

  // attrs.replica_group_size: the largest replica group, or the iota list's devices per group.
  absl::Status ReadReplicaGroups(int c, int i, const xp::HloInstructionProto& proto,
                                 Attributes* a) const {
    auto largest = [](const auto& groups) {
      int64_t size = 0;
      for (const xp::ReplicaGroup& g : groups) size = std::max<int64_t>(size, g.replica_ids_size());
      return size;
    };
    if (proto.has_collective_device_list()) {
      const xp::CollectiveDeviceListProto& list = proto.collective_device_list();
      if (list.has_iota_replica_group_list()) {
        const int64_t per_group = list.iota_replica_group_list().num_devices_per_group();
        if (per_group < 0) {
          return ErrorAt(
              c, i, absl::StrCat("iota replica groups with ", per_group, " devices per group"));
        }
        a->replica_group_size = per_group;
        return absl::OkStatus();
      }
      a->replica_group_size = largest(list.replica_groups());
      return absl::OkStatus();
    }
    a->replica_group_size = largest(proto.replica_groups());
    return absl::OkStatus();
  }

  const xp::HloModuleProto& proto_;
  const std::string file_name_;
  const ImportOptions& options_;
  absl::flat_hash_map<int64_t, int> computation_of_id_;
};

// ------------------------------------------------------------------------------------------------
// Finding the modules of a file.

// An HLO opcode-like name ("add", "get-tuple-element", "custom-call"): lower-case letters, digits
// and '-', starting with a letter. Bytes of an unrelated message read as an opcode are not.
bool IsOpcodeLike(absl::string_view text) {
  if (text.empty() || text.size() > 64 ||
      !absl::ascii_islower(static_cast<unsigned char>(text[0]))) {
    return false;
  }
  for (char c : text) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '-') {
      return false;
    }
  }
  return true;
}

// Whether `module` reads as an HLO module: a computation with an instruction whose opcode is
// opcode-like. The wrong reading of a file (a wrapper read as a module, a module read as a wrapper)
// has none.
bool LooksLikeModule(const xp::HloModuleProto& module) {
  for (const xp::HloComputationProto& comp : module.computations()) {
    for (const xp::HloInstructionProto& inst : comp.instructions()) {
      if (IsOpcodeLike(inst.opcode())) return true;
    }
  }
  return false;
}

// The messages of a file and its modules (pointers into `holder`).
struct FileModules {
  std::unique_ptr<google::protobuf::Message> holder;
  std::vector<const xp::HloModuleProto*> modules;
};

bool AllLookLikeModules(const FileModules& read) {
  if (read.modules.empty()) return false;
  for (const xp::HloModuleProto* m : read.modules) {
    if (!LooksLikeModule(*m)) return false;
  }
  return true;
}

absl::Status NotAnHloProto(absl::string_view file_name, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      file_name, ": not an XLA HloModuleProto, HloProto, HloSnapshot or TpuGraphs tuning data ",
      "(ModuleTuningData, TuningData): ", why));
}

// The instructions of the largest module `depth` levels of field 1 below the message read from
// `in` (depth 0: the message is an HloModuleProto), counted on the wire. Stops early once a module
// has more than `limit`. Malformed bytes end the count (protobuf's parse then fails).
int64_t LargestModuleOnWire(google::protobuf::io::CodedInputStream& in, int depth, int64_t limit) {
  using google::protobuf::internal::WireFormatLite;
  int64_t largest = 0;
  int64_t count = 0;  // depth 0: instructions of this module
  while (largest <= limit && count <= limit) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    const int field = static_cast<int>(WireFormatLite::GetTagFieldNumber(tag));
    const bool nested =
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED &&
        (depth > 0 ? field == 1 : field == 3);  // wrapper's module; HloModuleProto.computations
    if (!nested) {
      if (!WireFormatLite::SkipField(&in, tag)) break;
      continue;
    }
    int length = 0;
    if (!in.ReadVarintSizeAsInt(&length)) break;
    const auto saved = in.PushLimit(length);
    if (depth > 0) {
      largest = std::max(largest, LargestModuleOnWire(in, depth - 1, limit));
    } else {
      // HloComputationProto: count its instructions (field 2) without reading them.
      while (count <= limit) {
        const uint32_t inner = in.ReadTag();
        if (inner == 0) break;
        if (WireFormatLite::GetTagFieldNumber(inner) == 2) ++count;
        if (!WireFormatLite::SkipField(&in, inner)) break;
      }
    }
    in.Skip(in.BytesUntilLimit());
    in.PopLimit(saved);
  }
  return std::max(largest, count);
}

absl::Status TooManyInstructions(absl::string_view file_name, int64_t limit) {
  return absl::InvalidArgumentError(
      absl::StrCat(file_name, ": a module has more than ", limit,
                   " instructions (graph::kMaxInstructions, the import limit)"));
}

absl::StatusOr<FileModules> ReadBinaryModules(absl::string_view data, absl::string_view file_name,
                                              const ImportOptions& options) {
  if (data.empty()) return NotAnHloProto(file_name, "the file is empty");
  if (data.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError(
        absl::StrCat(file_name, ": larger than 2 GiB (the protobuf limit)"));
  }
  const int64_t limit = hlo_internal::MaxInstructions(options);
  bool over_limit = false;
  bool parsed_any = false;
  // Readings, in order: an HloModuleProto; HloProto / ModuleTuningData (module in field 1);
  // HloSnapshot / TuningData (field 1 holds messages whose field 1 is a module).
  for (int depth = 0; depth <= 2; ++depth) {
    {
      google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(data.data()),
                                                static_cast<int>(data.size()));
      if (LargestModuleOnWire(in, depth, limit) > limit) {
        over_limit = true;  // an error only if no reading within the limit is a module
        continue;
      }
    }
    FileModules read;
    if (depth == 0) {
      auto module = std::make_unique<xp::HloModuleProto>();
      if (!module->ParseFromArray(data.data(), static_cast<int>(data.size()))) continue;
      read.modules.push_back(module.get());
      read.holder = std::move(module);
    } else if (depth == 1) {
      auto wrapper = std::make_unique<xp::HloProto>();
      if (!wrapper->ParseFromArray(data.data(), static_cast<int>(data.size()))) continue;
      if (wrapper->has_hlo_module()) read.modules.push_back(&wrapper->hlo_module());
      read.holder = std::move(wrapper);
    } else {
      auto wrapper = std::make_unique<xp::TuningData>();
      if (!wrapper->ParseFromArray(data.data(), static_cast<int>(data.size()))) continue;
      for (const xp::ModuleTuningData& entry : wrapper->modules()) {
        read.modules.push_back(&entry.module());
      }
      read.holder = std::move(wrapper);
    }
    parsed_any = true;
    if (AllLookLikeModules(read)) return read;
  }
  if (over_limit) return TooManyInstructions(file_name, limit);
  return NotAnHloProto(file_name, parsed_any
                                      ? "no reading of the file holds computations with "
                                        "instructions (an ONNX model must be named .onnx)"
                                      : "protobuf parsing failed (corrupt or truncated file, or "
                                        "not a protobuf)");
}

// Collects the first error of protobuf's text parser and tokenizer; warnings (skipped unknown
// fields) are dropped.
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!message_.empty()) return;
    line_ = line;
    column_ = column;
    message_ = message;
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  bool has_error() const { return !message_.empty(); }
  // "FILE:LINE:COLUMN: message" (1-based).
  absl::Status Status(absl::string_view file_name) const {
    return absl::InvalidArgumentError(
        absl::StrCat(file_name, ":", line_ + 1, ":", column_ + 1, ": ", message_));
  }

 private:
  int line_ = 0;
  int column_ = 0;
  std::string message_;
};

// `instructions` fields of a text-format proto (an identifier followed by '{', '<' or ':'),
// counted with protobuf's tokenizer (strings and `#` comments are skipped).
int64_t TextInstructionFields(absl::string_view data, int64_t limit) {
  google::protobuf::io::ArrayInputStream input(data.data(), static_cast<int>(data.size()));
  FirstError ignored;
  google::protobuf::io::Tokenizer tokenizer(&input, &ignored);
  tokenizer.set_comment_style(google::protobuf::io::Tokenizer::SH_COMMENT_STYLE);
  int64_t count = 0;
  bool after_instructions = false;
  while (count <= limit && tokenizer.Next()) {
    const google::protobuf::io::Tokenizer::Token& token = tokenizer.current();
    if (after_instructions && (token.text == "{" || token.text == "<" || token.text == ":"))
      ++count;
    after_instructions = token.type == google::protobuf::io::Tokenizer::TYPE_IDENTIFIER &&
                         token.text == "instructions";
  }
  return count;
}

absl::StatusOr<FileModules> ReadTextModules(absl::string_view data, absl::string_view file_name,
                                            const ImportOptions& options) {
  if (data.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError(
        absl::StrCat(file_name, ": larger than 2 GiB (the protobuf limit)"));
  }
  const int64_t limit = hlo_internal::MaxInstructions(options);
  if (TextInstructionFields(data, limit) > limit) return TooManyInstructions(file_name, limit);
  std::optional<absl::Status> syntax_error;
  auto parse = [&](google::protobuf::Message* message) {
    google::protobuf::TextFormat::Parser parser;
    parser.AllowUnknownField(true);  // XLA's fields this importer does not declare
    FirstError errors;
    parser.RecordErrorsTo(&errors);
    google::protobuf::io::ArrayInputStream input(data.data(), static_cast<int>(data.size()));
    if (parser.Parse(&input, message)) return true;
    if (!syntax_error.has_value() && errors.has_error()) syntax_error = errors.Status(file_name);
    return false;
  };
  // Readings in order: HloModuleProto, HloProto, HloSnapshot, ModuleTuningData, TuningData.
  for (int reading = 0; reading < 5; ++reading) {
    FileModules read;
    if (reading == 0) {
      auto m = std::make_unique<xp::HloModuleProto>();
      if (!parse(m.get())) continue;
      read.modules.push_back(m.get());
      read.holder = std::move(m);
    } else if (reading == 1) {
      auto m = std::make_unique<xp::HloProto>();
      if (!parse(m.get())) continue;
      if (m->has_hlo_module()) read.modules.push_back(&m->hlo_module());
      read.holder = std::move(m);
    } else if (reading == 2) {
      auto m = std::make_unique<xp::HloSnapshot>();
      if (!parse(m.get())) continue;
      if (m->hlo().has_hlo_module()) read.modules.push_back(&m->hlo().hlo_module());
      read.holder = std::move(m);
    } else if (reading == 3) {
      auto m = std::make_unique<xp::ModuleTuningData>();
      if (!parse(m.get())) continue;
      if (m->has_module()) read.modules.push_back(&m->module());
      read.holder = std::move(m);
    } else {
      auto m = std::make_unique<xp::TuningData>();
      if (!parse(m.get())) continue;
      for (const xp::ModuleTuningData& entry : m->modules())
        read.modules.push_back(&entry.module());
      read.holder = std::move(m);
    }
    if (AllLookLikeModules(read)) return read;
  }
  // A reading that failed went into fields it declares (readings skip the others whole): its error
  // is the file's syntax or type error.
  if (syntax_error.has_value()) return *syntax_error;
  return NotAnHloProto(file_name,
                       "no computations with instructions under the top-level fields of any of "
                       "them (name/computations, hlo_module, hlo, module, modules)");
}

absl::StatusOr<std::vector<ImportedModel>> ImportModules(absl::string_view data,
                                                         HloProtoEncoding encoding,
                                                         absl::string_view file_name,
                                                         const ImportOptions& options,
                                                         size_t max_modules) {
  ASSIGN_OR_RETURN(FileModules read, encoding == HloProtoEncoding::kBinary
                                         ? ReadBinaryModules(data, file_name, options)
                                         : ReadTextModules(data, file_name, options));
  const size_t n = std::min(read.modules.size(), max_modules);
  std::vector<ImportedModel> models;
  models.reserve(n);
  for (size_t m = 0; m < n; ++m) {
    // Messages of a file with several modules name the module's position.
    const std::string where =
        read.modules.size() == 1
            ? std::string(file_name)
            : absl::StrCat(file_name, " (module ", m + 1, " of ", read.modules.size(), ")");
    ModuleReader reader(*read.modules[m], where, options);
    ASSIGN_OR_RETURN(ImportedModel model, reader.Run());
    models.push_back(std::move(model));
  }
  return models;
}

absl::StatusOr<std::string> ReadProtoFile(const std::string& path, HloProtoEncoding encoding) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  if (std::filesystem::is_directory(path, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": is a directory, expected an HLO proto"));
  }
  // Checked before reading, so an absurd file costs neither the memory nor the time.
  const uintmax_t size = std::filesystem::file_size(path, error);
  const int64_t limit =
      encoding == HloProtoEncoding::kBinary ? kMaxHloProtoFileBytes : kMaxHloTextBytes;
  if (!error && size > static_cast<uintmax_t>(limit)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", encoding == HloProtoEncoding::kBinary ? "binary" : "text-format",
        " HLO proto of ", size, " bytes exceeds the ", limit, "-byte limit (graph::",
        encoding == HloProtoEncoding::kBinary ? "kMaxHloProtoFileBytes" : "kMaxHloTextBytes", ")"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return buffer.str();
}

}  // namespace

absl::StatusOr<std::vector<ImportedModel>> ImportHloProto(absl::string_view data,
                                                          HloProtoEncoding encoding,
                                                          absl::string_view file_name,
                                                          const ImportOptions& options) {
  return ImportModules(data, encoding, file_name, options, std::numeric_limits<size_t>::max());
}

absl::StatusOr<std::vector<ImportedModel>> ImportHloProtoFileAll(const std::string& path,
                                                                 HloProtoEncoding encoding,
                                                                 const ImportOptions& options) {
  ASSIGN_OR_RETURN(std::string data, ReadProtoFile(path, encoding));
  return ImportModules(data, encoding, path, options, std::numeric_limits<size_t>::max());
}

absl::StatusOr<ImportedModel> ImportHloProtoFile(const std::string& path, HloProtoEncoding encoding,
                                                 const ImportOptions& options) {
  ASSIGN_OR_RETURN(std::string data, ReadProtoFile(path, encoding));
  ASSIGN_OR_RETURN(std::vector<ImportedModel> models,
                   ImportModules(data, encoding, path, options, 1));
  return std::move(models.front());
}

bool LooksLikeHloTextProto(absl::string_view head) {
  size_t i = 0;
  while (i < head.size()) {  // blank lines and `#` comment lines
    if (absl::ascii_isspace(static_cast<unsigned char>(head[i]))) {
      ++i;
    } else if (head[i] == '#') {
      const size_t newline = head.find('\n', i);
      i = newline == absl::string_view::npos ? head.size() : newline + 1;
    } else {
      break;
    }
  }
  const size_t start = i;
  while (i < head.size() &&
         (absl::ascii_isalnum(static_cast<unsigned char>(head[i])) || head[i] == '_')) {
    ++i;
  }
  const absl::string_view field = head.substr(start, i - start);
  if (field.empty() || absl::ascii_isdigit(static_cast<unsigned char>(field[0]))) return false;
  while (i < head.size() && absl::ascii_isspace(static_cast<unsigned char>(head[i]))) ++i;
  if (i >= head.size()) return false;
  if (head[i] == ':') return true;
  if (head[i] != '{' && head[i] != '<') return false;
  for (absl::string_view message_field :
       {"hlo_module", "hlo", "module", "modules", "computations", "host_program_shape"}) {
    if (field == message_field) return true;
  }
  return false;
}

}  // namespace perfgraph::graph
