#include "data/record_file.h"

#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "data/dataset_stats.h"
#include "data/kernel_proto.h"
#include "graph/kernel_hash.h"
#include "data/machine.h"
#include "data/perfgraph.pb.h"
#include "gmock/gmock.h"
#include "graph/featurize.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/status_matchers.h"

namespace perfgraph::data {
namespace {

using ::perfgraph::testing::IsOk;
using ::perfgraph::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

// A small elementwise kernel (p0 + p1 over f32[n, 16]); `n` varies the canonical hash.
graph::Kernel AddKernel(int64_t n) {
  graph::Kernel k;
  k.name = "fusion.add";
  k.kind = graph::FusionKind::kLoop;
  for (int i = 0; i < 2; ++i) {
    graph::Instruction p;
    p.id = i;
    p.name = "p" + std::to_string(i);
    p.opcode = graph::HloOpcode::kParameter;
    p.shape = graph::Shape::Make(graph::PrimitiveType::kF32, {n, 16});
    p.attrs.parameter_number = i;
    k.instructions.push_back(p);
  }
  graph::Instruction add;
  add.id = 2;
  add.name = "add";
  add.opcode = graph::HloOpcode::kAdd;
  add.shape = graph::Shape::Make(graph::PrimitiveType::kF32, {n, 16});
  add.operands = {0, 1};
  k.instructions.push_back(add);
  k.root = 2;
  return k;
}

// Record `id`: kernel AddKernel(1 + id % kernels), config `id` (tile size), program "prog<id % 3>".
Record MakeRecord(int id, int kernels = 4) {
  Record r;
  const graph::Kernel kernel = AddKernel(1 + id % kernels);
  r.set_program("prog" + std::to_string(id % 3));
  KernelToProto(kernel, r.mutable_kernel());
  r.set_kernel_hash(graph::CanonicalKernelHash(kernel));
  r.mutable_config()->add_tile_sizes(id);
  r.mutable_config()->add_tiled_dims(1);
  r.mutable_config()->set_vector_width(8);
  r.mutable_config()->set_parallel_loop(-1);
  r.mutable_config()->set_text("tile=" + std::to_string(id));
  r.add_runtime_ns(1000.0 + id);
  r.add_runtime_ns(1001.5 + id);
  r.set_status(Record::MEASURE_STATUS_OK);
  r.set_compile_time_ns(5'000'000 + id);
  r.set_feature_schema_version(graph::kFeatureSchemaVersion);
  r.set_task(Record::TASK_TILE);
  r.set_fusion_variant(id % 2);
  return r;
}

std::string TempPath() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string path = ::testing::TempDir() + "/record_file_test_" + info->name() + "_" +
                     std::to_string(getpid()) + ".pgd";
  std::remove(path.c_str());
  return path;
}

// A per-test file path under TempDir(), deleted when the test ends.
struct TempFile {
  explicit TempFile(const std::string& suffix = "") : path(TempPath() + suffix) {
    std::remove(path.c_str());
  }
  ~TempFile() { std::remove(path.c_str()); }
  const std::string path;
};

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Writes records 0..n-1 to a new file; returns the byte offset at which each record's frame starts.
std::vector<int64_t> WriteRecords(const std::string& path, int n,
                                  RecordWriterOptions options = {}) {
  absl::StatusOr<RecordWriter> writer = RecordWriter::Open(path, options);
  EXPECT_OK(writer);
  std::vector<int64_t> offsets;
  for (int i = 0; i < n; ++i) {
    offsets.push_back(writer->size_bytes());
    EXPECT_OK(writer->Append(MakeRecord(i)));
  }
  EXPECT_OK(writer->Close());
  return offsets;
}

uint32_t Crc(const std::string& bytes) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

void PutU32(uint32_t value, std::string& bytes, size_t at) {
  for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

void ExpectRecordsAre(const std::vector<Record>& records, int n) {
  ASSERT_EQ(static_cast<int>(records.size()), n);
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(records[i].SerializeAsString(), MakeRecord(i).SerializeAsString()) << "record " << i;
  }
}

TEST(RecordFileTest, WrittenRecordsReadBackIdenticallyWithTheHeader) {
  const TempFile temp;
  const std::string& path = temp.path;
  MachineFingerprint machine = CurrentMachine(2, "14.0.0");
  RecordWriterOptions options;
  options.machine = machine;
  options.writer = "record_file_test";
  WriteRecords(path, 100, options);

  absl::StatusOr<RecordReader> reader = RecordReader::Open(path);
  ASSERT_OK(reader);
  EXPECT_EQ(reader->header().format_version, kRecordFileFormatVersion);
  EXPECT_EQ(reader->header().feature_schema_version,
            static_cast<uint32_t>(graph::kFeatureSchemaVersion));
  ASSERT_TRUE(reader->header().machine.has_value());
  EXPECT_EQ(*reader->header().machine, machine);
  EXPECT_EQ(reader->header().writer, "record_file_test");
  EXPECT_GT(reader->header().created_unix_seconds, 0);
  absl::StatusOr<std::vector<Record>> records = reader->ReadAll();
  ASSERT_OK(records);
  ExpectRecordsAre(*records, 100);
  EXPECT_EQ(reader->dropped_tail_bytes(), 0);
  EXPECT_EQ(reader->records_read(), 100);
  EXPECT_EQ(ReadBytes(path).substr(0, 8), "PGDATA01");
}

TEST(RecordFileTest, EmptyDatasetHasAHeaderAndNoRecords) {
  const TempFile temp;
  const std::string& path = temp.path;
  WriteRecords(path, 0);
  int64_t dropped = -1;
  absl::StatusOr<std::vector<Record>> records = ReadRecordFile(path, &dropped);
  ASSERT_OK(records);
  EXPECT_TRUE(records->empty());
  EXPECT_EQ(dropped, 0);
}

TEST(RecordFileTest, ReopeningAppendsAfterTheExistingRecords) {
  const TempFile temp;
  const std::string& path = temp.path;
  WriteRecords(path, 10);
  {
    absl::StatusOr<RecordWriter> writer = RecordWriter::Open(path);
    ASSERT_OK(writer);
    EXPECT_EQ(writer->num_records(), 10);
    EXPECT_EQ(writer->truncated_tail_bytes(), 0);
    for (int i = 10; i < 15; ++i) ASSERT_OK(writer->Append(MakeRecord(i)));
    EXPECT_EQ(writer->num_records(), 15);
  }
  absl::StatusOr<std::vector<Record>> records = ReadRecordFile(path);
  ASSERT_OK(records);
  ExpectRecordsAre(*records, 15);
}

TEST(RecordFileTest, TornTailAtEveryCutIsReportedAndTruncatedBeforeAppending) {
  const TempFile temp;
  const std::string& path = temp.path;
  const std::vector<int64_t> offsets = WriteRecords(path, 3);
  const std::string full = ReadBytes(path);
  const int64_t last_start = offsets[2];
  const int64_t last_size = static_cast<int64_t>(full.size()) - last_start;
  for (int64_t kept = 1; kept < last_size; ++kept) {
    SCOPED_TRACE("kept " + std::to_string(kept) + " of " + std::to_string(last_size) + " bytes");
    WriteBytes(path, full.substr(0, last_start + kept));
    int64_t dropped = -1;
    absl::StatusOr<std::vector<Record>> records = ReadRecordFile(path, &dropped);
    ASSERT_OK(records);
    ExpectRecordsAre(*records, 2);
    EXPECT_EQ(dropped, kept);

    absl::StatusOr<RecordWriter> writer = RecordWriter::Open(path);
    ASSERT_OK(writer);
    EXPECT_EQ(writer->truncated_tail_bytes(), kept);
    EXPECT_EQ(writer->num_records(), 2);
    ASSERT_OK(writer->Append(MakeRecord(2)));
    ASSERT_OK(writer->Close());
    EXPECT_EQ(ReadBytes(path), full);  // byte-identical to the uninterrupted file
  }
}

TEST(RecordFileTest, CorruptPayloadInTheMiddleIsDataLossNamingFileRecordAndOffset) {
  const TempFile temp;
  const std::string& path = temp.path;
  const std::vector<int64_t> offsets = WriteRecords(path, 5);
  std::string bytes = ReadBytes(path);
  bytes[offsets[2] + 20] ^= 0x40;  // inside record 2's payload
  WriteBytes(path, bytes);

  absl::StatusOr<RecordReader> reader = RecordReader::Open(path);
  ASSERT_OK(reader);
  Record record;
  for (int i = 0; i < 2; ++i) ASSERT_THAT(reader->Next(&record), IsOk());
  const auto expected_message =
      AllOf(HasSubstr(path), HasSubstr("record 2"),
            HasSubstr("byte offset " + std::to_string(offsets[2])), HasSubstr("checksum"));
  EXPECT_THAT(reader->Next(&record), StatusIs(absl::StatusCode::kDataLoss, expected_message));
  // The error sticks: the reader does not skip ahead.
  EXPECT_THAT(reader->Next(&record), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ReadRecordFile(path), StatusIs(absl::StatusCode::kDataLoss, expected_message));
  // A writer refuses to append to a corrupt file and leaves it untouched.
  EXPECT_THAT(RecordWriter::Open(path), StatusIs(absl::StatusCode::kDataLoss, expected_message));
  EXPECT_EQ(ReadBytes(path), bytes);
}

TEST(RecordFileTest, CorruptLengthFieldIsDataLossNotATornTail) {
  const TempFile temp;
  const std::string& path = temp.path;
  const std::vector<int64_t> offsets = WriteRecords(path, 5);
  std::string bytes = ReadBytes(path);
  bytes[offsets[1] + 2] ^= 0x01;  // length of record 1 grows by 64 KiB: would reach past EOF
  WriteBytes(path, bytes);
  EXPECT_THAT(ReadRecordFile(path),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("record 1"),
                             HasSubstr("byte offset " + std::to_string(offsets[1])))));
  EXPECT_THAT(RecordWriter::Open(path), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(ReadBytes(path), bytes);
}

