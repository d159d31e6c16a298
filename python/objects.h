// The C++ side of the perfgraph Python module: programs, kernels, config spaces and dataset records
// as plain data, built from the pipeline library without touching Python (so the module can build
// them with the GIL released). python/module.cc binds them.
#ifndef PERFGRAPH_PYTHON_OBJECTS_H_
#define PERFGRAPH_PYTHON_OBJECTS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "data/record_file.h"
#include "graph/analysis.h"
#include "graph/featurize.h"
#include "graph/import.h"
#include "graph/ir.h"
#include "pipeline/program_total.h"
#include "tiling/tile_config.h"

namespace perfgraph::python {

// One fused kernel with everything derived from it once, when it is created.
struct KernelData {
  graph::Kernel kernel;
  graph::KernelTensors tensors;  // graph::Featurize(kernel): the shapes of graph/featurize.h
  graph::OpCost cost;            // graph::KernelCost(kernel): FLOP, bytes
  uint64_t hash = 0;             // graph::CanonicalKernelHash(kernel)
  pipeline::KernelRuns runs;     // executions per program run (1 outside control flow)
};

// Validates `kernel` (graph::Kernel::Validate; its kInvalidArgument otherwise) and derives the rest.
absl::StatusOr<std::shared_ptr<const KernelData>> MakeKernelData(graph::Kernel kernel,
                                                                 pipeline::KernelRuns runs = {});

// A kernel's tiling::ConfigSpace with its features.
struct ConfigSpaceData {
  std::vector<tiling::TileConfig> configs;  // ConfigSpace order
  std::vector<float> config_feat;           // [configs, tiling::kNumConfigFeatures] row-major
  int default_index = -1;                   // index of tiling::Default(kernel) in `configs`
};
// Errors: tiling::ConfigSpace's (kInvalidArgument).
absl::StatusOr<ConfigSpaceData> MakeConfigSpace(const graph::Kernel& kernel);

// tiling::ConfigFeatures of each config, [configs.size(), tiling::kNumConfigFeatures] row-major,
// after tiling::Validate of every config (its kInvalidArgument, prefixed with the config's index).
absl::StatusOr<std::vector<float>> ConfigFeatureRows(const graph::Kernel& kernel,
                                                     absl::Span<const tiling::TileConfig> configs);

// An imported model fused with fusion::DefaultFusion (pipeline::FuseModel, FusionMode::kDefault:
// the kernels `perfgraph inspect` and `measure` see; an optimised HLO file keeps its own fusions).
struct ProgramData {
  std::string path;
  std::string name;     // graph::Program::name of the entry program
  std::string fusion;   // "default", or "file" for an HLO module's own fusions
  int num_instructions = 0;                       // of the entry program
  std::vector<std::string> called_computations;   // graph::ImportedModel::called_programs keys
  std::vector<graph::UnsupportedOp> unsupported_ops;
  std::vector<std::shared_ptr<const KernelData>> kernels;
};
// Errors: graph::ImportModelFile's (kNotFound, kInvalidArgument, kUnimplemented; messages start with
// the path), pipeline::FuseModel's.
absl::StatusOr<ProgramData> LoadProgram(const std::string& path,
                                        const graph::ImportOptions& options);

// One dataset record with the features computed at load, as gnn::LoadExamples computes them for
// training: the kernel decoded and checked against its hash (data::DecodeRecordKernel), the config
// rebuilt from its raw fields and validated (data::DecodeRecordConfig), tiling::ConfigFeatures of
// it, and the label (data::RecordLabelNs, the default statistic) of an OK record.
struct RecordData {
  int64_t index = 0;  // position in the file, from 0
  std::string program;
  std::string task;   // "tile" or "fusion"
  int fusion_variant = 0;
  std::shared_ptr<const KernelData> kernel;
  // Unset only for an INVALID record whose config does not decode (train drops those unread).
  std::optional<tiling::TileConfig> config;
  bool is_default = false;          // the record's config is tiling::Default (TileConfigProto)
  std::vector<float> config_feat;   // [tiling::kNumConfigFeatures]; empty without a config
  std::string status;               // "ok", "invalid", "timeout"
  std::string error_message;        // why INVALID / TIMEOUT
  std::vector<double> runtime_ns;   // the raw samples, ns
  std::optional<double> label_ns;   // OK records only
  int protocol_version = 0;
};

// Streams the records of one `.pgd` file (data::RecordReader).
class DatasetStream {
 public:
  // Errors: data::RecordReader::Open's (the errno status, e.g. kNotFound; kInvalidArgument "not a
  // perfgraph dataset"; kDataLoss for a corrupt header).
  static absl::StatusOr<DatasetStream> Open(const std::string& path);

  // The next record, or nullopt at the end (or at a torn tail, see data/record_file.h). Errors,
  // naming the file and the record index: data::RecordReader::Next's (kDataLoss), decoding
  // (kInvalidArgument, kDataLoss for a hash mismatch), kDataLoss for an UNSPECIFIED status or task,
  // data::RecordLabelNs's for an OK record with malformed samples.
  absl::StatusOr<std::optional<RecordData>> Next();

  const data::RecordFileHeader& header() const { return reader_.header(); }
  const data::RecordReader& reader() const { return reader_; }

 private:
  explicit DatasetStream(data::RecordReader reader) : reader_(std::move(reader)) {}
  data::RecordReader reader_;
};

}  // namespace perfgraph::python

#endif  // PERFGRAPH_PYTHON_OBJECTS_H_
