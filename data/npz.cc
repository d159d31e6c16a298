#include "data/npz.h"

#include <zip.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace perfgraph::data {
namespace {

constexpr absl::string_view kSuffix = ".npy";

std::string ZipErrorText(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string text = zip_error_strerror(&error);
  zip_error_fini(&error);
  return text;
}

struct ArchiveCloser {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
struct FileCloser {
  void operator()(zip_file_t* file) const { zip_fclose(file); }
};

}  // namespace

absl::StatusOr<std::map<std::string, NpyArray>> ReadNpz(absl::string_view path) {
  const std::string p(path);
  std::error_code ec;
  if (!std::filesystem::exists(p, ec)) {
    return absl::NotFoundError(absl::StrCat("'", p, "' does not exist"));
  }
  int code = 0;
  std::unique_ptr<zip_t, ArchiveCloser> archive(
      zip_open(p.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (archive == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", p, "' is not a readable .npz (zip) archive: ", ZipErrorText(code)));
  }
  const zip_int64_t entries = zip_get_num_entries(archive.get(), 0);
  std::map<std::string, NpyArray> arrays;
  for (zip_int64_t i = 0; i < entries; ++i) {
    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(archive.get(), i, 0, &stat) != 0 || !(stat.valid & ZIP_STAT_NAME) ||
        !(stat.valid & ZIP_STAT_SIZE)) {
      return absl::DataLossError(absl::StrCat("'", p,
                                              "': cannot read the directory entry of member ", i,
                                              ": ", zip_strerror(archive.get())));
    }
    const std::string name = stat.name;
    if (!absl::EndsWith(name, kSuffix) || name.size() == kSuffix.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", p, "': member '", name, "' is not an array ('<key>.npy') of a numpy .npz archive"));
    }
    const std::string key = name.substr(0, name.size() - kSuffix.size());
    const std::string source = absl::StrCat(p, ":", key);
    if (stat.size > static_cast<zip_uint64_t>(kMaxNpzMemberBytes)) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": member of ", stat.size, " bytes exceeds the limit of ", kMaxNpzMemberBytes));
    }
    std::unique_ptr<zip_file_t, FileCloser> file(zip_fopen_index(archive.get(), i, 0));
    if (file == nullptr) {
      return absl::DataLossError(
          absl::StrCat(source, ": cannot open the member: ", zip_strerror(archive.get())));
    }
    std::string bytes(stat.size, '\0');
    zip_uint64_t done = 0;
    while (done < stat.size) {
      const zip_int64_t n = zip_fread(file.get(), bytes.data() + done, stat.size - done);
      if (n < 0) {
        return absl::DataLossError(
            absl::StrCat(source, ": cannot read the member: ", zip_file_strerror(file.get())));
      }
      if (n == 0) break;
      done += static_cast<zip_uint64_t>(n);
    }
    if (done != stat.size) {
      return absl::DataLossError(absl::StrCat(source, ": member holds ", done,
                                              " bytes, its directory entry says ", stat.size));
    }
    // One more read reaches the end of the member, where libzip checks its CRC.
    char extra;
    if (zip_fread(file.get(), &extra, 1) != 0) {
      return absl::DataLossError(
          absl::StrCat(source, ": member data is corrupt (", zip_file_strerror(file.get()), ")"));
    }
    absl::StatusOr<NpyArray> array = ParseNpy(bytes, source);
    if (!array.ok()) return array.status();
    arrays[key] = std::move(*array);
  }
  return arrays;
}

absl::Status WriteNpz(absl::string_view path, const std::map<std::string, NpyArray>& arrays,
                      NpzCompression compression) {
  const std::string p(path);
  // Serialize first: libzip reads the buffers at zip_close.
  std::vector<std::pair<std::string, std::string>> members;
  for (const auto& [key, array] : arrays) {
    if (key.empty() || key.find('/') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("WriteNpz('", p, "'): bad key '", key, "'"));
    }
    absl::StatusOr<std::string> bytes = SerializeNpy(array);
    if (!bytes.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("WriteNpz('", p, "'): key '", key, "': ", bytes.status().message()));
    }
    members.emplace_back(key + std::string(kSuffix), std::move(*bytes));
  }
  int code = 0;
  std::unique_ptr<zip_t, ArchiveCloser> archive(
      zip_open(p.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code));
  if (archive == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot create '", p, "': ", ZipErrorText(code)));
  }
  for (const auto& [name, bytes] : members) {
    zip_source_t* source = zip_source_buffer(archive.get(), bytes.data(), bytes.size(), 0);
    if (source == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("cannot add '", name, "' to '", p, "': ", zip_strerror(archive.get())));
    }
    const zip_int64_t index = zip_file_add(archive.get(), name.c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(source);
      return absl::UnavailableError(
          absl::StrCat("cannot add '", name, "' to '", p, "': ", zip_strerror(archive.get())));
    }
    const zip_int32_t method =
        compression == NpzCompression::kDeflated ? ZIP_CM_DEFLATE : ZIP_CM_STORE;
    if (zip_set_file_compression(archive.get(), index, method, 0) != 0) {
      return absl::UnavailableError(absl::StrCat("cannot set the compression of '", name, "' in '",
                                                 p, "': ", zip_strerror(archive.get())));
    }
  }
  if (zip_close(archive.get()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot write '", p, "': ", zip_strerror(archive.get())));
  }
  archive.release();  // zip_close freed it
  return absl::OkStatus();
}

}  // namespace perfgraph::data