TEST(RecordFileTest, AbsurdLengthIsRejectedBeforeAllocating) {
  const TempFile temp;
  const std::string& path = temp.path;
  WriteRecords(path, 2);
  std::string bytes = ReadBytes(path);
  // A frame claiming a 4 GiB - 16 payload, with a valid length checksum, then some garbage.
  std::string frame(8, '\0');
  PutU32(0xFFFFFFF0u, frame, 0);
  PutU32(Crc(frame.substr(0, 4)), frame, 4);
  bytes += frame + std::string(100, 'x');
  WriteBytes(path, bytes);
  EXPECT_THAT(ReadRecordFile(path), StatusIs(absl::StatusCode::kDataLoss,
                                             AllOf(HasSubstr("record 2"), HasSubstr("4294967280"),
                                                   HasSubstr("record limit"))));
}

TEST(RecordFileTest, ZeroFilledTailIsCorruptionNotEmptyRecords) {
  // What a filesystem may leave after a power loss: the file extended with zeros.
  const TempFile temp;
  const std::string& path = temp.path;
  WriteRecords(path, 2);
  WriteBytes(path, ReadBytes(path) + std::string(64, '\0'));
  EXPECT_THAT(ReadRecordFile(path), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("record 2")));
}

TEST(RecordFileTest, UnparseablePayloadWithValidChecksumIsDataLoss) {
  const TempFile temp;
  const std::string& path = temp.path;
  WriteRecords(path, 1);
  std::string payload = "\xff\xff\xff";  // an invalid protobuf tag
  std::string frame(8, '\0');
  PutU32(static_cast<uint32_t>(payload.size()), frame, 0);
  PutU32(Crc(frame.substr(0, 4)), frame, 4);
  frame += payload;
  frame += std::string(4, '\0');
  PutU32(Crc(payload), frame, frame.size() - 4);
  WriteBytes(path, ReadBytes(path) + frame);
  EXPECT_THAT(ReadRecordFile(path), StatusIs(absl::StatusCode::kDataLoss,
                                             AllOf(HasSubstr("record 1"), HasSubstr("parse"))));
}

