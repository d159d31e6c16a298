// `perfgraph measure --shard K/N` and `perfgraph dataset merge` end to end on a tiny real model: two
// shards measured here split its kernels, and merging them (and a shard with itself, another
// machine's copy, a conflicting copy) behaves as tools/dataset_merge.h documents.
#include "tools/dataset_merge.h"

#include <filesystem>
#include <set>

#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/status_matchers.h"
#include "tests/tools/cli_runner.h"
#include "tests/temp_dir.h"

namespace perfgraph::tools {
namespace {

using ::perfgraph::testing::StatusIs;
using ::testing::HasSubstr;
using test::CliResult;
using test::RunPerfgraph;

const std::string kModel = std::string(PERFGRAPH_SOURCE_DIR) +
                           "/tests/testdata/cli/tiny_cnn_dynamic_batch.onnx --input-shape input=1,3,16,16";

std::string TempPath(const std::string& name) {
  auto dir = perfgraph::testing::ProcessTempDir() / "perfgraph_dataset_merge_test";
  std::filesystem::create_directories(dir);
  auto path = dir / name;
  std::filesystem::remove(path);
  return path.string();
}

std::vector<data::Record> Read(const std::string& path) {
  absl::StatusOr<std::vector<data::Record>> records = data::ReadRecordFile(path);
  EXPECT_TRUE(records.ok()) << records.status();
  return records.ok() ? *records : std::vector<data::Record>();
}

std::set<uint64_t> Kernels(const std::vector<data::Record>& records) {
  std::set<uint64_t> hashes;
  for (const data::Record& r : records) hashes.insert(r.kernel_hash());
  return hashes;
}

// Writes `records` to a new file with `machine` in its header.
void Write(const std::string& path, const std::vector<data::Record>& records,
           const data::MachineFingerprint& machine) {
  data::RecordWriterOptions options;
  options.machine = machine;
  absl::StatusOr<data::RecordWriter> writer = data::RecordWriter::Open(path, options);
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (const data::Record& r : records) ASSERT_TRUE(writer->Append(r).ok());
  ASSERT_TRUE(writer->Close().ok());
}

TEST(DatasetMergeTest, ShardsSplitTheKernelsAndMergeJoinsThem) {
  const std::string shard0 = TempPath("shard0.pgd"), shard1 = TempPath("shard1.pgd");
  for (const auto& [shard, out] : {std::pair<std::string, std::string>{"0/2", shard0}, {"1/2", shard1}}) {
    CliResult r = RunPerfgraph("measure --corpus " + kModel + " --out " + out +
                               " --configs-per-kernel 2 --shard " + shard);
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  const std::vector<data::Record> a = Read(shard0), b = Read(shard1);
  const std::set<uint64_t> ka = Kernels(a), kb = Kernels(b);
  // tiny_cnn fuses into 3 kernels: every one lands on exactly one shard.
  EXPECT_EQ(ka.size() + kb.size(), 3u);
  for (uint64_t h : ka) {
    EXPECT_EQ(h % 2, 0u);
    EXPECT_FALSE(kb.count(h));
  }
  for (uint64_t h : kb) EXPECT_EQ(h % 2, 1u);

  const std::string all = TempPath("all.pgd");
  CliResult merge = RunPerfgraph("dataset merge --json " + shard0 + " " + shard1 + " --out " + all);
  ASSERT_EQ(merge.exit_code, 0) << merge.out;
  nlohmann::json j = nlohmann::json::parse(merge.out.substr(merge.out.find('{')), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << merge.out;
  EXPECT_EQ(j["input_records"].get<size_t>(), a.size() + b.size());
  EXPECT_EQ(j["output_records"].get<size_t>(), a.size() + b.size());
  EXPECT_EQ(j["conflicts"], 0);
  EXPECT_EQ(Kernels(Read(all)).size(), 3u);
  absl::StatusOr<data::RecordReader> reader = data::RecordReader::Open(all);
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE(reader->header().machine.has_value());  // both shards: this machine

  // Never over an existing file; bad --shard values are usage errors.
  EXPECT_EQ(RunPerfgraph("dataset merge " + shard0 + " --out " + all).exit_code, 2);
  for (const char* bad : {"2/2", "x", "1/0", "-1/2"}) {
    CliResult r = RunPerfgraph("measure --corpus " + kModel + " --out " + TempPath("bad.pgd") +
                               " --shard " + bad);
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_THAT(r.out, HasSubstr("--shard must be K/N")) << bad;
  }
}

TEST(DatasetMergeTest, DuplicatesKeepEverySampleConflictsAndMachinesAreReported) {
  const std::string measured = TempPath("measured.pgd");
  ASSERT_EQ(RunPerfgraph("measure --corpus " + kModel + " --out " + measured +
                         " --configs-per-kernel 2").exit_code, 0);
  const std::vector<data::Record> records = Read(measured);
  ASSERT_FALSE(records.empty());
  absl::StatusOr<data::RecordReader> reader = data::RecordReader::Open(measured);
  ASSERT_TRUE(reader.ok() && reader->header().machine.has_value());
  const data::MachineFingerprint machine = *reader->header().machine;

  // A file merged with itself: the same records, each OK one with twice the samples, the second
  // copy's rounds numbered after the first's.
  DatasetMergeOptions self;
  self.inputs = {measured, measured};
  self.out = TempPath("self.pgd");
  absl::StatusOr<DatasetMergeSummary> s = MergeDatasets(self);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->output_records, static_cast<int64_t>(records.size()));
  EXPECT_EQ(s->conflicts, 0);
  const std::vector<data::Record> doubled = Read(self.out);
  ASSERT_EQ(doubled.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].status() != data::Record::MEASURE_STATUS_OK) continue;
    EXPECT_EQ(doubled[i].runtime_ns_size(), 2 * records[i].runtime_ns_size());
    EXPECT_EQ(doubled[i].sample_round_size(), doubled[i].runtime_ns_size());
    int max_round = 0, max_doubled = 0;
    for (int r : records[i].sample_round()) max_round = std::max(max_round, r);
    for (int r : doubled[i].sample_round()) max_doubled = std::max(max_doubled, r);
    EXPECT_GT(max_doubled, max_round);
  }

