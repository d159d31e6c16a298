// ONNX lowering, convolution and contraction: Conv, ConvTranspose, Gemm, MatMul, Einsum (and the window helper pooling shares).
#include "graph/onnx_node_lowering.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "graph/status_macros.h"

namespace perfgraph::graph::onnx_internal {

// Spatial window of Conv / pooling from kernel_shape, strides, dilations, pads, auto_pad and (pooling)
// ceil_mode. SAME_* pads so that out = ceil(in / stride), the extra element going to the end
// (UPPER) or the beginning (LOWER). ceil_mode adds high padding so XLA's floor formula yields ONNX's
// ceil((in + pads - dilated_kernel) / stride) + 1.
absl::StatusOr<std::vector<WindowDimension>> NodeLowering::ConvWindow(const Dims& in_spatial,
                                                                      const Dims& kernel, bool pool) {
  size_t n = kernel.size();
  if (in_spatial.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("kernel_shape ", DimsStr(kernel), " does not match ",
                                                   in_spatial.size(), " spatial dims"));
  }
  Dims strides = AttrInts("strides").value_or(Dims(n, 1));
  Dims dilations = AttrInts("dilations").value_or(Dims(n, 1));
  Dims pads = AttrInts("pads").value_or(Dims(2 * n, 0));
  if (strides.empty()) strides.assign(n, 1);
  if (dilations.empty()) dilations.assign(n, 1);
  if (pads.empty()) pads.assign(2 * n, 0);
  if (strides.size() != n || dilations.size() != n || pads.size() != 2 * n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "strides ", DimsStr(strides), ", dilations ", DimsStr(dilations), " or pads ", DimsStr(pads),
        " do not match ", n, " spatial dims"));
  }
  std::string auto_pad = AttrString("auto_pad", "NOTSET");
  bool ceil_mode = pool && AttrInt("ceil_mode", 0) != 0;
  std::vector<WindowDimension> window(n);
  for (size_t i = 0; i < n; ++i) {
    WindowDimension& w = window[i];
    if (kernel[i] < 1 || strides[i] < 1 || dilations[i] < 1) {
      return absl::InvalidArgumentError(absl::StrCat("invalid kernel ", DimsStr(kernel), " / strides ",
                                                     DimsStr(strides), " / dilations ",
                                                     DimsStr(dilations)));
    }
    w.size = kernel[i];
    w.stride = strides[i];
    w.window_dilation = dilations[i];
    int64_t in = in_spatial[i];
    int64_t dk = (kernel[i] - 1) * dilations[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t out = (in + w.stride - 1) / w.stride;
      int64_t total = std::max<int64_t>(0, (out - 1) * w.stride + dk - in);
      if (auto_pad == "SAME_UPPER") {
        w.padding_low = total / 2;
        w.padding_high = total - w.padding_low;
      } else {
        w.padding_high = total / 2;
        w.padding_low = total - w.padding_high;
      }
    } else if (auto_pad == "VALID") {
      w.padding_low = w.padding_high = 0;
    } else if (auto_pad == "NOTSET" || auto_pad.empty()) {
      w.padding_low = pads[i];
      w.padding_high = pads[i + n];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown auto_pad '", auto_pad, "'"));
    }
    if (ceil_mode) {
      int64_t padded = in + w.padding_low + w.padding_high;
      int64_t out_ceil = (padded - dk + w.stride - 1) / w.stride + 1;
      int64_t out_floor = WindowOutputDim(in, w);
      if (out_ceil > out_floor) w.padding_high += (out_ceil - 1) * w.stride + dk - padded;
    }
  }
  return window;
}

