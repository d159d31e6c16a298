#include "kernels/ops.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace perfgraph::kernels {
namespace {

// exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2], exp(r) by its Taylor
// polynomial to degree 7 (truncation error < 0.35^8 / 8! ~ 5e-9 relative). ln 2 is split in a high
// part exact in 9 bits and a low correction so that n * ln2_hi is exact (Cody and Waite, 1980).
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
// Clamp so 2^n stays a normal float: exp(-87.3) ~ 1.2e-38, exp(88.3) ~ 2.2e38.
constexpr float kExpMin = -87.3f;
constexpr float kExpMax = 88.3f;
constexpr float kInvFact[8] = {1.0f,         1.0f,          1.0f / 2,    1.0f / 6,
                               1.0f / 24,    1.0f / 120,    1.0f / 720,  1.0f / 5040};

// ---------------------------------------------------------------------------------------------
// AVX-512F
__attribute__((target("avx512f"))) inline __m512 Exp512(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(kExpMin)), _mm512_set1_ps(kExpMax));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kInvFact[7]);
  for (int i = 6; i >= 0; --i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kInvFact[i]));
  return _mm512_scalef_ps(p, n);
}

__attribute__((target("avx512f"))) inline __m512 Sigmoid512(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_div_ps(one, _mm512_add_ps(one, Exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

// tanh|x| = (1 - t) / (1 + t), t = exp(-2|x|); the sign of x restored.
__attribute__((target("avx512f"))) inline __m512 Tanh512(__m512 x) {
  const __m512 sign_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x80000000));
  const __m512 ax = _mm512_castsi512_ps(
      _mm512_andnot_si512(_mm512_castps_si512(sign_mask), _mm512_castps_si512(x)));
  const __m512 t = Exp512(_mm512_mul_ps(ax, _mm512_set1_ps(-2.0f)));
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 y = _mm512_div_ps(_mm512_sub_ps(one, t), _mm512_add_ps(one, t));
  return _mm512_castsi512_ps(_mm512_or_si512(
      _mm512_castps_si512(y),
      _mm512_and_si512(_mm512_castps_si512(x), _mm512_castps_si512(sign_mask))));
}

inline __mmask16 TailMask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }

