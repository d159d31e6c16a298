// Append-only dataset record files (`.pgd`): a versioned header, then length-delimited, checksummed
// Record messages (data/perfgraph.proto).
//
// Byte layout (all integers unsigned 32-bit little-endian; "CRC32" is zlib's crc32, the ISO-HDLC /
// IEEE 802.3 polynomial used by gzip and PNG):
//
//   header   [0, 8)     magic "PGDATA01" (kRecordFileMagic)
//            [8, 12)    format version (kRecordFileFormatVersion)
//            [12, 16)   feature schema version (graph::kFeatureSchemaVersion of the writer)
//            [16, 20)   H = length of the FileHeader proto (<= kMaxHeaderBytes)
//            [20, 24)   CRC32 of bytes [0, 20) followed by the H proto bytes
//            [24, 24+H) FileHeader proto: the machine fingerprint (stored once per file; every
//            record of
//                       the file was measured on it), writer name, creation time
//   record   L          payload length (<= kMaxRecordBytes)
//   (repeat) CRC32(L)   CRC32 of the 4 length bytes: a corrupt length is detected as corruption
//   instead
//                       of being mistaken for a torn tail (and an all-zero frame never checks out)
//            payload    L bytes: one serialized Record
//            CRC32      of the L payload bytes
//
// Crash behaviour: every Append is a single write(2) of the whole frame straight to the file
// descriptor (no user-space buffer, nothing left to flush), so when the writing process is killed
// (kill -9, crash) the file holds every record appended before plus at most a prefix of the frame
// being written: a "torn tail". Readers report and skip it; RecordWriter::Open truncates it before
// appending. Surviving an OS crash / power loss additionally needs fsync:
// RecordWriterOptions::sync_every_n_records. Anything else that does not check out (a checksum
// mismatch, an absurd length, an unparseable record) is corruption: an error naming the file, the
// record index and its byte offset, never skipped.
#ifndef PERFGRAPH_DATA_RECORD_FILE_H_
#define PERFGRAPH_DATA_RECORD_FILE_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/machine.h"

namespace perfgraph::data {

class Record;      // data/perfgraph.proto; include "data/perfgraph.pb.h" to use records
class FileHeader;  // data/perfgraph.proto

inline constexpr absl::string_view kRecordFileMagic = "PGDATA01";
// Bumped when the byte layout above changes.
inline constexpr uint32_t kRecordFileFormatVersion = 1;
// Size of the fixed part of the header (magic, versions, length, CRC).
inline constexpr int64_t kFixedHeaderBytes = 24;
// Bytes framing each record: length, length CRC, payload CRC.
inline constexpr int64_t kRecordFrameOverheadBytes = 12;
// Upper bound on one serialized Record (64 MiB). A 10,000-instruction kernel record is ~2 MB, so a
// larger length field can only come from corruption; it is rejected before anything is allocated.
inline constexpr int64_t kMaxRecordBytes = int64_t{64} << 20;
// Upper bound on the FileHeader proto (1 MiB; a real one is ~300 bytes).
inline constexpr int64_t kMaxHeaderBytes = int64_t{1} << 20;

// A feature schema other than perfgraph's (FileHeader.foreign_features in data/perfgraph.proto):
// the file's records carry their node and config features as given (Record.precomputed).
struct ForeignFeatureSchema {
  std::string name;             // e.g. "tpugraphs-tile" (data/tpugraphs.h); never "" or "perfgraph"
  int num_node_features = 0;    // floats per node, >= 1
  int num_config_features = 0;  // floats per config row, >= 1
  friend bool operator==(const ForeignFeatureSchema& a, const ForeignFeatureSchema& b) {
    return a.name == b.name && a.num_node_features == b.num_node_features &&
           a.num_config_features == b.num_config_features;
  }
  friend bool operator!=(const ForeignFeatureSchema& a, const ForeignFeatureSchema& b) {
    return !(a == b);
  }
  // "tpugraphs-tile (140 node, 24 config features)".
  std::string ToString() const;
};
// "perfgraph" for nullopt, else ForeignFeatureSchema::ToString().
std::string FeatureSchemaText(const std::optional<ForeignFeatureSchema>& schema);

// The decoded header of a record file.
struct RecordFileHeader {
  uint32_t format_version = kRecordFileFormatVersion;
  uint32_t feature_schema_version = 0;
  std::optional<MachineFingerprint> machine;  // nullopt when the writer supplied none
  std::string writer;                         // free text, e.g. "perfgraph measure"
  int64_t created_unix_seconds = 0;
  int protocol_version = 0;                   // target::kProtocolVersion of a measuring writer
  // The busy-machine check when the file was created (FileHeader fields 5 and 6): CPU used by other
  // processes in cores (-1 = not checked) and who used it.
  double other_load_cores_at_start = -1;
  std::string busy_processes_at_start;
  // nullopt: the perfgraph feature schema (features computed from the kernel and config at load).
  std::optional<ForeignFeatureSchema> foreign_features;
};

// Reads every complete record of one file, streaming. Sees the file as it was (its size) at Open.
class RecordReader {
 public:
  // Opens `path` and validates its header. Errors (messages name `path`):
  //  - the file cannot be opened: the errno status (kNotFound, kPermissionDenied, ...);
  //  - the first 8 bytes are not kRecordFileMagic: kInvalidArgument "not a perfgraph dataset";
  //  - a format version other than kRecordFileFormatVersion, or a feature schema version other than
  //    `expected_feature_schema_version` when one is given: kFailedPrecondition naming both
  //    versions. Open(path) accepts any feature schema version: records store the raw kernel and
  //    config, and features are computed when a dataset is loaded, so a feature change never
  //    requires re-measuring (the header keeps the writer's version for information);
  //  - a truncated header (including an empty file), a header CRC mismatch, a header length above
  //    kMaxHeaderBytes, an unparseable FileHeader or a foreign feature schema with an empty or
  //    "perfgraph" name or a width below 1: kDataLoss.
  static absl::StatusOr<RecordReader> Open(absl::string_view path);
  static absl::StatusOr<RecordReader> Open(absl::string_view path,
                                           std::optional<int> expected_feature_schema_version);

