#include "data/record_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/perfgraph.pb.h"
#include "graph/featurize.h"
#include "graph/status_macros.h"

namespace perfgraph::data {
namespace {

uint32_t Crc32(const char* data, size_t size, uint32_t crc = 0) {
  uLong value = crc;
  // zlib's crc32 takes uInt lengths; feed large buffers in chunks.
  while (size > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    value = crc32(value, reinterpret_cast<const Bytef*>(data), chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(value);
}

void PutU32(uint32_t value, char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

uint32_t GetU32(const char* in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i)
    value |= static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return value;
}

absl::Status ErrnoError(int error, absl::string_view what, absl::string_view path) {
  return absl::ErrnoToStatus(error, absl::StrCat(what, " '", path, "'"));
}

// Reads up to `size` bytes; returns how many were read (fewer only at end of file).
absl::StatusOr<size_t> ReadUpTo(std::FILE* file, char* out, size_t size, absl::string_view path) {
  size_t got = std::fread(out, 1, size, file);
  if (got < size && std::ferror(file)) return ErrnoError(errno, "RecordReader: reading", path);
  return got;
}

// The serialized header (fixed part + FileHeader proto) of a new file.
std::string EncodeHeader(const RecordFileHeader& header) {
  FileHeader proto;
  if (header.machine.has_value()) MachineToProto(*header.machine, proto.mutable_machine());
  proto.set_writer(header.writer);
  proto.set_created_unix_seconds(header.created_unix_seconds);
  proto.set_protocol_version(header.protocol_version);
  proto.set_other_load_cores_at_start(header.other_load_cores_at_start);
  proto.set_busy_processes_at_start(header.busy_processes_at_start);
  if (header.foreign_features.has_value()) {
    ForeignFeatureSchemaProto* f = proto.mutable_foreign_features();
    f->set_name(header.foreign_features->name);
    f->set_num_node_features(header.foreign_features->num_node_features);
    f->set_num_config_features(header.foreign_features->num_config_features);
  }
  const std::string body = proto.SerializeAsString();
  std::string out(kFixedHeaderBytes, '\0');
  std::memcpy(out.data(), kRecordFileMagic.data(), kRecordFileMagic.size());
  PutU32(header.format_version, &out[8]);
  PutU32(header.feature_schema_version, &out[12]);
  PutU32(static_cast<uint32_t>(body.size()), &out[16]);
  const uint32_t crc = Crc32(body.data(), body.size(), Crc32(out.data(), 20));
  PutU32(crc, &out[20]);
  out += body;
  return out;
}

enum class HeaderState { kOk, kTruncated };

// Reads and validates the header at the start of `file` (`file_size` bytes). Returns kTruncated
// when the file is a strict prefix of a header (an empty file, or a writer killed while creating
// it); errors as documented on RecordReader::Open.
absl::StatusOr<HeaderState> ReadHeader(std::FILE* file, int64_t file_size, const std::string& path,
                                       std::optional<int> expected_schema, RecordFileHeader* header,
                                       int64_t* header_end) {
  char fixed[kFixedHeaderBytes];
  ASSIGN_OR_RETURN(size_t got, ReadUpTo(file, fixed, sizeof(fixed), path));
  const size_t magic_bytes = std::min(got, kRecordFileMagic.size());
  if (std::memcmp(fixed, kRecordFileMagic.data(), magic_bytes) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path,
                     "' is not a perfgraph dataset (its first bytes are "
                     "not the magic \"",
                     kRecordFileMagic, "\")"));
  }
  if (got < sizeof(fixed)) return HeaderState::kTruncated;
  header->format_version = GetU32(fixed + 8);
  header->feature_schema_version = GetU32(fixed + 12);
  const uint32_t body_size = GetU32(fixed + 16);
  const uint32_t stored_crc = GetU32(fixed + 20);
  if (body_size > kMaxHeaderBytes) {
    return absl::DataLossError(absl::StrCat("'", path, "': header length ", body_size, " exceeds ",
                                            kMaxHeaderBytes, " bytes (corrupt header)"));
  }
  if (kFixedHeaderBytes + static_cast<int64_t>(body_size) > file_size) {
    return HeaderState::kTruncated;
  }
  std::string body(body_size, '\0');
  ASSIGN_OR_RETURN(got, ReadUpTo(file, body.data(), body.size(), path));
  if (got < body.size()) return HeaderState::kTruncated;
  const uint32_t crc = Crc32(body.data(), body.size(), Crc32(fixed, 20));
  if (crc != stored_crc) {
    return absl::DataLossError(absl::StrFormat(
        "'%s': header checksum mismatch (stored %08x, computed %08x): corrupt header", path,
        stored_crc, crc));
  }
  if (header->format_version != kRecordFileFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", path, "' has record file format version ", header->format_version,
                     ", this build reads version ", kRecordFileFormatVersion));
  }
  if (expected_schema.has_value() &&
      header->feature_schema_version != static_cast<uint32_t>(*expected_schema)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "'", path, "' was written with feature schema version ", header->feature_schema_version,
        ", this build uses feature schema version ", *expected_schema,
        " (graph::kFeatureSchemaVersion); re-measure or convert the dataset"));
  }
  FileHeader proto;
  if (!proto.ParseFromString(body)) {
    return absl::DataLossError(absl::StrCat("'", path, "': the header message does not parse"));
  }
  if (proto.has_machine()) header->machine = MachineFromProto(proto.machine());
  header->writer = proto.writer();
  header->created_unix_seconds = proto.created_unix_seconds();
  header->protocol_version = proto.protocol_version();
  // Files written before these fields existed read 0 and ""; 0 cores would claim an idle check.
  header->other_load_cores_at_start =
      proto.protocol_version() >= 2 ? proto.other_load_cores_at_start() : -1;
  header->busy_processes_at_start = proto.busy_processes_at_start();
  if (proto.has_foreign_features()) {
    const ForeignFeatureSchemaProto& f = proto.foreign_features();
    if (f.name().empty() || f.name() == "perfgraph" || f.num_node_features() < 1 ||
        f.num_config_features() < 1) {
      return absl::DataLossError(absl::StrCat(
          "'", path, "': the header names an invalid foreign feature schema '", f.name(), "' (",
          f.num_node_features(), " node, ", f.num_config_features(), " config features)"));
    }
    header->foreign_features =
        ForeignFeatureSchema{f.name(), f.num_node_features(), f.num_config_features()};
  }
  *header_end = kFixedHeaderBytes + body_size;
  return HeaderState::kOk;
}

