// Verification of HLO instructions (graph/verifier.h) through the HLO text importer: each check
// rejects a module that violates it with the instruction's file:line:column and the offending
// values, and accepts a valid counterpart.
#include "graph/verifier.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "graph/hlo_parser.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace perfgraph::graph {
namespace {

using ::perfgraph::testing::IsOk;
using ::perfgraph::testing::StatusIs;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kFile[] = "v.hlo";

// A scalar add computation for reduce / reduce-window, 5 lines.
constexpr char kAdd[] = R"(add {
  x = f32[] parameter(0)
  y = f32[] parameter(1)
  ROOT s = f32[] add(x, y)
}
)";

// "v.hlo:LINE:COLUMN: " of the first occurrence of `marker` in `text` (1-based, as the parser).
std::string At(const std::string& text, const std::string& marker) {
  const size_t offset = text.find(marker);
  EXPECT_NE(offset, std::string::npos) << marker;
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return absl::StrCat(kFile, ":", line, ":", offset - line_start + 1, ": ");
}

struct Case {
  std::string name;
  std::string text;    // a whole module
  std::string marker;  // where the error points (the offending instruction's name)
  std::string message;
  friend void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }
};

// ENTRY computation `body` (instruction lines), after `before` (other computations).
std::string Module(const std::string& body, const std::string& before = "") {
  return absl::StrCat("HloModule m\n\n", before, "ENTRY e {\n", body, "}\n");
}

class RejectsTest : public ::testing::TestWithParam<Case> {};

TEST_P(RejectsTest, IsInvalidArgumentAtTheInstruction) {
  const Case& c = GetParam();
  auto parsed = ParseHloText(c.text, kFile, {});
  ASSERT_FALSE(parsed.ok()) << c.text;
  EXPECT_THAT(parsed.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                        StartsWith(At(c.text, c.marker) + c.message)))
      << c.text;
}

