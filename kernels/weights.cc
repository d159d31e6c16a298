#include "kernels/weights.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "graph/atomic_file.h"
#include "graph/featurize.h"
#include "graph/hlo_opcode.h"
#include "graph/status_macros.h"
#include "tiling/tile_config.h"

namespace perfgraph::kernels {
namespace {

constexpr uint32_t kBuildNumConfigFeatures = tiling::kNumConfigFeatures;

// Magic + the u32 fields from the format version to the tensor count: 11 in version 1, 12 (with the
// reduction) in version 2, 13 (with the config feature schema version) in version 3, 14 (with the
// hybrid threads) in version 4, 15 (with the schema name length; the name's bytes follow) from
// version 5 on.
size_t FixedHeaderBytes(uint32_t format_version) {
  return 8 + (format_version == 1   ? 11
              : format_version == 2 ? 12
              : format_version == 3 ? 13
              : format_version == 4 ? 14
                                    : 15) *
                 4;
}
// Longest feature schema name (a real one is ~15 bytes).
constexpr uint32_t kMaxSchemaNameBytes = 256;

uint32_t Crc32(const char* data, size_t size) {
  uLong value = crc32(0L, Z_NULL, 0);
  while (size > 0) {  // zlib takes uInt lengths: feed large buffers in chunks.
    const uInt chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    value = crc32(value, reinterpret_cast<const Bytef*>(data), chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(value);
}

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void PutF32(std::string& out, float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  PutU32(out, bits);
}

// Bounds-checked little-endian reader over the file bytes.
class Reader {
 public:
  Reader(absl::string_view bytes, absl::string_view source) : bytes_(bytes), source_(source) {}
  size_t remaining() const { return bytes_.size() - offset_; }
  size_t offset() const { return offset_; }
  absl::StatusOr<uint32_t> U32(absl::string_view what) {
    if (remaining() < 4) return Truncated(what);
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      v |= uint32_t{static_cast<unsigned char>(bytes_[offset_ + i])} << (8 * i);
    }
    offset_ += 4;
    return v;
  }
  absl::StatusOr<absl::string_view> Bytes(size_t n, absl::string_view what) {
    if (remaining() < n) return Truncated(what);
    absl::string_view out = bytes_.substr(offset_, n);
    offset_ += n;
    return out;
  }
  absl::Status Truncated(absl::string_view what) const {
    return absl::DataLossError(absl::StrCat("weights file '", source_, "' is truncated at byte ",
                                            offset_, " while reading ", what));
  }

 private:
  absl::string_view bytes_;
  absl::string_view source_;
  size_t offset_ = 0;
};

absl::Status CheckField(absl::string_view source, absl::string_view what, uint32_t file,
                        uint32_t build) {
  if (file == build) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "weights file '", source, "' was written with ", what, " ", file, " but this build uses ",
      build, "; retrain and re-export the model with this build (gnn::Export)"));
}

}  // namespace

int Architecture::node_width() const {
  return foreign_schema() ? foreign_node_features : graph::kNumNodeFeatures;
}

int Architecture::config_width() const {
  if (foreign_schema()) return foreign_config_features;
  return tiling::kNumConfigFeatures + (hybrid_threads > 0 ? kNumHybridConfigFeatures : 0);
}

int64_t NamedTensor::num_elements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

WeightsFile::WeightsFile()
    : format_version(kWeightsFormatVersion),
      feature_schema_version(graph::kFeatureSchemaVersion),
      num_node_features(graph::kNumNodeFeatures),
      num_opcode_ids(graph::kNumOpcodeIds),
      num_config_features(kBuildNumConfigFeatures),
      config_feature_schema_version(kConfigFeatureSchemaVersion) {}