// Opens `path` for reading and determines its size.
absl::StatusOr<std::FILE*> OpenForRead(const std::string& path, int64_t* size) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return ErrnoError(errno, "RecordReader: cannot open", path);
  struct stat st;
  if (fstat(fileno(file), &st) != 0) {
    const int error = errno;
    std::fclose(file);
    return ErrnoError(error, "RecordReader: cannot stat", path);
  }
  if (!S_ISREG(st.st_mode)) {
    std::fclose(file);
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' is not a regular file"));
  }
  *size = st.st_size;
  return file;
}

}  // namespace

// -------------------------------------------------------------------------------------------------
// RecordReader

absl::StatusOr<RecordReader> RecordReader::Open(absl::string_view path) {
  // Node and config features are computed when a dataset is loaded, so a file written under another
  // feature schema is read as it is (the version stays in the header for information).
  return Open(path, std::nullopt);
}

absl::StatusOr<RecordReader> RecordReader::Open(
    absl::string_view path, std::optional<int> expected_feature_schema_version) {
  RecordReader reader;
  reader.path_ = std::string(path);
  ASSIGN_OR_RETURN(reader.file_, OpenForRead(reader.path_, &reader.file_size_));
  int64_t header_end = 0;
  ASSIGN_OR_RETURN(HeaderState state,
                   ReadHeader(reader.file_, reader.file_size_, reader.path_,
                              expected_feature_schema_version, &reader.header_, &header_end));
  if (state == HeaderState::kTruncated) {
    return absl::DataLossError(absl::StrCat("'", reader.path_, "' has a truncated header (",
                                            reader.file_size_,
                                            " bytes): its writer was killed while creating it"));
  }
  reader.offset_ = header_end;
  return reader;
}

RecordReader::RecordReader(RecordReader&& other) noexcept { *this = std::move(other); }

RecordReader& RecordReader::operator=(RecordReader&& other) noexcept {
  if (this != &other) {
    if (file_ != nullptr) std::fclose(file_);
    path_ = std::move(other.path_);
    file_ = std::exchange(other.file_, nullptr);
    file_size_ = other.file_size_;
    offset_ = other.offset_;
    records_read_ = other.records_read_;
    dropped_tail_bytes_ = other.dropped_tail_bytes_;
    sticky_error_ = std::move(other.sticky_error_);
    payload_ = std::move(other.payload_);
    header_ = std::move(other.header_);
  }
  return *this;
}

