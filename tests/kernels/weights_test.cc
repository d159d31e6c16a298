// The weights file format (kernels/weights.h): round trip, and every kind of damage is a clear error.
#include "kernels/weights.h"

#include <filesystem>
#include <fstream>
#include <string>

#include <zlib.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "graph/featurize.h"
#include "gtest/gtest.h"
#include "kernels/predictor.h"
#include "tiling/tile_config.h"
#include "tests/status_matchers.h"

namespace perfgraph::kernels {
namespace {

using perfgraph::testing::IsOk;
using perfgraph::testing::StatusIs;
using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::HasSubstr;

WeightsFile Sample() {
  WeightsFile w;
  w.architecture.join = WeightsJoin::kEarly;
  w.architecture.hidden = 8;
  w.architecture.sage_layers = 2;
  w.tensors.push_back({"input.weight", {2, 3}, {1, 2, 3, 4, 5, -6.5f}});
  w.tensors.push_back({"label_mean", {1}, {7.25f}});
  w.tensors.push_back({"scalar", {}, {0.5f}});
  return w;
}

std::string Bytes(const WeightsFile& w) {
  absl::StatusOr<std::string> bytes = SerializeWeights(w);
  EXPECT_THAT(bytes, IsOk());
  return bytes.value_or("");
}

TEST(WeightsTest, SerializeThenParseGivesTheSameHeaderAndTensors) {
  absl::StatusOr<WeightsFile> parsed = ParseWeights(Bytes(Sample()), "sample");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->feature_schema_version, static_cast<uint32_t>(graph::kFeatureSchemaVersion));
  EXPECT_EQ(parsed->config_feature_schema_version, kConfigFeatureSchemaVersion);
  EXPECT_EQ(parsed->architecture.join, WeightsJoin::kEarly);
  EXPECT_EQ(parsed->architecture.hidden, 8);
  EXPECT_EQ(parsed->architecture.sage_layers, 2);
  ASSERT_EQ(parsed->tensors.size(), 3u);
  const NamedTensor* t = parsed->Find("input.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t->values, (std::vector<float>{1, 2, 3, 4, 5, -6.5f}));
  EXPECT_EQ(parsed->Find("scalar")->values, std::vector<float>{0.5f});
  EXPECT_EQ(parsed->Find("missing"), nullptr);
}

TEST(WeightsTest, WriteThenReadFileRoundTrips) {
  const std::string path = ::testing::TempDir() + "/weights_test.pgw";
  ASSERT_THAT(WriteWeightsFile(Sample(), path), IsOk());
  absl::StatusOr<WeightsFile> read = ReadWeightsFile(path);
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(read->Find("label_mean")->values[0], 7.25f);
}

TEST(WeightsTest, MissingFileIsNotFoundNamingThePath) {
  EXPECT_THAT(ReadWeightsFile("/nonexistent/model.pgw"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/model.pgw")));
}

TEST(WeightsTest, OtherFileIsRejectedByMagic) {
  EXPECT_THAT(ParseWeights("PGGNNM01 a checkpoint, not weights", "x.pgm"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad magic")));
  EXPECT_THAT(ParseWeights("", "empty"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(WeightsTest, EveryTruncationIsAnErrorNeverACrash) {
  const std::string bytes = Bytes(Sample());
  for (size_t size = 0; size < bytes.size(); ++size) {
    absl::StatusOr<WeightsFile> parsed = ParseWeights(bytes.substr(0, size), "truncated");
    EXPECT_THAT(parsed, AnyOf(StatusIs(absl::StatusCode::kDataLoss),
                              StatusIs(absl::StatusCode::kInvalidArgument)))
        << "size " << size;
  }
}

TEST(WeightsTest, EveryFlippedByteIsDetected) {
  const std::string bytes = Bytes(Sample());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x10);
    EXPECT_FALSE(ParseWeights(damaged, "damaged").ok()) << "byte " << i;
  }
}

TEST(WeightsTest, CorruptBodyIsDataLossWithTheChecksum) {
  std::string bytes = Bytes(Sample());
  bytes[bytes.size() - 10] ^= 0x01;  // inside the last tensor's values
  EXPECT_THAT(ParseWeights(bytes, "corrupt.pgw"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("CRC-32")));
}

TEST(WeightsTest, OtherFeatureSchemaIsFailedPrecondition) {
  WeightsFile w = Sample();
  w.feature_schema_version = graph::kFeatureSchemaVersion + 1;
  EXPECT_THAT(ParseWeights(Bytes(w), "old.pgw"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("feature schema version")));
  w = Sample();
  w.num_config_features = 24;
  EXPECT_THAT(ParseWeights(Bytes(w), "old.pgw"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("kNumConfigFeatures")));
}

TEST(WeightsTest, OtherConfigFeatureSchemaIsFailedPreconditionNamingFileAndBothVersions) {
  WeightsFile w = Sample();
  w.config_feature_schema_version = kConfigFeatureSchemaVersion + 1;
  const std::string bytes = Bytes(w);
  EXPECT_THAT(ParseWeights(bytes, "newer.pgw"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("'newer.pgw'"),
                             HasSubstr(absl::StrCat("config feature schema version "
                                                    "(tiling::kConfigFeatureSchemaVersion) ",
                                                    kConfigFeatureSchemaVersion + 1,
                                                    " but this build uses ",
                                                    kConfigFeatureSchemaVersion)))));
  // Through a file too: the message names the path.
  const std::string path = ::testing::TempDir() + "/weights_test_newer_config_schema.pgw";
  ASSERT_THAT(WriteWeightsFile(w, path), IsOk());
  EXPECT_THAT(ReadWeightsFile(path),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(path)));
  // An in-memory file (never serialized) is refused by the Predictor the same way.
  EXPECT_THAT(Predictor::FromWeights(w, "in-memory"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("in-memory"), HasSubstr("config feature schema"))));
}

TEST(WeightsTest, OtherFormatVersionIsFailedPrecondition) {
  WeightsFile w = Sample();
  w.format_version = kWeightsFormatVersion + 1;
  EXPECT_THAT(ParseWeights(Bytes(w), "future.pgw"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("format version")));
}

TEST(WeightsTest, ReductionRoundTripsAndDefaultsToLstm) {
  EXPECT_EQ(Sample().architecture.reduction, WeightsReduction::kLstm);
  WeightsFile w = Sample();
  w.architecture.reduction = WeightsReduction::kMean;
  absl::StatusOr<WeightsFile> parsed = ParseWeights(Bytes(w), "mean.pgw");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->format_version, kWeightsFormatVersion);
  EXPECT_EQ(parsed->architecture.reduction, WeightsReduction::kMean);
  EXPECT_EQ(parsed->architecture.hidden, 8);
  ASSERT_NE(parsed->Find("input.weight"), nullptr);

  // A reduction code this build does not know is corruption, not a default.
  w.architecture.reduction = static_cast<WeightsReduction>(2);
  EXPECT_THAT(ParseWeights(Bytes(w), "bad.pgw"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("reduction 2")));
}

TEST(WeightsTest, VersionOneFilesWithoutReductionStillLoadAsLstm) {
  // Files exported before the reduction field existed (format version 1: one u32 fewer).
  WeightsFile w = Sample();
  w.format_version = 1;
  const std::string v1 = Bytes(w);
  // No reduction, no config schema version, no hybrid threads, no feature schema name length.
  EXPECT_EQ(v1.size() + 16, Bytes(Sample()).size());
  absl::StatusOr<WeightsFile> parsed = ParseWeights(v1, "v1.pgw");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->format_version, 1u);
  EXPECT_EQ(parsed->config_feature_schema_version, 1u);
  EXPECT_EQ(parsed->architecture.reduction, WeightsReduction::kLstm);
  EXPECT_EQ(parsed->architecture.join, WeightsJoin::kEarly);
  EXPECT_EQ(parsed->architecture.sage_layers, 2);
  ASSERT_EQ(parsed->tensors.size(), 3u);
  EXPECT_EQ(parsed->Find("input.weight")->values, (std::vector<float>{1, 2, 3, 4, 5, -6.5f}));
  for (size_t size = 0; size < v1.size(); ++size) {
    EXPECT_FALSE(ParseWeights(v1.substr(0, size), "v1").ok()) << "size " << size;
  }
  // Version 1 cannot express a mean model; version 0 never existed.
  w.architecture.reduction = WeightsReduction::kMean;
  EXPECT_THAT(SerializeWeights(w),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("format version 1")));
  w = Sample();
  w.format_version = 0;
  EXPECT_THAT(ParseWeights(Bytes(w), "zero.pgw"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("format version 0")));
}

TEST(WeightsTest, VersionTwoFilesWithoutConfigSchemaLoadAsConfigSchemaOne) {
  // Files exported before the config feature schema version existed (format version 2: one u32
  // fewer than version 3, the reduction present).
  WeightsFile w = Sample();
  w.format_version = 2;
  w.architecture.reduction = WeightsReduction::kMean;
  const std::string v2 = Bytes(w);
  WeightsFile current = Sample();
  current.architecture.reduction = WeightsReduction::kMean;
  EXPECT_EQ(v2.size() + 12, Bytes(current).size());  // + config schema, hybrid, schema name length
  absl::StatusOr<WeightsFile> parsed = ParseWeights(v2, "v2.pgw");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->format_version, 2u);
  EXPECT_EQ(parsed->config_feature_schema_version, 1u);
  EXPECT_EQ(parsed->architecture.reduction, WeightsReduction::kMean);
  EXPECT_EQ(parsed->architecture.join, WeightsJoin::kEarly);
  EXPECT_EQ(parsed->architecture.hidden, 8);
  EXPECT_EQ(parsed->Find("input.weight")->values, (std::vector<float>{1, 2, 3, 4, 5, -6.5f}));
  for (size_t size = 0; size < v2.size(); ++size) {
    EXPECT_FALSE(ParseWeights(v2.substr(0, size), "v2").ok()) << "size " << size;
  }
  // Versions 1 and 2 cannot express another config schema than 1.
  w.config_feature_schema_version = 2;
  EXPECT_THAT(SerializeWeights(w),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("format version 2 cannot hold config feature schema version 2")));
}

