// Parser for XLA's HLO text format (the output of HloModule::ToString(), `--xla_dump_hlo_as_text`,
// and the `.hlo` files of XLA's tests and benchmarks), converting each module to the kernel-graph
// IR. The HloModuleProto importer (graph/hlo_proto_import.h) fills the same intermediate module
// (graph/hlo_raw_module.h) and shares everything after reading: finishing, verification and the
// conversion described below.
//
// Accepted syntax (grammar learned from XLA's printed modules and
// https://openxla.org/xla/operation_semantics):
//   file        := module (`// -----` line module)*        -- lit-test files hold several modules
//   module      := [`HloModule` NAME (`,` ATTR `=` VALUE)*] computation+
//                  (a second `HloModule` header also starts a new module)
//   computation := [`ENTRY`] [`%`]NAME [`(` signature `)` `->` shape] `{` instruction+ `}`
//                  [`,` ATTR `=` VALUE]*
//   instruction := [`ROOT`] [`%`]NAME `=` shape OPCODE `(` operands `)` (`,` ATTR `=` VALUE)*
//                  (may span several lines)
//   operand     := [shape] [`%`]NAME      -- bare (`%x`, `x`) or typed (`f32[2]{0} %x`)
//   shape       := TYPE `[` dims `]` [layout] | `(` [shape (`,` shape)*] `)`
//   dims        := dim (`,` dim)*;  dim := N | `<=`N (bounded dynamic: the bound is used) | `?`
//   layout      := `{` minor_to_major [`:` items] `}`, items such as T(8,128)(2,1) (tiles), E(4)
//                  (element size), S(1) (memory space, kept in Shape::memory_space), L(..), P(..),
//                  ...
// Comments `// ...` and `/* ... */` (e.g. `/*index=5*/`) may appear anywhere between tokens.
// Element types: pred s4 s8 s16 s32 s64 u4 u8 u16 u32 u64 f16 bf16 f32 f64 f8e5m2 f8e4m3fn
// f8e4m3b11fnuz f8e5m2fnuz f8e4m3fnuz c64 c128 token; any other type name is an error.
//
// Attributes kept (see graph::Attributes): window, dim_labels, dimensions, iota_dimension (stored
// in attrs.dimensions), slice, padding, feature_group_count, batch_group_count, lhs/rhs batch and
// contracting dims, direction, index (get-tuple-element), kind (fusion), custom_call_target,
// to_apply / calls / body / condition / true_computation / false_computation / branch_computations
// / called_computations (attrs.called_computations, in text order), control-predecessors (used only
// for ordering), feature_index and epsilon of batch-norm-* (attrs.dimensions = {feature_index},
// attrs.constant_value = epsilon). Constants: attrs.constant_value is set when every element of
// the literal is equal (a scalar, or a splat array such as `{0, 0}`); literals XLA elides as
// `{...}` leave it unset.
// replica_groups gives attrs.replica_group_size (collectives). backend_config is read for three
// things only: a TransformerEngine fused attention's dims (te_fused_attn_* custom-calls:
// attrs.dimensions as graph/library_ops.h lists them), a while's known_trip_count
// (ImportedModel::call_sites) and a cuBLAS GEMM's
// dot_dimension_numbers: a `__cublas$gemm` / `__cublas$lt$matmul` custom-call with two operands and
// an array result becomes the `dot` it describes (XLA's GemmRewriter in reverse; with a bias
// operand or a (result, workspace) tuple it stays a custom-call).
// Every other attribute (metadata, sharding, frontend_attributes, ...) and every module header
// attribute (entry_computation_layout, is_scheduled,
// input_output_alias, ...) is skipped, whatever its value: balanced (), [], {} and quoted strings
// with escapes.
//
// Conversion to the IR (one ImportedModel per module):
//  - program: the ENTRY computation (or the last computation when no ENTRY is marked, as XLA does),
//    instructions in topological order (HLO text normally defines before use; an out-of-order
//    listing is sorted, a cycle is an error). Instruction names lose their `%`. program.outputs =
//    {ROOT id} (the last instruction when no ROOT is marked). `call` instructions are inlined,
//    recursively: the callee's instructions are renamed "<call name>/<name>" and the call's users
//    read the callee root. while / conditional / fusion / async-start instructions stay in the
//    program with attrs.called_computations set. For reduce, reduce-window, scatter,
//    select-and-scatter, sort, all-reduce, reduce-scatter and map, attrs.reduce_computation is the
//    opcode of the ROOT of the to_apply computation (kAdd for a sum). Fusion instructions keep
//    their kind in attrs.fusion_kind.
//  - batch-norm-training / -inference / -grad are expanded into primitive HLO (graph::
//    ExpandBatchNorm, graph/expanders.h: XLA's BatchNormExpander) in `program`, in every called
//    program and inside every prefused kernel, before kernels are extracted, unless
//    ImportOptions::expand_batch_norm is false. An invalid batch-norm (feature_index out of range,
//    mismatched scale / mean / variance shape, ...) is then a kInvalidArgument error naming the
//    file, module and instruction.
//  - prefused_kernels, only when the module contains at least one fusion instruction (an optimised
//    module), in program order:
//      * each fusion becomes a Kernel named after the fusion instruction, kind from `kind=`; its
//        instructions are the fused computation's: parameters first in parameter_number order
//        (names as in the fused computation), then the rest in topological order, root = the fused
//        ROOT. Nested fusions and calls inside a fused computation are flattened into the kernel
//        (names
//        "<inner fusion>/<name>"). origin: parameters -> program id of the fusion operand, other
//        instructions -> -1 (they are not program instructions).
//      * every other entry instruction doing work becomes a one-instruction kernel named after it,
//        with one parameter per distinct operand (origin = operand id) and origin of the
//        instruction = its program id. Kind: kOutput for dot / convolution, kInput for reduce /
//        reduce-window / select-and-scatter, kCustom for custom-call, collectives, send/recv,
//        infeed/outfeed and unknown opcodes, kLoop otherwise. Not kernels: parameter, constant,
//        tuple, get-tuple-element, bitcast, while, conditional, after-all, add-dependency,
//        partition-id, replica-id, opt-barrier, domain, and the *-done / async-update halves of
//        asynchronous ops.
//      * the computations called by while (condition and body), conditional (branches) and
//        async-start are converted the same way (recursively, each computation once) and their
//        kernels named "<computation name>/<instruction name>" with every origin -1.
//  - Unoptimised modules (no fusion) get no prefused_kernels: run a fusion pass over `program`. The
//    bodies of their while loops and conditionals are NOT part of `program` (they execute an
//    unknown number of times); they are returned as separate Programs in
//    ImportedModel::called_programs so callers can account for them.
//  - ImportOptions::input_shapes replaces the dims of the ENTRY parameter with that name (without
//    `%`); naming no entry parameter is an error. A `?` (unbounded dynamic) dim must be replaced
//    this way, otherwise it is an error. In a file with several modules every module must have it.
//  - Opcodes that are not HLO opcodes (see hlo_opcode.h): kUnimplemented unless
//    ImportOptions::allow_unsupported, in which case the instruction is kept as HloOpcode::kUnknown
//    with attrs.custom_call_target = the opcode text (followed by ":<target>" when it also has a
//    custom_call_target attribute), and listed in ImportedModel::unsupported_ops.
//
// Verification: every instruction of every computation (entry, called, fused, to_apply) is checked
// against its operands' shapes as written, with graph::VerifyInstruction (graph/verifier.h: XLA's
// HloVerifier shape rules for elementwise ops, select, clamp, dot, convolution, reduce,
// reduce-window, broadcast, transpose, reverse, reshape, slice, concatenate, pad,
// get-tuple-element, iota; a cuBLAS GEMM custom-call is checked as the dot it becomes). A failure
// is kInvalidArgument "FILE:LINE:COLUMN: <opcode> '<name>': <what contradicts what>" at the
// instruction's name, e.g. "m.hlo:6:8: dot 'd': lhs contracting dim 1 has size 64 but rhs
// contracting dim 0 has size 32". Instructions touching a `?` dim are not checked (the text does
// not give their dims; --input-shape supplies them later). Every layout `{...}` must have one
// entry per dim and be a permutation of [0, rank) (error at the shape).
//
// Errors: malformed text is kInvalidArgument with a message "FILE:LINE:COLUMN: expected X, got 'Y'"
// (LINE and COLUMN 1-based, COLUMN in bytes, counted in the whole file); semantic errors (unknown
// operand or computation, duplicate name, wrong operand count of a fused computation, cycle,
// invalid shape or layout, failed verification) name the file, line and the offending name. The
// parser never crashes or hangs on arbitrary bytes: nesting is bounded (kMaxHloNestingDepth) and
// every loop consumes input. Sizes are bounded too (graph/import.h): a module with more than
// options.max_instructions (at most kMaxInstructions) instructions as written, or expanding to more
// once calls and nested fusions are inlined (e.g. computations each calling the next twice), is
// kInvalidArgument naming the file and the module; a file above kMaxHloTextBytes is rejected before
// it is read.
#ifndef PERFGRAPH_GRAPH_HLO_PARSER_H_
#define PERFGRAPH_GRAPH_HLO_PARSER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/import.h"
#include "graph/ir.h"

