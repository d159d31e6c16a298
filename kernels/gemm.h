// Small-matrix GEMM with packed weights for the cost-model predictor: Y = X * W^T (+ bias) where W is
// a LibTorch Linear weight [out, in]. Sizes are those of the model (k, n in the tens to hundreds,
// m = nodes or configs), so the kernels keep the whole packed weight in cache and block only over
// registers.
//
// Three implementations behind one signature, chosen at run time from the CPU's features
// (__builtin_cpu_supports, no global -march flag): a scalar reference, AVX2+FMA (8-lane) and
// AVX-512F (16-lane). All use the same packed layout.
#ifndef PERFGRAPH_KERNELS_GEMM_H_
#define PERFGRAPH_KERNELS_GEMM_H_

#include <cstddef>
#include <vector>

#include "absl/strings/string_view.h"

namespace perfgraph::kernels {

// Instruction-set paths, slowest first.
enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// "scalar", "avx2", "avx512".
absl::string_view IsaName(Isa isa);
// True when this CPU can run `isa` (kAvx2 needs AVX2 and FMA; kAvx512 needs AVX-512F, AVX2, FMA).
bool IsaSupported(Isa isa);
// The fastest supported path; computed once.
Isa BestIsa();

// Columns per packed panel: one AVX-512 register, two AVX2 registers.
inline constexpr int kPanelWidth = 16;

// W^T of a Linear weight, packed into ceil(n / kPanelWidth) column panels, each [k][kPanelWidth]
// contiguous (zero padded), so the inner loop reads one contiguous row of a panel per k step; plus
// the bias padded to whole panels (zeros when the layer has none).
class PackedMatrix {
 public:
  PackedMatrix() = default;
  // `weight`: row-major [n, k] (LibTorch Linear layout: out, in) read with row stride `ld_weight`
  // (>= k), i.e. a column block of a larger weight may be packed. `bias`: [n] or nullptr.
  static PackedMatrix Pack(const float* weight, int n, int k, int ld_weight, const float* bias);

  int n() const { return n_; }  // output features
  int k() const { return k_; }  // input features
  int num_panels() const { return (n_ + kPanelWidth - 1) / kPanelWidth; }
  const float* panel(int p) const { return data_.data() + static_cast<size_t>(p) * k_ * kPanelWidth; }
  const float* bias() const { return bias_.data(); }  // [num_panels * kPanelWidth]
  // Bytes of packed weights and bias (what the GEMM streams from cache).
  size_t bytes() const { return (data_.size() + bias_.size()) * sizeof(float); }
  // Multiply-adds of one output row: n * k.
  double macs_per_row() const { return static_cast<double>(n_) * k_; }

 private:
  int n_ = 0;
  int k_ = 0;
  std::vector<float> data_;
  std::vector<float> bias_;
};

// Epilogue applied to each output element after the product.
struct GemmEpilogue {
  bool accumulate = false;  // add the previous contents of Y (Y += X W^T) instead of overwriting
  bool bias = true;         // add the packed bias
  bool relu = false;        // max(0, .) last
};

// Y[i, j] = relu?( (accumulate ? Y[i, j] : 0) + sum_l X[i, l] * W[j, l] + (bias ? b[j] : 0) )
// for i < m, j < w.n(). X: [m, w.k()] with row stride ldx >= w.k(); Y: [m, w.n()] with row stride
// ldy >= w.n(). X and Y must not overlap. m == 0 is a no-op. `isa` must be supported (IsaSupported);
// an unsupported request falls back to BestIsa(). Summation order differs between paths (FMA, lane
// split), so results agree to float rounding, not bit for bit.
void Gemm(Isa isa, const float* x, int m, int ldx, const PackedMatrix& w, float* y, int ldy,
          GemmEpilogue epilogue = {});

}  // namespace perfgraph::kernels

#endif  // PERFGRAPH_KERNELS_GEMM_H_
