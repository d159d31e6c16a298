// Train / validation / test split of a dataset by program (never by row: every record of a program
// is in the same part, DESIGN.md "Metrics").
//
// Split file format (text, one entry per line):
//   # comment            ('#' starts a comment anywhere on a line; blank lines are ignored)
//   train resnet18
//   validation squeezenet1_1
//   test mobilenet_v3_small
// i.e. a part name (`train`, `validation` or `test`), whitespace, and the program name
// (Record.program, which may not contain whitespace).
#ifndef PERFGRAPH_DATA_SPLIT_H_
#define PERFGRAPH_DATA_SPLIT_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace perfgraph::data {

enum class SplitPart { kTrain, kValidation, kTest };
absl::string_view SplitPartName(SplitPart part);  // "train", "validation", "test"

struct Split {
  std::map<std::string, SplitPart> part_of;  // program name -> part

  // The part of `program`; nullopt when the split does not name it.
  std::optional<SplitPart> PartOf(absl::string_view program) const;
  // Programs of `part`, sorted by name.
  std::vector<std::string> Programs(SplitPart part) const;
};

// Parses split-file text. `source` names the text in error messages (usually the file path).
// Errors (kInvalidArgument, naming `source` and the 1-based line number): an unknown part name, a
// line with a part but no program or with more than two words; a program listed in two different
// parts. A program listed twice in the same part is accepted.
absl::StatusOr<Split> ParseSplit(absl::string_view text, absl::string_view source);

// Reads and parses a split file. Errors: kNotFound / kPermissionDenied when it cannot be read
// (naming the path); those of ParseSplit.
absl::StatusOr<Split> ReadSplitFile(absl::string_view path);

// The split used when none is given: each program goes to a part by a stable 64-bit FNV-1a hash of
// its name (h % 10 == 0 -> test, h % 10 == 1 -> validation, else train; stable across runs and
// machines), then, so that small datasets still train and get held-out programs: with no train
// program, the program with the smallest hash moves to train; with no validation program and >= 2
// train programs, the train program with the smallest hash moves to validation; then the same for
// test. One program: it is the only (train) program; two: one train, one validation or test.
Split DefaultSplit(const std::vector<std::string>& programs);

// The split as split-file text (one "part program" line per program, sorted by part then name),
// which ParseSplit reads back.
std::string SplitToText(const Split& split);

}  // namespace perfgraph::data

#endif  // PERFGRAPH_DATA_SPLIT_H_
