#include "data/split.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace perfgraph::data {
namespace {

uint64_t Fnv1a(absl::string_view text) {
  // 64-bit FNV-1a with the published offset basis and prime (http://www.isthe.com/chongo/tech/comp/fnv/).
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::optional<SplitPart> PartFromName(absl::string_view name) {
  if (name == "train") return SplitPart::kTrain;
  if (name == "validation") return SplitPart::kValidation;
  if (name == "test") return SplitPart::kTest;
  return std::nullopt;
}

}  // namespace

absl::string_view SplitPartName(SplitPart part) {
  switch (part) {
    case SplitPart::kTrain:
      return "train";
    case SplitPart::kValidation:
      return "validation";
    case SplitPart::kTest:
      return "test";
  }
  return "unknown";
}

std::optional<SplitPart> Split::PartOf(absl::string_view program) const {
  auto it = part_of.find(std::string(program));
  if (it == part_of.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Split::Programs(SplitPart part) const {
  std::vector<std::string> result;
  for (const auto& [program, p] : part_of) {
    if (p == part) result.push_back(program);
  }
  return result;  // std::map iterates in name order
}

absl::StatusOr<Split> ParseSplit(absl::string_view text, absl::string_view source) {
  Split split;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) line = line.substr(0, hash);
    std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (words.empty()) continue;
    const std::string where = absl::StrCat(source, ":", line_number, ": ");
    std::optional<SplitPart> part = PartFromName(words[0]);
    if (!part) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "unknown split part '", words[0], "' (expected train, validation or test)"));
    }
    if (words.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "expected '<part> <program name>', got ", words.size(), " words"));
    }
    const std::string program(words[1]);
    auto [it, inserted] = split.part_of.emplace(program, *part);
    if (!inserted && it->second != *part) {
      return absl::InvalidArgumentError(absl::StrCat(where, "program '", program, "' is in both ",
                                                     SplitPartName(it->second), " and ",
                                                     SplitPartName(*part)));
    }
  }
  return split;
}

absl::StatusOr<Split> ReadSplitFile(absl::string_view path) {
  std::ifstream in{std::string(path)};
  if (!in) {
    const int error = errno;
    const std::string message =
        absl::StrCat("ReadSplitFile: cannot read split file '", path, "': ", std::strerror(error));
    return error == EACCES ? absl::PermissionDeniedError(message) : absl::NotFoundError(message);
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseSplit(buffer.str(), path);
}

Split DefaultSplit(const std::vector<std::string>& programs) {
  std::vector<std::pair<uint64_t, std::string>> hashed;
  for (const std::string& p : programs) hashed.emplace_back(Fnv1a(p), p);
  std::sort(hashed.begin(), hashed.end());
  hashed.erase(std::unique(hashed.begin(), hashed.end()), hashed.end());
  Split split;
  for (const auto& [h, p] : hashed) {
    split.part_of[p] = h % 10 == 0   ? SplitPart::kTest
                       : h % 10 == 1 ? SplitPart::kValidation
                                     : SplitPart::kTrain;
  }
  auto count = [&](SplitPart part) {
    return std::count_if(split.part_of.begin(), split.part_of.end(),
                         [&](const auto& e) { return e.second == part; });
  };
  auto move_first_train_to = [&](SplitPart part) {
    for (const auto& [h, p] : hashed) {
      if (split.part_of[p] == SplitPart::kTrain) {
        split.part_of[p] = part;
        return;
      }
    }
  };
  if (!hashed.empty() && count(SplitPart::kTrain) == 0) {
    split.part_of[hashed.front().second] = SplitPart::kTrain;
  }
  if (count(SplitPart::kValidation) == 0 && count(SplitPart::kTrain) >= 2) {
    move_first_train_to(SplitPart::kValidation);
  }
  if (count(SplitPart::kTest) == 0 && count(SplitPart::kTrain) >= 2) {
    move_first_train_to(SplitPart::kTest);
  }
  return split;
}

std::string SplitToText(const Split& split) {
  std::string text;
  for (SplitPart part : {SplitPart::kTrain, SplitPart::kValidation, SplitPart::kTest}) {
    for (const std::string& program : split.Programs(part)) {
      absl::StrAppend(&text, SplitPartName(part), " ", program, "\n");
    }
  }
  return text;
}

}  // namespace perfgraph::data
