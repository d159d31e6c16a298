// Dataset record file throughput: appending and reading back a realistic record (a 30-instruction
// conv + batch-norm + relu6 kOutput kernel, a tile config with its 25 features, 10 runtime
// samples).
//   BM_RecordFileAppend: Append (serialize + one write(2), no fsync) per iteration.
//   BM_RecordFileRead:   Open + ReadAll of a 10,000-record file per iteration.
//   BM_RecordFileReadStreaming: Open + Next() into one reused Record over the same file.
// items_per_second = records/s; bytes_per_second = file bytes/s.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "data/kernel_proto.h"
#include "graph/kernel_hash.h"
#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "graph/featurize.h"

namespace perfgraph::data {
namespace {

using graph::Attributes;
using graph::HloOpcode;
using graph::Shape;

class KernelBuilder {
 public:
  int Add(HloOpcode opcode, Shape shape, std::vector<int> operands, Attributes attrs = {}) {
    graph::Instruction inst;
    inst.id = kernel_.size();
    inst.name = std::string(graph::HloOpcodeName(opcode)) + "." + std::to_string(inst.id);
    inst.opcode = opcode;
    inst.shape = std::move(shape);
    inst.operands = std::move(operands);
    inst.attrs = std::move(attrs);
    kernel_.instructions.push_back(std::move(inst));
    kernel_.origin.push_back(1000 + kernel_.size());
    return kernel_.size() - 1;
  }
  int Param(std::vector<int64_t> dims) {
    Attributes attrs;
    attrs.parameter_number = params_++;
    return Add(HloOpcode::kParameter, F32(std::move(dims)), {}, attrs);
  }
  int Constant(double value) {
    Attributes attrs;
    attrs.constant_value = value;
    return Add(HloOpcode::kConstant, F32({}), {}, attrs);
  }
  int Broadcast(int operand, std::vector<int64_t> dims, std::vector<int64_t> map) {
    Attributes attrs;
    attrs.dimensions = std::move(map);
    return Add(HloOpcode::kBroadcast, F32(std::move(dims)), {operand}, attrs);
  }
  static Shape F32(std::vector<int64_t> dims) {
    return Shape::Make(graph::PrimitiveType::kF32, std::move(dims));
  }
  graph::Kernel& kernel() { return kernel_; }

