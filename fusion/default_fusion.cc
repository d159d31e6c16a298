#include "fusion/default_fusion.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"

namespace perfgraph::fusion {
namespace {

using graph::HloOpcode;
using graph::Instruction;
using graph::Program;

bool IsLayoutLike(HloOpcode opcode) {
  switch (opcode) {
    case HloOpcode::kReshape: case HloOpcode::kBitcast: case HloOpcode::kTranspose:
    case HloOpcode::kBroadcast: case HloOpcode::kPad: case HloOpcode::kConvert:
    case HloOpcode::kCopy:
      return true;
    default:
      return false;
  }
}

bool IsCheapToDuplicate(const Instruction& inst) {
  switch (inst.opcode) {
    case HloOpcode::kBroadcast: case HloOpcode::kReshape: case HloOpcode::kBitcast:
    case HloOpcode::kIota: case HloOpcode::kSlice:
      return true;
    default:
      return inst.shape.NumElements() <= 1 && !IsHeavyOp(inst.opcode);
  }
}

// A kernel under construction: program instruction ids, keyed by root id.
struct Group {
  int root = -1;
  std::vector<int> members;  // program ids (unsorted until the end)
  int num_heavy = 0;
};

std::string InstructionName(const Program& program, int id) {
  const Instruction& inst = program.at(id);
  return inst.name.empty() ? absl::StrCat(graph::HloOpcodeName(inst.opcode), ".", id) : inst.name;
}

bool HeuristicAcceptsConsumer(const Program& program, const Instruction& producer,
                              const ConsumerKernel& consumer) {
  for (int user : consumer.users) {
    const HloOpcode user_op = program.at(user).opcode;
    if ((user_op == HloOpcode::kConvolution || user_op == HloOpcode::kDot) &&
        !IsLayoutLike(producer.opcode)) {
      return false;
    }
  }
  if (producer.opcode == HloOpcode::kConvolution || producer.opcode == HloOpcode::kDot) {
    // kOutput fusion: every user inside the kernel must be elementwise.
    if (consumer.num_heavy > 0) return false;
    for (int user : consumer.users) {
      if (!graph::IsElementwise(program.at(user).opcode)) return false;
    }
    return true;
  }
  return !IsHeavyOp(producer.opcode);  // reduce / reduce-window stay kernel roots
}

// Ops that are no kernel work (graph::IsKernelWork) form no kernel; bitcast fuses like a reshape
// and, left as a root, still forms one.
bool FormsNoKernel(graph::HloOpcode opcode) {
  return !graph::IsKernelWork(opcode) && opcode != graph::HloOpcode::kBitcast;
}

// Collectives are kernels of their own; ops that form no kernel absorb nothing either.
bool AbsorbsNoProducer(graph::HloOpcode opcode) {
  return FormsNoKernel(opcode) || graph::IsCollective(opcode);
}

}  // namespace

bool IsHeavyOp(graph::HloOpcode opcode) {
  return opcode == graph::HloOpcode::kConvolution || opcode == graph::HloOpcode::kDot ||
         opcode == graph::HloOpcode::kReduce || opcode == graph::HloOpcode::kReduceWindow;
}

bool IsNeverFusedOp(graph::HloOpcode opcode) {
  switch (opcode) {
    case graph::HloOpcode::kParameter: case graph::HloOpcode::kConstant: case graph::HloOpcode::kCustomCall:
    case graph::HloOpcode::kGather: case graph::HloOpcode::kScatter: case graph::HloOpcode::kSort:
    case graph::HloOpcode::kUnknown: case graph::HloOpcode::kRng:
    case graph::HloOpcode::kRngBitGenerator: case graph::HloOpcode::kSend:
    case graph::HloOpcode::kCholesky: case graph::HloOpcode::kTriangularSolve:
    case graph::HloOpcode::kFft:
    case graph::HloOpcode::kRecv: case graph::HloOpcode::kInfeed: case graph::HloOpcode::kOutfeed:
      return true;
    default:  // tuple, get-tuple-element, while, conditional, call, fusion, ...: FormsNoKernel
      return graph::IsCollective(opcode) || FormsNoKernel(opcode);
  }
}

bool DefaultHeuristic(const Program& program, const FusionCandidate& candidate) {
  const Instruction& producer = program.at(candidate.producer);
  if (candidate.consumers.size() > 1 && !IsCheapToDuplicate(producer)) return false;
  for (const ConsumerKernel& consumer : candidate.consumers) {
    if (!HeuristicAcceptsConsumer(program, producer, consumer)) return false;
  }
  return true;
}

absl::StatusOr<graph::Kernel> BuildGroupKernel(const Program& program, std::vector<int> members,
                                               int root, std::string name) {
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  if (members.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("BuildGroupKernel ", name, ": no members"));
  }
  for (int member : members) {
    if (member < 0 || member >= program.size()) {
      return absl::InvalidArgumentError(absl::StrCat("BuildGroupKernel ", name, ": member ", member,
                                                     " is not an instruction of program ",
                                                     program.name, " (size ", program.size(), ")"));
    }
    if ((program.at(member).opcode == HloOpcode::kParameter ||
         program.at(member).opcode == HloOpcode::kConstant)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "BuildGroupKernel ", name, ": member ", program.at(member).name, " is a ",
          graph::HloOpcodeName(program.at(member).opcode), "; those become kernel parameters"));
    }
  }
  if (!std::binary_search(members.begin(), members.end(), root)) {
    return absl::InvalidArgumentError(
        absl::StrCat("BuildGroupKernel ", name, ": root ", root, " is not a member"));
  }
  graph::Kernel kernel;
  kernel.name = std::move(name);
  absl::flat_hash_map<int, int> local;  // Program id -> kernel id
  auto append = [&](Instruction inst, int origin) {
    inst.id = kernel.size();
    local[origin] = inst.id;
    kernel.instructions.push_back(std::move(inst));
    kernel.origin.push_back(origin);
  };
  // Outside operands in order of first use; splat constants are copied after the parameters.
  std::vector<int> parameters;
  std::vector<int> splats;
  std::set<int> seen;
  for (int member : members) {
    for (int operand : program.at(member).operands) {
      if (std::binary_search(members.begin(), members.end(), operand)) continue;
      if (!seen.insert(operand).second) continue;
      const Instruction& source = program.at(operand);
      const bool splat =
          source.opcode == HloOpcode::kConstant && source.attrs.constant_value.has_value();
      (splat ? splats : parameters).push_back(operand);
    }
  }
  for (int i = 0; i < static_cast<int>(parameters.size()); ++i) {
    Instruction param;
    param.opcode = HloOpcode::kParameter;
    param.name = absl::StrCat("param.", i);
    param.shape = program.at(parameters[i]).shape;
    param.attrs.parameter_number = i;
    append(std::move(param), parameters[i]);
  }
  for (int splat : splats) {
    Instruction constant = program.at(splat);
    constant.operands.clear();
    append(std::move(constant), splat);
  }
  bool has_conv_or_dot = false, has_reduce = false, has_never_fused = false;
  for (int member : members) {
    Instruction inst = program.at(member);
    for (int& operand : inst.operands) operand = local.at(operand);
    has_conv_or_dot |= inst.opcode == HloOpcode::kConvolution || inst.opcode == HloOpcode::kDot;
    has_reduce |= inst.opcode == HloOpcode::kReduce;
    has_never_fused |= IsNeverFusedOp(inst.opcode);
    append(std::move(inst), member);
  }
  kernel.root = local.at(root);
  kernel.kind = has_conv_or_dot   ? graph::FusionKind::kOutput
                : has_reduce      ? graph::FusionKind::kInput
                : has_never_fused ? graph::FusionKind::kCustom
                                  : graph::FusionKind::kLoop;
  absl::Status valid = kernel.Validate();
  if (!valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("BuildGroupKernel ", kernel.name, ": ", valid.message()));
  }
  return kernel;
}