RecordReader::~RecordReader() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::StatusOr<bool> RecordReader::NextPayload(int64_t* record_start) {
  if (!sticky_error_.ok()) return sticky_error_;
  if (file_ == nullptr) {
    return absl::FailedPreconditionError("RecordReader: reading a moved-from reader");
  }
  *record_start = offset_;
  const int64_t remaining = file_size_ - offset_;
  if (remaining <= 0) return false;
  auto fail = [&](absl::Status status) {
    sticky_error_ = status;
    return status;
  };
  auto where = [&] {
    return absl::StrCat("'", path_, "': record ", records_read_, " at byte offset ", offset_);
  };
  if (remaining < 8) {
    dropped_tail_bytes_ = remaining;
    return false;
  }
  char frame_header[8];
  absl::StatusOr<size_t> got = ReadUpTo(file_, frame_header, sizeof(frame_header), path_);
  if (!got.ok()) return fail(got.status());
  if (*got < sizeof(frame_header)) {
    return fail(absl::DataLossError(absl::StrCat(where(), ": file shrank while being read")));
  }
  const uint32_t length = GetU32(frame_header);
  const uint32_t length_crc = GetU32(frame_header + 4);
  if (Crc32(frame_header, 4) != length_crc) {
    return fail(absl::DataLossError(absl::StrFormat(
        "%s: length field checksum mismatch (length %u, stored CRC %08x, computed %08x): corrupt "
        "record",
        where(), length, length_crc, Crc32(frame_header, 4))));
  }
  if (length > kMaxRecordBytes) {
    return fail(absl::DataLossError(absl::StrCat(where(), ": length ", length, " exceeds the ",
                                                 kMaxRecordBytes, "-byte record limit")));
  }
  const int64_t frame_size = kRecordFrameOverheadBytes + length;
  if (frame_size > remaining) {
    // The frame header checks out but the rest of the frame is missing: a torn tail.
    dropped_tail_bytes_ = remaining;
    return false;
  }
  payload_.resize(length + 4);
  got = ReadUpTo(file_, payload_.data(), payload_.size(), path_);
  if (!got.ok()) return fail(got.status());
  if (*got < payload_.size()) {
    return fail(absl::DataLossError(absl::StrCat(where(), ": file shrank while being read")));
  }
  const uint32_t stored_crc = GetU32(payload_.data() + length);
  payload_.resize(length);
  const uint32_t crc = Crc32(payload_.data(), length);
  if (crc != stored_crc) {
    return fail(absl::DataLossError(absl::StrFormat(
        "%s: payload checksum mismatch (stored %08x, computed %08x, %u bytes): corrupt record",
        where(), stored_crc, crc, length)));
  }
  offset_ += frame_size;
  ++records_read_;
  return true;
}

absl::StatusOr<bool> RecordReader::Next(Record* record) {
  int64_t record_start = 0;
  ASSIGN_OR_RETURN(bool has_record, NextPayload(&record_start));
  if (!has_record) return false;
  if (!record->ParseFromString(payload_)) {
    sticky_error_ = absl::DataLossError(absl::StrCat("'", path_, "': record ", records_read_ - 1,
                                                     " at byte offset ", record_start,
                                                     ": payload does not parse as a Record"));
    return sticky_error_;
  }
  return true;
}

absl::StatusOr<std::vector<Record>> RecordReader::ReadAll() {
  std::vector<Record> records;
  while (true) {
    Record record;
    ASSIGN_OR_RETURN(bool has_record, Next(&record));
    if (!has_record) break;
    records.push_back(std::move(record));
  }
  return records;
}

std::string ForeignFeatureSchema::ToString() const {
  return absl::StrCat(name, " (", num_node_features, " node, ", num_config_features,
                      " config features)");
}

std::string FeatureSchemaText(const std::optional<ForeignFeatureSchema>& schema) {
  return schema.has_value() ? schema->ToString() : "perfgraph";
}

absl::StatusOr<std::vector<Record>> ReadRecordFile(absl::string_view path,
                                                   int64_t* dropped_tail_bytes) {
  ASSIGN_OR_RETURN(RecordReader reader, RecordReader::Open(path));
  ASSIGN_OR_RETURN(std::vector<Record> records, reader.ReadAll());
  if (dropped_tail_bytes != nullptr) *dropped_tail_bytes = reader.dropped_tail_bytes();
  return records;
}

// -------------------------------------------------------------------------------------------------
// RecordWriter