absl::Status NodeLowering::LowerConv() {
  ASSIGN_OR_RETURN(int x, Op(0));
  ASSIGN_OR_RETURN(int w, Op(1));
  Dims xd = DimsOf(x), wd = DimsOf(w);
  if (xd.size() < 3 || wd.size() != xd.size()) {
    return absl::InvalidArgumentError(absl::StrCat("Conv input ", DimsStr(xd), " and weight ",
                                                   DimsStr(wd), " must have equal rank >= 3"));
  }
  int64_t group = AttrInt("group", 1);
  if (group < 1 || xd[1] != wd[1] * group || wd[0] % group != 0) {
    return absl::InvalidArgumentError(absl::StrCat("Conv input ", DimsStr(xd), ", weight ", DimsStr(wd),
                                                   " and group ", group, " are inconsistent"));
  }
  int n = static_cast<int>(xd.size()) - 2;
  Dims kernel = AttrInts("kernel_shape").value_or(Dims(wd.begin() + 2, wd.end()));
  if (kernel != Dims(wd.begin() + 2, wd.end())) {
    return absl::InvalidArgumentError(absl::StrCat("kernel_shape ", DimsStr(kernel),
                                                   " disagrees with weight ", DimsStr(wd)));
  }
  ASSIGN_OR_RETURN(std::vector<WindowDimension> window,
                   ConvWindow(Dims(xd.begin() + 2, xd.end()), kernel, false));
  Dims out = {xd[0], wd[0]};
  for (int i = 0; i < n; ++i) out.push_back(WindowOutputDim(xd[2 + i], window[i]));
  Attributes attrs;
  attrs.window = window;
  attrs.convolution_dimension_numbers = ConvolutionDimensionNumbers::Nchw(n);
  attrs.feature_group_count = group;
  int conv = Emit(HloOpcode::kConvolution, Shape::Make(TypeOf(x), out), {x, w}, std::move(attrs),
                  "convolution");
  if (HasIn(2)) {
    ASSIGN_OR_RETURN(int b, Op(2));
    if (DimsOf(b) != Dims{wd[0]}) {
      return absl::InvalidArgumentError(absl::StrCat("Conv bias ", DimsStr(DimsOf(b)), " must be [",
                                                     wd[0], "]"));
    }
    int bb = Broadcast(b, out, {1});
    conv = Emit(HloOpcode::kAdd, ShapeOf(conv), {conv, bb}, {}, "bias_add");
  }
  SetOut(0, conv);
  return absl::OkStatus();
}