absl::StatusOr<std::vector<graph::Kernel>> DefaultFusion(const Program& program,
                                                         const FusionOptions& options) {
  RETURN_IF_ERROR(program.Validate());
  const std::vector<std::vector<int>> users = program.Users();
  std::vector<bool> is_output(program.size(), false);
  for (int output : program.outputs) is_output[output] = true;
  std::map<int, Group> groups;                                 // by root id
  std::vector<std::vector<int>> groups_of(program.size());     // id -> roots of groups holding it
  const auto should_fuse = options.should_fuse ? options.should_fuse : DefaultHeuristic;

  auto add_to_group = [&](int id, int root) {
    Group& group = groups[root];
    group.root = root;
    group.members.push_back(id);
    if (IsHeavyOp(program.at(id).opcode)) ++group.num_heavy;
    groups_of[id].push_back(root);
  };

  for (int id = program.size() - 1; id >= 0; --id) {
    const Instruction& inst = program.at(id);
    if (inst.opcode == HloOpcode::kParameter || inst.opcode == HloOpcode::kConstant) continue;
    // Consumer kernels: the groups of every user. Users were visited first (reverse topological
    // order) and each was placed in at least one group.
    std::map<int, ConsumerKernel> consumers;
    for (int user : users[id]) {
      for (int root : groups_of[user]) {
        ConsumerKernel& consumer = consumers[root];
        consumer.root = root;
        consumer.users.push_back(user);
      }
    }
    // Legality, in the order of the file comment; the first rule that applies is reported.
    std::string illegal;
    if (is_output[id]) {
      illegal = "a program output is materialised as a kernel root";
    } else if (consumers.empty()) {
      illegal = "no users to fuse into";
    } else if (IsNeverFusedOp(inst.opcode)) {
      illegal = absl::StrCat(graph::HloOpcodeName(inst.opcode), " is never fused");
    } else {
      for (const auto& [root, consumer] : consumers) {
        const HloOpcode root_opcode = program.at(root).opcode;
        if (!AbsorbsNoProducer(root_opcode)) continue;
        illegal = absl::StrCat("the consumer ", InstructionName(program, root), " is a ",
                               graph::HloOpcodeName(root_opcode),
                               ", which absorbs no producer");
        break;
      }
    }
    FusionCandidate candidate{id, {}};
    for (auto& [root, consumer] : consumers) {
      const Group& group = groups.at(root);
      consumer.num_instructions = static_cast<int>(group.members.size());
      consumer.num_heavy = group.num_heavy;
      consumer.members = group.members;
      candidate.consumers.push_back(std::move(consumer));
    }
    for (const ConsumerKernel& consumer : candidate.consumers) {
      if (!illegal.empty()) break;
      if (consumer.num_instructions >= options.max_kernel_instructions) {
        illegal = absl::StrCat("the consumer kernel rooted at ", InstructionName(program, consumer.root),
                               " already has ", consumer.num_instructions,
                               " instructions (max_kernel_instructions ",
                               options.max_kernel_instructions, ")");
      }
    }
    if (illegal.empty() && IsHeavyOp(inst.opcode)) {
      for (const ConsumerKernel& consumer : candidate.consumers) {
        if (consumer.num_heavy == 0) continue;
        for (int member : consumer.members) {
          if (!IsHeavyOp(program.at(member).opcode)) continue;
          illegal = absl::StrCat("at most one heavy op per kernel: ",
                                 graph::HloOpcodeName(inst.opcode), " cannot join the kernel rooted at ",
                                 InstructionName(program, consumer.root), ", which holds ",
                                 graph::HloOpcodeName(program.at(member).opcode), " ",
                                 InstructionName(program, member));
          break;
        }
        break;
      }
    }
    bool fuse = false;
    if (illegal.empty()) {
      fuse = should_fuse(program, candidate);
    } else if (options.on_illegal) {
      options.on_illegal(program, candidate, illegal);
    }
    if (fuse) {
      for (const ConsumerKernel& consumer : candidate.consumers) add_to_group(id, consumer.root);
    } else {
      add_to_group(id, id);
    }
  }

  // Materialise kernels.
  std::vector<graph::Kernel> kernels;
  kernels.reserve(groups.size());
  for (auto& [root, group] : groups) {
    if (FormsNoKernel(program.at(root).opcode)) continue;  // tuple, get-tuple-element, while, ...
    // Bitcasts alone reinterpret a buffer in place: no kernel, as in XLA (zero cost).
    if (std::all_of(group.members.begin(), group.members.end(), [&](int id) {
          return program.at(id).opcode == HloOpcode::kBitcast;
        })) {
      continue;
    }
    ASSIGN_OR_RETURN(graph::Kernel kernel,
                     BuildGroupKernel(program, group.members, root,
                                      absl::StrCat("fusion.", kernels.size())));
    kernels.push_back(std::move(kernel));
  }
  return kernels;
}

}  // namespace perfgraph::fusion
