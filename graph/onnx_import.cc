// ONNX import driver: read and validate the ModelProto, bring old opsets up to kMinOnnxOpset with
// ONNX's version converter, apply --input-shape overrides, order the nodes topologically, run ONNX's
// checker and shape inference (with data propagation), then lower node by node (onnx_lowering.cc).
#include "graph/onnx_import.h"

#include <algorithm>
#include <optional>

#include <exception>
#include <functional>
#include <limits>
#include <filesystem>
#include <fstream>
#include <map>
#include <queue>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/onnx_lowering.h"
#include "graph/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "onnx/checker.h"
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"
#include "onnx/version_converter/convert.h"

namespace perfgraph::graph {
namespace {

using onnx_internal::GraphLowerer;
using onnx_internal::kMaxFoldElements;
using onnx_internal::Literal;
using onnx_internal::LiteralFromTensor;
using onnx_internal::PrimitiveTypeFromOnnx;

// Same code, message prefixed with `prefix`.
// Opset that models older than kMinOnnxOpset are converted to.
constexpr int kOldModelTargetOpset = 9;

absl::Status WithPrefix(const absl::Status& status, absl::string_view prefix) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

absl::Status NotAModel(absl::string_view name, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(name, ": not a valid ONNX model: ", why));
}

std::string NodeLabel(const onnx::NodeProto& node, int index) {
  return absl::StrCat("node '", node.name().empty() ? absl::StrCat("#", index) : node.name(), "' (",
                      node.op_type(), ")");
}

std::string DimString(const onnx::TensorShapeProto::Dimension& d) {
  if (d.has_dim_value()) return absl::StrCat(d.dim_value());
  return d.dim_param().empty() ? "?" : d.dim_param();
}

// Tensors a node reads: its inputs and what its subgraphs (If / Loop / Scan) capture from outside.
std::vector<std::string> NodeReads(const onnx::NodeProto& node) {
  std::vector<std::string> reads(node.input().begin(), node.input().end());
  for (const auto& a : node.attribute()) {
    if (a.has_g()) {
      for (std::string& r : onnx_internal::OuterReferences(a.g())) reads.push_back(std::move(r));
    }
    for (const auto& g : a.graphs()) {
      for (std::string& r : onnx_internal::OuterReferences(g)) reads.push_back(std::move(r));
    }
  }
  return reads;
}

// Reorders graph nodes topologically (stable: keeps the file order when it is already valid), and
// the nodes of every subgraph likewise. A node depends on the producers of its inputs and of the
// tensors its subgraphs capture; `outer` holds the names enclosing graphs define (empty for the
// main graph). Errors name the node that uses an undefined tensor or lies on a cycle.
absl::Status SortNodes(onnx::GraphProto& graph, absl::string_view name,
                       const absl::flat_hash_set<std::string>& outer, int depth) {
  if (depth > onnx_internal::kMaxSubgraphDepth) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": subgraphs nested deeper than ",
                                                   onnx_internal::kMaxSubgraphDepth, " levels"));
  }
  absl::flat_hash_set<std::string> available;
  for (const auto& in : graph.input()) available.insert(in.name());
  for (const auto& init : graph.initializer()) available.insert(init.name());
  absl::flat_hash_map<std::string, int> producer;
  const int n = graph.node_size();
  for (int i = 0; i < n; ++i) {
    for (const std::string& out : graph.node(i).output()) {
      if (out.empty()) continue;
      if (available.contains(out) || !producer.emplace(out, i).second) {
        return absl::InvalidArgumentError(absl::StrCat(name, ": ", NodeLabel(graph.node(i), i),
                                                       " redefines tensor '", out, "'"));
      }
    }
  }
  std::vector<std::vector<int>> users(n);
  std::vector<int> pending(n, 0);
  bool has_subgraphs = false;
  for (int i = 0; i < n; ++i) {
    absl::flat_hash_set<int> deps;
    for (const std::string& in : NodeReads(graph.node(i))) {
      if (in.empty() || available.contains(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end()) {
        if (outer.contains(in)) continue;
        return absl::InvalidArgumentError(absl::StrCat(name, ": ", NodeLabel(graph.node(i), i),
                                                       " uses undefined tensor '", in, "'"));
      }
      if (!deps.insert(it->second).second) continue;
      users[it->second].push_back(i);
      ++pending[i];
    }
    for (const auto& a : graph.node(i).attribute()) has_subgraphs |= a.has_g() || a.graphs_size() > 0;
  }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < n; ++i) {
    if (pending[i] == 0) ready.push(i);
  }
  std::vector<int> order;
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int u : users[i]) {
      if (--pending[u] == 0) ready.push(u);
    }
  }
  if (static_cast<int>(order.size()) != n) {
    for (int i = 0; i < n; ++i) {
      if (pending[i] > 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            name, ": the graph has a cycle: ", NodeLabel(graph.node(i), i),
            " depends (directly or indirectly) on its own output"));
      }
    }
  }
  bool sorted = true;
  for (int i = 0; i < n; ++i) sorted &= order[i] == i;
  if (!sorted) {
    google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
    for (int i : order) *nodes.Add() = graph.node(i);
    graph.mutable_node()->Swap(&nodes);
  }
  if (!has_subgraphs) return absl::OkStatus();
  // Subgraphs see every name of this graph and of the graphs around it.
  absl::flat_hash_set<std::string> visible = outer;
  visible.insert(available.begin(), available.end());
  for (const auto& [tensor, index] : producer) visible.insert(tensor);
  for (int i = 0; i < n; ++i) {
    onnx::NodeProto& node = *graph.mutable_node(i);
    for (auto& a : *node.mutable_attribute()) {
      const std::string where = absl::StrCat(name, ": ", NodeLabel(node, i), ": ", a.name());
      if (a.has_g()) RETURN_IF_ERROR(SortNodes(*a.mutable_g(), where, visible, depth + 1));
      for (auto& g : *a.mutable_graphs()) RETURN_IF_ERROR(SortNodes(g, where, visible, depth + 1));
    }
  }
  return absl::OkStatus();
}

