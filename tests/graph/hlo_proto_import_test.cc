#include "graph/hlo_proto_import.h"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "graph/hlo_parser.h"
#include "graph/import.h"
#include "graph/xla_hlo.pb.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/status_matchers.h"
#include "tests/temp_dir.h"
#include "tests/tools/cli_runner.h"

namespace perfgraph::graph {
namespace {

namespace xp = ::perfgraph::xla;
using ::perfgraph::testing::IsOk;
using ::perfgraph::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

std::string Source(const std::string& relative) {
  return absl::StrCat(PERFGRAPH_SOURCE_DIR, "/", relative);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string WriteTemp(const std::string& name, const std::string& contents) {
  const std::filesystem::path path = perfgraph::testing::FreshTempPath(name);
  std::ofstream(path, std::ios::binary) << contents;
  return path.string();
}

// ----- A complete, readable dump of an ImportedModel: two imports are the same IR iff their dumps
// are equal (every Instruction and Attributes field, kernels with origins, called programs, call
// sites, unsupported ops).

std::string Ints(const std::vector<int64_t>& v) { return absl::StrJoin(v, ","); }

std::string DumpInstruction(const Instruction& inst) {
  const Attributes& a = inst.attrs;
  std::string out = absl::StrCat("  ", inst.id, " ", inst.name, " = ", HloOpcodeName(inst.opcode),
                                 " ", inst.shape.ToString(), " mem", inst.shape.memory_space, " (",
                                 absl::StrJoin(inst.operands, ","), ")");
  for (const WindowDimension& w : a.window) {
    absl::StrAppend(&out, " win[", w.size, " ", w.stride, " ", w.padding_low, "_", w.padding_high,
                    " ", w.window_dilation, " ", w.base_dilation, " ", w.window_reversal, "]");
  }
  if (a.convolution_dimension_numbers.has_value()) {
    const ConvolutionDimensionNumbers& d = *a.convolution_dimension_numbers;
    absl::StrAppend(&out, " conv[", d.input_batch_dimension, d.input_feature_dimension, ":",
                    Ints(d.input_spatial_dimensions), " ", d.kernel_input_feature_dimension,
                    d.kernel_output_feature_dimension, ":", Ints(d.kernel_spatial_dimensions), " ",
                    d.output_batch_dimension, d.output_feature_dimension, ":",
                    Ints(d.output_spatial_dimensions), "]");
  }
  if (a.dot_dimension_numbers.has_value()) {
    const DotDimensionNumbers& d = *a.dot_dimension_numbers;
    absl::StrAppend(&out, " dot[", Ints(d.lhs_batch_dimensions), "|", Ints(d.rhs_batch_dimensions),
                    "|", Ints(d.lhs_contracting_dimensions), "|",
                    Ints(d.rhs_contracting_dimensions), "]");
  }
  absl::StrAppend(&out, " dims{", Ints(a.dimensions), "}");
  for (const SliceDimension& s : a.slice)
    absl::StrAppend(&out, " [", s.start, ":", s.limit, ":", s.stride, "]");
  for (const PaddingDimension& p : a.padding) {
    absl::StrAppend(&out, " pad", p.edge_padding_low, "_", p.edge_padding_high, "_",
                    p.interior_padding);
  }
  absl::StrAppend(&out, " groups", a.feature_group_count, "/", a.batch_group_count);
  if (a.comparison_direction.has_value()) {
    absl::StrAppend(&out, " ", ComparisonDirectionName(*a.comparison_direction));
  }
  absl::StrAppend(&out, " reduce=", HloOpcodeName(a.reduce_computation), " target='",
                  a.custom_call_target, "' param", a.parameter_number, " index", a.tuple_index);
  if (a.constant_value.has_value())
    absl::StrAppend(&out, absl::StrFormat(" value=%.17g", *a.constant_value));
  absl::StrAppend(&out, " kind='", a.fusion_kind, "' calls{",
                  absl::StrJoin(a.called_computations, ","), "} replicas", a.replica_group_size,
                  "\n");
  return out;
}

std::string DumpProgram(const Program& p) {
  std::string out =
      absl::StrCat("program ", p.name, " outputs ", absl::StrJoin(p.outputs, ","), "\n");
  for (const Instruction& inst : p.instructions) out += DumpInstruction(inst);
  return out;
}

std::string Dump(const ImportedModel& m) {
  std::string out = DumpProgram(m.program);
  for (const Kernel& k : m.prefused_kernels) {
    absl::StrAppend(&out, "kernel ", k.name, " ", FusionKindName(k.kind), " root ", k.root,
                    " origin ", absl::StrJoin(k.origin, ","), "\n");
    for (const Instruction& inst : k.instructions) out += DumpInstruction(inst);
  }
  for (const auto& [name, program] : m.called_programs) {
    absl::StrAppend(&out, "called ", name, ": ", DumpProgram(program));
  }
  for (const auto& [name, site] : m.call_sites) {
    absl::StrAppend(
        &out, "site ", name, " caller='", site.caller, "' ", site.instruction, " ", site.role, " ",
        site.executions.has_value() ? absl::StrCat(*site.executions) : "?", " (", site.how, ")\n");
  }
  for (const UnsupportedOp& op : m.unsupported_ops) {
    absl::StrAppend(&out, "unsupported ", op.op_type, ": ", absl::StrJoin(op.node_names, ","),
                    "\n");
  }
  return out;
}

// Fails the test on text-format errors; drops the warnings about skipped fields (metadata, ...).
class FailOnError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    ADD_FAILURE() << line + 1 << ":" << column + 1 << ": " << message;
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
};

xp::HloModuleProto ReadTextModule(const std::string& path) {
  xp::HloModuleProto module;
  google::protobuf::TextFormat::Parser parser;
  parser.AllowUnknownField(true);
  FailOnError errors;
  parser.RecordErrorsTo(&errors);
  EXPECT_TRUE(parser.ParseFromString(ReadFile(path), &module)) << path;
  return module;
}

// ----- The text form and every proto form of the project's own HLO test modules give the same IR.

class HloProtoSameIrTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string HloPath() const { return Source("tests/testdata/hlo/" + GetParam() + ".hlo"); }
  std::string ProtoPath() const {
    return Source("tests/testdata/hlo_proto/" + GetParam() + ".pbtxt");
  }
  std::string Expected() const {
    absl::StatusOr<ImportedModel> text = ParseHloFile(HloPath(), {});
    EXPECT_THAT(text, IsOk());
    return text.ok() ? Dump(*text) : "";
  }
};

TEST_P(HloProtoSameIrTest, TextFormatProtoGivesTheHloTextIr) {
  const std::string expected = Expected();
  ASSERT_FALSE(expected.empty());
  absl::StatusOr<ImportedModel> proto =
      ImportHloProtoFile(ProtoPath(), HloProtoEncoding::kText, {});
  ASSERT_THAT(proto, IsOk());
  EXPECT_EQ(Dump(*proto), expected);
  // The front door picks the importer from the extension.
  absl::StatusOr<ImportedModel> through_import = ImportModelFile(ProtoPath(), {});
  ASSERT_THAT(through_import, IsOk());
  EXPECT_EQ(Dump(*through_import), expected);
}

TEST_P(HloProtoSameIrTest, BinaryProtoAndEveryWrapperGiveTheHloTextIr) {
  const std::string expected = Expected();
  const xp::HloModuleProto module = ReadTextModule(ProtoPath());
  xp::HloProto hlo_proto;
  *hlo_proto.mutable_hlo_module() = module;
  xp::HloSnapshot snapshot;
  *snapshot.mutable_hlo()->mutable_hlo_module() = module;
  xp::ModuleTuningData tuning;
  *tuning.mutable_module() = module;
  xp::TuningData tuning_file;
  *tuning_file.add_modules()->mutable_module() = module;
  const std::vector<std::pair<std::string, const google::protobuf::Message*>> forms = {
      {"module.pb", &module},
      {"hlo_proto.hlo.pb", &hlo_proto},
      {"snapshot.pb", &snapshot},
      {"module_tuning.pb", &tuning},
      {"tuning.pb", &tuning_file}};
  for (const auto& [name, message] : forms) {
    const std::string path = WriteTemp(GetParam() + "/" + name, message->SerializeAsString());
    absl::StatusOr<ImportedModel> imported = ImportModelFile(path, {});
    ASSERT_THAT(imported, IsOk()) << name;
    EXPECT_EQ(Dump(*imported), expected) << name;
    // And the text form of each wrapper.
    std::string text;
    ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(*message, &text));
    const std::string text_path = WriteTemp(GetParam() + "/" + name + "txt", text);
    absl::StatusOr<ImportedModel> from_text = ImportModelFile(text_path, {});
    ASSERT_THAT(from_text, IsOk()) << name << "txt";
    EXPECT_EQ(Dump(*from_text), expected) << name << "txt";
  }
}

