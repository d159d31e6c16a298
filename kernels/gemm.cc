#include "kernels/gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

namespace perfgraph::kernels {
namespace {

// Number of valid columns of panel p (1..kPanelWidth).
inline int PanelCols(const PackedMatrix& w, int p) {
  return std::min(kPanelWidth, w.n() - p * kPanelWidth);
}

// ---------------------------------------------------------------------------------------------
// Scalar reference: the same arithmetic as the definition, reading the packed layout.
void GemmScalar(const float* x, int m, int ldx, const PackedMatrix& w, float* y, int ldy,
                GemmEpilogue e) {
  const int k = w.k();
  for (int i = 0; i < m; ++i) {
    const float* xr = x + static_cast<size_t>(i) * ldx;
    float* yr = y + static_cast<size_t>(i) * ldy;
    for (int p = 0; p < w.num_panels(); ++p) {
      const float* panel = w.panel(p);
      const int cols = PanelCols(w, p);
      for (int j = 0; j < cols; ++j) {
        float acc = 0.0f;
        for (int l = 0; l < k; ++l) acc += xr[l] * panel[l * kPanelWidth + j];
        const int col = p * kPanelWidth + j;
        if (e.bias) acc += w.bias()[col];
        if (e.accumulate) acc += yr[col];
        if (e.relu) acc = std::max(acc, 0.0f);
        yr[col] = acc;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// AVX-512F: a register tile of MR rows x NP panels (one zmm accumulator each).
template <int MR, int NP>
__attribute__((target("avx512f"))) inline void Tile512(const float* x, int ldx, const PackedMatrix& w,
                                                      int p0, float* y, int ldy, GemmEpilogue e) {
  const int k = w.k();
  __m512 acc[MR][NP];
  for (int r = 0; r < MR; ++r) {
    for (int q = 0; q < NP; ++q) acc[r][q] = _mm512_setzero_ps();
  }
  const float* panels[NP];
  for (int q = 0; q < NP; ++q) panels[q] = w.panel(p0 + q);
  for (int l = 0; l < k; ++l) {
    __m512 wv[NP];
    for (int q = 0; q < NP; ++q) wv[q] = _mm512_loadu_ps(panels[q] + l * kPanelWidth);
    for (int r = 0; r < MR; ++r) {
      const __m512 xb = _mm512_set1_ps(x[static_cast<size_t>(r) * ldx + l]);
      for (int q = 0; q < NP; ++q) acc[r][q] = _mm512_fmadd_ps(xb, wv[q], acc[r][q]);
    }
  }
  for (int q = 0; q < NP; ++q) {
    const int p = p0 + q;
    const int cols = PanelCols(w, p);
    const __mmask16 mask = static_cast<__mmask16>((1u << cols) - 1u);
    const __m512 bias = _mm512_loadu_ps(w.bias() + p * kPanelWidth);
    for (int r = 0; r < MR; ++r) {
      float* yp = y + static_cast<size_t>(r) * ldy + p * kPanelWidth;
      __m512 v = acc[r][q];
      if (e.bias) v = _mm512_add_ps(v, bias);
      if (e.accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, yp));
      if (e.relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
      _mm512_mask_storeu_ps(yp, mask, v);
    }
  }
}

template <int MR>
__attribute__((target("avx512f"))) void Rows512(const float* x, int ldx, const PackedMatrix& w,
                                               float* y, int ldy, GemmEpilogue e) {
  const int np = w.num_panels();
  int p = 0;
  if constexpr (MR == 1) {
    // One row: many independent accumulators hide the FMA latency.
    for (; p + 8 <= np; p += 8) Tile512<1, 8>(x, ldx, w, p, y, ldy, e);
    for (; p + 4 <= np; p += 4) Tile512<1, 4>(x, ldx, w, p, y, ldy, e);
  } else {
    for (; p + 4 <= np; p += 4) Tile512<MR, 4>(x, ldx, w, p, y, ldy, e);
    for (; p + 2 <= np; p += 2) Tile512<MR, 2>(x, ldx, w, p, y, ldy, e);
  }
  for (; p < np; ++p) Tile512<MR, 1>(x, ldx, w, p, y, ldy, e);
}

__attribute__((target("avx512f"))) void Gemm512(const float* x, int m, int ldx,
                                               const PackedMatrix& w, float* y, int ldy,
                                               GemmEpilogue e) {
  int i = 0;
  for (; i + 4 <= m; i += 4) {
    Rows512<4>(x + static_cast<size_t>(i) * ldx, ldx, w, y + static_cast<size_t>(i) * ldy, ldy, e);
  }
  for (; i < m; ++i) {
    Rows512<1>(x + static_cast<size_t>(i) * ldx, ldx, w, y + static_cast<size_t>(i) * ldy, ldy, e);
  }
}

// ---------------------------------------------------------------------------------------------
// AVX2 + FMA: a panel is two ymm halves; the tile is MR rows x NP panels (2 * MR * NP accumulators).
__attribute__((target("avx2"))) inline __m256i HalfMask(int cols) {
  // Lane j active when j < cols (cols in [0, 8]).
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), lanes);
}

template <int MR, int NP>
__attribute__((target("avx2,fma"))) inline void Tile256(const float* x, int ldx,
                                                       const PackedMatrix& w, int p0, float* y,
                                                       int ldy, GemmEpilogue e) {
  const int k = w.k();
  __m256 acc[MR][2 * NP];
  for (int r = 0; r < MR; ++r) {
    for (int q = 0; q < 2 * NP; ++q) acc[r][q] = _mm256_setzero_ps();
  }
  const float* panels[NP];
  for (int q = 0; q < NP; ++q) panels[q] = w.panel(p0 + q);
  for (int l = 0; l < k; ++l) {
    __m256 wv[2 * NP];
    for (int q = 0; q < NP; ++q) {
      wv[2 * q] = _mm256_loadu_ps(panels[q] + l * kPanelWidth);
      wv[2 * q + 1] = _mm256_loadu_ps(panels[q] + l * kPanelWidth + 8);
    }
    for (int r = 0; r < MR; ++r) {
      const __m256 xb = _mm256_broadcast_ss(x + static_cast<size_t>(r) * ldx + l);
      for (int q = 0; q < 2 * NP; ++q) acc[r][q] = _mm256_fmadd_ps(xb, wv[q], acc[r][q]);
    }
  }
  for (int q = 0; q < 2 * NP; ++q) {
    const int p = p0 + q / 2;
    const int half = q % 2;
    const int cols = std::min(8, std::max(0, PanelCols(w, p) - 8 * half));
    if (cols == 0) continue;
    const int col0 = p * kPanelWidth + 8 * half;
    const __m256 bias = _mm256_loadu_ps(w.bias() + col0);
    const __m256i mask = HalfMask(cols);
    for (int r = 0; r < MR; ++r) {
      float* yp = y + static_cast<size_t>(r) * ldy + col0;
      __m256 v = acc[r][q];
      if (e.bias) v = _mm256_add_ps(v, bias);
      if (cols == 8) {
        if (e.accumulate) v = _mm256_add_ps(v, _mm256_loadu_ps(yp));
        if (e.relu) v = _mm256_max_ps(v, _mm256_setzero_ps());
        _mm256_storeu_ps(yp, v);
      } else {
        if (e.accumulate) v = _mm256_add_ps(v, _mm256_maskload_ps(yp, mask));
        if (e.relu) v = _mm256_max_ps(v, _mm256_setzero_ps());
        _mm256_maskstore_ps(yp, mask, v);
      }
    }
  }
}

template <int MR>
__attribute__((target("avx2,fma"))) void Rows256(const float* x, int ldx, const PackedMatrix& w,
                                                float* y, int ldy, GemmEpilogue e) {
  const int np = w.num_panels();
  int p = 0;
  if constexpr (MR == 1) {
    for (; p + 4 <= np; p += 4) Tile256<1, 4>(x, ldx, w, p, y, ldy, e);
    for (; p + 2 <= np; p += 2) Tile256<1, 2>(x, ldx, w, p, y, ldy, e);
  }
  for (; p < np; ++p) Tile256<MR, 1>(x, ldx, w, p, y, ldy, e);
}

__attribute__((target("avx2,fma"))) void Gemm256(const float* x, int m, int ldx,
                                                const PackedMatrix& w, float* y, int ldy,
                                                GemmEpilogue e) {
  int i = 0;
  for (; i + 4 <= m; i += 4) {
    Rows256<4>(x + static_cast<size_t>(i) * ldx, ldx, w, y + static_cast<size_t>(i) * ldy, ldy, e);
  }
  for (; i < m; ++i) {
    Rows256<1>(x + static_cast<size_t>(i) * ldx, ldx, w, y + static_cast<size_t>(i) * ldy, ldy, e);
  }
}

Isa DetectIsa() {
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2 && __builtin_cpu_supports("avx512f")) return Isa::kAvx512;
  if (avx2) return Isa::kAvx2;
  return Isa::kScalar;
}

}  // namespace

absl::string_view IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "unknown";
}

Isa BestIsa() {
  static const Isa best = DetectIsa();
  return best;
}

bool IsaSupported(Isa isa) { return static_cast<int>(isa) <= static_cast<int>(BestIsa()); }

PackedMatrix PackedMatrix::Pack(const float* weight, int n, int k, int ld_weight, const float* bias) {
  PackedMatrix m;
  m.n_ = n;
  m.k_ = k;
  const int np = m.num_panels();
  m.data_.assign(static_cast<size_t>(np) * k * kPanelWidth, 0.0f);
  m.bias_.assign(static_cast<size_t>(np) * kPanelWidth, 0.0f);
  for (int j = 0; j < n; ++j) {
    const int p = j / kPanelWidth;
    const int c = j % kPanelWidth;
    float* panel = m.data_.data() + static_cast<size_t>(p) * k * kPanelWidth;
    for (int l = 0; l < k; ++l) panel[l * kPanelWidth + c] = weight[static_cast<size_t>(j) * ld_weight + l];
    if (bias != nullptr) m.bias_[j] = bias[j];
  }
  return m;
}

void Gemm(Isa isa, const float* x, int m, int ldx, const PackedMatrix& w, float* y, int ldy,
          GemmEpilogue epilogue) {
  if (m <= 0 || w.n() == 0) return;
  if (!IsaSupported(isa)) isa = BestIsa();
  switch (isa) {
    case Isa::kAvx512:
      Gemm512(x, m, ldx, w, y, ldy, epilogue);
      return;
    case Isa::kAvx2:
      Gemm256(x, m, ldx, w, y, ldy, epilogue);
      return;
    case Isa::kScalar:
      GemmScalar(x, m, ldx, w, y, ldy, epilogue);
      return;
  }
}

}  // namespace perfgraph::kernels
