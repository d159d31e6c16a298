// The `perfgraph` Python module (pybind11) over the pipeline library: load a model into kernels with
// their tensors as NumPy arrays, predict runtimes with a cost model, plan a program (the dict of
// `perfgraph plan --json`) and read measured datasets. README "Python" has the walk-through;
// python/status_exception.h the mapping of errors to exceptions.
//
// Arrays handed to Python are read-only views into the C++ buffers of the object they belong to
// (kept alive by the array); np.array(x) copies. The GIL is released while models are imported,
// fused, predicted and planned and while records are read, so other Python threads keep running.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cost/cost_model.h"
#include "cost/shipped_files.h"
#include "graph/featurize.h"
#include "graph/hlo_opcode.h"
#include "graph/import.h"
#include "graph/shape.h"
#include "nlohmann/json.hpp"
#include "pipeline/cost_models.h"
#include "pipeline/plan.h"
#include "pipeline/plan_report.h"
#include "python/objects.h"
#include "python/status_exception.h"
#include "tiling/tile_config.h"

namespace perfgraph::python {

namespace py = pybind11;

namespace {

// ---------------------------------------------------------------------------------------------
// Helpers.

// A read-only NumPy view of `data` with `shape`, owned by `owner` (which must keep `data` alive).
template <typename T>
py::array ReadOnlyView(const std::vector<T>& data, std::vector<py::ssize_t> shape,
                       py::handle owner) {
  py::array_t<T> array;
  if (data.empty()) {
    array = py::array_t<T>(shape);  // a fresh empty array: no buffer to share
  } else {
    array = py::array_t<T>(shape, data.data(), owner);
  }
  array.attr("flags").attr("writeable") = false;
  return std::move(array);
}

// "0 = all logical cores", as the command line's --threads. Error: ValueError for < 0.
int ResolveThreads(int threads, const char* function) {
  if (threads < 0) {
    throw StatusError(absl::InvalidArgumentError(
        absl::StrCat(function, ": threads must be >= 0 (0 = all logical cores), got ", threads)));
  }
  if (threads == 0) return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return threads;
}

// ImportOptions from the keyword arguments of load() and plan(); the same checks as the command
// line's --input-shape and --dim (dims in [1, 2^40]).
graph::ImportOptions MakeImportOptions(
    const char* function, const std::optional<std::map<std::string, std::vector<int64_t>>>& shapes,
    const std::optional<std::map<std::string, int64_t>>& dims, bool allow_unsupported) {
  graph::ImportOptions options;
  options.allow_unsupported = allow_unsupported;
  auto check = [&](const std::string& what, const std::string& name, int64_t value) {
    if (name.empty()) {
      throw StatusError(absl::InvalidArgumentError(
          absl::StrCat(function, ": ", what, " has an empty input name")));
    }
    if (value < 1 || value > graph::kMaxDimension) {
      throw StatusError(absl::InvalidArgumentError(absl::StrCat(
          function, ": ", what, "['", name, "']: ", value, " is not an integer in [1, 2^40]")));
    }
  };
  if (shapes.has_value()) {
    for (const auto& [name, shape] : *shapes) {
      for (int64_t d : shape) check("input_shapes", name, d);
      if (shape.empty()) check("input_shapes", name, 1);  // a scalar: only the name is checked
      options.input_shapes[name] = shape;
    }
  }
  if (dims.has_value()) {
    for (const auto& [name, value] : *dims) {
      check("dims", name, value);
      options.dim_params[name] = value;
    }
  }
  return options;
}

// nlohmann JSON -> Python objects (dict keeps the key order). Non-finite numbers become None, as
// nlohmann's dump (what `perfgraph plan --json` prints) writes them as null.
py::object ToPython(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
    case nlohmann::ordered_json::value_t::discarded:
      return py::none();
    case nlohmann::ordered_json::value_t::boolean:
      return py::bool_(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return py::int_(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned:
      return py::int_(j.get<uint64_t>());
    case nlohmann::ordered_json::value_t::number_float: {
      const double value = j.get<double>();
      return std::isfinite(value) ? py::object(py::float_(value)) : py::object(py::none());
    }
    case nlohmann::ordered_json::value_t::string:
      return py::str(j.get_ref<const std::string&>());
    case nlohmann::ordered_json::value_t::array: {
      py::list list;
      for (const auto& item : j) list.append(ToPython(item));
      return std::move(list);
    }
    case nlohmann::ordered_json::value_t::object: {
      py::dict dict;
      for (const auto& [key, value] : j.items()) dict[py::str(key)] = ToPython(value);
      return std::move(dict);
    }
    case nlohmann::ordered_json::value_t::binary:
      break;
  }
  throw StatusError(absl::InternalError("plan report holds a binary JSON value"));
}

// ---------------------------------------------------------------------------------------------
// Python-facing objects.

// A kernel: its KernelData plus the config space, computed on first use.
struct Kernel {
  std::shared_ptr<const KernelData> data;
  std::shared_ptr<const ConfigSpaceData> space;  // guarded by the GIL
};

struct ConfigSpace {
  std::shared_ptr<const KernelData> kernel;
  std::shared_ptr<const ConfigSpaceData> data;
};

const std::shared_ptr<const ConfigSpaceData>& SpaceOf(Kernel& kernel) {
  if (kernel.space == nullptr) {
    kernel.space = std::make_shared<const ConfigSpaceData>(
        ValueOrThrow(MakeConfigSpace(kernel.data->kernel)));
  }
  return kernel.space;
}

struct Program {
  ProgramData data;
  std::vector<std::shared_ptr<Kernel>> kernels;
};

struct Record {
  RecordData data;
  std::shared_ptr<Kernel> kernel;
};

// An iterator over a dataset file.
class DatasetReader {
 public:
  DatasetReader(std::string path, DatasetStream stream)
      : path_(std::move(path)), stream_(std::move(stream)) {}

  std::optional<RecordData> Next() {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mutex_);
    if (done_) return std::nullopt;
    std::optional<RecordData> record = ValueOrThrow(stream_.Next());
    if (!record.has_value()) done_ = true;
    return record;
  }
  const std::string& path() const { return path_; }
  const DatasetStream& stream() const { return stream_; }

 private:
  std::string path_;
  std::mutex mutex_;  // one Next at a time when Python threads share the reader
  DatasetStream stream_;
  bool done_ = false;
};

// A cost model with the lock that serialises its use (cost models are not thread-safe).
class Predictor {
 public:
  Predictor(std::unique_ptr<cost::CostModel> model, pipeline::CostModelKind kind,
            std::string model_dir, int threads)
      : model_(std::move(model)), kind_(kind), model_dir_(std::move(model_dir)),
        threads_(threads) {}