const NamedTensor* WeightsFile::Find(absl::string_view name) const {
  for (const NamedTensor& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

absl::StatusOr<std::string> SerializeWeights(const WeightsFile& w) {
  const bool has_reduction = w.format_version != 1;
  const bool has_config_schema = w.format_version != 1 && w.format_version != 2;
  const bool has_hybrid = has_config_schema && w.format_version != 3;
  if (!has_reduction && w.architecture.reduction != WeightsReduction::kLstm) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SerializeWeights: format version 1 cannot hold reduction ",
        static_cast<uint32_t>(w.architecture.reduction), " (only lstm); use version ",
        kWeightsFormatVersion));
  }
  if (!has_config_schema && w.config_feature_schema_version != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SerializeWeights: format version ", w.format_version,
        " cannot hold config feature schema version ", w.config_feature_schema_version,
        " (only 1); use version ", kWeightsFormatVersion));
  }
  if (!has_hybrid && w.architecture.hybrid_threads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SerializeWeights: format version ", w.format_version, " cannot hold hybrid_threads ",
        w.architecture.hybrid_threads, " (only 0); use version ", kWeightsFormatVersion));
  }
  if (w.architecture.hybrid_threads < 0 || w.architecture.hybrid_threads > kMaxHybridThreads) {
    return absl::InvalidArgumentError(absl::StrCat("SerializeWeights: hybrid_threads ",
                                                   w.architecture.hybrid_threads, " is not in [0, ",
                                                   kMaxHybridThreads, "]"));
  }
  const bool has_schema = has_hybrid && w.format_version != 4;
  const Architecture& a = w.architecture;
  if (a.foreign_schema()) {
    if (!has_schema) {
      return absl::InvalidArgumentError(absl::StrCat(
          "SerializeWeights: format version ", w.format_version, " cannot hold feature schema '",
          a.feature_schema, "'; use version ", kWeightsFormatVersion));
    }
    if (a.feature_schema.size() > kMaxSchemaNameBytes ||
        w.num_node_features != static_cast<uint32_t>(a.foreign_node_features) ||
        w.num_config_features != static_cast<uint32_t>(a.foreign_config_features) ||
        a.foreign_node_features < 1 || a.foreign_config_features < 1 ||
        w.feature_schema_version != 0 || w.config_feature_schema_version != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "SerializeWeights: feature schema '", a.feature_schema, "' of ", a.foreign_node_features,
          " node and ", a.foreign_config_features, " config features disagrees with the header (",
          w.num_node_features, ", ", w.num_config_features, ", versions ",
          w.feature_schema_version, " and ", w.config_feature_schema_version, " must be 0)"));
    }
  }
  std::string out(kWeightsMagic);
  PutU32(out, w.format_version);
  PutU32(out, w.feature_schema_version);
  PutU32(out, w.num_node_features);
  PutU32(out, w.num_opcode_ids);
  PutU32(out, w.num_config_features);
  if (has_config_schema) PutU32(out, w.config_feature_schema_version);
  PutU32(out, static_cast<uint32_t>(w.architecture.join));
  PutU32(out, static_cast<uint32_t>(w.architecture.hidden));
  PutU32(out, static_cast<uint32_t>(w.architecture.opcode_embedding));
  PutU32(out, static_cast<uint32_t>(w.architecture.sage_layers));
  PutU32(out, static_cast<uint32_t>(w.architecture.head_hidden));
  if (has_reduction) PutU32(out, static_cast<uint32_t>(w.architecture.reduction));
  if (has_hybrid) PutU32(out, static_cast<uint32_t>(w.architecture.hybrid_threads));
  if (has_schema) {
    PutU32(out, static_cast<uint32_t>(a.feature_schema.size()));
    out += a.feature_schema;
  }
  PutU32(out, static_cast<uint32_t>(w.tensors.size()));
  std::set<std::string> names;
  for (const NamedTensor& t : w.tensors) {
    if (t.name.empty() || t.name.size() > static_cast<size_t>(kMaxTensorNameBytes)) {
      return absl::InvalidArgumentError(absl::StrCat("SerializeWeights: tensor name '", t.name,
                                                     "' must have 1..", kMaxTensorNameBytes,
                                                     " bytes"));
    }
    if (!names.insert(t.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("SerializeWeights: duplicate tensor name '", t.name, "'"));
    }
    if (t.dims.size() > static_cast<size_t>(kMaxTensorRank)) {
      return absl::InvalidArgumentError(absl::StrCat("SerializeWeights: tensor '", t.name,
                                                     "' has rank ", t.dims.size(), " > ",
                                                     kMaxTensorRank));
    }
    for (int64_t d : t.dims) {
      if (d < 0 || d > 0xffffffffLL) {
        return absl::InvalidArgumentError(
            absl::StrCat("SerializeWeights: tensor '", t.name, "' has dim ", d));
      }
    }
    if (t.num_elements() != static_cast<int64_t>(t.values.size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "SerializeWeights: tensor '", t.name, "' has ", t.values.size(),
          " values but its dims hold ", t.num_elements()));
    }
    PutU32(out, static_cast<uint32_t>(t.name.size()));
    out += t.name;
    PutU32(out, static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) PutU32(out, static_cast<uint32_t>(d));
    for (float v : t.values) PutF32(out, v);
  }
  PutU32(out, Crc32(out.data(), out.size()));
  return out;
}

