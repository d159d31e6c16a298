#include "data/tpugraphs.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "graph/hlo_opcode.h"
#include "graph/status_macros.h"

namespace perfgraph::data {
namespace {

using Arrays = std::map<std::string, NpyArray>;

absl::StatusOr<const NpyArray*> Get(const Arrays& arrays, const std::string& path,
                                    const std::string& key) {
  auto it = arrays.find(key);
  if (it == arrays.end()) {
    std::string hint;
    if (key == "config_runtime" || key == "config_runtime_normalizers") {
      hint = " (TpuGraphs' test split ships without runtimes: import its train/ and valid/ files)";
    }
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": missing key '", key, "' of a TpuGraphs tile file", hint));
  }
  return &it->second;
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) absl::StrAppend(&s, i ? ", " : "", shape[i]);
  return s + "]";
}

absl::Status CheckRank(const NpyArray& a, const std::string& source, size_t rank,
                       absl::string_view expected) {
  if (a.shape.size() == rank) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": shape ", ShapeText(a.shape), ", expected ", expected));
}

absl::Status CheckFinite(const std::vector<float>& values, int64_t width,
                         const std::string& source) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": row ", i / width, " column ", i % width, " is ", values[i]));
    }
  }
  return absl::OkStatus();
}

// Runtimes: any integer or float dtype, each finite and > 0.
absl::StatusOr<std::vector<double>> Runtimes(const NpyArray& a, const std::string& source,
                                             int64_t configs, const std::string& feat_source) {
  RETURN_IF_ERROR(CheckRank(a, source, 1, absl::StrCat("[", configs, "]")));
  if (a.shape[0] != configs) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", a.shape[0], " entries but ",
                                                   feat_source, " has ", configs, " rows"));
  }
  std::vector<double> v = a.ToFloat64();
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i]) || !(v[i] > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": entry ", i, " is ", v[i], " (runtimes must be finite and > 0)"));
    }
  }
  return v;
}

}  // namespace

absl::StatusOr<TpuGraphsTile> ReadTpuGraphsTile(absl::string_view path_view) {
  const std::string path(path_view);
  ASSIGN_OR_RETURN(Arrays arrays, ReadNpz(path));
  auto src = [&](const char* key) { return absl::StrCat(path, ":", key); };
  TpuGraphsTile t;

  ASSIGN_OR_RETURN(const NpyArray* node_feat, Get(arrays, path, "node_feat"));
  RETURN_IF_ERROR(CheckRank(*node_feat, src("node_feat"), 2, "[nodes, features]"));
  ASSIGN_OR_RETURN(t.node_feat, node_feat->ToFloat32(src("node_feat")));
  t.num_nodes = node_feat->shape[0];
  if (t.num_nodes < 1 || node_feat->shape[1] < 1 || node_feat->shape[1] > kMaxForeignFeatures) {
    return absl::InvalidArgumentError(
        absl::StrCat(src("node_feat"), ": shape ", ShapeText(node_feat->shape),
                     " (need >= 1 node and 1..", kMaxForeignFeatures, " features)"));
  }
  t.node_width = static_cast<int>(node_feat->shape[1]);
  RETURN_IF_ERROR(CheckFinite(t.node_feat, t.node_width, src("node_feat")));

  ASSIGN_OR_RETURN(const NpyArray* opcode, Get(arrays, path, "node_opcode"));
  RETURN_IF_ERROR(CheckRank(*opcode, src("node_opcode"), 1, "[nodes]"));
  if (opcode->shape[0] != t.num_nodes) {
    return absl::InvalidArgumentError(absl::StrCat(src("node_opcode"), ": ", opcode->shape[0],
                                                   " entries but node_feat has ", t.num_nodes,
                                                   " rows"));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> opcodes, opcode->ToInt64(src("node_opcode")));
  for (size_t i = 0; i < opcodes.size(); ++i) {
    if (opcodes[i] < 0 || opcodes[i] >= graph::kNumOpcodeIds) {
      return absl::InvalidArgumentError(absl::StrCat(src("node_opcode"), ": entry ", i, " = ",
                                                     opcodes[i], " is outside [0, ",
                                                     graph::kNumOpcodeIds, ")"));
    }
    t.node_opcode.push_back(static_cast<int32_t>(opcodes[i]));
  }

  ASSIGN_OR_RETURN(const NpyArray* edges, Get(arrays, path, "edge_index"));
  // An edgeless kernel may be saved as shape (0,) by a writer that lost the second dim.
  if (!(edges->shape.size() == 1 && edges->shape[0] == 0)) {
    RETURN_IF_ERROR(CheckRank(*edges, src("edge_index"), 2, "[edges, 2]"));
    if (edges->shape[1] != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          src("edge_index"), ": shape ", ShapeText(edges->shape), ", expected [edges, 2]"));
    }
  }
  ASSIGN_OR_RETURN(t.edge_index, edges->ToInt64(src("edge_index")));
  t.num_edges = static_cast<int64_t>(t.edge_index.size() / 2);
  for (size_t i = 0; i < t.edge_index.size(); ++i) {
    if (t.edge_index[i] < 0 || t.edge_index[i] >= t.num_nodes) {
      return absl::InvalidArgumentError(absl::StrCat(src("edge_index"), ": edge ", i / 2,
                                                     " names node ", t.edge_index[i],
                                                     " outside [0, ", t.num_nodes, ")"));
    }
  }

  ASSIGN_OR_RETURN(const NpyArray* config_feat, Get(arrays, path, "config_feat"));
  RETURN_IF_ERROR(CheckRank(*config_feat, src("config_feat"), 2, "[configs, features]"));
  ASSIGN_OR_RETURN(t.config_feat, config_feat->ToFloat32(src("config_feat")));
  t.num_configs = config_feat->shape[0];
  if (t.num_configs < 1 || config_feat->shape[1] < 1 ||
      config_feat->shape[1] > kMaxForeignFeatures) {
    return absl::InvalidArgumentError(
        absl::StrCat(src("config_feat"), ": shape ", ShapeText(config_feat->shape),
                     " (need >= 1 config and 1..", kMaxForeignFeatures, " features)"));
  }
  t.config_width = static_cast<int>(config_feat->shape[1]);
  RETURN_IF_ERROR(CheckFinite(t.config_feat, t.config_width, src("config_feat")));

  ASSIGN_OR_RETURN(const NpyArray* runtime, Get(arrays, path, "config_runtime"));
  ASSIGN_OR_RETURN(t.config_runtime,
                   Runtimes(*runtime, src("config_runtime"), t.num_configs, "config_feat"));
  ASSIGN_OR_RETURN(const NpyArray* normalizers, Get(arrays, path, "config_runtime_normalizers"));
  ASSIGN_OR_RETURN(
      t.config_runtime_normalizers,
      Runtimes(*normalizers, src("config_runtime_normalizers"), t.num_configs, "config_feat"));
  return t;
}