  // Estimates, ns, of `kernel` under each config; the first failing query's status otherwise.
  std::vector<double> Predict(const graph::Kernel& kernel,
                              const std::vector<tiling::TileConfig>& configs) {
    std::vector<absl::StatusOr<double>> estimates;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      cost::CostBatch batch;
      for (const tiling::TileConfig& config : configs) batch.Enqueue(kernel, config);
      estimates = batch.Evaluate(*model_);
    }
    if (estimates.size() != configs.size()) {
      throw StatusError(absl::InternalError(absl::StrCat(
          "Predictor.predict: the ", model_->name(), " model returned ", estimates.size(),
          " estimates for ", configs.size(), " configs")));
    }
    std::vector<double> ns(configs.size());
    for (size_t i = 0; i < configs.size(); ++i) {
      if (!estimates[i].ok()) throw StatusError(estimates[i].status());
      ns[i] = *estimates[i];
    }
    return ns;
  }

  std::string OutOfDistribution(const graph::Kernel& kernel) {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mutex_);
    return model_->OutOfDistribution(kernel);
  }

  std::string name() const { return model_->name(); }
  pipeline::CostModelKind kind() const { return kind_; }
  const std::string& model_dir() const { return model_dir_; }
  int threads() const { return threads_; }

 private:
  std::mutex mutex_;
  std::unique_ptr<cost::CostModel> model_;
  pipeline::CostModelKind kind_;
  std::string model_dir_;
  int threads_;
};

pipeline::CostModelKind ParseKind(const std::string& name) {
  return ValueOrThrow(pipeline::ParseCostModelKind(name));
}

