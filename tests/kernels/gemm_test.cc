// Packed GEMM: every instruction-set path against a double-precision reference over shapes that hit
// every register-tile remainder (m mod 4, panel counts mod 8 / 4 / 2, partial last panel).
#include "kernels/gemm.h"

#include <cmath>
#include <random>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"

namespace perfgraph::kernels {
namespace {

std::vector<Isa> SupportedIsas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (IsaSupported(isa)) isas.push_back(isa);
  }
  return isas;
}

TEST(GemmTest, ScalarIsAlwaysSupportedAndBestIsSupported) {
  EXPECT_TRUE(IsaSupported(Isa::kScalar));
  EXPECT_TRUE(IsaSupported(BestIsa()));
  EXPECT_EQ(IsaName(Isa::kAvx512), "avx512");
}

TEST(GemmTest, PackKeepsShapeAndPadsToWholePanels) {
  std::vector<float> w(17 * 3, 1.0f);
  PackedMatrix p = PackedMatrix::Pack(w.data(), 17, 3, 3, nullptr);
  EXPECT_EQ(p.n(), 17);
  EXPECT_EQ(p.k(), 3);
  EXPECT_EQ(p.num_panels(), 2);
  EXPECT_EQ(p.panel(1)[1], 0.0f);   // column 17 of panel 1 (index 1) is padding
  EXPECT_EQ(p.panel(1)[0], 1.0f);   // column 16
  EXPECT_EQ(p.bias()[5], 0.0f);
}

using Shape = std::tuple<int, int, int>;  // m, n, k
class GemmShapeTest : public ::testing::TestWithParam<Shape> {};

TEST_P(GemmShapeTest, EveryIsaMatchesDoubleReferenceWithEveryEpilogue) {
  const auto [m, n, k] = GetParam();
  std::mt19937 rng(m * 1000 + n * 10 + k);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int ldx = k + 3, ldw = k + 1, ldy = n + 5;  // strides larger than the rows
  std::vector<float> x(m * ldx), w(n * ldw), bias(n), y0(m * ldy);
  for (float& v : x) v = u(rng);
  for (float& v : w) v = u(rng);
  for (float& v : bias) v = u(rng);
  for (float& v : y0) v = u(rng);
  const PackedMatrix packed = PackedMatrix::Pack(w.data(), n, k, ldw, bias.data());
  for (Isa isa : SupportedIsas()) {
    for (int flags = 0; flags < 8; ++flags) {
      const GemmEpilogue e{(flags & 1) != 0, (flags & 2) != 0, (flags & 4) != 0};
      std::vector<float> y = y0;
      Gemm(isa, x.data(), m, ldx, packed, y.data(), ldy, e);
      for (int i = 0; i < m; ++i) {
        for (int j = 0; j < ldy; ++j) {
          const float got = y[i * ldy + j];
          if (j >= n) {  // beyond the output columns: untouched
            ASSERT_EQ(got, y0[i * ldy + j]) << IsaName(isa) << " wrote column " << j;
            continue;
          }
          double want = 0, scale = 0;
          for (int l = 0; l < k; ++l) {
            want += static_cast<double>(x[i * ldx + l]) * w[j * ldw + l];
            scale += std::abs(static_cast<double>(x[i * ldx + l]) * w[j * ldw + l]);
          }
          if (e.bias) want += bias[j];
          if (e.accumulate) want += y0[i * ldy + j];
          if (e.relu) want = std::max(want, 0.0);
          // float accumulation of k products: error <= k * eps * sum |products| (loose bound).
          const double tolerance = 1e-6 + 1.2e-7 * (k + 2) * (scale + 2);
          ASSERT_NEAR(got, want, tolerance)
              << IsaName(isa) << " m=" << m << " n=" << n << " k=" << k << " flags=" << flags
              << " at (" << i << ", " << j << ")";
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GemmShapeTest,
    ::testing::Combine(::testing::Values(1, 3, 4, 5, 9), ::testing::Values(1, 15, 16, 17, 64, 130, 256),
                       ::testing::Values(1, 7, 64, 192)));

TEST(GemmTest, ZeroRowsIsANoOp) {
  std::vector<float> w(16, 1.0f);
  const PackedMatrix packed = PackedMatrix::Pack(w.data(), 4, 4, 4, nullptr);
  float y = 42.0f;
  for (Isa isa : SupportedIsas()) Gemm(isa, nullptr, 0, 4, packed, &y, 4);
  EXPECT_EQ(y, 42.0f);
}

}  // namespace
}  // namespace perfgraph::kernels
