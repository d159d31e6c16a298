// Hand-built kernels and a synthetic target description shared by the cost-model tests.
#ifndef PERFGRAPH_TESTS_COST_COST_TEST_UTIL_H_
#define PERFGRAPH_TESTS_COST_COST_TEST_UTIL_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cost/target_description.h"
#include "graph/ir.h"

namespace perfgraph::cost::test {

// Builds a kernel instruction by instruction (f32 values); the last instruction is the root.
class KernelBuilder {
 public:
  explicit KernelBuilder(std::string name, graph::FusionKind kind = graph::FusionKind::kLoop) {
    kernel_.name = std::move(name);
    kernel_.kind = kind;
  }
  int Parameter(std::vector<int64_t> dims) {
    graph::Attributes attrs;
    attrs.parameter_number = num_parameters_++;
    return Add(graph::HloOpcode::kParameter, std::move(dims), {}, attrs);
  }
  int Add(graph::HloOpcode opcode, std::vector<int64_t> dims, std::vector<int> operands,
          graph::Attributes attrs = {}) {
    graph::Instruction inst;
    inst.id = kernel_.size();
    inst.name = absl::StrCat(graph::HloOpcodeName(opcode), ".", inst.id);
    inst.opcode = opcode;
    inst.shape = graph::Shape::Make(graph::PrimitiveType::kF32, std::move(dims));
    inst.operands = std::move(operands);
    inst.attrs = std::move(attrs);
    kernel_.instructions.push_back(std::move(inst));
    kernel_.origin.push_back(-1);
    return kernel_.instructions.back().id;
  }
  graph::Kernel Build() {
    kernel_.root = kernel_.size() - 1;
    return kernel_;
  }

 private:
  graph::Kernel kernel_;
  int num_parameters_ = 0;
};

// lhs[m, k] x rhs[k, n] -> [m, n].
inline graph::Kernel Dot(int64_t m, int64_t k, int64_t n) {
  KernelBuilder b("dot", graph::FusionKind::kOutput);
  const int lhs = b.Parameter({m, k});
  const int rhs = b.Parameter({k, n});
  graph::Attributes attrs;
  attrs.dot_dimension_numbers = graph::DotDimensionNumbers{{}, {}, {1}, {0}};
  b.Add(graph::HloOpcode::kDot, {m, n}, {lhs, rhs}, attrs);
  return b.Build();
}

// a + b over f32[dims].
inline graph::Kernel Add(std::vector<int64_t> dims) {
  KernelBuilder b("add");
  const int x = b.Parameter(dims);
  const int y = b.Parameter(dims);
  b.Add(graph::HloOpcode::kAdd, dims, {x, y});
  return b.Build();
}

// A made-up machine with round numbers (8 f32 lanes, 2 threads that scale perfectly), so tests
// do not depend on the machine they run on.
inline TargetDescription SyntheticTarget() {
  TargetDescription t;
  t.machine.cpu_model = "Synthetic CPU";
  t.machine.physical_cores = 2;
  t.machine.logical_cores = 2;
  t.machine.l1d_cache_bytes = 32 << 10;
  t.machine.l2_cache_bytes = 1 << 20;
  t.machine.l3_cache_bytes = 8 << 20;
  t.machine.num_threads = 2;
  t.halide_target = "x86-64-linux-avx-avx2-fma";
  t.native_f32_lanes = 8;
  t.all_threads = 2;
  t.peak_flops_1t = 100e9;
  t.peak_flops_all = 200e9;
  const double bw[kNumMemoryLevels] = {400e9, 200e9, 100e9, 20e9};
  const int64_t cap[kNumMemoryLevels] = {32 << 10, 1 << 20, 8 << 20, 0};
  for (int l = 0; l < kNumMemoryLevels; ++l) {
    t.memory[l].capacity_bytes = cap[l];
    t.memory[l].measured_working_set_bytes = l == kDram ? (256 << 20) : cap[l] / 2;
    t.memory[l].bandwidth_1t_bytes_per_s = bw[l];
    t.memory[l].bandwidth_all_bytes_per_s = 2 * bw[l];
  }
  t.reduction_update_ns = 0.5;
  t.kernel_launch_ns = 1000;
  t.parallel_launch_ns = 2000;
  t.tile_overhead_ns = 10;
  t.created_unix_seconds = 1700000000;
  t.notes = "synthetic";
  return t;
}

}  // namespace perfgraph::cost::test

#endif  // PERFGRAPH_TESTS_COST_COST_TEST_UTIL_H_
