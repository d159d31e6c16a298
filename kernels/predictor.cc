#include "kernels/predictor.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <cmath>
#include <cstring>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/hlo_opcode.h"
#include "graph/status_macros.h"
#include "kernels/ops.h"

namespace perfgraph::kernels {
namespace {

// torch::nn::LayerNormOptions' default epsilon (gnn::SageLayer uses the default).
constexpr float kLayerNormEps = 1e-5f;

std::string DimsText(const std::vector<int64_t>& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

size_t RoundUp16(size_t n) { return (n + 15) / 16 * 16; }

}  // namespace

// The shapes gnn::ModelImpl's constructor gives its parameters and buffers.
std::map<std::string, std::vector<int64_t>> ExpectedTensorShapes(const Architecture& a) {
  const int64_t H = a.hidden, E = a.opcode_embedding, HH = a.head_hidden;
  const bool early = a.join == WeightsJoin::kEarly;
  const int64_t C = a.config_width();
  const int64_t F = a.node_width();
  std::map<std::string, std::vector<int64_t>> t;
  t["opcode_embedding.weight"] = {graph::kNumOpcodeIds, E};
  t["input.weight"] = {H, E + F + (early ? C : 0)};
  t["input.bias"] = {H};
  for (int l = 0; l < a.sage_layers; ++l) {
    const std::string p = absl::StrCat("sage", l, ".");
    t[p + "self.weight"] = {H, H};
    t[p + "self.bias"] = {H};
    t[p + "operands.weight"] = {H, H};
    t[p + "users.weight"] = {H, H};
    t[p + "norm.weight"] = {H};
    t[p + "norm.bias"] = {H};
  }
  if (a.reduction == WeightsReduction::kLstm) {  // kMean registers no LSTM module
    t["lstm.weight_ih_l0"] = {4 * H, H};
    t["lstm.weight_hh_l0"] = {4 * H, H};
    t["lstm.bias_ih_l0"] = {4 * H};
    t["lstm.bias_hh_l0"] = {4 * H};
  }
  t["head.0.weight"] = {HH, 2 * H + (early ? 0 : C)};
  t["head.0.bias"] = {HH};
  t["head.2.weight"] = {HH, HH};
  t["head.2.bias"] = {HH};
  t["head.4.weight"] = {1, HH};
  t["head.4.bias"] = {1};
  t["node_mean"] = {F};
  t["node_std"] = {F};
  t["config_mean"] = {C};
  t["config_std"] = {C};
  t["label_mean"] = {1};
  t["label_std"] = {1};
  return t;
}

absl::StatusOr<Predictor> Predictor::Load(absl::string_view path, Isa isa) {
  ASSIGN_OR_RETURN(WeightsFile weights, ReadWeightsFile(path));
  return FromWeights(weights, path, isa);
}

absl::StatusOr<Predictor> Predictor::FromWeights(const WeightsFile& w, absl::string_view source,
                                                 Isa isa) {
  const Architecture& arch = w.architecture;
  if (arch.foreign_schema()) {
    if (w.num_node_features != static_cast<uint32_t>(arch.foreign_node_features) ||
        w.num_config_features != static_cast<uint32_t>(arch.foreign_config_features) ||
        arch.foreign_node_features < 1 || arch.foreign_config_features < 1 ||
        arch.foreign_node_features > kMaxForeignFeatureWidth ||
        arch.foreign_config_features > kMaxForeignFeatureWidth ||
        w.num_opcode_ids != static_cast<uint32_t>(graph::kNumOpcodeIds) ||
        arch.hybrid_threads != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "Predictor: weights '", source, "' of feature schema '", arch.feature_schema, "' have ",
          w.num_node_features, " node, ", w.num_config_features, " config features, ",
          w.num_opcode_ids, " opcodes, hybrid_threads ", arch.hybrid_threads,
          "; their architecture says ", arch.foreign_node_features, " and ",
          arch.foreign_config_features, " (this build: ", graph::kNumOpcodeIds,
          " opcodes, no hybrid block)"));
    }
  } else if (w.num_config_features != static_cast<uint32_t>(kNumConfigFeatures) ||
      w.num_node_features != static_cast<uint32_t>(graph::kNumNodeFeatures) ||
      w.num_opcode_ids != static_cast<uint32_t>(graph::kNumOpcodeIds) ||
      w.feature_schema_version != static_cast<uint32_t>(graph::kFeatureSchemaVersion) ||
      w.config_feature_schema_version != kConfigFeatureSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Predictor: weights '", source, "' have feature schema ", w.feature_schema_version,
        " and config feature schema ", w.config_feature_schema_version, " (", w.num_node_features,
        " node, ", w.num_config_features, " config features, ", w.num_opcode_ids,
        " opcodes); this build uses ", graph::kFeatureSchemaVersion, " and ",
        kConfigFeatureSchemaVersion, " (", graph::kNumNodeFeatures, ", ", kNumConfigFeatures, ", ",
        graph::kNumOpcodeIds, ")"));
  }
  const Architecture& a = w.architecture;
  if (a.hybrid_threads < 0 || a.hybrid_threads > kMaxHybridThreads) {
    return absl::FailedPreconditionError(absl::StrCat("Predictor: weights '", source,
                                                      "' have hybrid_threads ", a.hybrid_threads,
                                                      " outside [0, ", kMaxHybridThreads, "]"));
  }
  const int C = a.config_width();
  if (a.hidden < 1 || a.opcode_embedding < 1 || a.sage_layers < 0 || a.head_hidden < 1) {
    return absl::FailedPreconditionError(absl::StrCat("Predictor: weights '", source,
                                                      "' have a non-positive architecture size"));
  }
  const std::map<std::string, std::vector<int64_t>> expected = ExpectedTensorShapes(a);
  std::map<std::string, const NamedTensor*> found;
  for (const NamedTensor& t : w.tensors) {
    auto it = expected.find(t.name);
    if (it == expected.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "Predictor: weights '", source, "' contain tensor '", t.name, "' ", DimsText(t.dims),
          " that this Predictor's architecture (gnn/model.h as of kWeightsFormatVersion ",
          kWeightsFormatVersion, ") does not use; re-export or update kernels/predictor.cc"));
    }
    if (t.dims != it->second) {
      return absl::FailedPreconditionError(absl::StrCat("Predictor: weights '", source,
                                                        "': tensor '", t.name, "' has shape ",
                                                        DimsText(t.dims), ", expected ",
                                                        DimsText(it->second)));
    }
    for (float v : t.values) {
      if (!std::isfinite(v)) {
        return absl::DataLossError(absl::StrCat("Predictor: weights '", source, "': tensor '",
                                                t.name, "' holds a non-finite value ", v));
      }
    }
    found[t.name] = &t;
  }
  for (const auto& [name, dims] : expected) {
    if (!found.count(name)) {
      return absl::FailedPreconditionError(absl::StrCat("Predictor: weights '", source,
                                                        "' lack tensor '", name, "' ",
                                                        DimsText(dims)));
    }
  }
  auto v = [&](const std::string& name) { return found.at(name)->values.data(); };
  for (const char* name : {"node_std", "config_std", "label_std"}) {
    for (float s : found.at(name)->values) {
      if (!(s > 0)) {
        return absl::DataLossError(absl::StrCat("Predictor: weights '", source, "': ", name,
                                                " holds ", s, " (must be > 0)"));
      }
    }
  }

  Predictor p;
  p.isa_ = IsaSupported(isa) ? isa : BestIsa();
  p.arch_ = a;
  const int H = a.hidden, E = a.opcode_embedding, HH = a.head_hidden;
  const bool early = a.join == WeightsJoin::kEarly;
  const int F = a.node_width();
  const int in_width = E + F + (early ? C : 0);
  const float* w_in = v("input.weight");
  // Opcode table: Embedding[op] * W_in[:, :E]^T + b_in, in double then rounded once.
  const float* emb = v("opcode_embedding.weight");
  const float* b_in = v("input.bias");
  p.opcode_table_.resize(static_cast<size_t>(graph::kNumOpcodeIds) * H);
  for (int op = 0; op < graph::kNumOpcodeIds; ++op) {
    for (int j = 0; j < H; ++j) {
      double acc = b_in[j];
      for (int l = 0; l < E; ++l) {
        acc += static_cast<double>(emb[op * E + l]) * w_in[static_cast<size_t>(j) * in_width + l];
      }
      p.opcode_table_[static_cast<size_t>(op) * H + j] = static_cast<float>(acc);
    }
  }
  p.input_node_ = PackedMatrix::Pack(w_in + E, H, F, in_width, nullptr);
  if (early) p.input_config_ = PackedMatrix::Pack(w_in + E + F, H, C, in_width, nullptr);
  for (int l = 0; l < a.sage_layers; ++l) {
    const std::string pre = absl::StrCat("sage", l, ".");
    // [W_self | W_operands | W_users] as one [H, 3H] weight.
    std::vector<float> cat(static_cast<size_t>(H) * 3 * H);
    for (int j = 0; j < H; ++j) {
      for (int part = 0; part < 3; ++part) {
        const float* src = v(pre + (part == 0 ? "self.weight" : part == 1 ? "operands.weight"
                                                                          : "users.weight"));
        std::memcpy(&cat[static_cast<size_t>(j) * 3 * H + part * H], src + static_cast<size_t>(j) * H,
                    sizeof(float) * H);
      }
    }
    p.sage_.push_back(PackedMatrix::Pack(cat.data(), H, 3 * H, 3 * H, v(pre + "self.bias")));
    p.norm_gamma_.emplace_back(v(pre + "norm.weight"), v(pre + "norm.weight") + H);
    p.norm_beta_.emplace_back(v(pre + "norm.bias"), v(pre + "norm.bias") + H);
  }
  if (a.reduction == WeightsReduction::kLstm) {
    std::vector<float> lstm_bias(4 * H);
    for (int j = 0; j < 4 * H; ++j) lstm_bias[j] = v("lstm.bias_ih_l0")[j] + v("lstm.bias_hh_l0")[j];
    p.lstm_ih_ = PackedMatrix::Pack(v("lstm.weight_ih_l0"), 4 * H, H, H, lstm_bias.data());
    p.lstm_hh_ = PackedMatrix::Pack(v("lstm.weight_hh_l0"), 4 * H, H, H, nullptr);
  }
  const int head_in = 2 * H + (early ? 0 : C);
  p.head1_graph_ = PackedMatrix::Pack(v("head.0.weight"), HH, 2 * H, head_in, v("head.0.bias"));
  if (!early) {
    p.head1_config_ = PackedMatrix::Pack(v("head.0.weight") + 2 * H, HH, C, head_in, nullptr);
  }
  p.head2_ = PackedMatrix::Pack(v("head.2.weight"), HH, HH, HH, v("head.2.bias"));
  p.head3_ = PackedMatrix::Pack(v("head.4.weight"), 1, HH, HH, v("head.4.bias"));
  p.node_mean_.assign(v("node_mean"), v("node_mean") + F);
  p.node_std_.assign(v("node_std"), v("node_std") + F);
  p.config_mean_.assign(v("config_mean"), v("config_mean") + C);
  p.config_std_.assign(v("config_std"), v("config_std") + C);
  p.label_mean_ = v("label_mean")[0];
  p.label_std_ = v("label_std")[0];
  return p;
}

