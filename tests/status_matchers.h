// GoogleTest matchers for absl::Status / absl::StatusOr, under the names Abseil uses upstream
// (absl_testing::IsOk, StatusIs). Abseil 20220623 does not ship them.
#ifndef PERFGRAPH_TESTS_STATUS_MATCHERS_H_
#define PERFGRAPH_TESTS_STATUS_MATCHERS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace perfgraph::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  if (!status.ok()) *result_listener << "status is " << status;
  return status.ok();
}

MATCHER_P(StatusIs, code, "has status code " + ::testing::PrintToString(code)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has status code " + ::testing::PrintToString(code) + " and a matching message") {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

}  // namespace perfgraph::testing

#define ASSERT_OK(expr) ASSERT_THAT(expr, ::perfgraph::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT(expr, ::perfgraph::testing::IsOk())

#endif  // PERFGRAPH_TESTS_STATUS_MATCHERS_H_
