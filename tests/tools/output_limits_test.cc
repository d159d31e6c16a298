// Outputs (README "Limits"): one writer per `measure` / `train` output (graph::OutputLock, with
// real processes), data paths that stay inside their root (`dataset import --hlo`), and writers
// that fail cleanly on an unwritable directory or a full disk (RLIMIT_FSIZE in a forked child):
// an error naming the path and no truncated file left behind.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "graph/featurize.h"
#include "gmock/gmock.h"
#include "graph/atomic_file.h"
#include "graph/output_lock.h"
#include "gtest/gtest.h"
#include "kernels/weights.h"
#include "tests/child_process.h"
#include "tests/status_matchers.h"
#include "tests/tools/cli_runner.h"
#include "tools/dataset_import.h"

namespace perfgraph::tools {
namespace {

using ::perfgraph::testing::ChildLimits;
using ::perfgraph::testing::ChildResult;
using ::perfgraph::testing::RunInChild;
using ::perfgraph::testing::StatusIs;
using test::CliResult;
using test::RunPerfgraph;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

const std::string kByo = std::string(PERFGRAPH_SOURCE_DIR) + "/tests/testdata/byo";
constexpr unsigned kNobody = 65534;

std::string Describe(const absl::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(status.code()), "|", status.message());
}

// Files in `dir` whose name starts with `prefix`.
std::vector<std::string> FilesStartingWith(const fs::path& dir, const std::string& prefix) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) names.push_back(name);
  }
  return names;
}

class OutputLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("output_limits_test_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "hlo");
    fs::create_directories(dir_ / "elsewhere");
    fs::permissions(dir_, fs::perms::all);  // the unprivileged child must get in
    fs::permissions(dir_ / "hlo", fs::perms::all);
    fs::copy_file(kByo + "/mlp_block.hlo", dir_ / "hlo" / "mlp_block.hlo");
    fs::copy_file(kByo + "/mlp_block.hlo", dir_ / "elsewhere" / "x.hlo");
  }
  void TearDown() override {
    std::error_code ignored;
    fs::permissions(dir_, fs::perms::all, ignored);
    fs::remove_all(dir_, ignored);
  }
  std::string Csv(const std::string& name, const std::string& rows) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << "module,kernel,config,runtime_ns\n" << rows;
    return path;
  }
  DatasetImportOptions Import(const std::string& csv, const std::string& out) {
    DatasetImportOptions options;
    options.hlo_dir = (dir_ / "hlo").string();
    options.runtimes_csv = csv;
    options.out = out;
    return options;
  }

  fs::path dir_;
};

// ----- Locks -----

TEST_F(OutputLimitsTest, SecondLockOnTheSameOutputNamesTheOwnerPid) {
  const std::string out = (dir_ / "data.pgd").string();
  {
    auto first = graph::OutputLock::Acquire(out, "--out DATASET");
    ASSERT_OK(first);
    EXPECT_EQ(first->lock_path(), out + ".lock");
    EXPECT_EQ(graph::OutputLockOwner(out), ::getpid());
    EXPECT_THAT(graph::OutputLock::Acquire(out, "--out DATASET"),
                StatusIs(absl::StatusCode::kUnavailable,
                         AllOf(HasSubstr(out), HasSubstr(absl::StrCat("in use by pid ", ::getpid())))));
    // Another output is independent.
    EXPECT_OK(graph::OutputLock::Acquire((dir_ / "other.pgd").string(), "--out DATASET"));
  }
  EXPECT_FALSE(fs::exists(out + ".lock"));  // released and removed
  EXPECT_OK(graph::OutputLock::Acquire(out, "--out DATASET"));
  // A directory output with a trailing slash locks "<dir>.lock".
  EXPECT_EQ(graph::OutputLockPath((dir_ / "model").string() + "/"), (dir_ / "model").string() + ".lock");
}

// Two real processes: a child holds the lock; the parent is refused with the child's pid; once the
// child is gone (exited without releasing: the file stays, the flock does not) the parent gets it.
TEST_F(OutputLimitsTest, LockHeldByAnotherProcessIsReportedWithItsPidAndTakenOverWhenItDies) {
  const std::string out = (dir_ / "model").string();
  int ready[2], release[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(release), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    close(release[1]);
    auto lock = graph::OutputLock::Acquire(out, "--out MODEL_DIR");
    const char ok = lock.ok() ? '1' : '0';
    if (write(ready[1], &ok, 1) != 1) _exit(1);
    char byte;
    (void)!read(release[0], &byte, 1);  // until the parent closes its end
    _exit(0);                          // no destructor: the lock file is left behind
  }
  close(ready[1]);
  close(release[0]);
  char ok = 0;
  ASSERT_EQ(read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, '1');
  EXPECT_THAT(graph::OutputLock::Acquire(out, "--out MODEL_DIR"),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr(absl::StrCat("'", out, "' is in use by pid ", child))));
  close(release[1]);
  int status = 0;
  waitpid(child, &status, 0);
  close(ready[0]);
  EXPECT_TRUE(fs::exists(out + ".lock"));
  auto taken_over = graph::OutputLock::Acquire(out, "--out MODEL_DIR");
  ASSERT_OK(taken_over);
  EXPECT_EQ(graph::OutputLockOwner(out), ::getpid());
}