size_t Predictor::weight_bytes() const {
  size_t bytes = opcode_table_.size() * sizeof(float) + input_node_.bytes() +
                 input_config_.bytes() + lstm_ih_.bytes() + lstm_hh_.bytes() +
                 head1_graph_.bytes() + head1_config_.bytes() + head2_.bytes() + head3_.bytes();
  for (const PackedMatrix& m : sage_) bytes += m.bytes();
  for (const auto& g : norm_gamma_) bytes += 2 * g.size() * sizeof(float);
  return bytes;
}

double Predictor::Flops(int num_nodes, int num_configs) const {
  const bool early = arch_.join == WeightsJoin::kEarly;
  const double graphs = early ? num_configs : 1;
  const double rows = graphs * num_nodes;
  double macs = num_nodes * input_node_.macs_per_row();
  if (early) macs += num_configs * input_config_.macs_per_row();
  for (const PackedMatrix& m : sage_) macs += rows * m.macs_per_row();
  if (arch_.reduction == WeightsReduction::kLstm) {
    macs += rows * (lstm_ih_.macs_per_row() + lstm_hh_.macs_per_row());
  }
  macs += graphs * head1_graph_.macs_per_row();
  macs += num_configs * (head1_config_.macs_per_row() + head2_.macs_per_row() +
                         head3_.macs_per_row());
  return 2 * macs;
}