// Calls fn on every subgraph of `graph` (If branches, Loop / Scan bodies), recursively.
void ForEachSubgraph(onnx::GraphProto& graph,
                     const std::function<void(onnx::GraphProto&)>& fn) {
  for (auto& node : *graph.mutable_node()) {
    for (auto& a : *node.mutable_attribute()) {
      if (a.has_g()) {
        fn(*a.mutable_g());
        ForEachSubgraph(*a.mutable_g(), fn);
      }
      for (auto& g : *a.mutable_graphs()) {
        fn(g);
        ForEachSubgraph(g, fn);
      }
    }
  }
}

// Nodes without a lowering, by op type (with the domain when not ai.onnx), in the graph and all its
// subgraphs (subgraph nodes named "<If/Loop node>/<attribute>/<node>").
void CollectUnsupported(const onnx::GraphProto& graph, const std::string& path,
                        std::map<std::string, std::vector<std::string>>* missing) {
  for (int i = 0; i < graph.node_size(); ++i) {
    const auto& node = graph.node(i);
    const std::string label =
        absl::StrCat(path, node.name().empty() ? absl::StrCat("#", i) : node.name());
    if (!onnx_internal::HasLowering(node.domain(), node.op_type())) {
      std::string op = node.domain().empty() || node.domain() == "ai.onnx"
                           ? node.op_type()
                           : absl::StrCat(node.domain(), ".", node.op_type());
      (*missing)[op].push_back(label);
    }
    for (const auto& a : node.attribute()) {
      if (a.has_g()) CollectUnsupported(a.g(), absl::StrCat(label, "/", a.name(), "/"), missing);
      for (const auto& g : a.graphs()) {
        CollectUnsupported(g, absl::StrCat(label, "/", a.name(), "/"), missing);
      }
    }
  }
}

void StripExternal(onnx::TensorProto& t) {
  if (t.data_location() != onnx::TensorProto::EXTERNAL) return;
  t.clear_data_location();
  t.clear_external_data();
  t.clear_dims();
  t.add_dims(0);
}

