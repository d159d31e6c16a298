#include "data/npy.h"

#include <cstring>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace perfgraph::data {
namespace {

constexpr absl::string_view kMagic = "\x93NUMPY";
// NumPy aligns the start of the data to this many bytes.
constexpr size_t kAlignment = 64;

struct DtypeInfo {
  NpyDtype dtype;
  const char* descr;
  int bytes;
};
constexpr DtypeInfo kDtypes[] = {
    {NpyDtype::kBool, "|b1", 1},    {NpyDtype::kInt8, "|i1", 1},    {NpyDtype::kUint8, "|u1", 1},
    {NpyDtype::kInt16, "<i2", 2},   {NpyDtype::kUint16, "<u2", 2},  {NpyDtype::kInt32, "<i4", 4},
    {NpyDtype::kUint32, "<u4", 4},  {NpyDtype::kInt64, "<i8", 8},   {NpyDtype::kUint64, "<u8", 8},
    {NpyDtype::kFloat32, "<f4", 4}, {NpyDtype::kFloat64, "<f8", 8},
};

const DtypeInfo& Info(NpyDtype dtype) {
  for (const DtypeInfo& info : kDtypes) {
    if (info.dtype == dtype) return info;
  }
  return kDtypes[0];  // unreachable: every enumerator is listed
}

std::string SupportedDescrs() {
  std::vector<std::string> names;
  for (const DtypeInfo& info : kDtypes) names.push_back(info.descr);
  return absl::StrJoin(names, ", ");
}

// Little-endian reads (the format is little-endian whatever the host; this build targets x86-64,
// but the explicit byte assembly keeps the reader independent of it).
uint64_t GetLittleEndian(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

// A minimal reader of the Python literal NumPy writes as the header: a dict of string keys to a
// string, a bool or a tuple of ints.
class HeaderParser {
 public:
  HeaderParser(absl::string_view text, absl::string_view source) : text_(text), source_(source) {}

  absl::Status Parse(std::string* descr, bool* fortran_order, std::vector<int64_t>* shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    SkipSpace();
    if (!Consume('{')) return Error("the header does not start with '{'");
    while (true) {
      SkipSpace();
      if (Consume('}')) break;
      std::string key;
      if (absl::Status s = ReadString(&key); !s.ok()) return s;
      SkipSpace();
      if (!Consume(':')) return Error(absl::StrCat("no ':' after key '", key, "'"));
      SkipSpace();
      if (key == "descr") {
        if (Peek() == '[') {
          return Error("descr is a list: structured dtypes are not supported (expected one of " +
                       SupportedDescrs() + ")");
        }
        if (absl::Status s = ReadString(descr); !s.ok()) return s;
        have_descr = true;
      } else if (key == "fortran_order") {
        if (absl::Status s = ReadBool(fortran_order); !s.ok()) return s;
        have_order = true;
      } else if (key == "shape") {
        if (absl::Status s = ReadShape(shape); !s.ok()) return s;
        have_shape = true;
      } else {
        return Error(absl::StrCat("unexpected key '", key, "'"));
      }
      SkipSpace();
      if (Consume(',')) continue;
      SkipSpace();
      if (Consume('}')) break;
      return Error(absl::StrCat("expected ',' or '}' after the value of '", key, "'"));
    }
    SkipSpace();
    if (pos_ != text_.size()) return Error("text after the closing '}'");
    if (!have_descr || !have_order || !have_shape) {
      return Error("the header lacks one of the keys 'descr', 'fortran_order', 'shape'");
    }
    return absl::OkStatus();
  }

 private:
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  void SkipSpace() {
    while (pos_ < text_.size() && absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
  }
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": malformed .npy header (", what,
                                                   "): '", absl::CEscape(text_), "'"));
  }
  absl::Status ReadString(std::string* out) {
    const char quote = Peek();
    if (quote != '\'' && quote != '"') return Error("expected a quoted string");
    ++pos_;
    const size_t end = text_.find(quote, pos_);
    if (end == absl::string_view::npos) return Error("unterminated string");
    *out = std::string(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return absl::OkStatus();
  }
  absl::Status ReadBool(bool* out) {
    if (absl::StartsWith(text_.substr(pos_), "True")) {
      *out = true;
      pos_ += 4;
    } else if (absl::StartsWith(text_.substr(pos_), "False")) {
      *out = false;
      pos_ += 5;
    } else {
      return Error("fortran_order is neither True nor False");
    }
    return absl::OkStatus();
  }
  absl::Status ReadShape(std::vector<int64_t>* shape) {
    shape->clear();
    if (!Consume('(')) return Error("shape is not a tuple");
    while (true) {
      SkipSpace();
      if (Consume(')')) return absl::OkStatus();
      size_t end = pos_;
      while (end < text_.size() && (absl::ascii_isdigit(static_cast<unsigned char>(text_[end])) ||
                                    text_[end] == '-' || text_[end] == 'L')) {
        ++end;
      }
      absl::string_view number = text_.substr(pos_, end - pos_);
      if (absl::EndsWith(number, "L")) number.remove_suffix(1);  // Python 2 longs
      int64_t dim = 0;
      if (number.empty() || !absl::SimpleAtoi(number, &dim)) {
        return Error(
            absl::StrCat("shape entry '", text_.substr(pos_, end - pos_), "' is not an integer"));
      }
      if (dim < 0) return Error(absl::StrCat("negative dimension ", dim));
      shape->push_back(dim);
      pos_ = end;
      SkipSpace();
      if (Consume(',')) continue;
      if (Consume(')')) return absl::OkStatus();
      return Error("expected ',' or ')' in shape");
    }
  }

  absl::string_view text_;
  absl::string_view source_;
  size_t pos_ = 0;
};

// prod(shape), or -1 above kMaxNpyElements.
int64_t CheckedElements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d == 0) return 0;
    if (n > kMaxNpyElements / d) return -1;
    n *= d;
  }
  return n > kMaxNpyElements ? -1 : n;
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  return absl::StrCat("(", absl::StrJoin(shape, ", "), shape.size() == 1 ? ",)" : ")");
}