INSTANTIATE_TEST_SUITE_P(
    Verifier, RejectsTest,
    ::testing::Values(
        Case{"BinaryOperandShape",
             Module("  p = f32[2,3] parameter(0)\n  q = f32[3,2] parameter(1)\n"
                    "  ROOT a = f32[2,3] add(p, q)\n"),
             "a = f32", "add 'a': operand 1 has shape f32[3,2] but the result has f32[2,3]"},
        Case{"BinaryScalarOperandIsNoImplicitBroadcast",
             Module("  p = f32[2,3] parameter(0)\n  s = f32[] parameter(1)\n"
                    "  ROOT m = f32[2,3] multiply(p, s)\n"),
             "m = f32", "multiply 'm': operand 1 has shape f32[] but the result has f32[2,3]"},
        Case{"UnaryResultShape",
             Module("  p = f32[4] parameter(0)\n  ROOT n = f32[2,2] negate(p)\n"), "n = f32",
             "negate 'n': operand 0 has shape f32[4] but the result has f32[2,2]"},
        Case{"CompareResultIsPred",
             Module("  p = f32[2] parameter(0)\n  ROOT c = f32[2] compare(p, p), direction=LT\n"),
             "c = f32", "compare 'c': result must be pred, got f32[2]"},
        Case{"SelectPredShape",
             Module("  b = pred[3] parameter(0)\n  p = f32[2] parameter(1)\n"
                    "  ROOT s = f32[2] select(b, p, p)\n"),
             "s = f32",
             "select 's': pred pred[3] is neither a scalar nor of the result's dims [2]"},
        Case{"ClampMinShape",
             Module("  lo = f32[3] parameter(0)\n  p = f32[2] parameter(1)\n"
                    "  ROOT c = f32[2] clamp(lo, p, lo)\n"),
             "c = f32", "clamp 'c': min f32[3] is neither a scalar nor of the operand's dims [2]"},
        Case{"BitcastConvertNarrowerNeedsMinorDim",
             Module("  p = f32[4] parameter(0)\n  ROOT b = u8[4] bitcast-convert(p)\n"), "b = u8",
             "bitcast-convert 'b': result dims [4] but bitcast-convert of f32[4] to u8 gives "
             "[4,4]"},
        Case{"DotContractingSizes",
             Module("  a = f32[8,64] parameter(0)\n  b = f32[32,16] parameter(1)\n"
                    "  ROOT d = f32[8,16] dot(a, b), lhs_contracting_dims={1}, "
                    "rhs_contracting_dims={0}\n"),
             "d = f32",
             "dot 'd': lhs contracting dim 1 has size 64 but rhs contracting dim 0 has size 32"},
        Case{"DotContractingOutOfRange",
             Module("  a = f32[8,64] parameter(0)\n  b = f32[64,16] parameter(1)\n"
                    "  ROOT d = f32[8,16] dot(a, b), lhs_contracting_dims={2}, "
                    "rhs_contracting_dims={0}\n"),
             "d = f32",
             "dot 'd': lhs contracting dim 2 is out of range for lhs f32[8,64] of rank 2"},
        Case{"DotBatchSizes",
             Module("  a = f32[4,8,64] parameter(0)\n  b = f32[5,64,16] parameter(1)\n"
                    "  ROOT d = f32[4,8,16] dot(a, b), lhs_batch_dims={0}, rhs_batch_dims={0}, "
                    "lhs_contracting_dims={2}, rhs_contracting_dims={1}\n"),
             "d = f32", "dot 'd': lhs batch dim 0 has size 4 but rhs batch dim 0 has size 5"},
        Case{"DotResultDims",
             Module("  a = f32[8,64] parameter(0)\n  b = f32[64,16] parameter(1)\n"
                    "  ROOT d = f32[16,8] dot(a, b), lhs_contracting_dims={1}, "
                    "rhs_contracting_dims={0}\n"),
             "d = f32",
             "dot 'd': result dims [16,8] but lhs f32[8,64] x rhs f32[64,16] gives [8,16]"},
        Case{"DotCountMismatch",
             Module("  a = f32[8,64] parameter(0)\n  b = f32[64,16] parameter(1)\n"
                    "  ROOT d = f32[8,16] dot(a, b), lhs_contracting_dims={1}, "
                    "rhs_contracting_dims={}\n"),
             "d = f32", "dot 'd': lhs_contracting_dims [1] and rhs_contracting_dims [] differ"},
        Case{"ConvolutionFeatures",
             Module("  x = f32[1,8,8,3] parameter(0)\n  k = f32[3,3,4,16] parameter(1)\n"
                    "  ROOT c = f32[1,6,6,16] convolution(x, k), window={size=3x3}, "
                    "dim_labels=b01f_01io->b01f\n"),
             "c = f32",
             "convolution 'c': input feature dim 3 has size 3 but kernel input feature dim 2 has "
             "size 4 with feature_group_count 1"},
        Case{"ConvolutionWindowRank",
             Module("  x = f32[1,8,8,3] parameter(0)\n  k = f32[3,3,3,16] parameter(1)\n"
                    "  ROOT c = f32[1,6,6,16] convolution(x, k), window={size=3}, "
                    "dim_labels=b01f_01io->b01f\n"),
             "c = f32", "convolution 'c': window has 1 dims but there are 2 spatial dims"},
        Case{"ConvolutionWindowSizeIsKernelSize",
             Module("  x = f32[1,8,8,3] parameter(0)\n  k = f32[3,3,3,16] parameter(1)\n"
                    "  ROOT c = f32[1,4,4,16] convolution(x, k), window={size=5x5}, "
                    "dim_labels=b01f_01io->b01f\n"),
             "c = f32",
             "convolution 'c': window size 5 of spatial dim 0 but the kernel's spatial dim 0 has "
             "size 3"},
        Case{"ConvolutionResultDims",
             Module("  x = f32[1,8,8,3] parameter(0)\n  k = f32[3,3,3,16] parameter(1)\n"
                    "  ROOT c = f32[1,8,8,16] convolution(x, k), window={size=3x3}, "
                    "dim_labels=b01f_01io->b01f\n"),
             "c = f32",
             "convolution 'c': result dims [1,8,8,16] but input f32[1,8,8,3] and kernel "
             "f32[3,3,3,16] with this window give [1,6,6,16]"},
        Case{"ConvolutionRank",
             Module("  x = f32[1,8,3] parameter(0)\n  k = f32[3,3,3,16] parameter(1)\n"
                    "  ROOT c = f32[1,6,6,16] convolution(x, k), window={size=3x3}, "
                    "dim_labels=b01f_01io->b01f\n"),
             "c = f32",
             "convolution 'c': input f32[1,8,3] has rank 3 but dim_labels have 2 spatial dims"},
        Case{"ReduceDimensionOutOfRange",
             Module("  p = f32[4,8] parameter(0)\n  z = f32[] constant(0)\n"
                    "  ROOT r = f32[4] reduce(p, z), dimensions={2}, to_apply=add\n",
                    kAdd),
             "r = f32",
             "reduce 'r': dimensions [2]: 2 is out of range for input f32[4,8] of rank 2"},
        Case{"ReduceDimensionTwice",
             Module("  p = f32[4,8] parameter(0)\n  z = f32[] constant(0)\n"
                    "  ROOT r = f32[4] reduce(p, z), dimensions={1,1}, to_apply=add\n",
                    kAdd),
             "r = f32", "reduce 'r': dimensions [1,1] name 1 twice"},
        Case{"ReduceResultDims",
             Module("  p = f32[4,8] parameter(0)\n  z = f32[] constant(0)\n"
                    "  ROOT r = f32[8] reduce(p, z), dimensions={1}, to_apply=add\n",
                    kAdd),
             "r = f32",
             "reduce 'r': result dims [8] but input f32[4,8] without the reduced dims gives [4]"},
        Case{"VariadicReduceResultIsATuple",
             Module("  p = f32[4,8] parameter(0)\n  q = f32[4,8] parameter(1)\n"
                    "  z = f32[] constant(0)\n"
                    "  ROOT r = f32[4] reduce(p, q, z, z), dimensions={1}, to_apply=add\n",
                    kAdd),
             "r = f32", "reduce 'r': result f32[4] is not a tuple of 2 arrays (one per input)"},
        Case{"ReduceWindowRank",
             Module("  p = f32[4,8] parameter(0)\n  z = f32[] constant(0)\n"
                    "  ROOT r = f32[2,8] reduce-window(p, z), window={size=2 stride=2}, "
                    "to_apply=add\n",
                    kAdd),
             "r = f32", "reduce-window 'r': window has 1 dims but there are 2 input dims"},
        Case{"ReduceWindowResultDims",
             Module("  p = f32[4,8] parameter(0)\n  z = f32[] constant(0)\n"
                    "  ROOT r = f32[2,8] reduce-window(p, z), window={size=2x2 stride=2x2}, "
                    "to_apply=add\n",
                    kAdd),
             "r = f32",
             "reduce-window 'r': result dims [2,8] but input f32[4,8] with this window gives "
             "[2,4]"},
        Case{
            "BroadcastSizeMismatch",
            Module("  p = f32[3] parameter(0)\n  ROOT b = f32[2,4] broadcast(p), dimensions={1}\n"),
            "b = f32",
            "broadcast 'b': operand dim 0 has size 3 but maps to result dim 1 of size 4"},
        Case{
            "BroadcastDegenerateDimIsNotStretched",
            Module("  p = f32[1] parameter(0)\n  ROOT b = f32[2,4] broadcast(p), dimensions={1}\n"),
            "b = f32",
            "broadcast 'b': operand dim 0 has size 1 but maps to result dim 1 of size 4"},
        Case{"BroadcastMapLength",
             Module("  p = f32[2,3] parameter(0)\n  ROOT b = f32[2,3,4] broadcast(p), "
                    "dimensions={0}\n"),
             "b = f32",
             "broadcast 'b': dimensions [0] has 1 entries but the operand f32[2,3] has rank 2"},
        Case{"BroadcastOutOfRange",
             Module("  p = f32[3] parameter(0)\n  ROOT b = f32[3] broadcast(p), dimensions={1}\n"),
             "b = f32",
             "broadcast 'b': dimensions [1]: 1 is out of range for the result f32[3] of rank 1"},
        Case{"TransposeNotAPermutation",
             Module("  p = f32[2,3] parameter(0)\n  ROOT t = f32[3,2] transpose(p), "
                    "dimensions={0,0}\n"),
             "t = f32",
             "transpose 't': dimensions [0,0] is not a permutation of the 2 dims of the operand "
             "f32[2,3]"},
        Case{"TransposeResultDims",
             Module("  p = f32[2,3] parameter(0)\n  ROOT t = f32[2,3] transpose(p), "
                    "dimensions={1,0}\n"),
             "t = f32",
             "transpose 't': result dims [2,3] but operand f32[2,3] permuted by [1,0] gives "
             "[3,2]"},
        Case{"ReshapeElementCount",
             Module("  p = f32[2,3] parameter(0)\n  ROOT r = f32[5] reshape(p)\n"), "r = f32",
             "reshape 'r': operand f32[2,3] and result f32[5] have different element counts"},
        Case{"SliceLimitBeyondDim",
             Module("  p = f32[4,8] parameter(0)\n  ROOT s = f32[2,9] slice(p), "
                    "slice={[0:2], [0:9]}\n"),
             "s = f32",
             "slice 's': slice dim 1 [0:9:1] needs 0 <= start <= limit <= 8 and stride >= 1"},
        Case{"SliceZeroStride",
             Module("  p = f32[4] parameter(0)\n  ROOT s = f32[2] slice(p), slice={[0:4:0]}\n"),
             "s = f32", "slice 's': slice dim 0 [0:4:0] needs"},
        Case{"SliceResultDims",
             Module("  p = f32[8] parameter(0)\n  ROOT s = f32[4] slice(p), slice={[1:8:3]}\n"),
             "s = f32", "slice 's': result dims [4] but slicing f32[8] gives [3]"},
        Case{"ConcatenateOtherDims",
             Module("  a = f32[2,3] parameter(0)\n  b = f32[2,4] parameter(1)\n"
                    "  ROOT c = f32[4,3] concatenate(a, b), dimensions={0}\n"),
             "c = f32",
             "concatenate 'c': operand 1 f32[2,4] has size 4 in dim 1 but the result f32[4,3] has "
             "3 (only dim 0 is concatenated)"},
        Case{"ConcatenateSum",
             Module("  a = f32[2,3] parameter(0)\n  b = f32[5,3] parameter(1)\n"
                    "  ROOT c = f32[6,3] concatenate(a, b), dimensions={0}\n"),
             "c = f32",
             "concatenate 'c': result dim 0 has size 6 but the operands' sizes along it sum to 7"},
        Case{"ConcatenateDimensionOutOfRange",
             Module("  a = f32[2,3] parameter(0)\n  ROOT c = f32[2,3] concatenate(a), "
                    "dimensions={2}\n"),
             "c = f32",
             "concatenate 'c': dimensions [2] must be one dim in range of the result f32[2,3]"},
        Case{"PadResultDims",
             Module("  p = f32[4] parameter(0)\n  z = f32[] constant(0)\n"
                    "  ROOT q = f32[9] pad(p, z), padding=1_2_1\n"),
             "q = f32", "pad 'q': result dims [9] but padding f32[4] gives [10]"},
        Case{"PadConfigLength",
             Module("  p = f32[4,4] parameter(0)\n  z = f32[] constant(0)\n"
                    "  ROOT q = f32[6,4] pad(p, z), padding=1_1\n"),
             "q = f32", "pad 'q': padding has 1 dims but the operand f32[4,4] has rank 2"},
        Case{"GetTupleElementIndex",
             Module("  p = (f32[2], s32[]) parameter(0)\n  ROOT g = f32[2] get-tuple-element(p), "
                    "index=2\n"),
             "g = f32", "get-tuple-element 'g': index 2 is out of range for a tuple of 2 elements"},
        Case{"GetTupleElementShape",
             Module("  p = (f32[2], s32[]) parameter(0)\n  ROOT g = f32[3] get-tuple-element(p), "
                    "index=0\n"),
             "g = f32",
             "get-tuple-element 'g': result f32[3] but element 0 of the operand is f32[2]"},
        Case{"IotaDimension", Module("  ROOT i = s32[4,8] iota(), iota_dimension=2\n"), "i = s32",
             "iota 'i': iota_dimension [2] must be one dim in range of the result s32[4,8]"},
        Case{"InsideAFusedComputation",
             Module("  a = f32[8,64] parameter(0)\n  b = f32[32,16] parameter(1)\n"
                    "  ROOT f = f32[8,16] fusion(a, b), kind=kOutput, calls=fused\n",
                    "fused {\n  x = f32[8,64] parameter(0)\n  y = f32[32,16] parameter(1)\n"
                    "  ROOT fd = f32[8,16] dot(x, y), lhs_contracting_dims={1}, "
                    "rhs_contracting_dims={0}\n}\n\n"),
             "fd = f32",
             "dot 'fd': lhs contracting dim 1 has size 64 but rhs contracting dim 0 has size 32"},
        Case{"InsideAWhileBody",
             Module("  p = (s32[], f32[4]) parameter(0)\n"
                    "  ROOT w = (s32[], f32[4]) while(p), condition=cond, body=body\n",
                    "cond {\n  c = (s32[], f32[4]) parameter(0)\n  i = s32[] "
                    "get-tuple-element(c), index=0\n  n = s32[] constant(4)\n"
                    "  ROOT lt = pred[] compare(i, n), direction=LT\n}\n\n"
                    "body {\n  c = (s32[], f32[4]) parameter(0)\n  i = s32[] "
                    "get-tuple-element(c), index=0\n  v = f32[4] get-tuple-element(c), index=1\n"
                    "  e = f32[2,2] exponential(v)\n  ROOT t = (s32[], f32[4]) tuple(i, v)\n}\n\n"),
             "e = f32[2,2]",
             "exponential 'e': operand 0 has shape f32[4] but the result has f32[2,2]"},
        Case{
            "CublasGemmAsItsDot",
            Module("  a = f32[5,7] parameter(0)\n  b = f32[3,6] parameter(1)\n"
                   "  ROOT g = f32[5,3] custom-call(a, b), custom_call_target=\"__cublas$gemm\", "
                   "backend_config=\"{\\\"gemm_backend_config\\\":{\\\"dot_dimension_numbers\\\":"
                   "{\\\"lhs_contracting_dimensions\\\":[\\\"1\\\"],"
                   "\\\"rhs_contracting_dimensions\\\":[\\\"1\\\"],\\\"lhs_batch_dimensions\\\":[],"
                   "\\\"rhs_batch_dimensions\\\":[]}}}\"\n"),
            "g = f32",
            "dot 'g': lhs contracting dim 1 has size 7 but rhs contracting dim 1 has size 6"},
        Case{"LayoutOfAnUnboundedShapeIsAPermutation",
             Module("  p = f32[?,3]{0,0} parameter(0)\n  ROOT n = f32[2,3] negate(p)\n"),
             "f32[?,3]{0,0}", "invalid shape: layout {0,0} is not a permutation of its 2 dims"},
        Case{"LayoutRankOfAnUnboundedShape",
             Module("  p = f32[?,3]{0} parameter(0)\n  ROOT n = f32[2,3] negate(p)\n"),
             "f32[?,3]{0}", "expected a layout with 2 entries, got 1"},
        Case{"LayoutRank",
             Module("  p = f32[2,3]{1,0} parameter(0)\n  ROOT n = f32[2,3]{0} negate(p)\n"),
             "f32[2,3]{0}", "expected a layout with 2 entries, got 1"},
        Case{"LayoutNotAPermutation",
             Module("  p = f32[2,3]{2,0} parameter(0)\n  ROOT n = f32[2,3] negate(p)\n"),
             "f32[2,3]{2,0}",
             "invalid shape: layout {2,0} of shape f32[2,3] is not a permutation"}));