TEST(WeightsTest, VersionThreeFilesHaveNoHybridFeaturesAndCannotExpressThem) {
  // Files exported before hybrid config features existed (format version 3: one u32 fewer).
  WeightsFile w = Sample();
  w.format_version = 3;
  const std::string v3 = Bytes(w);
  EXPECT_EQ(v3.size() + 8, Bytes(Sample()).size());  // + hybrid threads, schema name length
  absl::StatusOr<WeightsFile> parsed = ParseWeights(v3, "v3.pgw");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->architecture.hybrid_threads, 0);
  EXPECT_EQ(parsed->architecture.config_width(), tiling::kNumConfigFeatures);
  EXPECT_EQ(parsed->Find("input.weight")->values, (std::vector<float>{1, 2, 3, 4, 5, -6.5f}));
  w.architecture.hybrid_threads = 1;
  EXPECT_THAT(SerializeWeights(w),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("format version 3 cannot hold hybrid_threads 1")));
}

TEST(WeightsTest, HybridThreadsRoundTripWidenTheConfigRowAndAreBounded) {
  WeightsFile w = Sample();
  w.architecture.hybrid_threads = 2;
  absl::StatusOr<WeightsFile> parsed = ParseWeights(Bytes(w), "hybrid.pgw");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->architecture.hybrid_threads, 2);
  EXPECT_EQ(parsed->architecture.config_width(),
            tiling::kNumConfigFeatures + kNumHybridConfigFeatures);
  w.architecture.hybrid_threads = kMaxHybridThreads + 1;
  EXPECT_THAT(SerializeWeights(w),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hybrid_threads 257")));
  // A file claiming an absurd value (written by hand) is refused when read.
  w.architecture.hybrid_threads = 0;
  std::string bytes = Bytes(w);
  // The hybrid threads field is the last u32 before the tensor count: rewrite it and the CRC.
  const size_t field = 8 + 12 * 4;
  bytes[field] = static_cast<char>(0xff);
  bytes[field + 1] = static_cast<char>(0xff);
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()),
                          static_cast<uInt>(bytes.size() - 4));
  for (int i = 0; i < 4; ++i) bytes[bytes.size() - 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  EXPECT_THAT(ParseWeights(bytes, "absurd.pgw"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("hybrid_threads 65535")));
}