template <typename T>
NpyArray Make(NpyDtype dtype, std::vector<int64_t> shape, const std::vector<T>& values) {
  NpyArray a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  a.data.resize(values.size() * sizeof(T));
  // x86-64 is little-endian, the byte order of the format.
  if (!values.empty()) std::memcpy(a.data.data(), values.data(), a.data.size());
  return a;
}

}  // namespace

absl::string_view NpyDescr(NpyDtype dtype) { return Info(dtype).descr; }
int NpyItemBytes(NpyDtype dtype) { return Info(dtype).bytes; }
bool NpyIsFloat(NpyDtype dtype) {
  return dtype == NpyDtype::kFloat32 || dtype == NpyDtype::kFloat64;
}
bool NpyIsInteger(NpyDtype dtype) { return !NpyIsFloat(dtype); }

int64_t NpyArray::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<double> NpyArray::ToFloat64() const {
  const int64_t n = num_elements();
  const int b = NpyItemBytes(dtype);
  std::vector<double> out(n);
  for (int64_t i = 0; i < n; ++i) {
    const char* p = data.data() + i * b;
    const uint64_t raw = GetLittleEndian(p, b);
    switch (dtype) {
      case NpyDtype::kFloat32: {
        uint32_t bits = static_cast<uint32_t>(raw);
        float f;
        std::memcpy(&f, &bits, 4);
        out[i] = f;
        break;
      }
      case NpyDtype::kFloat64: {
        double d;
        std::memcpy(&d, &raw, 8);
        out[i] = d;
        break;
      }
      case NpyDtype::kBool:
      case NpyDtype::kUint8:
      case NpyDtype::kUint16:
      case NpyDtype::kUint32:
      case NpyDtype::kUint64:
        out[i] = static_cast<double>(raw);
        break;
      default: {  // signed integers: sign-extend from b bytes
        const int shift = 64 - 8 * b;
        out[i] = static_cast<double>(static_cast<int64_t>(raw << shift) >> shift);
      }
    }
  }
  return out;
}

absl::StatusOr<std::vector<float>> NpyArray::ToFloat32(absl::string_view source) const {
  if (!NpyIsFloat(dtype)) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": dtype ", NpyDescr(dtype), " where a float array (<f4 or <f8) is expected"));
  }
  const std::vector<double> wide = ToFloat64();
  return std::vector<float>(wide.begin(), wide.end());
}

absl::StatusOr<std::vector<int64_t>> NpyArray::ToInt64(absl::string_view source) const {
  if (!NpyIsInteger(dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": dtype ", NpyDescr(dtype),
                     " where an integer array (|u1, <i4, <i8, ...) is expected"));
  }
  const int64_t n = num_elements();
  const int b = NpyItemBytes(dtype);
  const bool is_unsigned = dtype == NpyDtype::kBool || dtype == NpyDtype::kUint8 ||
                           dtype == NpyDtype::kUint16 || dtype == NpyDtype::kUint32 ||
                           dtype == NpyDtype::kUint64;
  std::vector<int64_t> out(n);
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t raw = GetLittleEndian(data.data() + i * b, b);
    if (is_unsigned) {
      if (raw > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": element ", i, " = ", raw, " does not fit int64"));
      }
      out[i] = static_cast<int64_t>(raw);
    } else {
      const int shift = 64 - 8 * b;
      out[i] = static_cast<int64_t>(raw << shift) >> shift;
    }
  }
  return out;
}

NpyArray MakeNpyFloat32(std::vector<int64_t> shape, const std::vector<float>& values) {
  return Make(NpyDtype::kFloat32, std::move(shape), values);
}
NpyArray MakeNpyInt64(std::vector<int64_t> shape, const std::vector<int64_t>& values) {
  return Make(NpyDtype::kInt64, std::move(shape), values);
}
NpyArray MakeNpyUint8(std::vector<int64_t> shape, const std::vector<uint8_t>& values) {
  return Make(NpyDtype::kUint8, std::move(shape), values);
}