void StripExternal(onnx::GraphProto& graph) {
  for (auto& t : *graph.mutable_initializer()) StripExternal(t);
  for (auto& node : *graph.mutable_node()) {
    for (auto& a : *node.mutable_attribute()) {
      if (a.has_t()) StripExternal(*a.mutable_t());
      for (auto& t : *a.mutable_tensors()) StripExternal(t);
      if (a.has_g()) StripExternal(*a.mutable_g());
      for (auto& g : *a.mutable_graphs()) StripExternal(g);
    }
  }
}

// ONNX's checker insists that external data files exist; we only need dims, so it checks a copy in
// which every external tensor is an empty in-line tensor (dims are not checked against anything).
onnx::ModelProto ForChecker(const onnx::ModelProto& model) {
  onnx::ModelProto copy = model;
  StripExternal(*copy.mutable_graph());
  return copy;
}

absl::StatusOr<Shape> InputShape(const onnx::ValueInfoProto& input, absl::string_view name) {
  if (!input.type().has_tensor_type()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": graph input '", input.name(), "' is not a tensor"));
  }
  const auto& tt = input.type().tensor_type();
  std::optional<PrimitiveType> type = PrimitiveTypeFromOnnx(tt.elem_type());
  if (!type.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": graph input '", input.name(),
                                                   "' has unknown or unsupported element type ",
                                                   tt.elem_type()));
  }
  if (!tt.has_shape()) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": graph input '", input.name(), "' has unknown rank; pass --input-shape ",
        input.name(), "=d0,d1,..."));
  }
  std::vector<int64_t> dims;
  std::vector<std::string> example;
  int dynamic = -1;
  for (int i = 0; i < tt.shape().dim_size(); ++i) {
    const auto& d = tt.shape().dim(i);
    if (d.has_dim_value() && d.dim_value() >= 0) {
      dims.push_back(d.dim_value());
      example.push_back(absl::StrCat(d.dim_value()));
    } else {
      if (dynamic < 0) dynamic = i;
      example.push_back("1");
    }
  }
  if (dynamic >= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": graph input '", input.name(), "' has dynamic dim ", dynamic, " ('",
        DimString(tt.shape().dim(dynamic)), "'); pass --input-shape ", input.name(),
        "=d0,d1,... with static dims, e.g. --input-shape ", input.name(), "=",
        absl::StrJoin(example, ",")));
  }
  Shape shape = Shape::Make(*type, dims);
  absl::Status valid = shape.Validate();
  if (!valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": graph input '", input.name(), "': ", valid.message()));
  }
  return shape;
}

// Checks ONNX's own passes (version converter, shape inference; Debian's libonnx) do not make but
// crash on instead of throwing, found by fuzz/onnx_import_fuzzer.cc:
//  - the version converter (graphProtoToGraph) dereferences a null value for a graph output that no
//    node, graph input or initializer of the main graph defines;
//  - Conv / pool shape inference (convPoolShapeInference) crashes on an auto_pad outside the
//    operator spec's NOTSET, SAME_UPPER, SAME_LOWER, VALID and divides by zero on a stride or
//    dilation of 0 (the ONNX Conv / AveragePool / MaxPool / LpPool / ConvTranspose / ConvInteger /
//    QLinearConv operator specs want positive strides, dilations and kernel_shape), in any graph of
//    the model.
absl::Status CheckBeforeOnnxPasses(onnx::GraphProto& graph, absl::string_view name) {
  absl::flat_hash_set<std::string> defined;
  for (const auto& v : graph.input()) defined.insert(v.name());
  for (const auto& t : graph.initializer()) defined.insert(t.name());
  for (const auto& node : graph.node()) {
    for (const auto& out : node.output()) defined.insert(out);
  }
  for (const auto& v : graph.output()) {
    if (!defined.contains(v.name())) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": graph output '", v.name(),
          "' is not defined by any node, graph input or initializer"));
    }
  }
  absl::Status status;
  static const absl::flat_hash_set<std::string> kWindowOps = {
      "Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "AveragePool", "MaxPool", "LpPool",
      "MaxUnpool", "DeformConv"};
  auto check_auto_pad = [&](const onnx::GraphProto& g) {
    for (int i = 0; i < g.node_size() && status.ok(); ++i) {
      for (const auto& attr : g.node(i).attribute()) {
        if ((attr.name() == "strides" || attr.name() == "dilations" ||
             attr.name() == "kernel_shape") &&
            kWindowOps.contains(g.node(i).op_type())) {
          // Shape inference divides by strides and dilations (a zero one raised SIGFPE).
          for (int64_t value : attr.ints()) {
            if (value < 1) {
              status = absl::InvalidArgumentError(absl::StrCat(
                  name, ": node '", g.node(i).name(), "' (", g.node(i).op_type(), "): ",
                  attr.name(), " [", absl::StrJoin(attr.ints(), ","),
                  "] has an entry below 1"));
              break;
            }
          }
          if (!status.ok()) break;
          continue;
        }
        if (attr.name() != "auto_pad") continue;
        const std::string& value = attr.s();
        if (value != "NOTSET" && value != "SAME_UPPER" && value != "SAME_LOWER" &&
            value != "VALID") {
          status = absl::InvalidArgumentError(absl::StrCat(
              name, ": node '", g.node(i).name(), "' (", g.node(i).op_type(), "): auto_pad '",
              absl::CEscape(value),
              "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID"));
          break;
        }
      }
    }
  };
  check_auto_pad(graph);
  ForEachSubgraph(graph, [&](onnx::GraphProto& sub) { check_auto_pad(sub); });
  return status;
}

