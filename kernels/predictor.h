// kernels::Predictor: the learned cost model's forward pass (gnn/model.h) on the CPU without
// LibTorch, over the weights file gnn::Export writes (kernels/weights.h), fast enough for a compiler's
// search loop to query per (kernel, config) pair.
//
// The computation is gnn::ModelImpl::forward for one kernel, restructured for inference:
//  1. h0 = ReLU(input([Embedding(opcode) | std(node_feat) | (early) std(config)])): the opcode part is
//     a table [kNumOpcodeIds, H] = Embedding * W_input[:, :E]^T + b_input precomputed at load time, so
//     a query runs one GEMM over the standardised node features (and, early join, one over configs).
//  2. sage_layers x { m = [h | mean_operands h | mean_users h] * [W_self | W_operands | W_users]^T +
//     b_self (one GEMM, K = 3H); h += ReLU(LayerNorm(m)) }, the means over a CSR adjacency built once
//     per query from edge_index.
//  3. Reduction (Architecture::reduction). kLstm: an LSTM over the nodes in index (topological)
//     order: the input products of all nodes in one GEMM up front, then per node one fused step
//     (kernels::LstmStep); graph embedding g = [h_last | mean of node embeddings]. kMean:
//     g = [element-wise max | mean of node embeddings] (no LSTM weights in the file).
//  4. Head MLP -> standardised log runtime -> * label_std + label_mean = log(ns); out = exp(.).
//     With the late join the first head layer is split: W1[:, :2H] g + b1 once per kernel, then
//     W1[:, 2H:] std(config) per config, so the graph part (1-3) runs once for all configs of a call.
//     With the early join, 1-3 run once per config (the configs of a call form the LSTM batch).
#ifndef PERFGRAPH_KERNELS_PREDICTOR_H_
#define PERFGRAPH_KERNELS_PREDICTOR_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/featurize.h"
#include "kernels/gemm.h"
#include "kernels/weights.h"
#include "tiling/tile_config.h"

namespace perfgraph::kernels {

// Schedule features per query row: tiling::kNumConfigFeatures (the schedule vocabulary,
// perfgraph_tiling, sits beside graph/ at the bottom of the layers); the weights header carries the
// writer's value. A hybrid model (Architecture::hybrid_threads > 0) reads kNumHybridConfigFeatures
// more per row (kernels/weights.h): a row is Architecture::config_width() floats.
inline constexpr int kNumConfigFeatures = tiling::kNumConfigFeatures;

// Name -> shape of every tensor a weights file of architecture `a` must hold, exactly what
// gnn::ModelImpl registers (parameters and buffers under LibTorch's dotted names): the contract
// between gnn::Export and Predictor. Used by FromWeights and by tests that build synthetic weights.
std::map<std::string, std::vector<int64_t>> ExpectedTensorShapes(const Architecture& a);

class Predictor {
 public:
  // Per-thread working memory of Predict. Buffers only grow: after the largest query a thread has
  // seen, Predict allocates nothing. Not shareable between concurrent calls.
  class Scratch {
   public:
    Scratch() = default;
    // Bytes currently held (for benchmarks).
    size_t bytes() const { return floats_.capacity() * sizeof(float) + ints_.capacity() * 4; }

   private:
    friend class Predictor;
    std::vector<float> floats_;
    std::vector<int32_t> ints_;
  };

  // Reads and validates the weights file at `path` (ReadWeightsFile), then checks that it holds
  // exactly the tensors of the architecture in its header with the expected shapes, and packs them for
  // `isa` (an unsupported isa falls back to BestIsa()). Errors: those of ReadWeightsFile
  // (kNotFound, kInvalidArgument bad magic, kDataLoss corrupt/truncated, kFailedPrecondition schema
  // mismatch); kFailedPrecondition naming a missing, unexpected or mis-shaped tensor (the file was
  // exported from another architecture than this Predictor implements); kDataLoss for a non-finite
  // weight or a non-positive standard deviation.
  static absl::StatusOr<Predictor> Load(absl::string_view path, Isa isa = BestIsa());
  // Same checks on an already decoded file; `source` names it in messages.
  static absl::StatusOr<Predictor> FromWeights(const WeightsFile& weights, absl::string_view source,
                                               Isa isa = BestIsa());