namespace perfgraph::graph {

// Deepest nesting accepted for tuple shapes and for computations inlined or converted inside each
// other (call / nested fusion / while bodies). Real modules stay below 10; deeper input is rejected
// with kInvalidArgument instead of risking stack exhaustion. (Brackets in skipped attribute values
// and literals are matched without recursion and have no limit.)
inline constexpr int kMaxHloNestingDepth = 64;

// One parsed module. The computations called by while/conditional/async-start are in
// model.called_programs (see ImportedModel).
struct ParsedHloModule {
  ImportedModel model;
};

// Parses every module of `text`. `file_name` is used only in error messages (and is the prefix of
// each). Returns one entry per module in file order; a file without any computation is an error.
absl::StatusOr<std::vector<ParsedHloModule>> ParseHloModules(absl::string_view text,
                                                             absl::string_view file_name,
                                                             const ImportOptions& options);

// As ParseHloModules, keeping only the ImportedModel of each module.
absl::StatusOr<std::vector<ImportedModel>> ParseHloText(absl::string_view text,
                                                        absl::string_view file_name,
                                                        const ImportOptions& options);

// Reads `path` and parses it. Returns the FIRST module of the file (lit-test files may hold
// several; use ParseHloFileAll to get them all). Errors: kNotFound when the file cannot be opened,
// kInvalidArgument (naming its size) for a file above kMaxHloTextBytes, otherwise as ParseHloText;
// every message starts with `path`.
absl::StatusOr<ImportedModel> ParseHloFile(const std::string& path, const ImportOptions& options);

// Reads `path` and returns every module of the file, in order.
absl::StatusOr<std::vector<ImportedModel>> ParseHloFileAll(const std::string& path,
                                                           const ImportOptions& options);

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_HLO_PARSER_H_
