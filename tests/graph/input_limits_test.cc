// Absurd inputs get a clear error within bounded memory and time (README "Limits"): a dimension of
// 2^40, more instructions than graph::kMaxInstructions, nesting 10^5 deep, multi-GB files, a record
// or header claiming 4 GB. Every input is generated here, in a temporary directory. Where the
// failure mode would be an allocation of terabytes or a stack overflow, the code runs in a forked
// child under RLIMIT_AS (tests/child_process.h), so a regression fails the test instead of killing
// the runner.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/record_file.h"
#include "fusion/default_fusion.h"
#include "gmock/gmock.h"
#include "graph/analysis.h"
#include "graph/featurize.h"
#include "graph/hlo_parser.h"
#include "graph/import.h"
#include "graph/kernel_hash.h"
#include "graph/onnx_import.h"
#include "graph/onnx_lowering.h"
#include "gtest/gtest.h"
#include "kernels/weights.h"
#include "onnx/onnx_pb.h"
#include "tests/child_process.h"
#include "tests/status_matchers.h"

namespace perfgraph::graph {
namespace {

using ::perfgraph::testing::ChildLimits;
using ::perfgraph::testing::ChildResult;
using ::perfgraph::testing::RunInChild;
using ::perfgraph::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

// 1 GiB more address space than the test process already maps: plenty for every input below when
// the limits work, far too little for what each would need if they did not.
ChildLimits BoundedMemory() {
  ChildLimits limits;
  limits.extra_address_space_bytes = int64_t{1} << 30;
  return limits;
}

// "<code>|<message>" of a status, for sending it back from a child.
std::string Describe(const absl::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(status.code()), "|", status.message());
}

class InputLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("input_limits_test_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  // A sparse file of `size` bytes (zeros, no disk blocks): the size of an absurd input, instantly.
  std::string Sparse(const std::string& name, int64_t size, const std::string& prefix = "") {
    const std::string path = Write(name, prefix);
    EXPECT_EQ(::truncate(path.c_str(), size), 0);
    return path;
  }

  std::filesystem::path dir_;
};

// ----- Dimensions -----

TEST_F(InputLimitsTest, DimensionAboveTwoToTheFortyIsRejectedNamingTheValue) {
  auto parsed = ParseHloText(R"(HloModule m
ENTRY main {
  p = f32[1099511627777] parameter(0)
  ROOT n = f32[1099511627777] negate(p)
})",
                             "big_dim.hlo", {});
  EXPECT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument,
                               AllOf(HasSubstr("big_dim.hlo:3:"), HasSubstr("1099511627777"))));
}

TEST_F(InputLimitsTest, ElementCountAboveTwoToTheFortyIsRejected) {
  auto parsed = ParseHloText(R"(HloModule m
ENTRY main {
  p = f32[1048576,1048577] parameter(0)
  ROOT n = f32[1048576,1048577] negate(p)
})",
                             "big_count.hlo", {});
  EXPECT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("big_count.hlo")));
}

// A dimension of exactly 2^40 is legal: parsing, fusion, featurization, costs and hashing must
// work on the shape without allocating anything of its size (4 TB as f32).
TEST_F(InputLimitsTest, DimensionOfTwoToTheFortyIsAnalysedWithoutAllocatingIt) {
  ChildResult child = RunInChild(
      [] {
        auto models = ParseHloText(R"(HloModule m
ENTRY main {
  p = f32[1099511627776] parameter(0)
  e = f32[1099511627776] exponential(p)
  ROOT n = f32[1099511627776] negate(e)
})",
                                   "exact_dim.hlo", {});
        if (!models.ok()) return Describe(models.status());
        auto kernels = fusion::DefaultFusion(models->front().program);
        if (!kernels.ok()) return Describe(kernels.status());
        double flops = 0;
        for (const Kernel& k : *kernels) {
          KernelTensors tensors = Featurize(k);
          (void)tensors;
          flops += KernelCost(k).flops;
          (void)CanonicalKernelHash(k);
        }
        return absl::StrCat("OK|kernels=", kernels->size(), " flops=", flops);
      },
      BoundedMemory());
  ASSERT_TRUE(child.exited) << "killed by signal " << child.signal;
  ASSERT_EQ(child.exit_code, 0) << "the child threw (bad_alloc?)";
  EXPECT_THAT(child.text, HasSubstr("OK|kernels=1"));
}

