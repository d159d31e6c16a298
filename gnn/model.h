// gnn::Model: the learned cost model (LibTorch C++ frontend). Internal to gnn/ and its tests: this
// header includes LibTorch (tools/ use the torch-free gnn/train.h and gnn/checkpoint.h).
//
// Architecture (N nodes, H = hidden, E = opcode embedding, F = ModelOptions::node_width():
// graph::kNumNodeFeatures or a foreign schema's node width, C = ModelOptions::config_width():
// tiling::kNumConfigFeatures, plus cost::kNumHybridConfigFeatures for a hybrid model, or a foreign
// schema's config width):
//  1. Input: x = [Embedding(opcode) (E) | standardised node features (F) | (early join) standardised
//     config features of the node's graph (C)] -> Linear -> ReLU -> h0 [N, H].
//  2. sage_layers GraphSAGE layers (Hamilton et al., 2017, mean aggregator), aggregating separately
//     over operands (in-edges, producer -> consumer) and users (out-edges), as in TpuGraphs:
//        m = W_self h + W_operands mean_{operands} h + W_users mean_{users} h
//        h <- h + ReLU(LayerNorm(m))            (residual, normalisation)
//     Aggregation is one index_add_ over the batch's edges (block-diagonal batching, no per-graph loop).
//  3. Reduction (ModelOptions::reduction, gnn/checkpoint.h) -> graph embedding g [B, 2H]:
//     kLstm: an LSTM over each graph's nodes in topological order (Kaufman et al., 2021, their best
//       reduction for the tile-size task) on a packed sequence; its final hidden state [B, H] is
//       concatenated with the mean of the node embeddings [B, H]: g = [h_last | mean].
//     kMean: the element-wise max and the mean of each graph's node embeddings, g = [max | mean]:
//       the mean one index_add_ over node_graph, the max one amax over the same -inf-padded
//       [B, maxN, H] layout (no per-graph loop; no LSTM module is registered).
//  4. Head: MLP([g | (late join) standardised config features] -> head_hidden -> head_hidden -> 1),
//     the output is the standardised log runtime; forward returns it mapped back to log(ns) with the
//     stored label mean and standard deviation.
// Standardisation statistics (node/config feature mean and std, label mean and std) are buffers, set
// from the training data by gnn::Train (SetNormalization) and saved with the parameters.
#ifndef PERFGRAPH_GNN_MODEL_H_
#define PERFGRAPH_GNN_MODEL_H_

#include <cstdint>
#include <functional>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include "gnn/batch.h"
#include "gnn/checkpoint.h"

namespace perfgraph::gnn {

// A HostBatch as tensors (int64 indices, float32 values), shapes as documented in HostBatch.
struct TensorBatch {
  int64_t num_graphs = 0;
  int64_t max_graph_nodes = 0;
  torch::Tensor node_feat;        // [N, F] f32
  torch::Tensor node_opcode;      // [N] i64
  torch::Tensor node_graph;       // [N] i64
  torch::Tensor node_position;    // [N] i64
  torch::Tensor graph_num_nodes;  // [B] i64
  torch::Tensor edge_src;         // [E] i64
  torch::Tensor edge_dst;         // [E] i64
  torch::Tensor config_feat;      // [M, C] f32
  torch::Tensor row_graph;        // [M] i64
  torch::Tensor label_log_ns;     // [M] f32
  torch::Tensor label_ok;         // [M] f32
  torch::Tensor row_task_fusion;  // [M] f32
  torch::Tensor pair_faster;      // [P] i64
  torch::Tensor pair_slower;      // [P] i64
  torch::Tensor list_rows;        // [L, W] i64 (HostBatch ranking lists)
  torch::Tensor list_valid;       // [L, W] f32
  torch::Tensor list_scored;      // [L, W] f32
};

// Copies `batch` into tensors (the tensors own their memory).
TensorBatch ToTensors(const HostBatch& batch);

// Feature and label standardisation: x' = (x - mean) / std.
struct Normalization {
  std::vector<float> node_mean, node_std;      // [F]
  std::vector<float> config_mean, config_std;  // [C] (C = ModelOptions::config_width())
  float label_mean = 0, label_std = 1;         // of log(runtime_ns) over OK configs
};

// Statistics of the training examples (widths of their schema, KernelExample::node_width and
// config_width; all examples must share it): node features over all nodes, config features (and with
// `hybrid` the hybrid features, appended: config_mean / config_std then have
// ModelOptions::config_width() entries) over all configs, labels over OK configs; a std below 1e-6
// (constant feature) is replaced by 1. With `hybrid` every example must hold hybrid_feat.
Normalization ComputeNormalization(const std::vector<const KernelExample*>& examples,
                                   bool hybrid = false);

// One GraphSAGE layer (step 2 above). Input and output [N, H].
class SageLayerImpl : public torch::nn::Module {
 public:
  explicit SageLayerImpl(int hidden);
  // h [N, H]; edge_src / edge_dst [E]; inv_in_degree / inv_out_degree [N, 1] = 1 / max(degree, 1).
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& edge_src,
                        const torch::Tensor& edge_dst, const torch::Tensor& inv_in_degree,
                        const torch::Tensor& inv_out_degree);
  torch::nn::Linear self_{nullptr}, operands_{nullptr}, users_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(SageLayer);

class ModelImpl : public torch::nn::Module {
 public:
  // `options` must pass ValidateModelOptions (checked by callers; gnn::Train and LoadModelFile do).
  explicit ModelImpl(const ModelOptions& options);

  // Predicted log(runtime_ns) of every config row, [M]. Runs the graph part (steps 1-3) once per
  // graph of the batch: once per kernel with a late-join batch, once per (kernel, config) with an
  // early-join batch (MakeHostBatch builds the matching layout; the batch must have been made with
  // options().join).
  torch::Tensor forward(const TensorBatch& batch);

  // Steps 1-3 alone: node embeddings after the SAGE layers [N, H] (if `nodes` is not null) and the
  // graph embeddings [B, 2H].
  torch::Tensor EmbedGraphs(const TensorBatch& batch, torch::Tensor* nodes = nullptr);

  void SetNormalization(const Normalization& normalization);
  const ModelOptions& options() const { return options_; }
  // Graphs run through the graph part since construction (a counter for tests and benchmarks).
  int64_t graphs_embedded() const { return graphs_embedded_; }

  torch::nn::Embedding opcode_embedding_{nullptr};
  torch::nn::Linear input_{nullptr};
  std::vector<SageLayer> sage_;
  torch::nn::LSTM lstm_{nullptr};  // Reduction::kLstm only; null (and not registered) for kMean
  torch::nn::Sequential head_{nullptr};
  torch::Tensor node_mean_, node_std_, config_mean_, config_std_, label_mean_, label_std_;

 private:
  ModelOptions options_;
  int64_t graphs_embedded_ = 0;
};
TORCH_MODULE(Model);

// Runs `fn`, converting a c10::Error (or std::exception) thrown by LibTorch into kInternal with
// `context` and LibTorch's first message line: the one place gnn/ turns exceptions into Status.
absl::Status CatchTorch(absl::string_view context, const std::function<absl::Status()>& fn);

}  // namespace perfgraph::gnn

#endif  // PERFGRAPH_GNN_MODEL_H_
