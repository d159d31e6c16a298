// Conversion between graph::Kernel and its dataset form KernelProto (data/perfgraph.proto), and the
// canonical kernel hash that recognises identical kernels across programs.
//
// The generated perfgraph.pb.h is not included here; callers that build or read protos include
// "data/perfgraph.pb.h" themselves.
#ifndef PERFGRAPH_DATA_KERNEL_PROTO_H_
#define PERFGRAPH_DATA_KERNEL_PROTO_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/ir.h"
#include "graph/kernel_hash.h"

namespace perfgraph::data {

class KernelProto;  // data/perfgraph.proto
class Record;       // data/perfgraph.proto

// Largest number of instructions, operands per instruction, dims per shape and tuple nesting depth
// KernelFromProto accepts. Real kernels stay far below (the biggest fused kernels of the reference
// corpus have a few hundred instructions); larger values come from corrupt or hostile files.
inline constexpr int kMaxKernelInstructions = 1 << 20;
inline constexpr int kMaxOperands = 1 << 16;
inline constexpr int kMaxRank = 64;
inline constexpr int kMaxTupleDepth = 16;

// Writes every field of `kernel` (name, fusion kind, instructions with all Attributes, root,
// origin) into `proto`, replacing its previous contents. Instruction ids are implicit (position).
// Total for any kernel; `proto` must not be null.
void KernelToProto(const graph::Kernel& kernel, KernelProto* proto);

// Inverse of KernelToProto: KernelFromProto(KernelToProto(k)) == k field by field.
// `context` prefixes every error message (e.g. "record 17 of runs.pgd"), so errors name the record.
// Errors (kInvalidArgument, naming the context, the instruction index and name and the bad value):
//  - an opcode id that is no HloOpcode (e.g. 97, 500), or an opcode name that disagrees with the
//  id;
//  - an unknown element type, fusion kind, comparison direction or reduce-computation opcode id;
//  - a shape that fails graph::Shape::Validate (negative or absurd dims > graph::kMaxDimension, a
//    minor_to_major that is no permutation), rank > kMaxRank, tuple nesting > kMaxTupleDepth;
//  - more than kMaxKernelInstructions instructions or kMaxOperands operands;
//  - an operand that is not an earlier instruction, a root out of range, an origin whose size is
//    neither 0 nor the instruction count (i.e. anything graph::Kernel::Validate rejects);
//  - attribute values the IR forbids: window size < 0, window stride / dilations < 1, slice stride
//  < 1,
//    feature_group_count or batch_group_count < 1.
absl::StatusOr<graph::Kernel> KernelFromProto(const KernelProto& proto, absl::string_view context);

// Decodes record.kernel() with KernelFromProto and checks that record.kernel_hash() equals the
// CanonicalKernelHash of the decoded kernel. Errors: those of KernelFromProto; kDataLoss when the
// hash differs (naming both hashes in hex).
absl::StatusOr<graph::Kernel> DecodeRecordKernel(const Record& record, absl::string_view context);


}  // namespace perfgraph::data

#endif  // PERFGRAPH_DATA_KERNEL_PROTO_H_
