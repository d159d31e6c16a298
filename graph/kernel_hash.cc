#include "graph/kernel_hash.h"

#include <cstring>

#include "absl/strings/string_view.h"
#include "graph/hlo_opcode.h"

namespace perfgraph::graph {
namespace {

// -------------------------------------------------------------------------------------------------
// Canonical hash

// 64-bit FNV-1a with the published offset basis and prime (see kernel_proto.h).
class Fnv1a64 {
 public:
  void Bytes(const void* data, size_t size) {
    const unsigned char* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) {
      state_ ^= p[i];
      state_ *= kPrime;
    }
  }
  // Fixed-width little-endian encoding, independent of the host byte order.
  void U64(uint64_t value) {
    unsigned char bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(value >> (8 * i));
    Bytes(bytes, sizeof(bytes));
  }
  void I64(int64_t value) { U64(static_cast<uint64_t>(value)); }
  // A one-byte field tag keeps adjacent variable-length fields from running into each other.
  void Tag(char tag) { Bytes(&tag, 1); }
  void String(absl::string_view s) {
    U64(s.size());
    Bytes(s.data(), s.size());
  }
  template <typename Container>
  void Ints(const Container& values) {
    U64(values.size());
    for (auto v : values) I64(static_cast<int64_t>(v));
  }
  uint64_t value() const { return state_; }

 private:
  static constexpr uint64_t kOffsetBasis = 0xcbf29ce484222325ULL;
  static constexpr uint64_t kPrime = 0x100000001b3ULL;
  uint64_t state_ = kOffsetBasis;
};

void HashShape(const Shape& shape, Fnv1a64& h) {
  h.Tag('S');
  h.String(PrimitiveTypeName(shape.element_type));
  h.Ints(shape.dims);
  h.Ints(shape.EffectiveMinorToMajor());
  h.I64(shape.memory_space);
  h.U64(shape.tuple_shapes.size());
  for (const Shape& element : shape.tuple_shapes) HashShape(element, h);
}

void HashAttributes(const Attributes& a, Fnv1a64& h) {
  h.Tag('W');
  h.U64(a.window.size());
  for (const WindowDimension& w : a.window) {
    h.I64(w.size);
    h.I64(w.stride);
    h.I64(w.padding_low);
    h.I64(w.padding_high);
    h.I64(w.window_dilation);
    h.I64(w.base_dilation);
    h.I64(w.window_reversal ? 1 : 0);
  }
  h.Tag('C');
  if (a.convolution_dimension_numbers.has_value()) {
    const ConvolutionDimensionNumbers& d = *a.convolution_dimension_numbers;
    h.Tag('1');
    h.I64(d.input_batch_dimension);
    h.I64(d.input_feature_dimension);
    h.Ints(d.input_spatial_dimensions);
    h.I64(d.kernel_input_feature_dimension);
    h.I64(d.kernel_output_feature_dimension);
    h.Ints(d.kernel_spatial_dimensions);
    h.I64(d.output_batch_dimension);
    h.I64(d.output_feature_dimension);
    h.Ints(d.output_spatial_dimensions);
  } else {
    h.Tag('0');
  }
  h.Tag('D');
  if (a.dot_dimension_numbers.has_value()) {
    const DotDimensionNumbers& d = *a.dot_dimension_numbers;
    h.Tag('1');
    h.Ints(d.lhs_batch_dimensions);
    h.Ints(d.rhs_batch_dimensions);
    h.Ints(d.lhs_contracting_dimensions);
    h.Ints(d.rhs_contracting_dimensions);
  } else {
    h.Tag('0');
  }
  h.Tag('d');
  h.Ints(a.dimensions);
  h.Tag('s');
  h.U64(a.slice.size());
  for (const SliceDimension& s : a.slice) {
    h.I64(s.start);
    h.I64(s.limit);
    h.I64(s.stride);
  }
  h.Tag('p');
  h.U64(a.padding.size());
  for (const PaddingDimension& p : a.padding) {
    h.I64(p.edge_padding_low);
    h.I64(p.edge_padding_high);
    h.I64(p.interior_padding);
  }
  h.Tag('g');
  h.I64(a.feature_group_count);
  h.I64(a.batch_group_count);
  h.Tag('c');
  h.String(a.comparison_direction.has_value()
               ? ComparisonDirectionName(*a.comparison_direction)
               : absl::string_view());
  h.Tag('r');
  h.I64(OpcodeId(a.reduce_computation));
  if (a.replica_group_size != 0) {  // only then, so kernels without it keep their earlier hashes
    h.Tag('R');
    h.I64(a.replica_group_size);
  }
  h.Tag('t');
  h.String(a.custom_call_target);
  h.I64(a.parameter_number);
  h.I64(a.tuple_index);
  h.Tag('v');
  if (a.constant_value.has_value()) {
    uint64_t bits;
    static_assert(sizeof(bits) == sizeof(double));
    std::memcpy(&bits, &*a.constant_value, sizeof(bits));
    h.Tag('1');
    h.U64(bits);
  } else {
    h.Tag('0');
  }
  h.Tag('f');
  h.String(a.fusion_kind);
  // called_computations are computation names: deliberately not hashed.
}

}  // namespace

uint64_t CanonicalKernelHash(const Kernel& kernel) {
  Fnv1a64 h;
  h.String("perfgraph.kernel.v1");  // domain separation / hash-definition version
  h.String(FusionKindName(kernel.kind));
  h.I64(kernel.root);
  h.U64(kernel.instructions.size());
  for (const Instruction& inst : kernel.instructions) {
    h.Tag('I');
    h.I64(OpcodeId(inst.opcode));
    HashShape(inst.shape, h);
    h.Tag('O');
    h.Ints(inst.operands);
    HashAttributes(inst.attrs, h);
  }
  const uint64_t value = h.value();
  return value == 0 ? 1 : value;
}

}  // namespace perfgraph::graph
