#include "gnn/checkpoint.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gnn/model.h"
#include "graph/atomic_file.h"
#include "graph/featurize.h"
#include "graph/hlo_opcode.h"
#include "graph/status_macros.h"
#include "nlohmann/json.hpp"
#include "tiling/tile_config.h"

namespace perfgraph::gnn {
namespace {

// Bytes before the options JSON: magic + 6 u32 fields in format version 1, + 7 from version 2 on.
size_t FixedHeaderBytes(uint32_t format_version) {
  return kModelFileMagic.size() + (format_version == 1 ? 6 : 7) * 4;
}
// Magic + format version: enough to know the rest of the layout.
constexpr size_t kVersionBytes = 12;
// Largest options JSON accepted (a real one is ~100 bytes); larger lengths come from corruption.
constexpr uint32_t kMaxOptionsJsonBytes = 1 << 16;

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t GetLittleEndian(const std::string& in, size_t offset, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<unsigned char>(in[offset + i])} << (8 * i);
  return v;
}

absl::StatusOr<std::string> ReadWholeFile(absl::string_view path) {
  std::ifstream in(std::string(path), std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read model file '", path, "': ", std::strerror(errno)));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::Status CheckFormatVersion(uint32_t format_version, absl::string_view source) {
  if (format_version >= kMinReadableModelFileFormatVersion &&
      format_version <= kModelFileFormatVersion) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "model '", source, "' was written with model file format version ", format_version,
      " but this build reads versions ", kMinReadableModelFileFormatVersion, " to ",
      kModelFileFormatVersion, "; retrain the model with this build (perfgraph train)"));
}

absl::StatusOr<ModelFileHeader> ParseHeader(const std::string& bytes, absl::string_view path,
                                            size_t* end) {
  if (bytes.size() < kModelFileMagic.size() ||
      absl::string_view(bytes.data(), kModelFileMagic.size()) != kModelFileMagic) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "' is not a perfgraph model file (bad magic)"));
  }
  if (bytes.size() < kVersionBytes) {
    return absl::DataLossError(absl::StrCat("model file '", path, "' has a truncated header"));
  }
  ModelFileHeader header;
  header.format_version = GetLittleEndian(bytes, 8, 4);
  // The layout of another version is unknown: nothing after the version is read.
  RETURN_IF_ERROR(CheckFormatVersion(header.format_version, path));
  const size_t fixed_header_bytes = FixedHeaderBytes(header.format_version);
  if (bytes.size() < fixed_header_bytes) {
    return absl::DataLossError(absl::StrCat("model file '", path, "' has a truncated header"));
  }
  header.feature_schema_version = GetLittleEndian(bytes, 12, 4);
  header.num_node_features = GetLittleEndian(bytes, 16, 4);
  header.num_opcode_ids = GetLittleEndian(bytes, 20, 4);
  header.num_config_features = GetLittleEndian(bytes, 24, 4);
  size_t offset = 28;
  // Version 1 predates the field: its config features were those of config schema 1.
  header.config_feature_schema_version = 1;
  if (header.format_version >= 2) {
    header.config_feature_schema_version = GetLittleEndian(bytes, offset, 4);
    offset += 4;
  }
  const uint32_t json_bytes = GetLittleEndian(bytes, offset, 4);
  if (json_bytes > kMaxOptionsJsonBytes || bytes.size() < fixed_header_bytes + json_bytes) {
    // A file of another schema is refused as such even when its options do not parse here.
    RETURN_IF_ERROR(CheckSchema(header, path));
    return absl::DataLossError(absl::StrCat("model file '", path, "': options length ", json_bytes,
                                            " exceeds the file (", bytes.size(), " bytes)"));
  }
  absl::StatusOr<ModelOptions> options = ModelOptionsFromJson(
      absl::string_view(bytes.data() + fixed_header_bytes, json_bytes), path);
  if (!options.ok()) {
    RETURN_IF_ERROR(CheckSchema(header, path));
    return absl::DataLossError(options.status().message());
  }
  header.options = *options;
  // The options say which schema the fixed fields must match (perfgraph's, or a foreign one).
  RETURN_IF_ERROR(CheckSchema(header, path));
  *end = fixed_header_bytes + json_bytes;
  return header;
}

}  // namespace

