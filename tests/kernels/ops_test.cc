// Graph and element-wise ops: CSR construction by hand, every SIMD path against the scalar reference
// (which uses std::exp / std::tanh and plain sums).
#include "kernels/ops.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace perfgraph::kernels {
namespace {

std::vector<Isa> SimdIsas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (IsaSupported(isa)) isas.push_back(isa);
  }
  return isas;
}

std::vector<float> Random(int n, float lo, float hi, int seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// 0 -> 2, 1 -> 2, 0 -> 2 again (x * x style repeated operand), 2 -> 3; node 4 isolated.
const std::vector<int32_t> kEdges = {0, 2, 1, 2, 0, 2, 2, 3};

TEST(OpsTest, CsrOverOperandsListsProducersInEdgeOrderWithRepeats) {
  std::vector<int32_t> offsets(6), neighbours(4);
  std::vector<float> inv(5);
  BuildCsr(kEdges.data(), 4, 5, Neighbours::kOperands, offsets.data(), neighbours.data(), inv.data());
  EXPECT_EQ(offsets, (std::vector<int32_t>{0, 0, 0, 3, 4, 4}));
  EXPECT_EQ(neighbours, (std::vector<int32_t>{0, 1, 0, 2}));
  EXPECT_EQ(inv, (std::vector<float>{1, 1, 1.0f / 3, 1, 1}));
}

TEST(OpsTest, CsrOverUsersListsConsumers) {
  std::vector<int32_t> offsets(6), neighbours(4);
  std::vector<float> inv(5);
  BuildCsr(kEdges.data(), 4, 5, Neighbours::kUsers, offsets.data(), neighbours.data(), inv.data());
  EXPECT_EQ(offsets, (std::vector<int32_t>{0, 2, 3, 4, 4, 4}));
  EXPECT_EQ(neighbours, (std::vector<int32_t>{2, 2, 2, 3}));
  EXPECT_EQ(inv[0], 0.5f);
}

TEST(OpsTest, AggregateMeanAveragesNeighboursOnEveryIsa) {
  for (int width : {1, 8, 20, 64}) {
    const int ld = width + 3;
    const std::vector<float> h = Random(5 * ld, -2, 2, width);
    std::vector<int32_t> offsets(6), neighbours(4);
    std::vector<float> inv(5);
    BuildCsr(kEdges.data(), 4, 5, Neighbours::kOperands, offsets.data(), neighbours.data(),
             inv.data());
    std::vector<float> want(5 * width, -1.0f);
    AggregateMean(Isa::kScalar, h.data(), ld, 5, width, offsets.data(), neighbours.data(),
                  inv.data(), want.data(), width);
    for (int j = 0; j < width; ++j) {
      EXPECT_FLOAT_EQ(want[2 * width + j], (h[0 * ld + j] * 2 + h[1 * ld + j]) * (1.0f / 3));
      EXPECT_EQ(want[0 * width + j], 0.0f);  // no operands
      EXPECT_EQ(want[4 * width + j], 0.0f);  // isolated
    }
    for (Isa isa : SimdIsas()) {
      std::vector<float> got(5 * width, -1.0f);
      AggregateMean(isa, h.data(), ld, 5, width, offsets.data(), neighbours.data(), inv.data(),
                    got.data(), width);
      for (int i = 0; i < 5 * width; ++i) EXPECT_FLOAT_EQ(got[i], want[i]) << IsaName(isa);
    }
  }
}

TEST(OpsTest, GatherAndStandardize) {
  const std::vector<float> table = {0, 1, 10, 11, 20, 21};
  const std::vector<int32_t> ids = {2, 0};
  std::vector<float> out(4);
  GatherRows(table.data(), 2, ids.data(), 2, out.data(), 2);
  EXPECT_EQ(out, (std::vector<float>{20, 21, 0, 1}));
  const std::vector<float> mean = {1, 2}, std = {2, 4};
  Standardize(out.data(), 2, 2, 2, mean.data(), std.data(), out.data(), 2);
  EXPECT_EQ(out, (std::vector<float>{9.5f, 4.75f, -0.5f, -0.25f}));
}

TEST(OpsTest, SigmoidAndTanhMatchTheLibmOverTheWholeRange) {
  const int n = 4001;
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[i] = -100.0f + 200.0f * i / (n - 1);
  x[n / 2] = 0.0f;
  x.push_back(1e-6f);
  x.push_back(-3e-4f);
  for (Isa isa : SimdIsas()) {
    std::vector<float> s(x.size()), t(x.size());
    Sigmoid(isa, x.data(), static_cast<int>(x.size()), s.data());
    Tanh(isa, x.data(), static_cast<int>(x.size()), t.data());
    for (size_t i = 0; i < x.size(); ++i) {
      const double ws = 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])));
      const double wt = std::tanh(static_cast<double>(x[i]));
      // A few float ulps relative, or 1e-7 absolute near 0 for tanh ((1 - t) / (1 + t) cancels).
      EXPECT_NEAR(s[i], ws, 1e-7 + 1e-6 * ws) << IsaName(isa) << " sigmoid(" << x[i] << ")";
      EXPECT_NEAR(t[i], wt, 2e-7 + 1e-6 * std::abs(wt)) << IsaName(isa) << " tanh(" << x[i] << ")";
    }
  }
}