TEST(RecordFileTest, AnotherFileFormatIsNotAPerfgraphDataset) {
  const TempFile temp;
  const std::string& path = temp.path;
  const std::string bytes = "name,runtime\nconv,12.5\nrelu,1.0\n";
  WriteBytes(path, bytes);
  const auto message = AllOf(HasSubstr(path), HasSubstr("not a perfgraph dataset"));
  EXPECT_THAT(RecordReader::Open(path), StatusIs(absl::StatusCode::kInvalidArgument, message));
  EXPECT_THAT(RecordWriter::Open(path), StatusIs(absl::StatusCode::kInvalidArgument, message));
  EXPECT_EQ(ReadBytes(path), bytes);  // untouched
  WriteBytes(path, "PX");             // shorter than the magic and not a prefix of it
  EXPECT_THAT(RecordReader::Open(path), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RecordFileTest, OtherFeatureSchemaVersionIsReadAndRefusedOnlyWhenAskedNamingBothVersions) {
  const TempFile temp;
  const std::string& path = temp.path;
  WriteRecords(path, 3);
  std::string bytes = ReadBytes(path);
  PutU32(999, bytes, 12);
  // Recompute the header CRC (bytes [0,20) + header proto) so only the version differs.
  const uint32_t body_size =
      static_cast<unsigned char>(bytes[16]) | static_cast<unsigned char>(bytes[17]) << 8;
  PutU32(Crc(bytes.substr(0, 20) + bytes.substr(24, body_size)), bytes, 20);
  WriteBytes(path, bytes);
  const auto message =
      AllOf(HasSubstr(path), HasSubstr("feature schema version 999"),
            HasSubstr("feature schema version " + std::to_string(graph::kFeatureSchemaVersion)));
  EXPECT_THAT(RecordReader::Open(path, graph::kFeatureSchemaVersion),
              StatusIs(absl::StatusCode::kFailedPrecondition, message));
  // Features are computed at load: files of another feature schema are read and appended to.
  ASSERT_OK(RecordWriter::Open(path));
  absl::StatusOr<RecordReader> reader = RecordReader::Open(path);
  ASSERT_OK(reader);
  EXPECT_EQ(reader->header().feature_schema_version, 999u);
  absl::StatusOr<std::vector<Record>> records = reader->ReadAll();
  ASSERT_OK(records);
  EXPECT_EQ(records->size(), 3u);
}

TEST(RecordFileTest, CorruptHeaderIsDataLoss) {
  const TempFile temp;
  const std::string& path = temp.path;
  MachineFingerprint machine;
  machine.cpu_model = "Test CPU";
  RecordWriterOptions options;
  options.machine = machine;
  WriteRecords(path, 1, options);
  std::string bytes = ReadBytes(path);
  bytes[30] ^= 0x08;  // inside the FileHeader proto
  WriteBytes(path, bytes);
  EXPECT_THAT(RecordReader::Open(path),
              StatusIs(absl::StatusCode::kDataLoss, AllOf(HasSubstr(path), HasSubstr("header"))));
  EXPECT_THAT(RecordWriter::Open(path), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(RecordFileTest, EmptyOrTornHeaderFileIsDataLossForReadersAndReinitialisedByWriters) {
  const TempFile temp;
  const std::string& path = temp.path;
  WriteRecords(path, 1);
  const std::string full = ReadBytes(path);
  for (size_t kept : {size_t{0}, size_t{5}, size_t{8}, size_t{23}, size_t{30}}) {
    SCOPED_TRACE("kept " + std::to_string(kept));
    WriteBytes(path, full.substr(0, kept));
    EXPECT_THAT(RecordReader::Open(path),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("truncated header")));
    absl::StatusOr<RecordWriter> writer = RecordWriter::Open(path);
    ASSERT_OK(writer);
    EXPECT_EQ(writer->truncated_tail_bytes(), static_cast<int64_t>(kept));
    ASSERT_OK(writer->Append(MakeRecord(0)));
    ASSERT_OK(writer->Close());
    absl::StatusOr<std::vector<Record>> records = ReadRecordFile(path);
    ASSERT_OK(records);
    ExpectRecordsAre(*records, 1);
  }
}

TEST(RecordFileTest, MissingFileIsNotFoundForReaders) {
  EXPECT_THAT(RecordReader::Open(::testing::TempDir() + "/does_not_exist.pgd"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("does_not_exist.pgd")));
}

TEST(RecordFileTest, AppendRejectsIncompleteRecords) {
  const TempFile temp;
  const std::string& path = temp.path;
  absl::StatusOr<RecordWriter> writer = RecordWriter::Open(path);
  ASSERT_OK(writer);
  Record r = MakeRecord(0);
  r.set_feature_schema_version(graph::kFeatureSchemaVersion + 1);
  EXPECT_THAT(writer->Append(r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(path), HasSubstr("feature_schema_version"))));
  r = MakeRecord(0);
  r.set_status(Record::MEASURE_STATUS_UNSPECIFIED);
  EXPECT_THAT(writer->Append(r), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("status")));
  r = MakeRecord(0);
  r.set_task(Record::TASK_UNSPECIFIED);
  EXPECT_THAT(writer->Append(r), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("task")));
  r = MakeRecord(0);
  r.set_kernel_hash(0);
  EXPECT_THAT(writer->Append(r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kernel_hash")));
  EXPECT_EQ(writer->num_records(), 0);
  ASSERT_OK(writer->Close());
  EXPECT_THAT(writer->Append(MakeRecord(0)), StatusIs(absl::StatusCode::kFailedPrecondition));
  absl::StatusOr<std::vector<Record>> records = ReadRecordFile(path);
  ASSERT_OK(records);
  EXPECT_TRUE(records->empty());
}

TEST(RecordFileTest, SecondWriterOnTheSameFileIsUnavailable) {
  const TempFile temp;
  const std::string& path = temp.path;
  absl::StatusOr<RecordWriter> first = RecordWriter::Open(path);
  ASSERT_OK(first);
  EXPECT_THAT(RecordWriter::Open(path), StatusIs(absl::StatusCode::kUnavailable, HasSubstr(path)));
  ASSERT_OK(first->Close());
  EXPECT_OK(RecordWriter::Open(path));
}

TEST(RecordFileTest, AppendingMeasurementsOfAnotherMachineIsFailedPrecondition) {
  const TempFile temp;
  const std::string& path = temp.path;
  MachineFingerprint a;
  a.cpu_model = "CPU A";
  a.num_threads = 4;
  RecordWriterOptions options;
  options.machine = a;
  WriteRecords(path, 2, options);
  MachineFingerprint b = a;
  b.num_threads = 8;
  options.machine = b;
  EXPECT_THAT(RecordWriter::Open(path, options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("4 threads used"), HasSubstr("8 threads used"))));
  options.machine = a;
  EXPECT_OK(RecordWriter::Open(path, options));
  EXPECT_OK(RecordWriter::Open(path));  // no machine given: not checked
}