// ----- Instruction counts -----

std::string ChainModule(int instructions) {
  std::string text = "HloModule chain\nENTRY main {\n  v0 = f32[8] parameter(0)\n";
  for (int i = 1; i < instructions; ++i) {
    absl::StrAppend(&text, "  ", i + 1 == instructions ? "ROOT " : "", "v", i, " = f32[8] negate(v",
                    i - 1, ")\n");
  }
  return text + "}\n";
}

TEST_F(InputLimitsTest, ModuleAtTheInstructionLimitImportsAndOneMoreIsRejected) {
  ImportOptions options;
  options.max_instructions = 1000;
  EXPECT_OK(ParseHloText(ChainModule(1000), "at_limit.hlo", options));
  EXPECT_THAT(ParseHloText(ChainModule(1001), "over_limit.hlo", options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("over_limit.hlo:"), HasSubstr("more than 1000 instructions"),
                             HasSubstr("kMaxInstructions"))));
}

// c_k calls c_{k-1} twice: 40 levels (below the nesting limit) expand to 2^40 instructions once
// calls are inlined. Rejected as soon as the emitted instructions pass the limit (lowered here).
TEST_F(InputLimitsTest, CallsExpandingExponentiallyAreRejectedAtTheLimit) {
  std::string text = "HloModule bomb\nc0 {\n  p = f32[] parameter(0)\n  ROOT n = f32[] negate(p)\n}\n";
  for (int k = 1; k <= 40; ++k) {
    absl::StrAppend(&text, "c", k, " {\n  p = f32[] parameter(0)\n  a = f32[] call(p), to_apply=c",
                    k - 1, "\n  ROOT b = f32[] call(a), to_apply=c", k - 1, "\n}\n");
  }
  absl::StrAppend(&text, "ENTRY main {\n  x = f32[] parameter(0)\n  ROOT y = f32[] call(x), to_apply=c40\n}\n");
  ImportOptions lowered;
  lowered.max_instructions = 10000;
  EXPECT_THAT(ParseHloText(text, "bomb.hlo", lowered),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("bomb.hlo"), HasSubstr("expands to more than 10000"))));
  // The default options carry the documented limit. (Running the bomb at the default limit
  // emits 2^19 instructions before the error: about 0.6 GB and 3-9 s, too slow for a unit test.)
  EXPECT_EQ(ImportOptions().max_instructions, kMaxInstructions);
}

// 10^5 negates in one chain: nothing downstream may recurse along the data dependencies.
TEST_F(InputLimitsTest, ChainOfTenToTheFiveInstructionsHasNoRecursionDepthProblem) {
  auto models = ParseHloText(ChainModule(100000), "long_chain.hlo", {});
  ASSERT_OK(models);
  const Program& program = models->front().program;
  EXPECT_EQ(program.instructions.size(), 100000u);
  auto kernels = fusion::DefaultFusion(program);
  ASSERT_OK(kernels);
  int64_t nodes = 0;
  for (const Kernel& k : *kernels) {
    nodes += static_cast<int64_t>(Featurize(k).node_opcode.size());
    (void)CanonicalKernelHash(k);
  }
  EXPECT_GE(nodes, 99999);
}

// ----- Nesting 10^5 deep -----

TEST_F(InputLimitsTest, TupleShapeNestedTenToTheFiveDeepIsRejected) {
  const int depth = 100000;
  const std::string shape = std::string(depth, '(') + "f32[]" + std::string(depth, ')');
  auto parsed = ParseHloText(absl::StrCat("HloModule m\nENTRY main {\n  ROOT p = ", shape,
                                          " parameter(0)\n}\n"),
                             "deep_tuple.hlo", {});
  EXPECT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument,
                               AllOf(HasSubstr("deep_tuple.hlo:3:"),
                                     HasSubstr(absl::StrCat("at most ", kMaxHloNestingDepth)))));
}

