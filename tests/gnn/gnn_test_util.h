// Small real kernels (hand-built programs fused by fusion::DefaultFusion) with real configs
// (tiling::ConfigSpace, tiling::ConfigFeatures) and FIXED SYNTHETIC labels for the gnn tests. The
// labels are a deterministic function of the config features and the kernel size, not measurements:
// the tests check shapes, gradients, batching, the optimiser and reproducibility, not the data.
#ifndef PERFGRAPH_TESTS_GNN_GNN_TEST_UTIL_H_
#define PERFGRAPH_TESTS_GNN_GNN_TEST_UTIL_H_

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "data/config_proto.h"
#include "data/kernel_proto.h"
#include "graph/kernel_hash.h"
#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "fusion/default_fusion.h"
#include "gnn/batch.h"
#include "graph/featurize.h"
#include "graph/ir.h"
#include "tiling/tile_config.h"

namespace perfgraph::gnn::test {

// The whole file at `path` ("" when it cannot be read).
inline std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline graph::Shape F32(std::vector<int64_t> dims) {
  return graph::Shape::Make(graph::PrimitiveType::kF32, std::move(dims));
}

inline int Param(graph::Program& p, std::vector<int64_t> dims, int number) {
  graph::Attributes attrs;
  attrs.parameter_number = number;
  return p.Add(graph::HloOpcode::kParameter, F32(std::move(dims)), {}, attrs,
               "p" + std::to_string(number));
}

// x[1,c,s,s] -> conv 3x3 pad 1 (c filters) -> + bias -> max(., 0) -> reduce-sum over spatial dims.
inline graph::Program ConvProgram(int64_t c, int64_t s) {
  graph::Program p;
  p.name = "conv_" + std::to_string(c) + "_" + std::to_string(s);
  const int x = Param(p, {1, c, s, s}, 0);
  const int w = Param(p, {c, c, 3, 3}, 1);
  const int b = Param(p, {c}, 2);
  graph::Attributes conv;
  conv.convolution_dimension_numbers = graph::ConvolutionDimensionNumbers::Nchw(2);
  for (int i = 0; i < 2; ++i) {
    graph::WindowDimension d;
    d.size = 3;
    d.padding_low = d.padding_high = 1;
    conv.window.push_back(d);
  }
  const int y = p.Add(graph::HloOpcode::kConvolution, F32({1, c, s, s}), {x, w}, conv, "conv");
  graph::Attributes bcast;
  bcast.dimensions = {1};
  const int bb = p.Add(graph::HloOpcode::kBroadcast, F32({1, c, s, s}), {b}, bcast, "bias");
  const int add = p.Add(graph::HloOpcode::kAdd, F32({1, c, s, s}), {y, bb}, {}, "add");
  graph::Attributes zero_attrs;
  zero_attrs.constant_value = 0.0;
  const int zero = p.Add(graph::HloOpcode::kConstant, F32({}), {}, zero_attrs, "zero");
  graph::Attributes zb_attrs;
  const int zb = p.Add(graph::HloOpcode::kBroadcast, F32({1, c, s, s}), {zero}, zb_attrs, "zb");
  const int relu = p.Add(graph::HloOpcode::kMaximum, F32({1, c, s, s}), {add, zb}, {}, "relu");
  graph::Attributes reduce;
  reduce.dimensions = {2, 3};
  reduce.reduce_computation = graph::HloOpcode::kAdd;
  const int sum = p.Add(graph::HloOpcode::kReduce, F32({1, c}), {relu, zero}, reduce, "sum");
  p.outputs = {sum};
  return p;
}

// x[r,k] . w[k,n] -> tanh.
inline graph::Program DotProgram(int64_t r, int64_t k, int64_t n) {
  graph::Program p;
  p.name = "dot_" + std::to_string(r) + "_" + std::to_string(k) + "_" + std::to_string(n);
  const int x = Param(p, {r, k}, 0);
  const int w = Param(p, {k, n}, 1);
  graph::Attributes dot;
  graph::DotDimensionNumbers dn;
  dn.lhs_contracting_dimensions = {1};
  dn.rhs_contracting_dimensions = {0};
  dot.dot_dimension_numbers = dn;
  const int d = p.Add(graph::HloOpcode::kDot, F32({r, n}), {x, w}, dot, "dot");
  const int t = p.Add(graph::HloOpcode::kTanh, F32({r, n}), {d}, {}, "tanh");
  p.outputs = {t};
  return p;
}

// Every fused kernel of a few programs (>= 6 kernels of different shapes and opcodes).
inline std::vector<graph::Kernel> SmallKernels() {
  std::vector<graph::Kernel> kernels;
  for (const graph::Program& p : {ConvProgram(4, 8), DotProgram(16, 32, 8), ConvProgram(8, 6),
                                  DotProgram(8, 64, 16), ConvProgram(2, 12)}) {
    auto fused = fusion::DefaultFusion(p);
    if (!fused.ok()) continue;
    for (graph::Kernel& k : *fused) {
      k.name = p.name + "/" + k.name;
      kernels.push_back(std::move(k));
    }
  }
  return kernels;
}

// Synthetic log-runtime: a fixed linear function of the config features plus the kernel size.
inline double SyntheticLogNs(const graph::Kernel& kernel, const float* config_feat) {
  double y = 8.0 + 0.3 * std::log1p(static_cast<double>(kernel.size()));
  const double weights[] = {0.0, 0.35, -0.6, 0.25, -0.2, 0.0, 0.2, -0.3, 0.15};
  for (int i = 0; i < 9; ++i) y += weights[i] * config_feat[i];
  y += 0.1 * config_feat[tiling::kNumConfigFeatures - 1];
  return y;
}

// An example of `kernel` with up to `max_configs` configs of its ConfigSpace (evenly spaced) and
// synthetic labels. With `with_timeout`, the slowest config is marked TIMEOUT (when >= 3 configs).
inline KernelExample MakeExample(const graph::Kernel& kernel, const std::string& program,
                                 int max_configs, Task task = Task::kTile,
                                 bool with_timeout = false) {
  KernelExample e;
  e.task = task;
  e.program = program;
  e.kernel_name = kernel.name;
  e.kernel_hash = std::hash<std::string>{}(kernel.name);
  e.kernel = std::make_shared<graph::Kernel>(kernel);
  e.tensors = graph::Featurize(kernel);
  auto space = tiling::ConfigSpace(kernel);
  std::vector<tiling::TileConfig> configs;
  if (task == Task::kFusion || !space.ok() || space->empty()) {
    configs = {tiling::Default(kernel)};
  } else {
    const int n = static_cast<int>(space->size());
    const int take = std::min(n, max_configs);
    for (int i = 0; i < take; ++i) configs.push_back((*space)[static_cast<size_t>(i) * n / take]);
  }
  int slowest = -1;
  for (const tiling::TileConfig& c : configs) {
    std::vector<float> f(tiling::kNumConfigFeatures);
    tiling::ConfigFeatures(kernel, c, f.data());
    e.config_feat.insert(e.config_feat.end(), f.begin(), f.end());
    e.config_text.push_back(c.ToString());
    e.runtime_ns.push_back(std::exp(SyntheticLogNs(kernel, f.data())));
    e.timed_out.push_back(0);
    if (slowest < 0 || e.runtime_ns.back() > e.runtime_ns[slowest]) slowest = e.num_configs;
    ++e.num_configs;
  }
  if (with_timeout && e.num_configs >= 3) {
    e.timed_out[slowest] = 1;
    e.runtime_ns[slowest] = std::numeric_limits<double>::infinity();
  }
  return e;
}

// `n` tile examples (cycling over SmallKernels) named program "p<i % programs>".
inline std::vector<KernelExample> SyntheticExamples(int n, int max_configs, int programs = 1) {
  const std::vector<graph::Kernel> kernels = SmallKernels();
  std::vector<KernelExample> examples;
  for (int i = 0; i < n; ++i) {
    examples.push_back(MakeExample(kernels[i % kernels.size()], "p" + std::to_string(i % programs),
                                   max_configs));
  }
  return examples;
}

// Writes `examples` as a record file: one record per config, OK with the synthetic label as the only
// sample, or TIMEOUT. Tile examples become TASK_TILE records, fusion ones TASK_FUSION.
inline absl::Status WriteDataset(const std::string& path, const std::vector<KernelExample>& examples) {
  auto writer = data::RecordWriter::Open(path);
  if (!writer.ok()) return writer.status();
  for (const KernelExample& e : examples) {
    for (int c = 0; c < e.num_configs; ++c) {
      data::Record r;
      r.set_program(e.program);
      data::KernelToProto(*e.kernel, r.mutable_kernel());
      r.set_kernel_hash(graph::CanonicalKernelHash(*e.kernel));
      absl::StatusOr<tiling::TileConfig> config = tiling::TileConfig::Parse(e.config_text[c]);
      if (!config.ok()) return config.status();
      data::ConfigToProto(*config, *config == tiling::Default(*e.kernel), r.mutable_config());
      if (e.timed_out[c]) {
        r.set_status(data::Record::MEASURE_STATUS_TIMEOUT);
        r.set_error_message("synthetic timeout");
      } else {
        r.set_status(data::Record::MEASURE_STATUS_OK);
        r.add_runtime_ns(e.runtime_ns[c]);
      }
      r.set_feature_schema_version(graph::kFeatureSchemaVersion);
      r.set_task(e.task == Task::kTile ? data::Record::TASK_TILE : data::Record::TASK_FUSION);
      if (absl::Status s = writer->Append(r); !s.ok()) return s;
    }
  }
  return writer->Close();
}

}  // namespace perfgraph::gnn::test

#endif  // PERFGRAPH_TESTS_GNN_GNN_TEST_UTIL_H_