// Valid counterparts of the cases above: they import.
class AcceptsTest : public ::testing::TestWithParam<Case> {};

TEST_P(AcceptsTest, Imports) {
  const Case& c = GetParam();
  EXPECT_THAT(ParseHloText(c.text, kFile, {}), IsOk()) << c.text;
}

INSTANTIATE_TEST_SUITE_P(
    Verifier, AcceptsTest,
    ::testing::Values(
        Case{"Binary", Module("  p = f32[2,3] parameter(0)\n  q = f32[2,3]{0,1} parameter(1)\n"
                              "  ROOT a = f32[2,3] add(p, q)\n")},
        Case{"CompareAndConvert",
             Module("  p = f32[2] parameter(0)\n  c = pred[2] compare(p, p), direction=LT\n"
                    "  ROOT v = s32[2] convert(c)\n")},
        Case{"SelectScalarAndArrayPred",
             Module("  b = pred[] parameter(0)\n  bb = pred[2] parameter(1)\n"
                    "  p = f32[2] parameter(2)\n  s = f32[2] select(b, p, p)\n"
                    "  ROOT t = f32[2] select(bb, s, p)\n")},
        Case{"ClampScalarBounds", Module("  lo = f32[] parameter(0)\n  p = f32[2] parameter(1)\n"
                                         "  ROOT c = f32[2] clamp(lo, p, lo)\n")},
        Case{"BitcastConvertWidths",
             Module("  p = f32[4] parameter(0)\n  b = u8[4,4] bitcast-convert(p)\n"
                    "  ROOT w = f32[4] bitcast-convert(b)\n")},
        Case{"BatchedDot",
             Module("  a = f32[4,8,64] parameter(0)\n  b = f32[4,16,64] parameter(1)\n"
                    "  ROOT d = f32[4,8,16] dot(a, b), lhs_batch_dims={0}, rhs_batch_dims={0}, "
                    "lhs_contracting_dims={2}, rhs_contracting_dims={2}\n")},
        Case{"OuterProductDot", Module("  a = f32[3] parameter(0)\n  b = f32[5] parameter(1)\n"
                                       "  ROOT d = f32[3,5] dot(a, b)\n")},
        Case{"ConvolutionsPaddedStridedDepthwise",
             Module("  x = f32[1,8,8,3] parameter(0)\n  k = f32[3,3,3,16] parameter(1)\n"
                    "  c = f32[1,8,8,16] convolution(x, k), window={size=3x3 pad=1_1x1_1}, "
                    "dim_labels=b01f_01io->b01f\n"
                    "  s = f32[1,3,3,16] convolution(x, k), window={size=3x3 stride=2x2}, "
                    "dim_labels=b01f_01io->b01f\n"
                    "  dk = f32[3,3,1,3] parameter(2)\n"
                    "  ROOT d = f32[1,8,8,3] convolution(x, dk), window={size=3x3 pad=1_1x1_1}, "
                    "dim_labels=b01f_01io->b01f, feature_group_count=3\n")},
        Case{"ConvolutionDilatedNchw",
             Module("  x = f32[2,4,10,10] parameter(0)\n  k = f32[8,4,3,3] parameter(1)\n"
                    "  ROOT c = f32[2,8,6,6] convolution(x, k), window={size=3x3 rhs_dilate=2x2}, "
                    "dim_labels=bf01_oi01->bf01\n")},
        Case{"ReduceAndVariadicReduce",
             Module("  p = f32[4,8] parameter(0)\n  q = f32[4,8] parameter(1)\n"
                    "  z = f32[] constant(0)\n"
                    "  r = f32[4] reduce(p, z), dimensions={1}, to_apply=add\n"
                    "  ROOT v = (f32[8], f32[8]) reduce(p, q, z, z), dimensions={0}, "
                    "to_apply=add\n",
                    kAdd)},
        Case{"ReduceWindow",
             Module("  p = f32[4,8] parameter(0)\n  z = f32[] constant(0)\n"
                    "  ROOT r = f32[2,4] reduce-window(p, z), window={size=2x2 stride=2x2}, "
                    "to_apply=add\n",
                    kAdd)},
        Case{"DataMovement",
             Module("  p = f32[3] parameter(0)\n  b = f32[2,3] broadcast(p), dimensions={1}\n"
                    "  t = f32[3,2] transpose(b), dimensions={1,0}\n"
                    "  r = f32[6] reshape(t)\n  s = f32[2] slice(r), slice={[1:6:3]}\n"
                    "  c = f32[5] concatenate(s, p), dimensions={0}\n"
                    "  z = f32[] constant(0)\n  q = f32[9] pad(c, z), padding=1_-1_1\n"
                    "  v = f32[9] reverse(q), dimensions={0}\n"
                    "  ROOT i = s32[4,8] iota(), iota_dimension=1\n")},
        Case{"GetTupleElement",
             Module("  p = (f32[2], (s32[], f32[3])) parameter(0)\n"
                    "  ROOT g = (s32[], f32[3]) get-tuple-element(p), index=1\n")}));