__attribute__((target("avx512f"))) void Sigmoid512Array(const float* x, int n, float* y) {
  int i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, Sigmoid512(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = TailMask(n - i);
    _mm512_mask_storeu_ps(y + i, m, Sigmoid512(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

__attribute__((target("avx512f"))) void Tanh512Array(const float* x, int n, float* y) {
  int i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, Tanh512(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = TailMask(n - i);
    _mm512_mask_storeu_ps(y + i, m, Tanh512(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

__attribute__((target("avx512f"))) void Aggregate512(const float* h, int ldh, int num_nodes,
                                                    int width, const int32_t* offsets,
                                                    const int32_t* neighbours,
                                                    const float* inv_degree, float* out, int ldo) {
  for (int i = 0; i < num_nodes; ++i) {
    float* o = out + static_cast<size_t>(i) * ldo;
    const __m512 inv = _mm512_set1_ps(inv_degree[i]);
    for (int j = 0; j < width; j += 16) {
      const __mmask16 m = TailMask(std::min(16, width - j));
      __m512 acc = _mm512_setzero_ps();
      for (int e = offsets[i]; e < offsets[i + 1]; ++e) {
        acc = _mm512_add_ps(acc,
                            _mm512_maskz_loadu_ps(m, h + static_cast<size_t>(neighbours[e]) * ldh + j));
      }
      _mm512_mask_storeu_ps(o + j, m, _mm512_mul_ps(acc, inv));
    }
  }
}

__attribute__((target("avx512f"))) void LayerNorm512(const float* m, int ldm, int rows, int width,
                                                    const float* gamma, const float* beta,
                                                    float eps, float* h, int ldh) {
  for (int i = 0; i < rows; ++i) {
    const float* v = m + static_cast<size_t>(i) * ldm;
    float* hr = h + static_cast<size_t>(i) * ldh;
    __m512 sum = _mm512_setzero_ps();
    for (int j = 0; j < width; j += 16) {
      sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(TailMask(std::min(16, width - j)), v + j));
    }
    const float mean = _mm512_reduce_add_ps(sum) / width;
    const __m512 vmean = _mm512_set1_ps(mean);
    __m512 sq = _mm512_setzero_ps();
    for (int j = 0; j < width; j += 16) {
      const __mmask16 mk = TailMask(std::min(16, width - j));
      const __m512 d = _mm512_maskz_sub_ps(mk, _mm512_maskz_loadu_ps(mk, v + j), vmean);
      sq = _mm512_fmadd_ps(d, d, sq);
    }
    const float rstd = 1.0f / std::sqrt(_mm512_reduce_add_ps(sq) / width + eps);
    const __m512 vrstd = _mm512_set1_ps(rstd);
    for (int j = 0; j < width; j += 16) {
      const __mmask16 mk = TailMask(std::min(16, width - j));
      const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(mk, v + j), vmean);
      __m512 y = _mm512_fmadd_ps(_mm512_mul_ps(d, vrstd), _mm512_maskz_loadu_ps(mk, gamma + j),
                                 _mm512_maskz_loadu_ps(mk, beta + j));
      y = _mm512_max_ps(y, _mm512_setzero_ps());
      _mm512_mask_storeu_ps(hr + j, mk, _mm512_add_ps(_mm512_maskz_loadu_ps(mk, hr + j), y));
    }
  }
}

__attribute__((target("avx512f"))) void LstmCell512(int batch, int hidden, const float* gates,
                                                   float* h, float* c) {
  for (int b = 0; b < batch; ++b) {
    const float* g = gates + static_cast<size_t>(b) * 4 * hidden;
    float* hb = h + static_cast<size_t>(b) * hidden;
    float* cb = c + static_cast<size_t>(b) * hidden;
    for (int j = 0; j < hidden; j += 16) {
      const __mmask16 m = TailMask(std::min(16, hidden - j));
      const __m512 i = Sigmoid512(_mm512_maskz_loadu_ps(m, g + j));
      const __m512 f = Sigmoid512(_mm512_maskz_loadu_ps(m, g + hidden + j));
      const __m512 gg = Tanh512(_mm512_maskz_loadu_ps(m, g + 2 * hidden + j));
      const __m512 o = Sigmoid512(_mm512_maskz_loadu_ps(m, g + 3 * hidden + j));
      const __m512 cn =
          _mm512_fmadd_ps(f, _mm512_maskz_loadu_ps(m, cb + j), _mm512_mul_ps(i, gg));
      _mm512_mask_storeu_ps(cb + j, m, cn);
      _mm512_mask_storeu_ps(hb + j, m, _mm512_mul_ps(o, Tanh512(cn)));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// AVX2 + FMA (8 lanes, scalar tails).
__attribute__((target("avx2,fma"))) inline __m256 Exp256(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(kExpMin)), _mm256_set1_ps(kExpMax));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kInvFact[7]);
  for (int i = 6; i >= 0; --i) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kInvFact[i]));
  // 2^n from the exponent bits (n in [-126, 127] after the clamp).
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

__attribute__((target("avx2,fma"))) inline __m256 Sigmoid256(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, Exp256(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

__attribute__((target("avx2,fma"))) inline __m256 Tanh256(__m256 x) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 ax = _mm256_andnot_ps(sign_mask, x);
  const __m256 t = Exp256(_mm256_mul_ps(ax, _mm256_set1_ps(-2.0f)));
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 y = _mm256_div_ps(_mm256_sub_ps(one, t), _mm256_add_ps(one, t));
  return _mm256_or_ps(y, _mm256_and_ps(x, sign_mask));
}

float SigmoidScalar(float x) { return 1.0f / (1.0f + std::exp(-x)); }

__attribute__((target("avx2,fma"))) void Sigmoid256Array(const float* x, int n, float* y) {
  int i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, Sigmoid256(_mm256_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] = SigmoidScalar(x[i]);
}

__attribute__((target("avx2,fma"))) void Tanh256Array(const float* x, int n, float* y) {
  int i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, Tanh256(_mm256_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] = std::tanh(x[i]);
}

__attribute__((target("avx2,fma"))) void Aggregate256(const float* h, int ldh, int num_nodes,
                                                     int width, const int32_t* offsets,
                                                     const int32_t* neighbours,
                                                     const float* inv_degree, float* out, int ldo) {
  for (int i = 0; i < num_nodes; ++i) {
    float* o = out + static_cast<size_t>(i) * ldo;
    const __m256 inv = _mm256_set1_ps(inv_degree[i]);
    int j = 0;
    for (; j + 8 <= width; j += 8) {
      __m256 acc = _mm256_setzero_ps();
      for (int e = offsets[i]; e < offsets[i + 1]; ++e) {
        acc = _mm256_add_ps(acc, _mm256_loadu_ps(h + static_cast<size_t>(neighbours[e]) * ldh + j));
      }
      _mm256_storeu_ps(o + j, _mm256_mul_ps(acc, inv));
    }
    for (; j < width; ++j) {
      float acc = 0.0f;
      for (int e = offsets[i]; e < offsets[i + 1]; ++e) acc += h[static_cast<size_t>(neighbours[e]) * ldh + j];
      o[j] = acc * inv_degree[i];
    }
  }
}

__attribute__((target("avx2,fma"))) inline float HorizontalSum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) void LayerNorm256(const float* m, int ldm, int rows, int width,
                                                     const float* gamma, const float* beta,
                                                     float eps, float* h, int ldh) {
  for (int i = 0; i < rows; ++i) {
    const float* v = m + static_cast<size_t>(i) * ldm;
    float* hr = h + static_cast<size_t>(i) * ldh;
    __m256 sum = _mm256_setzero_ps();
    int j = 0;
    for (; j + 8 <= width; j += 8) sum = _mm256_add_ps(sum, _mm256_loadu_ps(v + j));
    float total = HorizontalSum256(sum);
    for (; j < width; ++j) total += v[j];
    const float mean = total / width;
    const __m256 vmean = _mm256_set1_ps(mean);
    __m256 sq = _mm256_setzero_ps();
    for (j = 0; j + 8 <= width; j += 8) {
      const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(v + j), vmean);
      sq = _mm256_fmadd_ps(d, d, sq);
    }
    float sq_total = HorizontalSum256(sq);
    for (; j < width; ++j) sq_total += (v[j] - mean) * (v[j] - mean);
    const float rstd = 1.0f / std::sqrt(sq_total / width + eps);
    const __m256 vrstd = _mm256_set1_ps(rstd);
    for (j = 0; j + 8 <= width; j += 8) {
      const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(v + j), vmean);
      __m256 y = _mm256_fmadd_ps(_mm256_mul_ps(d, vrstd), _mm256_loadu_ps(gamma + j),
                                 _mm256_loadu_ps(beta + j));
      y = _mm256_max_ps(y, _mm256_setzero_ps());
      _mm256_storeu_ps(hr + j, _mm256_add_ps(_mm256_loadu_ps(hr + j), y));
    }
    for (; j < width; ++j) {
      hr[j] += std::max(0.0f, (v[j] - mean) * rstd * gamma[j] + beta[j]);
    }
  }
}

__attribute__((target("avx2,fma"))) void LstmCell256(int batch, int hidden, const float* gates,
                                                    float* h, float* c) {
  for (int b = 0; b < batch; ++b) {
    const float* g = gates + static_cast<size_t>(b) * 4 * hidden;
    float* hb = h + static_cast<size_t>(b) * hidden;
    float* cb = c + static_cast<size_t>(b) * hidden;
    int j = 0;
    for (; j + 8 <= hidden; j += 8) {
      const __m256 i = Sigmoid256(_mm256_loadu_ps(g + j));
      const __m256 f = Sigmoid256(_mm256_loadu_ps(g + hidden + j));
      const __m256 gg = Tanh256(_mm256_loadu_ps(g + 2 * hidden + j));
      const __m256 o = Sigmoid256(_mm256_loadu_ps(g + 3 * hidden + j));
      const __m256 cn = _mm256_fmadd_ps(f, _mm256_loadu_ps(cb + j), _mm256_mul_ps(i, gg));
      _mm256_storeu_ps(cb + j, cn);
      _mm256_storeu_ps(hb + j, _mm256_mul_ps(o, Tanh256(cn)));
    }
    for (; j < hidden; ++j) {
      const float cn = SigmoidScalar(g[hidden + j]) * cb[j] +
                       SigmoidScalar(g[j]) * std::tanh(g[2 * hidden + j]);
      cb[j] = cn;
      hb[j] = SigmoidScalar(g[3 * hidden + j]) * std::tanh(cn);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Scalar references.
void AggregateScalar(const float* h, int ldh, int num_nodes, int width, const int32_t* offsets,
                     const int32_t* neighbours, const float* inv_degree, float* out, int ldo) {
  for (int i = 0; i < num_nodes; ++i) {
    float* o = out + static_cast<size_t>(i) * ldo;
    for (int j = 0; j < width; ++j) o[j] = 0.0f;
    for (int e = offsets[i]; e < offsets[i + 1]; ++e) {
      const float* src = h + static_cast<size_t>(neighbours[e]) * ldh;
      for (int j = 0; j < width; ++j) o[j] += src[j];
    }
    for (int j = 0; j < width; ++j) o[j] *= inv_degree[i];
  }
}

void LayerNormScalar(const float* m, int ldm, int rows, int width, const float* gamma,
                     const float* beta, float eps, float* h, int ldh) {
  for (int i = 0; i < rows; ++i) {
    const float* v = m + static_cast<size_t>(i) * ldm;
    float* hr = h + static_cast<size_t>(i) * ldh;
    double sum = 0;
    for (int j = 0; j < width; ++j) sum += v[j];
    const double mean = sum / width;
    double sq = 0;
    for (int j = 0; j < width; ++j) sq += (v[j] - mean) * (v[j] - mean);
    const double rstd = 1.0 / std::sqrt(sq / width + eps);
    for (int j = 0; j < width; ++j) {
      const float y = static_cast<float>((v[j] - mean) * rstd) * gamma[j] + beta[j];
      hr[j] += std::max(0.0f, y);
    }
  }
}

void LstmCellScalar(int batch, int hidden, const float* gates, float* h, float* c) {
  for (int b = 0; b < batch; ++b) {
    const float* g = gates + static_cast<size_t>(b) * 4 * hidden;
    float* hb = h + static_cast<size_t>(b) * hidden;
    float* cb = c + static_cast<size_t>(b) * hidden;
    for (int j = 0; j < hidden; ++j) {
      const float i = SigmoidScalar(g[j]);
      const float f = SigmoidScalar(g[hidden + j]);
      const float gg = std::tanh(g[2 * hidden + j]);
      const float o = SigmoidScalar(g[3 * hidden + j]);
      cb[j] = f * cb[j] + i * gg;
      hb[j] = o * std::tanh(cb[j]);
    }
  }
}

Isa Effective(Isa isa) { return IsaSupported(isa) ? isa : BestIsa(); }

}  // namespace

void BuildCsr(const int32_t* edge_index, int num_edges, int num_nodes, Neighbours direction,
              int32_t* offsets, int32_t* neighbours, float* inv_degree) {
  // Key: the node that aggregates; value: the node aggregated.
  const int key = direction == Neighbours::kOperands ? 1 : 0;
  std::fill(offsets, offsets + num_nodes + 1, 0);
  for (int e = 0; e < num_edges; ++e) ++offsets[edge_index[2 * e + key] + 1];
  for (int i = 0; i < num_nodes; ++i) {
    const int degree = offsets[i + 1];
    inv_degree[i] = 1.0f / static_cast<float>(std::max(degree, 1));
    offsets[i + 1] += offsets[i];
  }
  // Stable counting sort: `cursor` reuses offsets[i] as the fill position of node i, restored after.
  for (int e = 0; e < num_edges; ++e) {
    const int node = edge_index[2 * e + key];
    neighbours[offsets[node]++] = edge_index[2 * e + (1 - key)];
  }
  for (int i = num_nodes; i > 0; --i) offsets[i] = offsets[i - 1];
  offsets[0] = 0;
}

void AggregateMean(Isa isa, const float* h, int ldh, int num_nodes, int width,
                   const int32_t* offsets, const int32_t* neighbours, const float* inv_degree,
                   float* out, int ldo) {
  switch (Effective(isa)) {
    case Isa::kAvx512:
      return Aggregate512(h, ldh, num_nodes, width, offsets, neighbours, inv_degree, out, ldo);
    case Isa::kAvx2:
      return Aggregate256(h, ldh, num_nodes, width, offsets, neighbours, inv_degree, out, ldo);
    case Isa::kScalar:
      return AggregateScalar(h, ldh, num_nodes, width, offsets, neighbours, inv_degree, out, ldo);
  }
}

void GatherRows(const float* table, int width, const int32_t* ids, int n, float* out, int ldo) {
  for (int i = 0; i < n; ++i) {
    std::memcpy(out + static_cast<size_t>(i) * ldo, table + static_cast<size_t>(ids[i]) * width,
                sizeof(float) * width);
  }
}

void Standardize(const float* x, int rows, int width, int ldx, const float* mean, const float* std,
                 float* out, int ldo) {
  for (int i = 0; i < rows; ++i) {
    const float* xr = x + static_cast<size_t>(i) * ldx;
    float* o = out + static_cast<size_t>(i) * ldo;
    for (int j = 0; j < width; ++j) o[j] = (xr[j] - mean[j]) / std[j];
  }
}

void LayerNormReluResidual(Isa isa, const float* m, int ldm, int rows, int width,
                           const float* gamma, const float* beta, float eps, float* h, int ldh) {
  switch (Effective(isa)) {
    case Isa::kAvx512:
      return LayerNorm512(m, ldm, rows, width, gamma, beta, eps, h, ldh);
    case Isa::kAvx2:
      return LayerNorm256(m, ldm, rows, width, gamma, beta, eps, h, ldh);
    case Isa::kScalar:
      return LayerNormScalar(m, ldm, rows, width, gamma, beta, eps, h, ldh);
  }
}

void Sigmoid(Isa isa, const float* x, int n, float* y) {
  switch (Effective(isa)) {
    case Isa::kAvx512:
      return Sigmoid512Array(x, n, y);
    case Isa::kAvx2:
      return Sigmoid256Array(x, n, y);
    case Isa::kScalar:
      for (int i = 0; i < n; ++i) y[i] = SigmoidScalar(x[i]);
      return;
  }
}

void Tanh(Isa isa, const float* x, int n, float* y) {
  switch (Effective(isa)) {
    case Isa::kAvx512:
      return Tanh512Array(x, n, y);
    case Isa::kAvx2:
      return Tanh256Array(x, n, y);
    case Isa::kScalar:
      for (int i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
      return;
  }
}

void LstmStep(Isa isa, int batch, int hidden, const float* gates_x, int ldg,
              const PackedMatrix& w_hh, float* h, float* c, float* gates) {
  const int width = 4 * hidden;
  for (int b = 0; b < batch; ++b) {
    std::memcpy(gates + static_cast<size_t>(b) * width, gates_x + static_cast<size_t>(b) * ldg,
                sizeof(float) * width);
  }
  isa = Effective(isa);
  Gemm(isa, h, batch, hidden, w_hh, gates, width, GemmEpilogue{/*accumulate=*/true, /*bias=*/false});
  switch (isa) {
    case Isa::kAvx512:
      return LstmCell512(batch, hidden, gates, h, c);
    case Isa::kAvx2:
      return LstmCell256(batch, hidden, gates, h, c);
    case Isa::kScalar:
      return LstmCellScalar(batch, hidden, gates, h, c);
  }
}

}  // namespace perfgraph::kernels