// Transposed convolution as XLA expresses a convolution gradient: lhs (base) dilation = stride,
// padding (k-1)*d - pad (+ output_padding at the end), reversed window, kernel in/out features swapped.
absl::Status NodeLowering::LowerConvTranspose() {
  ASSIGN_OR_RETURN(int x, Op(0));
  ASSIGN_OR_RETURN(int w, Op(1));
  Dims xd = DimsOf(x), wd = DimsOf(w);
  if (xd.size() < 3 || wd.size() != xd.size()) {
    return absl::InvalidArgumentError(absl::StrCat("ConvTranspose input ", DimsStr(xd), " and weight ",
                                                   DimsStr(wd), " must have equal rank >= 3"));
  }
  size_t n = xd.size() - 2;
  int64_t group = AttrInt("group", 1);
  if (group < 1 || xd[1] != wd[0] || wd[0] % group != 0) {
    return absl::InvalidArgumentError(absl::StrCat("ConvTranspose input ", DimsStr(xd), ", weight ",
                                                   DimsStr(wd), " and group ", group,
                                                   " are inconsistent"));
  }
  int64_t out_channels = wd[1] * group;
  Dims kernel(wd.begin() + 2, wd.end());
  Dims strides = AttrInts("strides").value_or(Dims(n, 1));
  Dims dilations = AttrInts("dilations").value_or(Dims(n, 1));
  Dims pads = AttrInts("pads").value_or(Dims(2 * n, 0));
  Dims output_padding = AttrInts("output_padding").value_or(Dims(n, 0));
  std::optional<Dims> output_shape = AttrInts("output_shape");
  std::string auto_pad = AttrString("auto_pad", "NOTSET");
  if (strides.size() != n || dilations.size() != n || pads.size() != 2 * n ||
      output_padding.size() != n || (output_shape.has_value() && output_shape->size() != n)) {
    return absl::InvalidArgumentError("ConvTranspose attributes do not match the spatial rank");
  }
  std::vector<WindowDimension> window(n);
  Dims out = {xd[0], out_channels};
  for (size_t i = 0; i < n; ++i) {
    int64_t dk = (kernel[i] - 1) * dilations[i] + 1;
    int64_t natural = strides[i] * (xd[2 + i] - 1) + output_padding[i] + dk;
    int64_t pb = pads[i], pe = pads[i + n];
    bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
    if (output_shape.has_value() || same) {
      int64_t target = output_shape.has_value() ? (*output_shape)[i] : xd[2 + i] * strides[i];
      int64_t total = natural - target;
      if (auto_pad == "SAME_UPPER") {
        pb = total / 2;
        pe = total - total / 2;
      } else {
        pb = total - total / 2;
        pe = total / 2;
      }
    } else if (auto_pad == "VALID") {
      pb = pe = 0;
    }
    WindowDimension& win = window[i];
    win.size = kernel[i];
    win.stride = 1;
    win.base_dilation = strides[i];
    win.window_dilation = dilations[i];
    win.padding_low = (kernel[i] - 1) * dilations[i] - pb;
    win.padding_high = (kernel[i] - 1) * dilations[i] - pe + output_padding[i];
    win.window_reversal = true;
    out.push_back(WindowOutputDim(xd[2 + i], win));
  }
  ConvolutionDimensionNumbers dnums = ConvolutionDimensionNumbers::Nchw(static_cast<int>(n));
  if (group == 1) {
    dnums.kernel_input_feature_dimension = 0;
    dnums.kernel_output_feature_dimension = 1;
  } else {
    // [C, M/g, k...] -> [g, C/g, M/g, k...] -> [g, M/g, C/g, k...] -> [M, C/g, k...]
    Dims split = {group, wd[0] / group, wd[1]};
    split.insert(split.end(), kernel.begin(), kernel.end());
    int r = Reshape(w, split);
    Dims perm = {0, 2, 1};
    for (size_t i = 0; i < n; ++i) perm.push_back(3 + i);
    int t = Transpose(r, perm);
    Dims merged = {out_channels, wd[0] / group};
    merged.insert(merged.end(), kernel.begin(), kernel.end());
    w = Reshape(t, merged);
  }
  Attributes attrs;
  attrs.window = window;
  attrs.convolution_dimension_numbers = dnums;
  attrs.feature_group_count = group;
  int conv = Emit(HloOpcode::kConvolution, Shape::Make(TypeOf(x), out), {x, w}, std::move(attrs),
                  "convolution");
  if (HasIn(2)) {
    ASSIGN_OR_RETURN(int b, Op(2));
    int bb = Broadcast(b, out, {1});
    conv = Emit(HloOpcode::kAdd, ShapeOf(conv), {conv, bb}, {}, "bias_add");
  }
  SetOut(0, conv);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------------
// Matrix products.

absl::Status NodeLowering::LowerGemm() {
  ASSIGN_OR_RETURN(int a, Op(0));
  ASSIGN_OR_RETURN(int b, Op(1));
  if (DimsOf(a).size() != 2 || DimsOf(b).size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("Gemm operands ", DimsStr(DimsOf(a)), " and ",
                                                   DimsStr(DimsOf(b)), " must be matrices"));
  }
  if (AttrInt("transA", 0) != 0) a = Transpose(a, {1, 0});
  if (AttrInt("transB", 0) != 0) b = Transpose(b, {1, 0});
  if (DimsOf(a)[1] != DimsOf(b)[0]) {
    return absl::InvalidArgumentError(absl::StrCat("Gemm contracting dims differ: ",
                                                   DimsStr(DimsOf(a)), " x ", DimsStr(DimsOf(b))));
  }
  DotDimensionNumbers dnums;
  dnums.lhs_contracting_dimensions = {1};
  dnums.rhs_contracting_dimensions = {0};
  int out = Dot(a, b, dnums);
  double alpha = AttrFloat("alpha", 1.0), beta = AttrFloat("beta", 1.0);
  if (alpha != 1.0) out = BinaryScalar(HloOpcode::kMultiply, out, alpha, "alpha");
  if (HasIn(2) && beta != 0.0) {
    ASSIGN_OR_RETURN(int c, Op(2));
    c = Convert(c, TypeOf(out));
    if (beta != 1.0) c = BinaryScalar(HloOpcode::kMultiply, c, beta, "beta");
    ASSIGN_OR_RETURN(c, BroadcastTo(c, DimsOf(out)));
    out = Emit(HloOpcode::kAdd, ShapeOf(out), {out, c}, {}, "bias_add");
  }
  SetOut(0, out);
  return absl::OkStatus();
}

