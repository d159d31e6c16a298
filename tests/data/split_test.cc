// data/split.h: split files and the default split.
#include "data/split.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/temp_dir.h"

namespace perfgraph::data {
namespace {

using ::perfgraph::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(SplitTest, ParsesPartsCommentsAndBlankLines) {
  auto split = ParseSplit(
      "# reference split\n"
      "train resnet18\n"
      "\n"
      "train\talexnet   # trailing comment\n"
      "validation squeezenet1_1\n"
      "test mobilenet_v3_small\r\n"
      "train resnet18\n",  // repeated in the same part: fine
      "split.txt");
  ASSERT_OK(split);
  EXPECT_THAT(split->Programs(SplitPart::kTrain), ElementsAre("alexnet", "resnet18"));
  EXPECT_THAT(split->Programs(SplitPart::kValidation), ElementsAre("squeezenet1_1"));
  EXPECT_THAT(split->Programs(SplitPart::kTest), ElementsAre("mobilenet_v3_small"));
  EXPECT_EQ(split->PartOf("alexnet"), SplitPart::kTrain);
  EXPECT_EQ(split->PartOf("vgg11"), std::nullopt);
}

TEST(SplitTest, ProgramInTwoPartsIsAnError) {
  EXPECT_THAT(ParseSplit("train a\ntest b\nvalidation a\n", "s.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("s.txt:3: program 'a' is in both train and validation")));
}

TEST(SplitTest, MalformedLinesNameTheLine) {
  EXPECT_THAT(ParseSplit("train a\ntraining b\n", "s.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("s.txt:2: unknown split part 'training'")));
  EXPECT_THAT(ParseSplit("test\n", "s.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("s.txt:1: expected")));
  EXPECT_THAT(ParseSplit("test a b\n", "s.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got 3 words")));
}

TEST(SplitTest, ReadsFilesAndReportsMissingOnes) {
  const auto path = perfgraph::testing::ProcessTempDir() / "perfgraph_split_test.txt";
  {
    std::ofstream out(path);
    out << "train a\ntest b\n";
  }
  auto split = ReadSplitFile(path.string());
  ASSERT_OK(split);
  EXPECT_EQ(split->PartOf("b"), SplitPart::kTest);
  EXPECT_THAT(ReadSplitFile("/nonexistent/split.txt"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/split.txt")));
}

TEST(SplitTest, DefaultSplitIsStableAndHoldsOutProgramsOfSmallDatasets) {
  const std::vector<std::string> programs = {"alexnet", "resnet18", "squeezenet1_1",
                                             "mobilenet_v3_small", "shufflenet_v2_x1_0"};
  const Split a = DefaultSplit(programs);
  std::vector<std::string> reversed(programs.rbegin(), programs.rend());
  const Split b = DefaultSplit(reversed);
  EXPECT_EQ(a.part_of, b.part_of);  // independent of input order
  EXPECT_EQ(a.part_of.size(), programs.size());
  EXPECT_GE(a.Programs(SplitPart::kValidation).size(), 1u);
  EXPECT_GE(a.Programs(SplitPart::kTest).size(), 1u);
  EXPECT_GE(a.Programs(SplitPart::kTrain).size(), 1u);
  const Split one = DefaultSplit({"only"});
  EXPECT_EQ(one.PartOf("only"), SplitPart::kTrain);
  const Split two = DefaultSplit({"x", "y"});
  EXPECT_EQ(two.Programs(SplitPart::kTrain).size(), 1u);  // never without a train program
  EXPECT_EQ(two.Programs(SplitPart::kValidation).size() + two.Programs(SplitPart::kTest).size(), 1u);
  // The text form reads back to the same split.
  auto back = ParseSplit(SplitToText(a), "text");
  ASSERT_OK(back);
  EXPECT_EQ(back->part_of, a.part_of);
}

}  // namespace
}  // namespace perfgraph::data