  // A copy in which the first OK record timed out: a conflict, and the OK record is kept.
  std::vector<data::Record> conflicting = records;
  size_t first_ok = 0;
  while (first_ok < conflicting.size() &&
         conflicting[first_ok].status() != data::Record::MEASURE_STATUS_OK) {
    ++first_ok;
  }
  ASSERT_LT(first_ok, conflicting.size());
  conflicting[first_ok].set_status(data::Record::MEASURE_STATUS_TIMEOUT);
  conflicting[first_ok].clear_runtime_ns();
  conflicting[first_ok].clear_sample_round();
  conflicting[first_ok].set_runtime_lower_bound_ns(1e9);
  conflicting[first_ok].set_error_message("test: timed out");
  const std::string conflict_file = TempPath("conflict.pgd");
  ASSERT_NO_FATAL_FAILURE(Write(conflict_file, conflicting, machine));
  DatasetMergeOptions c;
  c.inputs = {conflict_file, measured};
  c.out = TempPath("conflict_merged.pgd");
  absl::StatusOr<DatasetMergeSummary> cs = MergeDatasets(c);
  ASSERT_TRUE(cs.ok()) << cs.status();
  EXPECT_EQ(cs->conflicts, 1);
  ASSERT_EQ(cs->conflict_examples.size(), 1u);
  EXPECT_THAT(cs->conflict_examples[0], HasSubstr("the OK record kept"));
  EXPECT_EQ(Read(c.out)[first_ok].status(), data::Record::MEASURE_STATUS_OK);

  // Another machine's file: refused unless --allow-mixed-machines, then without a fingerprint.
  data::MachineFingerprint other = machine;
  other.cpu_model = "Another CPU";
  const std::string other_file = TempPath("other.pgd");
  ASSERT_NO_FATAL_FAILURE(Write(other_file, records, other));
  DatasetMergeOptions m;
  m.inputs = {measured, other_file};
  m.out = TempPath("mixed.pgd");
  EXPECT_THAT(MergeDatasets(m).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("--allow-mixed-machines")));
  EXPECT_FALSE(std::filesystem::exists(m.out));
  m.allow_mixed_machines = true;
  absl::StatusOr<DatasetMergeSummary> ms = MergeDatasets(m);
  ASSERT_TRUE(ms.ok()) << ms.status();
  EXPECT_TRUE(ms->mixed_machines);
  absl::StatusOr<data::RecordReader> mixed = data::RecordReader::Open(m.out);
  ASSERT_TRUE(mixed.ok());
  EXPECT_FALSE(mixed->header().machine.has_value());

  // Bad input.
  EXPECT_THAT(MergeDatasets({}).status(), StatusIs(absl::StatusCode::kInvalidArgument));
  DatasetMergeOptions missing;
  missing.inputs = {TempPath("does_not_exist.pgd")};
  missing.out = TempPath("never.pgd");
  EXPECT_THAT(MergeDatasets(missing).status(), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace perfgraph::tools
