#include "tools/dataset_import.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "data/config_proto.h"
#include "data/kernel_proto.h"
#include "graph/kernel_hash.h"
#include "data/machine.h"
#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "graph/atomic_file.h"
#include "graph/featurize.h"
#include "graph/hlo_parser.h"
#include "graph/status_macros.h"
#include "tiling/tile_config.h"

namespace perfgraph::tools {
namespace {

// Splits one CSV line into fields; false when a quoted field is not closed.
bool SplitCsvLine(const std::string& line, std::vector<std::string>* fields) {
  fields->clear();
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields->push_back(std::string(absl::StripAsciiWhitespace(field)));
      field.clear();
    } else if (c != '\r') {
      field += c;
    }
  }
  fields->push_back(std::string(absl::StripAsciiWhitespace(field)));
  return !quoted;
}

// The entry computation as one kernel: parameters first (in parameter-number order), then every
// other instruction in topological order; root = the program's first output.
absl::StatusOr<graph::Kernel> WholeModuleKernel(const graph::Program& program) {
  if (program.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("module '", program.name, "' has no ROOT"));
  }
  graph::Kernel kernel;
  kernel.name = program.name;
  std::vector<int> order;
  for (const graph::Instruction& inst : program.instructions) {
    if (inst.opcode == graph::HloOpcode::kParameter) order.push_back(inst.id);
  }
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return program.at(a).attrs.parameter_number < program.at(b).attrs.parameter_number;
  });
  for (const graph::Instruction& inst : program.instructions) {
    if (inst.opcode != graph::HloOpcode::kParameter) order.push_back(inst.id);
  }
  std::vector<int> local(program.size(), -1);
  bool heavy_output = false, reduce = false;
  for (int id : order) {
    graph::Instruction inst = program.at(id);
    for (int& operand : inst.operands) operand = local[operand];
    inst.id = kernel.size();
    local[id] = inst.id;
    heavy_output |= inst.opcode == graph::HloOpcode::kConvolution || inst.opcode == graph::HloOpcode::kDot;
    reduce |= inst.opcode == graph::HloOpcode::kReduce;
    kernel.instructions.push_back(std::move(inst));
    kernel.origin.push_back(id);
  }
  kernel.root = local[program.outputs[0]];
  kernel.kind = heavy_output ? graph::FusionKind::kOutput
                : reduce     ? graph::FusionKind::kInput
                             : graph::FusionKind::kLoop;
  RETURN_IF_ERROR(kernel.Validate());
  return kernel;
}

// Reads one line (without its '\n') of at most kMaxCsvLineBytes bytes. false at end of input, or
// with *too_long set when the line is longer (then nothing more is read: bounded memory and time).
bool ReadCsvLine(std::istream& in, std::string* line, bool* too_long) {
  line->clear();
  *too_long = false;
  std::streambuf* buffer = in.rdbuf();
  bool any = false;
  while (true) {
    const int c = buffer->sbumpc();
    if (c == std::char_traits<char>::eof()) return any;
    any = true;
    if (c == '\n') return true;
    if (line->size() >= static_cast<size_t>(kMaxCsvLineBytes)) {
      *too_long = true;
      return false;
    }
    line->push_back(static_cast<char>(c));
  }
}

// The module file of a CSV row, which must lie inside the --hlo root (as archive tools refuse
// entries that climb out of their destination): no absolute path, no '..' component, and after
// resolving symlinks still under the root. `root` is the canonical root. The error (without the
// row prefix) names the value and the root.
absl::StatusOr<std::filesystem::path> ModuleInsideRoot(const std::filesystem::path& root,
                                                       const std::string& module) {
  namespace fs = std::filesystem;
  auto escapes = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("module '", module,
                                                   "' is outside the --hlo root '",
                                                   root.string(), "': ", why));
  };
  if (module.empty()) return absl::InvalidArgumentError("module is empty");
  const fs::path relative(module);
  if (relative.is_absolute() || relative.has_root_name() || relative.has_root_directory()) {
    return escapes("an absolute path (module paths are relative to --hlo)");
  }
  for (const fs::path& part : relative) {
    if (part == "..") return escapes("it has a '..' component");
  }
  std::error_code error;
  const fs::path resolved = fs::weakly_canonical(root / relative, error);
  if (error) {
    return absl::NotFoundError(
        absl::StrCat("module '", module, "': cannot resolve it: ", error.message()));
  }
  // Component-wise prefix test (so "/data/hlo2" is not inside "/data/hlo").
  auto r = root.begin();
  auto p = resolved.begin();
  for (; r != root.end() && !r->empty(); ++r, ++p) {
    if (p == resolved.end() || *p != *r) {
      return escapes(absl::StrCat("it resolves (through a symlink) to '", resolved.string(), "'"));
    }
  }
  return resolved;
}

