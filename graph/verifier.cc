#include "graph/verifier.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"

namespace perfgraph::graph {
namespace {

// Wide enough for every product and sum of int64 values the checks form (no overflow).
using Wide = __int128;

std::string Dims(const std::vector<int64_t>& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ","), "]");
}

bool HasUnboundedDim(const Shape& shape) {
  if (shape.IsTuple()) {
    return std::any_of(shape.tuple_shapes.begin(), shape.tuple_shapes.end(), HasUnboundedDim);
  }
  return std::any_of(shape.dims.begin(), shape.dims.end(), [](int64_t d) { return d < 0; });
}

// Same tuple structure and dims (element types and layouts ignored).
bool SameDims(const Shape& a, const Shape& b) {
  if (a.IsTuple() != b.IsTuple()) return false;
  if (!a.IsTuple()) return a.dims == b.dims;
  if (a.tuple_shapes.size() != b.tuple_shapes.size()) return false;
  for (size_t i = 0; i < a.tuple_shapes.size(); ++i) {
    if (!SameDims(a.tuple_shapes[i], b.tuple_shapes[i])) return false;
  }
  return true;
}

// Same tuple structure, dims and element types (layouts ignored).
bool SameShapeIgnoringLayout(const Shape& a, const Shape& b) {
  if (a.element_type != b.element_type) return false;
  if (!a.IsTuple()) return a.dims == b.dims;
  if (a.tuple_shapes.size() != b.tuple_shapes.size()) return false;
  for (size_t i = 0; i < a.tuple_shapes.size(); ++i) {
    if (!SameShapeIgnoringLayout(a.tuple_shapes[i], b.tuple_shapes[i])) return false;
  }
  return true;
}

Wide Elements(const Shape& shape) {
  Wide n = 1;
  for (int64_t d : shape.dims) {
    n *= d;
    if (n > Wide{kMaxDimension} * kMaxDimension) return n;  // saturate well before overflow
  }
  return n;
}

class Checker {
 public:
  Checker(const Instruction& inst, absl::Span<const Shape* const> operands)
      : inst_(inst), ops_(operands) {}

  absl::Status Run() {
    if (HasUnboundedDim(inst_.shape)) return absl::OkStatus();
    for (const Shape* s : ops_) {
      if (s == nullptr) return Bad("an operand shape is missing (null)");
      if (HasUnboundedDim(*s)) return absl::OkStatus();
    }
    const HloOpcode op = inst_.opcode;
    if (op == HloOpcode::kBitcastConvert) return BitcastConvert();
    if (IsElementwiseUnary(op) || IsElementwiseBinary(op) || op == HloOpcode::kMap) {
      return Elementwise();
    }
    switch (op) {
      case HloOpcode::kSelect: return Select();
      case HloOpcode::kClamp: return Clamp();
      case HloOpcode::kDot: return Dot();
      case HloOpcode::kConvolution: return Convolution();
      case HloOpcode::kReduce: return Reduce(/*windowed=*/false);
      case HloOpcode::kReduceWindow: return Reduce(/*windowed=*/true);
      case HloOpcode::kBroadcast: return Broadcast();
      case HloOpcode::kTranspose: return Transpose();
      case HloOpcode::kReverse: return Reverse();
      case HloOpcode::kReshape: return Reshape();
      case HloOpcode::kSlice: return Slice();
      case HloOpcode::kConcatenate: return Concatenate();
      case HloOpcode::kPad: return Pad();
      case HloOpcode::kGetTupleElement: return GetTupleElement();
      case HloOpcode::kIota: return Iota();
      default: return absl::OkStatus();
    }
  }

 private:
  template <typename... Args>
  absl::Status Bad(const Args&... args) const {
    return absl::InvalidArgumentError(
        absl::StrCat(HloOpcodeName(inst_.opcode), " '", inst_.name, "': ", args...));
  }

  const Shape& Op(size_t i) const { return *ops_[i]; }
  const Shape& Result() const { return inst_.shape; }

