// Element-wise and graph operations of the cost-model forward pass (gnn/model.h, steps 1-4), on plain
// row-major float buffers owned by the caller (kernels::Predictor's scratch): nothing here allocates.
// Each function with an `isa` argument has a scalar reference (std::exp / std::tanh, sequential sums)
// and AVX2 / AVX-512 paths (kernels/gemm.h Isa); results agree to float rounding (see
// tests/kernels/ops_test.cc for the tolerances).
#ifndef PERFGRAPH_KERNELS_OPS_H_
#define PERFGRAPH_KERNELS_OPS_H_

#include <cstdint>

#include "kernels/gemm.h"

namespace perfgraph::kernels {

// Which neighbours of a node an aggregation visits (edges are (producer, consumer) pairs as in
// graph::KernelTensors::edge_index).
enum class Neighbours {
  kOperands,  // node c aggregates the producers p of its in-edges (p -> c)
  kUsers,     // node p aggregates the consumers c of its out-edges (p -> c)
};

// Builds the CSR adjacency of `direction` from `edge_index` [num_edges, 2] (producer, consumer), every
// id already checked to lie in [0, num_nodes). Outputs (caller-owned): offsets [num_nodes + 1],
// neighbours [num_edges] (the neighbours of node i are neighbours[offsets[i] .. offsets[i+1]), in edge
// order, a repeated edge appearing repeatedly, exactly as LibTorch's index_add_ counts it), and
// inv_degree [num_nodes] = 1 / max(degree, 1) as gnn::SageLayer's mean uses it.
void BuildCsr(const int32_t* edge_index, int num_edges, int num_nodes, Neighbours direction,
              int32_t* offsets, int32_t* neighbours, float* inv_degree);

// out[i, :width] = inv_degree[i] * sum over the CSR neighbours j of i of h[j, :width] (the
// GraphSAGE mean aggregator; an isolated node gets zeros). h: [num_nodes, >= width] with row stride
// ldh; out: row stride ldo; h and out must not overlap.
void AggregateMean(Isa isa, const float* h, int ldh, int num_nodes, int width,
                   const int32_t* offsets, const int32_t* neighbours, const float* inv_degree,
                   float* out, int ldo);

// out[i, :width] = table[ids[i], :width] for i < n (embedding lookup; ids already range-checked).
void GatherRows(const float* table, int width, const int32_t* ids, int n, float* out, int ldo);

// out[i, j] = (x[i, j] - mean[j]) / std[j] for i < rows, j < width (the model's feature
// standardisation; division as in gnn::Model, not a multiplication by 1 / std).
void Standardize(const float* x, int rows, int width, int ldx, const float* mean, const float* std,
                 float* out, int ldo);

// The residual + normalisation of gnn::SageLayer: h[i, :] += ReLU(LayerNorm(m[i, :])) where
// LayerNorm(v) = (v - mean(v)) / sqrt(var(v) + eps) * gamma + beta, var the biased variance over the
// `width` values of a row (torch::nn::LayerNorm, default eps 1e-5).
void LayerNormReluResidual(Isa isa, const float* m, int ldm, int rows, int width,
                           const float* gamma, const float* beta, float eps, float* h, int ldh);

// y[i] = 1 / (1 + exp(-x[i])) and y[i] = tanh(x[i]) for i < n (in place allowed). SIMD paths use a
// range-reduced degree-7 polynomial exp (relative error below 1e-7 over the float range).
void Sigmoid(Isa isa, const float* x, int n, float* y);
void Tanh(Isa isa, const float* x, int n, float* y);

// One LSTM time step (torch::nn::LSTM, gate order i, f, g, o) for `batch` independent sequences:
//   gates = gates_x[b] + h[b] W_hh^T     (one GEMM for the four gates of every sequence)
//   c[b] = sigmoid(f) * c[b] + sigmoid(i) * tanh(g);   h[b] = sigmoid(o) * tanh(c[b])
// gates_x: [batch, 4H] with row stride ldg, the input products W_ih x_t + b_ih + b_hh of this step;
// w_hh: packed [4H, H] without bias; h, c: [batch, H] contiguous, updated in place;
// gates: caller scratch [batch, 4H].
void LstmStep(Isa isa, int batch, int hidden, const float* gates_x, int ldg,
              const PackedMatrix& w_hh, float* h, float* c, float* gates);

}  // namespace perfgraph::kernels

#endif  // PERFGRAPH_KERNELS_OPS_H_