// `perfgraph inspect --json` prints the same report for the text and the proto form.
TEST_P(HloProtoSameIrTest, InspectJsonIsIdenticalForTextAndProto) {
  const std::string binary =
      WriteTemp(GetParam() + "/cli.pb", ReadTextModule(ProtoPath()).SerializeAsString());
  const tools::test::CliResult text = tools::test::RunPerfgraph("inspect --json " + HloPath());
  ASSERT_EQ(text.exit_code, 0) << text.out;
  for (const std::string& path : {ProtoPath(), binary}) {
    const tools::test::CliResult proto = tools::test::RunPerfgraph("inspect --json " + path);
    ASSERT_EQ(proto.exit_code, 0) << proto.out;
    EXPECT_EQ(proto.out, text.out) << path;
  }
  const nlohmann::json report = nlohmann::json::parse(text.out);
  EXPECT_GE(report["kernels"].size(), 2u);  // a real report, not an empty one
}

INSTANTIATE_TEST_SUITE_P(ProjectModules, HloProtoSameIrTest,
                         ::testing::Values("while_loop", "unoptimized_convnet",
                                           "optimized_fusions"),
                         [](const auto& info) { return info.param; });

TEST(HloProtoImportTest, WhileLoopKeepsTripCountFusionsAndConditionOrder) {
  auto model = ImportHloProtoFile(Source("tests/testdata/hlo_proto/while_loop.pbtxt"),
                                  HloProtoEncoding::kText, {});
  ASSERT_THAT(model, IsOk());
  const Instruction& loop = model->program.at(4);
  EXPECT_EQ(loop.opcode, HloOpcode::kWhile);
  // XLA stores {body, condition}; the IR lists them as HLO text does.
  EXPECT_THAT(loop.attrs.called_computations, ::testing::ElementsAre("cond", "body"));
  ASSERT_EQ(model->call_sites.count("body"), 1u);
  EXPECT_EQ(model->call_sites.at("body").executions, 10);
  EXPECT_EQ(model->call_sites.at("cond").executions, 11);
  std::vector<std::string> kernels;
  for (const Kernel& k : model->prefused_kernels) kernels.push_back(k.name);
  EXPECT_THAT(kernels, ::testing::ElementsAre("cond/lt", "body/i.next", "body/h.next"));
}