absl::Status WriteTpuGraphsTile(absl::string_view path, const TpuGraphsTile& t,
                                NpzCompression compression) {
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("WriteTpuGraphsTile('", path, "'): ", what));
  };
  const size_t n = static_cast<size_t>(t.num_nodes), c = static_cast<size_t>(t.num_configs);
  if (t.node_feat.size() != n * t.node_width || t.node_opcode.size() != n ||
      t.edge_index.size() != 2 * static_cast<size_t>(t.num_edges) ||
      t.config_feat.size() != c * t.config_width || t.config_runtime.size() != c ||
      t.config_runtime_normalizers.size() != c) {
    return bad("array sizes disagree with the node, edge and config counts");
  }
  std::vector<uint8_t> opcodes;
  for (int32_t op : t.node_opcode) {
    if (op < 0 || op > 255) return bad(absl::StrCat("opcode ", op, " does not fit uint8"));
    opcodes.push_back(static_cast<uint8_t>(op));
  }
  auto rounded = [&](const std::vector<double>& v,
                     absl::string_view key) -> absl::StatusOr<std::vector<int64_t>> {
    std::vector<int64_t> out;
    for (double x : v) {
      const double r = std::llround(x);
      if (!std::isfinite(x) || r < 1 || r > 9.2e18) {
        return bad(absl::StrCat(key, " value ", x, " does not round to an int64 >= 1"));
      }
      out.push_back(static_cast<int64_t>(r));
    }
    return out;
  };
  ASSIGN_OR_RETURN(std::vector<int64_t> runtime, rounded(t.config_runtime, "config_runtime"));
  ASSIGN_OR_RETURN(std::vector<int64_t> normalizers,
                   rounded(t.config_runtime_normalizers, "config_runtime_normalizers"));
  std::map<std::string, NpyArray> arrays;
  arrays["node_feat"] = MakeNpyFloat32({t.num_nodes, t.node_width}, t.node_feat);
  arrays["node_opcode"] = MakeNpyUint8({t.num_nodes}, opcodes);
  arrays["edge_index"] = MakeNpyInt64({t.num_edges, 2}, t.edge_index);
  arrays["config_feat"] = MakeNpyFloat32({t.num_configs, t.config_width}, t.config_feat);
  arrays["config_runtime"] = MakeNpyInt64({t.num_configs}, runtime);
  arrays["config_runtime_normalizers"] = MakeNpyInt64({t.num_configs}, normalizers);
  return WriteNpz(path, arrays, compression);
}

std::string TpuGraphsProgramOfTileId(absl::string_view tile_id) {
  const size_t last = tile_id.rfind('_');
  if (last == absl::string_view::npos || last == 0) return std::string(tile_id);
  return std::string(tile_id.substr(0, last));
}

std::vector<double> TpuGraphsLabels(const TpuGraphsTile& tile) {
  std::vector<double> sorted = tile.config_runtime_normalizers;
  std::vector<double> labels;
  if (sorted.empty()) return labels;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  const double reference = sorted[sorted.size() / 2];
  for (size_t i = 0; i < tile.config_runtime.size(); ++i) {
    labels.push_back(tile.config_runtime[i] / tile.config_runtime_normalizers[i] * reference);
  }
  return labels;
}

}  // namespace perfgraph::data