// An unbounded dim (`?`) is not checked while unknown; --input-shape resolves it and the module
// imports.
TEST(VerifierTest, UnboundedDimsWaitForInputShapes) {
  const std::string text = Module(
      "  p = f32[?,3]{1,0} parameter(0)\n  z = f32[] constant(0)\n"
      "  ROOT r = f32[3] reduce(p, z), dimensions={0}, to_apply=add\n",
      kAdd);
  ImportOptions options;
  options.input_shapes["p"] = {5, 3};
  EXPECT_OK(ParseHloText(text, kFile, options));
}

// The message names the file given to ParseHloFile and the line of the instruction.
TEST(VerifierTest, FileErrorsNameThePathAndLine) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / absl::StrCat("verifier_test_", ::getpid(), ".hlo");
  {
    std::ofstream out(path);
    out << "HloModule m\n\nENTRY e {\n  a = f32[8,64] parameter(0)\n  b = f32[32,16] parameter(1)\n"
           "  ROOT d = f32[8,16] dot(a, b), lhs_contracting_dims={1}, "
           "rhs_contracting_dims={0}\n}\n";
  }
  auto parsed = ParseHloFile(path.string(), {});
  std::filesystem::remove(path);
  EXPECT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument,
                               StartsWith(absl::StrCat(path.string(),
                                                       ":6:8: dot 'd': lhs contracting dim 1 has "
                                                       "size 64 but rhs contracting dim 0 has size "
                                                       "32"))));
}