absl::StatusOr<RecordWriter> RecordWriter::Open(absl::string_view path,
                                                const RecordWriterOptions& options) {
  RecordWriter writer;
  writer.path_ = std::string(path);
  writer.sync_every_n_records_ = options.sync_every_n_records;
  writer.fd_ = ::open(writer.path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (writer.fd_ < 0) return ErrnoError(errno, "RecordWriter: cannot open", writer.path_);
  if (::flock(writer.fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (error == EWOULDBLOCK) {
      return absl::UnavailableError(
          absl::StrCat("RecordWriter: '", writer.path_,
                       "' is locked by another RecordWriter (process or thread)"));
    }
    return ErrnoError(error, "RecordWriter: cannot lock", writer.path_);
  }
  struct stat st;
  if (fstat(writer.fd_, &st) != 0)
    return ErrnoError(errno, "RecordWriter: cannot stat", writer.path_);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("'", writer.path_, "' is not a regular file"));
  }

  bool create = st.st_size == 0;
  if (!create) {
    // Validate the header and scan every frame (CRCs) to find the end of the last complete record.
    int64_t file_size = 0;
    ASSIGN_OR_RETURN(std::FILE * file, OpenForRead(writer.path_, &file_size));
    RecordReader scan;
    scan.path_ = writer.path_;
    scan.file_ = file;
    scan.file_size_ = file_size;
    int64_t header_end = 0;
    ASSIGN_OR_RETURN(HeaderState state,
                     ReadHeader(file, file_size, writer.path_, /*expected_schema=*/std::nullopt,
                                &scan.header_, &header_end));
    if (state == HeaderState::kTruncated) {
      writer.truncated_tail_bytes_ = file_size;
      create = true;
    } else {
      scan.offset_ = header_end;
      int64_t record_start = 0;
      while (true) {
        ASSIGN_OR_RETURN(bool has_record, scan.NextPayload(&record_start));
        if (!has_record) break;
      }
      writer.header_ = scan.header_;
      writer.num_records_ = scan.records_read_;
      writer.end_offset_ = scan.offset_;
      writer.truncated_tail_bytes_ = scan.dropped_tail_bytes_;
      // Comparable machines (SameMeasuringMachine: the OS string and perfgraph's compiler may
      // differ); the header keeps the fingerprint of the run that created the file.
      if (options.machine.has_value() &&
          (!writer.header_.machine.has_value() ||
           !SameMeasuringMachine(*writer.header_.machine, *options.machine))) {
        return absl::FailedPreconditionError(absl::StrCat(
            "RecordWriter: '", writer.path_, "' holds measurements from machine [",
            writer.header_.machine.has_value() ? writer.header_.machine->ToString() : "none recorded",
            "], refusing to append measurements from machine [", options.machine->ToString(), "]",
            writer.header_.machine.has_value()
                ? absl::StrCat(" (", MeasuringMachineDifference(*writer.header_.machine, *options.machine), ")")
                : std::string(),
            "; write to a new file"));
      }
      if (writer.header_.foreign_features != options.foreign_features) {
        return absl::FailedPreconditionError(absl::StrCat(
            "RecordWriter: '", writer.path_, "' holds records of feature schema ",
            FeatureSchemaText(writer.header_.foreign_features), ", refusing to append records of ",
            FeatureSchemaText(options.foreign_features), "; write to a new file"));
      }
    }
    if (writer.truncated_tail_bytes_ > 0 && !create) {
      if (::ftruncate(writer.fd_, writer.end_offset_) != 0) {
        return ErrnoError(errno, "RecordWriter: cannot truncate the torn tail of", writer.path_);
      }
    }
  }
  if (create) {
    if (::ftruncate(writer.fd_, 0) != 0) {
      return ErrnoError(errno, "RecordWriter: cannot truncate", writer.path_);
    }
    writer.header_ = RecordFileHeader();
    writer.header_.feature_schema_version = graph::kFeatureSchemaVersion;
    writer.header_.machine = options.machine;
    writer.header_.writer = options.writer;
    writer.header_.created_unix_seconds = static_cast<int64_t>(std::time(nullptr));
    writer.header_.protocol_version = options.protocol_version;
    writer.header_.other_load_cores_at_start = options.other_load_cores_at_start;
    writer.header_.busy_processes_at_start = options.busy_processes_at_start;
    writer.header_.foreign_features = options.foreign_features;
    const std::string header = EncodeHeader(writer.header_);
    if (::lseek(writer.fd_, 0, SEEK_SET) < 0) {
      return ErrnoError(errno, "RecordWriter: cannot seek in", writer.path_);
    }
    RETURN_IF_ERROR(writer.WriteAll(header.data(), header.size()));
    writer.end_offset_ = static_cast<int64_t>(header.size());
    writer.num_records_ = 0;
    if (writer.sync_every_n_records_ > 0) RETURN_IF_ERROR(writer.Sync());
  }
  if (::lseek(writer.fd_, writer.end_offset_, SEEK_SET) < 0) {
    return ErrnoError(errno, "RecordWriter: cannot seek in", writer.path_);
  }
  return writer;
}