// The configs argument of predict() and config_feat(): None (the kernel's whole ConfigSpace), a
// ConfigSpace, one TileConfig or config text, or an iterable of them.
std::vector<tiling::TileConfig> ConfigsArgument(Kernel& kernel, const py::object& configs) {
  auto one = [](const py::handle& item) -> tiling::TileConfig {
    if (py::isinstance<tiling::TileConfig>(item)) return item.cast<tiling::TileConfig>();
    if (py::isinstance<py::str>(item)) {
      return ValueOrThrow(tiling::TileConfig::Parse(item.cast<std::string>()));
    }
    throw py::type_error(absl::StrCat("a config must be a perfgraph.TileConfig or its text, got ",
                                      std::string(py::str(item.get_type()))));
  };
  if (configs.is_none()) return SpaceOf(kernel)->configs;
  if (py::isinstance<ConfigSpace>(configs)) return configs.cast<ConfigSpace&>().data->configs;
  if (py::isinstance<tiling::TileConfig>(configs) || py::isinstance<py::str>(configs)) {
    return {one(configs)};
  }
  std::vector<tiling::TileConfig> result;
  for (const py::handle& item : py::iter(configs)) result.push_back(one(item));
  return result;
}

std::string KernelRepr(const Kernel& k) {
  const graph::Kernel& kernel = k.data->kernel;
  return absl::StrFormat("<perfgraph.Kernel '%s' %s root %s %s, %d nodes, %d edges>", kernel.name,
                         graph::FusionKindName(kernel.kind),
                         graph::HloOpcodeName(kernel.root_instruction().opcode),
                         kernel.root_instruction().shape.ToString(), k.data->tensors.num_nodes,
                         k.data->tensors.num_edges);
}