absl::StatusOr<ImportedModel> ImportModel(onnx::ModelProto& model, absl::string_view name,
                                          absl::string_view program_name,
                                          const ImportOptions& options) {
  // ParseFromString accepts many byte strings that are not models: require the essentials.
  if (model.ir_version() <= 0) return NotAModel(name, "no ir_version");
  if (!model.has_graph()) return NotAModel(name, "no graph");
  if (model.graph().node_size() == 0) return NotAModel(name, "the graph has no nodes");
  RETURN_IF_ERROR(CheckBeforeOnnxPasses(*model.mutable_graph(), name));

  int opset = -1;
  for (const auto& imp : model.opset_import()) {
    if (imp.domain().empty() || imp.domain() == "ai.onnx") opset = static_cast<int>(imp.version());
  }
  if (opset < 0) return NotAModel(name, "no ai.onnx opset_import");
  if (opset > kMaxOnnxOpset) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ONNX opset ", opset,
                                                   " is not supported (supported: ", kMinOnnxOpset,
                                                   "..", kMaxOnnxOpset, ")"));
  }
  if (opset < kMinOnnxOpset) {
    // Old models: ONNX's own version converter rewrites them to opset 9 (the first opset whose
    // Constant accepts every tensor type, which old PyTorch exports rely on), or else to
    // kMinOnnxOpset. The converter needs the shapes of some inputs: run a lenient inference first.
    std::string error;
    try {
      onnx::shape_inference::InferShapes(model);
    } catch (const std::exception& e) {
      // The strict inference below reports real problems.
    }
    bool converted = false;
    for (int target : {kOldModelTargetOpset, kMinOnnxOpset}) {
      try {
        model = onnx::version_conversion::ConvertVersion(model, target);
        opset = target;
        converted = true;
        break;
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    if (!converted) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": ONNX opset ", opset, " is not supported (supported: ", kMinOnnxOpset, "..",
          kMaxOnnxOpset, ") and ONNX's version converter could not upgrade it: ", error));
    }
  }

  onnx::GraphProto& graph = *model.mutable_graph();
  absl::flat_hash_set<std::string> initializer_names;
  for (const auto& init : graph.initializer()) initializer_names.insert(init.name());

  // --dim overrides of symbolic dims (on real inputs only: initializers listed as inputs are weights).
  bool overridden = false;
  for (auto& in : *graph.mutable_input()) {
    if (initializer_names.contains(in.name()) || !in.type().has_tensor_type() ||
        !in.type().tensor_type().has_shape()) {
      continue;
    }
    for (auto& d : *in.mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim()) {
      if (!d.has_dim_param()) continue;
      auto it = options.dim_params.find(d.dim_param());
      if (it == options.dim_params.end()) continue;
      d.set_dim_value(it->second);  // clears dim_param (oneof)
      overridden = true;
    }
  }
  // --input-shape overrides.
  for (const auto& [input_name, dims] : options.input_shapes) {
    onnx::ValueInfoProto* found = nullptr;
    std::vector<std::string> real_inputs;
    for (auto& in : *graph.mutable_input()) {
      if (initializer_names.contains(in.name())) continue;
      real_inputs.push_back(in.name());
      if (in.name() == input_name) found = &in;
    }
    if (found == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": --input-shape names '", input_name, "', which is not a graph input (inputs: ",
          absl::StrJoin(real_inputs, ", "), ")"));
    }
    auto* tt = found->mutable_type()->mutable_tensor_type();
    if (tt->has_shape() && tt->shape().dim_size() != static_cast<int>(dims.size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": --input-shape ", input_name, " has ", dims.size(), " dims but the input has rank ",
          tt->shape().dim_size()));
    }
    tt->clear_shape();
    auto* shape = tt->mutable_shape();
    for (int64_t d : dims) {
      if (d < 0 || d > kMaxDimension) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ": --input-shape ", input_name, " has invalid dim ", d));
      }
      shape->add_dim()->set_dim_value(d);
    }
    overridden = true;
  }
  if (overridden) {
    // Stored intermediate/output shapes describe the old input shapes: let inference recompute them
    // (in subgraphs too, whose input shapes may follow from the graph inputs).
    ForEachSubgraph(graph, [](onnx::GraphProto& sub) {
      sub.clear_value_info();
      for (auto* list : {sub.mutable_input(), sub.mutable_output()}) {
        for (auto& v : *list) {
          if (!v.type().has_tensor_type() || !v.type().tensor_type().has_shape()) continue;
          for (auto& d : *v.mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim()) {
            d.clear_dim_value();
            d.clear_dim_param();
          }
        }
      }
    });
    graph.clear_value_info();
    for (auto& out : *graph.mutable_output()) {
      if (!out.type().has_tensor_type() || !out.type().tensor_type().has_shape()) continue;
      for (auto& d : *out.mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim()) {
        d.clear_dim_value();
        d.clear_dim_param();
      }
    }
  }

  // Element types and dims of the real inputs (before the checker, so the message names the input).
  std::vector<std::pair<std::string, Shape>> inputs;
  for (const auto& in : graph.input()) {
    if (initializer_names.contains(in.name())) continue;
    ASSIGN_OR_RETURN(Shape shape, InputShape(in, name));
    inputs.emplace_back(in.name(), std::move(shape));
  }
  for (const auto& init : graph.initializer()) {
    if (!PrimitiveTypeFromOnnx(init.data_type()).has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": initializer '", init.name(),
                                                     "' has unknown or unsupported element type ",
                                                     init.data_type()));
    }
  }

  RETURN_IF_ERROR(SortNodes(graph, name, {}, 0));

  // libonnx may predate kMaxOnnxOpset (1.12 knows opset 17): for newer models its schemas are
  // the wrong versions, so the checker is skipped and inference runs leniently (node-level errors
  // only leave shapes unknown; our lowering computes every shape itself).
  const auto& versions = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  auto known = versions.find(onnx::ONNX_DOMAIN);
  const bool schemas_known = known == versions.end() || opset <= known->second.second;
  if (schemas_known) {
    try {
      onnx::checker::check_model(ForChecker(model));
    } catch (const std::exception& e) {
      return NotAModel(name, absl::StrCat("ONNX checker: ", e.what()));
    }
  }

  // Shape inference reads initializer data (Reshape targets, ...) and throws on external data that
  // is not loaded. Hand it external initializers as plain graph inputs instead: their dims stay
  // known, and a shape computed from them is reported by our lowering, naming the tensor.
  std::vector<onnx::TensorProto> external_initializers;
  {
    absl::flat_hash_set<std::string> input_names;
    for (const auto& in : graph.input()) input_names.insert(in.name());
    google::protobuf::RepeatedPtrField<onnx::TensorProto> kept;
    for (auto& init : *graph.mutable_initializer()) {
      if (init.data_location() != onnx::TensorProto::EXTERNAL) {
        *kept.Add() = std::move(init);
        continue;
      }
      if (!input_names.contains(init.name())) {
        onnx::ValueInfoProto* in = graph.add_input();
        in->set_name(init.name());
        auto* tt = in->mutable_type()->mutable_tensor_type();
        tt->set_elem_type(init.data_type());
        auto* shape = tt->mutable_shape();
        for (int64_t d : init.dims()) shape->add_dim()->set_dim_value(d);
      }
      external_initializers.push_back(std::move(init));
    }
    graph.mutable_initializer()->Swap(&kept);
  }

  absl::flat_hash_set<std::string> declared;
  for (const auto& v : graph.output()) {
    if (v.type().tensor_type().has_shape()) declared.insert(v.name());
  }
  for (const auto& v : graph.value_info()) {
    if (v.type().tensor_type().has_shape()) declared.insert(v.name());
  }
  // Subgraphs' declared shapes (one name space: ONNX names are unique across a model's graphs).
  ForEachSubgraph(graph, [&](onnx::GraphProto& sub) {
    for (const auto& v : sub.output()) {
      if (v.type().tensor_type().has_shape()) declared.insert(v.name());
    }
    for (const auto& v : sub.value_info()) {
      if (v.type().tensor_type().has_shape()) declared.insert(v.name());
    }
  });

  std::unordered_map<std::string, onnx::TensorShapeProto> shape_data;
  try {
    onnx::ShapeInferenceOptions inference_options(/*check_type=*/schemas_known,
                                                  /*error_mode=*/schemas_known ? 1 : 0,
                                                  /*enable_data_propagation=*/true);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), inference_options,
                                       &shape_data);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": ONNX shape inference failed: ", e.what()));
  }

  std::unordered_map<std::string, const onnx::TypeProto*> inferred;
  for (const auto& v : graph.input()) inferred[v.name()] = &v.type();
  for (const auto& v : graph.value_info()) inferred[v.name()] = &v.type();
  for (const auto& v : graph.output()) inferred[v.name()] = &v.type();

  // Ops without a lowering: fail early with the full list unless they may become custom-calls.
  if (!options.allow_unsupported) {
    std::map<std::string, std::vector<std::string>> missing;
    CollectUnsupported(graph, "", &missing);
    if (!missing.empty()) {
      std::vector<std::string> parts;
      for (const auto& [op, nodes] : missing) {
        std::vector<std::string> shown(nodes.begin(), nodes.begin() + std::min<size_t>(nodes.size(), 5));
        parts.push_back(absl::StrCat(op, " x", nodes.size(), " (", absl::StrJoin(shown, ", "),
                                     nodes.size() > 5 ? ", ..." : "", ")"));
      }
      return absl::UnimplementedError(absl::StrCat(
          name, ": unsupported ONNX ops (use --allow-unsupported to keep them as custom-calls): ",
          absl::StrJoin(parts, "; ")));
    }
  }

  ImportedModel result;
  Program& program = result.program;
  program.name = std::string(program_name);
  std::vector<std::pair<std::string, std::string>> unsupported;
  onnx_internal::ControlFlowContext control_flow;
  control_flow.model = &result;
  control_flow.allow_unsupported = options.allow_unsupported;
  control_flow.unsupported = &unsupported;
  GraphLowerer lowerer(&program, opset, &inferred, &shape_data, &declared);
  lowerer.SetControlFlow(&control_flow, "", 0);
  for (const auto& [input_name, shape] : inputs) lowerer.AddInput(input_name, shape);
  std::vector<const onnx::TensorProto*> all_initializers;
  for (const auto& init : graph.initializer()) all_initializers.push_back(&init);
  for (const auto& init : external_initializers) all_initializers.push_back(&init);
  for (const onnx::TensorProto* init_ptr : all_initializers) {
    const onnx::TensorProto& init = *init_ptr;
    PrimitiveType type = *PrimitiveTypeFromOnnx(init.data_type());
    std::vector<int64_t> dims(init.dims().begin(), init.dims().end());
    Shape shape = Shape::Make(type, dims);
    absl::Status valid = shape.Validate();
    if (!valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": initializer '", init.name(), "': ", valid.message()));
    }
    bool external = init.data_location() == onnx::TensorProto::EXTERNAL;
    std::optional<Literal> literal;
    // Only integer initializers are read: they hold shapes, axes and pads. Float ones are weights.
    if (!IsFloatingPoint(type) && !external) {
      auto lit = LiteralFromTensor(init, kMaxFoldElements);
      if (!lit.ok()) return WithPrefix(lit.status(), absl::StrCat(name, ": initializer: "));
      literal = std::move(*lit);
    }
    if (!lowerer.HasValue(init.name())) {
      lowerer.AddInitializer(init.name(), shape, std::move(literal), external);
    }
  }

  for (int i = 0; i < graph.node_size(); ++i) {
    const auto& node = graph.node(i);
    absl::Status status = lowerer.LowerNode(node, options.allow_unsupported, &unsupported);
    if (!status.ok()) {
      return WithPrefix(status, absl::StrCat(name, ": ", NodeLabel(node, i), ": "));
    }
  }
  for (const auto& out : graph.output()) {
    auto id = lowerer.Materialize(out.name());
    if (!id.ok()) {
      return WithPrefix(id.status(), absl::StrCat(name, ": graph output '", out.name(), "': "));
    }
    program.outputs.push_back(*id);
  }
  for (const auto& [op, node_name] : unsupported) {
    // (A named copy: C++17 lambdas cannot capture structured bindings, which clang enforces.)
    const std::string& op_type = op;
    auto it = std::find_if(result.unsupported_ops.begin(), result.unsupported_ops.end(),
                           [&](const UnsupportedOp& u) { return u.op_type == op_type; });
    if (it == result.unsupported_ops.end()) {
      result.unsupported_ops.push_back(UnsupportedOp{op, {}});
      it = result.unsupported_ops.end() - 1;
    }
    it->node_names.push_back(node_name);
  }
  absl::Status valid = program.Validate();
  if (!valid.ok()) {
    return absl::InternalError(absl::StrCat(name, ": imported program is invalid: ", valid.message()));
  }
  return result;
}

