#include "gnn/batch.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cost/analytical_model.h"
#include "cost/tabular_features.h"
#include "data/config_proto.h"
#include "data/kernel_proto.h"
#include "data/label.h"
#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "gnn/checkpoint.h"
#include "graph/status_macros.h"
#include "tiling/tile_config.h"

namespace perfgraph::gnn {

absl::string_view TaskName(Task task) { return task == Task::kTile ? "tile" : "fusion"; }
absl::string_view JoinName(Join join) { return join == Join::kEarly ? "early" : "late"; }

int KernelExample::node_width() const {
  return foreign_features ? foreign_features->num_node_features : graph::kNumNodeFeatures;
}

int KernelExample::config_width() const {
  return foreign_features ? foreign_features->num_config_features : tiling::kNumConfigFeatures;
}

int KernelExample::num_ok() const {
  int n = 0;
  for (uint8_t t : timed_out) n += t == 0;
  return n;
}

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

// Key of an example: tile examples are per kernel hash, fusion examples per record.
using ExampleKey = std::tuple<int, std::string, int, uint64_t>;

struct PendingExample {
  KernelExample example;
  std::map<std::string, int> config_index;  // config text -> index

  // A record of config `text` with `label` ns (`ok`: not a TIMEOUT). A config seen before is
  // merged (the minimum label; OK wins over TIMEOUT), counted in `duplicates`, and false is
  // returned; a new one gets its label and true: the caller appends its config_feat row.
  bool AddConfig(const std::string& text, double label, bool ok, int64_t& duplicates) {
    auto [it, is_new] = config_index.emplace(text, example.num_configs);
    if (!is_new) {
      ++duplicates;
      const int c = it->second;
      example.runtime_ns[c] = std::min(example.runtime_ns[c], label);
      example.timed_out[c] = example.timed_out[c] && !ok;
      return false;
    }
    ++example.num_configs;
    example.config_text.push_back(text);
    example.runtime_ns.push_back(label);
    example.timed_out.push_back(ok ? 0 : 1);
    return true;
  }
};

// The kernel graph of a foreign-schema record (Record.precomputed), checked against `schema`.
absl::StatusOr<graph::KernelTensors> ForeignGraph(const data::PrecomputedFeatures& p,
                                                  const data::ForeignFeatureSchema& schema,
                                                  const std::string& context) {
  auto bad = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("LoadExamples: ", context, ": ", what));
  };
  const int64_t n = p.num_nodes();
  if (n < 1) return bad("the graph has no node");
  if (p.node_feat_size() != n * schema.num_node_features || p.node_opcode_size() != n ||
      p.edge_index_size() % 2 != 0) {
    return bad(absl::StrCat("graph arrays of ", p.node_feat_size(), " node features, ",
                            p.node_opcode_size(), " opcodes and ", p.edge_index_size(),
                            " edge ids do not fit ", n, " nodes of ", schema.ToString()));
  }
  graph::KernelTensors t;
  t.num_nodes = static_cast<int>(n);
  t.num_edges = p.edge_index_size() / 2;
  t.node_feat.assign(p.node_feat().begin(), p.node_feat().end());
  for (float v : t.node_feat) {
    if (!std::isfinite(v)) return bad(absl::StrCat("a node feature is ", v));
  }
  for (int32_t op : p.node_opcode()) {
    if (op < 0 || op >= graph::kNumOpcodeIds) {
      return bad(absl::StrCat("opcode ", op, " is outside [0, ", graph::kNumOpcodeIds, ")"));
    }
    t.node_opcode.push_back(op);
  }
  for (int32_t id : p.edge_index()) {
    if (id < 0 || id >= n) return bad(absl::StrCat("an edge names node ", id, " of ", n));
    t.edge_index.push_back(id);
  }
  t.edge_operand.assign(t.num_edges, 0);
  return t;
}

}  // namespace