// The real binaries: `perfgraph train` and `perfgraph measure` refuse an output this test process
// holds. Both are pointed at inputs that do not exist, so even without the lock they could only
// fail (differently): no training and no hardware measurement can start.
TEST_F(OutputLimitsTest, TrainAndMeasureRefuseAnOutputInUse) {
  const std::string model = (dir_ / "model").string();
  const std::string dataset = (dir_ / "data.pgd").string();
  auto model_lock = graph::OutputLock::Acquire(model, "test");
  auto dataset_lock = graph::OutputLock::Acquire(dataset, "test");
  ASSERT_OK(model_lock);
  ASSERT_OK(dataset_lock);
  const std::string pid = absl::StrCat("in use by pid ", ::getpid());
  CliResult train =
      RunPerfgraph(absl::StrCat("train --dataset ", (dir_ / "missing.pgd").string(), " --out ", model));
  EXPECT_NE(train.exit_code, 0) << train.out;
  EXPECT_THAT(train.out, AllOf(HasSubstr(model), HasSubstr(pid))) << train.out;
  CliResult measure = RunPerfgraph(
      absl::StrCat("measure --corpus ", (dir_ / "missing_corpus").string(), " --out ", dataset));
  EXPECT_NE(measure.exit_code, 0) << measure.out;
  EXPECT_THAT(measure.out, AllOf(HasSubstr(dataset), HasSubstr(pid))) << measure.out;
  EXPECT_FALSE(fs::exists(dataset));
}

// ----- dataset import: module paths stay inside --hlo -----

TEST_F(OutputLimitsTest, ImportRejectsModulePathsEscapingTheHloRoot) {
  const std::string root = fs::canonical(dir_ / "hlo").string();
  const std::string outside = (dir_ / "elsewhere" / "x.hlo").string();
  fs::create_symlink(outside, dir_ / "hlo" / "link.hlo");
  fs::create_directories(dir_ / "hlo" / "sub");
  const std::string csv = Csv("escape.csv",
                              "../elsewhere/x.hlo,module,default,100\n"       // line 2
                              "sub/../../elsewhere/x.hlo,module,default,100\n"  // 3
                              + outside + ",module,default,100\n"             // 4: absolute
                              "link.hlo,module,default,100\n"                 // 5: symlink out
                              "mlp_block.hlo,dense,default,100\n");            // 6: fine
  const std::string out = (dir_ / "escape.pgd").string();
  auto summary = ImportRuntimes(Import(csv, out));
  ASSERT_THAT(summary, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("4 bad row(s)")));
  const std::string message(summary.status().message());
  EXPECT_THAT(message, HasSubstr(absl::StrCat(csv, ":2: module '../elsewhere/x.hlo' is outside the "
                                              "--hlo root '", root, "': it has a '..' component")));
  EXPECT_THAT(message, HasSubstr(absl::StrCat(csv, ":3: module 'sub/../../elsewhere/x.hlo'")));
  EXPECT_THAT(message, HasSubstr(absl::StrCat(csv, ":4: module '", outside, "' is outside")));
  EXPECT_THAT(message, HasSubstr("an absolute path"));
  EXPECT_THAT(message, HasSubstr(absl::StrCat(csv, ":5: module 'link.hlo' is outside the --hlo root '",
                                              root, "': it resolves (through a symlink) to '",
                                              fs::canonical(outside).string())));
  EXPECT_THAT(message, Not(HasSubstr(csv + ":6:")));
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(OutputLimitsTest, ImportAcceptsASymlinkThatStaysInsideTheRoot) {
  fs::create_directories(dir_ / "hlo" / "sub");
  fs::create_symlink("../mlp_block.hlo", dir_ / "hlo" / "sub" / "alias.hlo");
  const std::string out = (dir_ / "inside.pgd").string();
  auto summary =
      ImportRuntimes(Import(Csv("inside.csv", "sub/alias.hlo,dense,default,100\n"), out));
  ASSERT_OK(summary);
  EXPECT_EQ(summary->records, 1);
  EXPECT_TRUE(fs::exists(out));
  EXPECT_THAT(FilesStartingWith(dir_, "inside.pgd.tmp"), ::testing::IsEmpty());
}