// ----- Limits checked on the wire, before protobuf allocates the model -----

// The messages the node scan descends into (onnx/onnx.proto field numbers).
enum class WireMessage { kModel, kGraph, kNode, kAttribute, kFunction, kTrainingInfo };

struct NodeScan {
  absl::string_view name;     // the file, for messages
  int64_t max_nodes = 0;      // ImportOptions::max_instructions
  int64_t nodes = 0;          // NodeProtos seen so far (all graphs, subgraphs and functions)
  bool malformed = false;     // bytes protobuf will reject: stop and let the parser report it
};

// The message type of field `field` of a `kind` message when it is one the scan descends into.
std::optional<WireMessage> ScannedField(WireMessage kind, int field) {
  switch (kind) {
    case WireMessage::kModel:
      if (field == 7) return WireMessage::kGraph;          // ModelProto.graph
      if (field == 25) return WireMessage::kFunction;      // ModelProto.functions
      if (field == 20) return WireMessage::kTrainingInfo;  // ModelProto.training_info
      return std::nullopt;
    case WireMessage::kGraph:
      if (field == 1) return WireMessage::kNode;  // GraphProto.node
      return std::nullopt;
    case WireMessage::kFunction:
      if (field == 7) return WireMessage::kNode;  // FunctionProto.node
      return std::nullopt;
    case WireMessage::kTrainingInfo:
      if (field == 1 || field == 2) return WireMessage::kGraph;  // initialization, algorithm
      return std::nullopt;
    case WireMessage::kNode:
      if (field == 5) return WireMessage::kAttribute;  // NodeProto.attribute
      return std::nullopt;
    case WireMessage::kAttribute:
      if (field == 6 || field == 11) return WireMessage::kGraph;  // AttributeProto.g, .graphs
      return std::nullopt;
  }
  return std::nullopt;
}

