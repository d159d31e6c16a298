// libFuzzer target: target description text proto -> cost::ParseTargetDescription (what
// LoadTargetDescription runs on the file's bytes: text-proto parse, format version, memory levels,
// ValidateTargetDescription) -> on success TargetDescriptionToText and a second parse of that text,
// which must succeed (the round trip SaveTargetDescription / LoadTargetDescription relies on).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "cost/target_description.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto target = perfgraph::cost::ParseTargetDescription(text, "fuzz.textproto");
  if (!target.ok()) return 0;
  const std::string again = perfgraph::cost::TargetDescriptionToText(*target);
  auto reparsed = perfgraph::cost::ParseTargetDescription(again, "fuzz.textproto (round trip)");
  if (!reparsed.ok()) {
    std::fprintf(stderr, "round trip failed: %s\n", reparsed.status().ToString().c_str());
    std::abort();
  }
  return 0;
}