TEST(RecordFileTest, ForeignFeatureSchemaIsKeptInTheHeaderAndNeverMixedWithAnother) {
  const TempFile temp;
  const std::string& path = temp.path;
  RecordWriterOptions options;
  options.foreign_features = ForeignFeatureSchema{"tpugraphs-tile", 140, 24};
  WriteRecords(path, 2, options);
  absl::StatusOr<RecordReader> reader = RecordReader::Open(path);
  ASSERT_OK(reader);
  ASSERT_TRUE(reader->header().foreign_features.has_value());
  EXPECT_EQ(*reader->header().foreign_features, *options.foreign_features);
  EXPECT_EQ(FeatureSchemaText(reader->header().foreign_features),
            "tpugraphs-tile (140 node, 24 config features)");
  EXPECT_OK(RecordWriter::Open(path, options));  // the same schema appends
  RecordWriterOptions other = options;
  other.foreign_features->num_node_features = 139;
  EXPECT_THAT(RecordWriter::Open(path, other),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("holds records of feature schema tpugraphs-tile (140 node"),
                             HasSubstr("refusing to append records of tpugraphs-tile (139 node"))));
  EXPECT_THAT(RecordWriter::Open(path, RecordWriterOptions()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("records of perfgraph")));
  // A perfgraph file has no foreign schema.
  const TempFile own;
  WriteRecords(own.path, 1, RecordWriterOptions());
  absl::StatusOr<RecordReader> own_reader = RecordReader::Open(own.path);
  ASSERT_OK(own_reader);
  EXPECT_FALSE(own_reader->header().foreign_features.has_value());
}