absl::StatusOr<std::vector<KernelExample>> LoadExamples(const std::vector<std::string>& paths,
                                                        LoadSummary* summary) {
  LoadSummary local;
  std::map<ExampleKey, PendingExample> pending;
  std::map<uint64_t, std::pair<std::shared_ptr<const graph::Kernel>, graph::KernelTensors>> decoded;
  std::string first_path;  // the file whose schema the others must match
  for (const std::string& path : paths) {
    ASSIGN_OR_RETURN(data::RecordReader reader, data::RecordReader::Open(path));
    const std::optional<data::ForeignFeatureSchema>& schema = reader.header().foreign_features;
    if (first_path.empty()) {
      first_path = path;
      local.foreign_features = schema;
    } else if (schema != local.foreign_features) {
      return absl::FailedPreconditionError(absl::StrCat(
          "LoadExamples: '", first_path, "' holds features of schema ",
          data::FeatureSchemaText(local.foreign_features), " but '", path, "' of schema ",
          data::FeatureSchemaText(schema), "; a model reads one schema: load them separately"));
    }
    // Foreign schema: the graphs of this file's kernels (the first record of each carries it).
    std::map<uint64_t, bool> graph_seen_in_file;
    data::Record record;
    int64_t index = 0;
    while (true) {
      ASSIGN_OR_RETURN(bool more, reader.Next(&record));
      if (!more) break;
      const std::string context = absl::StrCat("record ", index, " of ", path);
      ++index;
      ++local.records;
      if (record.task() == data::Record::TASK_UNSPECIFIED ||
          record.status() == data::Record::MEASURE_STATUS_UNSPECIFIED) {
        return absl::DataLossError(
            absl::StrCat("LoadExamples: ", context, " has an UNSPECIFIED task or status"));
      }
      if (record.status() == data::Record::MEASURE_STATUS_INVALID) {
        ++local.invalid_records;
        continue;
      }
      const bool ok = record.status() == data::Record::MEASURE_STATUS_OK;
      double label = kInfinity;
      if (ok) {
        if (record.runtime_ns_size() == 0) {
          return absl::DataLossError(
              absl::StrCat("LoadExamples: ", context, " has status OK but no runtime samples"));
        }
        // The label statistic over the raw samples (data/label.h; v1 records: the minimum).
        auto record_label = data::RecordLabelNs(record, absl::StrCat("LoadExamples: ", context));
        if (!record_label.ok()) return absl::DataLossError(record_label.status().message());
        label = *record_label;
      }
      const Task task = record.task() == data::Record::TASK_TILE ? Task::kTile : Task::kFusion;
      if (schema.has_value()) {
        // Features as given: the graph once per kernel, a config row per record.
        const data::PrecomputedFeatures& p = record.precomputed();
        if (task != Task::kTile) {
          return absl::DataLossError(absl::StrCat("LoadExamples: ", context, " of feature schema ",
                                                  schema->name, " is not of the tile task"));
        }
        auto it = decoded.find(record.kernel_hash());
        if (p.num_nodes() > 0) {
          ASSIGN_OR_RETURN(graph::KernelTensors tensors, ForeignGraph(p, *schema, context));
          if (it == decoded.end()) {
            it = decoded.emplace(record.kernel_hash(), std::make_pair(nullptr, std::move(tensors)))
                     .first;
          }
          graph_seen_in_file[record.kernel_hash()] = true;
        } else if (!graph_seen_in_file.count(record.kernel_hash())) {
          return absl::DataLossError(absl::StrCat(
              "LoadExamples: ", context, ": kernel_hash ", record.kernel_hash(),
              " has no graph in an earlier record of the file (the first record of each kernel "
              "carries it)"));
        }
        if (p.config_feat_size() != schema->num_config_features) {
          return absl::DataLossError(absl::StrCat("LoadExamples: ", context, ": ",
                                                  p.config_feat_size(), " config features, ",
                                                  schema->ToString(), " has ",
                                                  schema->num_config_features));
        }
        for (float v : p.config_feat()) {
          if (!std::isfinite(v)) {
            return absl::DataLossError(
                absl::StrCat("LoadExamples: ", context, ": a config feature is ", v));
          }
        }
        auto [pit, inserted] = pending.try_emplace(ExampleKey{0, "", 0, record.kernel_hash()});
        KernelExample& example = pit->second.example;
        if (inserted) {
          example.task = Task::kTile;
          example.program = record.program();
          example.kernel_hash = record.kernel_hash();
          example.kernel_name = record.kernel().name();
          example.tensors = it->second.second;
          example.foreign_features = schema;
        }
        if (pit->second.AddConfig(record.config().text(), label, ok, local.duplicate_records)) {
          example.config_feat.insert(example.config_feat.end(), p.config_feat().begin(),
                                     p.config_feat().end());
        }
        continue;
      }
      auto it = decoded.find(record.kernel_hash());
      if (it == decoded.end()) {
        ASSIGN_OR_RETURN(graph::Kernel kernel, data::DecodeRecordKernel(record, context));
        auto shared = std::make_shared<const graph::Kernel>(std::move(kernel));
        graph::KernelTensors tensors = graph::Featurize(*shared);
        it = decoded.emplace(record.kernel_hash(), std::make_pair(shared, std::move(tensors))).first;
      }
      // The stored `features` are never read: the config is rebuilt from its raw fields and its
      // features recomputed for this build's schema (tiling::kConfigFeatureSchemaVersion).
      ASSIGN_OR_RETURN(const tiling::TileConfig config,
                       data::DecodeRecordConfig(record, *it->second.first, context));
      const ExampleKey key =
          task == Task::kTile
              ? ExampleKey{0, "", 0, record.kernel_hash()}
              : ExampleKey{1, record.program(), record.fusion_variant(), record.kernel_hash()};
      auto [pit, inserted] = pending.try_emplace(key);
      KernelExample& example = pit->second.example;
      if (inserted) {
        example.task = task;
        example.program = record.program();
        example.fusion_variant = record.fusion_variant();
        example.kernel_hash = record.kernel_hash();
        example.kernel_name = record.kernel().name();
        example.kernel = it->second.first;
        example.tensors = it->second.second;
      }
      if (pit->second.AddConfig(config.ToString(), label, ok, local.duplicate_records)) {
        const size_t offset = example.config_feat.size();
        example.config_feat.resize(offset + tiling::kNumConfigFeatures);
        tiling::ConfigFeatures(*example.kernel, config, example.config_feat.data() + offset);
      }
    }
  }
  std::vector<KernelExample> examples;
  for (auto& [key, p] : pending) {
    if (p.example.num_ok() == 0) {
      ++local.examples_without_ok;
      continue;
    }
    examples.push_back(std::move(p.example));
  }
  // Tile keys do not include the program; order every example by (task, program, variant, hash).
  std::stable_sort(examples.begin(), examples.end(),
                   [](const KernelExample& a, const KernelExample& b) {
                     return std::make_tuple(a.task, a.program, a.fusion_variant, a.kernel_hash) <
                            std::make_tuple(b.task, b.program, b.fusion_variant, b.kernel_hash);
                   });
  for (const KernelExample& e : examples) local.programs.push_back(e.program);
  std::sort(local.programs.begin(), local.programs.end());
  local.programs.erase(std::unique(local.programs.begin(), local.programs.end()),
                       local.programs.end());
  if (summary != nullptr) *summary = std::move(local);
  return examples;
}

