// The bad-input table (README "Bad input: what each command says"): every kind of bad input a user
// can hand the CLI, with the exit status and the message each command gives. Each row runs the real
// binary on a real bad file generated from the project's own inputs (a truncated model, a dataset
// with a flipped checksum byte, a header claiming a future format, ...). The README table lists the
// same rows; a change to a message fails here first.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/cli_runner.h"

namespace perfgraph::tools {
namespace {

using ::testing::HasSubstr;
using test::CliResult;
using test::RunPerfgraph;

const std::string kSource = PERFGRAPH_SOURCE_DIR;
const std::string kModel = kSource + "/tests/testdata/cli/tiny_cnn_dynamic_batch.onnx";
const std::string kDataset = kSource + "/data/outside/tile.pgd";
const std::string kByo = kSource + "/tests/testdata/byo";
const std::string kWeightsDir = kSource + "/models/default";

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

void PutU32(std::string& bytes, size_t offset, uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[offset + i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

uint32_t GetU32(const std::string& bytes, size_t offset) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[offset + i])) << (8 * i);
  return value;
}

uint32_t Crc(const std::string& bytes, size_t begin, size_t end, uint32_t crc = 0) {
  return static_cast<uint32_t>(
      crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + begin), static_cast<uInt>(end - begin)));
}

// The bad inputs, generated once per test process in its own temporary directory.
class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = (std::filesystem::temp_directory_path() / "perfgraph_bad_input.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = new std::string(pattern);
    const std::string& d = *dir_;
    const std::string model = ReadBytes(kModel);
    WriteBytes(d + "/empty.onnx", "");
    WriteBytes(d + "/truncated.onnx", model.substr(0, 300));
    WriteBytes(d + "/syntax.hlo",
               "HloModule m\nENTRY e {\n  p = f32[4] parameter(0)\n  ROOT a = f32[4] add(p, \n}\n");
    WriteBytes(d + "/contradiction.hlo",
               "HloModule m\nENTRY e {\n  a = f32[8,64] parameter(0)\n  b = f32[32,16] parameter(1)\n"
               "  ROOT d = f32[8,16] dot(a, b), lhs_contracting_dims={1}, rhs_contracting_dims={0}\n}\n");
    WriteBytes(d + "/unknown_opcode.hlo",
               "HloModule m\nENTRY e {\n  p = f32[4] parameter(0)\n  ROOT a = f32[4] frobnicate(p)\n}\n");
    WriteBytes(d + "/absurd_dim.hlo",
               "HloModule m\nENTRY e {\n  p = f32[1099511627777] parameter(0)\n"
               "  ROOT a = f32[1099511627777] negate(p)\n}\n");
    WriteBytes(d + "/custom_call.hlo",
               "HloModule m\nENTRY e {\n  p = f32[64] parameter(0)\n"
               "  ROOT c = f32[64] custom-call(p), custom_call_target=\"my_vendor_op\"\n}\n");

    // Datasets: a torn tail, a flipped payload byte, a header of a future format (checksum fixed
    // up so that the version, not the checksum, is what is wrong), not a dataset at all.
    const std::string dataset = ReadBytes(kDataset);
    WriteBytes(d + "/torn.pgd", dataset.substr(0, dataset.size() - 1000));
    std::string flipped = dataset;
    flipped[dataset.size() / 2] = static_cast<char>(flipped[dataset.size() / 2] ^ 0xff);
    WriteBytes(d + "/flipped.pgd", flipped);
    std::string future = dataset;
    PutU32(future, 8, 99);
    const uint32_t header_length = GetU32(future, 16);
    PutU32(future, 20, Crc(future, 24, 24 + header_length, Crc(future, 0, 20)));
    WriteBytes(d + "/future.pgd", future);
    WriteBytes(d + "/empty.pgd", "");

    // Runtimes CSVs for `dataset import --hlo tests/testdata/byo`.
    const std::string header = "module,kernel,config,runtime_ns\n";
    WriteBytes(d + "/nan.csv", header + "mlp_block.hlo,dense,default,nan\n");
    WriteBytes(d + "/negative.csv", header + "mlp_block.hlo,dense,default,-5\n");
    WriteBytes(d + "/word.csv", header + "mlp_block.hlo,dense,default,fast\n");
    WriteBytes(d + "/no_kernel.csv", header + "mlp_block.hlo,nokernel,default,100\n");
    WriteBytes(d + "/no_module.csv", header + "missing.hlo,dense,default,100\n");
    WriteBytes(d + "/columns.csv", "module,kernel\nmlp_block.hlo,dense\n");
    WriteBytes(d + "/bad_config.csv", header + "mlp_block.hlo,dense,tile=banana,100\n");
    WriteBytes(d + "/escaping.csv", header + "../../elsewhere/x.hlo,dense,default,100\n");

    // Model directories: truncated weights; weights of another feature schema and of another
    // node-feature width (checksums fixed up: the schema check must be what refuses them).
    const std::string weights = ReadBytes(kWeightsDir + "/weights.pgw");
    for (const char* name : {"truncated_weights", "other_schema", "other_width"}) {
      std::filesystem::create_directories(d + "/" + name);
      std::filesystem::copy(kWeightsDir, d + "/" + name,
                            std::filesystem::copy_options::recursive |
                                std::filesystem::copy_options::overwrite_existing);
    }
    WriteBytes(d + "/truncated_weights/weights.pgw", weights.substr(0, 1000));
    auto with_field = [&](size_t offset, uint32_t value) {
      std::string w = weights;
      PutU32(w, offset, value);
      PutU32(w, w.size() - 4, Crc(w, 0, w.size() - 4));
      return w;
    };
    WriteBytes(d + "/other_schema/weights.pgw", with_field(12, 999));
    WriteBytes(d + "/other_width/weights.pgw", with_field(16, GetU32(weights, 16) + 1));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static std::string Path(const std::string& name) { return *dir_ + "/" + name; }

  static std::string* dir_;
};
std::string* BadInputTest::dir_ = nullptr;