// Counts the NodeProtos of one `kind` message read from `in` (up to its limit), descending into
// subgraphs. `graph_depth` is the subgraph nesting of the message (0 = the main graph). Iterative
// over fields, recursive over messages with the depth bounded by kMaxSubgraphDepth.
absl::Status ScanNodes(google::protobuf::io::CodedInputStream& in, WireMessage kind,
                       int graph_depth, NodeScan& scan) {
  using google::protobuf::internal::WireFormatLite;
  while (!scan.malformed) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return absl::OkStatus();  // end of the message (or bad bytes: the parser says)
    const int field = static_cast<int>(WireFormatLite::GetTagFieldNumber(tag));
    const std::optional<WireMessage> sub = ScannedField(kind, field);
    if (!sub.has_value() ||
        WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(&in, tag)) scan.malformed = true;
      continue;
    }
    int length = 0;
    if (!in.ReadVarintSizeAsInt(&length)) {
      scan.malformed = true;
      break;
    }
    int depth = graph_depth;
    if (*sub == WireMessage::kGraph && kind == WireMessage::kAttribute) ++depth;
    if (depth > onnx_internal::kMaxSubgraphDepth) {
      return absl::InvalidArgumentError(
          absl::StrCat(scan.name, ": subgraphs nested deeper than ",
                       onnx_internal::kMaxSubgraphDepth,
                       " levels (If / Loop / Scan bodies; onnx_internal::kMaxSubgraphDepth)"));
    }
    if (*sub == WireMessage::kNode && ++scan.nodes > scan.max_nodes) {
      return absl::InvalidArgumentError(absl::StrCat(
          scan.name, ": the model has more than ", scan.max_nodes,
          " nodes (counting subgraphs and functions; graph::kMaxInstructions, the import limit)"));
    }
    const auto limit = in.PushLimit(length);
    RETURN_IF_ERROR(ScanNodes(in, *sub, depth, scan));
    if (!in.ConsumedEntireMessage()) scan.malformed = true;
    in.PopLimit(limit);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ImportedModel> ImportOnnxBytes(absl::string_view bytes, absl::string_view name,
                                              const ImportOptions& options) {
  if (bytes.empty()) return NotAModel(name, "the file is empty");
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": larger than 2 GiB (protobuf limit)"));
  }
  {
    // Bounded memory: count nodes and subgraph nesting before protobuf builds the model (a 200 MB
    // file can hold 10^7 tiny nodes, several GB once parsed).
    google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                              static_cast<int>(bytes.size()));
    NodeScan scan;
    scan.name = name;
    scan.max_nodes = std::min(options.max_instructions, kMaxInstructions);
    RETURN_IF_ERROR(ScanNodes(in, WireMessage::kModel, 0, scan));
  }
  onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return NotAModel(name, "protobuf parsing failed (corrupt or truncated file, or not a protobuf)");
  }
  std::string stem = std::filesystem::path(std::string(name)).stem().string();
  try {
    return ImportModel(model, name, stem.empty() ? std::string(name) : stem, options);
  } catch (const std::exception& e) {
    // ONNX throws C++ exceptions from places we do not wrap individually.
    return absl::InvalidArgumentError(absl::StrCat(name, ": ONNX error: ", e.what()));
  }
}

absl::StatusOr<ImportedModel> ImportOnnxFile(const std::string& path, const ImportOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory, not an ONNX model"));
  }
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > static_cast<uintmax_t>(kMaxOnnxFileBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ONNX file of ", size, " bytes exceeds the ", kMaxOnnxFileBytes,
        "-byte limit (graph::kMaxOnnxFileBytes: protobuf cannot parse 2 GiB; store large weights "
        "as ONNX external data)"));
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot be opened for reading"));
  std::ostringstream buffer;
  buffer << file.rdbuf();
  if (file.bad()) return absl::NotFoundError(absl::StrCat(path, ": read error"));
  return ImportOnnxBytes(buffer.str(), path, options);
}

}  // namespace perfgraph::graph