TEST(RecordFileTest, AppendingFromTheSameCpuWithAnotherOsBuildOrCompilerIsAllowed) {
  // A VM's kernel build string changes under a long measurement; it does not change the code Halide
  // generates, so the file keeps growing (its header keeps the first run's fingerprint).
  const TempFile temp;
  const std::string& path = temp.path;
  MachineFingerprint a;
  a.cpu_model = "CPU A";
  a.num_threads = 1;
  a.isa = "sse4_1 sse4_2 avx avx2 fma";
  a.os = "Linux 6.18.44-fc-v595";
  a.compiler_version = "GCC 12.2.0";
  RecordWriterOptions options;
  options.machine = a;
  WriteRecords(path, 2, options);
  MachineFingerprint b = a;
  b.os = "Linux 6.18.44-fc-v657";
  b.compiler_version = "GCC 13.1.0";
  options.machine = b;
  {
    absl::StatusOr<RecordWriter> writer = RecordWriter::Open(path, options);
    ASSERT_OK(writer);
    EXPECT_EQ(writer->header().machine->os, a.os);
  }
  // A file written before the ISA was recorded ("" = unknown) accepts any ISA.
  MachineFingerprint unknown_isa = a;
  unknown_isa.isa = "";
  const TempFile old_file(".old.pgd");
  options.machine = unknown_isa;
  WriteRecords(old_file.path, 1, options);
  options.machine = a;
  EXPECT_OK(RecordWriter::Open(old_file.path, options));
}

TEST(RecordFileTest, AppendingFromACpuWithAnotherIsaOrCachesIsFailedPrecondition) {
  const TempFile temp;
  const std::string& path = temp.path;
  MachineFingerprint a;
  a.cpu_model = "AMD EPYC";
  a.l1d_cache_bytes = 32 << 10;
  a.isa = "sse4_1 sse4_2 avx avx2 fma";
  RecordWriterOptions options;
  options.machine = a;
  WriteRecords(path, 2, options);
  // Same model name, another host type behind the hypervisor.
  MachineFingerprint b = a;
  b.l1d_cache_bytes = 48 << 10;
  b.isa = "sse4_1 sse4_2 avx avx2 fma avx512f";
  options.machine = b;
  EXPECT_THAT(RecordWriter::Open(path, options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("L1d 32 KiB vs 48 KiB"), HasSubstr("isa"))));
}