// A 2 GB line (a sparse file: a binary blob given as the CSV) stops the import at once, in
// bounded memory.
TEST_F(OutputLimitsTest, ImportRejectsAnOverlongCsvLineWithoutReadingIt) {
  const std::string csv = Csv("huge.csv", "mlp_block.hlo,dense,default,100\n");
  const int64_t header_and_row = static_cast<int64_t>(fs::file_size(csv));
  ASSERT_EQ(::truncate(csv.c_str(), header_and_row + (int64_t{2} << 30)), 0);
  const std::string out = (dir_ / "huge.pgd").string();
  ChildLimits limits;
  limits.extra_address_space_bytes = int64_t{1} << 30;
  ChildResult child =
      RunInChild([&] { return Describe(ImportRuntimes(Import(csv, out)).status()); }, limits);
  ASSERT_TRUE(child.exited) << "killed by signal " << child.signal;
  ASSERT_EQ(child.exit_code, 0);
  EXPECT_THAT(child.text, AllOf(HasSubstr("INVALID_ARGUMENT|"), HasSubstr(csv + ":3: line longer than"),
                                HasSubstr(absl::StrCat(kMaxCsvLineBytes))));
  EXPECT_FALSE(fs::exists(out));
}

// ----- Writers: unwritable directory, full disk -----

TEST_F(OutputLimitsTest, ImportUnderAFileSizeLimitFailsNamingThePathAndLeavesNoFile) {
  const std::string csv = Csv("rows.csv",
                              "mlp_block.hlo,dense,default,100\n"
                              "mlp_block.hlo,rowsum,default,50\n"
                              "mlp_block.hlo,module,default,150\n");
  const std::string out = (dir_ / "full.pgd").string();
  ChildLimits limits;
  limits.file_size_bytes = 700;  // the header fits, the records do not
  ChildResult child =
      RunInChild([&] { return Describe(ImportRuntimes(Import(csv, out)).status()); }, limits);
  ASSERT_TRUE(child.exited) << "killed by signal " << child.signal;
  EXPECT_THAT(child.text, AllOf(Not(HasSubstr("OK|")), HasSubstr(out), HasSubstr("File too large")));
  EXPECT_FALSE(fs::exists(out));
  EXPECT_THAT(FilesStartingWith(dir_, "full.pgd"), ::testing::IsEmpty());
  // Without the limit the same import succeeds (so the limit was what failed it).
  EXPECT_OK(ImportRuntimes(Import(csv, out)));
  EXPECT_GT(fs::file_size(out), 700u);
}

TEST_F(OutputLimitsTest, ImportIntoAnUnwritableDirectoryFailsNamingThePath) {
  fs::create_directories(dir_ / "readonly");
  fs::permissions(dir_ / "readonly", fs::perms::owner_read | fs::perms::owner_exec |
                                         fs::perms::group_read | fs::perms::group_exec |
                                         fs::perms::others_read | fs::perms::others_exec);
  const std::string csv = Csv("rows.csv", "mlp_block.hlo,dense,default,100\n");
  fs::permissions(csv, fs::perms::all);
  const std::string out = (dir_ / "readonly" / "x.pgd").string();
  ChildLimits limits;
  limits.uid = kNobody;  // root ignores directory permissions: drop to nobody in the child
  ChildResult child =
      RunInChild([&] { return Describe(ImportRuntimes(Import(csv, out)).status()); }, limits);
  ASSERT_TRUE(child.exited) << "killed by signal " << child.signal;
  ASSERT_EQ(child.exit_code, 0);
  EXPECT_THAT(child.text, AllOf(HasSubstr("PERMISSION_DENIED|"), HasSubstr(out),
                                HasSubstr("Permission denied")));
  EXPECT_TRUE(fs::is_empty(dir_ / "readonly"));
  // A directory that does not exist.
  const std::string missing = (dir_ / "no_such_dir" / "x.pgd").string();
  EXPECT_THAT(ImportRuntimes(Import(csv, missing)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(missing)));
}

