#include "tests/graph/onnx_node_cases.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fusion/default_fusion.h"
#include "graph/onnx_import.h"
#include "onnx/onnx_pb.h"
#include "target/program_evaluator.h"

namespace perfgraph::test {
namespace {

absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path.string()));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

double HalfToDouble(uint16_t h) {
  const int sign = (h >> 15) & 1, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  double v;
  if (exponent == 0) {
    v = std::ldexp(mantissa, -24);
  } else if (exponent == 31) {
    v = mantissa == 0 ? INFINITY : NAN;
  } else {
    v = std::ldexp(mantissa + 1024, exponent - 25);
  }
  return sign ? -v : v;
}

double Bfloat16ToDouble(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

template <typename T>
std::vector<double> FromRaw(const std::string& raw) {
  std::vector<double> out(raw.size() / sizeof(T));
  for (size_t i = 0; i < out.size(); ++i) {
    T v;
    std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
    out[i] = static_cast<double>(v);
  }
  return out;
}

// The values of `t`, row-major, as doubles.
absl::StatusOr<std::vector<double>> TensorValues(const onnx::TensorProto& t) {
  using TP = onnx::TensorProto;
  const bool raw = t.has_raw_data();
  const std::string& r = t.raw_data();
  switch (t.data_type()) {
    case TP::FLOAT:
      if (raw) return FromRaw<float>(r);
      return std::vector<double>(t.float_data().begin(), t.float_data().end());
    case TP::DOUBLE:
      if (raw) return FromRaw<double>(r);
      return std::vector<double>(t.double_data().begin(), t.double_data().end());
    case TP::INT64:
      if (raw) return FromRaw<int64_t>(r);
      return std::vector<double>(t.int64_data().begin(), t.int64_data().end());
    case TP::UINT32:
      if (raw) return FromRaw<uint32_t>(r);
      return std::vector<double>(t.uint64_data().begin(), t.uint64_data().end());
    case TP::UINT64:
      if (raw) return FromRaw<uint64_t>(r);
      return std::vector<double>(t.uint64_data().begin(), t.uint64_data().end());
    case TP::INT32:
      if (raw) return FromRaw<int32_t>(r);
      return std::vector<double>(t.int32_data().begin(), t.int32_data().end());
    case TP::INT16:
      if (raw) return FromRaw<int16_t>(r);
      return std::vector<double>(t.int32_data().begin(), t.int32_data().end());
    case TP::UINT16:
      if (raw) return FromRaw<uint16_t>(r);
      return std::vector<double>(t.int32_data().begin(), t.int32_data().end());
    case TP::INT8:
      if (raw) return FromRaw<int8_t>(r);
      return std::vector<double>(t.int32_data().begin(), t.int32_data().end());
    case TP::UINT8:
    case TP::BOOL:
      if (raw) return FromRaw<uint8_t>(r);
      return std::vector<double>(t.int32_data().begin(), t.int32_data().end());
    case TP::FLOAT16:
    case TP::BFLOAT16: {
      std::vector<uint16_t> bits;
      if (raw) {
        bits.resize(r.size() / 2);
        std::memcpy(bits.data(), r.data(), bits.size() * 2);
      } else {
        for (int32_t v : t.int32_data()) bits.push_back(static_cast<uint16_t>(v));
      }
      std::vector<double> out;
      for (uint16_t b : bits) {
        out.push_back(t.data_type() == TP::FLOAT16 ? HalfToDouble(b) : Bfloat16ToDouble(b));
      }
      return out;
    }
    default:
      return absl::UnimplementedError(
          absl::StrCat("tensor '", t.name(), "' has ONNX data type ", t.data_type()));
  }
}

bool IsIntegerType(int32_t elem_type) {
  using TP = onnx::TensorProto;
  switch (elem_type) {
    case TP::INT8: case TP::INT16: case TP::INT32: case TP::INT64:
    case TP::UINT8: case TP::UINT16: case TP::UINT32: case TP::UINT64:
      return true;
    default:
      return false;
  }
}

NodeCaseResult Result(const std::string& name, NodeCaseStatus status, std::string detail) {
  return {name, status, std::move(detail)};
}

}  // namespace

const char* NodeCaseStatusName(NodeCaseStatus status) {
  switch (status) {
    case NodeCaseStatus::kPass: return "pass";
    case NodeCaseStatus::kMismatch: return "mismatch";
    case NodeCaseStatus::kNotImported: return "not_imported";
    case NodeCaseStatus::kNotEvaluable: return "not_evaluable";
    case NodeCaseStatus::kNotCompiled: return "not_compiled";
    case NodeCaseStatus::kBadCase: return "bad_case";
  }
  return "unknown";
}