TEST(RecordFileTest, SyncEveryRecordStillReadsBack) {
  const TempFile temp;
  const std::string& path = temp.path;
  RecordWriterOptions options;
  options.sync_every_n_records = 1;
  WriteRecords(path, 3, options);
  absl::StatusOr<std::vector<Record>> records = ReadRecordFile(path);
  ASSERT_OK(records);
  ExpectRecordsAre(*records, 3);
}

// -------------------------------------------------------------------------------------------------
// Machine fingerprint

TEST(MachineTest, ParseCacheSizeUsesBinaryMultiples) {
  EXPECT_EQ(ParseCacheSize("48K"), 48 * 1024);
  EXPECT_EQ(ParseCacheSize("32768K\n"), 32 * 1024 * 1024);
  EXPECT_EQ(ParseCacheSize("2M"), 2 * 1024 * 1024);
  EXPECT_EQ(ParseCacheSize("512"), 512);
  EXPECT_EQ(ParseCacheSize("K"), -1);
  EXPECT_EQ(ParseCacheSize("-4K"), -1);
  EXPECT_EQ(ParseCacheSize("12Q"), -1);
  EXPECT_EQ(ParseCacheSize("99999999999999G"), -1);
}

TEST(MachineTest, CurrentMachineDescribesThisProcess) {
  const MachineFingerprint machine = CurrentMachine(3, "14.0.0");
  EXPECT_EQ(machine.num_threads, 3);
  EXPECT_EQ(machine.halide_version, "14.0.0");
  EXPECT_EQ(machine.logical_cores, sysconf(_SC_NPROCESSORS_ONLN));
  EXPECT_GE(machine.physical_cores, 1);
  EXPECT_LE(machine.physical_cores, machine.logical_cores);
  EXPECT_THAT(machine.compiler_version, ::testing::AnyOf(HasSubstr("GCC"), HasSubstr("Clang")));
  EXPECT_THAT(machine.os, HasSubstr("Linux"));
  // Cache sizes come from sysfs, absent in some containers: when present they are ordered.
  if (machine.l1d_cache_bytes > 0 && machine.l2_cache_bytes > 0) {
    EXPECT_LT(machine.l1d_cache_bytes, machine.l2_cache_bytes);
  }
  MachineFingerprintProto proto;
  MachineToProto(machine, &proto);
  EXPECT_EQ(MachineFromProto(proto), machine);
  EXPECT_TRUE(SameMeasuringMachine(machine, machine));
}

TEST(MachineTest, IsaKeepsTheVectorFlagsInAFixedOrder) {
  EXPECT_EQ(IsaFromCpuFlags("fpu vme avx2 sse4_2 fma avx sse4_1 f16c avx512f avx512bw hypervisor"),
            "sse4_1 sse4_2 avx avx2 fma f16c avx512f avx512bw");
  EXPECT_EQ(IsaFromCpuFlags("fp asimd evtstrm aes sve"), "asimd sve");
  EXPECT_EQ(IsaFromCpuFlags(""), "");
  // Substrings of a flag do not count (avx512f is not avx).
  EXPECT_EQ(IsaFromCpuFlags("avx512f"), "avx512f");
}

TEST(MachineTest, MeasuringMachineDifferenceNamesEveryDifferingField) {
  MachineFingerprint a;
  a.cpu_model = "CPU";
  a.l2_cache_bytes = 1 << 20;
  a.num_threads = 1;
  a.halide_version = "14.0.0";
  a.isa = "avx avx2";
  MachineFingerprint b = a;
  b.os = "another kernel build";
  b.compiler_version = "another compiler";
  EXPECT_EQ(MeasuringMachineDifference(a, b), "");
  EXPECT_TRUE(SameMeasuringMachine(a, b));
  EXPECT_NE(a, b);  // operator== stays exact
  b.l2_cache_bytes = 2 << 20;
  b.num_threads = 2;
  b.halide_version = "16.0.0";
  EXPECT_EQ(MeasuringMachineDifference(a, b),
            "L2 1024 KiB vs 2048 KiB; threads used 1 vs 2; Halide '14.0.0' vs '16.0.0'");
  EXPECT_FALSE(SameMeasuringMachine(a, b));
}