absl::StatusOr<WeightsFile> ParseWeights(absl::string_view bytes, absl::string_view source) {
  if (bytes.size() < kWeightsMagic.size() || bytes.substr(0, kWeightsMagic.size()) != kWeightsMagic) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", source, "' is not a perfgraph weights file (bad magic; expected \"", kWeightsMagic,
        "\")"));
  }
  Reader header(bytes.substr(kWeightsMagic.size()), source);
  WeightsFile w;
  ASSIGN_OR_RETURN(w.format_version, header.U32("the format version"));
  if (w.format_version < kMinReadableWeightsFormatVersion ||
      w.format_version > kWeightsFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "weights file '", source, "' was written with weights format version ", w.format_version,
        " but this build reads versions ", kMinReadableWeightsFormatVersion, " to ",
        kWeightsFormatVersion, " (kernels::kWeightsFormatVersion); re-export the model with this "
        "build (gnn::Export)"));
  }
  const size_t fixed_header_bytes = FixedHeaderBytes(w.format_version);
  if (bytes.size() < fixed_header_bytes + 4) {
    return absl::DataLossError(absl::StrCat("weights file '", source, "' is truncated: ",
                                            bytes.size(), " bytes, the header alone needs ",
                                            fixed_header_bytes + 4));
  }
  // Checksum before anything else is interpreted: corruption anywhere is kDataLoss.
  const size_t body = bytes.size() - 4;
  Reader crc_reader(bytes.substr(body), source);
  ASSIGN_OR_RETURN(uint32_t stored_crc, crc_reader.U32("the checksum"));
  const uint32_t crc = Crc32(bytes.data(), body);
  if (crc != stored_crc) {
    return absl::DataLossError(absl::StrCat("weights file '", source,
                                            "' is corrupt or truncated: CRC-32 ", crc,
                                            " of its ", body, " bytes differs from the stored ",
                                            stored_crc));
  }
  ASSIGN_OR_RETURN(w.feature_schema_version, header.U32("the feature schema version"));
  ASSIGN_OR_RETURN(w.num_node_features, header.U32("kNumNodeFeatures"));
  ASSIGN_OR_RETURN(w.num_opcode_ids, header.U32("kNumOpcodeIds"));
  ASSIGN_OR_RETURN(w.num_config_features, header.U32("kNumConfigFeatures"));
  // Versions 1 and 2 predate the field: their models were trained on config schema 1.
  w.config_feature_schema_version = 1;
  if (w.format_version >= 3) {
    ASSIGN_OR_RETURN(w.config_feature_schema_version,
                     header.U32("the config feature schema version"));
  }
  ASSIGN_OR_RETURN(uint32_t join, header.U32("the join"));
  if (join > 1) {
    return absl::DataLossError(
        absl::StrCat("weights file '", source, "': join ", join, " is neither 0 (early) nor 1 (late)"));
  }
  w.architecture.join = static_cast<WeightsJoin>(join);
  for (auto [what, field] : {std::pair<const char*, int*>{"hidden", &w.architecture.hidden},
                             {"opcode_embedding", &w.architecture.opcode_embedding},
                             {"sage_layers", &w.architecture.sage_layers},
                             {"head_hidden", &w.architecture.head_hidden}}) {
    ASSIGN_OR_RETURN(uint32_t v, header.U32(what));
    if (v < 1 || v > 4096) {
      return absl::DataLossError(
          absl::StrCat("weights file '", source, "': ", what, " = ", v, " is outside [1, 4096]"));
    }
    *field = static_cast<int>(v);
  }
  // Version 1 predates the field: every model was lstm.
  w.architecture.reduction = WeightsReduction::kLstm;
  if (w.format_version >= 2) {
    ASSIGN_OR_RETURN(uint32_t reduction, header.U32("the reduction"));
    if (reduction > 1) {
      return absl::DataLossError(absl::StrCat("weights file '", source, "': reduction ", reduction,
                                              " is neither 0 (lstm) nor 1 (mean)"));
    }
    w.architecture.reduction = static_cast<WeightsReduction>(reduction);
  }
  // Versions 1 to 3 predate the field: their models had no hybrid config features.
  w.architecture.hybrid_threads = 0;
  if (w.format_version >= 4) {
    ASSIGN_OR_RETURN(uint32_t hybrid_threads, header.U32("the hybrid threads"));
    if (hybrid_threads > static_cast<uint32_t>(kMaxHybridThreads)) {
      return absl::DataLossError(absl::StrCat("weights file '", source, "': hybrid_threads ",
                                              hybrid_threads, " is not in [0, ", kMaxHybridThreads,
                                              "]"));
    }
    w.architecture.hybrid_threads = static_cast<int>(hybrid_threads);
  }
  // Versions 1 to 4 predate the field: perfgraph's schema.
  if (w.format_version >= 5) {
    ASSIGN_OR_RETURN(uint32_t name_bytes, header.U32("the feature schema name length"));
    if (name_bytes > kMaxSchemaNameBytes) {
      return absl::DataLossError(absl::StrCat("weights file '", source, "': feature schema name of ",
                                              name_bytes, " bytes"));
    }
    ASSIGN_OR_RETURN(absl::string_view name, header.Bytes(name_bytes, "the feature schema name"));
    w.architecture.feature_schema = std::string(name);
  }
  if (w.architecture.foreign_schema()) {
    // Features as given: the widths are the schema's, the perfgraph versions do not apply.
    const std::string what = absl::StrCat("weights file '", source, "' of feature schema '",
                                          w.architecture.feature_schema, "'");
    if (w.feature_schema_version != 0 || w.config_feature_schema_version != 0 ||
        w.num_node_features < 1 || w.num_node_features > kMaxForeignFeatureWidth ||
        w.num_config_features < 1 || w.num_config_features > kMaxForeignFeatureWidth) {
      return absl::DataLossError(absl::StrCat(
          what, ": widths ", w.num_node_features, " / ", w.num_config_features, " (need 1..",
          kMaxForeignFeatureWidth, ") and schema versions ", w.feature_schema_version, " / ",
          w.config_feature_schema_version, " (need 0)"));
    }
    RETURN_IF_ERROR(
        CheckField(source, "graph::kNumOpcodeIds", w.num_opcode_ids, graph::kNumOpcodeIds));
    w.architecture.foreign_node_features = static_cast<int>(w.num_node_features);
    w.architecture.foreign_config_features = static_cast<int>(w.num_config_features);
  } else {
    RETURN_IF_ERROR(CheckField(source, "feature schema version (graph::kFeatureSchemaVersion)",
                               w.feature_schema_version, graph::kFeatureSchemaVersion));
    RETURN_IF_ERROR(CheckField(source, "graph::kNumNodeFeatures", w.num_node_features,
                               graph::kNumNodeFeatures));
    RETURN_IF_ERROR(
        CheckField(source, "graph::kNumOpcodeIds", w.num_opcode_ids, graph::kNumOpcodeIds));
    RETURN_IF_ERROR(CheckField(source, "tiling::kNumConfigFeatures", w.num_config_features,
                               kBuildNumConfigFeatures));
    RETURN_IF_ERROR(CheckField(
        source, "config feature schema version (tiling::kConfigFeatureSchemaVersion)",
        w.config_feature_schema_version, kConfigFeatureSchemaVersion));
  }
  ASSIGN_OR_RETURN(uint32_t num_tensors, header.U32("the tensor count"));

  const size_t tensors_start = kWeightsMagic.size() + header.offset();
  if (tensors_start > body) return header.Truncated("the tensor table");
  Reader r(bytes.substr(tensors_start, body - tensors_start), source);
  std::set<std::string> names;
  for (uint32_t i = 0; i < num_tensors; ++i) {
    const std::string what = absl::StrCat("tensor ", i);
    ASSIGN_OR_RETURN(uint32_t name_len, r.U32(what));
    if (name_len < 1 || name_len > static_cast<uint32_t>(kMaxTensorNameBytes)) {
      return absl::DataLossError(absl::StrCat("weights file '", source, "': ", what,
                                              " has a name of ", name_len, " bytes"));
    }
    NamedTensor t;
    ASSIGN_OR_RETURN(absl::string_view name, r.Bytes(name_len, what));
    t.name = std::string(name);
    if (!names.insert(t.name).second) {
      return absl::DataLossError(
          absl::StrCat("weights file '", source, "': duplicate tensor '", t.name, "'"));
    }
    ASSIGN_OR_RETURN(uint32_t rank, r.U32(t.name));
    if (rank > static_cast<uint32_t>(kMaxTensorRank)) {
      return absl::DataLossError(absl::StrCat("weights file '", source, "': tensor '", t.name,
                                              "' has rank ", rank));
    }
    uint64_t count = 1;
    for (uint32_t d = 0; d < rank; ++d) {
      ASSIGN_OR_RETURN(uint32_t dim, r.U32(t.name));
      t.dims.push_back(dim);
      count *= dim;
      // Every value takes 4 bytes: a count beyond the remaining bytes is corruption (checked before
      // allocating, and before the product can overflow).
      if (count > r.remaining() / 4) {
        return absl::DataLossError(absl::StrCat("weights file '", source, "': tensor '", t.name,
                                                "' claims more values than the file holds"));
      }
    }
    ASSIGN_OR_RETURN(absl::string_view data, r.Bytes(count * 4, t.name));
    t.values.resize(count);
    for (uint64_t k = 0; k < count; ++k) {
      uint32_t bits = 0;
      for (int b = 0; b < 4; ++b) {
        bits |= uint32_t{static_cast<unsigned char>(data[4 * k + b])} << (8 * b);
      }
      std::memcpy(&t.values[k], &bits, 4);
    }
    w.tensors.push_back(std::move(t));
  }
  if (r.remaining() != 0) {
    return absl::DataLossError(absl::StrCat("weights file '", source, "' has ", r.remaining(),
                                            " unexpected bytes after its ", num_tensors,
                                            " tensors"));
  }
  return w;
}

absl::Status WriteWeightsFile(const WeightsFile& weights, absl::string_view path) {
  ASSIGN_OR_RETURN(std::string bytes, SerializeWeights(weights));
  return graph::WriteFileAtomically(path, bytes, "WriteWeightsFile");
}

absl::StatusOr<WeightsFile> ReadWeightsFile(absl::string_view path) {
  std::ifstream in(std::string(path), std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("ReadWeightsFile: cannot open '", path, "': ", std::strerror(errno)));
  }
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(std::string(path), error);
  if (!error && size > static_cast<uintmax_t>(kMaxWeightsFileBytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ReadWeightsFile: '", path, "' has ", size, " bytes, above the ",
                     kMaxWeightsFileBytes, "-byte limit (kernels::kMaxWeightsFileBytes)"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  return ParseWeights(bytes, path);
}

}  // namespace perfgraph::kernels