// ----- Real protos written by XLA.

struct XlaPair {
  std::string proto;  // as in openxla/xla (text format, named .hlo)
  std::string text;   // the same module as HLO text, written by hand
};

class HloProtoXlaTest : public ::testing::TestWithParam<XlaPair> {};

TEST_P(HloProtoXlaTest, XlaTestProtoGivesTheIrOfItsHloText) {
  const std::string dir = "tests/testdata/hlo_proto/xla/";
  // Named .hlo like HLO text: the front door recognises the text-format proto by its content.
  absl::StatusOr<ImportedModel> proto = ImportModelFile(Source(dir + GetParam().proto), {});
  ASSERT_THAT(proto, IsOk());
  absl::StatusOr<ImportedModel> text = ParseHloFile(Source(dir + GetParam().text), {});
  ASSERT_THAT(text, IsOk());
  EXPECT_EQ(Dump(*proto), Dump(*text));
  EXPECT_GE(proto->program.size(), 3);
}

INSTANTIATE_TEST_SUITE_P(
    OpenXla, HloProtoXlaTest,
    ::testing::Values(XlaPair{"simple.hlo", "simple_text.hlo"},                // HloModuleProto
                      XlaPair{"dynamic_param.hlo", "dynamic_param_text.hlo"},  // HloProto
                      XlaPair{"module_attributes.hlo", "module_attributes_text.hlo"}),
    [](const auto& info) {
      const std::string& file = info.param.proto;
      return file.substr(0, file.find('.'));
    });

TEST(HloProtoImportTest, XlaBoundedDynamicDimensionUsesItsBound) {
  auto model = ImportModelFile(Source("tests/testdata/hlo_proto/xla/dynamic_param.hlo"), {});
  ASSERT_THAT(model, IsOk());
  EXPECT_EQ(model->program.at(1).shape.ToString(), "f32[2]{0}");
}

// The TpuGraphs raw tuning data (TuningData of 15 ModuleTuningData, each an XLA TPU module with
// its measured tile configs).
TEST(HloProtoImportTest, TpuGraphsTuningDataImportsEveryModule) {
  const std::string path = Source("tests/testdata/hlo_proto/tpu_graphs/op_tuning_data.pb");
  auto models = ImportHloProtoFileAll(path, HloProtoEncoding::kBinary, {});
  ASSERT_THAT(models, IsOk());
  ASSERT_THAT(*models, SizeIs(15));
  // Each module is one tuned op: 10 are a fusion (an optimised module: its kernel comes from the
  // file, named after the fusion, which names the module), 5 a lone copy or reshape (no fusion: the
  // fusion pass makes their kernels).
  int fusions = 0;
  for (const ImportedModel& m : *models) {
    EXPECT_THAT(m.program.Validate(), IsOk()) << m.program.name;
    EXPECT_TRUE(m.unsupported_ops.empty()) << m.program.name;
    if (m.program.name.rfind("fusion.", 0) == 0) {
      ++fusions;
      ASSERT_THAT(m.prefused_kernels, SizeIs(1)) << m.program.name;
      EXPECT_EQ(m.prefused_kernels[0].name, m.program.name);
      EXPECT_GE(m.prefused_kernels[0].size(), 6) << m.program.name;
    } else {
      EXPECT_TRUE(m.prefused_kernels.empty()) << m.program.name;
      EXPECT_EQ(m.program.size(), 2) << m.program.name;  // parameter -> copy / reshape
    }
  }
  EXPECT_EQ(fusions, 10);
  EXPECT_EQ(models->front().program.name, "fusion.232");
  EXPECT_EQ(models->front().prefused_kernels[0].root_instruction().opcode, HloOpcode::kReduce);
  // The front door takes the first module; a module cut out of the file imports the same.
  auto first = ImportModelFile(path, {});
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(Dump(*first), Dump(models->front()));
  xp::TuningData tuning;
  ASSERT_TRUE(tuning.ParseFromString(ReadFile(path)));
  const std::string alone =
      WriteTemp("tpu/module.pb", tuning.modules(0).module().SerializeAsString());
  auto module_alone = ImportModelFile(alone, {});
  ASSERT_THAT(module_alone, IsOk());
  EXPECT_EQ(Dump(*module_alone), Dump(models->front()));
  const std::string entry =
      WriteTemp("tpu/module_tuning.pb", tuning.modules(0).SerializeAsString());
  auto module_tuning = ImportModelFile(entry, {});
  ASSERT_THAT(module_tuning, IsOk());
  EXPECT_EQ(Dump(*module_tuning), Dump(models->front()));
}