TEST_F(InputLimitsTest, BracesNestedTenToTheFiveDeepInAnAttributeAreSkippedWithoutRecursion) {
  const int depth = 100000;
  const std::string config = std::string(depth, '{') + std::string(depth, '}');
  auto parsed = ParseHloText(absl::StrCat("HloModule m\nENTRY main {\n  p = f32[4] parameter(0)\n"
                                          "  ROOT n = f32[4] negate(p), backend_config=",
                                          config, "\n}\n"),
                             "deep_braces.hlo", {});
  EXPECT_OK(parsed);
  // Unbalanced: 10^5 opening braces and no closing one.
  auto unbalanced = ParseHloText(absl::StrCat("HloModule m\nENTRY main {\n  p = f32[4] parameter(0)\n"
                                              "  ROOT n = f32[4] negate(p), backend_config=",
                                              std::string(depth, '{'), "\n"),
                                 "open_braces.hlo", {});
  EXPECT_THAT(unbalanced, StatusIs(absl::StatusCode::kInvalidArgument,
                                   AllOf(HasSubstr("open_braces.hlo:4:"),
                                         HasSubstr("closing bracket"))));
}

TEST_F(InputLimitsTest, LiteralNestedTenToTheFiveDeepIsReadWithoutRecursion) {
  const int depth = 100000;
  const std::string literal = std::string(depth, '{') + "1" + std::string(depth, '}');
  auto parsed = ParseHloText(absl::StrCat("HloModule m\nENTRY main {\n  ROOT c = f32[] constant(",
                                          literal, ")\n}\n"),
                             "deep_literal.hlo", {});
  EXPECT_OK(parsed);
}

// c_k calls c_{k-1}: 10^5 computations deep.
TEST_F(InputLimitsTest, CallsNestedTenToTheFiveDeepAreRejected) {
  const int depth = 100000;
  std::string text = "HloModule deep\nc0 {\n  p = f32[] parameter(0)\n  ROOT n = f32[] negate(p)\n}\n";
  for (int k = 1; k < depth; ++k) {
    absl::StrAppend(&text, "c", k, " {\n  p = f32[] parameter(0)\n  ROOT a = f32[] call(p), to_apply=c",
                    k - 1, "\n}\n");
  }
  absl::StrAppend(&text, "ENTRY main {\n  x = f32[] parameter(0)\n  ROOT y = f32[] call(x), to_apply=c",
                  depth - 1, "\n}\n");
  EXPECT_THAT(ParseHloText(text, "deep_calls.hlo", {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("deep_calls.hlo"),
                             HasSubstr(absl::StrCat("nested deeper than ", kMaxHloNestingDepth)))));
}

// Fusions whose fused computations hold fusions, 10^5 deep.
TEST_F(InputLimitsTest, FusionsNestedTenToTheFiveDeepAreRejected) {
  const int depth = 100000;
  std::string text = "HloModule deep\nf0 {\n  p = f32[4] parameter(0)\n  ROOT n = f32[4] negate(p)\n}\n";
  for (int k = 1; k < depth; ++k) {
    absl::StrAppend(&text, "f", k, " {\n  p = f32[4] parameter(0)\n  ROOT a = f32[4] fusion(p), kind=kLoop, calls=f",
                    k - 1, "\n}\n");
  }
  absl::StrAppend(&text, "ENTRY main {\n  x = f32[4] parameter(0)\n  ROOT y = f32[4] fusion(x), kind=kLoop, calls=f",
                  depth - 1, "\n}\n");
  EXPECT_THAT(ParseHloText(text, "deep_fusions.hlo", {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("deep_fusions.hlo"),
                             HasSubstr(absl::StrCat("nested deeper than ", kMaxHloNestingDepth)))));
}

// ----- Files of absurd size -----

TEST_F(InputLimitsTest, HloFileAboveTheSizeLimitIsRejectedBeforeReading) {
  const std::string path = Sparse("huge.hlo", kMaxHloTextBytes + 1, "HloModule m\n");
  ChildResult child = RunInChild([&] { return Describe(ImportModelFile(path, {}).status()); },
                                 BoundedMemory());
  ASSERT_TRUE(child.exited) << "killed by signal " << child.signal;
  ASSERT_EQ(child.exit_code, 0) << "the child threw (bad_alloc?)";
  EXPECT_THAT(child.text, AllOf(HasSubstr("INVALID_ARGUMENT|"), HasSubstr(path),
                                HasSubstr(absl::StrCat(kMaxHloTextBytes + 1, " bytes")),
                                HasSubstr("kMaxHloTextBytes")));
}