// The pure function: operand counts, skipped instructions, the window formula.
TEST(VerifierTest, VerifyInstructionDirectly) {
  const Shape a = Shape::Make(PrimitiveType::kF32, {8, 64});
  const Shape b = Shape::Make(PrimitiveType::kF32, {64, 16});
  Instruction dot;
  dot.name = "d";
  dot.opcode = HloOpcode::kDot;
  dot.shape = Shape::Make(PrimitiveType::kF32, {8, 16});
  dot.attrs.dot_dimension_numbers = DotDimensionNumbers{{}, {}, {1}, {0}};
  EXPECT_OK(VerifyInstruction(dot, {&a, &b}));
  EXPECT_THAT(VerifyInstruction(dot, {&a}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq(std::string("dot 'd': expects 2 operands, got 1"))));
  EXPECT_THAT(VerifyInstruction(dot, {&a, nullptr}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("operand shape is missing")));
  // A sparse dot (third operand: metadata) is not checked.
  const Shape meta = Shape::Make(PrimitiveType::kU16, {8, 4});
  EXPECT_OK(VerifyInstruction(dot, {&b, &a, &meta}));
  // An unbounded dim (`?`, stored negative) is left to ImportOptions::input_shapes.
  const Shape unbounded = Shape::Make(PrimitiveType::kF32, {-1, 64});
  EXPECT_OK(VerifyInstruction(dot, {&unbounded, &a}));
  // Opcodes without a check pass.
  Instruction call;
  call.name = "c";
  call.opcode = HloOpcode::kCustomCall;
  EXPECT_OK(VerifyInstruction(call, {&a, &b}));
  Instruction add;
  add.name = "x";
  add.opcode = HloOpcode::kAdd;
  add.shape = a;
  EXPECT_THAT(VerifyInstruction(add, {&a}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq(std::string("add 'x': expects 2 operands, got 1"))));

  WindowDimension w;
  w.size = 3;
  EXPECT_EQ(WindowedOutputSize(8, w), 6);
  w.stride = 2;
  EXPECT_EQ(WindowedOutputSize(8, w), 3);  // (8 - 3) / 2 + 1
  w.padding_low = w.padding_high = 1;
  EXPECT_EQ(WindowedOutputSize(8, w), 4);  // (10 - 3) / 2 + 1
  w.window_dilation = 2;
  EXPECT_EQ(WindowedOutputSize(8, w), 3);  // window 5: (10 - 5) / 2 + 1
  w.base_dilation = 2;
  EXPECT_EQ(WindowedOutputSize(8, w), 7);  // base 15, padded 17: (17 - 5) / 2 + 1
  EXPECT_EQ(WindowedOutputSize(2, w), 1);  // base 3, padded 5 = window 5: one position
  w.padding_low = w.padding_high = 0;
  EXPECT_EQ(WindowedOutputSize(2, w), 0);  // base 3 < window 5
  EXPECT_EQ(WindowedOutputSize(0, w), 0);
}

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Every module XLA accepted still imports: the real modules of ../shared/hlo (skipped when absent).
TEST(VerifierTest, EverySharedXlaModuleStillImports) {
  const std::filesystem::path dir = std::filesystem::path(PERFGRAPH_SOURCE_DIR) / "../shared/hlo";
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) GTEST_SKIP() << dir << " is absent";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".hlo") continue;
    ++files;
    EXPECT_OK(ParseHloText(ReadText(entry.path()), entry.path().string(), {}));
  }
  EXPECT_GE(files, 20);
}

// The project's own HLO test inputs (all but the deliberately malformed ones) still import.
TEST(VerifierTest, ProjectHloTestDataStillImports) {
  int files = 0;
  for (const char* sub : {"tests/testdata/hlo", "tests/testdata/byo"}) {
    const std::filesystem::path dir = std::filesystem::path(PERFGRAPH_SOURCE_DIR) / sub;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() != ".hlo") continue;
      if (entry.path().filename().string().rfind("malformed_", 0) == 0) continue;
      ++files;
      EXPECT_OK(ParseHloText(ReadText(entry.path()), entry.path().string(), {}));
    }
  }
  EXPECT_GE(files, 8);
}

}  // namespace
}  // namespace perfgraph::graph