TEST(MachineTest, UnknownCacheSizesDoNotMakeMachinesDiffer) {
  // Files written where neither sysfs nor CPUID's newer leaves gave cache sizes hold 0 (unknown).
  MachineFingerprint known;
  known.cpu_model = "AMD EPYC";
  known.l1d_cache_bytes = 48 << 10;
  known.l2_cache_bytes = 1 << 20;
  known.l3_cache_bytes = int64_t{508} << 20;
  known.num_threads = 1;
  MachineFingerprint unknown = known;
  unknown.l1d_cache_bytes = unknown.l2_cache_bytes = unknown.l3_cache_bytes = 0;
  EXPECT_TRUE(SameMeasuringMachine(known, unknown));
  unknown.l2_cache_bytes = 512 << 10;  // known on both sides and different: still a difference
  EXPECT_EQ(MeasuringMachineDifference(known, unknown), "L2 1024 KiB vs 512 KiB");
}

TEST(MachineTest, CurrentMachineKnowsItsCachesOnX86) {
#if defined(__x86_64__) || defined(__i386__)
  // AMD's older cache leaves 0x80000005/6 exist on every AMD x86-64 CPU, so there one of sysfs, the
  // deterministic cache leaf or those answers, VMs included (the reference VM has neither sysfs
  // cache entries nor a filled leaf 0x8000001D). Elsewhere only sysfs or leaf 4 can answer.
  const MachineFingerprint machine = CurrentMachine(1, "14.0.0");
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::stringstream cpuinfo_text;
  cpuinfo_text << cpuinfo.rdbuf();
  const bool amd = absl::StrContains(cpuinfo_text.str(), "AuthenticAMD");
  if (!amd && ReadCpuidCaches().l1d_bytes == 0 &&
      !std::filesystem::exists("/sys/devices/system/cpu/cpu0/cache/index0/size")) {
    GTEST_SKIP() << "neither sysfs nor CPUID leaf 4 gives cache sizes here";
  }
  EXPECT_GT(machine.l1d_cache_bytes, 0) << machine.ToString();
  EXPECT_GT(machine.l2_cache_bytes, machine.l1d_cache_bytes) << machine.ToString();
#else
  GTEST_SKIP() << "CPUID is x86 only";
#endif
}

TEST(MachineTest, CpuidCachesAgreeWithSysfsWhereBothAreKnown) {
  // Linux fills sysfs from the same CPUID leaves, so where both answer they agree; CPUID is the
  // fallback for containers without sysfs cache entries.
  const CpuidCaches cpuid = ReadCpuidCaches();
  const MachineFingerprint machine = CurrentMachine(1, "14.0.0");
#if defined(__x86_64__) || defined(__i386__)
  if (cpuid.l1d_bytes == 0) GTEST_SKIP() << "this hypervisor hides CPUID's cache leaves";
  EXPECT_EQ(cpuid.l1d_bytes, machine.l1d_cache_bytes);
  if (cpuid.l2_bytes > 0) EXPECT_EQ(cpuid.l2_bytes, machine.l2_cache_bytes);
#else
  EXPECT_EQ(cpuid.l1d_bytes, 0);
#endif
}

// -------------------------------------------------------------------------------------------------
// Dataset stats

