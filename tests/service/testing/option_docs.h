// Checks a module's options against docs/configuration.md: every key the module's read function
// reads has a row there with its type, default, unit and whether SIGHUP changes it.
#ifndef CONCLAVE_TESTS_SERVICE_TESTING_OPTION_DOCS_H_
#define CONCLAVE_TESTS_SERVICE_TESTING_OPTION_DOCS_H_

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "conclave/core/options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace conclave::testing_support {

// Adds a failure for every option of `read` whose row in `doc_path` is missing or disagrees.
inline void ExpectOptionsDocumented(const std::string& doc_path,
                                    const std::vector<core::OptionRead>& read) {
  using ::testing::HasSubstr;
  std::ifstream file(doc_path);
  ASSERT_TRUE(file) << doc_path << " is missing";
  std::stringstream text;
  text << file.rdbuf();
  const std::string doc = text.str();
  for (const core::OptionRead& option : read) {
    const std::string row_start = "| `" + option.key + "` | " + option.type;
    const size_t row = doc.find(row_start);
    ASSERT_NE(row, std::string::npos) << option.key << " (" << option.type << ") is not documented";
    const std::string line = doc.substr(row, doc.find('\n', row) - row);
    EXPECT_THAT(line, HasSubstr("| `" + option.default_text + "` |")) << option.key;
    if (!option.unit.empty()) {
      EXPECT_THAT(line, HasSubstr("| " + option.unit)) << option.key;
    }
    EXPECT_THAT(line, HasSubstr(option.runtime ? "| **SIGHUP** |" : "| no |")) << option.key;
  }
}

}  // namespace conclave::testing_support

#endif  // CONCLAVE_TESTS_SERVICE_TESTING_OPTION_DOCS_H_