TEST_F(InputLimitsTest, OnnxFileOfTwoGigabytesIsRejectedBeforeReading) {
  // Two GiB: what a model with a 2 GB string field (or raw_data) would be.
  const std::string path = Sparse("huge.onnx", kMaxOnnxFileBytes + 1);
  ChildResult child = RunInChild([&] { return Describe(ImportModelFile(path, {}).status()); },
                                 BoundedMemory());
  ASSERT_TRUE(child.exited) << "killed by signal " << child.signal;
  ASSERT_EQ(child.exit_code, 0) << "the child threw (bad_alloc?)";
  EXPECT_THAT(child.text, AllOf(HasSubstr("INVALID_ARGUMENT|"), HasSubstr(path),
                                HasSubstr("kMaxOnnxFileBytes")));
}

TEST_F(InputLimitsTest, WeightsFileAboveTheSizeLimitIsRejectedBeforeReading) {
  const std::string path =
      Sparse("huge.pgw", kernels::kMaxWeightsFileBytes + 1, std::string(kernels::kWeightsMagic));
  ChildResult child = RunInChild(
      [&] { return Describe(kernels::ReadWeightsFile(path).status()); }, BoundedMemory());
  ASSERT_TRUE(child.exited) << "killed by signal " << child.signal;
  ASSERT_EQ(child.exit_code, 0) << "the child threw (bad_alloc?)";
  EXPECT_THAT(child.text, AllOf(HasSubstr("INVALID_ARGUMENT|"), HasSubstr(path),
                                HasSubstr("kMaxWeightsFileBytes")));
}

// ----- ONNX node count and subgraph nesting, checked on the wire -----

onnx::ValueInfoProto FloatInfo(const std::string& name) {
  onnx::ValueInfoProto v;
  v.set_name(name);
  auto* tt = v.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_value(4);
  return v;
}

std::string ReluChain(int nodes) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(13);
  onnx::GraphProto* graph = model.mutable_graph();
  graph->set_name("chain");
  *graph->add_input() = FloatInfo("x0");
  for (int i = 0; i < nodes; ++i) {
    onnx::NodeProto* node = graph->add_node();
    node->set_op_type("Relu");
    node->add_input(absl::StrCat("x", i));
    node->add_output(absl::StrCat("x", i + 1));
  }
  *graph->add_output() = FloatInfo(absl::StrCat("x", nodes));
  return model.SerializeAsString();
}

TEST_F(InputLimitsTest, OnnxModelAtTheNodeLimitImportsAndOneMoreIsRejected) {
  ImportOptions options;
  options.max_instructions = 100;
  EXPECT_OK(ImportOnnxBytes(ReluChain(100), "at_limit.onnx", options));
  EXPECT_THAT(ImportOnnxBytes(ReluChain(101), "over_limit.onnx", options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("over_limit.onnx"), HasSubstr("more than 100 nodes"),
                             HasSubstr("kMaxInstructions"))));
}

// Appends the protobuf wire bytes of a varint, reversed.
void AppendReversedVarint(uint64_t value, std::string* reversed) {
  std::string forward;
  do {
    uint8_t byte = value & 0x7f;
    value >>= 7;
    if (value != 0) byte |= 0x80;
    forward.push_back(static_cast<char>(byte));
  } while (value != 0);
  reversed->append(forward.rbegin(), forward.rend());
}

void AppendReversed(const std::string& forward, std::string* reversed) {
  reversed->append(forward.rbegin(), forward.rend());
}