std::vector<std::string> ListNodeCases(const std::string& root) {
  std::vector<std::string> cases;
  std::error_code error;
  if (!std::filesystem::is_directory(root, error)) return cases;
  for (const auto& entry : std::filesystem::directory_iterator(root, error)) {
    if (entry.is_directory() && std::filesystem::exists(entry.path() / "model.onnx")) {
      cases.push_back(entry.path().string());
    }
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

NodeCaseResult RunNodeCase(const target::HalideCpuTarget& target, const std::string& case_dir) {
  const std::filesystem::path dir(case_dir);
  const std::string name = dir.filename().string();
  absl::StatusOr<std::string> bytes = ReadFile(dir / "model.onnx");
  if (!bytes.ok()) return Result(name, NodeCaseStatus::kBadCase, std::string(bytes.status().message()));
  onnx::ModelProto model;
  if (!model.ParseFromString(*bytes)) {
    return Result(name, NodeCaseStatus::kBadCase, "model.onnx is not a ModelProto");
  }
  // Inputs and expected outputs of the first data set, by position among the graph's real inputs.
  std::vector<onnx::TensorProto> inputs, outputs;
  for (int k = 0;; ++k) {
    absl::StatusOr<std::string> data =
        ReadFile(dir / "test_data_set_0" / absl::StrCat("input_", k, ".pb"));
    if (!data.ok()) break;
    onnx::TensorProto t;
    if (!t.ParseFromString(*data)) return Result(name, NodeCaseStatus::kBadCase, "bad input .pb");
    inputs.push_back(std::move(t));
  }
  for (int k = 0;; ++k) {
    absl::StatusOr<std::string> data =
        ReadFile(dir / "test_data_set_0" / absl::StrCat("output_", k, ".pb"));
    if (!data.ok()) break;
    onnx::TensorProto t;
    if (!t.ParseFromString(*data)) return Result(name, NodeCaseStatus::kBadCase, "bad output .pb");
    outputs.push_back(std::move(t));
  }
  const onnx::GraphProto& graph = model.graph();
  std::vector<std::string> input_names;
  {
    std::set<std::string> initializers;
    for (const auto& init : graph.initializer()) initializers.insert(init.name());
    for (const auto& in : graph.input()) {
      if (!initializers.count(in.name())) input_names.push_back(in.name());
    }
  }
  if (input_names.size() != inputs.size() || graph.output_size() != static_cast<int>(outputs.size())) {
    return Result(name, NodeCaseStatus::kBadCase,
                  absl::StrCat(input_names.size(), " graph inputs for ", inputs.size(),
                               " input files, or ", graph.output_size(), " outputs for ",
                               outputs.size(), " output files"));
  }

  // Import as is; then with the integer inputs bound as initializers.
  absl::StatusOr<graph::ImportedModel> imported = graph::ImportOnnxBytes(*bytes, name, {});
  std::set<std::string> bound;
  if (!imported.ok()) {
    onnx::ModelProto folded = model;
    onnx::GraphProto* g = folded.mutable_graph();
    google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> kept;
    for (const auto& in : g->input()) {
      auto it = std::find(input_names.begin(), input_names.end(), in.name());
      const bool integer = in.type().has_tensor_type() && IsIntegerType(in.type().tensor_type().elem_type());
      if (it != input_names.end() && integer) {
        onnx::TensorProto init = inputs[it - input_names.begin()];
        init.set_name(in.name());
        *g->add_initializer() = std::move(init);
        bound.insert(in.name());
      } else {
        *kept.Add() = in;
      }
    }
    if (!bound.empty()) {
      g->mutable_input()->Swap(&kept);
      imported = graph::ImportOnnxBytes(folded.SerializeAsString(), name, {});
    }
  }
  if (!imported.ok()) {
    return Result(name, NodeCaseStatus::kNotImported, std::string(imported.status().message()));
  }
  std::map<std::string, std::vector<float>> values;
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (bound.count(input_names[k])) continue;
    absl::StatusOr<std::vector<double>> v = TensorValues(inputs[k]);
    if (!v.ok()) return Result(name, NodeCaseStatus::kBadCase, std::string(v.status().message()));
    values[input_names[k]] = std::vector<float>(v->begin(), v->end());
  }
  absl::StatusOr<std::vector<graph::Kernel>> kernels = fusion::DefaultFusion(imported->program);
  if (!kernels.ok()) {
    return Result(name, NodeCaseStatus::kNotImported,
                  absl::StrCat("DefaultFusion: ", kernels.status().message()));
  }
  absl::StatusOr<std::vector<std::vector<float>>> actual =
      target::EvaluateProgram(target, imported->program, *kernels, values);
  if (!actual.ok()) {
    const bool no_data = actual.status().code() == absl::StatusCode::kUnimplemented &&
                         absl::StrContains(actual.status().message(), "is not a splat");
    return Result(name, no_data ? NodeCaseStatus::kNotEvaluable : NodeCaseStatus::kNotCompiled,
                  std::string(actual.status().message()));
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    absl::StatusOr<std::vector<double>> expected = TensorValues(outputs[k]);
    if (!expected.ok()) {
      return Result(name, NodeCaseStatus::kBadCase, std::string(expected.status().message()));
    }
    const std::vector<float>& got = (*actual)[k];
    if (got.size() != expected->size()) {
      return Result(name, NodeCaseStatus::kMismatch,
                    absl::StrCat("output ", k, ": ", got.size(), " values, expected ",
                                 expected->size()));
    }
    for (size_t i = 0; i < got.size(); ++i) {
      const double e = (*expected)[i], a = got[i];
      const bool same = (std::isnan(e) && std::isnan(a)) ||
                        (std::isinf(e) ? a == e : std::abs(a - e) <= kAbsTolerance + kRelTolerance * std::abs(e));
      if (!same) {
        return Result(name, NodeCaseStatus::kMismatch,
                      absl::StrCat("output ", k, " element ", i, ": ", a, ", expected ", e));
      }
    }
  }
  return Result(name, NodeCaseStatus::kPass, "");
}

}  // namespace perfgraph::test
