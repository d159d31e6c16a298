#include "python/objects.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "data/config_proto.h"
#include "data/kernel_proto.h"
#include "data/label.h"
#include "data/perfgraph.pb.h"
#include "graph/kernel_hash.h"
#include "graph/status_macros.h"
#include "pipeline/plan.h"

namespace perfgraph::python {

absl::StatusOr<std::shared_ptr<const KernelData>> MakeKernelData(graph::Kernel kernel,
                                                                 pipeline::KernelRuns runs) {
  RETURN_IF_ERROR(kernel.Validate());
  auto data = std::make_shared<KernelData>();
  data->tensors = graph::Featurize(kernel);
  data->cost = graph::KernelCost(kernel);
  data->hash = graph::CanonicalKernelHash(kernel);
  data->runs = std::move(runs);
  data->kernel = std::move(kernel);
  return std::shared_ptr<const KernelData>(std::move(data));
}

absl::StatusOr<ConfigSpaceData> MakeConfigSpace(const graph::Kernel& kernel) {
  ConfigSpaceData space;
  ASSIGN_OR_RETURN(space.configs, tiling::ConfigSpace(kernel));
  space.config_feat.resize(space.configs.size() * tiling::kNumConfigFeatures);
  for (size_t i = 0; i < space.configs.size(); ++i) {
    tiling::ConfigFeatures(kernel, space.configs[i],
                           space.config_feat.data() + i * tiling::kNumConfigFeatures);
  }
  const tiling::TileConfig default_config = tiling::Default(kernel);
  auto it = std::find(space.configs.begin(), space.configs.end(), default_config);
  if (it != space.configs.end()) space.default_index = static_cast<int>(it - space.configs.begin());
  return space;
}

absl::StatusOr<std::vector<float>> ConfigFeatureRows(const graph::Kernel& kernel,
                                                     absl::Span<const tiling::TileConfig> configs) {
  std::vector<float> rows(configs.size() * tiling::kNumConfigFeatures);
  for (size_t i = 0; i < configs.size(); ++i) {
    if (absl::Status valid = tiling::Validate(kernel, configs[i]); !valid.ok()) {
      return absl::Status(valid.code(), absl::StrCat("config ", i, ": ", valid.message()));
    }
    tiling::ConfigFeatures(kernel, configs[i], rows.data() + i * tiling::kNumConfigFeatures);
  }
  return rows;
}

absl::StatusOr<ProgramData> LoadProgram(const std::string& path,
                                        const graph::ImportOptions& options) {
  ASSIGN_OR_RETURN(graph::ImportedModel imported, graph::ImportModelFile(path, options));
  ASSIGN_OR_RETURN(pipeline::FusedModel fused,
                   pipeline::FuseModel(path, imported, pipeline::FusionMode::kDefault,
                                       /*cost_model=*/nullptr));
  ProgramData program;
  program.path = path;
  program.name = imported.program.name;
  program.fusion = fused.fusion;
  program.num_instructions = imported.program.size();
  for (const auto& [name, body] : imported.called_programs) {
    program.called_computations.push_back(name);
  }
  program.unsupported_ops = imported.unsupported_ops;
  for (graph::Kernel& kernel : fused.kernels) {
    pipeline::KernelRuns runs = pipeline::KernelRunsOf(imported, kernel.name);
    const std::string name = kernel.name;
    absl::StatusOr<std::shared_ptr<const KernelData>> data =
        MakeKernelData(std::move(kernel), std::move(runs));
    if (!data.ok()) {
      return absl::Status(data.status().code(), absl::StrCat(path, ": kernel '", name,
                                                             "': ", data.status().message()));
    }
    program.kernels.push_back(*std::move(data));
  }
  return program;
}

namespace {

std::string StatusName(data::Record::MeasureStatus status) {
  switch (status) {
    case data::Record::MEASURE_STATUS_OK: return "ok";
    case data::Record::MEASURE_STATUS_INVALID: return "invalid";
    case data::Record::MEASURE_STATUS_TIMEOUT: return "timeout";
    default: return "";
  }
}

}  // namespace

absl::StatusOr<DatasetStream> DatasetStream::Open(const std::string& path) {
  ASSIGN_OR_RETURN(data::RecordReader reader, data::RecordReader::Open(path));
  return DatasetStream(std::move(reader));
}

absl::StatusOr<std::optional<RecordData>> DatasetStream::Next() {
  data::Record record;
  const int64_t index = reader_.records_read();
  ASSIGN_OR_RETURN(bool more, reader_.Next(&record));
  if (!more) return std::optional<RecordData>();
  const std::string context = absl::StrCat(reader_.path(), ": record ", index);
  RecordData out;
  out.index = index;
  out.program = record.program();
  out.status = StatusName(record.status());
  if (out.status.empty()) {
    return absl::DataLossError(absl::StrCat(context, ": measure status is unspecified"));
  }
  if (record.task() == data::Record::TASK_TILE) {
    out.task = "tile";
  } else if (record.task() == data::Record::TASK_FUSION) {
    out.task = "fusion";
  } else {
    return absl::DataLossError(absl::StrCat(context, ": task is unspecified"));
  }
  out.fusion_variant = record.fusion_variant();
  out.error_message = record.error_message();
  out.runtime_ns.assign(record.runtime_ns().begin(), record.runtime_ns().end());
  out.protocol_version = record.protocol_version();
  ASSIGN_OR_RETURN(graph::Kernel kernel, data::DecodeRecordKernel(record, context));
  absl::StatusOr<tiling::TileConfig> config = data::DecodeRecordConfig(record, kernel, context);
  if (config.ok()) {
    out.config = *config;
    out.is_default = *config == tiling::Default(kernel);
    out.config_feat.resize(tiling::kNumConfigFeatures);
    tiling::ConfigFeatures(kernel, *config, out.config_feat.data());
  } else if (record.status() != data::Record::MEASURE_STATUS_INVALID) {
    // Training drops INVALID records unread; any other record must hold a usable config.
    return config.status();
  }
  if (record.status() == data::Record::MEASURE_STATUS_OK) {
    ASSIGN_OR_RETURN(out.label_ns, data::RecordLabelNs(record, context));
  }
  const std::string name = kernel.name;
  absl::StatusOr<std::shared_ptr<const KernelData>> kernel_data = MakeKernelData(std::move(kernel));
  if (!kernel_data.ok()) {
    return absl::Status(kernel_data.status().code(),
                        absl::StrCat(context, ": kernel '", name, "': ",
                                     kernel_data.status().message()));
  }
  out.kernel = *std::move(kernel_data);
  return std::optional<RecordData>(std::move(out));
}

}  // namespace perfgraph::python
