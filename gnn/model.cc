#include "gnn/model.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "cost/tabular_features.h"
#include "graph/featurize.h"
#include "graph/hlo_opcode.h"
#include "tiling/tile_config.h"

namespace perfgraph::gnn {
namespace {

torch::Tensor I64(const std::vector<int64_t>& v) {
  return torch::tensor(torch::ArrayRef<int64_t>(v), torch::kLong);
}
torch::Tensor F32(const std::vector<float>& v, std::vector<int64_t> shape) {
  if (v.empty()) return torch::zeros(shape, torch::kFloat);
  return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat).clone();
}

// Mean and std of rows of a row-major [rows, width] buffer, appended to `sum`/`sum_sq`.
void Accumulate(const float* data, int64_t rows, int width, std::vector<double>& sum,
                std::vector<double>& sum_sq) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int j = 0; j < width; ++j) {
      const double x = data[r * width + j];
      sum[j] += x;
      sum_sq[j] += x * x;
    }
  }
}

void Finish(const std::vector<double>& sum, const std::vector<double>& sum_sq, double count,
            std::vector<float>& mean, std::vector<float>& std) {
  mean.assign(sum.size(), 0.0f);
  std.assign(sum.size(), 1.0f);
  if (count <= 0) return;
  for (size_t j = 0; j < sum.size(); ++j) {
    const double m = sum[j] / count;
    const double var = std::max(0.0, sum_sq[j] / count - m * m);
    mean[j] = static_cast<float>(m);
    std[j] = var < 1e-12 ? 1.0f : static_cast<float>(std::sqrt(var));
  }
}

}  // namespace

TensorBatch ToTensors(const HostBatch& b) {
  TensorBatch t;
  t.num_graphs = b.num_graphs;
  t.max_graph_nodes = b.max_graph_nodes;
  t.node_feat = F32(b.node_feat, {b.num_nodes, b.node_width});
  t.node_opcode = I64(b.node_opcode);
  t.node_graph = I64(b.node_graph);
  t.node_position = I64(b.node_position);
  t.graph_num_nodes = I64(b.graph_num_nodes);
  t.edge_src = I64(b.edge_src);
  t.edge_dst = I64(b.edge_dst);
  t.config_feat = F32(b.config_feat, {b.num_rows, b.config_width});
  t.row_graph = I64(b.row_graph);
  t.label_log_ns = F32(b.label_log_ns, {b.num_rows});
  t.label_ok = F32(b.label_ok, {b.num_rows});
  t.row_task_fusion = F32(b.row_task_fusion, {b.num_rows});
  t.pair_faster = I64(b.pair_faster);
  t.pair_slower = I64(b.pair_slower);
  t.list_rows = I64(b.list_rows).view({b.num_lists, b.list_width});
  t.list_valid = F32(b.list_valid, {b.num_lists, b.list_width});
  t.list_scored = F32(b.list_scored, {b.num_lists, b.list_width});
  return t;
}

Normalization ComputeNormalization(const std::vector<const KernelExample*>& examples, bool hybrid) {
  // The widths of the examples' schema (perfgraph's without examples).
  const int F = examples.empty() ? graph::kNumNodeFeatures : examples[0]->node_width();
  const int C = examples.empty() ? tiling::kNumConfigFeatures : examples[0]->config_width();
  constexpr int CH = cost::kNumHybridConfigFeatures;
  std::vector<double> node_sum(F), node_sq(F), config_sum(C), config_sq(C);
  std::vector<double> hybrid_sum(CH), hybrid_sq(CH);
  double nodes = 0, configs = 0, label_sum = 0, label_sq = 0, labels = 0;
  for (const KernelExample* e : examples) {
    Accumulate(e->tensors.node_feat.data(), e->tensors.num_nodes, F, node_sum, node_sq);
    nodes += e->tensors.num_nodes;
    Accumulate(e->config_feat.data(), e->num_configs, C, config_sum, config_sq);
    if (hybrid) Accumulate(e->hybrid_feat.data(), e->num_configs, CH, hybrid_sum, hybrid_sq);
    configs += e->num_configs;
    for (int c = 0; c < e->num_configs; ++c) {
      if (e->timed_out[c]) continue;
      const double y = std::log(e->runtime_ns[c]);
      label_sum += y;
      label_sq += y * y;
      ++labels;
    }
  }
  Normalization n;
  Finish(node_sum, node_sq, nodes, n.node_mean, n.node_std);
  Finish(config_sum, config_sq, configs, n.config_mean, n.config_std);
  if (hybrid) {
    std::vector<float> hm, hs;
    Finish(hybrid_sum, hybrid_sq, configs, hm, hs);
    n.config_mean.insert(n.config_mean.end(), hm.begin(), hm.end());
    n.config_std.insert(n.config_std.end(), hs.begin(), hs.end());
  }
  std::vector<float> lm, ls;
  Finish({label_sum}, {label_sq}, labels, lm, ls);
  n.label_mean = lm[0];
  n.label_std = ls[0];
  return n;
}

