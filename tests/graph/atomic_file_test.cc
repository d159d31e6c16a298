#include "graph/atomic_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/temp_dir.h"

namespace perfgraph::graph {
namespace {

using perfgraph::testing::IsOk;
using perfgraph::testing::StatusIs;
using ::testing::HasSubstr;

std::string Read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A directory of its own per test: ctest runs the tests of this file as parallel processes.
std::filesystem::path TempDir() {
  const std::filesystem::path dir =
      perfgraph::testing::ProcessTempDir() / "perfgraph_atomic_file_test" /
      ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(WriteFileAtomicallyTest, WritesAndReplacesWholeFilesWithoutLeavingATemporary) {
  const std::filesystem::path path = TempDir() / "model.bin";
  const std::string first("first\0with a NUL", 16);
  ASSERT_THAT(WriteFileAtomically(path.string(), first, "test"), IsOk());
  EXPECT_EQ(Read(path), first);
  ASSERT_THAT(WriteFileAtomically(path.string(), "second", "test"), IsOk());
  EXPECT_EQ(Read(path), "second");
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
}

TEST(WriteFileAtomicallyTest, MissingDirectoryIsAnErrorNamingTheFileAndContext) {
  const std::filesystem::path path = TempDir() / "no_such_dir" / "model.bin";
  EXPECT_THAT(WriteFileAtomically(path.string(), "bytes", "SaveModelFile"),
              StatusIs(absl::StatusCode::kUnavailable,
                       ::testing::AllOf(HasSubstr("SaveModelFile"), HasSubstr("model.bin.tmp"))));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(WriteFileAtomicallyTest, ADirectoryInTheWayKeepsItAndRemovesTheTemporary) {
  const std::filesystem::path dir = TempDir();
  const std::filesystem::path path = dir / "occupied";
  std::filesystem::create_directories(path / "child");  // rename cannot replace a non-empty dir
  EXPECT_THAT(WriteFileAtomically(path.string(), "bytes", "test"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("cannot rename")));
  EXPECT_TRUE(std::filesystem::is_directory(path / "child"));
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
}

}  // namespace
}  // namespace perfgraph::graph