struct Measurement {
  std::string module;
  std::string kernel;
  std::string config_text;  // "default" or TileConfig::ToString()
  tiling::TileConfig config;
  std::vector<double> samples;
};

}  // namespace

absl::StatusOr<DatasetImportSummary> ImportRuntimes(const DatasetImportOptions& options) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (options.out.empty()) return absl::InvalidArgumentError("--out DATASET is required");
  if (fs::exists(options.out, error)) {
    return absl::AlreadyExistsError(absl::StrCat(
        options.out, ": already exists; an import writes a new dataset (rerunning would duplicate "
                     "samples)"));
  }
  if (!fs::is_directory(options.hlo_dir, error)) {
    return absl::NotFoundError(absl::StrCat("--hlo ", options.hlo_dir, ": not a directory"));
  }
  const fs::path root = fs::canonical(options.hlo_dir, error);
  if (error) {
    return absl::NotFoundError(
        absl::StrCat("--hlo ", options.hlo_dir, ": cannot resolve: ", error.message()));
  }
  std::ifstream csv(options.runtimes_csv);
  if (!csv) return absl::NotFoundError(absl::StrCat(options.runtimes_csv, ": cannot open"));

  std::map<std::string, absl::StatusOr<graph::ImportedModel>> modules;
  std::map<std::pair<std::string, std::string>, graph::Kernel> kernels;
  std::map<std::tuple<std::string, std::string, std::string>, Measurement> measurements;
  std::vector<std::string> bad_rows;
  DatasetImportSummary summary;
  std::string line;
  std::vector<std::string> fields;
  bool header_seen = false;
  int line_number = 0;
  auto bad = [&](const std::string& why) {
    bad_rows.push_back(absl::StrCat(options.runtimes_csv, ":", line_number, ": ", why));
  };
  bool too_long = false;
  while (ReadCsvLine(csv, &line, &too_long)) {
    ++line_number;
    const absl::string_view stripped = absl::StripAsciiWhitespace(line);
    if (stripped.empty() || stripped[0] == '#') continue;
    if (!SplitCsvLine(line, &fields)) {
      bad("unterminated quoted field");
      continue;
    }
    if (!header_seen) {
      header_seen = true;
      if (absl::StrJoin(fields, ",") != "module,kernel,config,runtime_ns") {
        bad(absl::StrCat("header must be 'module,kernel,config,runtime_ns', got '", line, "'"));
        break;
      }
      continue;
    }
    ++summary.rows;
    if (fields.size() != 4) {
      bad(absl::StrCat("expected 4 fields, got ", fields.size()));
      continue;
    }
    const std::string& module = fields[0];
    const std::string& kernel_name = fields[1];
    double runtime_ns = 0;
    if (!absl::SimpleAtod(fields[3], &runtime_ns) || !std::isfinite(runtime_ns) || runtime_ns <= 0) {
      bad(absl::StrCat("runtime_ns '", fields[3], "' is not a finite number > 0"));
      continue;
    }
    auto module_it = modules.find(module);
    if (module_it == modules.end()) {
      absl::StatusOr<fs::path> file = ModuleInsideRoot(root, module);
      if (!file.ok()) {
        bad(std::string(file.status().message()));
        continue;
      }
      module_it = modules.emplace(module, graph::ParseHloFile(file->string(), {})).first;
    }
    if (!module_it->second.ok()) {
      bad(absl::StrCat("module '", module, "': ", module_it->second.status().message()));
      continue;
    }
    const graph::ImportedModel& model = *module_it->second;
    auto kernel_it = kernels.find({module, kernel_name});
    if (kernel_it == kernels.end()) {
      absl::StatusOr<graph::Kernel> kernel = absl::NotFoundError("");
      if (kernel_name == "module") {
        kernel = WholeModuleKernel(model.program);
      } else {
        for (const graph::Kernel& k : model.prefused_kernels) {
          if (k.name == kernel_name) kernel = k;
        }
        if (!kernel.ok()) {
          std::vector<std::string> names;
          for (const graph::Kernel& k : model.prefused_kernels) names.push_back(k.name);
          kernel = absl::NotFoundError(absl::StrCat(
              "no kernel '", kernel_name, "' in module '", module, "' (kernels: ",
              names.empty() ? "none, use 'module'" : absl::StrJoin(names, " "), ")"));
        }
      }
      if (!kernel.ok()) {
        bad(std::string(kernel.status().message()));
        continue;
      }
      kernel_it = kernels.emplace(std::make_pair(module, kernel_name), *std::move(kernel)).first;
    }
    const graph::Kernel& kernel = kernel_it->second;
    tiling::TileConfig config;
    if (fields[2] == "default") {
      config = tiling::Default(kernel);
    } else {
      auto parsed = tiling::TileConfig::Parse(fields[2]);
      if (!parsed.ok()) {
        bad(std::string(parsed.status().message()));
        continue;
      }
      absl::Status valid = tiling::Validate(kernel, *parsed);
      if (!valid.ok()) {
        bad(std::string(valid.message()));
        continue;
      }
      config = *parsed;
    }
    Measurement& m = measurements[{module, kernel_name, config.ToString()}];
    m.module = module;
    m.kernel = kernel_name;
    m.config = config;
    m.config_text = config.ToString();
    m.samples.push_back(runtime_ns);
  }
  if (too_long) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.runtimes_csv, ":", line_number + 1, ": line longer than ", kMaxCsvLineBytes,
        " bytes (tools::kMaxCsvLineBytes; a row is a path, a kernel name, a config and a number); "
        "nothing written"));
  }
  if (!header_seen) {
    bad_rows.push_back(absl::StrCat(options.runtimes_csv, ": no header line"));
  }
  if (!bad_rows.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(bad_rows.size(), " bad row(s), nothing written:\n",
                                                   absl::StrJoin(bad_rows, "\n")));
  }
  if (measurements.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(options.runtimes_csv, ": no data rows"));
  }

  std::map<std::pair<std::string, std::string>, int> configs_per_kernel;
  for (const auto& [key, m] : measurements) ++configs_per_kernel[{m.module, m.kernel}];

  data::RecordWriterOptions writer_options;
  data::MachineFingerprint machine;
  machine.cpu_model = options.machine;
  writer_options.machine = machine;
  writer_options.writer = "perfgraph dataset import";
  // Written under a temporary name and published when complete: a failed write (full disk, file
  // size limit) leaves no truncated dataset behind.
  ASSIGN_OR_RETURN(graph::NewFile out, graph::NewFile::Begin(options.out, "dataset import"));
  ASSIGN_OR_RETURN(data::RecordWriter writer,
                   data::RecordWriter::Open(out.temp_path(), writer_options));
  for (const auto& [key, m] : measurements) {
    const graph::Kernel& kernel = kernels.at({m.module, m.kernel});
    data::Record record;
    record.set_program(modules.at(m.module)->program.name);
    data::KernelToProto(kernel, record.mutable_kernel());
    data::ConfigToProto(m.config, m.config == tiling::Default(kernel), record.mutable_config());
    for (double s : m.samples) record.add_runtime_ns(s);
    record.set_status(data::Record::MEASURE_STATUS_OK);
    record.set_feature_schema_version(graph::kFeatureSchemaVersion);
    record.set_kernel_hash(graph::CanonicalKernelHash(kernel));
    record.set_task(configs_per_kernel.at({m.module, m.kernel}) > 1 ? data::Record::TASK_TILE
                                                                     : data::Record::TASK_FUSION);
    record.set_measured_unix_seconds(absl::ToUnixSeconds(absl::Now()));
    RETURN_IF_ERROR(writer.Append(record));
    ++summary.records;
  }
  RETURN_IF_ERROR(writer.Close());
  RETURN_IF_ERROR(out.Commit());
  summary.kernels = static_cast<int64_t>(kernels.size());
  return summary;
}

}  // namespace perfgraph::tools
