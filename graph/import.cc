#include "graph/import.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "graph/hlo_parser.h"
#include "graph/hlo_proto_import.h"
#include "graph/onnx_import.h"

namespace perfgraph::graph {

absl::StatusOr<std::pair<std::string, std::vector<int64_t>>> ParseInputShapeFlag(
    absl::string_view value) {
  const size_t eq = value.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--input-shape '", value, "': expected NAME=d0,d1,... (e.g. input=1,3,224,224)"));
  }
  std::string name(value.substr(0, eq));
  std::vector<int64_t> dims;
  const absl::string_view dims_text = value.substr(eq + 1);
  if (!dims_text.empty()) {
    for (absl::string_view piece : absl::StrSplit(dims_text, ',')) {
      int64_t dim = 0;
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(piece), &dim) || dim < 1 ||
          dim > kMaxDimension) {
        return absl::InvalidArgumentError(
            absl::StrCat("--input-shape '", value, "': dimension '", piece,
                         "' is not an integer in [1, 2^40]"));
      }
      dims.push_back(dim);
    }
  }
  return std::make_pair(std::move(name), std::move(dims));
}

absl::StatusOr<std::pair<std::string, int64_t>> ParseDimFlag(absl::string_view value) {
  const size_t eq = value.find('=');
  int64_t dim = 0;
  if (eq == absl::string_view::npos || eq == 0 ||
      !absl::SimpleAtoi(value.substr(eq + 1), &dim) || dim < 1 || dim > kMaxDimension) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--dim '", value, "': expected NAME=VALUE with VALUE in [1, 2^40] (e.g. batch=1)"));
  }
  return std::make_pair(std::string(value.substr(0, eq)), dim);
}

std::optional<int64_t> ExecutionsPerRun(const ImportedModel& model, const std::string& computation,
                                        std::string* unknown_reason) {
  int64_t executions = 1;
  std::string current = computation;
  // Call chains are acyclic (HLO has no recursion); the bound guards against a corrupt map.
  for (size_t depth = 0; !current.empty() && depth <= model.call_sites.size(); ++depth) {
    auto it = model.call_sites.find(current);
    if (it == model.call_sites.end()) return executions;  // not called: treated as the entry
    const CallSite& site = it->second;
    if (!site.executions.has_value()) {
      if (unknown_reason != nullptr) {
        *unknown_reason = absl::StrCat(site.role, " of '", site.instruction, "': ", site.how);
      }
      return std::nullopt;
    }
    if (*site.executions > 0 && executions > (int64_t{1} << 62) / *site.executions) {
      if (unknown_reason != nullptr) *unknown_reason = "executions overflow int64";
      return std::nullopt;
    }
    executions *= *site.executions;
    current = site.caller;
  }
  return executions;
}

absl::StatusOr<ImportedModel> ImportModelFile(const std::string& path, const ImportOptions& options) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  if (std::filesystem::is_directory(path, error)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory, expected a model file"));
  }
  if (std::filesystem::file_size(path, error) == 0 && !error) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": file is empty, expected a model"));
  }
  const std::string extension =
      absl::AsciiStrToLower(std::filesystem::path(path).extension().string());
  if (extension == ".pb" || extension == ".binpb") {
    return ImportHloProtoFile(path, HloProtoEncoding::kBinary, options);
  }
  if (extension == ".pbtxt" || extension == ".textproto" || extension == ".txtpb") {
    return ImportHloProtoFile(path, HloProtoEncoding::kText, options);
  }
  if (extension == ".hlo" || extension == ".txt") {
    std::ifstream in(path, std::ios::binary);
    std::string head(4096, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(std::max<std::streamsize>(in.gcount(), 0)));
    if (LooksLikeHloTextProto(head)) {
      return ImportHloProtoFile(path, HloProtoEncoding::kText, options);
    }
    return ParseHloFile(path, options);
  }
  if (extension == ".gz") {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": compressed file; decompress it first (e.g. gunzip -k for XLA's "
                           ".hlo.pb.gz dumps)"));
  }
  return ImportOnnxFile(path, options);
}

}  // namespace perfgraph::graph
