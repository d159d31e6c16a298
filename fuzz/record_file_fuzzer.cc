// libFuzzer target: `.pgd` record-file bytes -> data::ComputeStats (RecordReader::Open + Next over
// every record, then the summary `perfgraph dataset stats` prints) -> data::StatsToJson. The reader
// only takes a path, so the bytes go to a scratch file first. Each input runs twice: as given (the
// checksum checks) and with every CRC the layout of data/record_file.h places recomputed, so that
// mutations reach the FileHeader / Record protobuf parsing and the statistics instead of stopping at a
// checksum mismatch.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset_stats.h"
#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "fuzz/fuzz_util.h"

namespace {

using perfgraph::fuzz::Crc32;
using perfgraph::fuzz::LoadU32;
using perfgraph::fuzz::StoreU32;

// Recomputes the header CRC, and each frame's length CRC and payload CRC, where they fit.
std::vector<uint8_t> FixChecksums(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  if (size < 24) return bytes;
  const uint64_t header_length = LoadU32(&bytes[16]);
  if (24 + header_length > size) return bytes;
  std::vector<uint8_t> covered(bytes.begin(), bytes.begin() + 20);
  covered.insert(covered.end(), bytes.begin() + 24, bytes.begin() + 24 + header_length);
  StoreU32(&bytes[20], Crc32(covered.data(), covered.size()));
  size_t offset = 24 + header_length;
  while (offset + 8 <= size) {
    StoreU32(&bytes[offset + 4], Crc32(&bytes[offset], 4));
    const uint64_t length = LoadU32(&bytes[offset]);
    if (offset + 8 + length + 4 > size) break;
    StoreU32(&bytes[offset + 8 + length], Crc32(&bytes[offset + 8], length));
    offset += 8 + length + 4;
  }
  return bytes;
}

void Run(const uint8_t* data, size_t size) {
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
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Run(data, size);
  const std::vector<uint8_t> fixed = FixChecksums(data, size);
  Run(fixed.data(), fixed.size());
  return 0;
}