absl::StatusOr<NpyArray> ParseNpy(absl::string_view bytes, absl::string_view source) {
  if (bytes.size() < kMagic.size() + 2 || bytes.substr(0, kMagic.size()) != kMagic) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not a .npy array (no \\x93NUMPY magic)"));
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  const int minor = static_cast<unsigned char>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": .npy format version ", major, ".",
                                                   minor, " (this reader knows 1.0, 2.0, 3.0)"));
  }
  const size_t length_bytes = major == 1 ? 2 : 4;
  const size_t prefix = 8 + length_bytes;
  if (bytes.size() < prefix) {
    return absl::DataLossError(absl::StrCat(source, ": truncated .npy header"));
  }
  const uint64_t header_length = GetLittleEndian(bytes.data() + 8, static_cast<int>(length_bytes));
  if (bytes.size() - prefix < header_length) {
    return absl::DataLossError(absl::StrCat(source, ": .npy header length ", header_length,
                                            " exceeds the ", bytes.size(), " bytes of the array"));
  }
  const absl::string_view header = bytes.substr(prefix, header_length);
  std::string descr;
  bool fortran_order = false;
  NpyArray array;
  HeaderParser parser(header, source);
  if (absl::Status s = parser.Parse(&descr, &fortran_order, &array.shape); !s.ok()) return s;
  if (fortran_order) {
    return absl::InvalidArgumentError(
        absl::StrCat(source,
                     ": fortran_order True is not supported (write the array C-ordered, e.g. "
                     "numpy.ascontiguousarray)"));
  }
  // '=' is native order; NumPy only writes it for byte-order-free types, but accept it as '<'.
  if (descr.size() == 3 && descr[0] == '=') descr[0] = '<';
  bool known = false;
  for (const DtypeInfo& info : kDtypes) {
    absl::string_view d = info.descr;
    // Single-byte types may be written with any byte-order mark.
    const bool match =
        descr == d || (info.bytes == 1 && descr.size() == 3 &&
                       (descr[0] == '<' || descr[0] == '|') && descr.substr(1) == d.substr(1));
    if (match) {
      array.dtype = info.dtype;
      known = true;
      break;
    }
  }
  if (!known) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": unsupported dtype '", descr,
                                                   "' (supported: ", SupportedDescrs(), ")"));
  }
  const int64_t elements = CheckedElements(array.shape);
  if (elements < 0) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": shape ", ShapeText(array.shape),
                                                   " holds more than ", kMaxNpyElements,
                                                   " elements"));
  }
  const uint64_t expected = static_cast<uint64_t>(elements) * NpyItemBytes(array.dtype);
  const uint64_t available = bytes.size() - prefix - header_length;
  if (available < expected) {
    return absl::DataLossError(absl::StrCat(source, ": truncated array: shape ",
                                            ShapeText(array.shape), " of ", descr, " needs ",
                                            expected, " bytes, the file holds ", available));
  }
  if (available > expected) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", available - expected,
                                                   " bytes after the ", expected,
                                                   " bytes of shape ", ShapeText(array.shape)));
  }
  array.data = std::string(bytes.substr(prefix + header_length));
  return array;
}

absl::StatusOr<std::string> SerializeNpy(const NpyArray& array) {
  const int64_t elements = CheckedElements(array.shape);
  if (elements < 0) {
    return absl::InvalidArgumentError(absl::StrCat("SerializeNpy: shape ", ShapeText(array.shape),
                                                   " is negative or above ", kMaxNpyElements,
                                                   " elements"));
  }
  if (array.data.size() != static_cast<size_t>(elements) * NpyItemBytes(array.dtype)) {
    return absl::InvalidArgumentError(absl::StrCat("SerializeNpy: ", array.data.size(),
                                                   " data bytes for shape ", ShapeText(array.shape),
                                                   " of ", NpyDescr(array.dtype)));
  }
  std::string dict =
      absl::StrCat("{'descr': '", NpyDescr(array.dtype),
                   "', 'fortran_order': False, 'shape': ", ShapeText(array.shape), ", }");
  // Version 1.0 has a u16 header length; longer headers (rank in the thousands) need 2.0.
  int major = 1;
  size_t prefix = 10;
  size_t total = prefix + dict.size() + 1;
  if ((total + kAlignment - 1) / kAlignment * kAlignment - prefix > 65535) {
    major = 2;
    prefix = 12;
    total = prefix + dict.size() + 1;
  }
  const size_t padded = (total + kAlignment - 1) / kAlignment * kAlignment;
  dict.append(padded - total, ' ');
  dict.push_back('\n');
  std::string out(kMagic);
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  const uint64_t header_length = dict.size();
  for (size_t i = 0; i < prefix - 8; ++i) {
    out.push_back(static_cast<char>((header_length >> (8 * i)) & 0xff));
  }
  out += dict;
  out += array.data;
  return out;
}

}  // namespace perfgraph::data