// XLA's --xla_dump_hlo_as_proto writes an HloProto with a buffer_assignment (field 3, not declared
// in our proto); read as an HloModuleProto, its buffer aliases look like instructions whose opcode
// is a nested message: the importer must still choose the HloProto reading.
TEST(HloProtoImportTest, HloProtoWithBufferAssignmentIsReadAsAWrapper) {
  auto varint = [](uint64_t v) {
    std::string out;
    while (v >= 0x80) {
      out.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<char>(v));
    return out;
  };
  auto field = [&](int number, const std::string& payload) {
    return varint(static_cast<uint64_t>(number) << 3 | 2) + varint(payload.size()) + payload;
  };
  // BufferAssignmentProto{buffer_aliases: {source_buffer_id: 5, location: {instruction_name:
  // "add.3", instruction_id: 7}}} twice.
  const std::string location = field(2, "add.3") + varint(4 << 3) + varint(7);
  const std::string alias = varint(1 << 3) + varint(5) + field(2, location);
  const std::string assignment = field(2, alias) + field(2, alias);
  xp::HloProto wrapper;
  *wrapper.mutable_hlo_module() =
      ReadTextModule(Source("tests/testdata/hlo_proto/while_loop.pbtxt"));
  const std::string path =
      WriteTemp("dump/module.hlo.pb", wrapper.SerializeAsString() + field(3, assignment));
  auto model = ImportModelFile(path, {});
  ASSERT_THAT(model, IsOk());
  auto text = ParseHloFile(Source("tests/testdata/hlo/while_loop.hlo"), {});
  ASSERT_THAT(text, IsOk());
  EXPECT_EQ(Dump(*model), Dump(*text));
}

// batch-norm (feature_index, epsilon, expansion) and collectives (replica groups in both proto
// forms, to_apply) give the IR of their HLO text.
TEST(HloProtoImportTest, BatchNormAndCollectivesMatchTheirText) {
  const std::string text = R"(HloModule bn
add {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT s = f32[] add(a, b)
}
ENTRY e {
  x = f32[2,3,4]{2,1,0} parameter(0)
  sc = f32[3]{0} parameter(1)
  off = f32[3]{0} parameter(2)
  mean = f32[3]{0} parameter(3)
  var = f32[3]{0} parameter(4)
  y = f32[2,3,4]{2,1,0} batch-norm-inference(x, sc, off, mean, var), epsilon=0.001, feature_index=1
  ar = f32[3]{0} all-reduce(sc), replica_groups={{0,1,2},{3,4,5}}, to_apply=add
  ROOT ag = f32[12]{0} all-gather(ar), replica_groups=[2,4]<=[8], dimensions={0}
}
)";
  const std::string proto = R"pb(
    name: "bn"
    entry_computation_name: "e"
    computations {
      name: "add"
      id: 1
      root_id: 3
      instructions {
        name: "a"
        opcode: "parameter"
        id: 1
        shape { element_type: F32 }
      }
      instructions {
        name: "b"
        opcode: "parameter"
        id: 2
        parameter_number: 1
        shape { element_type: F32 }
      }
      instructions {
        name: "s"
        opcode: "add"
        id: 3
        operand_ids: [ 1, 2 ]
        shape { element_type: F32 }
      }
    }
    computations {
      name: "e"
      id: 2
      root_id: 13
      instructions {
        name: "x"
        opcode: "parameter"
        id: 4
        shape {
          element_type: F32
          dimensions: [ 2, 3, 4 ]
          layout { minor_to_major: [ 2, 1, 0 ] }
        }
      }
      instructions {
        name: "sc"
        opcode: "parameter"
        id: 5
        parameter_number: 1
        shape {
          element_type: F32
          dimensions: 3
          layout { minor_to_major: 0 }
        }
      }
      instructions {
        name: "off"
        opcode: "parameter"
        id: 6
        parameter_number: 2
        shape {
          element_type: F32
          dimensions: 3
          layout { minor_to_major: 0 }
        }
      }
      instructions {
        name: "mean"
        opcode: "parameter"
        id: 7
        parameter_number: 3
        shape {
          element_type: F32
          dimensions: 3
          layout { minor_to_major: 0 }
        }
      }
      instructions {
        name: "var"
        opcode: "parameter"
        id: 8
        parameter_number: 4
        shape {
          element_type: F32
          dimensions: 3
          layout { minor_to_major: 0 }
        }
      }
      instructions {
        name: "y"
        opcode: "batch-norm-inference"
        id: 9
        operand_ids: [ 4, 5, 6, 7, 8 ]
        epsilon: 0.001
        feature_index: 1
        shape {
          element_type: F32
          dimensions: [ 2, 3, 4 ]
          layout { minor_to_major: [ 2, 1, 0 ] }
        }
      }
      instructions {
        name: "ar"
        opcode: "all-reduce"
        id: 10
        operand_ids: 5
        called_computation_ids: 1
        replica_groups { replica_ids: [ 0, 1, 2 ] }
        replica_groups { replica_ids: [ 3, 4, 5 ] }
        shape {
          element_type: F32
          dimensions: 3
          layout { minor_to_major: 0 }
        }
      }
      instructions {
        name: "ag"
        opcode: "all-gather"
        id: 13
        operand_ids: 10
        dimensions: 0
        collective_device_list {
          iota_replica_group_list {
            num_replica_groups: 2
            num_devices_per_group: 4
            iota_reshape_dims: 8
          }
        }
        shape {
          element_type: F32
          dimensions: 12
          layout { minor_to_major: 0 }
        }
      }
    }
  )pb";
  auto from_text = ParseHloText(text, "bn.hlo", {});
  ASSERT_THAT(from_text, IsOk());
  auto from_proto = ImportHloProto(proto, HloProtoEncoding::kText, "bn.pbtxt", {});
  ASSERT_THAT(from_proto, IsOk());
  EXPECT_EQ(Dump(from_proto->front()), Dump(from_text->front()));
  // Expanded: no batch-norm left; the collectives keep their group sizes and combiner.
  const Program& p = from_proto->front().program;
  int all_reduce = -1, all_gather = -1;
  for (const Instruction& inst : p.instructions) {
    EXPECT_NE(inst.opcode, HloOpcode::kBatchNormInference);
    if (inst.name == "ar") all_reduce = inst.id;
    if (inst.name == "ag") all_gather = inst.id;
  }
  ASSERT_GE(all_reduce, 0);
  ASSERT_GE(all_gather, 0);
  EXPECT_EQ(p.at(all_reduce).attrs.replica_group_size, 3);
  EXPECT_EQ(p.at(all_reduce).attrs.reduce_computation, HloOpcode::kAdd);
  EXPECT_EQ(p.at(all_gather).attrs.replica_group_size, 4);
}

