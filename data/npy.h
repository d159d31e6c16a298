// NumPy's `.npy` array format (the members of a `.npz` archive, data/npz.h): a small reader and
// writer for the dense, little-endian, C-ordered numeric arrays interchange formats such as
// TpuGraphs use.
//
// Byte layout (NumPy's format.py, "NEP 1"):
//   [0, 6)    magic "\x93NUMPY"
//   [6, 8)    format version: major, minor (1.0, 2.0 or 3.0)
//   then      header length H: u16 little-endian (version 1.x) or u32 little-endian (2.x, 3.x)
//   then      H bytes of header: an ASCII (3.x: UTF-8) Python dict literal
//               {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
//             padded with spaces and ended by '\n' (NumPy aligns the data to 64 bytes)
//   then      the elements, prod(shape) * itemsize bytes, row-major when fortran_order is False.
//
// Supported: descr '|b1' (bool), '|i1', '|u1', '<i2', '<u2', '<i4', '<u4', '<i8', '<u8', '<f4',
// '<f8' ('=' for native order is read as '<' on this little-endian format), fortran_order False,
// any rank >= 0. Anything else (big-endian '>', structured or object dtypes, strings, complex,
// fortran_order True, a malformed dict, a data size other than prod(shape) * itemsize) is rejected
// with kInvalidArgument naming the source (file and key) and the offending value.
#ifndef PERFGRAPH_DATA_NPY_H_
#define PERFGRAPH_DATA_NPY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace perfgraph::data {

enum class NpyDtype {
  kBool,
  kInt8,
  kUint8,
  kInt16,
  kUint16,
  kInt32,
  kUint32,
  kInt64,
  kUint64,
  kFloat32,
  kFloat64
};

// The descr NumPy writes for `dtype`: "|b1", "|i1", "|u1", "<i2", ..., "<f4", "<f8".
absl::string_view NpyDescr(NpyDtype dtype);
// Bytes per element (1, 2, 4 or 8).
int NpyItemBytes(NpyDtype dtype);
bool NpyIsInteger(NpyDtype dtype);  // i*, u* and b1
bool NpyIsFloat(NpyDtype dtype);    // f4, f8

// Largest element count of one array read or written (2^31: a TpuGraphs tile file's largest array
// holds a few million elements). Larger shapes are rejected before anything is allocated.
inline constexpr int64_t kMaxNpyElements = int64_t{1} << 31;

// A dense array: shape and its raw little-endian bytes in row-major (C) order.
struct NpyArray {
  NpyDtype dtype = NpyDtype::kFloat32;
  std::vector<int64_t> shape;  // empty = a scalar (one element)
  std::string data;            // num_elements() * NpyItemBytes(dtype) bytes

  int64_t num_elements() const;

  // The elements converted to float (f4 as is, f8 rounded to the nearest float). Error
  // (kInvalidArgument naming `source`, the dtype and the accepted ones): an integer dtype.
  absl::StatusOr<std::vector<float>> ToFloat32(absl::string_view source) const;
  // The elements as double (f4, f8, and integers of at most 53 bits of magnitude exactly).
  std::vector<double> ToFloat64() const;
  // The elements converted to int64. Error (kInvalidArgument naming `source`): a float dtype, or a
  // u8 element above INT64_MAX (naming its index).
  absl::StatusOr<std::vector<int64_t>> ToInt64(absl::string_view source) const;
};

// Builders of arrays from values (little-endian bytes). prod(shape) should equal values.size();
// SerializeNpy rejects an array where it does not.
NpyArray MakeNpyFloat32(std::vector<int64_t> shape, const std::vector<float>& values);
NpyArray MakeNpyInt64(std::vector<int64_t> shape, const std::vector<int64_t>& values);
NpyArray MakeNpyUint8(std::vector<int64_t> shape, const std::vector<uint8_t>& values);

// Parses a whole `.npy` file held in `bytes`. `source` names it in messages (e.g.
// "a.npz:node_feat"). Errors (kInvalidArgument unless stated): bad magic; an unknown format
// version; a header length beyond the bytes; a header that is not a dict with exactly the keys
// descr, fortran_order and shape; an unsupported descr or fortran_order True; a negative dim or
// more than kMaxNpyElements elements; a data size other than prod(shape) * itemsize (kDataLoss when
// fewer bytes: truncated).
absl::StatusOr<NpyArray> ParseNpy(absl::string_view bytes, absl::string_view source);

// Serializes `array` as a version 1.0 file (2.0 when the header would exceed 65535 bytes), header
// padded so the data starts at a multiple of 64 bytes, as NumPy writes. Error (kInvalidArgument):
// data.size() != num_elements() * itemsize, a negative dim, more than kMaxNpyElements elements.
absl::StatusOr<std::string> SerializeNpy(const NpyArray& array);

}  // namespace perfgraph::data

#endif  // PERFGRAPH_DATA_NPY_H_