// A model whose graph holds an If whose then_branch holds an If ... `depth` levels, written
// straight in wire format from the inside out (protobuf's own serializer would recurse `depth`
// levels deep). Linear time: the message is built reversed, each level prefixed in place.
std::string NestedIfModel(int depth) {
  std::string rev;  // the current (innermost so far) GraphProto, reversed; starts empty
  auto tag = [](int field, int wire_type) { return static_cast<uint64_t>(field << 3 | wire_type); };
  auto string_field = [&](int field, const std::string& value) {
    std::string forward;
    std::string varint_rev;
    AppendReversedVarint(tag(field, 2), &varint_rev);
    forward.append(varint_rev.rbegin(), varint_rev.rend());
    varint_rev.clear();
    AppendReversedVarint(value.size(), &varint_rev);
    forward.append(varint_rev.rbegin(), varint_rev.rend());
    return forward + value;
  };
  for (int level = 0; level < depth; ++level) {
    // AttributeProto { name: "then_branch", type: GRAPH (20 = 5), g (6): <graph> }
    size_t graph_size = rev.size();
    AppendReversedVarint(graph_size, &rev);
    AppendReversedVarint(tag(6, 2), &rev);
    AppendReversed(std::string{static_cast<char>(tag(20, 0)), 0x01, 0x05}, &rev);  // varint tag 160
    AppendReversed(string_field(1, "then_branch"), &rev);
    // NodeProto { op_type (4): "If", input (1): "c", attribute (5): <attribute> }
    const size_t attribute_size = rev.size();
    AppendReversedVarint(attribute_size, &rev);
    AppendReversedVarint(tag(5, 2), &rev);
    AppendReversed(string_field(1, "c"), &rev);
    AppendReversed(string_field(4, "If"), &rev);
    // GraphProto { node (1): <node> }
    const size_t node_size = rev.size();
    AppendReversedVarint(node_size, &rev);
    AppendReversedVarint(tag(1, 2), &rev);
  }
  // ModelProto { ir_version (1): 8, opset_import (8): { version (2): 13 }, graph (7): <graph> }
  const size_t graph_size = rev.size();
  AppendReversedVarint(graph_size, &rev);
  AppendReversedVarint(tag(7, 2), &rev);
  AppendReversed(std::string{static_cast<char>(tag(8, 2)), 0x02, static_cast<char>(tag(2, 0)), 13},
                 &rev);
  AppendReversed(std::string{static_cast<char>(tag(1, 0)), 8}, &rev);
  return std::string(rev.rbegin(), rev.rend());
}

TEST_F(InputLimitsTest, OnnxSubgraphsNestedTenToTheFiveDeepAreRejected) {
  const std::string bytes = NestedIfModel(100000);
  // The generator is right: three levels parse as the nested Ifs they should be.
  onnx::ModelProto shallow;
  ASSERT_TRUE(shallow.ParseFromString(NestedIfModel(3)));
  ASSERT_EQ(shallow.graph().node_size(), 1);
  EXPECT_EQ(shallow.graph().node(0).op_type(), "If");
  EXPECT_EQ(shallow.graph().node(0).attribute(0).g().node(0).attribute(0).g().node(0).op_type(),
            "If");
  const std::string path = Write("deep_if.onnx", bytes);
  ChildResult child = RunInChild([&] { return Describe(ImportModelFile(path, {}).status()); },
                                 BoundedMemory());
  ASSERT_TRUE(child.exited) << "killed by signal " << child.signal;
  ASSERT_EQ(child.exit_code, 0);
  EXPECT_THAT(child.text,
              AllOf(HasSubstr("INVALID_ARGUMENT|"), HasSubstr(path),
                    HasSubstr(absl::StrCat("nested deeper than ", onnx_internal::kMaxSubgraphDepth))));
  // Just over the limit is rejected the same way; protobuf alone would accept this depth.
  EXPECT_THAT(ImportOnnxBytes(NestedIfModel(onnx_internal::kMaxSubgraphDepth + 2), "deep.onnx", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nested deeper than")));
}

// ----- Record files claiming 4 GB -----

TEST_F(InputLimitsTest, RecordFileHeaderClaimingFourGigabytesIsRejectedBeforeAllocating) {
  std::string bytes(data::kRecordFileMagic);
  auto u32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>(v >> (8 * i)));
  };
  u32(data::kRecordFileFormatVersion);
  u32(kFeatureSchemaVersion);
  u32(0xFFFFFFFFu);  // header length: 4 GiB - 1
  u32(0);            // checksum (never reached)
  bytes += std::string(64, 'x');
  const std::string path = Write("huge_header.pgd", bytes);
  ChildResult child = RunInChild(
      [&] { return Describe(data::RecordReader::Open(path).status()); }, BoundedMemory());
  ASSERT_TRUE(child.exited) << "killed by signal " << child.signal;
  ASSERT_EQ(child.exit_code, 0);
  EXPECT_THAT(child.text, AllOf(HasSubstr("DATA_LOSS|"), HasSubstr(path), HasSubstr("4294967295"),
                                HasSubstr(absl::StrCat(data::kMaxHeaderBytes))));
}

}  // namespace
}  // namespace perfgraph::graph