  // The kernel's features must be of the weights' feature schema (architecture().feature_schema):
  // graph::Featurize / tiling::ConfigFeatures for perfgraph's, the records' precomputed features
  // (node_feat [N, architecture().node_width()]) for a foreign one; node_feat of another width is
  // kInvalidArgument (a buffer size mismatch).
  // Predicted runtime in ns of `kernel` under each of `num_configs` configs: config_feat is
  // [num_configs, architecture().config_width()] row-major (tiling::ConfigFeatures of each config,
  // then for a hybrid model cost::AppendHybridConfigFeatures' block), out_ns
  // [num_configs]. Const and thread-safe: uses a thread_local Scratch (the overload below takes the
  // caller's). Errors (kInvalidArgument, naming the field and the offending value; out_ns untouched):
  // num_configs < 0, a null pointer with num_configs > 0, a kernel with no node, buffers whose sizes
  // disagree with num_nodes / num_edges, an edge id outside [0, num_nodes), an opcode outside
  // [0, graph::kNumOpcodeIds), or a non-finite node or config feature. num_configs == 0 is a no-op.
  absl::Status Predict(const graph::KernelTensors& kernel, const float* config_feat,
                       int num_configs, float* out_ns) const;
  absl::Status Predict(const graph::KernelTensors& kernel, const float* config_feat,
                       int num_configs, float* out_ns, Scratch& scratch) const;
  // Many kernels, spread over threads: every query is one Predict call (all configs of one kernel).
  struct KernelQuery {
    const graph::KernelTensors* kernel = nullptr;  // borrowed
    const float* config_feat = nullptr;            // [num_configs, architecture().config_width()]
    int num_configs = 0;
    float* out_ns = nullptr;                       // [num_configs]
  };
  // Runs every query on `num_threads` threads (the calling thread is one of them; values < 1 mean 1),
  // each thread with its own Scratch, queries handed out dynamically. Returns one status per query
  // (Predict's errors; kInvalidArgument for a null kernel), in query order.
  std::vector<absl::Status> PredictKernels(const std::vector<KernelQuery>& queries,
                                           int num_threads) const;

  // As Predict, but writes log(runtime_ns) (what gnn::Model::forward returns) instead of ns.
  absl::Status PredictLogNs(const graph::KernelTensors& kernel, const float* config_feat,
                            int num_configs, float* out_log_ns, Scratch& scratch) const;

  const Architecture& architecture() const { return arch_; }
  Isa isa() const { return isa_; }
  // Bytes of packed weights the forward pass reads.
  size_t weight_bytes() const;
  // Floating-point operations (2 per multiply-add of the GEMMs, which dominate; kMean's max / mean
  // pooling is not a GEMM and not counted) of one Predict call with these sizes: what benchmarks
  // divide by time for GFLOP/s.
  double Flops(int num_nodes, int num_configs) const;

 private:
  Predictor() = default;
  absl::Status Forward(const graph::KernelTensors& kernel, const float* config_feat,
                       int num_configs, float* out, bool log_ns, Scratch& scratch) const;

  Isa isa_ = Isa::kScalar;
  Architecture arch_;
  std::vector<float> opcode_table_;               // [kNumOpcodeIds, H] embedding * W_in^T + b_in
  PackedMatrix input_node_;                       // W_in[:, E:E+F], no bias
  PackedMatrix input_config_;                     // early join: W_in[:, E+F:], no bias
  std::vector<PackedMatrix> sage_;                // [W_self | W_operands | W_users], b_self
  std::vector<std::vector<float>> norm_gamma_, norm_beta_;
  PackedMatrix lstm_ih_;                          // kLstm: W_ih, bias b_ih + b_hh; kMean: empty
  PackedMatrix lstm_hh_;                          // kLstm: W_hh, no bias; kMean: empty
  PackedMatrix head1_graph_;                      // late: W1[:, :2H], b1; early: all of W1, b1
  PackedMatrix head1_config_;                     // late: W1[:, 2H:], no bias
  PackedMatrix head2_, head3_;
  std::vector<float> node_mean_, node_std_, config_mean_, config_std_;
  float label_mean_ = 0, label_std_ = 1;
};

}  // namespace perfgraph::kernels

#endif  // PERFGRAPH_KERNELS_PREDICTOR_H_
