// Hand-built programs and kernels shared by the graph and fusion tests.
#ifndef PERFGRAPH_TESTS_GRAPH_TEST_PROGRAMS_H_
#define PERFGRAPH_TESTS_GRAPH_TEST_PROGRAMS_H_

#include <cmath>
#include <limits>

#include "graph/ir.h"

namespace perfgraph::graph::test {

inline Shape F32(std::vector<int64_t> dims) { return Shape::Make(PrimitiveType::kF32, std::move(dims)); }

inline int Param(Program& p, std::vector<int64_t> dims, const std::string& name) {
  Attributes attrs;
  attrs.parameter_number = 0;
  for (const Instruction& inst : p.instructions) {
    if (inst.opcode == HloOpcode::kParameter) ++attrs.parameter_number;
  }
  return p.Add(HloOpcode::kParameter, F32(std::move(dims)), {}, attrs, name);
}

inline int Splat(Program& p, double value) {
  Attributes attrs;
  attrs.constant_value = value;
  return p.Add(HloOpcode::kConstant, F32({}), {}, attrs);
}

inline int Broadcast(Program& p, int operand, std::vector<int64_t> dims, std::vector<int64_t> map) {
  Attributes attrs;
  attrs.dimensions = std::move(map);
  return p.Add(HloOpcode::kBroadcast, F32(std::move(dims)), {operand}, attrs);
}

// x[1,3,8,8] -> conv 3x3 pad 1 (4 filters) -> + bias[4] -> max(., 0): the classic kOutput fusion.
inline Program ConvBiasRelu() {
  Program p;
  p.name = "conv_bias_relu";
  int x = Param(p, {1, 3, 8, 8}, "x");
  int w = Param(p, {4, 3, 3, 3}, "w");
  int b = Param(p, {4}, "b");
  Attributes conv;
  conv.convolution_dimension_numbers = ConvolutionDimensionNumbers::Nchw(2);
  for (int i = 0; i < 2; ++i) {
    WindowDimension d;
    d.size = 3;
    d.padding_low = d.padding_high = 1;
    conv.window.push_back(d);
  }
  int c = p.Add(HloOpcode::kConvolution, F32({1, 4, 8, 8}), {x, w}, conv, "conv");
  int bb = Broadcast(p, b, {1, 4, 8, 8}, {1});
  int add = p.Add(HloOpcode::kAdd, F32({1, 4, 8, 8}), {c, bb}, {}, "bias_add");
  int zero = Splat(p, 0.0);
  int zb = Broadcast(p, zero, {1, 4, 8, 8}, {});
  int relu = p.Add(HloOpcode::kMaximum, F32({1, 4, 8, 8}), {add, zb}, {}, "relu");
  p.outputs = {relu};
  return p;
}

// Softmax over the last axis of x[2,16] as XLA expands it.
inline Program Softmax() {
  Program p;
  p.name = "softmax";
  int x = Param(p, {2, 16}, "x");
  int ninf = Splat(p, -std::numeric_limits<double>::infinity());
  Attributes rmax;
  rmax.dimensions = {1};
  rmax.reduce_computation = HloOpcode::kMaximum;
  int mx = p.Add(HloOpcode::kReduce, F32({2}), {x, ninf}, rmax, "max");
  int mxb = Broadcast(p, mx, {2, 16}, {0});
  int sub = p.Add(HloOpcode::kSubtract, F32({2, 16}), {x, mxb});
  int ex = p.Add(HloOpcode::kExponential, F32({2, 16}), {sub});
  int zero = Splat(p, 0.0);
  Attributes rsum;
  rsum.dimensions = {1};
  rsum.reduce_computation = HloOpcode::kAdd;
  int sum = p.Add(HloOpcode::kReduce, F32({2}), {ex, zero}, rsum, "sum");
  int sumb = Broadcast(p, sum, {2, 16}, {0});
  int div = p.Add(HloOpcode::kDivide, F32({2, 16}), {ex, sumb});
  p.outputs = {div};
  return p;
}

// The whole program as one kernel (parameters already come first in these programs).
inline Kernel WholeProgramKernel(const Program& p, FusionKind kind) {
  Kernel k;
  k.name = p.name;
  k.kind = kind;
  k.instructions = p.instructions;
  k.root = p.outputs.at(0);
  for (const Instruction& inst : p.instructions) k.origin.push_back(inst.id);
  return k;
}

}  // namespace perfgraph::graph::test

#endif  // PERFGRAPH_TESTS_GRAPH_TEST_PROGRAMS_H_