SageLayerImpl::SageLayerImpl(int hidden) {
  self_ = register_module("self", torch::nn::Linear(hidden, hidden));
  operands_ = register_module("operands", torch::nn::Linear(torch::nn::LinearOptions(hidden, hidden).bias(false)));
  users_ = register_module("users", torch::nn::Linear(torch::nn::LinearOptions(hidden, hidden).bias(false)));
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})));
}

torch::Tensor SageLayerImpl::forward(const torch::Tensor& h, const torch::Tensor& edge_src,
                                     const torch::Tensor& edge_dst,
                                     const torch::Tensor& inv_in_degree,
                                     const torch::Tensor& inv_out_degree) {
  // Mean over operands: consumer dst gathers its producers src; mean over users: the reverse.
  torch::Tensor from_operands =
      torch::zeros_like(h).index_add_(0, edge_dst, h.index_select(0, edge_src)) * inv_in_degree;
  torch::Tensor from_users =
      torch::zeros_like(h).index_add_(0, edge_src, h.index_select(0, edge_dst)) * inv_out_degree;
  torch::Tensor m = self_(h) + operands_(from_operands) + users_(from_users);
  return h + torch::relu(norm_(m));
}

ModelImpl::ModelImpl(const ModelOptions& options) : options_(options) {
  const int H = options.hidden;
  const int F = options.node_width();
  const int C = options.config_width();
  opcode_embedding_ = register_module(
      "opcode_embedding", torch::nn::Embedding(graph::kNumOpcodeIds, options.opcode_embedding));
  const int in = options.opcode_embedding + F + (options.join == Join::kEarly ? C : 0);
  input_ = register_module("input", torch::nn::Linear(in, H));
  for (int i = 0; i < options.sage_layers; ++i) {
    sage_.push_back(register_module(absl::StrCat("sage", i), SageLayer(H)));
  }
  if (options.reduction == Reduction::kLstm) {
    lstm_ = register_module("lstm",
                            torch::nn::LSTM(torch::nn::LSTMOptions(H, H).batch_first(true)));
  }
  const int head_in = 2 * H + (options.join == Join::kLate ? C : 0);
  const int hh = options.head_hidden;
  head_ = register_module(
      "head", torch::nn::Sequential(torch::nn::Linear(head_in, hh), torch::nn::ReLU(),
                                    torch::nn::Linear(hh, hh), torch::nn::ReLU(),
                                    torch::nn::Linear(hh, 1)));
  node_mean_ = register_buffer("node_mean", torch::zeros({F}));
  node_std_ = register_buffer("node_std", torch::ones({F}));
  config_mean_ = register_buffer("config_mean", torch::zeros({C}));
  config_std_ = register_buffer("config_std", torch::ones({C}));
  label_mean_ = register_buffer("label_mean", torch::zeros({1}));
  label_std_ = register_buffer("label_std", torch::ones({1}));
}

void ModelImpl::SetNormalization(const Normalization& n) {
  torch::NoGradGuard no_grad;
  node_mean_.copy_(torch::tensor(n.node_mean));
  node_std_.copy_(torch::tensor(n.node_std));
  config_mean_.copy_(torch::tensor(n.config_mean));
  config_std_.copy_(torch::tensor(n.config_std));
  label_mean_.fill_(n.label_mean);
  label_std_.fill_(n.label_std);
}

