#include "graph/hlo_parser.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/expanders.h"
#include "graph/hlo_raw_module.h"
#include "graph/status_macros.h"
#include "graph/verifier.h"

namespace perfgraph::graph {
namespace {

// The raw (textual) module, what the text says before conversion to the IR, is declared in
// graph/hlo_raw_module.h: the proto importer fills the same structures.
using hlo_internal::HasReduceComputation;
using hlo_internal::HloLocator;
using hlo_internal::MaxInstructions;
using hlo_internal::RawComputation;
using hlo_internal::RawInstruction;
using hlo_internal::RawModule;
using hlo_internal::RecordUnsupported;

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// A cuBLAS GEMM custom-call with its dot dimensions and one array result (older XLA; newer ones
// return a (result, workspace) tuple, which stays an opaque custom-call).
bool IsCublasGemm(const RawInstruction& raw) {
  return raw.opcode == HloOpcode::kCustomCall &&
         (raw.attrs.custom_call_target == "__cublas$gemm" ||
          raw.attrs.custom_call_target == "__cublas$lt$matmul") &&
         raw.gemm_dimensions.has_value() && !raw.shape.IsTuple();
}

// The integer value of `key` in a backend config, written `key = 64 : i64` (MLIR attribute
// dictionary, as TransformerEngine's typed-FFI calls print it) or `"key":"64"` / `"key":64` (JSON).
std::optional<int64_t> ConfigInteger(absl::string_view config, absl::string_view key) {
  for (size_t at = config.find(key); at != absl::string_view::npos; at = config.find(key, at + 1)) {
    const bool starts = at == 0 || !IsNameChar(config[at - 1]);
    const size_t after = at + key.size();
    if (!starts || (after < config.size() && IsNameChar(config[after]))) continue;
    size_t pos = config.find_first_not_of(" \t\"", after);
    if (pos == absl::string_view::npos || (config[pos] != '=' && config[pos] != ':')) continue;
    pos = config.find_first_not_of(" \t\"", pos + 1);
    if (pos == absl::string_view::npos) return std::nullopt;
    size_t end = pos;
    if (end < config.size() && config[end] == '-') ++end;
    while (end < config.size() && absl::ascii_isdigit(static_cast<unsigned char>(config[end]))) ++end;
    int64_t value = 0;
    if (!absl::SimpleAtoi(config.substr(pos, end - pos), &value)) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

// {B, H, H_kv, S_q, S_kv, d_qk, d_v, mask_type, window_left, window_right} (graph/library_ops.h)
// from a TransformerEngine fused-attention backend config; nullopt when one of the first eight is
// missing (the windows default to -1, unbounded).
std::optional<std::vector<int64_t>> AttentionDimensions(absl::string_view config) {
  std::vector<int64_t> dims;
  for (absl::string_view key : {"input_batch", "attn_heads", "num_gqa_groups", "q_max_seqlen",
                                "kv_max_seqlen", "qk_head_dim", "v_head_dim", "mask_type"}) {
    std::optional<int64_t> value = ConfigInteger(config, key);
    if (!value.has_value()) return std::nullopt;
    dims.push_back(*value);
  }
  dims.push_back(ConfigInteger(config, "window_size_left").value_or(-1));
  dims.push_back(ConfigInteger(config, "window_size_right").value_or(-1));
  return dims;
}

// ------------------------------------------------------------------------------------------------
// Parser: a hand-written recursive-descent reader over [begin, end) of the whole file text, so that
// positions in messages are counted in the whole file.

class Parser {
 public:
  Parser(absl::string_view text, absl::string_view file_name, size_t begin, size_t end,
         const ImportOptions& options)
      : text_(text), file_name_(file_name), pos_(begin), end_(end), options_(options) {}

  // A parser without text that finishes modules filled by another importer (FinishRawModule):
  // `locator` names the place of an offset in messages.
  Parser(absl::string_view file_name, const HloLocator& locator, const ImportOptions& options)
      : text_(), file_name_(file_name), pos_(0), end_(0), options_(options), locator_(&locator) {}

  // Finishes `module` as ParseComputation and ParseRange finish what they read: every computation
  // (parameters, order, verification, unique name), then the module.
  absl::Status FinishFilledModule(RawModule* module) {
    for (size_t c = 0; c < module->computations.size(); ++c) {
      RawComputation& comp = module->computations[c];
      RETURN_IF_ERROR(FinishComputation(&comp));
      RETURN_IF_ERROR(VerifyComputation(comp));
      if (!module->by_name.emplace(comp.name, static_cast<int>(c)).second) {
        return ErrorAt(comp.offset, absl::StrCat("duplicate computation name '", comp.name, "'"));
      }
    }
    return FinishModule(module);
  }

  // Reads every module in the range and appends it to `modules`.
  absl::Status ParseRange(std::vector<RawModule>* modules) {
    RawModule* current = nullptr;
    auto start_module = [&](size_t offset) {
      modules->emplace_back();
      current = &modules->back();
      current->offset = offset;
    };
    while (true) {
      SkipSpace();
      if (AtEnd()) break;
      const size_t start = pos_;
      if (Identifier() == "HloModule") {
        if (current != nullptr && current->computations.empty()) {
          return ErrorAt(start,
                         "expected a computation before the next HloModule header, got "
                         "'HloModule'");
        }
        if (current != nullptr) RETURN_IF_ERROR(FinishModule(current));
        start_module(start);
        ASSIGN_OR_RETURN(absl::string_view name, Name("a module name"));
        current->name = std::string(name);
        RETURN_IF_ERROR(SkipAttributes());
        continue;
      }
      pos_ = start;
      if (current == nullptr) start_module(start);
      RETURN_IF_ERROR(ParseComputation(current));
    }
    if (current != nullptr) {
      if (current->computations.empty()) {
        return ErrorAt(pos_, "expected a computation, got end of input");
      }
      RETURN_IF_ERROR(FinishModule(current));
    }
    return absl::OkStatus();
  }

 private:
  // ----- Low-level scanning -----

  bool AtEnd() const { return pos_ >= end_; }
  char Peek() const { return pos_ < end_ ? text_[pos_] : '\0'; }
  char PeekAt(size_t offset) const { return offset < end_ ? text_[offset] : '\0'; }

  // Skips whitespace, `// ...` and `/* ... */` comments.
  void SkipSpace() {
    while (pos_ < end_) {
      const char c = text_[pos_];
      if (IsSpace(c)) {
        ++pos_;
      } else if (c == '/' && PeekAt(pos_ + 1) == '/') {
        const void* nl = std::memchr(text_.data() + pos_, '\n', end_ - pos_);
        pos_ = nl == nullptr ? end_ : static_cast<const char*>(nl) - text_.data() + 1;
      } else if (c == '/' && PeekAt(pos_ + 1) == '*') {
        const size_t close = text_.substr(0, end_).find("*/", pos_ + 2);
        pos_ = close == absl::string_view::npos ? end_ : close + 2;
      } else {
        break;
      }
    }
  }

  // A run of name characters at the current position (possibly empty). Does not skip space.
  absl::string_view Identifier() {
    const size_t start = pos_;
    while (pos_ < end_ && IsNameChar(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  // [`%`]NAME after optional space; error naming `what` when absent.
  absl::StatusOr<absl::string_view> Name(absl::string_view what) {
    SkipSpace();
    const size_t start = pos_;
    if (Peek() == '%') ++pos_;
    absl::string_view name = Identifier();
    if (name.empty()) {
      pos_ = start;
      return Error(what);
    }
    return name;
  }

  // "file:line:column: <message>" for a byte offset of the text.
  absl::Status ErrorAt(size_t offset, absl::string_view message) const {
    if (locator_ != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(file_name_, ": ", (*locator_)(offset), ": ", message));
    }
    offset = std::min(offset, text_.size());
    int64_t line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < offset; ++i) {
      if (text_[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    return absl::InvalidArgumentError(
        absl::StrCat(file_name_, ":", line, ":", offset - line_start + 1, ": ", message));
  }

  // The token at `offset`, for "got '...'" (a name run, or one character), or "end of input".
  std::string TokenAt(size_t offset) const {
    if (offset >= end_) return "end of input";
    size_t stop = offset;
    while (stop < end_ && stop - offset < 40 && IsNameChar(text_[stop])) ++stop;
    if (stop == offset) stop = offset + 1;
    return absl::StrCat("'", absl::CHexEscape(text_.substr(offset, stop - offset)), "'");
  }

  // "expected <what>, got '<token>'" at the current position (after skipping space).
  absl::Status Error(absl::string_view what) {
    SkipSpace();
    return ErrorAt(pos_, absl::StrCat("expected ", what, ", got ", TokenAt(pos_)));
  }

  absl::Status Expect(char c, absl::string_view what) {
    SkipSpace();
    if (Peek() != c || AtEnd()) return Error(what);
    ++pos_;
    return absl::OkStatus();
  }

  bool TryConsume(char c) {
    SkipSpace();
    if (!AtEnd() && Peek() == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  absl::StatusOr<int64_t> Int(absl::string_view what) {
    SkipSpace();
    const size_t start = pos_;
    bool negative = false;
    if (Peek() == '-' || Peek() == '+') {
      negative = Peek() == '-';
      ++pos_;
    }
    if (!absl::ascii_isdigit(static_cast<unsigned char>(Peek())) || AtEnd()) {
      pos_ = start;
      return Error(what);
    }
    uint64_t value = 0;
    while (pos_ < end_ && absl::ascii_isdigit(static_cast<unsigned char>(text_[pos_]))) {
      const uint64_t digit = text_[pos_] - '0';
      if (value > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - digit) / 10) {
        return ErrorAt(start,
                       absl::StrCat("expected ", what, ", got an integer that overflows int64"));
      }
      value = value * 10 + digit;
      ++pos_;
    }
    const int64_t signed_value = static_cast<int64_t>(value);
    return negative ? -signed_value : signed_value;
  }

  // Skips a double-quoted string (the current character is '"'), honouring backslash escapes.
  absl::Status SkipString() {
    const size_t start = pos_;
    ++pos_;
    while (pos_ < end_) {
      const char c = text_[pos_];
      if (c == '\\') {
        pos_ += 2;
      } else if (c == '"') {
        ++pos_;
        return absl::OkStatus();
      } else {
        ++pos_;
      }
    }
    pos_ = end_;
    return ErrorAt(start, "expected a closing '\"' for this string, got end of input");
  }

  // Skips a balanced group starting at the current opening character ( [ or {, with nested groups
  // of any kind, strings and comments inside.
  absl::Status SkipBalanced() {
    const size_t start = pos_;
    int depth = 0;
    while (pos_ < end_) {
      const char c = text_[pos_];
      if (c == '"') {
        RETURN_IF_ERROR(SkipString());
        continue;
      }
      if (c == '/' && (PeekAt(pos_ + 1) == '*' || PeekAt(pos_ + 1) == '/')) {
        SkipSpace();
        continue;
      }
      ++pos_;
      if (c == '(' || c == '[' || c == '{') {
        ++depth;
      } else if (c == ')' || c == ']' || c == '}') {
        if (--depth == 0) return absl::OkStatus();
      }
    }
    return ErrorAt(start, absl::StrCat("expected a closing bracket for '", text_.substr(start, 1),
                                       "', got end of input"));
  }

  // Skips the value of an attribute that is not interpreted: everything up to a ',' or line end at
  // bracket depth 0, or an unmatched closing bracket.
  absl::Status SkipValue() {
    SkipSpace();
    const size_t start = pos_;
    while (pos_ < end_) {
      const char c = text_[pos_];
      if (c == '(' || c == '[' || c == '{') {
        RETURN_IF_ERROR(SkipBalanced());
      } else if (c == '"') {
        RETURN_IF_ERROR(SkipString());
      } else if (c == ',' || c == '\n' || c == '\r' || c == ')' || c == ']' || c == '}') {
        break;
      } else if (c == '/' && (PeekAt(pos_ + 1) == '/' || PeekAt(pos_ + 1) == '*')) {
        break;
      } else {
        ++pos_;
      }
    }
    if (pos_ == start) return Error("an attribute value");
    return absl::OkStatus();
  }

  // (`,` NAME `=` VALUE)*, values skipped (module header and computation attributes).
  absl::Status SkipAttributes() {
    while (TryConsume(',')) {
      SkipSpace();
      if (Identifier().empty()) return Error("an attribute name");
      RETURN_IF_ERROR(Expect('=', "'=' after the attribute name"));
      RETURN_IF_ERROR(SkipValue());
    }
    return absl::OkStatus();
  }

  // ----- Shapes -----

  // Parses a shape. `unbounded` is set when a dim is '?' (then the shape is not validated).
  absl::Status ParseShape(Shape* shape, bool* unbounded, int depth) {
    SkipSpace();
    const size_t start = pos_;
    if (Peek() == '(' && !AtEnd()) {
      if (depth >= kMaxHloNestingDepth) {
        return ErrorAt(start, absl::StrCat("expected at most ", kMaxHloNestingDepth,
                                           " nested tuple shapes, got deeper nesting"));
      }
      ++pos_;
      shape->element_type = PrimitiveType::kTuple;
      if (TryConsume(')')) return absl::OkStatus();
      while (true) {
        Shape element;
        RETURN_IF_ERROR(ParseShape(&element, unbounded, depth + 1));
        shape->tuple_shapes.push_back(std::move(element));
        if (TryConsume(',')) continue;
        if (TryConsume(')')) break;
        return Error("',' or ')' in a tuple shape");
      }
      return absl::OkStatus();
    }
    const absl::string_view type_name = Identifier();
    if (type_name.empty()) return Error("a shape (e.g. f32[2,3] or a tuple)");
    const std::optional<PrimitiveType> type = PrimitiveTypeFromName(type_name);
    if (!type.has_value() || *type == PrimitiveType::kTuple) {
      return ErrorAt(start,
                     absl::StrCat("expected an element type (pred, s8..s64, u8..u64, f16, bf16, "
                                  "f32, f64, f8e4m3fn, c64, token, ...), got '",
                                  absl::CHexEscape(type_name), "'"));
    }
    shape->element_type = *type;
    if (Peek() != '[' || AtEnd()) return Error(absl::StrCat("'[' after element type ", type_name));
    ++pos_;
    bool local_unbounded = false;
    if (!TryConsume(']')) {
      while (true) {
        SkipSpace();
        int64_t dim = 0;
        if (Peek() == '?' && !AtEnd()) {
          ++pos_;
          dim = -1;
          local_unbounded = true;
        } else {
          if (Peek() == '<' && PeekAt(pos_ + 1) == '=')
            pos_ += 2;  // bounded dynamic: use the bound
          ASSIGN_OR_RETURN(dim, Int("a dimension size"));
          if (dim < 0 || dim > kMaxDimension) {
            return ErrorAt(start, absl::StrCat("expected dimension sizes in [0, 2^40], got ", dim));
          }
        }
        shape->dims.push_back(dim);
        if (TryConsume(',')) continue;
        if (TryConsume(']')) break;
        return Error("',' or ']' in the dimensions of a shape");
      }
    }
    if (Peek() == '{' && !AtEnd()) RETURN_IF_ERROR(ParseLayout(shape));
    if (!shape->minor_to_major.empty() && shape->minor_to_major.size() != shape->dims.size()) {
      return ErrorAt(start, absl::StrCat("expected a layout with ", shape->dims.size(),
                                         " entries, got ", shape->minor_to_major.size()));
    }
    if (local_unbounded) {
      // Dims are checked once --input-shape resolves them; the layout can be checked now.
      std::vector<int64_t> sorted = shape->minor_to_major;
      std::sort(sorted.begin(), sorted.end());
      for (size_t i = 0; i < sorted.size(); ++i) {
        if (sorted[i] != static_cast<int64_t>(i)) {
          return ErrorAt(start, absl::StrCat("invalid shape: layout {",
                                             absl::StrJoin(shape->minor_to_major, ","),
                                             "} is not a permutation of its ",
                                             shape->dims.size(), " dims"));
        }
      }
      *unbounded = true;
      return absl::OkStatus();
    }
    absl::Status status = shape->Validate();
    if (!status.ok()) return ErrorAt(start, absl::StrCat("invalid shape: ", status.message()));
    return absl::OkStatus();
  }

  // `{` minor_to_major [`:` items] `}` at the current '{'.
  absl::Status ParseLayout(Shape* shape) {
    ++pos_;
    SkipSpace();
    if (Peek() != ':' && Peek() != '}') {
      while (true) {
        ASSIGN_OR_RETURN(int64_t dim, Int("a layout dimension"));
        shape->minor_to_major.push_back(dim);
        if (TryConsume(',')) continue;
        break;
      }
    }
    if (TryConsume(':')) {
      while (true) {
        SkipSpace();
        const char c = Peek();
        if (AtEnd()) return Error("'}' closing the layout");
        if (c == '}') break;
        if (c == 'S' && PeekAt(pos_ + 1) == '(') {
          pos_ += 2;
          ASSIGN_OR_RETURN(shape->memory_space, Int("a memory space"));
          RETURN_IF_ERROR(Expect(')', "')' after the memory space"));
        } else if (absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '#' || c == '*') {
          ++pos_;
          while (absl::ascii_isalpha(static_cast<unsigned char>(Peek())) && !AtEnd()) ++pos_;
        } else if (c == '(') {
          RETURN_IF_ERROR(SkipBalanced());  // tile or other item arguments
        } else {
          return Error("a layout item (T(..), S(n), E(n), ...) or '}'");
        }
      }
    }
    return Expect('}', "',' or '}' in the layout");
  }

  // Skips a shape quickly (typed operands, signature return type): tuple parens or TYPE[...]{...}.
  absl::Status SkipShape() {
    SkipSpace();
    if (Peek() == '(' && !AtEnd()) return SkipBalanced();
    if (Identifier().empty()) return Error("a shape");
    if (Peek() != '[' || AtEnd()) return Error("'[' after the element type");
    RETURN_IF_ERROR(SkipBalanced());
    if (Peek() == '{' && !AtEnd()) RETURN_IF_ERROR(SkipBalanced());
    return absl::OkStatus();
  }

  // ----- Computations and instructions -----

  absl::Status ParseComputation(RawModule* module) {
    SkipSpace();
    const size_t start = pos_;
    RawComputation comp;
    comp.offset = start;
    if (Identifier() == "ENTRY") {
      comp.is_entry = true;
    } else {
      pos_ = start;
    }
    ASSIGN_OR_RETURN(comp.name, Name(comp.is_entry ? "a computation name after ENTRY"
                                                   : "HloModule, ENTRY or a computation name"));
    SkipSpace();
    if (Peek() == '(' && !AtEnd()) {  // signature (p0: f32[2], ...) -> shape
      RETURN_IF_ERROR(SkipBalanced());
      SkipSpace();
      if (Peek() != '-' || PeekAt(pos_ + 1) != '>')
        return Error("'->' after the computation signature");
      pos_ += 2;
      RETURN_IF_ERROR(SkipShape());
    }
    RETURN_IF_ERROR(Expect('{', absl::StrCat("'{' opening computation '", comp.name, "'")));
    while (true) {
      SkipSpace();
      if (AtEnd()) {
        return Error(absl::StrCat("an instruction or '}' closing computation '", comp.name, "'"));
      }
      if (Peek() == '}') {
        ++pos_;
        break;
      }
      RETURN_IF_ERROR(ParseInstruction(&comp, module));
    }
    RETURN_IF_ERROR(SkipAttributes());  // e.g. execution_thread="..."
    RETURN_IF_ERROR(FinishComputation(&comp));
    RETURN_IF_ERROR(VerifyComputation(comp));
    if (!module->by_name.emplace(comp.name, static_cast<int>(module->computations.size())).second) {
      return ErrorAt(comp.offset, absl::StrCat("duplicate computation name '", comp.name, "'"));
    }
    module->computations.push_back(std::move(comp));
    return absl::OkStatus();
  }

  absl::Status ParseInstruction(RawComputation* comp, RawModule* module) {
    RawInstruction inst;
    const size_t start = pos_;
    if (Identifier() == "ROOT") {
      SkipSpace();
      if (Peek() == '=') {
        pos_ = start;  // an instruction named ROOT
      } else {
        inst.is_root = true;
      }
    } else {
      pos_ = start;
    }
    SkipSpace();
    inst.offset = pos_;
    ASSIGN_OR_RETURN(inst.name, Name("an instruction name (or '}' closing the computation)"));
    RETURN_IF_ERROR(Expect('=', absl::StrCat("'=' after instruction name '", inst.name, "'")));
    RETURN_IF_ERROR(ParseShape(&inst.shape, &inst.has_unbounded_dim, 0));
    SkipSpace();
    const size_t opcode_offset = pos_;
    inst.opcode_text = Identifier();
    if (inst.opcode_text.empty()) return Error("an opcode");
    inst.opcode = HloOpcodeFromName(inst.opcode_text);
    if (inst.opcode == HloOpcode::kUnknown) {
      if (!options_.allow_unsupported) {
        return absl::UnimplementedError(
            absl::StrCat(ErrorAt(opcode_offset, "").message(), "unsupported HLO opcode '",
                         absl::CHexEscape(inst.opcode_text),
                         "' (pass --allow-unsupported to keep it as an unknown instruction)"));
      }
      inst.attrs.custom_call_target = std::string(inst.opcode_text);
      RecordUnsupported(module, inst.opcode_text, inst.name);
    }
    if (inst.opcode == HloOpcode::kFusion) module->has_fusion = true;
    RETURN_IF_ERROR(Expect('(', absl::StrCat("'(' after opcode ", inst.opcode_text)));
    if (inst.opcode == HloOpcode::kParameter) {
      ASSIGN_OR_RETURN(inst.attrs.parameter_number, Int("a parameter number"));
      if (inst.attrs.parameter_number < 0) {
        return ErrorAt(inst.offset, absl::StrCat("expected a parameter number >= 0, got ",
                                                 inst.attrs.parameter_number));
      }
      RETURN_IF_ERROR(Expect(')', "')' after the parameter number"));
    } else if (inst.opcode == HloOpcode::kConstant) {
      RETURN_IF_ERROR(ParseLiteral(&inst));
    } else if (!TryConsume(')')) {
      while (true) {
        RETURN_IF_ERROR(ParseOperand(&inst));
        if (TryConsume(',')) continue;
        if (TryConsume(')')) break;
        return Error("',' or ')' after an operand");
      }
    }
    while (TryConsume(',')) RETURN_IF_ERROR(ParseAttribute(&inst));
    if (!comp->by_name.emplace(inst.name, static_cast<int>(comp->instructions.size())).second) {
      return ErrorAt(inst.offset, absl::StrCat("duplicate instruction name '", inst.name,
                                               "' in computation '", comp->name, "'"));
    }
    if (inst.is_root) {
      if (comp->root >= 0) {
        return ErrorAt(inst.offset, absl::StrCat("second ROOT instruction '", inst.name,
                                                 "' in computation '", comp->name, "'"));
      }
      comp->root = static_cast<int>(comp->instructions.size());
    }
    if (++module->instruction_count > MaxInstructions(options_)) {
      return ErrorAt(inst.offset,
                     absl::StrCat("module '", module->name, "' has more than ",
                                  MaxInstructions(options_),
                                  " instructions (graph::kMaxInstructions, the import limit)"));
    }
    comp->instructions.push_back(std::move(inst));
    return absl::OkStatus();
  }

  // [shape] [%]NAME
  absl::Status ParseOperand(RawInstruction* inst) {
    SkipSpace();
    const size_t start = pos_;
    if (Peek() == '(' && !AtEnd()) {
      RETURN_IF_ERROR(SkipShape());
    } else if (Peek() != '%') {
      const absl::string_view word = Identifier();
      if (word.empty()) return Error("an operand");
      if (Peek() == '[' && !AtEnd() && PrimitiveTypeFromName(word).has_value()) {
        pos_ = start;
        RETURN_IF_ERROR(SkipShape());
      } else {
        inst->operand_names.push_back(word);
        inst->operand_offsets.push_back(start);
        return absl::OkStatus();
      }
    }
    SkipSpace();
    const size_t name_offset = pos_;
    ASSIGN_OR_RETURN(absl::string_view name, Name("an operand name"));
    inst->operand_names.push_back(name);
    inst->operand_offsets.push_back(name_offset);
    return absl::OkStatus();
  }

  // The literal of constant(...), after '('. Sets constant_value for splats.
  absl::Status ParseLiteral(RawInstruction* inst) {
    const size_t start = pos_;
    int depth = 0;
    while (true) {
      if (AtEnd())
        return ErrorAt(start, "expected ')' closing the constant literal, got end of input");
      const char c = text_[pos_];
      if (c == '(' || c == '{' || c == '[') {
        ++depth;
      } else if (c == ')' || c == '}' || c == ']') {
        if (depth == 0) {
          if (c != ')') return Error("')' closing the constant literal");
          break;
        }
        --depth;
      }
      ++pos_;
    }
    const absl::string_view literal = text_.substr(start, pos_ - start);
    ++pos_;  // ')'
    const bool scalar_kind = !inst->shape.IsTuple() &&
                             inst->shape.element_type != PrimitiveType::kC64 &&
                             inst->shape.element_type != PrimitiveType::kC128;
    bool splat = true;
    bool any = false;
    double first = 0;
    size_t i = 0;
    auto is_delim = [](char c) {
      return IsSpace(c) || c == ',' || c == '{' || c == '}' || c == '(' || c == ')' || c == '[' ||
             c == ']' || c == ':';
    };
    while (i < literal.size()) {
      if (is_delim(literal[i])) {
        ++i;
        continue;
      }
      if (literal[i] == '/' && i + 1 < literal.size() && literal[i + 1] == '*') {  // /*index=5*/
        const size_t close = literal.find("*/", i + 2);
        i = close == absl::string_view::npos ? literal.size() : close + 2;
        continue;
      }
      size_t j = i;
      while (j < literal.size() && !is_delim(literal[j])) ++j;
      const absl::string_view token = literal.substr(i, j - i);
      double value = 0;
      bool known = true;
      if (token == "true") {
        value = 1;
      } else if (token == "false") {
        value = 0;
      } else if (token == "inf" || token == "+inf") {
        value = std::numeric_limits<double>::infinity();
      } else if (token == "-inf") {
        value = -std::numeric_limits<double>::infinity();
      } else if (token == "nan" || token == "-nan" || token == "+nan") {
        value = std::numeric_limits<double>::quiet_NaN();
        if (j < literal.size() && literal[j] == '(') {  // nan(0x...) payload
          const size_t close = literal.find(')', j);
          j = close == absl::string_view::npos ? literal.size() : close + 1;
        }
      } else if (token == "...") {
        known = false;  // XLA elides large literals as {...}
        splat = false;
      } else if (!absl::SimpleAtod(token, &value)) {
        return ErrorAt(start + i,
                       absl::StrCat("expected a literal value (number, true, false, inf, "
                                    "nan), got '",
                                    absl::CHexEscape(token), "'"));
      }
      if (known) {
        if (!any) {
          first = value;
          any = true;
        } else if (!(value == first || (std::isnan(value) && std::isnan(first)))) {
          splat = false;
        }
      }
      i = j;
    }
    if (scalar_kind && any && splat) inst->attrs.constant_value = first;
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<int64_t>> IntList() {
    std::vector<int64_t> values;
    RETURN_IF_ERROR(Expect('{', "'{' opening a list of integers"));
    if (TryConsume('}')) return values;
    while (true) {
      ASSIGN_OR_RETURN(int64_t v, Int("an integer"));
      values.push_back(v);
      if (TryConsume(',')) continue;
      if (TryConsume('}')) break;
      return Error("',' or '}' in a list of integers");
    }
    return values;
  }

  absl::Status NameList(std::vector<absl::string_view>* names, std::vector<size_t>* offsets) {
    RETURN_IF_ERROR(Expect('{', "'{' opening a list of names"));
    if (TryConsume('}')) return absl::OkStatus();
    while (true) {
      SkipSpace();
      if (offsets != nullptr) offsets->push_back(pos_);
      ASSIGN_OR_RETURN(absl::string_view name, Name("a name"));
      names->push_back(name);
      if (TryConsume(',')) continue;
      if (TryConsume('}')) break;
      return Error("',' or '}' in a list of names");
    }
    return absl::OkStatus();
  }

  // N (`x` N)* with `sep`-joined groups, e.g. "3x3" (group 1) or "1_1x0_2" (group 2).
  absl::StatusOr<std::vector<std::vector<int64_t>>> XList(int min_group, int max_group,
                                                          absl::string_view what) {
    std::vector<std::vector<int64_t>> groups;
    while (true) {
      std::vector<int64_t> group;
      while (true) {
        ASSIGN_OR_RETURN(int64_t v, Int(what));
        group.push_back(v);
        if (Peek() == '_' && static_cast<int>(group.size()) < max_group) {
          ++pos_;
          continue;
        }
        break;
      }
      if (static_cast<int>(group.size()) < min_group) {
        return Error(absl::StrCat("'_' and the next number of ", what));
      }
      groups.push_back(std::move(group));
      if (Peek() == 'x' && !AtEnd()) {
        ++pos_;
        continue;
      }
      break;
    }
    return groups;
  }

  absl::Status ParseWindow(Attributes* attrs) {
    RETURN_IF_ERROR(Expect('{', "'{' opening the window"));
    std::vector<int64_t> size, stride, lhs_dilate, rhs_dilate, reversal;
    std::vector<std::vector<int64_t>> pad;
    size_t count = 0;
    while (true) {
      SkipSpace();
      if (AtEnd()) return Error("'}' closing the window");
      if (Peek() == '}') {
        ++pos_;
        break;
      }
      const size_t key_offset = pos_;
      const absl::string_view key = Identifier();
      RETURN_IF_ERROR(Expect('=', "'=' after a window field"));
      auto flat = [&](std::vector<int64_t>* out) -> absl::Status {
        ASSIGN_OR_RETURN(auto groups, XList(1, 1, absl::StrCat("window ", key)));
        for (const auto& g : groups) out->push_back(g[0]);
        count = std::max(count, out->size());
        return absl::OkStatus();
      };
      if (key == "size") {
        RETURN_IF_ERROR(flat(&size));
      } else if (key == "stride") {
        RETURN_IF_ERROR(flat(&stride));
      } else if (key == "lhs_dilate") {
        RETURN_IF_ERROR(flat(&lhs_dilate));
      } else if (key == "rhs_dilate") {
        RETURN_IF_ERROR(flat(&rhs_dilate));
      } else if (key == "rhs_reversal") {
        RETURN_IF_ERROR(flat(&reversal));
      } else if (key == "pad") {
        ASSIGN_OR_RETURN(pad, XList(2, 2, "window pad"));
        count = std::max(count, pad.size());
      } else {
        return ErrorAt(key_offset, absl::StrCat("expected a window field (size, stride, pad, "
                                                "lhs_dilate, rhs_dilate, rhs_reversal), got ",
                                                TokenAt(key_offset)));
      }
    }
    auto check = [&](size_t n, absl::string_view field) -> absl::Status {
      if (n != 0 && n != count) {
        return Error(absl::StrCat("window fields of equal length (", field, " has ", n,
                                  ", another ", count, ") before"));
      }
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(check(size.size(), "size"));
    RETURN_IF_ERROR(check(stride.size(), "stride"));
    RETURN_IF_ERROR(check(pad.size(), "pad"));
    RETURN_IF_ERROR(check(lhs_dilate.size(), "lhs_dilate"));
    RETURN_IF_ERROR(check(rhs_dilate.size(), "rhs_dilate"));
    RETURN_IF_ERROR(check(reversal.size(), "rhs_reversal"));
    attrs->window.assign(count, WindowDimension{});
    for (size_t i = 0; i < count; ++i) {
      WindowDimension& w = attrs->window[i];
      if (!size.empty()) w.size = size[i];
      if (!stride.empty()) w.stride = stride[i];
      if (!pad.empty()) {
        w.padding_low = pad[i][0];
        w.padding_high = pad[i][1];
      }
      if (!lhs_dilate.empty()) w.base_dilation = lhs_dilate[i];
      if (!rhs_dilate.empty()) w.window_dilation = rhs_dilate[i];
      if (!reversal.empty()) w.window_reversal = reversal[i] != 0;
    }
    return absl::OkStatus();
  }

  // dim_labels=b01f_01io->b01f
  absl::Status ParseDimLabels(Attributes* attrs) {
    SkipSpace();
    const size_t start = pos_;
    while (pos_ < end_ && (IsNameChar(text_[pos_]) || text_[pos_] == '>')) ++pos_;
    const absl::string_view labels = text_.substr(start, pos_ - start);
    auto bad = [&](absl::string_view why) {
      return ErrorAt(start, absl::StrCat("expected dim_labels like b01f_01io->b01f, got '",
                                         absl::CHexEscape(labels), "' (", why, ")"));
    };
    const size_t arrow = labels.find("->");
    if (arrow == absl::string_view::npos) return bad("no '->'");
    const absl::string_view lhs = labels.substr(0, arrow);
    const absl::string_view out = labels.substr(arrow + 2);
    const size_t underscore = lhs.find('_');
    if (underscore == absl::string_view::npos) return bad("no '_'");
    const absl::string_view in = lhs.substr(0, underscore);
    const absl::string_view kernel = lhs.substr(underscore + 1);
    const size_t num_spatial = in.size() >= 2 ? in.size() - 2 : 0;
    if (in.size() < 2 || kernel.size() != in.size() || out.size() != in.size() || num_spatial > 9) {
      return bad("the three parts must have equal rank >= 2");
    }
    // Decodes one part: `a` and `b` are the two non-spatial labels.
    auto decode = [&](absl::string_view part, char a, char b, int64_t* a_dim, int64_t* b_dim,
                      std::vector<int64_t>* spatial) -> bool {
      *a_dim = -1;
      *b_dim = -1;
      spatial->assign(num_spatial, -1);
      for (size_t i = 0; i < part.size(); ++i) {
        const char c = part[i];
        if (c == a && *a_dim < 0) {
          *a_dim = static_cast<int64_t>(i);
        } else if (c == b && *b_dim < 0) {
          *b_dim = static_cast<int64_t>(i);
        } else if (c >= '0' && c <= '9' && static_cast<size_t>(c - '0') < num_spatial &&
                   (*spatial)[c - '0'] < 0) {
          (*spatial)[c - '0'] = static_cast<int64_t>(i);
        } else {
          return false;
        }
      }
      return *a_dim >= 0 && *b_dim >= 0;
    };
    ConvolutionDimensionNumbers d;
    if (!decode(in, 'b', 'f', &d.input_batch_dimension, &d.input_feature_dimension,
                &d.input_spatial_dimensions)) {
      return bad("input part needs b, f and spatial digits 0..n-1 once each");
    }
    if (!decode(kernel, 'i', 'o', &d.kernel_input_feature_dimension,
                &d.kernel_output_feature_dimension, &d.kernel_spatial_dimensions)) {
      return bad("kernel part needs i, o and spatial digits 0..n-1 once each");
    }
    if (!decode(out, 'b', 'f', &d.output_batch_dimension, &d.output_feature_dimension,
                &d.output_spatial_dimensions)) {
      return bad("output part needs b, f and spatial digits 0..n-1 once each");
    }
    attrs->convolution_dimension_numbers = std::move(d);
    return absl::OkStatus();
  }

  absl::Status ParseSlice(Attributes* attrs) {
    RETURN_IF_ERROR(Expect('{', "'{' opening the slice"));
    if (TryConsume('}')) return absl::OkStatus();
    while (true) {
      RETURN_IF_ERROR(Expect('[', "'[' opening a slice dimension"));
      SliceDimension d;
      ASSIGN_OR_RETURN(d.start, Int("a slice start"));
      RETURN_IF_ERROR(Expect(':', "':' after the slice start"));
      ASSIGN_OR_RETURN(d.limit, Int("a slice limit"));
      if (TryConsume(':')) {
        ASSIGN_OR_RETURN(d.stride, Int("a slice stride"));
      }
      RETURN_IF_ERROR(Expect(']', "']' closing a slice dimension"));
      attrs->slice.push_back(d);
      if (TryConsume(',')) continue;
      if (TryConsume('}')) break;
      return Error("',' or '}' in the slice");
    }
    return absl::OkStatus();
  }

  // replica_groups: "{}" (every device: 0), "{{0,1,2,3},{4,5,6,7}}" (the largest group's size) or
  // the iota form "[G,S]<=[N]" / "[G,S]<=[a,b]T(1,0)" (S, the devices per group).
  absl::StatusOr<int64_t> ReplicaGroupSize() {
    SkipSpace();
    if (TryConsume('[')) {
      std::vector<int64_t> dims;
      do {
        ASSIGN_OR_RETURN(int64_t d, Int("a replica group dimension"));
        if (d < 1) return Error("replica group dimensions >= 1");
        dims.push_back(d);
      } while (TryConsume(','));
      RETURN_IF_ERROR(Expect(']', "']' after the replica group dimensions"));
      RETURN_IF_ERROR(SkipValue());  // "<=[N]" and an optional transpose
      return dims.back();
    }
    RETURN_IF_ERROR(Expect('{', "'{' or '[' starting replica_groups"));
    int64_t largest = 0;
    if (TryConsume('}')) return largest;
    do {
      RETURN_IF_ERROR(Expect('{', "'{' starting a replica group"));
      int64_t size = 0;
      if (!TryConsume('}')) {
        do {
          ASSIGN_OR_RETURN(int64_t device, Int("a device id in a replica group"));
          if (device < 0) return Error("device ids >= 0 in a replica group");
          ++size;
        } while (TryConsume(','));
        RETURN_IF_ERROR(Expect('}', "'}' or ',' in a replica group"));
      }
      largest = std::max(largest, size);
    } while (TryConsume(','));
    RETURN_IF_ERROR(Expect('}', "'}' closing replica_groups"));
    return largest;
  }

  absl::Status ParseAttribute(RawInstruction* inst) {
    SkipSpace();
    const size_t key_offset = pos_;
    const absl::string_view key = Identifier();
    if (key.empty()) return Error("an attribute name");
    RETURN_IF_ERROR(Expect('=', absl::StrCat("'=' after attribute name '", key, "'")));
    Attributes& a = inst->attrs;
    if (key == "backend_config") {
      const size_t start = pos_;
      RETURN_IF_ERROR(SkipValue());
      const absl::string_view config = text_.substr(start, pos_ - start);
      size_t error_offset = 0;
      absl::Status status = hlo_internal::InterpretBackendConfig(config, inst, &error_offset);
      if (!status.ok()) return ErrorAt(start + error_offset, status.message());
      return absl::OkStatus();
    }
    if (key == "metadata" || key == "sharding" || key == "frontend_attributes") {
      return SkipValue();
    }
    if (key == "dimensions") {
      ASSIGN_OR_RETURN(a.dimensions, IntList());
    } else if (key == "to_apply" || key == "calls" || key == "body" || key == "condition" ||
               key == "true_computation" || key == "false_computation" || key == "select" ||
               key == "scatter") {
      ASSIGN_OR_RETURN(absl::string_view name, Name("a computation name"));
      a.called_computations.emplace_back(name);
      if (key == "to_apply" || key == "scatter") inst->reduce_computation_name = name;
    } else if (key == "branch_computations" || key == "called_computations") {
      std::vector<absl::string_view> names;
      RETURN_IF_ERROR(NameList(&names, nullptr));
      for (absl::string_view n : names) a.called_computations.emplace_back(n);
    } else if (key == "control-predecessors") {
      RETURN_IF_ERROR(
          NameList(&inst->control_predecessor_names, &inst->control_predecessor_offsets));
    } else if (key == "window") {
      RETURN_IF_ERROR(ParseWindow(&a));
    } else if (key == "dim_labels") {
      RETURN_IF_ERROR(ParseDimLabels(&a));
    } else if (key == "slice") {
      RETURN_IF_ERROR(ParseSlice(&a));
    } else if (key == "padding") {
      ASSIGN_OR_RETURN(auto groups, XList(2, 3, "padding"));
      for (const auto& g : groups) {
        a.padding.push_back(PaddingDimension{g[0], g[1], g.size() > 2 ? g[2] : 0});
      }
    } else if (key == "feature_group_count") {
      ASSIGN_OR_RETURN(a.feature_group_count, Int("feature_group_count"));
    } else if (key == "batch_group_count") {
      ASSIGN_OR_RETURN(a.batch_group_count, Int("batch_group_count"));
    } else if (key == "lhs_batch_dims" || key == "rhs_batch_dims" ||
               key == "lhs_contracting_dims" || key == "rhs_contracting_dims") {
      if (!a.dot_dimension_numbers.has_value()) a.dot_dimension_numbers.emplace();
      DotDimensionNumbers& d = *a.dot_dimension_numbers;
      ASSIGN_OR_RETURN(std::vector<int64_t> dims, IntList());
      if (key == "lhs_batch_dims") {
        d.lhs_batch_dimensions = std::move(dims);
      } else if (key == "rhs_batch_dims") {
        d.rhs_batch_dimensions = std::move(dims);
      } else if (key == "lhs_contracting_dims") {
        d.lhs_contracting_dimensions = std::move(dims);
      } else {
        d.rhs_contracting_dimensions = std::move(dims);
      }
    } else if (key == "direction") {
      SkipSpace();
      const size_t at = pos_;
      const absl::string_view d = Identifier();
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
        return ErrorAt(at, absl::StrCat("expected a comparison direction (EQ, NE, LT, LE, GT, GE), "
                                        "got ",
                                        TokenAt(at)));
      }
    } else if (key == "kind" && inst->opcode == HloOpcode::kFusion) {
      SkipSpace();
      const size_t at = pos_;
      const absl::string_view kind = Identifier();
      if (!FusionKindFromName(kind).has_value()) {
        return ErrorAt(at, absl::StrCat("expected a fusion kind (kLoop, kInput, kOutput, kCustom), "
                                        "got ",
                                        TokenAt(at)));
      }
      a.fusion_kind = std::string(kind);
      inst->has_kind = true;
    } else if (key == "custom_call_target") {
      SkipSpace();
      const size_t at = pos_;
      if (Peek() != '"' || AtEnd()) return Error("a quoted custom_call_target");
      RETURN_IF_ERROR(SkipString());
      const absl::string_view quoted = text_.substr(at + 1, pos_ - at - 2);
      std::string target;
      if (quoted.find('\\') == absl::string_view::npos) {
        target = std::string(quoted);
      } else if (!absl::CUnescape(quoted, &target)) {
        return ErrorAt(at, "expected a custom_call_target with valid escapes");
      }
      if (inst->opcode == HloOpcode::kUnknown) {
        // Keep the opcode text of unknown instructions; the target follows it.
        a.custom_call_target = absl::StrCat(inst->opcode_text, ":", target);
      } else {
        a.custom_call_target = std::move(target);
      }
    } else if (key == "replica_groups") {
      ASSIGN_OR_RETURN(a.replica_group_size, ReplicaGroupSize());
    } else if (key == "index" && inst->opcode == HloOpcode::kGetTupleElement) {
      ASSIGN_OR_RETURN(a.tuple_index, Int("a tuple index"));
      if (a.tuple_index < 0) return ErrorAt(key_offset, "expected a tuple index >= 0");
    } else if (key == "iota_dimension") {
      ASSIGN_OR_RETURN(int64_t d, Int("iota_dimension"));
      a.dimensions = {d};
    } else if (key == "feature_index" && IsBatchNorm(inst->opcode)) {
      ASSIGN_OR_RETURN(int64_t d, Int("feature_index"));
      a.dimensions = {d};
    } else if (key == "epsilon" && IsBatchNorm(inst->opcode)) {
      SkipSpace();
      const size_t at = pos_;
      while (pos_ < end_ && (absl::ascii_isalnum(static_cast<unsigned char>(text_[pos_])) ||
                             text_[pos_] == '.' || text_[pos_] == '-' || text_[pos_] == '+')) {
        ++pos_;
      }
      double epsilon = 0;
      if (!absl::SimpleAtod(text_.substr(at, pos_ - at), &epsilon) || !std::isfinite(epsilon)) {
        return ErrorAt(at, absl::StrCat("expected a finite number as epsilon, got ", TokenAt(at)));
      }
      a.constant_value = epsilon;
    } else {
      return SkipValue();
    }
    return absl::OkStatus();
  }

  // Resolves names, the root, parameters and the topological order of a finished computation.
  absl::Status FinishComputation(RawComputation* comp) {
    const int n = static_cast<int>(comp->instructions.size());
    if (n == 0) {
      return ErrorAt(comp->offset,
                     absl::StrCat("expected at least one instruction in computation '", comp->name,
                                  "', got none"));
    }
    if (comp->root < 0) comp->root = n - 1;  // XLA: the last instruction when no ROOT is marked
    for (RawInstruction& inst : comp->instructions) {
      auto resolve = [&](const std::vector<absl::string_view>& names,
                         const std::vector<size_t>& offsets,
                         std::vector<int>* out) -> absl::Status {
        out->reserve(names.size());
        for (size_t k = 0; k < names.size(); ++k) {
          auto it = comp->by_name.find(names[k]);
          if (it == comp->by_name.end()) {
            return ErrorAt(offsets[k],
                           absl::StrCat("unknown operand '", names[k], "' of '", inst.name,
                                        "' in computation '", comp->name, "'"));
          }
          out->push_back(it->second);
        }
        return absl::OkStatus();
      };
      RETURN_IF_ERROR(resolve(inst.operand_names, inst.operand_offsets, &inst.operands));
      RETURN_IF_ERROR(resolve(inst.control_predecessor_names, inst.control_predecessor_offsets,
                              &inst.control_predecessors));
      if (inst.opcode == HloOpcode::kParameter) {
        const int64_t number = inst.attrs.parameter_number;
        if (number >= n) {
          return ErrorAt(inst.offset, absl::StrCat("parameter number ", number, " of '", inst.name,
                                                   "' is out of range: computation '", comp->name,
                                                   "' has ", n, " instructions"));
        }
        if (static_cast<int64_t>(comp->parameters.size()) <= number) {
          comp->parameters.resize(number + 1, -1);
        }
        if (comp->parameters[number] >= 0) {
          return ErrorAt(inst.offset, absl::StrCat("duplicate parameter(", number, ") '", inst.name,
                                                   "' in computation '", comp->name, "'"));
        }
        comp->parameters[number] = static_cast<int>(&inst - comp->instructions.data());
      }
    }
    for (size_t p = 0; p < comp->parameters.size(); ++p) {
      if (comp->parameters[p] < 0) {
        return ErrorAt(comp->offset,
                       absl::StrCat("computation '", comp->name, "' has no parameter(", p,
                                    ") but has parameter(", comp->parameters.size() - 1, ")"));
      }
    }
    // Iterative depth-first post-order from each instruction in text order: keeps the text order
    // when it is already topological, detects cycles (a node met again while on the stack).
    std::vector<uint8_t> state(n, 0);  // 0 new, 1 on stack, 2 done
    comp->order.reserve(n);
    std::vector<std::pair<int, size_t>> stack;
    for (int s = 0; s < n; ++s) {
      if (state[s] != 0) continue;
      stack.emplace_back(s, 0);
      state[s] = 1;
      while (!stack.empty()) {
        auto& [node, next] = stack.back();
        const RawInstruction& inst = comp->instructions[node];
        const size_t num_deps = inst.operands.size() + inst.control_predecessors.size();
        if (next < num_deps) {
          const int dep = next < inst.operands.size()
                              ? inst.operands[next]
                              : inst.control_predecessors[next - inst.operands.size()];
          ++next;
          if (state[dep] == 1) {
            return ErrorAt(comp->instructions[dep].offset,
                           absl::StrCat("cycle in computation '", comp->name, "': '",
                                        comp->instructions[dep].name,
                                        "' depends on itself through '", inst.name, "'"));
          }
          if (state[dep] == 0) {
            state[dep] = 1;
            stack.emplace_back(dep, 0);
          }
        } else {
          state[node] = 2;
          comp->order.push_back(node);
          stack.pop_back();
        }
      }
    }
    return absl::OkStatus();
  }

  // Verification (graph/verifier.h): every instruction of a finished computation against its
  // operands' shapes, as written in the text; a failure is reported at the instruction's name. A
  // cuBLAS GEMM custom-call is checked as the dot the converter makes of it.
  absl::Status VerifyComputation(const RawComputation& comp) const {
    std::vector<const Shape*> operand_shapes;
    for (const RawInstruction& raw : comp.instructions) {
      operand_shapes.clear();
      for (int op : raw.operands) operand_shapes.push_back(&comp.instructions[op].shape);
      Instruction inst;
      inst.name = std::string(raw.name);
      inst.opcode = raw.opcode;
      inst.shape = raw.shape;
      inst.attrs = raw.attrs;
      if (IsCublasGemm(raw) && raw.operands.size() == 2) {
        inst.opcode = HloOpcode::kDot;
        inst.attrs.dot_dimension_numbers = raw.gemm_dimensions;
      }
      absl::Status status = VerifyInstruction(inst, operand_shapes);
      if (!status.ok()) return ErrorAt(raw.offset, status.message());
    }
    return absl::OkStatus();
  }

  // Resolves computation references, the entry and reduce_computation of a finished module.
  absl::Status FinishModule(RawModule* module) {
    for (RawComputation& comp : module->computations) {
      if (comp.is_entry) {
        if (module->entry >= 0) {
          return ErrorAt(comp.offset, absl::StrCat("second ENTRY computation '", comp.name, "'"));
        }
        module->entry = static_cast<int>(&comp - module->computations.data());
      }
    }
    if (module->entry < 0) module->entry = static_cast<int>(module->computations.size()) - 1;
    if (module->name.empty()) module->name = std::string(module->computations[module->entry].name);
    for (RawComputation& comp : module->computations) {
      for (RawInstruction& inst : comp.instructions) {
        for (const std::string& callee : inst.attrs.called_computations) {
          auto it = module->by_name.find(callee);
          if (it == module->by_name.end()) {
            return ErrorAt(inst.offset, absl::StrCat("unknown computation '", callee,
                                                     "' called by '", inst.name, "'"));
          }
        }
        if (inst.opcode == HloOpcode::kFusion || inst.opcode == HloOpcode::kCall) {
          const bool fusion = inst.opcode == HloOpcode::kFusion;
          if (inst.attrs.called_computations.size() != 1) {
            return ErrorAt(inst.offset, absl::StrCat(fusion ? "fusion" : "call", " '", inst.name,
                                                     "' must name exactly one computation (",
                                                     fusion ? "calls=" : "to_apply=", "), got ",
                                                     inst.attrs.called_computations.size()));
          }
          if (fusion && !inst.has_kind) {
            return ErrorAt(inst.offset, absl::StrCat("expected kind=kLoop|kInput|kOutput|kCustom "
                                                     "on fusion '",
                                                     inst.name, "'"));
          }
          const RawComputation& callee =
              module->computations[module->by_name.at(inst.attrs.called_computations[0])];
          if (callee.parameters.size() != inst.operands.size()) {
            return ErrorAt(inst.offset,
                           absl::StrCat("'", inst.name, "' passes ", inst.operands.size(),
                                        " operands to computation '", callee.name, "', which has ",
                                        callee.parameters.size(), " parameters"));
          }
        }
        if (HasReduceComputation(inst.opcode) && !inst.reduce_computation_name.empty()) {
          const RawComputation& callee =
              module->computations[module->by_name.at(inst.reduce_computation_name)];
          inst.attrs.reduce_computation = callee.instructions[callee.root].opcode;
        }
      }
    }
    return absl::OkStatus();
  }

  absl::string_view text_;
  absl::string_view file_name_;
  size_t pos_;
  size_t end_;
  const ImportOptions& options_;
  const HloLocator* locator_ = nullptr;  // set when finishing a module another importer filled
};

// ------------------------------------------------------------------------------------------------
// Conversion of a raw module to the IR.

FusionKind SingleInstructionKind(HloOpcode opcode) {
  switch (opcode) {
    case HloOpcode::kDot:
    case HloOpcode::kConvolution:
      return FusionKind::kOutput;
    case HloOpcode::kReduce:
    case HloOpcode::kReduceWindow:
    case HloOpcode::kSelectAndScatter:
      return FusionKind::kInput;
    case HloOpcode::kCustomCall:
    case HloOpcode::kUnknown:
    case HloOpcode::kAllReduce:
    case HloOpcode::kAllReduceStart:
    case HloOpcode::kAllGather:
    case HloOpcode::kAllGatherStart:
    case HloOpcode::kAllToAll:
    case HloOpcode::kCollectivePermute:
    case HloOpcode::kCollectivePermuteStart:
    case HloOpcode::kReduceScatter:
    case HloOpcode::kSend:
    case HloOpcode::kRecv:
    case HloOpcode::kInfeed:
    case HloOpcode::kOutfeed:
      return FusionKind::kCustom;
    default:
      return FusionKind::kLoop;
  }
}

class Converter {
 public:
  Converter(RawModule module, absl::string_view file_name, const ImportOptions& options)
      : m_(std::move(module)),
        file_name_(file_name),
        options_(options),
        in_progress_(m_.computations.size(), false) {}

  absl::StatusOr<ParsedHloModule> Run() {
    RETURN_IF_ERROR(ApplyInputShapes());
    for (const RawComputation& comp : m_.computations) {
      for (const RawInstruction& inst : comp.instructions) {
        if (inst.known_trip_count.has_value()) {
          known_trip_counts_[std::string(inst.name)] = *inst.known_trip_count;
        }
      }
    }
    ParsedHloModule result;
    Program& program = result.model.program;
    program.name = m_.name;
    ASSIGN_OR_RETURN(int root, Emit(m_.entry, nullptr, "", false, 0, &program.instructions));
    program.outputs = {root};
    RETURN_IF_ERROR(Annotate(program.Validate()));
    if (options_.expand_batch_norm) RETURN_IF_ERROR(Annotate(ExpandBatchNorm(&program)));
    result.model.unsupported_ops = m_.unsupported_ops;
    RETURN_IF_ERROR(ExtractKernels(program.instructions, "", true, 0, &result));
    return result;
  }

 private:
  absl::Status Annotate(const absl::Status& status) const {
    if (status.ok()) return status;
    return absl::Status(status.code(),
                        absl::StrCat(file_name_, ": module '", m_.name, "': ", status.message()));
  }

  absl::Status ApplyInputShapes() {
    RawComputation& entry = m_.computations[m_.entry];
    for (const auto& [name, dims] : options_.input_shapes) {
      auto it = entry.by_name.find(name);
      if (it == entry.by_name.end() ||
          entry.instructions[it->second].opcode != HloOpcode::kParameter) {
        std::vector<std::string> params;
        for (int p : entry.parameters) params.emplace_back(entry.instructions[p].name);
        return absl::InvalidArgumentError(absl::StrCat(
            file_name_, ": --input-shape '", name, "': no ENTRY parameter of module '", m_.name,
            "' has that name (parameters: ", absl::StrJoin(params, ", "), ")"));
      }
      RawInstruction& param = entry.instructions[it->second];
      if (param.shape.IsTuple()) {
        return absl::InvalidArgumentError(absl::StrCat(file_name_, ": --input-shape '", name,
                                                       "': the parameter has a tuple shape"));
      }
      if (param.shape.dims.size() != dims.size()) param.shape.minor_to_major.clear();
      param.shape.dims = dims;
      param.has_unbounded_dim = false;
      absl::Status status = param.shape.Validate();
      if (!status.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(file_name_, ": --input-shape '", name, "': ", status.message()));
      }
    }
    for (const RawComputation& comp : m_.computations) {
      for (const RawInstruction& inst : comp.instructions) {
        if (inst.has_unbounded_dim) {
          return absl::InvalidArgumentError(absl::StrCat(
              file_name_, ": instruction '", inst.name, "' of computation '", comp.name,
              "' has an unbounded dynamic dimension '?'; give its static shape with --input-shape ",
              inst.name, "=d0,d1,... (only ENTRY parameters can be given)"));
        }
      }
    }
    return absl::OkStatus();
  }

  // Appends the instructions of computation `comp` to `out` and returns the id of its root.
  // bindings == nullptr: parameters become parameter instructions; otherwise parameter(n) is the
  // already emitted instruction (*bindings)[n]. `call` is always inlined; fusion when `flatten`.
  absl::StatusOr<int> Emit(int comp_index, const std::vector<int>* bindings,
                           const std::string& prefix, bool flatten, int depth,
                           std::vector<Instruction>* out) {
    const RawComputation& comp = m_.computations[comp_index];
    if (depth > kMaxHloNestingDepth) {
      return absl::InvalidArgumentError(absl::StrCat(file_name_, ": computation '", comp.name,
                                                     "' is nested deeper than ",
                                                     kMaxHloNestingDepth, " calls"));
    }
    if (in_progress_[comp_index]) {
      return absl::InvalidArgumentError(absl::StrCat(
          file_name_, ": computation '", comp.name, "' calls itself (recursion is not valid HLO)"));
    }
    in_progress_[comp_index] = true;
    std::vector<int> local(comp.instructions.size(), -1);
    for (int index : comp.order) {
      const RawInstruction& raw = comp.instructions[index];
      if (raw.opcode == HloOpcode::kParameter && bindings != nullptr) {
        local[index] = (*bindings)[raw.attrs.parameter_number];
        continue;
      }
      std::vector<int> operands;
      operands.reserve(raw.operands.size());
      for (int op : raw.operands) operands.push_back(local[op]);
      if (raw.opcode == HloOpcode::kCall || (flatten && raw.opcode == HloOpcode::kFusion)) {
        const int callee = m_.by_name.at(raw.attrs.called_computations[0]);
        ASSIGN_OR_RETURN(local[index], Emit(callee, &operands, absl::StrCat(prefix, raw.name, "/"),
                                            flatten, depth + 1, out));
        continue;
      }
      Instruction inst;
      inst.id = static_cast<int>(out->size());
      inst.name = absl::StrCat(prefix, raw.name);
      inst.opcode = raw.opcode;
      inst.shape = raw.shape;
      inst.operands = std::move(operands);
      inst.attrs = raw.attrs;
      if (IsCublasGemm(raw) && inst.operands.size() == 2) {
        // XLA's GemmRewriter in reverse: a plain GEMM (no bias operand, one array result) is the
        // dot its backend config describes, so it fuses, tiles and gets estimates like one.
        inst.opcode = HloOpcode::kDot;
        inst.attrs.dot_dimension_numbers = raw.gemm_dimensions;
        inst.attrs.custom_call_target.clear();
      }
      if (raw.attention_dimensions.has_value() &&
          absl::StartsWith(raw.attrs.custom_call_target, "te_fused_attn_")) {
        inst.attrs.dimensions = *raw.attention_dimensions;  // graph/library_ops.h
      }
      local[index] = inst.id;
      if (++emitted_ > MaxInstructions(options_)) {
        return absl::InvalidArgumentError(absl::StrCat(
            file_name_, ": module '", m_.name, "' expands to more than ",
            MaxInstructions(options_), " instructions once calls and nested fusions are inlined "
            "(graph::kMaxInstructions, the import limit; reached in computation '", comp.name,
            "')"));
      }
      out->push_back(std::move(inst));
    }
    in_progress_[comp_index] = false;
    return local[comp.root];
  }

  absl::StatusOr<Kernel> FusionKernel(const Instruction& fusion, const std::string& prefix,
                                      bool with_origin, int depth) {
    const int comp_index = m_.by_name.at(fusion.attrs.called_computations[0]);
    const RawComputation& comp = m_.computations[comp_index];
    Kernel kernel;
    kernel.name = absl::StrCat(prefix, fusion.name);
    kernel.kind = FusionKindFromName(fusion.attrs.fusion_kind).value_or(FusionKind::kCustom);
    std::vector<int> bindings;
    for (size_t p = 0; p < comp.parameters.size(); ++p) {
      const RawInstruction& raw = comp.instructions[comp.parameters[p]];
      Instruction param;
      param.id = static_cast<int>(p);
      param.name = std::string(raw.name);
      param.opcode = HloOpcode::kParameter;
      param.shape = raw.shape;
      param.attrs = raw.attrs;
      bindings.push_back(param.id);
      kernel.instructions.push_back(std::move(param));
      kernel.origin.push_back(with_origin && p < fusion.operands.size() ? fusion.operands[p] : -1);
    }
    ASSIGN_OR_RETURN(kernel.root,
                     Emit(comp_index, &bindings, "", true, depth + 1, &kernel.instructions));
    kernel.origin.resize(kernel.instructions.size(), -1);
    return kernel;
  }

  static Kernel SingleInstructionKernel(const Instruction& inst,
                                        const std::vector<Instruction>& all,
                                        const std::string& prefix, bool with_origin) {
    Kernel kernel;
    kernel.name = absl::StrCat(prefix, inst.name);
    kernel.kind = SingleInstructionKind(inst.opcode);
    Instruction copy = inst;
    absl::flat_hash_map<int, int> param_of;
    for (int& op : copy.operands) {
      auto [it, inserted] = param_of.emplace(op, static_cast<int>(kernel.instructions.size()));
      if (inserted) {
        Instruction param;
        param.id = it->second;
        param.name = all[op].name;
        param.opcode = HloOpcode::kParameter;
        param.shape = all[op].shape;
        param.attrs.parameter_number = it->second;
        kernel.instructions.push_back(std::move(param));
        kernel.origin.push_back(with_origin ? op : -1);
      }
      op = it->second;
    }
    copy.id = static_cast<int>(kernel.instructions.size());
    kernel.root = copy.id;
    kernel.origin.push_back(with_origin ? inst.id : -1);
    kernel.instructions.push_back(std::move(copy));
    return kernel;
  }

  // Kernels of one emitted computation (when the module has fusions) and, recursively, the
  // computations of its while / conditional / async-start instructions.
  absl::Status ExtractKernels(const std::vector<Instruction>& insts, const std::string& prefix,
                              bool with_origin, int depth, ParsedHloModule* result) {
    if (depth > kMaxHloNestingDepth) {
      return absl::InvalidArgumentError(absl::StrCat(
          file_name_, ": while/conditional bodies nested deeper than ", kMaxHloNestingDepth));
    }
    for (const Instruction& inst : insts) {
      if (inst.opcode == HloOpcode::kFusion) {
        if (m_.has_fusion) {
          ASSIGN_OR_RETURN(Kernel kernel, FusionKernel(inst, prefix, with_origin, depth));
          RETURN_IF_ERROR(Annotate(kernel.Validate()));
          if (options_.expand_batch_norm) RETURN_IF_ERROR(Annotate(ExpandBatchNorm(&kernel)));
          result->model.prefused_kernels.push_back(std::move(kernel));
        }
        continue;
      }
      if (inst.opcode == HloOpcode::kWhile || inst.opcode == HloOpcode::kConditional ||
          inst.opcode == HloOpcode::kAsyncStart) {
        std::vector<std::pair<std::string, Program>> bodies;
        for (const std::string& callee : inst.attrs.called_computations) {
          if (!visited_.insert(callee).second) continue;
          Program body;
          body.name = callee;
          ASSIGN_OR_RETURN(int root, Emit(m_.by_name.at(callee), nullptr, "", false, depth + 1,
                                          &body.instructions));
          body.outputs = {root};
          RETURN_IF_ERROR(Annotate(body.Validate()));
          if (options_.expand_batch_norm) RETURN_IF_ERROR(Annotate(ExpandBatchNorm(&body)));
          bodies.emplace_back(callee, std::move(body));
        }
        for (const auto& [callee, body] : bodies) {  // before any body is moved out below
          result->model.call_sites[callee] = CallSiteOf(inst, insts, callee, body, bodies, prefix);
        }
        for (auto& [callee, body] : bodies) {
          RETURN_IF_ERROR(ExtractKernels(body.instructions, absl::StrCat(callee, "/"), false,
                                         depth + 1, result));
          result->model.called_programs.emplace(callee, std::move(body));
        }
        continue;
      }
      if (m_.has_fusion && IsKernelWork(inst.opcode)) {
        Kernel kernel = SingleInstructionKernel(inst, insts, prefix, with_origin);
        RETURN_IF_ERROR(Annotate(kernel.Validate()));
        result->model.prefused_kernels.push_back(std::move(kernel));
      }
    }
    return absl::OkStatus();
  }

  // The call site of `callee` (one of `bodies`, the computations `inst` calls), in the computation
  // whose instructions are `insts` and whose kernels are prefixed `prefix` ("" = the entry).
  CallSite CallSiteOf(const Instruction& inst, const std::vector<Instruction>& insts,
                      const std::string& callee, const Program& body,
                      const std::vector<std::pair<std::string, Program>>& bodies,
                      const std::string& prefix) const {
    CallSite site;
    site.caller = prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1);
    site.instruction = inst.name;
    if (inst.opcode == HloOpcode::kConditional) {
      site.role = "conditional branch";
      site.executions = 1;
      site.how = "branch";
      return site;
    }
    if (inst.opcode == HloOpcode::kAsyncStart) {
      site.role = "async";
      site.executions = 1;
      site.how = "async";
      return site;
    }
    // A while's condition returns pred[] (HloVerifier); the other computation is the body.
    auto is_condition = [](const Program& p) {
      if (p.outputs.empty()) return false;
      const Shape& s = p.at(p.outputs[0]).shape;
      return !s.IsTuple() && s.element_type == PrimitiveType::kPred && s.rank() == 0;
    };
    const bool condition = is_condition(body);
    site.role = condition ? "while condition" : "while body";
    const Program* cond = nullptr;
    const Program* loop = nullptr;
    for (const auto& [name, program] : bodies) (is_condition(program) ? cond : loop) = &program;
    std::optional<int64_t> trips;
    auto known = known_trip_counts_.find(inst.name);
    if (known != known_trip_counts_.end()) {
      trips = known->second;
      site.how = "known_trip_count backend config";
    } else if (cond == nullptr || loop == nullptr) {
      site.how = "the condition or the body is called from elsewhere too (not analysed)";
    } else {
      trips = InductionTripCount(inst, insts, *cond, *loop, &site.how);
    }
    if (trips.has_value()) site.executions = condition ? *trips + 1 : *trips;
    return site;
  }

  // XLA's ComputeWhileLoopTripCount pattern: the condition is compare(get-tuple-element(param, k),
  // constant N) (LT, LE, or GT / GE with the operands swapped), the body's root tuple sets element k
  // to add(get-tuple-element(param, k), constant c) with c > 0, and the while's init tuple holds
  // constant i0 at k. Trip count max(0, ceil((N - i0) / c)) (+ 1 for LE). nullopt with the reason in
  // `how` otherwise.
  static std::optional<int64_t> InductionTripCount(const Instruction& inst,
                                                   const std::vector<Instruction>& insts,
                                                   const Program& cond, const Program& loop,
                                                   std::string* how) {
    auto constant = [](const std::vector<Instruction>& in, int id) -> std::optional<double> {
      const Instruction& c = in[id];
      if (c.opcode != HloOpcode::kConstant || c.shape.rank() != 0) return std::nullopt;
      return c.attrs.constant_value;
    };
    auto gte_index = [](const std::vector<Instruction>& in, int id) -> int64_t {
      const Instruction& g = in[id];
      if (g.opcode != HloOpcode::kGetTupleElement || g.operands.size() != 1) return -1;
      return in[g.operands[0]].opcode == HloOpcode::kParameter ? g.attrs.tuple_index : -1;
    };
    const Instruction& compare = cond.at(cond.outputs[0]);
    if (compare.opcode != HloOpcode::kCompare || compare.operands.size() != 2 ||
        !compare.attrs.comparison_direction.has_value()) {
      *how = "the condition is not a compare of the induction variable with a constant";
      return std::nullopt;
    }
    ComparisonDirection direction = *compare.attrs.comparison_direction;
    int lhs = compare.operands[0], rhs = compare.operands[1];
    if (direction == ComparisonDirection::kGt || direction == ComparisonDirection::kGe) {
      std::swap(lhs, rhs);
      direction = direction == ComparisonDirection::kGt ? ComparisonDirection::kLt
                                                        : ComparisonDirection::kLe;
    }
    const int64_t k = gte_index(cond.instructions, lhs);
    const std::optional<double> limit = constant(cond.instructions, rhs);
    if ((direction != ComparisonDirection::kLt && direction != ComparisonDirection::kLe) || k < 0 ||
        !limit.has_value()) {
      *how = "the condition is not 'induction variable < constant'";
      return std::nullopt;
    }
    const Instruction& root = loop.at(loop.outputs[0]);
    std::optional<double> step;
    if (root.opcode == HloOpcode::kTuple && k < static_cast<int64_t>(root.operands.size())) {
      const Instruction& add = loop.at(root.operands[k]);
      if (add.opcode == HloOpcode::kAdd && add.operands.size() == 2) {
        for (int side = 0; side < 2 && !step.has_value(); ++side) {
          if (gte_index(loop.instructions, add.operands[side]) == k) {
            step = constant(loop.instructions, add.operands[1 - side]);
          }
        }
      }
    }
    if (!step.has_value() || !(*step > 0)) {
      *how = absl::StrCat("the body does not add a positive constant to tuple element ", k);
      return std::nullopt;
    }
    std::optional<double> init;
    if (!inst.operands.empty()) {
      const Instruction& tuple = insts[inst.operands[0]];
      if (tuple.opcode == HloOpcode::kTuple && k < static_cast<int64_t>(tuple.operands.size())) {
        init = constant(insts, tuple.operands[k]);
      }
    }
    if (!init.has_value()) {
      *how = absl::StrCat("the init value of tuple element ", k, " is not a constant");
      return std::nullopt;
    }
    const double span = *limit - *init + (direction == ComparisonDirection::kLe ? 1 : 0);
    const double trips = std::max(0.0, std::ceil(span / *step));
    if (trips > 1e15) {
      *how = "trip count above 1e15";
      return std::nullopt;
    }
    *how = absl::StrCat("induction variable: ", *init, " to ", *limit, " step ", *step, " (",
                        ComparisonDirectionName(direction), ")");
    return static_cast<int64_t>(trips);
  }

  absl::flat_hash_map<std::string, int64_t> known_trip_counts_;
  RawModule m_;
  absl::string_view file_name_;
  const ImportOptions& options_;
  std::vector<bool> in_progress_;
  absl::flat_hash_set<std::string> visited_;
  int64_t emitted_ = 0;  // instructions emitted by Emit, over the whole module
};

// Splits the text at `// -----` lines (lit's --split-input-file separator) into [begin, end)
// ranges.
std::vector<std::pair<size_t, size_t>> SplitModules(absl::string_view text) {
  std::vector<std::pair<size_t, size_t>> ranges;
  size_t begin = 0;
  size_t line = 0;
  while (line < text.size()) {
    size_t next = text.find('\n', line);
    if (next == absl::string_view::npos) next = text.size();
    const absl::string_view content = absl::StripAsciiWhitespace(text.substr(line, next - line));
    if (absl::StartsWith(content, "// -----")) {
      ranges.emplace_back(begin, line);
      begin = next;
    }
    line = next + 1;
  }
  ranges.emplace_back(begin, text.size());
  return ranges;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  // Checked before reading, so an absurd file costs neither the memory nor the time.
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(path, error);
  if (!error && size > static_cast<uintmax_t>(kMaxHloTextBytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": HLO text of ", size, " bytes exceeds the ", kMaxHloTextBytes,
                     "-byte limit (graph::kMaxHloTextBytes)"));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return buffer.str();
}

}  // namespace

namespace hlo_internal {

bool HasReduceComputation(HloOpcode opcode) {
  switch (opcode) {
    case HloOpcode::kReduce:
    case HloOpcode::kReduceWindow:
    case HloOpcode::kScatter:
    case HloOpcode::kSelectAndScatter:
    case HloOpcode::kSort:
    case HloOpcode::kAllReduce:
    case HloOpcode::kAllReduceStart:
    case HloOpcode::kReduceScatter:
    case HloOpcode::kMap:
      return true;
    default:
      return false;
  }
}

int64_t MaxInstructions(const ImportOptions& options) {
  return std::min(options.max_instructions, kMaxInstructions);
}

void RecordUnsupported(RawModule* module, absl::string_view op, absl::string_view name) {
  for (UnsupportedOp& u : module->unsupported_ops) {
    if (u.op_type == op) {
      u.node_names.emplace_back(name);
      return;
    }
  }
  module->unsupported_ops.push_back(UnsupportedOp{std::string(op), {std::string(name)}});
}

absl::Status InterpretBackendConfig(absl::string_view config, RawInstruction* inst,
                                    size_t* error_offset) {
  const size_t at = config.find("known_trip_count");
  if (at != absl::string_view::npos) {
    size_t digit = config.find_first_of("0123456789", at);
    size_t end = config.find_first_not_of("0123456789", digit);
    int64_t n = 0;
    if (digit == absl::string_view::npos ||
        !absl::SimpleAtoi(config.substr(digit, end == absl::string_view::npos
                                                   ? absl::string_view::npos
                                                   : end - digit),
                          &n)) {
      *error_offset = at;
      return absl::InvalidArgumentError("expected a number in known_trip_count");
    }
    inst->known_trip_count = n;
  }
  if (config.find("dot_dimension_numbers") != absl::string_view::npos) {
    // "lhs_contracting_dimensions":["1"], ... (quoted or bare integers in a JSON list).
    auto list = [&](absl::string_view name) -> std::optional<std::vector<int64_t>> {
      const size_t key = config.find(name);
      if (key == absl::string_view::npos) return std::nullopt;
      const size_t open = config.find('[', key);
      const size_t close = config.find(']', open);
      if (open == absl::string_view::npos || close == absl::string_view::npos) return std::nullopt;
      std::vector<int64_t> values;
      size_t digit = config.find_first_of("0123456789", open);
      while (digit != absl::string_view::npos && digit < close) {
        const size_t end = config.find_first_not_of("0123456789", digit);
        int64_t v = 0;
        if (!absl::SimpleAtoi(config.substr(digit, end - digit), &v)) return std::nullopt;
        values.push_back(v);
        digit = config.find_first_of("0123456789", end);
      }
      return values;
    };
    auto lc = list("lhs_contracting_dimensions"), rc = list("rhs_contracting_dimensions");
    auto lb = list("lhs_batch_dimensions"), rb = list("rhs_batch_dimensions");
    if (lc && rc && lb && rb) {
      inst->gemm_dimensions = DotDimensionNumbers{*lb, *rb, *lc, *rc};
    }
  }
  if (config.find("attn_heads") != absl::string_view::npos) {
    inst->attention_dimensions = AttentionDimensions(config);
  }
  return absl::OkStatus();
}

absl::StatusOr<ParsedHloModule> FinishRawModule(RawModule module, absl::string_view file_name,
                                                const HloLocator& locator,
                                                const ImportOptions& options) {
  if (module.computations.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file_name, ": expected at least one HLO computation, got none"));
  }
  Parser finisher(file_name, locator, options);
  RETURN_IF_ERROR(finisher.FinishFilledModule(&module));
  Converter converter(std::move(module), file_name, options);
  return converter.Run();
}

}  // namespace hlo_internal

absl::StatusOr<std::vector<ParsedHloModule>> ParseHloModules(absl::string_view text,
                                                             absl::string_view file_name,
                                                             const ImportOptions& options) {
  std::vector<RawModule> raw;
  for (const auto& [begin, end] : SplitModules(text)) {
    Parser parser(text, file_name, begin, end, options);
    RETURN_IF_ERROR(parser.ParseRange(&raw));
  }
  if (raw.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file_name,
                     ": expected at least one HLO computation (HloModule ... ENTRY main { ... }), "
                     "got none"));
  }
  std::vector<ParsedHloModule> modules;
  modules.reserve(raw.size());
  for (RawModule& module : raw) {
    Converter converter(std::move(module), file_name, options);
    ASSIGN_OR_RETURN(ParsedHloModule parsed, converter.Run());
    modules.push_back(std::move(parsed));
  }
  return modules;
}

absl::StatusOr<std::vector<ImportedModel>> ParseHloText(absl::string_view text,
                                                        absl::string_view file_name,
                                                        const ImportOptions& options) {
  ASSIGN_OR_RETURN(std::vector<ParsedHloModule> parsed, ParseHloModules(text, file_name, options));
  std::vector<ImportedModel> models;
  models.reserve(parsed.size());
  for (ParsedHloModule& p : parsed) models.push_back(std::move(p.model));
  return models;
}

absl::StatusOr<ImportedModel> ParseHloFile(const std::string& path, const ImportOptions& options) {
  ASSIGN_OR_RETURN(std::vector<ImportedModel> models, ParseHloFileAll(path, options));
  return std::move(models.front());
}

absl::StatusOr<std::vector<ImportedModel>> ParseHloFileAll(const std::string& path,
                                                           const ImportOptions& options) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseHloText(text, path, options);
}

}  // namespace perfgraph::graph