  RecordReader(RecordReader&&) noexcept;
  RecordReader& operator=(RecordReader&&) noexcept;
  ~RecordReader();

  const RecordFileHeader& header() const { return header_; }

  // Reads the next record into `*record` and returns true; returns false at the end of the file or
  // at a torn tail (then dropped_tail_bytes() > 0). Errors (kDataLoss, naming the file, the record
  // index and its byte offset): a length above kMaxRecordBytes, a length or payload CRC mismatch, a
  // payload that does not parse as a Record; a read error is the errno status. After an error every
  // further call repeats it.
  absl::StatusOr<bool> Next(Record* record);

  // Every remaining complete record, in file order (Next until false). Errors: those of Next.
  absl::StatusOr<std::vector<Record>> ReadAll();

  // Bytes of the incomplete last frame left by a killed writer (0 when the file ends cleanly);
  // valid once Next returned false.
  int64_t dropped_tail_bytes() const { return dropped_tail_bytes_; }
  // Records returned so far.
  int64_t records_read() const { return records_read_; }
  // Byte offset just past the last complete record returned (or the header).
  int64_t valid_end_offset() const { return offset_; }
  const std::string& path() const { return path_; }

 private:
  RecordReader() = default;
  // Reads and checks the next frame's payload into payload_ (CRC only, no parse). Same contract as
  // Next; `record_start` receives the frame's offset.
  absl::StatusOr<bool> NextPayload(int64_t* record_start);
  friend class RecordWriter;