absl::Status AddHybridFeatures(std::vector<KernelExample>& examples, int threads) {
  if (threads < 1 || threads > kMaxHybridThreads) {
    return absl::InvalidArgumentError(absl::StrCat("AddHybridFeatures: threads = ", threads,
                                                   " is outside [1, ", kMaxHybridThreads, "]"));
  }
  cost::AnalyticalModelOptions options;
  options.num_threads = threads;
  ASSIGN_OR_RETURN(cost::AnalyticalModel analytical, cost::AnalyticalModel::CreateDefault(options));
  std::vector<tiling::TileConfig> configs;
  for (KernelExample& ex : examples) {
    configs.clear();
    for (const std::string& text : ex.config_text) {
      absl::StatusOr<tiling::TileConfig> config = tiling::TileConfig::Parse(text);
      if (!config.ok()) {
        return absl::DataLossError(absl::StrCat("AddHybridFeatures: kernel '", ex.kernel_name,
                                                "' of ", ex.program, ": config '", text, "': ",
                                                config.status().message()));
      }
      configs.push_back(*config);
    }
    ex.hybrid_feat.clear();
    ex.hybrid_feat.reserve(configs.size() * cost::kNumHybridConfigFeatures);
    cost::AppendHybridConfigFeatures(*ex.kernel, configs, analytical, &ex.hybrid_feat);
  }
  return absl::OkStatus();
}

bool HasHybridFeatures(const KernelExample& example) {
  return example.hybrid_feat.size() ==
         static_cast<size_t>(example.num_configs) * cost::kNumHybridConfigFeatures;
}