absl::Status Predictor::Predict(const graph::KernelTensors& kernel, const float* config_feat,
                                int num_configs, float* out_ns) const {
  static thread_local Scratch scratch;
  return Forward(kernel, config_feat, num_configs, out_ns, /*log_ns=*/false, scratch);
}

absl::Status Predictor::Predict(const graph::KernelTensors& kernel, const float* config_feat,
                                int num_configs, float* out_ns, Scratch& scratch) const {
  return Forward(kernel, config_feat, num_configs, out_ns, /*log_ns=*/false, scratch);
}

std::vector<absl::Status> Predictor::PredictKernels(const std::vector<KernelQuery>& queries,
                                                    int num_threads) const {
  std::vector<absl::Status> status(queries.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    Scratch scratch;
    for (size_t i = next++; i < queries.size(); i = next++) {
      const KernelQuery& q = queries[i];
      status[i] = q.kernel == nullptr
                      ? absl::InvalidArgumentError(absl::StrCat(
                            "Predictor::PredictKernels: query ", i, " has no kernel"))
                      : Predict(*q.kernel, q.config_feat, q.num_configs, q.out_ns, scratch);
    }
  };
  const int extra = std::min<int>(std::max(num_threads, 1), static_cast<int>(queries.size())) - 1;
  std::vector<std::thread> threads;
  for (int t = 0; t < extra; ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  return status;
}

absl::Status Predictor::PredictLogNs(const graph::KernelTensors& kernel, const float* config_feat,
                                     int num_configs, float* out_log_ns, Scratch& scratch) const {
  return Forward(kernel, config_feat, num_configs, out_log_ns, /*log_ns=*/true, scratch);
}

absl::Status Predictor::Forward(const graph::KernelTensors& k, const float* config_feat,
                                int num_configs, float* out, bool log_ns, Scratch& s) const {
  const int C = arch_.config_width();
  const int F = arch_.node_width();
  // ---- Input checks (O(nodes * features + edges + configs * features)).
  if (num_configs < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Predictor::Predict: num_configs = ", num_configs, " is negative"));
  }
  if (num_configs == 0) return absl::OkStatus();
  if (config_feat == nullptr || out == nullptr) {
    return absl::InvalidArgumentError("Predictor::Predict: null config_feat or output pointer");
  }
  const int N = k.num_nodes;
  const int num_edges = k.num_edges;
  if (N < 1 || num_edges < 0) {
    return absl::InvalidArgumentError(absl::StrCat("Predictor::Predict: kernel has num_nodes = ", N,
                                                   ", num_edges = ", num_edges,
                                                   " (needs at least one node)"));
  }
  if (k.node_feat.size() != static_cast<size_t>(N) * F || k.node_opcode.size() != static_cast<size_t>(N) ||
      k.edge_index.size() != 2 * static_cast<size_t>(num_edges)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Predictor::Predict: buffer sizes node_feat ", k.node_feat.size(), ", node_opcode ",
        k.node_opcode.size(), ", edge_index ", k.edge_index.size(), " disagree with num_nodes ", N,
        " and num_edges ", num_edges));
  }
  for (int i = 0; i < N; ++i) {
    if (k.node_opcode[i] < 0 || k.node_opcode[i] >= graph::kNumOpcodeIds) {
      return absl::InvalidArgumentError(absl::StrCat("Predictor::Predict: node ", i, " has opcode id ",
                                                     k.node_opcode[i], " outside [0, ",
                                                     graph::kNumOpcodeIds, ")"));
    }
  }
  for (int e = 0; e < 2 * num_edges; ++e) {
    if (k.edge_index[e] < 0 || k.edge_index[e] >= N) {
      return absl::InvalidArgumentError(absl::StrCat("Predictor::Predict: edge ", e / 2,
                                                     " names node ", k.edge_index[e],
                                                     " outside [0, ", N, ")"));
    }
  }
  for (size_t i = 0; i < k.node_feat.size(); ++i) {
    if (!std::isfinite(k.node_feat[i])) {
      return absl::InvalidArgumentError(absl::StrCat("Predictor::Predict: node ", i / F, " feature ",
                                                     i % F, " is ", k.node_feat[i]));
    }
  }
  for (size_t i = 0; i < static_cast<size_t>(num_configs) * C; ++i) {
    if (!std::isfinite(config_feat[i])) {
      return absl::InvalidArgumentError(absl::StrCat("Predictor::Predict: config ", i / C,
                                                     " feature ", i % C, " is ", config_feat[i]));
    }
  }

  // ---- Scratch layout (floats, every block rounded to 16 floats).
  const int H = arch_.hidden, HH = arch_.head_hidden;
  const bool early = arch_.join == WeightsJoin::kEarly;
  const bool lstm = arch_.reduction == WeightsReduction::kLstm;
  const int B = num_configs;
  const int G = early ? B : 1;  // graphs the graph part runs on
  const size_t R = static_cast<size_t>(G) * N;
  size_t offset = 0;
  auto take = [&](size_t n) {
    const size_t at = offset;
    offset += RoundUp16(n);
    return at;
  };
  const size_t o_xstd = take(static_cast<size_t>(N) * F);
  const size_t o_base = take(static_cast<size_t>(N) * H);
  const size_t o_cat = take(R * 3 * H);
  const size_t o_m = take(R * H);
  const size_t o_gx = take(lstm ? R * 4 * H : 0);
  const size_t o_lh = take(lstm ? static_cast<size_t>(G) * H : 0);
  const size_t o_lc = take(lstm ? static_cast<size_t>(G) * H : 0);
  const size_t o_lg = take(lstm ? static_cast<size_t>(G) * 4 * H : 0);
  const size_t o_gemb = take(static_cast<size_t>(G) * 2 * H);
  const size_t o_cstd = take(static_cast<size_t>(B) * C);
  const size_t o_cproj = take(early ? static_cast<size_t>(B) * H : 0);
  const size_t o_y1 = take(static_cast<size_t>(B) * HH);
  const size_t o_y2 = take(static_cast<size_t>(B) * HH);
  const size_t o_y3 = take(static_cast<size_t>(B));
  const size_t o_inv_op = take(N);
  const size_t o_inv_us = take(N);
  if (s.floats_.size() < offset) s.floats_.resize(offset);
  const size_t ints = 2 * (static_cast<size_t>(N) + 1 + num_edges);
  if (s.ints_.size() < ints) s.ints_.resize(ints);
  float* f = s.floats_.data();
  float* xstd = f + o_xstd;
  float* base = f + o_base;
  float* cat = f + o_cat;
  float* m = f + o_m;
  float* gx = f + o_gx;
  float* lh = f + o_lh;
  float* lc = f + o_lc;
  float* lg = f + o_lg;
  float* gemb = f + o_gemb;
  float* cstd = f + o_cstd;
  float* cproj = f + o_cproj;
  float* y1 = f + o_y1;
  float* y2 = f + o_y2;
  float* y3 = f + o_y3;
  float* inv_op = f + o_inv_op;
  float* inv_us = f + o_inv_us;
  int32_t* off_op = s.ints_.data();
  int32_t* nbr_op = off_op + N + 1;
  int32_t* off_us = nbr_op + num_edges;
  int32_t* nbr_us = off_us + N + 1;
  const int ld_cat = 3 * H;

  // ---- 1. Input projection.
  Standardize(k.node_feat.data(), N, F, F, node_mean_.data(), node_std_.data(), xstd, F);
  Standardize(config_feat, B, C, C, config_mean_.data(), config_std_.data(), cstd, C);
  GatherRows(opcode_table_.data(), H, k.node_opcode.data(), N, base, H);
  Gemm(isa_, xstd, N, F, input_node_, base, H, GemmEpilogue{/*accumulate=*/true, /*bias=*/false});
  if (early) {
    Gemm(isa_, cstd, B, C, input_config_, cproj, H, GemmEpilogue{false, /*bias=*/false});
  }
  for (int g = 0; g < G; ++g) {
    for (int n = 0; n < N; ++n) {
      float* row = cat + (static_cast<size_t>(g) * N + n) * ld_cat;
      const float* b = base + static_cast<size_t>(n) * H;
      if (early) {
        const float* cp = cproj + static_cast<size_t>(g) * H;
        for (int j = 0; j < H; ++j) row[j] = std::max(0.0f, b[j] + cp[j]);
      } else {
        for (int j = 0; j < H; ++j) row[j] = std::max(0.0f, b[j]);
      }
    }
  }

  // ---- 2. GraphSAGE layers.
  BuildCsr(k.edge_index.data(), num_edges, N, Neighbours::kOperands, off_op, nbr_op, inv_op);
  BuildCsr(k.edge_index.data(), num_edges, N, Neighbours::kUsers, off_us, nbr_us, inv_us);
  for (size_t l = 0; l < sage_.size(); ++l) {
    for (int g = 0; g < G; ++g) {
      float* h = cat + static_cast<size_t>(g) * N * ld_cat;
      AggregateMean(isa_, h, ld_cat, N, H, off_op, nbr_op, inv_op, h + H, ld_cat);
      AggregateMean(isa_, h, ld_cat, N, H, off_us, nbr_us, inv_us, h + 2 * H, ld_cat);
    }
    Gemm(isa_, cat, static_cast<int>(R), ld_cat, sage_[l], m, H);
    LayerNormReluResidual(isa_, m, H, static_cast<int>(R), H, norm_gamma_[l].data(),
                          norm_beta_[l].data(), kLayerNormEps, cat, ld_cat);
  }

  // ---- 3. Reduction: [h_last of an LSTM over the nodes | mean] (kLstm) or [max | mean] (kMean).
  if (lstm) {
    Gemm(isa_, cat, static_cast<int>(R), ld_cat, lstm_ih_, gx, 4 * H);
    std::fill(lh, lh + static_cast<size_t>(G) * H, 0.0f);
    std::fill(lc, lc + static_cast<size_t>(G) * H, 0.0f);
    for (int t = 0; t < N; ++t) {
      LstmStep(isa_, G, H, gx + static_cast<size_t>(t) * 4 * H, N * 4 * H, lstm_hh_, lh, lc, lg);
    }
  }
  for (int g = 0; g < G; ++g) {
    float* row = gemb + static_cast<size_t>(g) * 2 * H;
    if (lstm) {
      std::memcpy(row, lh + static_cast<size_t>(g) * H, sizeof(float) * H);
    } else {
      float* max = row;
      std::memcpy(max, cat + static_cast<size_t>(g) * N * ld_cat, sizeof(float) * H);
      for (int n = 1; n < N; ++n) {
        const float* h = cat + (static_cast<size_t>(g) * N + n) * ld_cat;
        for (int j = 0; j < H; ++j) max[j] = std::max(max[j], h[j]);
      }
    }
    float* mean = row + H;
    std::fill(mean, mean + H, 0.0f);
    for (int n = 0; n < N; ++n) {
      const float* h = cat + (static_cast<size_t>(g) * N + n) * ld_cat;
      for (int j = 0; j < H; ++j) mean[j] += h[j];
    }
    const float count = static_cast<float>(N);
    for (int j = 0; j < H; ++j) mean[j] /= count;
  }

  // ---- 4. Head.
  if (early) {
    Gemm(isa_, gemb, B, 2 * H, head1_graph_, y1, HH, GemmEpilogue{false, true, /*relu=*/true});
  } else {
    // y1 = ReLU(W1g g + b1 + W1c std(config)): the graph half once, broadcast to every config row.
    Gemm(isa_, gemb, 1, 2 * H, head1_graph_, y1, HH);
    for (int b = 1; b < B; ++b) std::memcpy(y1 + static_cast<size_t>(b) * HH, y1, sizeof(float) * HH);
    Gemm(isa_, cstd, B, C, head1_config_, y1, HH, GemmEpilogue{true, false, /*relu=*/true});
  }
  Gemm(isa_, y1, B, HH, head2_, y2, HH, GemmEpilogue{false, true, /*relu=*/true});
  Gemm(isa_, y2, B, HH, head3_, y3, 1);
  for (int b = 0; b < B; ++b) {
    const float log_value = y3[b] * label_std_ + label_mean_;
    out[b] = log_ns ? log_value : std::exp(log_value);
  }
  return absl::OkStatus();
}

}  // namespace perfgraph::kernels
