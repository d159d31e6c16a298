// Importer for XLA's serialized HLO modules: binary and text-format HloModuleProto, as XLA writes
// them (`--xla_dump_hlo_as_proto` dumps an HloProto `.hlo.pb`, `--xla_dump_hlo_snapshots` an
// HloSnapshot `.hlo_snapshot.pb`; XLA's tools and tests use text-format protos), and the TpuGraphs
// raw tuning data (google-research-datasets/tpu_graphs: ModuleTuningData, TuningData). The messages
// read are declared in graph/xla_hlo.proto (XLA's field numbers; fields the IR does not use are
// ignored).
//
// Same IR as HLO text: each module fills the structures the HLO text parser fills
// (graph/hlo_raw_module.h) and goes through the same finishing and conversion
// (hlo_internal::FinishRawModule), so the text and proto forms of a module give the same
// ImportedModel: the program, prefused kernels of optimised modules, called programs with their
// trip counts, library ops, batch-norm expansion, verification, --input-shape, unsupported-op
// handling, exactly as graph/hlo_parser.h documents them. Field by field:
//  - module: name (HLO text's `HloModule NAME`; the entry's name when empty); the entry is the
//    computation named entry_computation_name, or, when that is empty, the one whose id is
//    entry_computation_id. A name naming no computation, an id naming none, or a named entry whose
//    id differs from a non-zero entry_computation_id are errors.
//  - computation: name, instructions in the file's order, root = the instruction whose id is
//    root_id (error when none has it). Computation ids must be unique in the module, instruction
//    ids unique in their computation, names non-empty and of HLO text's characters
//    [A-Za-z0-9_.-] (so "computation/kernel" names stay unambiguous).
//  - instruction: opcode (the HLO text name; not an HLO opcode: kUnimplemented unless
//    ImportOptions::allow_unsupported, as in text), shape, operand_ids and control_predecessor_ids
//    (ids of instructions of the same computation; one naming none is an error),
//    called_computation_ids (ids of computations; listed as HLO text lists them: a while's
//    condition before its body), and the attributes HLO text keeps (graph/hlo_parser.h):
//    parameter_number, tuple_index (get-tuple-element), dimensions (except a reshape's, which is
//    its inferred_dimension), window, convolution_dimension_numbers, slice_dimensions,
//    padding_config, feature_group_count / batch_group_count (0 means the default 1),
//    dot_dimension_numbers, comparison_direction, fusion_kind, custom_call_target, replica_groups
//    or collective_device_list (the largest group, or the iota list's devices per group),
//    feature_index and epsilon of batch-norm-*, backend_config (the same three things as in text).
//  - shape: element_type (the IR's types: pred, s4..s64, u4..u64, f16, bf16, f32, f64, the five
//    f8 types of graph/shape.h, c64, c128, tuple, token; others such as S2, F8E4M3, F4E2M1FN are
//    errors), dimensions, layout.minor_to_major and memory_space; a dynamic dimension uses its
//    bound (`<=N` in text), INT64_MIN (an unbounded dynamic dimension, `?` in text) must be given
//    with --input-shape.
//  - constant: attrs.constant_value when every element of the literal is equal (as in text). A
//    floating-point value is the number XLA's HLO text printer writes for it (RoundTripFpToString:
//    f32 with 6 significant digits, or 9 when 6 do not read back as the same float; bf16, f16 and
//    f8 with the type's max_digits10; f64 exactly), read as a double: 0.1f gives 0.1, not
//    0.100000001490116, bf16 0.1 gives 0.1001, as in XLA's text dump of the same module, so both
//    forms give the same constant and kernel hash. batch-norm epsilon likewise (6 digits). A
//    literal without elements (left empty) leaves it unset; one whose element count contradicts
//    the shape is an error.
//
// Wrappers: a binary file is read as an HloModuleProto, else as a message whose field 1 is one
// (HloProto.hlo_module, ModuleTuningData.module), else as one whose field 1 holds such messages
// (HloSnapshot.hlo, TuningData.modules: one module per occurrence); the first reading under which
// every module has a computation with an instruction whose opcode is an HLO-style name is used.
// A text-format file is parsed as each of HloModuleProto, HloProto, HloSnapshot, ModuleTuningData,
// TuningData in turn (fields not declared in graph/xla_hlo.proto are skipped); the first giving
// such modules is used. A file that is none of them is kInvalidArgument "FILE: not an XLA
// HloModuleProto, HloProto, HloSnapshot or TpuGraphs tuning data: ...".
//
// Limits (graph/import.h): a binary file above kMaxHloProtoFileBytes or a text file above
// kMaxHloTextBytes is rejected before it is read; instructions are counted before protobuf builds
// the messages (binary: on the wire, per module; text: every `instructions` field of the file) and
// a module with more than ImportOptions::max_instructions (at most kMaxInstructions) is
// kInvalidArgument naming the file and the count.
//
// Errors: kInvalidArgument (kUnimplemented for an unsupported opcode) "FILE: computation 'C',
// instruction 'I' (id N): <what>", naming the offending value (an unknown opcode, a dangling
// operand id, an unsupported element type, ...); text-format syntax errors "FILE:LINE:COLUMN:
// <protobuf's message>"; the verification and conversion errors of graph/hlo_parser.h, located
// the same way. kNotFound when the file cannot be opened.
#ifndef PERFGRAPH_GRAPH_HLO_PROTO_IMPORT_H_
#define PERFGRAPH_GRAPH_HLO_PROTO_IMPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/import.h"

namespace perfgraph::graph {

// How the proto is serialized.
enum class HloProtoEncoding {
  kBinary,  // protobuf wire format (.pb)
  kText,    // protobuf text format (.pbtxt, .textproto)
};

// Imports every module of `data` (a serialized HloModuleProto or wrapper, see above), in file order
// (TuningData may hold several). `file_name` is the prefix of every error message.
absl::StatusOr<std::vector<ImportedModel>> ImportHloProto(absl::string_view data,
                                                          HloProtoEncoding encoding,
                                                          absl::string_view file_name,
                                                          const ImportOptions& options);

// Reads `path` and imports every module. Errors: kNotFound (cannot open), kInvalidArgument for a
// file above the size limit of its encoding (naming its size), otherwise as ImportHloProto.
absl::StatusOr<std::vector<ImportedModel>> ImportHloProtoFileAll(const std::string& path,
                                                                 HloProtoEncoding encoding,
                                                                 const ImportOptions& options);

// As ImportHloProtoFileAll, returning the first module only (the others are not converted).
absl::StatusOr<ImportedModel> ImportHloProtoFile(const std::string& path, HloProtoEncoding encoding,
                                                 const ImportOptions& options);

// Whether `head`, the start of a file named like HLO text (.hlo, .txt), is a text-format proto:
// after blank lines and `#` comment lines (HLO text has neither `#` comments nor `NAME:` at the
// top level), a field name followed by ':', or one of the message fields that open an
// HloModuleProto or wrapper (hlo_module, hlo, module, modules, computations, host_program_shape)
// followed by '{' or '<'. XLA's hlo_to_mhlo tests store text-format protos as `.hlo`.
bool LooksLikeHloTextProto(absl::string_view head);

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_HLO_PROTO_IMPORT_H_