torch::Tensor ModelImpl::EmbedGraphs(const TensorBatch& batch, torch::Tensor* nodes) {
  const int64_t N = batch.node_feat.size(0);
  const int64_t B = batch.num_graphs;
  const int H = options_.hidden;
  graphs_embedded_ += B;
  std::vector<torch::Tensor> inputs = {opcode_embedding_(batch.node_opcode),
                                       (batch.node_feat - node_mean_) / node_std_};
  if (options_.join == Join::kEarly) {
    // Each graph of an early-join batch has exactly one config row.
    torch::Tensor config = (batch.config_feat - config_mean_) / config_std_;
    torch::Tensor per_graph =
        torch::zeros({B, config.size(1)}).index_copy(0, batch.row_graph, config);
    inputs.push_back(per_graph.index_select(0, batch.node_graph));
  }
  torch::Tensor h = torch::relu(input_(torch::cat(inputs, 1)));
  torch::Tensor ones = torch::ones({batch.edge_src.size(0), 1});
  torch::Tensor inv_in = 1.0 / torch::zeros({N, 1}).index_add_(0, batch.edge_dst, ones).clamp_min(1);
  torch::Tensor inv_out = 1.0 / torch::zeros({N, 1}).index_add_(0, batch.edge_src, ones).clamp_min(1);
  for (SageLayer& layer : sage_) h = layer(h, batch.edge_src, batch.edge_dst, inv_in, inv_out);
  if (nodes != nullptr) *nodes = h;

  torch::Tensor mean = torch::zeros({B, H}).index_add_(0, batch.node_graph, h) /
                       batch.graph_num_nodes.to(torch::kFloat).unsqueeze(1);
  // Pad to [B, maxN, H] by one index_copy (node i of graph g goes to row g * maxN + position). For
  // max pooling the padding is -inf so it never wins the max (every graph has at least one node);
  // scatter_reduce("amax") would avoid the padding but is a beta API in LibTorch 1.13 that warns on
  // first use.
  const bool max_pool = options_.reduction == Reduction::kMean;
  const int64_t max_n = batch.max_graph_nodes;
  torch::Tensor padded =
      torch::full({B * max_n, H}, max_pool ? -std::numeric_limits<float>::infinity() : 0.0f)
          .index_copy(0, batch.node_graph * max_n + batch.node_position, h)
          .view({B, max_n, H});
  if (max_pool) return torch::cat({padded.amax(1), mean}, 1);

  // Pack so the LSTM stops at each graph's last node.
  auto packed = torch::nn::utils::rnn::pack_padded_sequence(padded, batch.graph_num_nodes,
                                                            /*batch_first=*/true,
                                                            /*enforce_sorted=*/false);
  auto [output, state] = lstm_->forward_with_packed_input(packed);
  torch::Tensor last = std::get<0>(state).select(0, 0);  // [B, H], in batch order
  return torch::cat({last, mean}, 1);
}

torch::Tensor ModelImpl::forward(const TensorBatch& batch) {
  torch::Tensor g = EmbedGraphs(batch).index_select(0, batch.row_graph);
  if (options_.join == Join::kLate) {
    g = torch::cat({g, (batch.config_feat - config_mean_) / config_std_}, 1);
  }
  return head_->forward(g).squeeze(1) * label_std_ + label_mean_;
}

absl::Status CatchTorch(absl::string_view context, const std::function<absl::Status()>& fn) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    std::string message = e.what_without_backtrace();
    if (size_t nl = message.find('\n'); nl != std::string::npos) message.resize(nl);
    return absl::InternalError(absl::StrCat(context, ": LibTorch error: ", message));
  } catch (const std::exception& e) {
    // LibTorch also throws std::exception subclasses (and c10::Error may not match across shared
    // library boundaries): same treatment.
    std::string message = e.what();
    if (size_t nl = message.find('\n'); nl != std::string::npos) message.resize(nl);
    return absl::InternalError(absl::StrCat(context, ": LibTorch error: ", message));
  }
}

}  // namespace perfgraph::gnn