absl::Status CheckSchema(const ModelFileHeader& h, absl::string_view source) {
  auto check = [&](absl::string_view what, uint32_t file, uint32_t build) -> absl::Status {
    if (file == build) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "model '", source, "' was written with ", what, " ", file, " but this build uses ", build,
        "; retrain the model with this build (perfgraph train)"));
  };
  RETURN_IF_ERROR(CheckFormatVersion(h.format_version, source));
  if (h.options.foreign_schema()) {
    // Features of a foreign schema come as given: the header must carry the widths of its options
    // and version 0 for the perfgraph featurization versions.
    const std::string what = absl::StrCat("of foreign feature schema '", h.options.feature_schema, "'");
    auto check_foreign = [&](absl::string_view field, uint32_t file, uint32_t expected) {
      if (file == expected) return absl::OkStatus();
      return absl::DataLossError(absl::StrCat("model '", source, "' ", what, ": header field ",
                                              field, " is ", file, ", its options say ", expected));
    };
    RETURN_IF_ERROR(check_foreign("feature schema version", h.feature_schema_version, 0));
    RETURN_IF_ERROR(check_foreign("num_node_features", h.num_node_features,
                                  h.options.num_node_features));
    RETURN_IF_ERROR(check_foreign("num_config_features", h.num_config_features,
                                  h.options.num_config_features));
    RETURN_IF_ERROR(check_foreign("config feature schema version",
                                  h.config_feature_schema_version, 0));
    return check("graph::kNumOpcodeIds", h.num_opcode_ids, graph::kNumOpcodeIds);
  }
  RETURN_IF_ERROR(check("feature schema version (graph::kFeatureSchemaVersion)",
                        h.feature_schema_version, graph::kFeatureSchemaVersion));
  RETURN_IF_ERROR(check("graph::kNumNodeFeatures", h.num_node_features, graph::kNumNodeFeatures));
  RETURN_IF_ERROR(check("graph::kNumOpcodeIds", h.num_opcode_ids, graph::kNumOpcodeIds));
  RETURN_IF_ERROR(
      check("tiling::kNumConfigFeatures", h.num_config_features, tiling::kNumConfigFeatures));
  RETURN_IF_ERROR(check("config feature schema version (tiling::kConfigFeatureSchemaVersion)",
                        h.config_feature_schema_version, tiling::kConfigFeatureSchemaVersion));
  return absl::OkStatus();
}

absl::StatusOr<ModelFileHeader> ReadModelFileHeader(absl::string_view path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(path));
  size_t end = 0;
  return ParseHeader(bytes, path, &end);
}

absl::Status SaveModelFile(absl::string_view path, ModelImpl& model) {
  std::string archive_bytes;
  RETURN_IF_ERROR(CatchTorch(absl::StrCat("SaveModelFile('", path, "')"), [&] {
    torch::serialize::OutputArchive archive;
    model.save(archive);
    std::ostringstream out;
    archive.save_to(out);
    archive_bytes = out.str();
    return absl::OkStatus();
  }));
  const std::string json = ModelOptionsToJson(model.options());
  std::string bytes(kModelFileMagic);
  PutU32(bytes, kModelFileFormatVersion);
  const ModelOptions& o = model.options();
  const bool foreign = o.foreign_schema();
  PutU32(bytes, foreign ? 0 : graph::kFeatureSchemaVersion);
  PutU32(bytes, o.node_width());
  PutU32(bytes, graph::kNumOpcodeIds);
  PutU32(bytes, foreign ? o.num_config_features : tiling::kNumConfigFeatures);
  PutU32(bytes, foreign ? 0 : tiling::kConfigFeatureSchemaVersion);
  PutU32(bytes, static_cast<uint32_t>(json.size()));
  bytes += json;
  PutU64(bytes, archive_bytes.size());
  bytes += archive_bytes;

  return graph::WriteFileAtomically(path, bytes, "SaveModelFile");
}

absl::StatusOr<std::shared_ptr<ModelImpl>> LoadModelFile(absl::string_view path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(path));
  size_t offset = 0;
  ASSIGN_OR_RETURN(ModelFileHeader header, ParseHeader(bytes, path, &offset));
  if (bytes.size() < offset + 8) {
    return absl::DataLossError(absl::StrCat("model file '", path, "' is truncated (no weights)"));
  }
  const uint64_t archive_size = GetLittleEndian(bytes, offset, 8);
  offset += 8;
  if (bytes.size() - offset != archive_size) {
    return absl::DataLossError(absl::StrCat("model file '", path, "' holds ", bytes.size() - offset,
                                            " weight bytes, its header says ", archive_size));
  }
  std::shared_ptr<ModelImpl> model;
  absl::Status status = CatchTorch(absl::StrCat("LoadModelFile('", path, "')"), [&] {
    model = std::make_shared<ModelImpl>(header.options);
    std::istringstream in(bytes.substr(offset));
    torch::serialize::InputArchive archive;
    archive.load_from(in);
    model->load(archive);
    model->eval();
    return absl::OkStatus();
  });
  if (!status.ok()) return absl::DataLossError(status.message());
  return model;
}

}  // namespace perfgraph::gnn