// NumPy matmul: 1-D operands get a unit dim (removed again after the dot); a 2-D rhs contracts
// directly against the last lhs dim (no batch dims, as XLA's dot_general does for x @ W); otherwise
// batch dims are broadcast to a common shape and become dot batch dims.
absl::Status NodeLowering::LowerMatMul() {
  ASSIGN_OR_RETURN(int a, Op(0));
  ASSIGN_OR_RETURN(int b, Op(1));
  Dims da = DimsOf(a), db = DimsOf(b);
  if (da.empty() || db.empty()) return absl::InvalidArgumentError("MatMul of a scalar");
  bool a_vec = da.size() == 1, b_vec = db.size() == 1;
  if (a_vec) a = Reshape(a, {1, da[0]});
  if (b_vec) b = Reshape(b, {db[0], 1});
  da = DimsOf(a);
  db = DimsOf(b);
  size_t ra = da.size(), rb = db.size();
  if (da[ra - 1] != db[rb - 2]) {
    return absl::InvalidArgumentError(
        absl::StrCat("MatMul contracting dims differ: ", DimsStr(da), " x ", DimsStr(db)));
  }
  DotDimensionNumbers dnums;
  Dims final_dims;
  int out;
  if (rb == 2) {
    dnums.lhs_contracting_dimensions = {static_cast<int64_t>(ra - 1)};
    dnums.rhs_contracting_dimensions = {0};
    out = Dot(a, b, dnums);
    final_dims.assign(da.begin(), da.end() - 2);
  } else {
    ASSIGN_OR_RETURN(Dims batch, BroadcastDims(Dims(da.begin(), da.end() - 2),
                                               Dims(db.begin(), db.end() - 2)));
    Dims full_a = batch, full_b = batch;
    full_a.insert(full_a.end(), da.end() - 2, da.end());
    full_b.insert(full_b.end(), db.end() - 2, db.end());
    ASSIGN_OR_RETURN(a, BroadcastTo(a, full_a));
    ASSIGN_OR_RETURN(b, BroadcastTo(b, full_b));
    int64_t nb = static_cast<int64_t>(batch.size());
    for (int64_t i = 0; i < nb; ++i) {
      dnums.lhs_batch_dimensions.push_back(i);
      dnums.rhs_batch_dimensions.push_back(i);
    }
    dnums.lhs_contracting_dimensions = {nb + 1};
    dnums.rhs_contracting_dimensions = {nb};
    out = Dot(a, b, dnums);
    final_dims = batch;
  }
  if (!a_vec) final_dims.push_back(da[ra - 2]);
  if (!b_vec) final_dims.push_back(db[rb - 1]);
  SetOut(0, Reshape(out, final_dims));
  return absl::OkStatus();
}