// ----- Constants: the value HLO text holds for the same literal.

// Imports `module_text` (HLO text with one constant `c`) and the proto form whose constant has
// `literal`; returns both constant values.
std::pair<std::optional<double>, std::optional<double>> ConstantValues(
    const std::string& type, xp::PrimitiveType proto_type, const std::string& text_literal,
    const xp::LiteralProto& literal, int64_t elements) {
  const std::string dims = elements == 1 ? "" : absl::StrCat(elements);
  auto text = ParseHloText(absl::StrCat("HloModule m\nENTRY e {\n  ROOT c = ", type, "[", dims,
                                        "] constant(", text_literal, ")\n}\n"),
                           "c.hlo", {});
  EXPECT_THAT(text, IsOk());
  xp::HloModuleProto module;
  module.set_name("m");
  module.set_entry_computation_name("e");
  xp::HloComputationProto* comp = module.add_computations();
  comp->set_name("e");
  comp->set_root_id(1);
  xp::HloInstructionProto* c = comp->add_instructions();
  c->set_name("c");
  c->set_opcode("constant");
  c->set_id(1);
  c->mutable_shape()->set_element_type(proto_type);
  if (elements != 1) c->mutable_shape()->add_dimensions(elements);
  *c->mutable_literal() = literal;
  auto proto = ImportHloProto(module.SerializeAsString(), HloProtoEncoding::kBinary, "c.pb", {});
  EXPECT_THAT(proto, IsOk());
  if (!text.ok() || !proto.ok()) return {};
  return {text->front().program.at(0).attrs.constant_value,
          proto->front().program.at(0).attrs.constant_value};
}

TEST(HloProtoImportTest, FloatConstantsHoldTheDecimalHloTextHolds) {
  {
    xp::LiteralProto l;
    l.add_f32s(0.1f);
    l.add_f32s(0.1f);
    auto [text, proto] = ConstantValues("f32", xp::F32, "{0.1, 0.1}", l, 2);
    ASSERT_TRUE(proto.has_value());
    EXPECT_EQ(*proto, 0.1);  // not 0.100000001490116, the float's exact value
    EXPECT_EQ(text, proto);
  }
  {
    xp::LiteralProto l;
    l.add_f32s(0.333333343f);  // 6 digits do not read back as this float: XLA prints 9
    auto [text, proto] = ConstantValues("f32", xp::F32, "0.333333343", l, 1);
    EXPECT_EQ(proto, 0.333333343);
    EXPECT_EQ(text, proto);
  }
  {
    xp::LiteralProto l;
    // bf16 0x3dcd, the bf16 nearest 0.1 (0.10009765625): XLA prints bf16 with 4 digits.
    l.set_bf16s(std::string("\xcd\x3d", 2));
    auto [text, proto] = ConstantValues("bf16", xp::BF16, "0.1001", l, 1);
    ASSERT_TRUE(proto.has_value());
    EXPECT_EQ(*proto, 0.1001);
    EXPECT_EQ(text, proto);
  }
  {
    xp::LiteralProto l;
    l.set_f16s(std::string("\x00\x3c\x00\x3c\x00\x3c", 6));  // f16 1.0 three times
    auto [text, proto] = ConstantValues("f16", xp::F16, "{1, 1, 1}", l, 3);
    EXPECT_EQ(proto, 1.0);
    EXPECT_EQ(text, proto);
  }
  {
    xp::LiteralProto l;
    l.set_f16s(std::string("\x66\x2e", 2));  // f16 0x2e66 = 0.0999755859375: 5 digits
    auto [text, proto] = ConstantValues("f16", xp::F16, "0.099976", l, 1);
    EXPECT_EQ(proto, 0.099976);
    EXPECT_EQ(text, proto);
  }
  {
    xp::LiteralProto l;
    l.set_f8e4m3fns(std::string("\x7e", 1));  // the largest f8e4m3fn: 448
    auto [text, proto] = ConstantValues("f8e4m3fn", xp::F8E4M3FN, "448", l, 1);
    EXPECT_EQ(proto, 448.0);
    EXPECT_EQ(text, proto);
  }
  {
    xp::LiteralProto l;
    l.set_f8e5m2fnuzs(std::string("\x80", 1));  // fnuz: the sign bit alone is NaN
    auto [text, proto] = ConstantValues("f8e5m2fnuz", xp::F8E5M2FNUZ, "nan", l, 1);
    ASSERT_TRUE(proto.has_value());
    EXPECT_TRUE(std::isnan(*proto));
  }
  {
    xp::LiteralProto l;
    l.add_f32s(-std::numeric_limits<float>::infinity());
    auto [text, proto] = ConstantValues("f32", xp::F32, "-inf", l, 1);
    EXPECT_EQ(text, proto);
  }
}