struct Row {
  std::string what;     // the README table's first column
  std::string command;  // perfgraph arguments; {d} = the temporary directory
  int exit_code;
  std::string message;  // a substring of the output
};

std::string Expand(std::string text, const std::string& dir) {
  for (size_t at = text.find("{d}"); at != std::string::npos; at = text.find("{d}", at)) {
    text.replace(at, 3, dir);
  }
  return text;
}

TEST_F(BadInputTest, EveryCommandSaysWhatIsWrongWithItsInput) {
  const std::string dim = " --dim N=1";
  const std::string import = "dataset import --hlo " + kByo + " --out {d}/imported.pgd --runtimes ";
  const std::vector<Row> rows = {
      // inspect / plan / predict: model files
      {"missing model file", "inspect {d}/nope.onnx", 2, "{d}/nope.onnx: no such file"},
      {"empty model file", "inspect {d}/empty.onnx", 2, "file is empty, expected a model"},
      {"truncated ONNX model", "inspect {d}/truncated.onnx", 2,
       "not a valid ONNX model: protobuf parsing failed"},
      {"HLO syntax error", "inspect {d}/syntax.hlo", 2, "syntax.hlo:5:1: expected an operand"},
      {"HLO instruction contradicting its operands", "plan {d}/contradiction.hlo", 2,
       "contradiction.hlo:5:8: dot 'd'"},
      {"unknown HLO opcode", "inspect {d}/unknown_opcode.hlo", 2, "unknown_opcode.hlo:4:19: unsupported HLO opcode 'frobnicate'"},
      {"absurd dimension (2^40 + 1)", "inspect {d}/absurd_dim.hlo", 2,
       "absurd_dim.hlo:3:7: expected dimension sizes in [0, 2^40], got 1099511627777"},
      {"unsupported ONNX op", "inspect " + kSource + "/tests/testdata/cli/unsupported_op.onnx", 2,
       "unsupported ONNX ops (use --allow-unsupported to keep them as custom-calls): Det"},
      {"unknown ONNX element type", "inspect " + kSource + "/tests/testdata/cli/unknown_dtype.onnx", 2,
       "graph input 'x' has unknown or unsupported element type 99"},
      {"a graph with a cycle", "inspect " + kSource + "/tests/testdata/cli/cycle.onnx", 2,
       "the graph has a cycle: node 'add_uses_b' (Add)"},
      {"unresolved dynamic dimension", "inspect " + kModel, 2,
       "graph input 'input' has dynamic dim 0 ('N'); pass --input-shape"},
      {"malformed --input-shape", "inspect " + kModel + " --input-shape input=1,x", 2,
       "--input-shape 'input=1,x': dimension 'x' is not an integer in [1, 2^40]"},
      {"out-of-range --dim", "plan " + kModel + " --dim N=0", 2,
       "--dim 'N=0': expected NAME=VALUE with VALUE in [1, 2^40]"},
      {"unknown flag", "inspect --nope " + kModel, 2, "unknown flag '--nope'"},
      {"unknown cost model", "plan " + kModel + dim + " --cost-model nope", 2,
       "--cost-model must be learned, xgboost or analytical, got 'nope'"},
      {"unknown output format", "predict " + kModel + dim + " --format xml", 2,
       "--format must be csv or jsonl, got 'xml'"},
      {"unknown custom-call (counted, not an error)", "predict {d}/custom_call.hlo --cost-model analytical",
       0, "without an estimate: 1 kCustom custom-call"},
      // weights
      {"truncated weights file", "plan " + kModel + dim + " --model {d}/truncated_weights", 2,
       "is corrupt or truncated"},
      {"weights of another feature schema", "plan " + kModel + dim + " --model {d}/other_schema", 2,
       "feature schema version (graph::kFeatureSchemaVersion) 999"},
      {"weights of another node-feature width", "plan " + kModel + dim + " --model {d}/other_width", 2,
       "was written with graph::kNumNodeFeatures"},
      {"missing model directory", "eval --dataset " + kDataset + " --model {d}/no_model", 2,
       "cannot read '{d}/no_model/model.json'"},
      // datasets
      {"missing dataset", "dataset stats {d}/nope.pgd", 2, "cannot open '{d}/nope.pgd'"},
      {"empty dataset file", "dataset stats {d}/empty.pgd", 2, "has a truncated header (0 bytes)"},
      {"not a dataset (wrong magic)", "dataset stats " + kSource + "/README.md", 2,
       "is not a perfgraph dataset (its first bytes are not the magic \"PGDATA01\")"},
      {"flipped byte in a record", "dataset stats {d}/flipped.pgd", 2,
       "payload checksum mismatch"},
      {"future format version", "dataset stats {d}/future.pgd", 2,
       "has record file format version 99, this build reads version 1"},
      {"torn tail (killed writer; reported, not an error)", "dataset stats {d}/torn.pgd", 0,
       "torn tails skipped"},
      {"corrupt dataset given to train", "train --dataset {d}/flipped.pgd --out {d}/t", 2,
       "payload checksum mismatch"},
      {"corrupt dataset given to eval", "eval --dataset {d}/flipped.pgd --model " + kWeightsDir, 2,
       "payload checksum mismatch"},
      // runtimes CSV (dataset import): nothing is written when a row is bad
      {"NaN runtime", import + "{d}/nan.csv", 2, "nan.csv:2: runtime_ns 'nan' is not a finite number > 0"},
      {"negative runtime", import + "{d}/negative.csv", 2, "negative.csv:2: runtime_ns '-5'"},
      {"non-numeric runtime", import + "{d}/word.csv", 2, "word.csv:2: runtime_ns 'fast'"},
      {"CSV kernel not in the module", import + "{d}/no_kernel.csv", 2,
       "no_kernel.csv:2: no kernel 'nokernel' in module 'mlp_block.hlo'"},
      {"CSV module not under --hlo", import + "{d}/no_module.csv", 2,
       "no_module.csv:2: module 'missing.hlo'"},
      {"CSV with the wrong columns", import + "{d}/columns.csv", 2,
       "header must be 'module,kernel,config,runtime_ns'"},
      {"CSV module escaping --hlo (`..`)", import + "{d}/escaping.csv", 2,
       "escaping.csv:2: module '../../elsewhere/x.hlo'"},
      {"output directory that cannot exist",
       "dataset import --hlo " + kByo + " --out {d}/empty.onnx/x.pgd --runtimes " + kByo +
           "/runtimes.csv",
       2, "{d}/empty.onnx/x.pgd"},
      {"output another process is writing",
       "measure --corpus " + kModel + dim + " --out {d}/busy.pgd --configs-per-kernel 1", 1,
       "--out DATASET '{d}/busy.pgd' is in use by pid"},
      {"CSV with a malformed config", import + "{d}/bad_config.csv", 2,
       "bad_config.csv:2: TileConfig::Parse: 'tile=banana'"},
      // train / measure / eval options
      {"zero epochs", "train --dataset " + kDataset + " --out {d}/t --epochs 0", 2, "epochs = 0 < 1"},
      {"model width out of range", "train --dataset " + kDataset + " --out {d}/t --hidden -4", 2,
       "hidden = -4 is outside [4, 1024]"},
      {"unknown measurement task", "measure --task nope --out {d}/m.pgd --corpus " + kModel, 2,
       "--task must be tile or fusion, got 'nope'"},
      {"impossible shard", "measure --corpus " + kModel + dim + " --out {d}/m.pgd --shard 3/2", 2,
       "--shard must be K/N with 0 <= K < N, got '3/2'"},
      {"flag that needs another", "eval --dataset " + kDataset + " --model " + kWeightsDir +
       " --split-part validation", 2, "--split-part needs --split FILE"},
  };
  ASSERT_GE(rows.size(), 25u);
  // This process holds {d}/busy.pgd's output lock (graph/output_lock.h) while the rows run.
  const int lock_fd = open(Path("busy.pgd.lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_GE(lock_fd, 0);
  ASSERT_EQ(flock(lock_fd, LOCK_EX | LOCK_NB), 0);
  const std::string pid = std::to_string(getpid());
  ASSERT_EQ(write(lock_fd, pid.data(), pid.size()), static_cast<ssize_t>(pid.size()));
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    const CliResult r = RunPerfgraph(Expand(row.command, *dir_));
    EXPECT_EQ(r.exit_code, row.exit_code) << r.out;
    EXPECT_THAT(r.out, HasSubstr(Expand(row.message, *dir_))) << r.out;
    // The README table's message column: the line holding the excerpt.
    const std::string excerpt = Expand(row.message, *dir_);
    const size_t at = r.out.find(excerpt);
    if (at != std::string::npos) {
      const size_t begin = r.out.rfind('\n', at) == std::string::npos ? 0 : r.out.rfind('\n', at) + 1;
      std::string line = r.out.substr(begin, r.out.find('\n', at) - begin);
      for (size_t d = line.find(*dir_); d != std::string::npos; d = line.find(*dir_)) {
        line.replace(d, dir_->size() + 1, "");
      }
      std::printf("| %s | %d | %s |\n", row.what.c_str(), r.exit_code, line.c_str());
    }
  }
  close(lock_fd);
  // Nothing was written by the refused imports.
  EXPECT_FALSE(std::filesystem::exists(Path("imported.pgd")));
}

}  // namespace
}  // namespace perfgraph::tools