 private:
  graph::Kernel kernel_;
  int params_ = 0;
};

// conv3x3 -> + bias -> batch norm (inference) -> relu6 -> bf16 round trip -> copy: 30 instructions.
graph::Kernel ConvBnRelu6Kernel() {
  KernelBuilder b;
  const std::vector<int64_t> out = {1, 64, 56, 56};
  int x = b.Param({1, 64, 56, 56});
  int w = b.Param({64, 64, 3, 3});
  int bias = b.Param({64});
  int gamma = b.Param({64});
  int beta = b.Param({64});
  int mean = b.Param({64});
  int var = b.Param({64});
  Attributes conv;
  conv.convolution_dimension_numbers = graph::ConvolutionDimensionNumbers::Nchw(2);
  for (int i = 0; i < 2; ++i) {
    graph::WindowDimension d;
    d.size = 3;
    d.padding_low = d.padding_high = 1;
    conv.window.push_back(d);
  }
  int c = b.Add(HloOpcode::kConvolution, KernelBuilder::F32(out), {x, w}, conv);
  int y = b.Add(HloOpcode::kAdd, KernelBuilder::F32(out), {c, b.Broadcast(bias, out, {1})});
  y = b.Add(HloOpcode::kSubtract, KernelBuilder::F32(out), {y, b.Broadcast(mean, out, {1})});
  int eps = b.Broadcast(b.Constant(1e-5), {64}, {});
  int var_eps = b.Add(HloOpcode::kAdd, KernelBuilder::F32({64}), {var, eps});
  int inv_std = b.Add(HloOpcode::kRsqrt, KernelBuilder::F32({64}), {var_eps});
  int scale = b.Add(HloOpcode::kMultiply, KernelBuilder::F32({64}), {gamma, inv_std});
  y = b.Add(HloOpcode::kMultiply, KernelBuilder::F32(out), {y, b.Broadcast(scale, out, {1})});
  y = b.Add(HloOpcode::kAdd, KernelBuilder::F32(out), {y, b.Broadcast(beta, out, {1})});
  y = b.Add(HloOpcode::kMaximum, KernelBuilder::F32(out), {y, b.Broadcast(b.Constant(0), out, {})});
  y = b.Add(HloOpcode::kMinimum, KernelBuilder::F32(out), {y, b.Broadcast(b.Constant(6), out, {})});
  y = b.Add(HloOpcode::kConvert, Shape::Make(graph::PrimitiveType::kBF16, out), {y});
  y = b.Add(HloOpcode::kConvert, KernelBuilder::F32(out), {y});
  y = b.Add(HloOpcode::kCopy, KernelBuilder::F32(out), {y});
  graph::Kernel kernel = std::move(b.kernel());
  kernel.name = "fusion.conv_bn_relu6";
  kernel.kind = graph::FusionKind::kOutput;
  kernel.root = y;
  return kernel;
}

Record RealisticRecord() {
  const graph::Kernel kernel = ConvBnRelu6Kernel();
  if (kernel.size() != 30 || !kernel.Validate().ok()) std::abort();
  Record r;
  r.set_program("resnet50");
  KernelToProto(kernel, r.mutable_kernel());
  r.set_kernel_hash(graph::CanonicalKernelHash(kernel));
  TileConfigProto* config = r.mutable_config();
  for (int64_t t : {56, 8, 4}) config->add_tile_sizes(t);
  for (int64_t d : {3, 2, 1}) config->add_tiled_dims(d);
  config->set_reduction_split(16);
  config->set_vector_width(8);
  config->set_parallel_loop(2);
  config->set_text("tile=56,8,4;dims=3,2,1;split=16;vec=8;par=2");
  for (int i = 0; i < 10; ++i) r.add_runtime_ns(812345.0 + 37.0 * i);
  r.set_status(Record::MEASURE_STATUS_OK);
  r.set_compile_time_ns(153'000'000);
  r.set_feature_schema_version(graph::kFeatureSchemaVersion);
  r.set_task(Record::TASK_TILE);
  r.set_measured_unix_seconds(1'700'000'000);
  return r;
}

std::string BenchPath(const char* name) {
  return "/tmp/perfgraph_" + std::string(name) + "_" + std::to_string(getpid()) + ".pgd";
}

void BM_RecordFileAppend(benchmark::State& state) {
  const Record record = RealisticRecord();
  const std::string path = BenchPath("append_bench");
  std::remove(path.c_str());
  auto writer = RecordWriter::Open(path);
  if (!writer.ok()) {
    state.SkipWithError(std::string(writer.status().message()).c_str());
    return;
  }
  int64_t bytes = 0;
  int64_t since_reset = 0;
  for (auto _ : state) {
    const int64_t before = writer->size_bytes();
    if (!writer->Append(record).ok()) {
      state.SkipWithError("Append failed");
      break;
    }
    bytes += writer->size_bytes() - before;
    if (++since_reset == 20'000) {  // keep the file below ~100 MB
      state.PauseTiming();
      (void)writer->Close();
      std::remove(path.c_str());
      writer = RecordWriter::Open(path);
      since_reset = 0;
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
  state.counters["record_bytes"] = static_cast<double>(record.ByteSizeLong());
  (void)writer->Close();
  std::remove(path.c_str());
}
BENCHMARK(BM_RecordFileAppend);

constexpr int kReadRecords = 10'000;

// Writes kReadRecords copies of RealisticRecord() to `path`; returns the file size (0 on error).
int64_t WriteReadBenchFile(const std::string& path) {
  const Record record = RealisticRecord();
  std::remove(path.c_str());
  auto writer = RecordWriter::Open(path);
  if (!writer.ok()) return 0;
  for (int i = 0; i < kReadRecords; ++i) {
    if (!writer->Append(record).ok()) return 0;
  }
  return writer->size_bytes();
}

void BM_RecordFileRead(benchmark::State& state) {
  constexpr int kRecords = kReadRecords;
  const std::string path = BenchPath("read_bench");
  const int64_t file_bytes = WriteReadBenchFile(path);
  if (file_bytes == 0) {
    state.SkipWithError("writing the benchmark file failed");
    return;
  }
  for (auto _ : state) {
    auto reader = RecordReader::Open(path);
    if (!reader.ok()) {
      state.SkipWithError("Open failed");
      break;
    }
    auto records = reader->ReadAll();
    if (!records.ok() || static_cast<int>(records->size()) != kRecords) {
      state.SkipWithError("ReadAll failed");
      break;
    }
    benchmark::DoNotOptimize(records->data());
  }
  state.SetItemsProcessed(state.iterations() * kRecords);
  state.SetBytesProcessed(state.iterations() * file_bytes);
  std::remove(path.c_str());
}
BENCHMARK(BM_RecordFileRead)->Unit(benchmark::kMillisecond);

// Streaming with Next() into one reused Record (how ComputeStats reads): no per-record allocation.
void BM_RecordFileReadStreaming(benchmark::State& state) {
  const std::string path = BenchPath("stream_bench");
  const int64_t file_bytes = WriteReadBenchFile(path);
  if (file_bytes == 0) {
    state.SkipWithError("writing the benchmark file failed");
    return;
  }
  Record record;
  for (auto _ : state) {
    auto reader = RecordReader::Open(path);
    if (!reader.ok()) {
      state.SkipWithError("Open failed");
      break;
    }
    int64_t n = 0;
    while (true) {
      auto has_record = reader->Next(&record);
      if (!has_record.ok()) {
        state.SkipWithError("Next failed");
        break;
      }
      if (!*has_record) break;
      ++n;
    }
    if (n != kReadRecords) state.SkipWithError("wrong record count");
  }
  state.SetItemsProcessed(state.iterations() * kReadRecords);
  state.SetBytesProcessed(state.iterations() * file_bytes);
  std::remove(path.c_str());
}
BENCHMARK(BM_RecordFileReadStreaming)->Unit(benchmark::kMillisecond);

void BM_CanonicalKernelHash(benchmark::State& state) {
  const graph::Kernel kernel = ConvBnRelu6Kernel();
  for (auto _ : state) benchmark::DoNotOptimize(graph::CanonicalKernelHash(kernel));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CanonicalKernelHash);

}  // namespace
}  // namespace perfgraph::data

BENCHMARK_MAIN();