TEST(HloProtoImportTest, IntegerAndPredConstantsAndNonSplats) {
  {
    xp::LiteralProto l;
    l.set_s4s(std::string("\x0f\x0f", 2));  // s4 -1, one element per byte
    auto [text, proto] = ConstantValues("s4", xp::S4, "{-1, -1}", l, 2);
    EXPECT_EQ(proto, -1.0);
    EXPECT_EQ(text, proto);
  }
  {
    xp::LiteralProto l;
    l.add_preds(true);
    auto [text, proto] = ConstantValues("pred", xp::PRED, "true", l, 1);
    EXPECT_EQ(proto, 1.0);
    EXPECT_EQ(text, proto);
  }
  {
    xp::LiteralProto l;
    l.add_u64s(18446744073709551615ull);
    auto [text, proto] = ConstantValues("u64", xp::U64, "18446744073709551615", l, 1);
    EXPECT_EQ(text, proto);
  }
  {
    xp::LiteralProto l;
    l.add_s32s(1);
    l.add_s32s(2);
    auto [text, proto] = ConstantValues("s32", xp::S32, "{1, 2}", l, 2);
    EXPECT_FALSE(proto.has_value());  // not a splat
    EXPECT_EQ(text, proto);
  }
  {
    xp::LiteralProto empty;  // XLA elides nothing in protos, but a literal may be left empty
    auto [text, proto] = ConstantValues("f32", xp::F32, "{...}", empty, 4);
    EXPECT_FALSE(proto.has_value());
    EXPECT_EQ(text, proto);
  }
}

// ----- Bad protos: clear errors naming the file and the offending value.

// A valid two-instruction module (p -> negate) to break in each test.
xp::HloModuleProto SmallModule() {
  xp::HloModuleProto module;
  EXPECT_TRUE(
      google::protobuf::TextFormat::ParseFromString(R"pb(
                                                      name: "small"
                                                      entry_computation_name: "main"
                                                      entry_computation_id: 3
                                                      computations {
                                                        name: "main"
                                                        id: 3
                                                        root_id: 2
                                                        instructions {
                                                          name: "p"
                                                          opcode: "parameter"
                                                          id: 1
                                                          shape {
                                                            element_type: F32
                                                            dimensions: [ 4, 8 ]
                                                            layout { minor_to_major: [ 1, 0 ] }
                                                          }
                                                        }
                                                        instructions {
                                                          name: "n"
                                                          opcode: "negate"
                                                          id: 2
                                                          operand_ids: 1
                                                          shape {
                                                            element_type: F32
                                                            dimensions: [ 4, 8 ]
                                                            layout { minor_to_major: [ 1, 0 ] }
                                                          }
                                                        }
                                                      }
                                                    )pb",
                                                    &module));
  return module;
}

absl::Status ImportError(const xp::HloModuleProto& module, const ImportOptions& options = {}) {
  return ImportHloProto(module.SerializeAsString(), HloProtoEncoding::kBinary, "bad.pb", options)
      .status();
}

TEST(HloProtoImportTest, SmallModuleImports) {
  auto models =
      ImportHloProto(SmallModule().SerializeAsString(), HloProtoEncoding::kBinary, "small.pb", {});
  ASSERT_THAT(models, IsOk());
  EXPECT_EQ(models->front().program.size(), 2);
}

TEST(HloProtoImportTest, UnknownOpcodeIsUnimplementedUnlessAllowed) {
  xp::HloModuleProto module = SmallModule();
  module.mutable_computations(0)->mutable_instructions(1)->set_opcode("frobnicate");
  EXPECT_THAT(ImportError(module),
              StatusIs(absl::StatusCode::kUnimplemented,
                       AllOf(StartsWith("bad.pb: computation 'main', instruction 'n' (id 2): "),
                             HasSubstr("unsupported HLO opcode 'frobnicate'"),
                             HasSubstr("--allow-unsupported"))));
  ImportOptions allow;
  allow.allow_unsupported = true;
  auto models =
      ImportHloProto(module.SerializeAsString(), HloProtoEncoding::kBinary, "x.pb", allow);
  ASSERT_THAT(models, IsOk());
  const ImportedModel& m = models->front();
  EXPECT_EQ(m.program.at(1).opcode, HloOpcode::kUnknown);
  EXPECT_EQ(m.program.at(1).attrs.custom_call_target, "frobnicate");
  ASSERT_THAT(m.unsupported_ops, SizeIs(1));
  EXPECT_EQ(m.unsupported_ops[0].op_type, "frobnicate");
}

