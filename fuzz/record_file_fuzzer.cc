// libFuzzer target: `.pgd` record-file bytes -> data::ComputeStats (RecordReader::Open + Next over
// every record, then the summary `perfgraph dataset stats` prints) -> data::StatsToJson. The reader
// only takes a path, so the bytes go to a scratch file first.
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/dataset_stats.h"
#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = perfgraph::fuzz::WriteScratchFile("input.pgd", data, size);
  auto stats = perfgraph::data::ComputeStats({path});
  if (stats.ok()) {
    const std::string json = perfgraph::data::StatsToJson(*stats);
    (void)json;
  }
  // The reader on its own, with the feature-schema check the training loader asks for.
  auto reader = perfgraph::data::RecordReader::Open(path, 1);
  if (reader.ok()) {
    perfgraph::data::Record record;
    while (true) {
      auto more = reader->Next(&record);
      if (!more.ok() || !*more) break;
    }
  }
  return 0;
}
