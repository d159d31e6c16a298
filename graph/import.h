// Common front door for model files: options shared by every importer and the imported result.
#ifndef PERFGRAPH_GRAPH_IMPORT_H_
#define PERFGRAPH_GRAPH_IMPORT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "graph/ir.h"

namespace perfgraph::graph {

// Input limits shared by the importers (README "Limits"). Inputs beyond them are rejected with
// kInvalidArgument naming the file and the value, before the memory they would need is allocated,
// instead of an out-of-memory kill or a hang.
//
// Most instructions in one module: HLO instructions as written (every computation of a module,
// counted while parsing) and as emitted after calls and nested fusions are inlined (a chain of
// computations each calling the next twice would otherwise emit 2^depth instructions); ONNX nodes
// of the model, its subgraphs and its local functions (counted on the wire before the protobuf is
// parsed). Memory is what bounds it: an instruction costs about 1 KB once imported and about 2.5 KB
// through fusion and featurization (measured: a 10^5-instruction module peaks at 240 MB), so a
// module at the limit needs about 1.3 GB. Real modules are far smaller (the largest in
// ../shared/hlo, a Llama 3.1 70B step, has about 1,900 lines with instructions). Parsing takes
// about 30 us per instruction on the reference machine under load.
inline constexpr int64_t kMaxInstructions = int64_t{1} << 19;
// Largest HLO text file read (1 GiB; checked with stat before reading). XLA's dumps with metadata
// are about 300 bytes per instruction, so kMaxInstructions fits in a third of it.
inline constexpr int64_t kMaxHloTextBytes = int64_t{1} << 30;
// Largest binary HLO proto file read (HloModuleProto and its wrappers, graph/hlo_proto_import.h):
// protobuf cannot parse a message of 2 GiB or more. Checked before reading; text-format protos are
// bounded by kMaxHloTextBytes.
inline constexpr int64_t kMaxHloProtoFileBytes = (int64_t{1} << 31) - 1;
// Largest ONNX file read: protobuf cannot parse a message of 2 GiB or more (models with more
// weights use ONNX external data, whose files the importer does not read). Checked before reading.
inline constexpr int64_t kMaxOnnxFileBytes = (int64_t{1} << 31) - 1;

struct ImportOptions {
  // `--input-shape NAME=d0,d1,...`: full static shape for the graph input NAME, replacing dynamic (and
  // static) dims of that input. Inputs not named keep their declared dims.
  std::map<std::string, std::vector<int64_t>> input_shapes;
  // `--dim NAME=VALUE` (repeatable): value of every ONNX symbolic dim named NAME (dim_param, e.g.
  // "batch") of the graph inputs, like ONNX Runtime's free-dimension overrides. Applied before
  // input_shapes; one flag fixes the batch of every input of every model of a corpus.
  std::map<std::string, int64_t> dim_params;
  // `--allow-unsupported`: keep ops without a lowering as custom-call instructions (target = op type)
  // instead of failing with kUnimplemented.
  bool allow_unsupported = false;
  // HLO only: rewrite batch-norm-training / -inference / -grad into primitive HLO at import
  // (graph::ExpandBatchNorm, XLA's BatchNormExpander), in the entry program, every called program
  // and every prefused kernel, so they fuse, tile and get estimates. false keeps them as written
  // (for tests of the expander and for looking at the module as parsed).
  bool expand_batch_norm = true;
  // Most instructions accepted per module (see kMaxInstructions, which is the default and the
  // documented limit). Only tests lower it, to exercise the limit without generating 10^6
  // instructions; values above kMaxInstructions are treated as kMaxInstructions.
  int64_t max_instructions = kMaxInstructions;
};

// An op type the importer has no lowering for, with the nodes that use it.
struct UnsupportedOp {
  std::string op_type;                  // ONNX op type, prefixed with its domain when not ai.onnx
  std::vector<std::string> node_names;  // in graph order
};

// How a called program (ImportedModel::called_programs) runs: the instruction that calls it and how
// often per execution of the computation holding that instruction.
struct CallSite {
  std::string caller;       // computation holding the instruction; "" = the entry program
  std::string instruction;  // the while / conditional / async-start instruction's name
  // "while body", "while condition", "conditional branch" or "async".
  std::string role;
  // Executions per execution of the caller: a while body runs trip-count times, its condition
  // trip-count + 1 times, a branch or async computation once; nullopt when the trip count is not
  // known (then callers count the body once, per iteration, and say so).
  std::optional<int64_t> executions;
  // How `executions` was found: "known_trip_count backend config", "induction variable: 0 to 80
  // step 1 (LT)", "branch", "async", "ONNX Loop trip count M = 16", "ONNX Scan over 7 slices (axis
  // 0 of 'x')", or why the trip count is unknown ("ONNX Loop with a data-dependent condition ...").
  std::string how;
};

struct ImportedModel {
  Program program;
  // Empty unless ImportOptions::allow_unsupported was set and some ops were kept as custom-calls.
  std::vector<UnsupportedOp> unsupported_ops;
  // Kernels given by the file itself (fusion instructions of an optimised HLO module). When non-empty,
  // callers use them instead of running a fusion pass over `program`.
  std::vector<Kernel> prefused_kernels;
  // HLO: every computation reachable from the ENTRY through while (condition, body), conditional
  // (branches) and async-start, converted like the entry program, keyed by computation name without
  // `%`. ONNX: the subgraphs of If (branches) and Loop / Scan (body, plus a generated condition),
  // lowered like the main graph and named "<node>.then_branch", "<node>.else_branch", "<node>.body",
  // "<node>.condition" (see graph/onnx_import.h). They run a number of times given by call_sites, so
  // they are not part of `program`; `inspect` fuses and lists them separately
  // ("<computation>/<kernel>"), which is why computation names never contain '/'.
  std::map<std::string, Program> called_programs;
  // The call site of every called program, keyed like called_programs (HLO: the first call site when
  // a computation is called from several; ONNX subgraphs have exactly one).
  std::map<std::string, CallSite> call_sites;
};

// Executions of `computation` per execution of the entry program: the product of CallSite::
// executions along its chain of callers (1 for the entry ""). nullopt when a link's trip count is
// unknown; `unknown_reason`, when given, then names that while and why.
std::optional<int64_t> ExecutionsPerRun(const ImportedModel& model, const std::string& computation,
                                        std::string* unknown_reason = nullptr);

// Parses one `--input-shape` value "NAME=d0,d1,..." (dims >= 1; "NAME=" is a scalar).
// Error (kInvalidArgument) names the flag value and what is wrong.
absl::StatusOr<std::pair<std::string, std::vector<int64_t>>> ParseInputShapeFlag(
    absl::string_view value);

// Parses one `--dim` value "NAME=VALUE" (VALUE in [1, 2^40]). Error (kInvalidArgument) names it.
absl::StatusOr<std::pair<std::string, int64_t>> ParseDimFlag(absl::string_view value);

// Imports a model file, choosing the importer from the extension (case-insensitive):
//  - ".pb", ".binpb": binary XLA HloModuleProto or wrapper (HloProto as XLA's
//    --xla_dump_hlo_as_proto writes `.hlo.pb`, HloSnapshot, TpuGraphs tuning data; see
//    graph/hlo_proto_import.h), first module;
//  - ".pbtxt", ".textproto", ".txtpb": the same in protobuf text format;
//  - ".hlo", ".txt": HLO text (graph/hlo_parser.h, first module), unless the file's start is a
//    text-format proto (LooksLikeHloTextProto: XLA's hlo_to_mhlo tests store those as `.hlo`);
//  - ".gz": kInvalidArgument (compressed dumps, `.hlo.pb.gz`: decompress them first);
//  - anything else, ".onnx" included: ONNX (ImportOnnxFile).
// Errors: kNotFound (missing file), kInvalidArgument (malformed file, bad shape, unresolved dynamic
// dim), kUnimplemented (unsupported op without allow_unsupported). Every message starts with the
// file path.
absl::StatusOr<ImportedModel> ImportModelFile(const std::string& path, const ImportOptions& options);

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_IMPORT_H_