py::object OptionalInt(const std::optional<int64_t>& value) {
  return value.has_value() ? py::object(py::int_(*value)) : py::object(py::none());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The module.

void DefineModule(py::module_& m) {
  RegisterStatusTranslator();
  m.doc() =
      "perfgraph: a learned performance model for tensor programs (Python bindings over the C++ "
      "pipeline library). load() a model into kernels with NumPy tensors, Predictor.predict() "
      "runtimes, plan() a program, read_dataset() measured records. Errors raise ValueError "
      "(invalid argument), FileNotFoundError (not found), NotImplementedError (unsupported) or "
      "RuntimeError (anything else) with the C++ message; `status_code` names the absl code.";

  // Constants of the tensor layouts (graph/featurize.h, tiling/tile_config.h, graph/hlo_opcode.h).
  m.attr("NUM_NODE_FEATURES") = static_cast<int>(graph::kNumNodeFeatures);
  m.attr("NUM_CONFIG_FEATURES") = tiling::kNumConfigFeatures;
  m.attr("NUM_OPCODE_IDS") = graph::kNumOpcodeIds;
  m.attr("FEATURE_SCHEMA_VERSION") = graph::kFeatureSchemaVersion;
  m.attr("CONFIG_FEATURE_SCHEMA_VERSION") = tiling::kConfigFeatureSchemaVersion;
  m.attr("MAX_TILED_DIMS") = tiling::kMaxTiledDims;
  m.def("node_feature_names", &graph::NodeFeatureNames,
        "Names of the node_feat columns, in order (graph/featurize.h NodeFeature).");
  m.def("config_feature_names", &tiling::ConfigFeatureNames,
        "Names of the config_feat columns, in order (tiling/tile_config.h).");
  m.def(
      "opcode_names",
      []() {
        std::vector<std::string> names;
        for (int id = 0; id < graph::kNumOpcodeIds; ++id) {
          names.emplace_back(graph::HloOpcodeName(graph::HloOpcodeFromId(id)));
        }
        return names;
      },
      "HLO opcode name of every node_opcode id (TpuGraphs ids; 'unknown' for unused ids).");
  m.def("data_dir", &cost::DataDir,
        "The directory the shipped models and target description are read from "
        "(cost/shipped_files.h; PERFGRAPH_DATA_DIR overrides it).");

  py::class_<tiling::TileConfig>(m, "TileConfig",
                                 "A kernel's tile configuration (tiling/tile_config.h).")
      .def(py::init([](const std::string& text) {
             return ValueOrThrow(tiling::TileConfig::Parse(text));
           }),
           py::arg("text"),
           "Parses 'tile=64,8,4;dims=3,2,1;split=1;vec=8;par=2' (ValueError when malformed).")
      .def_property_readonly("tiled_dims",
                             [](const tiling::TileConfig& c) { return c.tiled_dims; })
      .def_property_readonly("tile", [](const tiling::TileConfig& c) { return c.tile; })
      .def_readonly("reduction_split", &tiling::TileConfig::reduction_split)
      .def_readonly("vector_width", &tiling::TileConfig::vector_width)
      .def_readonly("parallel_loop", &tiling::TileConfig::parallel_loop)
      .def("__str__", &tiling::TileConfig::ToString)
      .def("__repr__",
           [](const tiling::TileConfig& c) {
             return absl::StrCat("perfgraph.TileConfig('", c.ToString(), "')");
           })
      .def("__eq__", [](const tiling::TileConfig& a,
                        const tiling::TileConfig& b) { return a == b; })
      .def("__hash__",
           [](const tiling::TileConfig& c) { return py::hash(py::str(c.ToString())); });

  py::class_<ConfigSpace>(m, "ConfigSpace",
                          "A kernel's tiling::ConfigSpace: configs and their features.")
      .def("__len__", [](const ConfigSpace& s) { return s.data->configs.size(); })
      .def("__getitem__",
           [](const ConfigSpace& s, py::ssize_t i) {
             const auto n = static_cast<py::ssize_t>(s.data->configs.size());
             if (i < 0) i += n;
             if (i < 0 || i >= n) throw py::index_error("config index out of range");
             return s.data->configs[i];
           })
      .def_property_readonly(
          "configs", [](const ConfigSpace& s) { return s.data->configs; },
          "Every config, in ConfigSpace order (list of TileConfig).")
      .def_property_readonly(
          "config_feat",
          [](py::object self) {
            const ConfigSpace& s = self.cast<const ConfigSpace&>();
            return ReadOnlyView(s.data->config_feat,
                                {static_cast<py::ssize_t>(s.data->configs.size()),
                                 tiling::kNumConfigFeatures},
                                self);
          },
          "[len, NUM_CONFIG_FEATURES] float32: tiling::ConfigFeatures of each config.")
      .def_property_readonly(
          "default_index", [](const ConfigSpace& s) { return s.data->default_index; },
          "Index of tiling::Default(kernel) among the configs.")
      .def("__repr__", [](const ConfigSpace& s) {
        return absl::StrCat("<perfgraph.ConfigSpace of '", s.kernel->kernel.name, "': ",
                            s.data->configs.size(), " configs>");
      });

  py::class_<Kernel, std::shared_ptr<Kernel>>(
      m, "Kernel",
      "A fused kernel with its tensors (graph::KernelTensors, graph/featurize.h) as read-only NumPy "
      "arrays, nodes in topological order.")
      .def_property_readonly("name", [](const Kernel& k) { return k.data->kernel.name; })
      .def_property_readonly(
          "fusion_kind",
          [](const Kernel& k) { return std::string(graph::FusionKindName(k.data->kernel.kind)); },
          "'kLoop', 'kInput', 'kOutput' or 'kCustom'.")
      .def_property_readonly("root_opcode",
                             [](const Kernel& k) {
                               return std::string(graph::HloOpcodeName(
                                   k.data->kernel.root_instruction().opcode));
                             })
      .def_property_readonly(
          "output_shape",
          [](const Kernel& k) { return k.data->kernel.root_instruction().shape.ToString(); })
      .def_property_readonly("num_nodes", [](const Kernel& k) { return k.data->tensors.num_nodes; })
      .def_property_readonly("num_edges", [](const Kernel& k) { return k.data->tensors.num_edges; })
      .def_property_readonly(
          "flops", [](const Kernel& k) { return k.data->cost.flops; },
          "FLOP of one execution (graph::KernelCost, as `perfgraph inspect`).")
      .def_property_readonly(
          "transcendentals", [](const Kernel& k) { return k.data->cost.transcendentals; })
      .def_property_readonly(
          "bytes",
          [](const Kernel& k) { return k.data->cost.bytes_read + k.data->cost.bytes_written; },
          "Bytes read (parameters) plus written (the root), as `perfgraph inspect`.")
      .def_property_readonly("bytes_read", [](const Kernel& k) { return k.data->cost.bytes_read; })
      .def_property_readonly("bytes_written",
                             [](const Kernel& k) { return k.data->cost.bytes_written; })
      .def_property_readonly(
          "kernel_hash", [](const Kernel& k) { return k.data->hash; },
          "graph::CanonicalKernelHash (the 'kernel_hash' of datasets and `perfgraph predict`, "
          "there in hex).")
      .def_property_readonly(
          "executions", [](const Kernel& k) { return OptionalInt(k.data->runs.executions); },
          "Runs per program run (while trip counts); None when unknown.")
      .def_property_readonly(
          "node_feat",
          [](py::object self) {
            const Kernel& k = self.cast<const Kernel&>();
            return ReadOnlyView(k.data->tensors.node_feat,
                                {k.data->tensors.num_nodes, graph::kNumNodeFeatures}, self);
          },
          "[num_nodes, NUM_NODE_FEATURES] float32 (node_feature_names()).")
      .def_property_readonly(
          "node_opcode",
          [](py::object self) {
            const Kernel& k = self.cast<const Kernel&>();
            return ReadOnlyView(k.data->tensors.node_opcode, {k.data->tensors.num_nodes}, self);
          },
          "[num_nodes] int32 TpuGraphs opcode ids (opcode_names()).")
      .def_property_readonly(
          "edge_index",
          [](py::object self) {
            const Kernel& k = self.cast<const Kernel&>();
            return ReadOnlyView(k.data->tensors.edge_index, {k.data->tensors.num_edges, 2}, self);
          },
          "[num_edges, 2] int32 (producer, consumer) node ids.")
      .def_property_readonly(
          "edge_operand",
          [](py::object self) {
            const Kernel& k = self.cast<const Kernel&>();
            return ReadOnlyView(k.data->tensors.edge_operand, {k.data->tensors.num_edges}, self);
          },
          "[num_edges] int32 operand position of each edge at its consumer.")
      .def_property_readonly(
          "config_space",
          [](Kernel& k) { return ConfigSpace{k.data, SpaceOf(k)}; },
          "The kernel's ConfigSpace (computed on first use).")
      .def_property_readonly(
          "default_config", [](const Kernel& k) { return tiling::Default(k.data->kernel); },
          "tiling::Default(kernel), the heuristic's config.")
      .def(
          "config_feat",
          [](Kernel& k, const py::object& configs) {
            const std::vector<tiling::TileConfig> list = ConfigsArgument(k, configs);
            std::vector<float> rows = ValueOrThrow(ConfigFeatureRows(k.data->kernel, list));
            py::array_t<float> out({static_cast<py::ssize_t>(list.size()),
                                    static_cast<py::ssize_t>(tiling::kNumConfigFeatures)});
            std::copy(rows.begin(), rows.end(), out.mutable_data());
            return out;
          },
          py::arg("configs"),
          "[len(configs), NUM_CONFIG_FEATURES] float32 features of `configs` (TileConfigs or their "
          "text) for this kernel; ValueError for a config that is not valid for it.")
      .def("__repr__", &KernelRepr);

  py::class_<Program>(m, "Program", "An imported, fused model (perfgraph.load).")
      .def_property_readonly("name", [](const Program& p) { return p.data.name; })
      .def_property_readonly("path", [](const Program& p) { return p.data.path; })
      .def_property_readonly("fusion", [](const Program& p) { return p.data.fusion; },
                             "'default' (fusion::DefaultFusion) or 'file' (an HLO module's own).")
      .def_property_readonly("num_instructions",
                             [](const Program& p) { return p.data.num_instructions; })
      .def_property_readonly("called_computations",
                             [](const Program& p) { return p.data.called_computations; })
      .def_property_readonly(
          "unsupported_ops",
          [](const Program& p) {
            py::dict ops;
            for (const graph::UnsupportedOp& op : p.data.unsupported_ops) {
              ops[py::str(op.op_type)] = op.node_names;
            }
            return ops;
          },
          "{op type: [node names]} of ops kept as custom-calls (allow_unsupported=True).")
      .def_property_readonly("kernels", [](const Program& p) { return p.kernels; },
                             "The kernels in fusion order (as `perfgraph inspect` lists them).")
      .def("__len__", [](const Program& p) { return p.kernels.size(); })
      .def("__repr__", [](const Program& p) {
        return absl::StrCat("<perfgraph.Program '", p.data.name, "' from ", p.data.path, ": ",
                            p.kernels.size(), " kernels>");
      });

  m.def(
      "load",
      [](const std::filesystem::path& path,
         const std::optional<std::map<std::string, std::vector<int64_t>>>& input_shapes,
         const std::optional<std::map<std::string, int64_t>>& dims, bool allow_unsupported) {
        const graph::ImportOptions options =
            MakeImportOptions("perfgraph.load", input_shapes, dims, allow_unsupported);
        auto program = std::make_unique<Program>();
        {
          py::gil_scoped_release release;
          program->data = ValueOrThrow(LoadProgram(path.string(), options));
        }
        for (const auto& data : program->data.kernels) {
          program->kernels.push_back(std::make_shared<Kernel>(Kernel{data, nullptr}));
        }
        return program;
      },
      py::arg("path"), py::kw_only(), py::arg("input_shapes") = py::none(),
      py::arg("dims") = py::none(), py::arg("allow_unsupported") = false,
      "Imports a model file (.onnx, .hlo, .txt) and fuses it (fusion::DefaultFusion; an optimised "
      "HLO module keeps its own fusions). input_shapes={'input': [1, 3, 224, 224]} and "
      "dims={'batch': 1} are the command line's --input-shape and --dim.");

  py::class_<Predictor>(m, "Predictor",
                        "A cost model (pipeline::MakeCostModel) answering batched queries.")
      .def(py::init([](const std::optional<std::filesystem::path>& model_dir,
                       const std::string& cost_model, int threads) {
             pipeline::CostModelOptions options;
             options.kind = ParseKind(cost_model);
             options.num_threads = ResolveThreads(threads, "perfgraph.Predictor");
             if (model_dir.has_value()) {
               if (options.kind == pipeline::CostModelKind::kAnalytical) {
                 throw StatusError(absl::InvalidArgumentError(
                     "perfgraph.Predictor: the analytical model takes no model_dir"));
               }
               options.model_dir = model_dir->string();
             }
             const std::string dir = options.model_dir.empty()
                                         ? pipeline::ShippedModelDir(options.kind)
                                         : options.model_dir;
             std::unique_ptr<cost::CostModel> model;
             {
               py::gil_scoped_release release;
               model = ValueOrThrow(pipeline::MakeCostModel(options));
             }
             return std::make_unique<Predictor>(std::move(model), options.kind, dir,
                                                options.num_threads);
           }),
           py::arg("model_dir") = py::none(), py::kw_only(), py::arg("cost_model") = "learned",
           py::arg("threads") = 0,
           "model_dir: the output of `perfgraph train` (default: the shipped models/default, or "
           "models/xgboost for cost_model='xgboost'); cost_model: 'learned', 'xgboost' or "
           "'analytical'; threads: threads of the kernels whose runtime is predicted (0 = all "
           "logical cores, as the command line).")
      .def(
          "predict",
          [](Predictor& self, Kernel& kernel, const py::object& configs) {
            const std::vector<tiling::TileConfig> list = ConfigsArgument(kernel, configs);
            std::vector<double> ns = self.Predict(kernel.data->kernel, list);
            py::array_t<double> out(static_cast<py::ssize_t>(ns.size()));
            std::copy(ns.begin(), ns.end(), out.mutable_data());
            return out;
          },
          py::arg("kernel"), py::arg("configs") = py::none(),
          "Predicted runtime in ns of one execution of `kernel` under each config, as a float64 "
          "array, in one batch. configs: a ConfigSpace, TileConfigs or their text, or None for "
          "the kernel's whole config space. Raises on the first config without an estimate.")
      .def(
          "out_of_distribution",
          [](Predictor& self, const Kernel& kernel) {
            return self.OutOfDistribution(kernel.data->kernel);
          },
          py::arg("kernel"),
          "'' when the model has no reason to distrust its estimates for `kernel`, else why.")
      .def_property_readonly("name", &Predictor::name, "'learned', 'xgboost' or 'analytical'.")
      .def_property_readonly("model_dir", &Predictor::model_dir)
      .def_property_readonly("threads", &Predictor::threads)
      .def("__repr__", [](const Predictor& p) {
        return absl::StrCat("<perfgraph.Predictor ", p.name(), " (", p.model_dir(), "), ",
                            p.threads(), " threads>");
      });

  m.def(
      "plan",
      [](const std::filesystem::path& path, const std::string& cost_model,
         const std::optional<std::map<std::string, std::vector<int64_t>>>& input_shapes,
         const std::optional<std::map<std::string, int64_t>>& dims, const std::string& fusion,
         int threads, std::optional<double> min_predicted_gain,
         const std::optional<std::filesystem::path>& model_dir, bool allow_unsupported) {
        const graph::ImportOptions import_options =
            MakeImportOptions("perfgraph.plan", input_shapes, dims, allow_unsupported);
        pipeline::CostModelOptions model_options;
        model_options.kind = ParseKind(cost_model);
        model_options.num_threads = ResolveThreads(threads, "perfgraph.plan");
        if (model_dir.has_value()) model_options.model_dir = model_dir->string();
        pipeline::PlanOptions options;
        options.fusion = ValueOrThrow(pipeline::ParseFusionMode(fusion));
        options.num_threads = model_options.num_threads;
        if (min_predicted_gain.has_value()) {
          if (!std::isfinite(*min_predicted_gain) || *min_predicted_gain < 0) {
            throw StatusError(absl::InvalidArgumentError(absl::StrCat(
                "perfgraph.plan: min_predicted_gain must be a finite number >= 0, got ",
                *min_predicted_gain)));
          }
          options.tiling.min_predicted_gain = *min_predicted_gain;
        } else {
          options.tiling.min_predicted_gain = pipeline::DefaultGuardBand(model_options.kind);
        }
        nlohmann::ordered_json report;
        {
          py::gil_scoped_release release;
          std::unique_ptr<cost::CostModel> model =
              ValueOrThrow(pipeline::MakeCostModel(model_options));
          const std::string file = path.string();
          graph::ImportedModel imported =
              ValueOrThrow(graph::ImportModelFile(file, import_options));
          pipeline::ProgramPlan plan =
              ValueOrThrow(pipeline::PlanProgram(file, imported, *model, options));
          report = pipeline::PlanReport(plan);
        }
        return ToPython(report);
      },
      py::arg("path"), py::kw_only(), py::arg("cost_model") = "learned",
      py::arg("input_shapes") = py::none(), py::arg("dims") = py::none(),
      py::arg("fusion") = "cost", py::arg("threads") = 0,
      py::arg("min_predicted_gain") = py::none(), py::arg("model_dir") = py::none(),
      py::arg("allow_unsupported") = false,
      "Fuses and tiles a model with a cost model and returns the dict `perfgraph plan --json` "
      "prints (same keys and values; pipeline/plan_report.h). fusion: 'cost' or 'default'; "
      "threads: 0 = all logical cores; min_predicted_gain: None = the cost model's default guard "
      "band; model_dir: the --model / --xgboost-model directory (default: the shipped one).");

  py::class_<Record>(m, "Record",
                     "One measured record of a dataset, with the features computed at load as "
                     "`perfgraph train` computes them.")
      .def_property_readonly("index", [](const Record& r) { return r.data.index; })
      .def_property_readonly("program", [](const Record& r) { return r.data.program; })
      .def_property_readonly("task", [](const Record& r) { return r.data.task; },
                             "'tile' or 'fusion'.")
      .def_property_readonly("fusion_variant", [](const Record& r) { return r.data.fusion_variant; })
      .def_property_readonly("kernel", [](const Record& r) { return r.kernel; })
      .def_property_readonly("config", [](const Record& r) { return r.data.config; },
                             "The measured TileConfig (None only for an undecodable INVALID "
                             "record).")
      .def_property_readonly("is_default", [](const Record& r) { return r.data.is_default; })
      .def_property_readonly(
          "config_feat",
          [](py::object self) -> py::object {
            const Record& r = self.cast<const Record&>();
            if (r.data.config_feat.empty()) return py::none();
            return ReadOnlyView(r.data.config_feat, {tiling::kNumConfigFeatures}, self);
          },
          "[NUM_CONFIG_FEATURES] float32 features of the config for the kernel (None without a "
          "config).")
      .def_property_readonly("status", [](const Record& r) { return r.data.status; },
                             "'ok', 'invalid' or 'timeout'.")
      .def_property_readonly("error_message", [](const Record& r) { return r.data.error_message; })
      .def_property_readonly(
          "runtime_ns",
          [](py::object self) {
            const Record& r = self.cast<const Record&>();
            return ReadOnlyView(r.data.runtime_ns,
                                {static_cast<py::ssize_t>(r.data.runtime_ns.size())}, self);
          },
          "float64 array of the raw samples, ns.")
      .def_property_readonly(
          "label_ns", [](const Record& r) { return r.data.label_ns; },
          "The training label of an OK record (data::RecordLabelNs), ns; None otherwise.")
      .def_property_readonly("protocol_version",
                             [](const Record& r) { return r.data.protocol_version; })
      .def("__repr__", [](const Record& r) {
        return absl::StrCat("<perfgraph.Record ", r.data.index, " ", r.data.program, " ",
                            r.data.task, " '", r.data.kernel->kernel.name, "' ", r.data.status,
                            r.data.config.has_value() ? " " + r.data.config->ToString() : "",
                            ">");
      });

  py::class_<DatasetReader>(m, "DatasetReader", "An iterator over the records of a .pgd file.")
      .def("__iter__", [](py::object self) { return self; })
      .def("__next__",
           [](DatasetReader& self) {
             std::optional<RecordData> data = self.Next();
             if (!data.has_value()) throw py::stop_iteration();
             auto record = std::make_unique<Record>();
             record->kernel = std::make_shared<Kernel>(Kernel{data->kernel, nullptr});
             record->data = *std::move(data);
             return record;
           })
      .def_property_readonly("path", &DatasetReader::path)
      .def_property_readonly(
          "header",
          [](const DatasetReader& self) {
            const data::RecordFileHeader& h = self.stream().header();
            py::dict header;
            header["format_version"] = h.format_version;
            header["feature_schema_version"] = h.feature_schema_version;
            header["writer"] = h.writer;
            header["created_unix_seconds"] = h.created_unix_seconds;
            header["protocol_version"] = h.protocol_version;
            if (h.machine.has_value()) {
              const data::MachineFingerprint& f = *h.machine;
              py::dict machine;
              machine["cpu_model"] = f.cpu_model;
              machine["physical_cores"] = f.physical_cores;
              machine["logical_cores"] = f.logical_cores;
              machine["l1d_cache_bytes"] = f.l1d_cache_bytes;
              machine["l2_cache_bytes"] = f.l2_cache_bytes;
              machine["l3_cache_bytes"] = f.l3_cache_bytes;
              machine["num_threads"] = f.num_threads;
              machine["halide_version"] = f.halide_version;
              machine["compiler_version"] = f.compiler_version;
              machine["os"] = f.os;
              machine["isa"] = f.isa;
              header["machine"] = std::move(machine);
            } else {
              header["machine"] = py::none();
            }
            return header;
          },
          "The file header (data/record_file.h): versions, writer, machine fingerprint or None.")
      .def_property_readonly("records_read",
                             [](const DatasetReader& self) {
                               return self.stream().reader().records_read();
                             })
      .def_property_readonly(
          "dropped_tail_bytes",
          [](const DatasetReader& self) { return self.stream().reader().dropped_tail_bytes(); },
          "Bytes of a torn last record left by a killed writer (valid at the end).");

  m.def(
      "read_dataset",
      [](const std::filesystem::path& path) {
        const std::string file = path.string();
        std::optional<DatasetStream> stream;
        {
          py::gil_scoped_release release;
          stream.emplace(ValueOrThrow(DatasetStream::Open(file)));
        }
        return std::make_unique<DatasetReader>(file, *std::move(stream));
      },
      py::arg("path"),
      "Opens a dataset (.pgd) and returns an iterator of Records, each decoded and featurized as "
      "it is read.");
}

}  // namespace perfgraph::python

// At global scope: PyInit_perfgraph must have external linkage.
PYBIND11_MODULE(perfgraph, m) { perfgraph::python::DefineModule(m); }
