// cost::RooflineLowerBound: the FLOPs every execution must do and the output bytes, on hand-built
// kernels; and, on real measurements, that no measured runtime of the reference datasets beats the
// bound on the committed reference target (skipped when the datasets are absent).
#include "cost/roofline_bound.h"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "cost/target_description.h"
#include "data/kernel_proto.h"
#include "data/label.h"
#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "gtest/gtest.h"
#include "tests/cost/cost_test_util.h"

namespace perfgraph::cost {
namespace {

TEST(RooflineBoundTest, DotCountsItsFlopsAndOutputBytes) {
  const TargetDescription target = test::SyntheticTarget();
  const RooflineBound b = RooflineLowerBound(target, test::Dot(64, 128, 32));
  EXPECT_DOUBLE_EQ(b.needed_flops, 2.0 * 64 * 32 * 128);
  EXPECT_DOUBLE_EQ(b.output_bytes, 64 * 32 * 4);
  EXPECT_DOUBLE_EQ(b.compute_ns, 2.0 * 64 * 32 * 128 / (200e9 * kPeakHeadroom) * 1e9);
  // The best bandwidth of any level: L1 with all threads, 800 GB/s.
  EXPECT_DOUBLE_EQ(b.memory_ns, 64 * 32 * 4 / 800e9 * 1e9);
  EXPECT_DOUBLE_EQ(b.bound_ns(), b.compute_ns);
}

TEST(RooflineBoundTest, ProducersComputedOnlyInPartAreNotCounted) {
  // add(x, y)[4096] -> slice [8]: Halide computes 8 sums, so the add's 4096 FLOPs are no bound.
  test::KernelBuilder sliced("sliced");
  const int x = sliced.Parameter({4096});
  const int y = sliced.Parameter({4096});
  const int add = sliced.Add(graph::HloOpcode::kAdd, {4096}, {x, y});
  graph::Attributes slice;
  slice.slice = {graph::SliceDimension{0, 8, 1}};
  sliced.Add(graph::HloOpcode::kSlice, {8}, {add}, slice);
  const RooflineBound s = RooflineLowerBound(test::SyntheticTarget(), sliced.Build());
  EXPECT_DOUBLE_EQ(s.needed_flops, 0);
  EXPECT_DOUBLE_EQ(s.output_bytes, 32);

  // multiply(add(x, y), z) over the same shape: both elementwise ops are needed everywhere.
  test::KernelBuilder chain("chain");
  const int a = chain.Parameter({4096});
  const int b = chain.Parameter({4096});
  const int c = chain.Parameter({4096});
  const int sum = chain.Add(graph::HloOpcode::kAdd, {4096}, {a, b});
  chain.Add(graph::HloOpcode::kMultiply, {4096}, {sum, c});
  EXPECT_DOUBLE_EQ(RooflineLowerBound(test::SyntheticTarget(), chain.Build()).needed_flops, 8192);

  // A kernel without a root has no bound.
  graph::Kernel empty;
  EXPECT_DOUBLE_EQ(RooflineLowerBound(test::SyntheticTarget(), empty).bound_ns(), 0);
}

// Every OK record of the committed reference datasets measured on the reference target's machine
// (the v2 files; v1 was measured on another host type and is skipped by its fingerprint): the
// minimum sample is at least the bound on the committed reference target.
TEST(RooflineBoundTest, NoMeasuredRuntimeBeatsTheBound) {
  absl::StatusOr<TargetDescription> target = LoadTargetDescription(DefaultTargetDescriptionPath());
  ASSERT_TRUE(target.ok()) << target.status();
  int checked = 0;
  for (const char* path : {"data/reference/v1/tile.pgd", "data/reference/v1/fusion.pgd",
                           "data/reference/tile.pgd", "data/reference/fusion.pgd"}) {
    if (!std::filesystem::exists(path)) continue;
    absl::StatusOr<data::RecordReader> reader = data::RecordReader::Open(path);
    ASSERT_TRUE(reader.ok()) << reader.status();
    if (reader->header().machine.has_value()) {
      const std::string other = MachineMismatch(*target, *reader->header().machine, path);
      if (!other.empty()) {
        std::cout << path << ": skipped: measured on another CPU than the reference target's\n";
        continue;
      }
    }
    data::Record record;
    double worst_ratio = 0;  // largest bound / runtime
    while (true) {
      absl::StatusOr<bool> more = reader->Next(&record);
      ASSERT_TRUE(more.ok()) << more.status();
      if (!*more) break;
      if (record.status() != data::Record::MEASURE_STATUS_OK || record.runtime_ns_size() == 0) {
        continue;
      }
      absl::StatusOr<graph::Kernel> kernel = data::DecodeRecordKernel(record, path);
      ASSERT_TRUE(kernel.ok()) << kernel.status();
      absl::StatusOr<double> runtime_or = data::RecordLabelNs(record, path);
      ASSERT_TRUE(runtime_or.ok()) << runtime_or.status();
      const double runtime = *runtime_or;
      const double bound = RooflineLowerBound(*target, *kernel).bound_ns();
      worst_ratio = std::max(worst_ratio, bound / runtime);
      EXPECT_LE(bound, runtime) << path << ": " << record.program() << " " << kernel->name
                                << " measured " << runtime << " ns, bound " << bound << " ns";
      ++checked;
    }
    std::cout << path << ": largest bound / measured runtime " << worst_ratio << "\n";
  }
  if (checked == 0) GTEST_SKIP() << "no reference dataset in data/reference";
}

}  // namespace
}  // namespace perfgraph::cost