TEST(OpsTest, LayerNormReluResidualMatchesScalarOnEveryIsa) {
  for (int width : {4, 19, 64}) {
    const int rows = 3;
    const std::vector<float> m = Random(rows * width, -3, 5, width);
    const std::vector<float> gamma = Random(width, 0.5, 1.5, 1), beta = Random(width, -0.5, 0.5, 2);
    const std::vector<float> h0 = Random(rows * width, -1, 1, 3);
    std::vector<float> want = h0;
    LayerNormReluResidual(Isa::kScalar, m.data(), width, rows, width, gamma.data(), beta.data(),
                          1e-5f, want.data(), width);
    // Row 0 by hand.
    double mean = 0, var = 0;
    for (int j = 0; j < width; ++j) mean += m[j];
    mean /= width;
    for (int j = 0; j < width; ++j) var += (m[j] - mean) * (m[j] - mean);
    var /= width;
    for (int j = 0; j < width; ++j) {
      const double y = (m[j] - mean) / std::sqrt(var + 1e-5) * gamma[j] + beta[j];
      EXPECT_NEAR(want[j], h0[j] + std::max(0.0, y), 1e-5);
    }
    for (Isa isa : SimdIsas()) {
      std::vector<float> got = h0;
      LayerNormReluResidual(isa, m.data(), width, rows, width, gamma.data(), beta.data(), 1e-5f,
                            got.data(), width);
      for (int i = 0; i < rows * width; ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << IsaName(isa);
    }
  }
}

TEST(OpsTest, LstmStepMatchesTheCellEquationsOnEveryIsa) {
  for (int hidden : {4, 12, 64}) {
    const int batch = 3;
    const std::vector<float> w = Random(4 * hidden * hidden, -0.5, 0.5, hidden);
    const PackedMatrix w_hh = PackedMatrix::Pack(w.data(), 4 * hidden, hidden, hidden, nullptr);
    const int ldg = 4 * hidden + 7;
    const std::vector<float> gx = Random(batch * ldg, -2, 2, 5);
    const std::vector<float> h0 = Random(batch * hidden, -1, 1, 6), c0 = Random(batch * hidden, -1, 1, 7);
    // Double-precision cell.
    std::vector<double> want_h(batch * hidden), want_c(batch * hidden);
    for (int b = 0; b < batch; ++b) {
      std::vector<double> g(4 * hidden);
      for (int r = 0; r < 4 * hidden; ++r) {
        g[r] = gx[b * ldg + r];
        for (int l = 0; l < hidden; ++l) g[r] += static_cast<double>(w[r * hidden + l]) * h0[b * hidden + l];
      }
      auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
      for (int j = 0; j < hidden; ++j) {
        const double c = sig(g[hidden + j]) * c0[b * hidden + j] + sig(g[j]) * std::tanh(g[2 * hidden + j]);
        want_c[b * hidden + j] = c;
        want_h[b * hidden + j] = sig(g[3 * hidden + j]) * std::tanh(c);
      }
    }
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
      if (!IsaSupported(isa)) continue;
      std::vector<float> h = h0, c = c0, scratch(batch * 4 * hidden);
      LstmStep(isa, batch, hidden, gx.data(), ldg, w_hh, h.data(), c.data(), scratch.data());
      for (int i = 0; i < batch * hidden; ++i) {
        EXPECT_NEAR(h[i], want_h[i], 2e-6) << IsaName(isa) << " hidden " << hidden;
        EXPECT_NEAR(c[i], want_c[i], 2e-6) << IsaName(isa) << " hidden " << hidden;
      }
    }
  }
}

}  // namespace
}  // namespace perfgraph::kernels
