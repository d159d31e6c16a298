// libFuzzer target: runtimes CSV bytes -> tools::ImportRuntimes (`perfgraph dataset import --hlo
// tests/testdata/byo --runtimes CSV --out DATASET`: CSV parse, module / kernel / config / runtime
// checks, HLO import of the named modules, dataset write), then data::ReadRecordFile of the written
// dataset. The CSV and the dataset live in a scratch directory; the dataset is removed after each run
// (an import refuses to overwrite one).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "fuzz/fuzz_util.h"
#include "tools/dataset_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  perfgraph::tools::DatasetImportOptions options;
  options.hlo_dir = perfgraph::fuzz::SourceDir() + "/tests/testdata/byo";
  options.runtimes_csv = perfgraph::fuzz::WriteScratchFile("runtimes.csv", data, size);
  options.out = perfgraph::fuzz::ScratchDir() + "/imported.pgd";
  std::error_code ignored;
  std::filesystem::remove(options.out, ignored);
  auto summary = perfgraph::tools::ImportRuntimes(options);
  if (summary.ok()) {
    auto records = perfgraph::data::ReadRecordFile(options.out);
    (void)records;
  }
  std::filesystem::remove(options.out, ignored);
  return 0;
}