// A model of a foreign feature schema (e.g. TpuGraphs tiles): its name and widths in the header.
WeightsFile ForeignSample() {
  WeightsFile w = Sample();
  w.feature_schema_version = 0;
  w.config_feature_schema_version = 0;
  w.num_node_features = 140;
  w.num_config_features = 24;
  w.architecture.feature_schema = "tpugraphs-tile";
  w.architecture.foreign_node_features = 140;
  w.architecture.foreign_config_features = 24;
  return w;
}

TEST(WeightsTest, ForeignFeatureSchemaRoundTripsWithItsWidths) {
  absl::StatusOr<WeightsFile> parsed = ParseWeights(Bytes(ForeignSample()), "tpu.pgw");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->architecture.feature_schema, "tpugraphs-tile");
  EXPECT_EQ(parsed->architecture.node_width(), 140);
  EXPECT_EQ(parsed->architecture.config_width(), 24);
  EXPECT_EQ(parsed->feature_schema_version, 0u);
  // perfgraph's own files keep an empty name and this build's widths.
  absl::StatusOr<WeightsFile> own = ParseWeights(Bytes(Sample()), "own.pgw");
  ASSERT_THAT(own, IsOk());
  EXPECT_FALSE(own->architecture.foreign_schema());
  EXPECT_EQ(own->architecture.node_width(), graph::kNumNodeFeatures);
  EXPECT_EQ(own->architecture.config_width(), tiling::kNumConfigFeatures);
}