HostBatch MakeHostBatch(absl::Span<const KernelExample* const> examples, Join join, bool hybrid) {
  const int C = examples.empty() ? tiling::kNumConfigFeatures : examples[0]->config_width();
  constexpr int CH = cost::kNumHybridConfigFeatures;
  HostBatch b;
  if (!examples.empty()) b.node_width = examples[0]->node_width();
  b.config_width = C + (hybrid ? CH : 0);
  std::vector<std::vector<std::pair<int64_t, bool>>> lists;  // (row, ok) fastest first
  auto add_graph = [&](const graph::KernelTensors& t) {
    const int64_t offset = b.num_nodes;
    const int64_t g = b.num_graphs++;
    b.node_feat.insert(b.node_feat.end(), t.node_feat.begin(), t.node_feat.end());
    for (int i = 0; i < t.num_nodes; ++i) {
      b.node_opcode.push_back(t.node_opcode[i]);
      b.node_graph.push_back(g);
      b.node_position.push_back(i);
    }
    for (int e = 0; e < t.num_edges; ++e) {
      b.edge_src.push_back(offset + t.edge_index[2 * e]);
      b.edge_dst.push_back(offset + t.edge_index[2 * e + 1]);
    }
    b.graph_num_nodes.push_back(t.num_nodes);
    b.max_graph_nodes = std::max<int64_t>(b.max_graph_nodes, t.num_nodes);
    b.num_nodes += t.num_nodes;
    b.num_edges += t.num_edges;
    return g;
  };
  for (size_t x = 0; x < examples.size(); ++x) {
    const KernelExample& ex = *examples[x];
    const int64_t first_row = b.num_rows;
    int64_t late_graph = join == Join::kLate ? add_graph(ex.tensors) : -1;
    for (int c = 0; c < ex.num_configs; ++c) {
      const int64_t graph = join == Join::kLate ? late_graph : add_graph(ex.tensors);
      b.config_feat.insert(b.config_feat.end(), ex.config_feat.begin() + c * C,
                           ex.config_feat.begin() + (c + 1) * C);
      if (hybrid) {
        b.config_feat.insert(b.config_feat.end(), ex.hybrid_feat.begin() + c * CH,
                             ex.hybrid_feat.begin() + (c + 1) * CH);
      }
      b.row_graph.push_back(graph);
      b.row_example.push_back(static_cast<int64_t>(x));
      b.row_config.push_back(c);
      const bool ok = !ex.timed_out[c];
      b.label_log_ns.push_back(ok ? static_cast<float>(std::log(ex.runtime_ns[c])) : 0.0f);
      b.label_ok.push_back(ok ? 1.0f : 0.0f);
      b.row_task_fusion.push_back(ex.task == Task::kFusion ? 1.0f : 0.0f);
      ++b.num_rows;
    }
    if (ex.task != Task::kTile) continue;
    if (ex.num_configs >= 2) {
      std::vector<int> order(ex.num_configs);
      for (int c = 0; c < ex.num_configs; ++c) order[c] = c;
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        if (ex.timed_out[a] != ex.timed_out[b]) return ex.timed_out[a] < ex.timed_out[b];
        return !ex.timed_out[a] && ex.runtime_ns[a] < ex.runtime_ns[b];
      });
      lists.push_back({});
      for (int c : order) lists.back().push_back({first_row + c, ex.timed_out[c] == 0});
    }
    for (int i = 0; i < ex.num_configs; ++i) {
      if (ex.timed_out[i]) continue;
      for (int j = 0; j < ex.num_configs; ++j) {
        if (i == j) continue;
        const bool slower = ex.timed_out[j] ||
                            ex.runtime_ns[j] > ex.runtime_ns[i] * (1.0 + kRankTieTolerance);
        if (!slower) continue;
        b.pair_faster.push_back(first_row + i);
        b.pair_slower.push_back(first_row + j);
      }
    }
  }
  b.num_lists = static_cast<int64_t>(lists.size());
  for (const auto& list : lists) b.list_width = std::max<int64_t>(b.list_width, list.size());
  for (const auto& list : lists) {
    for (int64_t i = 0; i < b.list_width; ++i) {
      const bool real = i < static_cast<int64_t>(list.size());
      b.list_rows.push_back(real ? list[i].first : 0);
      b.list_valid.push_back(real ? 1.0f : 0.0f);
      b.list_scored.push_back(real && list[i].second ? 1.0f : 0.0f);
    }
  }
  return b;
}

}  // namespace perfgraph::gnn