RecordWriter::RecordWriter(RecordWriter&& other) noexcept { *this = std::move(other); }

RecordWriter& RecordWriter::operator=(RecordWriter&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    broken_ = other.broken_;
    sync_every_n_records_ = other.sync_every_n_records_;
    num_records_ = other.num_records_;
    appended_since_sync_ = other.appended_since_sync_;
    end_offset_ = other.end_offset_;
    truncated_tail_bytes_ = other.truncated_tail_bytes_;
    frame_ = std::move(other.frame_);
    header_ = std::move(other.header_);
  }
  return *this;
}

RecordWriter::~RecordWriter() {
  if (fd_ >= 0) ::close(fd_);  // also releases the flock
}

absl::Status RecordWriter::WriteAll(const char* data, size_t size) {
  while (size > 0) {
    const ssize_t written = ::write(fd_, data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "RecordWriter: cannot write to", path_);
    }
    data += written;
    size -= static_cast<size_t>(written);
  }
  return absl::OkStatus();
}

absl::Status RecordWriter::Append(const Record& record) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("RecordWriter::Append('", path_, "', record ", num_records_, "): ", why));
  };
  if (fd_ < 0)
    return absl::FailedPreconditionError(absl::StrCat("RecordWriter: '", path_, "' is closed"));
  if (broken_) {
    return absl::FailedPreconditionError(absl::StrCat("RecordWriter: an earlier write to '", path_,
                                                      "' failed and could not be undone"));
  }
  if (record.feature_schema_version() != static_cast<int>(header_.feature_schema_version)) {
    return invalid(absl::StrCat("feature_schema_version is ", record.feature_schema_version(),
                                ", the file's is ", header_.feature_schema_version));
  }
  if (record.status() == Record::MEASURE_STATUS_UNSPECIFIED)
    return invalid("status is unspecified");
  if (record.task() == Record::TASK_UNSPECIFIED) return invalid("task is unspecified");
  if (record.kernel_hash() == 0) return invalid("kernel_hash is 0 (unset)");
  const size_t size = record.ByteSizeLong();
  if (size > static_cast<size_t>(kMaxRecordBytes)) {
    return invalid(absl::StrCat("serialized size ", size, " exceeds ", kMaxRecordBytes, " bytes"));
  }
  frame_.resize(kRecordFrameOverheadBytes + size);
  char* out = frame_.data();
  PutU32(static_cast<uint32_t>(size), out);
  PutU32(Crc32(out, 4), out + 4);
  if (!record.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out + 8))) {
    return invalid("serialization failed");
  }
  PutU32(Crc32(out + 8, size), out + 8 + size);

  absl::Status status = WriteAll(frame_.data(), frame_.size());
  if (!status.ok()) {
    // Cut the partial frame off again so the file stays a sequence of complete records.
    if (::ftruncate(fd_, end_offset_) != 0 || ::lseek(fd_, end_offset_, SEEK_SET) < 0)
      broken_ = true;
    return status;
  }
  end_offset_ += static_cast<int64_t>(frame_.size());
  ++num_records_;
  if (sync_every_n_records_ > 0 && ++appended_since_sync_ >= sync_every_n_records_) {
    RETURN_IF_ERROR(Sync());
  }
  return absl::OkStatus();
}

absl::Status RecordWriter::Sync() {
  if (fd_ < 0)
    return absl::FailedPreconditionError(absl::StrCat("RecordWriter: '", path_, "' is closed"));
  if (::fsync(fd_) != 0) return ErrnoError(errno, "RecordWriter: cannot fsync", path_);
  appended_since_sync_ = 0;
  return absl::OkStatus();
}

absl::Status RecordWriter::Close() {
  if (fd_ < 0) return absl::OkStatus();
  absl::Status status = absl::OkStatus();
  if (sync_every_n_records_ > 0) status = Sync();
  if (::close(fd_) != 0 && status.ok())
    status = ErrnoError(errno, "RecordWriter: cannot close", path_);
  fd_ = -1;
  return status;
}

}  // namespace perfgraph::data