TEST(WeightsTest, ForeignFeatureSchemaNeedsVersionFiveAndConsistentWidths) {
  WeightsFile w = ForeignSample();
  w.format_version = 4;
  EXPECT_THAT(SerializeWeights(w).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("format version 4 cannot hold feature schema 'tpugraphs-tile'")));
  w = ForeignSample();
  w.num_node_features = 72;  // the header disagrees with the architecture
  EXPECT_THAT(SerializeWeights(w).status(), StatusIs(absl::StatusCode::kInvalidArgument));
  // A foreign header claiming a perfgraph feature schema version is corrupt, not another build's.
  w = ForeignSample();
  std::string bytes = Bytes(w);
  bytes[12] = 2;  // feature schema version
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()),
                          static_cast<uInt>(bytes.size() - 4));
  for (int i = 0; i < 4; ++i) bytes[bytes.size() - 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  EXPECT_THAT(ParseWeights(bytes, "tpu.pgw"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("of feature schema 'tpugraphs-tile'")));
}

TEST(WeightsTest, ShippedDefaultWeightsAreCurrentAndHybrid) {
  const std::string path = std::string(PERFGRAPH_SOURCE_DIR) + "/models/default/weights.pgw";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent";
  absl::StatusOr<WeightsFile> w = ReadWeightsFile(path);
  ASSERT_THAT(w, IsOk());
  EXPECT_EQ(w->format_version, kWeightsFormatVersion);
  EXPECT_EQ(w->architecture.hybrid_threads, 1);
  EXPECT_THAT(Predictor::FromWeights(*w, path), IsOk());
}

TEST(WeightsTest, SerializeRejectsInconsistentTensors) {
  WeightsFile w = Sample();
  w.tensors.push_back({"bad", {2, 2}, {1, 2, 3}});
  EXPECT_THAT(SerializeWeights(w), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad")));
  w = Sample();
  w.tensors.push_back(w.tensors.front());
  EXPECT_THAT(SerializeWeights(w), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("duplicate")));
  w = Sample();
  w.tensors.push_back({"", {1}, {1}});
  EXPECT_THAT(SerializeWeights(w), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace perfgraph::kernels
