#include "graph/hlo_opcode.h"

#include <array>

#include "absl/container/flat_hash_map.h"

namespace perfgraph::graph {
namespace {

struct OpcodeTables {
  std::array<absl::string_view, kNumOpcodeIds> names{};
  absl::flat_hash_map<absl::string_view, HloOpcode> by_name;
  OpcodeTables() {
    names.fill("unknown");
#define PERFGRAPH_FILL_OPCODE(enumerator, name, id) \
  names[id] = name;                                 \
  by_name[name] = HloOpcode::enumerator;
    PERFGRAPH_HLO_OPCODE_LIST(PERFGRAPH_FILL_OPCODE)
#undef PERFGRAPH_FILL_OPCODE
  }
};

const OpcodeTables& Tables() {
  static const OpcodeTables* tables = new OpcodeTables();
  return *tables;
}

}  // namespace

absl::string_view HloOpcodeName(HloOpcode opcode) {
  int id = OpcodeId(opcode);
  if (id <= 0 || id >= kNumOpcodeIds) return "unknown";
  return Tables().names[id];
}

HloOpcode HloOpcodeFromName(absl::string_view name) {
  const auto& by_name = Tables().by_name;
  auto it = by_name.find(name);
  return it == by_name.end() ? HloOpcode::kUnknown : it->second;
}

HloOpcode HloOpcodeFromId(int id) {
  if (id <= 0 || id >= kNumOpcodeIds) return HloOpcode::kUnknown;
  if (Tables().names[id] == "unknown") return HloOpcode::kUnknown;
  return static_cast<HloOpcode>(id);
}

bool IsElementwiseUnary(HloOpcode opcode) {
  switch (opcode) {
    case HloOpcode::kAbs: case HloOpcode::kCeil: case HloOpcode::kCbrt:
    case HloOpcode::kCountLeadingZeros: case HloOpcode::kConvert: case HloOpcode::kBitcastConvert:
    case HloOpcode::kCosine: case HloOpcode::kExponential: case HloOpcode::kExponentialMinusOne:
    case HloOpcode::kFloor: case HloOpcode::kImag: case HloOpcode::kIsFinite: case HloOpcode::kLog:
    case HloOpcode::kLogPlusOne: case HloOpcode::kLogistic: case HloOpcode::kNot:
    case HloOpcode::kNegate: case HloOpcode::kPopcnt: case HloOpcode::kReal:
    case HloOpcode::kReducePrecision: case HloOpcode::kRoundNearestAfz:
    case HloOpcode::kRoundNearestEven: case HloOpcode::kRsqrt: case HloOpcode::kSign:
    case HloOpcode::kSine: case HloOpcode::kSqrt: case HloOpcode::kTan: case HloOpcode::kTanh:
    case HloOpcode::kCopy:
      return true;
    default:
      return false;
  }
}

bool IsElementwiseBinary(HloOpcode opcode) {
  switch (opcode) {
    case HloOpcode::kAdd: case HloOpcode::kAtan2: case HloOpcode::kCompare:
    case HloOpcode::kComplex: case HloOpcode::kDivide: case HloOpcode::kMaximum:
    case HloOpcode::kMinimum: case HloOpcode::kMultiply: case HloOpcode::kPower:
    case HloOpcode::kRemainder: case HloOpcode::kSubtract: case HloOpcode::kAnd:
    case HloOpcode::kOr: case HloOpcode::kXor: case HloOpcode::kShiftLeft:
    case HloOpcode::kShiftRightArithmetic: case HloOpcode::kShiftRightLogical:
    case HloOpcode::kStochasticConvert:
      return true;
    default:
      return false;
  }
}

bool IsElementwise(HloOpcode opcode) {
  return IsElementwiseUnary(opcode) || IsElementwiseBinary(opcode) ||
         opcode == HloOpcode::kSelect || opcode == HloOpcode::kClamp ||
         opcode == HloOpcode::kMap;
}

bool IsTranscendental(HloOpcode opcode) {
  switch (opcode) {
    case HloOpcode::kExponential: case HloOpcode::kExponentialMinusOne: case HloOpcode::kLog:
    case HloOpcode::kLogPlusOne: case HloOpcode::kLogistic: case HloOpcode::kTanh:
    case HloOpcode::kTan: case HloOpcode::kSine: case HloOpcode::kCosine: case HloOpcode::kPower:
    case HloOpcode::kRsqrt: case HloOpcode::kSqrt: case HloOpcode::kCbrt: case HloOpcode::kAtan2:
      return true;
    default:
      return false;
  }
}

bool IsDataMovement(HloOpcode opcode) {
  switch (opcode) {
    case HloOpcode::kReshape: case HloOpcode::kBitcast: case HloOpcode::kTranspose:
    case HloOpcode::kBroadcast: case HloOpcode::kSlice: case HloOpcode::kDynamicSlice:
    case HloOpcode::kDynamicUpdateSlice: case HloOpcode::kConcatenate: case HloOpcode::kPad:
    case HloOpcode::kReverse: case HloOpcode::kCopy: case HloOpcode::kIota:
    case HloOpcode::kGather: case HloOpcode::kGetTupleElement: case HloOpcode::kTuple:
    case HloOpcode::kParameter: case HloOpcode::kConstant:
      return true;
    default:
      return false;
  }
}

bool IsKernelWork(HloOpcode opcode) {
  switch (opcode) {
    case HloOpcode::kParameter: case HloOpcode::kConstant: case HloOpcode::kTuple:
    case HloOpcode::kGetTupleElement: case HloOpcode::kBitcast: case HloOpcode::kFusion:
    case HloOpcode::kWhile: case HloOpcode::kConditional: case HloOpcode::kCall:
    case HloOpcode::kAfterAll: case HloOpcode::kAddDependency: case HloOpcode::kPartitionId:
    case HloOpcode::kReplicaId: case HloOpcode::kOptBarrier: case HloOpcode::kDomain:
    case HloOpcode::kAsyncStart: case HloOpcode::kAsyncUpdate: case HloOpcode::kAsyncDone:
    case HloOpcode::kCopyDone: case HloOpcode::kSendDone: case HloOpcode::kRecvDone:
    case HloOpcode::kAllReduceDone: case HloOpcode::kAllGatherDone:
    case HloOpcode::kCollectivePermuteDone:
      return false;
    default:
      return true;
  }
}

bool IsCollective(HloOpcode opcode) {
  switch (opcode) {
    case HloOpcode::kAllReduce: case HloOpcode::kAllReduceStart: case HloOpcode::kAllGather:
    case HloOpcode::kAllGatherStart: case HloOpcode::kReduceScatter: case HloOpcode::kAllToAll:
    case HloOpcode::kCollectivePermute: case HloOpcode::kCollectivePermuteStart:
      return true;
    default:
      return false;
  }
}

}  // namespace perfgraph::graph