  absl::Status ExpectOperands(size_t n) const {
    if (ops_.size() != n) return Bad("expects ", n, " operands, got ", ops_.size());
    return absl::OkStatus();
  }

  // Operand `i` (named `what`) must be an array, not a tuple.
  absl::Status ExpectArray(size_t i, absl::string_view what) const {
    if (Op(i).IsTuple()) return Bad(what, " (operand ", i, ") is a tuple ", Op(i).ToString(false));
    return absl::OkStatus();
  }

  absl::Status ExpectArrayResult() const {
    if (Result().IsTuple()) return Bad("result is a tuple ", Result().ToString(false));
    return absl::OkStatus();
  }

  absl::Status Elementwise() const {
    const HloOpcode op = inst_.opcode;
    if (IsElementwiseUnary(op)) {
      if (ops_.size() != 1) return ExpectOperands(1);
    } else if (IsElementwiseBinary(op)) {
      if (ops_.size() != 2) return ExpectOperands(2);
    }
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (!SameDims(Op(i), Result())) {
        return Bad("operand ", i, " has shape ", Op(i).ToString(false), " but the result has ",
                   Result().ToString(false),
                   " (elementwise operands must match the result; HLO has no implicit broadcast)");
      }
    }
    if ((op == HloOpcode::kCompare || op == HloOpcode::kIsFinite) &&
        (Result().IsTuple() || Result().element_type != PrimitiveType::kPred)) {
      return Bad("result must be pred, got ", Result().ToString(false));
    }
    return absl::OkStatus();
  }

  absl::Status BitcastConvert() const {
    RETURN_IF_ERROR(ExpectOperands(1));
    RETURN_IF_ERROR(ExpectArray(0, "operand"));
    RETURN_IF_ERROR(ExpectArrayResult());
    const int in_bits = BitWidth(Op(0).element_type);
    const int out_bits = BitWidth(Result().element_type);
    std::vector<int64_t> expected = Op(0).dims;
    if (in_bits > 0 && out_bits > 0 && in_bits != out_bits) {
      if (in_bits > out_bits) {
        expected.push_back(in_bits / out_bits);
      } else if (expected.empty() || expected.back() != out_bits / in_bits) {
        return Bad("operand ", Op(0).ToString(false), " to the wider ",
                   PrimitiveTypeName(Result().element_type), " must end in a dim of size ",
                   out_bits / in_bits);
      } else {
        expected.pop_back();
      }
    }
    if (Result().dims != expected) {
      return Bad("result dims ", Dims(Result().dims), " but bitcast-convert of ",
                 Op(0).ToString(false), " to ", PrimitiveTypeName(Result().element_type), " gives ",
                 Dims(expected));
    }
    return absl::OkStatus();
  }

  absl::Status Select() const {
    RETURN_IF_ERROR(ExpectOperands(3));
    for (size_t i = 0; i < 3; ++i) RETURN_IF_ERROR(ExpectArray(i, i == 0 ? "pred" : "operand"));
    if (Op(0).element_type != PrimitiveType::kPred) {
      return Bad("pred operand must be pred, got ", Op(0).ToString(false));
    }
    if (Op(0).rank() != 0 && Op(0).dims != Result().dims) {
      return Bad("pred ", Op(0).ToString(false), " is neither a scalar nor of the result's dims ",
                 Dims(Result().dims));
    }
    for (size_t i = 1; i < 3; ++i) {
      if (Op(i).dims != Result().dims) {
        return Bad(i == 1 ? "on_true" : "on_false", " has shape ", Op(i).ToString(false),
                   " but the result has ", Result().ToString(false));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Clamp() const {
    RETURN_IF_ERROR(ExpectOperands(3));
    for (size_t i = 0; i < 3; ++i) RETURN_IF_ERROR(ExpectArray(i, "operand"));
    if (Op(1).dims != Result().dims) {
      return Bad("operand has shape ", Op(1).ToString(false), " but the result has ",
                 Result().ToString(false));
    }
    for (size_t i : {size_t{0}, size_t{2}}) {
      if (Op(i).rank() != 0 && Op(i).dims != Op(1).dims) {
        return Bad(i == 0 ? "min " : "max ", Op(i).ToString(false),
                   " is neither a scalar nor of the operand's dims ", Dims(Op(1).dims));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Dot() const {
    if (ops_.size() == 3) return absl::OkStatus();  // sparse dot (metadata operand): not modelled
    RETURN_IF_ERROR(ExpectOperands(2));
    RETURN_IF_ERROR(ExpectArray(0, "lhs"));
    RETURN_IF_ERROR(ExpectArray(1, "rhs"));
    RETURN_IF_ERROR(ExpectArrayResult());
    const DotDimensionNumbers dn =
        inst_.attrs.dot_dimension_numbers.value_or(DotDimensionNumbers{});
    if (dn.lhs_batch_dimensions.size() != dn.rhs_batch_dimensions.size()) {
      return Bad("lhs_batch_dims ", Dims(dn.lhs_batch_dimensions), " and rhs_batch_dims ",
                 Dims(dn.rhs_batch_dimensions), " differ in length");
    }
    if (dn.lhs_contracting_dimensions.size() != dn.rhs_contracting_dimensions.size()) {
      return Bad("lhs_contracting_dims ", Dims(dn.lhs_contracting_dimensions),
                 " and rhs_contracting_dims ", Dims(dn.rhs_contracting_dimensions),
                 " differ in length");
    }
    // Range and uniqueness per side; marks the batch and contracting dims.
    auto side = [&](absl::string_view name, const Shape& s, const std::vector<int64_t>& batch,
                    const std::vector<int64_t>& contracting,
                    std::vector<bool>* used) -> absl::Status {
      used->assign(s.rank(), false);
      for (const auto* list : {&batch, &contracting}) {
        const absl::string_view kind = list == &batch ? "batch" : "contracting";
        for (int64_t d : *list) {
          if (d < 0 || d >= s.rank()) {
            return Bad(name, " ", kind, " dim ", d, " is out of range for ", name, " ",
                       s.ToString(false), " of rank ", s.rank());
          }
          if ((*used)[d])
            return Bad(name, " dim ", d, " is named twice as a batch/contracting dim");
          (*used)[d] = true;
        }
      }
      return absl::OkStatus();
    };
    std::vector<bool> lhs_used, rhs_used;
    RETURN_IF_ERROR(
        side("lhs", Op(0), dn.lhs_batch_dimensions, dn.lhs_contracting_dimensions, &lhs_used));
    RETURN_IF_ERROR(
        side("rhs", Op(1), dn.rhs_batch_dimensions, dn.rhs_contracting_dimensions, &rhs_used));
    auto pairs = [&](absl::string_view kind, const std::vector<int64_t>& l,
                     const std::vector<int64_t>& r) -> absl::Status {
      for (size_t i = 0; i < l.size(); ++i) {
        const int64_t ls = Op(0).dims[l[i]], rs = Op(1).dims[r[i]];
        if (ls != rs) {
          return Bad("lhs ", kind, " dim ", l[i], " has size ", ls, " but rhs ", kind, " dim ",
                     r[i], " has size ", rs);
        }
      }
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(pairs("batch", dn.lhs_batch_dimensions, dn.rhs_batch_dimensions));
    RETURN_IF_ERROR(
        pairs("contracting", dn.lhs_contracting_dimensions, dn.rhs_contracting_dimensions));
    std::vector<int64_t> expected;
    for (int64_t d : dn.lhs_batch_dimensions) expected.push_back(Op(0).dims[d]);
    for (int64_t d = 0; d < Op(0).rank(); ++d) {
      if (!lhs_used[d]) expected.push_back(Op(0).dims[d]);
    }
    for (int64_t d = 0; d < Op(1).rank(); ++d) {
      if (!rhs_used[d]) expected.push_back(Op(1).dims[d]);
    }
    if (Result().dims != expected) {
      return Bad("result dims ", Dims(Result().dims), " but lhs ", Op(0).ToString(false), " x rhs ",
                 Op(1).ToString(false), " gives ", Dims(expected),
                 " (batch dims, then lhs free dims, then rhs free dims)");
    }
    return absl::OkStatus();
  }

  // Window fields valid and of `rank` dimensions (`what` names the windowed dims in messages).
  absl::Status CheckWindow(size_t rank, absl::string_view what) const {
    const std::vector<WindowDimension>& window = inst_.attrs.window;
    if (window.size() != rank) {
      return Bad("window has ", window.size(), " dims but there are ", rank, " ", what);
    }
    for (size_t i = 0; i < window.size(); ++i) {
      const WindowDimension& w = window[i];
      if (w.size < 1 || w.stride < 1 || w.window_dilation < 1 || w.base_dilation < 1) {
        return Bad("window dim ", i, " needs size, stride and dilations >= 1, got size ", w.size,
                   " stride ", w.stride, " lhs_dilate ", w.base_dilation, " rhs_dilate ",
                   w.window_dilation);
      }
    }
    return absl::OkStatus();
  }

  absl::Status Convolution() const {
    RETURN_IF_ERROR(ExpectOperands(2));
    RETURN_IF_ERROR(ExpectArray(0, "input"));
    RETURN_IF_ERROR(ExpectArray(1, "kernel"));
    RETURN_IF_ERROR(ExpectArrayResult());
    if (!inst_.attrs.convolution_dimension_numbers.has_value()) {
      return Bad("has no dimension numbers (dim_labels)");
    }
    const ConvolutionDimensionNumbers& dn = *inst_.attrs.convolution_dimension_numbers;
    const size_t ns = dn.input_spatial_dimensions.size();
    if (dn.kernel_spatial_dimensions.size() != ns || dn.output_spatial_dimensions.size() != ns) {
      return Bad("input, kernel and output have ", ns, ", ", dn.kernel_spatial_dimensions.size(),
                 " and ", dn.output_spatial_dimensions.size(), " spatial dims");
    }
    const Shape& in = Op(0);
    const Shape& kernel = Op(1);
    const Shape& out = Result();
    const int64_t rank = static_cast<int64_t>(ns) + 2;
    for (const auto& [name, s] : {std::pair<absl::string_view, const Shape*>{"input", &in},
                                  {"kernel", &kernel},
                                  {"result", &out}}) {
      if (s->rank() != rank) {
        return Bad(name, " ", s->ToString(false), " has rank ", s->rank(), " but dim_labels have ",
                   ns, " spatial dims (rank ", rank, ")");
      }
    }
    auto in_range = [&](int64_t d) { return d >= 0 && d < rank; };
    std::vector<int64_t> all = {
        dn.input_batch_dimension,          dn.input_feature_dimension,
        dn.kernel_input_feature_dimension, dn.kernel_output_feature_dimension,
        dn.output_batch_dimension,         dn.output_feature_dimension};
    for (size_t i = 0; i < ns; ++i) {
      all.push_back(dn.input_spatial_dimensions[i]);
      all.push_back(dn.kernel_spatial_dimensions[i]);
      all.push_back(dn.output_spatial_dimensions[i]);
    }
    for (int64_t d : all) {
      if (!in_range(d)) return Bad("dimension number ", d, " is out of range for rank ", rank);
    }
    RETURN_IF_ERROR(CheckWindow(ns, "spatial dims"));
    const int64_t fgc = inst_.attrs.feature_group_count;
    const int64_t bgc = inst_.attrs.batch_group_count;
    if (fgc < 1 || bgc < 1) {
      return Bad("feature_group_count ", fgc, " and batch_group_count ", bgc, " must be >= 1");
    }
    const int64_t in_batch = in.dims[dn.input_batch_dimension];
    const int64_t in_features = in.dims[dn.input_feature_dimension];
    const int64_t k_in = kernel.dims[dn.kernel_input_feature_dimension];
    const int64_t k_out = kernel.dims[dn.kernel_output_feature_dimension];
    if (in_features % fgc != 0 || in_features / fgc != k_in) {
      return Bad("input feature dim ", dn.input_feature_dimension, " has size ", in_features,
                 " but kernel input feature dim ", dn.kernel_input_feature_dimension, " has size ",
                 k_in, " with feature_group_count ", fgc, " (expected ", k_in, " * ", fgc, ")");
    }
    if (k_out % fgc != 0 || k_out % bgc != 0) {
      return Bad("kernel output features ", k_out, " are not divisible by feature_group_count ",
                 fgc, " and batch_group_count ", bgc);
    }
    if (in_batch % bgc != 0) {
      return Bad("input batch ", in_batch, " is not divisible by batch_group_count ", bgc);
    }
    std::vector<int64_t> expected(rank, 0);
    expected[dn.output_batch_dimension] = in_batch / bgc;
    expected[dn.output_feature_dimension] = k_out;
    for (size_t i = 0; i < ns; ++i) {
      const WindowDimension& w = inst_.attrs.window[i];
      const int64_t k_size = kernel.dims[dn.kernel_spatial_dimensions[i]];
      if (w.size != k_size) {
        return Bad("window size ", w.size, " of spatial dim ", i, " but the kernel's spatial dim ",
                   dn.kernel_spatial_dimensions[i], " has size ", k_size);
      }
      expected[dn.output_spatial_dimensions[i]] =
          WindowedOutputSize(in.dims[dn.input_spatial_dimensions[i]], w);
    }
    if (out.dims != expected) {
      return Bad("result dims ", Dims(out.dims), " but input ", in.ToString(false), " and kernel ",
                 kernel.ToString(false), " with this window give ", Dims(expected));
    }
    return absl::OkStatus();
  }

  // reduce and reduce-window: N inputs then N init values.
  absl::Status Reduce(bool windowed) const {
    if (ops_.size() < 2 || ops_.size() % 2 != 0) {
      return Bad("expects N inputs and N init values (an even number >= 2 of operands), got ",
                 ops_.size());
    }
    const size_t n = ops_.size() / 2;
    for (size_t i = 0; i < ops_.size(); ++i) {
      RETURN_IF_ERROR(ExpectArray(i, i < n ? "input" : "init value"));
    }
    for (size_t i = 1; i < n; ++i) {
      if (Op(i).dims != Op(0).dims) {
        return Bad("input ", i, " ", Op(i).ToString(false), " and input 0 ", Op(0).ToString(false),
                   " differ in dims");
      }
    }
    for (size_t i = n; i < ops_.size(); ++i) {
      if (Op(i).rank() != 0)
        return Bad("init value (operand ", i, ") ", Op(i).ToString(false), " is not a scalar");
    }
    const Shape& in = Op(0);
    std::vector<int64_t> expected;
    if (windowed) {
      RETURN_IF_ERROR(CheckWindow(static_cast<size_t>(in.rank()), "input dims"));
      for (int64_t d = 0; d < in.rank(); ++d) {
        expected.push_back(WindowedOutputSize(in.dims[d], inst_.attrs.window[d]));
      }
    } else {
      std::vector<bool> reduced(in.rank(), false);
      for (int64_t d : inst_.attrs.dimensions) {
        if (d < 0 || d >= in.rank()) {
          return Bad("dimensions ", Dims(inst_.attrs.dimensions), ": ", d,
                     " is out of range for input ", in.ToString(false), " of rank ", in.rank());
        }
        if (reduced[d])
          return Bad("dimensions ", Dims(inst_.attrs.dimensions), " name ", d, " twice");
        reduced[d] = true;
      }
      for (int64_t d = 0; d < in.rank(); ++d) {
        if (!reduced[d]) expected.push_back(in.dims[d]);
      }
    }
    const absl::string_view how = windowed ? "with this window" : "without the reduced dims";
    if (n == 1) {
      RETURN_IF_ERROR(ExpectArrayResult());
      if (Result().dims != expected) {
        return Bad("result dims ", Dims(Result().dims), " but input ", in.ToString(false), " ", how,
                   " gives ", Dims(expected));
      }
      return absl::OkStatus();
    }
    if (!Result().IsTuple() || Result().tuple_shapes.size() != n) {
      return Bad("result ", Result().ToString(false), " is not a tuple of ", n,
                 " arrays (one per input)");
    }
    for (size_t i = 0; i < n; ++i) {
      const Shape& r = Result().tuple_shapes[i];
      if (r.IsTuple() || r.dims != expected) {
        return Bad("result element ", i, " ", r.ToString(false), " but input ", in.ToString(false),
                   " ", how, " gives dims ", Dims(expected));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Broadcast() const {
    RETURN_IF_ERROR(ExpectOperands(1));
    RETURN_IF_ERROR(ExpectArray(0, "operand"));
    RETURN_IF_ERROR(ExpectArrayResult());
    const std::vector<int64_t>& map = inst_.attrs.dimensions;
    const Shape& in = Op(0);
    if (static_cast<int64_t>(map.size()) != in.rank()) {
      return Bad("dimensions ", Dims(map), " has ", map.size(), " entries but the operand ",
                 in.ToString(false), " has rank ", in.rank());
    }
    std::vector<bool> seen(Result().rank(), false);
    for (size_t i = 0; i < map.size(); ++i) {
      const int64_t d = map[i];
      if (d < 0 || d >= Result().rank()) {
        return Bad("dimensions ", Dims(map), ": ", d, " is out of range for the result ",
                   Result().ToString(false), " of rank ", Result().rank());
      }
      if (seen[d]) return Bad("dimensions ", Dims(map), " name result dim ", d, " twice");
      seen[d] = true;
      if (in.dims[i] != Result().dims[d]) {
        return Bad("operand dim ", i, " has size ", in.dims[i], " but maps to result dim ", d,
                   " of size ", Result().dims[d]);
      }
    }
    return absl::OkStatus();
  }

  absl::Status Transpose() const {
    RETURN_IF_ERROR(ExpectOperands(1));
    RETURN_IF_ERROR(ExpectArray(0, "operand"));
    RETURN_IF_ERROR(ExpectArrayResult());
    const std::vector<int64_t>& perm = inst_.attrs.dimensions;
    const Shape& in = Op(0);
    std::vector<int64_t> sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    bool permutation = static_cast<int64_t>(perm.size()) == in.rank();
    for (size_t i = 0; permutation && i < sorted.size(); ++i) {
      permutation = sorted[i] == static_cast<int64_t>(i);
    }
    if (!permutation) {
      return Bad("dimensions ", Dims(perm), " is not a permutation of the ", in.rank(),
                 " dims of the operand ", in.ToString(false));
    }
    std::vector<int64_t> expected;
    for (int64_t d : perm) expected.push_back(in.dims[d]);
    if (Result().dims != expected) {
      return Bad("result dims ", Dims(Result().dims), " but operand ", in.ToString(false),
                 " permuted by ", Dims(perm), " gives ", Dims(expected));
    }
    return absl::OkStatus();
  }

  absl::Status Reverse() const {
    RETURN_IF_ERROR(ExpectOperands(1));
    RETURN_IF_ERROR(ExpectArray(0, "operand"));
    RETURN_IF_ERROR(ExpectArrayResult());
    for (int64_t d : inst_.attrs.dimensions) {
      if (d < 0 || d >= Op(0).rank()) {
        return Bad("dimensions ", Dims(inst_.attrs.dimensions), ": ", d,
                   " is out of range for the operand ", Op(0).ToString(false));
      }
    }
    if (Result().dims != Op(0).dims) {
      return Bad("result ", Result().ToString(false), " differs in dims from the operand ",
                 Op(0).ToString(false));
    }
    return absl::OkStatus();
  }

  absl::Status Reshape() const {
    RETURN_IF_ERROR(ExpectOperands(1));
    RETURN_IF_ERROR(ExpectArray(0, "operand"));
    RETURN_IF_ERROR(ExpectArrayResult());
    if (Elements(Op(0)) != Elements(Result())) {
      return Bad("operand ", Op(0).ToString(false), " and result ", Result().ToString(false),
                 " have different element counts");
    }
    return absl::OkStatus();
  }

  absl::Status Slice() const {
    RETURN_IF_ERROR(ExpectOperands(1));
    RETURN_IF_ERROR(ExpectArray(0, "operand"));
    RETURN_IF_ERROR(ExpectArrayResult());
    const Shape& in = Op(0);
    const std::vector<SliceDimension>& slice = inst_.attrs.slice;
    if (static_cast<int64_t>(slice.size()) != in.rank()) {
      return Bad("slice has ", slice.size(), " dims but the operand ", in.ToString(false),
                 " has rank ", in.rank());
    }
    std::vector<int64_t> expected;
    for (size_t i = 0; i < slice.size(); ++i) {
      const SliceDimension& s = slice[i];
      if (s.start < 0 || s.start > s.limit || s.limit > in.dims[i] || s.stride < 1) {
        return Bad("slice dim ", i, " [", s.start, ":", s.limit, ":", s.stride,
                   "] needs 0 <= start <= limit <= ", in.dims[i], " and stride >= 1");
      }
      expected.push_back((s.limit - s.start + s.stride - 1) / s.stride);
    }
    if (Result().dims != expected) {
      return Bad("result dims ", Dims(Result().dims), " but slicing ", in.ToString(false),
                 " gives ", Dims(expected));
    }
    return absl::OkStatus();
  }

  absl::Status Concatenate() const {
    if (ops_.empty()) return Bad("expects at least 1 operand, got 0");
    RETURN_IF_ERROR(ExpectArrayResult());
    const std::vector<int64_t>& dims = inst_.attrs.dimensions;
    const Shape& out = Result();
    if (dims.size() != 1 || dims[0] < 0 || dims[0] >= out.rank()) {
      return Bad("dimensions ", Dims(dims), " must be one dim in range of the result ",
                 out.ToString(false));
    }
    const int64_t axis = dims[0];
    Wide sum = 0;
    for (size_t i = 0; i < ops_.size(); ++i) {
      RETURN_IF_ERROR(ExpectArray(i, "operand"));
      const Shape& s = Op(i);
      if (s.rank() != out.rank()) {
        return Bad("operand ", i, " ", s.ToString(false), " has rank ", s.rank(),
                   " but the result ", out.ToString(false), " has rank ", out.rank());
      }
      for (int64_t d = 0; d < out.rank(); ++d) {
        if (d != axis && s.dims[d] != out.dims[d]) {
          return Bad("operand ", i, " ", s.ToString(false), " has size ", s.dims[d], " in dim ", d,
                     " but the result ", out.ToString(false), " has ", out.dims[d], " (only dim ",
                     axis, " is concatenated)");
        }
      }
      sum += s.dims[axis];
    }
    if (sum != out.dims[axis]) {
      return Bad("result dim ", axis, " has size ", out.dims[axis],
                 " but the operands' sizes along it sum to ", static_cast<int64_t>(sum));
    }
    return absl::OkStatus();
  }

  absl::Status Pad() const {
    RETURN_IF_ERROR(ExpectOperands(2));
    RETURN_IF_ERROR(ExpectArray(0, "operand"));
    RETURN_IF_ERROR(ExpectArray(1, "padding value"));
    RETURN_IF_ERROR(ExpectArrayResult());
    if (Op(1).rank() != 0) return Bad("padding value ", Op(1).ToString(false), " is not a scalar");
    const Shape& in = Op(0);
    const std::vector<PaddingDimension>& padding = inst_.attrs.padding;
    if (static_cast<int64_t>(padding.size()) != in.rank()) {
      return Bad("padding has ", padding.size(), " dims but the operand ", in.ToString(false),
                 " has rank ", in.rank());
    }
    std::vector<int64_t> expected;
    for (size_t i = 0; i < padding.size(); ++i) {
      const PaddingDimension& p = padding[i];
      if (p.interior_padding < 0) {
        return Bad("padding dim ", i, " has negative interior padding ", p.interior_padding);
      }
      const Wide size = Wide{p.edge_padding_low} + p.edge_padding_high + in.dims[i] +
                        Wide{p.interior_padding} * std::max<int64_t>(in.dims[i] - 1, 0);
      if (size < 0 || size > kMaxDimension) {
        return Bad("padding dim ", i, " ", p.edge_padding_low, "_", p.edge_padding_high, "_",
                   p.interior_padding, " of the operand dim of size ", in.dims[i], " gives a ",
                   size < 0 ? "negative size" : "size above 2^40");
      }
      expected.push_back(static_cast<int64_t>(size));
    }
    if (Result().dims != expected) {
      return Bad("result dims ", Dims(Result().dims), " but padding ", in.ToString(false),
                 " gives ", Dims(expected));
    }
    return absl::OkStatus();
  }

  absl::Status GetTupleElement() const {
    RETURN_IF_ERROR(ExpectOperands(1));
    const Shape& tuple = Op(0);
    if (!tuple.IsTuple()) return Bad("operand ", tuple.ToString(false), " is not a tuple");
    const int64_t index = inst_.attrs.tuple_index;
    if (index < 0 || index >= static_cast<int64_t>(tuple.tuple_shapes.size())) {
      return Bad("index ", index, " is out of range for a tuple of ", tuple.tuple_shapes.size(),
                 " elements ", tuple.ToString(false));
    }
    if (!SameShapeIgnoringLayout(tuple.tuple_shapes[index], Result())) {
      return Bad("result ", Result().ToString(false), " but element ", index, " of the operand is ",
                 tuple.tuple_shapes[index].ToString(false));
    }
    return absl::OkStatus();
  }

  absl::Status Iota() const {
    RETURN_IF_ERROR(ExpectOperands(0));
    RETURN_IF_ERROR(ExpectArrayResult());
    const std::vector<int64_t>& dims = inst_.attrs.dimensions;
    if (dims.size() != 1 || dims[0] < 0 || dims[0] >= Result().rank()) {
      return Bad("iota_dimension ", Dims(dims), " must be one dim in range of the result ",
                 Result().ToString(false));
    }
    return absl::OkStatus();
  }

  const Instruction& inst_;
  absl::Span<const Shape* const> ops_;
};

}  // namespace

int64_t WindowedOutputSize(int64_t input, const WindowDimension& w) {
  const Wide dilated = input <= 0 ? 0 : Wide{input - 1} * std::max<int64_t>(w.base_dilation, 1) + 1;
  const Wide padded = dilated + w.padding_low + w.padding_high;
  const Wide window =
      Wide{std::max<int64_t>(w.size, 1) - 1} * std::max<int64_t>(w.window_dilation, 1) + 1;
  if (padded <= 0 || window > padded) return 0;
  const Wide out = (padded - window) / std::max<int64_t>(w.stride, 1) + 1;
  return out > kMaxDimension ? kMaxDimension + 1 : static_cast<int64_t>(out);
}

absl::Status VerifyInstruction(const Instruction& inst,
                               absl::Span<const Shape* const> operand_shapes) {
  return Checker(inst, operand_shapes).Run();
}

}  // namespace perfgraph::graph