TEST(DatasetStatsTest, CountsRecordsKernelsProgramsConfigsAndStatuses) {
  const TempFile temp_a, temp_b(".second.pgd");
  const std::string& a = temp_a.path;
  const std::string& b = temp_b.path;
  MachineFingerprint machine;
  machine.cpu_model = "Test CPU";
  RecordWriterOptions options;
  options.machine = machine;
  // File a: records 0..11 over 4 kernels (id % 4) -> 3 distinct configs per kernel.
  WriteRecords(a, 12, options);
  {
    // File b: kernel 0 again with 2 new configs and a repeated one, one invalid, one timeout; a
    // program that is new; then a torn tail.
    absl::StatusOr<RecordWriter> writer = RecordWriter::Open(b, options);
    ASSERT_OK(writer);
    for (int id : {100, 104, 0}) {  // all kernel 0 (id % 4 == 0); config 0 repeats file a's
      Record r = MakeRecord(id);
      if (id == 104) r.set_status(Record::MEASURE_STATUS_INVALID);
      if (id == 0) {
        r.set_status(Record::MEASURE_STATUS_TIMEOUT);
        r.set_program("another_model");
      }
      ASSERT_OK(writer->Append(r));
    }
  }
  WriteBytes(b, ReadBytes(b) + std::string("\x10\x00\x00", 3));

  absl::StatusOr<DatasetStats> stats = ComputeStats({a, b});
  ASSERT_OK(stats);
  EXPECT_EQ(stats->records, 15);
  EXPECT_EQ(stats->kernels, 4);
  EXPECT_EQ(stats->programs, 4);  // prog0, prog1, prog2, another_model
  // Kernel 0: configs {0, 4, 8, 100, 104} = 5; kernels 1..3: 3 each.
  EXPECT_EQ(stats->configs_per_kernel_min, 3);
  EXPECT_EQ(stats->configs_per_kernel_median, 3.0);
  EXPECT_EQ(stats->statuses.ok, 13);
  EXPECT_EQ(stats->statuses.invalid, 1);
  EXPECT_EQ(stats->statuses.timeout, 1);
  ASSERT_TRUE(stats->machine.has_value());
  EXPECT_EQ(stats->machine->cpu_model, "Test CPU");
  EXPECT_FALSE(stats->machines_differ);
  EXPECT_EQ(stats->dropped_tail_bytes, 3);
  ASSERT_EQ(stats->files.size(), 2u);
  EXPECT_EQ(stats->files[1].records, 3);

  const nlohmann::json json = nlohmann::json::parse(StatsToJson(*stats));
  EXPECT_EQ(json["records"], 15);
  EXPECT_EQ(json["kernels"], 4);
  EXPECT_EQ(json["programs"], 4);
  EXPECT_EQ(json["configs_per_kernel_min"], 3);
  EXPECT_EQ(json["configs_per_kernel_median"], 3.0);
  EXPECT_EQ(json["statuses"]["ok"], 13);
  EXPECT_EQ(json["statuses"]["invalid"], 1);
  EXPECT_EQ(json["statuses"]["timeout"], 1);
  EXPECT_EQ(json["machine"]["cpu_model"], "Test CPU");
  EXPECT_EQ(json["files"][1]["dropped_tail_bytes"], 3);
}

TEST(DatasetStatsTest, MedianOfAnEvenNumberOfKernelsIsTheMeanOfTheMiddleTwo) {
  const TempFile temp;
  const std::string& path = temp.path;
  // 3 records over 2 kernels: kernel 0 gets ids 0 and 2, kernel 1 gets id 1 -> counts {1, 2}.
  absl::StatusOr<RecordWriter> writer = RecordWriter::Open(path);
  ASSERT_OK(writer);
  for (int id = 0; id < 3; ++id) ASSERT_OK(writer->Append(MakeRecord(id, /*kernels=*/2)));
  ASSERT_OK(writer->Close());
  absl::StatusOr<DatasetStats> stats = ComputeStats({path});
  ASSERT_OK(stats);
  EXPECT_EQ(stats->configs_per_kernel_min, 1);
  EXPECT_EQ(stats->configs_per_kernel_median, 1.5);
  EXPECT_FALSE(stats->machine.has_value());
  EXPECT_TRUE(nlohmann::json::parse(StatsToJson(*stats))["machine"].is_null());
}

TEST(DatasetStatsTest, StoredConfigFeaturesDoNotMakeAConfigDistinct) {
  // Older files store the derived config features, newer ones do not: the same measured config in
  // both counts once. A config that differs in a raw field still counts separately.
  const TempFile temp;
  const std::string& path = temp.path;
  absl::StatusOr<RecordWriter> writer = RecordWriter::Open(path);
  ASSERT_OK(writer);
  Record old_record = MakeRecord(0);
  for (int i = 0; i < 25; ++i) old_record.mutable_config()->add_features(0.5f * i);
  ASSERT_OK(writer->Append(old_record));
  ASSERT_OK(writer->Append(MakeRecord(0)));
  Record other = MakeRecord(0);
  other.mutable_config()->set_vector_width(4);
  ASSERT_OK(writer->Append(other));
  ASSERT_OK(writer->Close());
  absl::StatusOr<DatasetStats> stats = ComputeStats({path});
  ASSERT_OK(stats);
  EXPECT_EQ(stats->kernels, 1);
  EXPECT_EQ(stats->configs_per_kernel_min, 2);
}

TEST(DatasetStatsTest, ErrorsNameTheFile) {
  EXPECT_THAT(ComputeStats({}), StatusIs(absl::StatusCode::kInvalidArgument));
  const TempFile temp;
  const std::string& path = temp.path;
  WriteBytes(path, "not a dataset at all");
  EXPECT_THAT(ComputeStats({path}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(path)));
}

}  // namespace
}  // namespace perfgraph::data