TEST(HloProtoImportTest, DanglingIdsAreErrorsNamingTheId) {
  xp::HloModuleProto module = SmallModule();
  module.mutable_computations(0)->mutable_instructions(1)->set_operand_ids(0, 99);
  EXPECT_THAT(ImportError(module),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(StartsWith("bad.pb: computation 'main', instruction 'n' (id 2): "),
                             HasSubstr("operand 0 is id 99, which names no instruction"))));
  module = SmallModule();
  module.mutable_computations(0)->mutable_instructions(1)->add_called_computation_ids(42);
  EXPECT_THAT(ImportError(module),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("called computation id 42 names no computation")));
  module = SmallModule();
  module.mutable_computations(0)->mutable_instructions(1)->add_control_predecessor_ids(7);
  EXPECT_THAT(ImportError(module),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("control predecessor id 7 names no instruction")));
  module = SmallModule();
  module.mutable_computations(0)->set_root_id(5);
  EXPECT_THAT(ImportError(module),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("computation 'main': root_id 5 names no instruction")));
  module = SmallModule();
  module.mutable_computations(0)->mutable_instructions(1)->set_id(1);
  EXPECT_THAT(ImportError(module),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("duplicate instruction id 1 (also instruction 'p')")));
}

TEST(HloProtoImportTest, MissingEntryComputationIsAnError) {
  xp::HloModuleProto module = SmallModule();
  module.set_entry_computation_name("nope");
  EXPECT_THAT(ImportError(module),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(StartsWith("bad.pb: module 'small': no entry computation"),
                             HasSubstr("entry_computation_name 'nope' names no computation"),
                             HasSubstr("(computations: main)"))));
  module.clear_entry_computation_name();
  module.set_entry_computation_id(8);
  EXPECT_THAT(ImportError(module),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("entry_computation_id 8 names no computation")));
  module.set_entry_computation_id(3);  // by id alone
  EXPECT_THAT(ImportError(module), IsOk());
  module.set_entry_computation_name("main");
  module.set_entry_computation_id(4);
  EXPECT_THAT(ImportError(module),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("entry_computation_name 'main' is computation id 3 but "
                                 "entry_computation_id is 4")));
}

TEST(HloProtoImportTest, BadValuesAreNamed) {
  xp::HloModuleProto module = SmallModule();
  module.mutable_computations(0)->mutable_instructions(0)->mutable_shape()->set_element_type(
      xp::F8E4M3);
  EXPECT_THAT(ImportError(module), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("instruction 'p' (id 1): shape: element type "
                                                      "F8E4M3 (28) is not supported")));
  module = SmallModule();
  module.mutable_computations(0)->mutable_instructions(0)->mutable_shape()->set_dimensions(0, -3);
  EXPECT_THAT(ImportError(module),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("expected dimension sizes in [0, 2^40], got -3")));
  module = SmallModule();
  module.mutable_computations(0)->mutable_instructions(1)->set_opcode("compare");
  module.mutable_computations(0)->mutable_instructions(1)->set_comparison_direction("ALMOST");
  EXPECT_THAT(ImportError(module),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("comparison_direction 'ALMOST' is not one of")));
  module = SmallModule();
  module.mutable_computations(0)->mutable_instructions(1)->set_name("n/1");
  EXPECT_THAT(ImportError(module),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("instruction name 'n/1': expected a non-empty "
                                 "name of [A-Za-z0-9_.-]")));
  module = SmallModule();
  xp::HloInstructionProto* c = module.mutable_computations(0)->mutable_instructions(1);
  c->set_opcode("constant");
  c->clear_operand_ids();
  c->mutable_literal()->add_f32s(1);
  c->mutable_literal()->add_f32s(2);
  EXPECT_THAT(ImportError(module), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("constant literal holds 2 elements but its "
                                                      "shape f32[4,8]{1,0} has 32")));
}

// The shared verifier checks proto modules too; the error names the instruction.
TEST(HloProtoImportTest, VerifierErrorsNameTheInstruction) {
  xp::HloModuleProto module = SmallModule();
  module.mutable_computations(0)->mutable_instructions(1)->mutable_shape()->set_dimensions(1, 9);
  EXPECT_THAT(ImportError(module),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(StartsWith("bad.pb: computation 'main', instruction 'n' (id 2): "),
                             HasSubstr("negate 'n'"))));
}

TEST(HloProtoImportTest, FusionNeedsAKindAndOneComputation) {
  xp::HloModuleProto module = ReadTextModule(Source("tests/testdata/hlo_proto/while_loop.pbtxt"));
  module.mutable_computations(2)->mutable_instructions(4)->clear_fusion_kind();
  EXPECT_THAT(ImportError(module),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("computation 'body', instruction 'i.next' (id 12)"),
                             HasSubstr("fusion_kind '' is not one of kLoop"))));
  module = ReadTextModule(Source("tests/testdata/hlo_proto/while_loop.pbtxt"));
  module.mutable_computations(2)->mutable_instructions(4)->add_called_computation_ids(1);
  EXPECT_THAT(ImportError(module),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("fusion has 2 called_computation_ids, expected 1")));
}