// Whole-file writers (model files, weights, plan / report JSON, target descriptions) go through
// graph::WriteFileAtomically: under a file size limit the write fails naming the path, the old file
// is untouched and no temporary is left.
TEST_F(OutputLimitsTest, WholeFileWritersUnderAFileSizeLimitKeepTheOldFile) {
  const std::string path = (dir_ / "plan.json").string();
  std::ofstream(path) << "{\"old\": true}\n";
  ChildLimits limits;
  limits.file_size_bytes = 4096;
  ChildResult child = RunInChild(
      [&] {
        return Describe(graph::WriteFileAtomically(path, std::string(1 << 20, ' '), "plan"));
      },
      limits);
  ASSERT_TRUE(child.exited) << "killed by signal " << child.signal;
  EXPECT_THAT(child.text, AllOf(HasSubstr("UNAVAILABLE|plan: cannot write '" + path + "'"),
                                HasSubstr("File too large")));
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), "{\"old\": true}\n");
  EXPECT_THAT(FilesStartingWith(dir_, "plan.json."), ::testing::IsEmpty());

  // A weights file (a model) the same way.
  kernels::WeightsFile weights;
  kernels::NamedTensor tensor;
  tensor.name = "w";
  tensor.dims = {1024, 16};
  tensor.values.assign(1024 * 16, 0.5f);
  weights.tensors.push_back(tensor);
  const std::string weights_path = (dir_ / "weights.pgw").string();
  ChildResult weights_child = RunInChild(
      [&] { return Describe(kernels::WriteWeightsFile(weights, weights_path)); }, limits);
  ASSERT_TRUE(weights_child.exited);
  EXPECT_THAT(weights_child.text, AllOf(HasSubstr(weights_path), HasSubstr("File too large")));
  EXPECT_FALSE(fs::exists(weights_path));
  EXPECT_THAT(FilesStartingWith(dir_, "weights.pgw"), ::testing::IsEmpty());
}

// `measure` appends record by record (it must resume): under a file size limit an Append fails
// naming the file, and the partial frame is cut off again, so the file holds exactly the records
// written before and reads back cleanly (no torn tail).
TEST_F(OutputLimitsTest, AppendUnderAFileSizeLimitFailsNamingTheFileAndLeavesNoTornRecord) {
  const std::string path = (dir_ / "measured.pgd").string();
  auto record = [](int i) {
    data::Record r;
    r.set_program("p");
    r.set_kernel_hash(1000 + i);
    r.set_task(data::Record::TASK_FUSION);
    r.set_status(data::Record::MEASURE_STATUS_OK);
    r.set_feature_schema_version(graph::kFeatureSchemaVersion);
    r.set_compile_time_ns(1);
    for (int k = 0; k < 40; ++k) r.add_runtime_ns(1000.0 + k);  // ~360 bytes per record
    return r;
  };
  ChildLimits limits;
  limits.file_size_bytes = 2000;
  ChildResult child = RunInChild(
      [&] {
        auto writer = data::RecordWriter::Open(path);
        if (!writer.ok()) return Describe(writer.status());
        for (int i = 0; i < 100; ++i) {
          absl::Status appended = writer->Append(record(i));
          if (!appended.ok()) return absl::StrCat(i, "|", Describe(appended));
        }
        return std::string("all appended");
      },
      limits);
  ASSERT_TRUE(child.exited) << "killed by signal " << child.signal;
  EXPECT_THAT(child.text, AllOf(HasSubstr(path), HasSubstr("File too large")));
  const int written = std::stoi(child.text.substr(0, child.text.find('|')));
  EXPECT_GT(written, 0);
  int64_t dropped = -1;
  auto records = data::ReadRecordFile(path, &dropped);
  ASSERT_OK(records);
  EXPECT_EQ(static_cast<int>(records->size()), written);
  EXPECT_EQ(dropped, 0);
  EXPECT_LE(fs::file_size(path), 2000u);
}

TEST_F(OutputLimitsTest, WholeFileWriterIntoAnUnwritableDirectoryNamesThePath) {
  fs::create_directories(dir_ / "readonly");
  fs::permissions(dir_ / "readonly", fs::perms::owner_read | fs::perms::owner_exec |
                                         fs::perms::others_read | fs::perms::others_exec);
  const std::string path = (dir_ / "readonly" / "metrics.json").string();
  ChildLimits limits;
  limits.uid = kNobody;
  ChildResult child = RunInChild(
      [&] { return Describe(graph::WriteFileAtomically(path, "{}\n", "train")); }, limits);
  ASSERT_TRUE(child.exited);
  EXPECT_THAT(child.text, AllOf(HasSubstr("PERMISSION_DENIED|train: cannot write '" + path + "'"),
                                HasSubstr("Permission denied")));
  EXPECT_TRUE(fs::is_empty(dir_ / "readonly"));
}

}  // namespace
}  // namespace perfgraph::tools
