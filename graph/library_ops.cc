#include "graph/library_ops.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "graph/hlo_opcode.h"

namespace perfgraph::graph {
namespace {

// ceil(log2 n) for n >= 1 (0 for n <= 1).
double CeilLog2(int64_t n) {
  double bits = 0;
  for (int64_t v = 1; v < n && bits < 64; v <<= 1) ++bits;
  return bits;
}

// Bytes of a result without its u8 elements: the workspace / scratch buffers cuDNN and
// TransformerEngine custom-calls return as u8[N] are scratch, not data written.
int64_t DataBytes(const Shape& shape) {
  if (shape.IsTuple()) {
    int64_t total = 0;
    for (const Shape& element : shape.tuple_shapes) total += DataBytes(element);
    return total;
  }
  return shape.element_type == PrimitiveType::kU8 ? 0 : shape.ByteSize();
}

int64_t OperandBytes(const std::vector<const Shape*>& operands, bool skip_u8) {
  int64_t total = 0;
  for (const Shape* s : operands) total += skip_u8 ? DataBytes(*s) : s->ByteSize();
  return total;
}

// Element i of a result: the tuple element, or the array itself for i = 0.
const Shape* ResultElement(const Shape& shape, size_t i) {
  if (!shape.IsTuple()) return i == 0 ? &shape : nullptr;
  return i < shape.tuple_shapes.size() ? &shape.tuple_shapes[i] : nullptr;
}

}  // namespace

LibraryOp LibraryOpOf(const Instruction& inst) {
  switch (inst.opcode) {
    case HloOpcode::kSort: return LibraryOp::kSort;
    case HloOpcode::kScatter: return LibraryOp::kScatter;
    case HloOpcode::kRng: case HloOpcode::kRngBitGenerator: return LibraryOp::kRng;
    case HloOpcode::kCholesky: return LibraryOp::kCholesky;
    case HloOpcode::kTriangularSolve: return LibraryOp::kTriangularSolve;
    case HloOpcode::kCustomCall: break;
    default: return LibraryOp::kNone;
  }
  const std::string& target = inst.attrs.custom_call_target;
  if (target == "te_fused_attn_forward" || target == "te_fused_attn_forward_ffi") {
    return LibraryOp::kFusedAttentionForward;
  }
  if (target == "te_fused_attn_backward" || target == "te_fused_attn_backward_ffi") {
    return LibraryOp::kFusedAttentionBackward;
  }
  if (target == "__cudnn$convForward" || target == "__cudnn$convBiasActivationForward" ||
      target == "__cudnn$convBackwardInput" || target == "__cudnn$convBackwardFilter") {
    return LibraryOp::kCudnnConvolution;
  }
  if (target == "TopK") return LibraryOp::kTopK;
  return LibraryOp::kNone;
}

bool IsLibraryKernel(const Kernel& kernel) {
  for (const Instruction& inst : kernel.instructions) {
    if (LibraryOpOf(inst) != LibraryOp::kNone) return true;
  }
  return false;
}

double AttendedPairs(int64_t q_len, int64_t kv_len, int64_t mask_type, int64_t window_left,
                     int64_t window_right) {
  if (q_len <= 0 || kv_len <= 0) return 0;
  const bool causal_top_left = mask_type == 2 || mask_type == 3;
  const bool causal_bottom_right = mask_type == 4 || mask_type == 5;
  // Beyond 2^20 queries, sample 2^20 evenly spaced ones and scale (the count is piecewise linear
  // in the query index, so the error is below one pair per sample).
  constexpr int64_t kMaxQueries = int64_t{1} << 20;
  const int64_t samples = std::min(q_len, kMaxQueries);
  double total = 0;
  for (int64_t s = 0; s < samples; ++s) {
    const int64_t i = samples == q_len ? s : static_cast<int64_t>((static_cast<double>(s) + 0.5) *
                                                                  q_len / samples);
    const int64_t diagonal = causal_bottom_right ? i + (kv_len - q_len) : i;
    int64_t hi = kv_len - 1;
    if (causal_top_left || causal_bottom_right) {
      hi = std::min(hi, diagonal);
    } else if (window_right >= 0) {
      hi = std::min(hi, diagonal + window_right);
    }
    int64_t lo = 0;
    if (window_left >= 0) lo = std::max<int64_t>(0, diagonal - window_left);
    if (hi >= lo) total += static_cast<double>(hi - lo + 1);
  }
  return total * static_cast<double>(q_len) / static_cast<double>(samples);
}

absl::StatusOr<LibraryWork> LibraryOpWork(const Instruction& inst,
                                          const std::vector<const Shape*>& operand_shapes) {
  const LibraryOp op = LibraryOpOf(inst);
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(HloOpcodeName(inst.opcode), " '", inst.name,
                                                   "': ", why));
  };
  if (op == LibraryOp::kNone) return bad("not a library op (graph/library_ops.h)");
  for (const Shape* s : operand_shapes) {
    if (s == nullptr) return bad("missing operand shape");
  }
  auto need_operands = [&](size_t n) -> absl::Status {
    if (operand_shapes.size() < n) {
      return bad(absl::StrCat("has ", operand_shapes.size(), " operands, needs at least ", n));
    }
    return absl::OkStatus();
  };
  LibraryWork w;
  w.bytes_read = OperandBytes(operand_shapes, /*skip_u8=*/false);
  w.bytes_written = inst.shape.ByteSize();
  switch (op) {
    case LibraryOp::kSort: {
      if (absl::Status s = need_operands(1); !s.ok()) return s;
      const Shape& keys = *operand_shapes[0];
      if (keys.IsTuple() || keys.rank() == 0) return bad("operand 0 is not an array of rank >= 1");
      const int64_t dim = inst.attrs.dimensions.empty() ? keys.rank() - 1 : inst.attrs.dimensions[0];
      if (dim < 0 || dim >= keys.rank()) {
        return bad(absl::StrCat("sort dimension ", dim, " is out of range for rank ", keys.rank()));
      }
      const int64_t n = keys.NumElements();
      const double log = CeilLog2(keys.dims[dim]);
      w.flops = static_cast<double>(n) * log;
      w.execution = LibraryExecution::kScalar;
      w.formula = absl::StrCat("sort: ", n, " elements x ceil(log2 ", keys.dims[dim],
                               ") comparisons");
      return w;
    }
    case LibraryOp::kScatter: {
      // Operands: N inputs, the indices, N updates.
      if (operand_shapes.size() < 3 || operand_shapes.size() % 2 == 0) {
        return bad(absl::StrCat("has ", operand_shapes.size(),
                                " operands; scatter takes N inputs, the indices and N updates"));
      }
      const size_t n = (operand_shapes.size() - 1) / 2;
      int64_t updates_bytes = 0;
      int64_t updates = 0;
      for (size_t i = n + 1; i < operand_shapes.size(); ++i) {
        updates_bytes += operand_shapes[i]->ByteSize();
        updates += operand_shapes[i]->NumElements();
      }
      const HloOpcode combiner = inst.attrs.reduce_computation;
      const bool arithmetic = combiner != HloOpcode::kUnknown && combiner != HloOpcode::kParameter;
      w.flops = arithmetic ? static_cast<double>(updates) : 0.0;
      w.bytes_read = operand_shapes[n]->ByteSize() + 2 * updates_bytes;
      w.bytes_written = updates_bytes;
      w.execution = LibraryExecution::kScalar;
      w.formula = absl::StrCat("scatter: ", updates, " updated elements",
                               arithmetic ? " x 1 combiner op" : " (assignment)",
                               ", indices + 3 x updates bytes");
      return w;
    }
    case LibraryOp::kRng: {
      const int64_t words = (DataBytes(inst.shape) + 3) / 4;
      w.flops = 15.0 * static_cast<double>(words);
      w.bytes_written = DataBytes(inst.shape);
      w.execution = LibraryExecution::kVector;
      w.formula = absl::StrCat("random numbers: ", words, " 32-bit words x 15 integer ops (Philox)");
      return w;
    }
    case LibraryOp::kCholesky: {
      if (absl::Status s = need_operands(1); !s.ok()) return s;
      const Shape& a = *operand_shapes[0];
      if (a.IsTuple() || a.rank() < 2 || a.dims[a.rank() - 1] != a.dims[a.rank() - 2]) {
        return bad(absl::StrCat("operand ", a.ToString(false), " is not a batch of square matrices"));
      }
      const double n = static_cast<double>(a.dims.back());
      const double batch = static_cast<double>(a.NumElements()) / (n * n);
      w.flops = batch * n * n * n / 3.0;
      w.execution = LibraryExecution::kDense;
      w.formula = absl::StrCat("cholesky: ", batch, " x ", n, "^3 / 3 FLOP");
      return w;
    }
    case LibraryOp::kTriangularSolve: {
      if (absl::Status s = need_operands(2); !s.ok()) return s;
      const Shape& a = *operand_shapes[0];
      const Shape& b = *operand_shapes[1];
      if (a.IsTuple() || a.rank() < 2 || a.dims[a.rank() - 1] != a.dims[a.rank() - 2] ||
          b.IsTuple() || b.rank() < 2) {
        return bad(absl::StrCat("operands ", a.ToString(false), ", ", b.ToString(false),
                                " are not a batch of square matrices and right-hand sides"));
      }
      const int64_t k = a.dims.back();
      w.flops = static_cast<double>(k) * static_cast<double>(b.NumElements());
      w.execution = LibraryExecution::kDense;
      w.formula = absl::StrCat("triangular-solve: ", k, " x ", b.NumElements(), " FLOP");
      return w;
    }
    case LibraryOp::kFusedAttentionForward:
    case LibraryOp::kFusedAttentionBackward: {
      const std::vector<int64_t>& d = inst.attrs.dimensions;
      if (d.size() != 10) {
        return absl::UnimplementedError(absl::StrCat(
            "fused-attention custom-call '", inst.name, "' ('", inst.attrs.custom_call_target,
            "') has no batch / heads / sequence / head-dim attributes in its backend config: no "
            "cost formula, counted, not estimated"));
      }
      for (int i = 0; i < 7; ++i) {
        if (d[i] <= 0) {
          return bad(absl::StrCat("fused-attention dimension ", i, " (B, H, H_kv, S_q, S_kv, d_qk, "
                                  "d_v) is ", d[i]));
        }
      }
      const double pairs = AttendedPairs(d[3], d[4], d[7], d[8], d[9]);
      const double forward = 2.0 * static_cast<double>(d[0]) * static_cast<double>(d[1]) * pairs *
                             static_cast<double>(d[5] + d[6]);
      const bool backward = op == LibraryOp::kFusedAttentionBackward;
      w.flops = backward ? 2.5 * forward : forward;
      w.bytes_read = OperandBytes(operand_shapes, /*skip_u8=*/true);
      w.bytes_written = DataBytes(inst.shape);
      w.execution = LibraryExecution::kDense;
      w.formula = absl::StrCat(backward ? "fused attention backward: 2.5 x " : "fused attention: ",
                               "2 x B ", d[0], " x H ", d[1], " x ", pairs,
                               " attended pairs x (d_qk + d_v) ", d[5] + d[6], " FLOP");
      return w;
    }
    case LibraryOp::kCudnnConvolution: {
      if (absl::Status s = need_operands(2); !s.ok()) return s;
      if (!inst.attrs.convolution_dimension_numbers.has_value()) {
        return bad("has no dim_labels (convolution dimension numbers)");
      }
      const std::string& target = inst.attrs.custom_call_target;
      const Shape* out = nullptr;
      const Shape* filter = nullptr;
      if (target == "__cudnn$convBackwardInput") {
        out = operand_shapes[0];
        filter = operand_shapes[1];
      } else if (target == "__cudnn$convBackwardFilter") {
        out = operand_shapes[1];
        filter = ResultElement(inst.shape, 0);
      } else {
        out = ResultElement(inst.shape, 0);
        filter = operand_shapes[1];
      }
      if (out == nullptr || filter == nullptr || out->IsTuple() || filter->IsTuple()) {
        return bad("result or operands are not the arrays a cuDNN convolution has");
      }
      const int64_t o = inst.attrs.convolution_dimension_numbers->kernel_output_feature_dimension;
      if (o < 0 || o >= filter->rank() || filter->dims[o] <= 0) {
        return bad(absl::StrCat("kernel output feature dimension ", o, " is out of range for ",
                                filter->ToString(false)));
      }
      w.flops = 2.0 * static_cast<double>(out->NumElements()) *
                static_cast<double>(filter->NumElements()) / static_cast<double>(filter->dims[o]);
      w.bytes_read = OperandBytes(operand_shapes, /*skip_u8=*/true);
      w.bytes_written = DataBytes(inst.shape);
      w.execution = LibraryExecution::kDense;
      w.formula = absl::StrCat("cuDNN convolution: 2 x ", out->NumElements(), " outputs x ",
                               filter->NumElements() / filter->dims[o], " taps FLOP");
      return w;
    }
    case LibraryOp::kTopK: {
      if (absl::Status s = need_operands(1); !s.ok()) return s;
      const Shape& in = *operand_shapes[0];
      const Shape* values = ResultElement(inst.shape, 0);
      if (in.IsTuple() || in.rank() == 0 || values == nullptr || values->IsTuple() ||
          values->rank() != in.rank()) {
        return bad("operand and result are not [..., n] -> ([..., k], [..., k])");
      }
      // k: the dim where values and operand differ (the last when they do not), which also
      // covers ONNX TopK kept as a custom-call with any axis.
      int64_t k = values->dims.back();
      for (int64_t d = 0; d < in.rank(); ++d) {
        if (values->dims[d] != in.dims[d]) k = values->dims[d];
      }
      w.flops = static_cast<double>(in.NumElements()) * std::max(1.0, CeilLog2(k));
      w.execution = LibraryExecution::kScalar;
      w.formula = absl::StrCat("TopK: ", in.NumElements(), " elements x ceil(log2 ", k,
                               ") comparisons");
      return w;
    }
    case LibraryOp::kNone:
      break;
  }
  return bad("not a library op");
}

}  // namespace perfgraph::graph