TEST(HloProtoImportTest, WrongWrapperOrNotAProtoIsAnError) {
  // Not a protobuf at all.
  EXPECT_THAT(
      ImportHloProto(std::string("\xff\xff\xff\xff garbage", 12), HloProtoEncoding::kBinary,
                     "junk.pb", {}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(StartsWith("junk.pb: not an XLA HloModuleProto, HloProto, HloSnapshot"),
                     HasSubstr("protobuf parsing failed"))));
  // A valid protobuf of another kind: an HloSnapshot without its HloProto's module, and a message
  // whose field 1 is a plain string.
  xp::HloSnapshot empty_snapshot;
  empty_snapshot.mutable_hlo();
  EXPECT_THAT(
      ImportHloProto(empty_snapshot.SerializeAsString(), HloProtoEncoding::kBinary, "snap.pb", {}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(StartsWith("snap.pb: not an XLA HloModuleProto"),
                     HasSubstr("no reading of the file holds computations"))));
  // A text-format proto of something else.
  EXPECT_THAT(ImportHloProto("graph { node { op_type: \"Relu\" } }", HloProtoEncoding::kText,
                             "model.pbtxt", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("model.pbtxt: not an XLA")));
  // Text-format syntax errors name line and column.
  EXPECT_THAT(ImportHloProto("name: \"m\"\ncomputations { name: \n", HloProtoEncoding::kText,
                             "broken.pbtxt", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("broken.pbtxt:3:")));
  // A value of the wrong type in a declared field (opcode is a string) names its line too.
  EXPECT_THAT(
      ImportHloProto("name: \"m\"\ncomputations { name: \"e\"\n  instructions { opcode: add }\n}\n",
                     HloProtoEncoding::kText, "typed.pbtxt", {}),
      StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("typed.pbtxt:3:")));
  EXPECT_THAT(ImportHloProto("", HloProtoEncoding::kBinary, "empty.pb", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("the file is empty")));
}

TEST(HloProtoImportTest, InstructionLimitIsCheckedBeforeParsing) {
  ImportOptions options;
  options.max_instructions = 20;  // while_loop has 24
  const xp::HloModuleProto module =
      ReadTextModule(Source("tests/testdata/hlo_proto/while_loop.pbtxt"));
  EXPECT_THAT(
      ImportHloProto(module.SerializeAsString(), HloProtoEncoding::kBinary, "big.pb", options),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(StartsWith("big.pb: a module has more than 20 instructions"),
                     HasSubstr("kMaxInstructions"))));
  xp::HloSnapshot snapshot;
  *snapshot.mutable_hlo()->mutable_hlo_module() = module;
  EXPECT_THAT(
      ImportHloProto(snapshot.SerializeAsString(), HloProtoEncoding::kBinary, "big.pb", options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than 20 instructions")));
  EXPECT_THAT(ImportHloProto(ReadFile(Source("tests/testdata/hlo_proto/while_loop.pbtxt")),
                             HloProtoEncoding::kText, "big.pbtxt", options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than 20 instructions")));
  options.max_instructions = 24;
  EXPECT_THAT(
      ImportHloProto(module.SerializeAsString(), HloProtoEncoding::kBinary, "ok.pb", options),
      IsOk());
}

TEST(HloProtoImportTest, InputShapeAndUnboundedDimensions) {
  xp::HloModuleProto module = SmallModule();
  // f32[?,8] parameter and result: XLA's kUnboundedSize is INT64_MIN.
  for (int i = 0; i < 2; ++i) {
    module.mutable_computations(0)->mutable_instructions(i)->mutable_shape()->set_dimensions(
        0, std::numeric_limits<int64_t>::min());
  }
  EXPECT_THAT(ImportError(module), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("unbounded dynamic dimension")));
  ImportOptions options;
  options.input_shapes["p"] = {2, 8};
  auto models =
      ImportHloProto(module.SerializeAsString(), HloProtoEncoding::kBinary, "dyn.pb", options);
  // Only the parameter is replaced; the negate keeps its '?', as in HLO text.
  EXPECT_THAT(models, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instruction 'n'")));
}

TEST(HloProtoImportTest, FilesTooLargeOrMissing) {
  EXPECT_THAT(ImportHloProtoFile("/nonexistent/m.pb", HloProtoEncoding::kBinary, {}),
              StatusIs(absl::StatusCode::kNotFound, StartsWith("/nonexistent/m.pb")));
  const std::string path = WriteTemp("sparse/huge.pb", "");
  std::filesystem::resize_file(path, static_cast<uintmax_t>(kMaxHloProtoFileBytes) + 1);  // sparse
  EXPECT_THAT(ImportHloProtoFile(path, HloProtoEncoding::kBinary, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kMaxHloProtoFileBytes")));
}

TEST(HloProtoImportTest, LooksLikeHloTextProto) {
  EXPECT_TRUE(LooksLikeHloTextProto("name: \"m\"\ncomputations {}"));
  EXPECT_TRUE(LooksLikeHloTextProto("# RUN: xla-translate %s\n\n# CHECK: x\nhlo_module       {\n"));
  EXPECT_TRUE(LooksLikeHloTextProto("computations <\n"));
  EXPECT_FALSE(LooksLikeHloTextProto("HloModule m, entry_computation_layout={()->f32[]}\n"));
  EXPECT_FALSE(LooksLikeHloTextProto("// comment\nHloModule m\n"));
  EXPECT_FALSE(LooksLikeHloTextProto("fused_increment {\n  i = s32[] parameter(0)\n"));
  EXPECT_FALSE(LooksLikeHloTextProto("ENTRY main {\n"));
  EXPECT_FALSE(LooksLikeHloTextProto(""));
}

}  // namespace
}  // namespace perfgraph::graph
