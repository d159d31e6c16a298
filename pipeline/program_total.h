// Program totals under control flow: how often each kernel of an imported model runs (while trip
// counts, graph::ExecutionsPerRun) and how kernel estimates add up to a program's (a conditional
// contributes its costliest branch). Shared by `perfgraph predict` and `perfgraph plan`.
#ifndef PERFGRAPH_PIPELINE_PROGRAM_TOTAL_H_
#define PERFGRAPH_PIPELINE_PROGRAM_TOTAL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "graph/import.h"

namespace perfgraph::pipeline {

// Where one kernel runs in its program's control flow.
struct KernelRuns {
  // Executions per run of the program (the trip counts of the enclosing whiles); nullopt when a
  // trip count is unknown (the kernel then counts once, per iteration).
  std::optional<int64_t> executions = 1;
  std::string note;  // why `executions` is unknown ("while body of 'w2': ...")
  // The nearest enclosing conditional ("" when none) and the branch computation holding the kernel.
  std::string conditional, branch;
};

// The runs of the kernel named `kernel_name` of `model`: kernels of called computations are named
// "<computation>/<kernel>" (pipeline::FuseModel, the HLO importer's prefused kernels); any other
// name (the entry program's kernels, ONNX models) runs once.
KernelRuns KernelRunsOf(const graph::ImportedModel& model, const std::string& kernel_name);

// Adds kernel estimates (ns per execution) into a program total.
class ProgramTotal {
 public:
  void Add(const KernelRuns& runs, double ns);
  // Sum of ns x executions (once when unknown) over kernels outside any conditional, plus for each
  // conditional its costliest branch (each conditional on its own, nested ones too).
  double total_ns() const;
  // "conditional 'c': costliest branch 'b'" and "per iteration (trip count unknown): <note>".
  std::vector<std::string> Notes() const;

 private:
  double outside_ns_ = 0;
  std::map<std::string, std::map<std::string, double>> branches_;  // conditional -> branch -> ns
  std::set<std::string> per_iteration_;
};

// How much of a program an estimate covers: its kernels and FLOPs (graph::KernelCost x
// executions, once when unknown) with an estimate, and the kernels without one by kind.
class ProgramCoverage {
 public:
  void Add(const graph::Kernel& kernel, const KernelRuns& runs, bool estimated);
  int kernels() const { return kernels_; }
  int estimated_kernels() const { return estimated_kernels_; }
  double flops() const { return flops_; }
  double estimated_flops() const { return estimated_flops_; }
  double estimated_flop_share() const { return flops_ > 0 ? estimated_flops_ / flops_ : 1.0; }
  // Kernels without an estimate by "<fusion kind> <root opcode>" ("kCustom custom-call").
  const std::map<std::string, int>& missing() const { return missing_; }

 private:
  int kernels_ = 0, estimated_kernels_ = 0;
  double flops_ = 0, estimated_flops_ = 0;
  std::map<std::string, int> missing_;
};

}  // namespace perfgraph::pipeline

#endif  // PERFGRAPH_PIPELINE_PROGRAM_TOTAL_H_