// Einsum with one or two operands and no repeated label within an operand: labels summed in only
// one operand are reduced first, then one dot (batch = shared labels kept in the output, contracting
// = shared labels not kept), then a transpose to the output order.
absl::Status NodeLowering::LowerEinsum() {
  std::string eq;
  for (char c : AttrString("equation", "")) {
    if (c != ' ') eq += c;
  }
  std::vector<std::string> sides = absl::StrSplit(eq, "->");
  if (sides.size() > 2) return absl::InvalidArgumentError(absl::StrCat("bad equation '", eq, "'"));
  std::vector<std::string> ins = absl::StrSplit(sides[0], ',');
  int count = 0;
  for (int i = 0; i < num_inputs(); ++i) count += HasIn(i);
  if (static_cast<int>(ins.size()) != count || count < 1 || count > 2) {
    return absl::UnimplementedError(absl::StrCat("Einsum '", eq, "' with ", count, " operands"));
  }
  // Expand "..." into digit labels aligned from the right.
  size_t max_ell = 0;
  std::vector<int> operands;
  for (int i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(int x, Op(i));
    operands.push_back(x);
    size_t pos = ins[i].find("...");
    if (pos != std::string::npos) {
      size_t e = DimsOf(x).size() - (ins[i].size() - 3);
      max_ell = std::max(max_ell, e);
    }
  }
  if (max_ell > 10) return absl::UnimplementedError("Einsum ellipsis of more than 10 dims");
  auto expand = [&](const std::string& s, size_t e) {
    size_t pos = s.find("...");
    if (pos == std::string::npos) return s;
    std::string labels;
    for (size_t k = max_ell - e; k < max_ell; ++k) labels += static_cast<char>('0' + k);
    return s.substr(0, pos) + labels + s.substr(pos + 3);
  };
  for (int i = 0; i < count; ++i) {
    size_t pos = ins[i].find("...");
    size_t e = pos == std::string::npos ? 0 : DimsOf(operands[i]).size() - (ins[i].size() - 3);
    ins[i] = expand(ins[i], e);
    if (ins[i].size() != DimsOf(operands[i]).size()) {
      return absl::InvalidArgumentError(absl::StrCat("Einsum term '", ins[i], "' does not match rank ",
                                                     DimsOf(operands[i]).size()));
    }
    for (size_t k = 0; k < ins[i].size(); ++k) {
      if (ins[i].find(ins[i][k]) != k) {
        return absl::UnimplementedError(absl::StrCat("Einsum '", eq, "' with a repeated label"));
      }
    }
  }
  std::string out_labels;
  if (sides.size() == 2) {
    out_labels = expand(sides[1], max_ell);
  } else {
    std::string all = absl::StrJoin(ins, "");
    for (size_t k = 0; k < max_ell; ++k) out_labels += static_cast<char>('0' + k);
    std::string letters;
    for (char c : all) {
      if (std::isalpha(static_cast<unsigned char>(c)) && std::count(all.begin(), all.end(), c) == 1) letters += c;
    }
    std::sort(letters.begin(), letters.end());
    out_labels += letters;
  }
  absl::flat_hash_map<char, int64_t> size;
  for (int i = 0; i < count; ++i) {
    for (size_t k = 0; k < ins[i].size(); ++k) {
      int64_t d = DimsOf(operands[i])[k];
      auto [it, inserted] = size.emplace(ins[i][k], d);
      if (!inserted && it->second != d) {
        return absl::UnimplementedError(absl::StrCat("Einsum label '", std::string(1, ins[i][k]),
                                                     "' has sizes ", it->second, " and ", d));
      }
    }
  }
  auto has = [](const std::string& s, char c) { return s.find(c) != std::string::npos; };
  // Reduce labels that appear in one operand only and not in the output.
  for (int i = 0; i < count; ++i) {
    const std::string& other = count == 2 ? ins[1 - i] : std::string();
    Dims reduce;
    std::string kept;
    for (size_t k = 0; k < ins[i].size(); ++k) {
      char c = ins[i][k];
      if (!has(out_labels, c) && !has(other, c)) {
        reduce.push_back(static_cast<int64_t>(k));
      } else {
        kept += c;
      }
    }
    if (!reduce.empty()) {
      operands[i] = Reduce(operands[i], reduce, HloOpcode::kAdd, 0.0);
      ins[i] = kept;
    }
  }
  std::string result_labels;
  int result;
  if (count == 1) {
    result = operands[0];
    result_labels = ins[0];
  } else {
    const std::string &la = ins[0], &lb = ins[1];
    DotDimensionNumbers dnums;
    std::string batch, lhs_free, rhs_free;
    for (size_t k = 0; k < la.size(); ++k) {
      char c = la[k];
      if (has(lb, c)) {
        if (has(out_labels, c)) {
          batch += c;
          dnums.lhs_batch_dimensions.push_back(static_cast<int64_t>(k));
          dnums.rhs_batch_dimensions.push_back(static_cast<int64_t>(lb.find(c)));
        } else {
          dnums.lhs_contracting_dimensions.push_back(static_cast<int64_t>(k));
          dnums.rhs_contracting_dimensions.push_back(static_cast<int64_t>(lb.find(c)));
        }
      } else {
        lhs_free += c;
      }
    }
    for (char c : lb) {
      if (!has(la, c)) rhs_free += c;
    }
    result = Dot(operands[0], operands[1], dnums);
    result_labels = batch + lhs_free + rhs_free;
  }
  if (result_labels.size() != out_labels.size()) {
    return absl::InvalidArgumentError(absl::StrCat("Einsum '", eq, "': output labels '", out_labels,
                                                   "' do not match the operands"));
  }
  Dims perm;
  for (char c : out_labels) {
    size_t pos = result_labels.find(c);
    if (pos == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("Einsum '", eq, "': unknown output label"));
    }
    perm.push_back(static_cast<int64_t>(pos));
  }
  SetOut(0, Transpose(result, perm));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------------
// Normalizations and softmax.


}  // namespace perfgraph::graph::onnx_internal
