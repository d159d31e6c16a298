// Internal to the HLO importers (graph/hlo_parser.cc, graph/hlo_proto_import.cc): the module as
// written, before conversion to the IR, and the steps that turn it into an ImportedModel. The text
// parser fills these structures from HLO text; the proto importer fills the same structures from an
// HloModuleProto, so both formats go through one finishing, verification and conversion path
// (fusion kernels, called computations, trip counts, library ops, batch-norm expansion) and give
// the same IR for the same module. Not a public API: include it from those two files only.
#ifndef PERFGRAPH_GRAPH_HLO_RAW_MODULE_H_
#define PERFGRAPH_GRAPH_HLO_RAW_MODULE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/hlo_parser.h"
#include "graph/import.h"
#include "graph/ir.h"

namespace perfgraph::graph::hlo_internal {

// Names are views into the source (the HLO text, or the strings of the proto message), which must
// outlive the structures. `offset` fields locate an item for error messages: a byte offset in the
// text for the text parser, an index the proto importer's HloLocator understands for protos.

struct RawInstruction {
  absl::string_view name;  // without '%'
  size_t offset = 0;       // of the name in the text, for messages
  bool is_root = false;
  HloOpcode opcode = HloOpcode::kUnknown;
  absl::string_view opcode_text;
  Shape shape;
  bool has_unbounded_dim = false;  // a '?' dim: must be replaced by ImportOptions::input_shapes
  std::vector<absl::string_view> operand_names;
  std::vector<size_t> operand_offsets;
  std::vector<absl::string_view> control_predecessor_names;
  std::vector<size_t> control_predecessor_offsets;
  // Computation named by to_apply= (or scatter= of select-and-scatter): source of
  // reduce_computation.
  absl::string_view reduce_computation_name;
  bool has_kind = false;
  // while: backend_config's known_trip_count ({"known_trip_count":{"n":"80"}}), as XLA's
  // WhileLoopTripCountAnnotator writes it.
  std::optional<int64_t> known_trip_count;
  // custom-call: backend_config's dot_dimension_numbers (cuBLAS gemm configs), for the rewrite of
  // __cublas$gemm / __cublas$lt$matmul into a dot.
  std::optional<DotDimensionNumbers> gemm_dimensions;
  // custom-call: a TransformerEngine fused attention's dims from its backend config, in the order
  // of graph/library_ops.h (set when every one of them is present).
  std::optional<std::vector<int64_t>> attention_dimensions;
  Attributes attrs;
  // Indices into RawComputation::instructions. The text parser resolves operand_names (and
  // control_predecessor_names) into them when the computation is finished; an importer that knows
  // the operands already (the proto importer) fills them directly and leaves the names empty.
  std::vector<int> operands;
  std::vector<int> control_predecessors;
};

struct RawComputation {
  absl::string_view name;
  size_t offset = 0;
  bool is_entry = false;
  std::vector<RawInstruction> instructions;
  absl::flat_hash_map<absl::string_view, int> by_name;
  int root = -1;
  std::vector<int> order;       // topological order of instruction indices
  std::vector<int> parameters;  // parameters[n] = index of `parameter(n)`
};

struct RawModule {
  std::string name;
  size_t offset = 0;
  std::vector<RawComputation> computations;
  absl::flat_hash_map<absl::string_view, int> by_name;
  int entry = -1;
  bool has_fusion = false;
  int64_t instruction_count = 0;  // over all computations, checked against the limit
  std::vector<UnsupportedOp> unsupported_ops;
};

// The instruction limit in effect (ImportOptions::max_instructions, at most kMaxInstructions).
int64_t MaxInstructions(const ImportOptions& options);

// Opcodes whose to_apply (scatter= for select-and-scatter) computation is a reduction combiner or
// comparator: reduce, reduce-window, scatter, select-and-scatter, sort, all-reduce(-start),
// reduce-scatter, map. Their attrs.reduce_computation is the opcode of that computation's root.
bool HasReduceComputation(HloOpcode opcode);

// Adds instruction `name`, whose opcode text `op` is not an HLO opcode, to module->unsupported_ops
// (one entry per distinct `op`, names in the order they are recorded).
void RecordUnsupported(RawModule* module, absl::string_view op, absl::string_view name);

// Reads what the importers use of an instruction's backend_config (the raw config text: JSON, or
// the MLIR attribute dictionary of typed-FFI custom-calls): known_trip_count of a while,
// dot_dimension_numbers of a cuBLAS GEMM custom-call, a TransformerEngine fused attention's dims.
// Sets the matching RawInstruction fields. Error (kInvalidArgument, message without location) when
// known_trip_count holds no number; then *error_offset is the offset in `config` of the key.
absl::Status InterpretBackendConfig(absl::string_view config, RawInstruction* inst,
                                    size_t* error_offset);

// How an importer other than the text parser names the place of an `offset` in its messages (e.g.
// "computation 'main', instruction 'dot.3' (id 7)"). Errors then read "FILE: <place>: <message>".
using HloLocator = std::function<std::string(size_t offset)>;

// Finishes a module filled by an importer other than the text parser and converts it to the IR,
// exactly as the text parser does with the modules it reads: per computation, the parameters, the
// topological order (cycles are errors) and the verification of every instruction
// (graph/verifier.h); per module, the entry (the computation marked is_entry, else the last one),
// the checks of called computations (fusion and call operand counts, fusion kinds) and
// reduce_computation; then the conversion (calls inlined, fusions and single instructions as
// kernels, while / conditional / async bodies as called programs with their trip counts, batch-norm
// expansion, --input-shape). The importer must have filled, for every computation: name, offset,
// is_entry, root (index, or -1 for the last instruction), by_name, and every instruction but
// `order`/`parameters`; for the module: name (may be empty: the entry's name is used),
// has_fusion and unsupported_ops. Computation names must be unique (checked here). Errors are
// those of ParseHloText, located with `locator`.
absl::StatusOr<ParsedHloModule> FinishRawModule(RawModule module, absl::string_view file_name,
                                                const HloLocator& locator,
                                                const ImportOptions& options);

}  // namespace perfgraph::graph::hlo_internal

#endif  // PERFGRAPH_GRAPH_HLO_RAW_MODULE_H_