  std::string path_;
  std::FILE* file_ = nullptr;
  int64_t file_size_ = 0;
  int64_t offset_ = 0;
  int64_t records_read_ = 0;
  int64_t dropped_tail_bytes_ = 0;
  absl::Status sticky_error_;
  std::string payload_;
  RecordFileHeader header_;
};

struct RecordWriterOptions {
  // Machine fingerprint of the measurements. A new file stores it in its header; appending to an
  // existing file whose header holds a different fingerprint (or none) is kFailedPrecondition,
  // because runtimes from different machines must not be mixed in one file. nullopt: a new file
  // gets no fingerprint and an existing file's fingerprint is not checked (tests, format tools).
  std::optional<MachineFingerprint> machine;
  // Stored in a new file's header (FileHeader.writer).
  std::string writer = "perfgraph";
  // Stored in a new file's header (FileHeader fields 4-6): the measurement protocol version and the
  // busy-machine check at creation (see RecordFileHeader).
  int protocol_version = 0;
  double other_load_cores_at_start = -1;
  std::string busy_processes_at_start;
  // Stored in a new file's header (FileHeader.foreign_features); nullopt = the perfgraph schema.
  // Appending to an existing file of another schema (either way) is kFailedPrecondition.
  std::optional<ForeignFeatureSchema> foreign_features;
  // fsync(2) after every N-th Append (and on Close) so the records also survive an OS crash or
  // power loss; 0 = never fsync (records still survive the writing process being killed, see the
  // file comment). fsync costs ~1-10 ms on disks, so measuring loops (one record per ~10 ms
  // measurement) can afford N = 1..100.
  int sync_every_n_records = 0;
};

// Appends records to one file. Holds an exclusive flock(2) on the file while open, so a second
// writer on the same file fails fast instead of interleaving frames.
class RecordWriter {
 public:
  // Creates `path` (writing the header: format version, graph::kFeatureSchemaVersion, the options'
  // machine) or opens an existing file for appending. An existing file is validated like
  // RecordReader::Open (kInvalidArgument "not a perfgraph dataset" for another magic,
  // kFailedPrecondition naming both schema versions for another feature schema version) and scanned
  // completely (CRCs only): corruption anywhere is kDataLoss (naming record index and offset) and
  // nothing is appended; a torn tail left by a killed writer is truncated to the end of the last
  // complete record and its size reported by truncated_tail_bytes(). An existing empty file, or one
  // holding only a prefix of a header (writer killed while creating it), is re-initialised and also
  // counted in truncated_tail_bytes(). Other errors: the errno status of open/flock/ftruncate/write
  // (kUnavailable when another RecordWriter holds the file), kFailedPrecondition for a machine
  // mismatch (see RecordWriterOptions::machine).
  static absl::StatusOr<RecordWriter> Open(absl::string_view path,
                                           const RecordWriterOptions& options = {});

  RecordWriter(RecordWriter&&) noexcept;
  RecordWriter& operator=(RecordWriter&&) noexcept;
  // Closes the file (ignoring errors; call Close() to see them).
  ~RecordWriter();

  // Serializes `record` and writes its frame with one write(2) (see the file comment), then fsyncs
  // if due. Errors: kInvalidArgument (naming the file and the would-be record index) when
  // record.feature_schema_version() differs from the file's, status or task is UNSPECIFIED,
  // kernel_hash is 0, or the serialized record exceeds kMaxRecordBytes; the errno status of a
  // failed write, after which the partial frame is cut off again (if that fails too, the writer
  // refuses every later Append with kFailedPrecondition); kFailedPrecondition after Close.
  absl::Status Append(const Record& record);

  // fsync(2)s the file. Error: the errno status.
  absl::Status Sync();
  // fsyncs when sync_every_n_records > 0, releases the lock and closes. Idempotent.
  absl::Status Close();

  const RecordFileHeader& header() const { return header_; }
  // Complete records in the file: those found at Open plus those appended since.
  int64_t num_records() const { return num_records_; }
  // Bytes cut off a torn tail (or a torn header) at Open; 0 for a clean or new file.
  int64_t truncated_tail_bytes() const { return truncated_tail_bytes_; }
  // Current file size in bytes.
  int64_t size_bytes() const { return end_offset_; }
  const std::string& path() const { return path_; }

 private:
  RecordWriter() = default;
  absl::Status WriteAll(const char* data, size_t size);

  std::string path_;
  int fd_ = -1;
  bool broken_ = false;
  int sync_every_n_records_ = 0;
  int64_t num_records_ = 0;
  int64_t appended_since_sync_ = 0;
  int64_t end_offset_ = 0;
  int64_t truncated_tail_bytes_ = 0;
  std::string frame_;  // reused frame buffer
  RecordFileHeader header_;
};

// Convenience: RecordReader::Open(path) + ReadAll(). `dropped_tail_bytes` (optional) receives the
// size of a torn tail.
absl::StatusOr<std::vector<Record>> ReadRecordFile(absl::string_view path,
                                                   int64_t* dropped_tail_bytes = nullptr);

}  // namespace perfgraph::data

#endif  // PERFGRAPH_DATA_RECORD_FILE_H_
