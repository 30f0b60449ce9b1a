#include "conclave/core/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace conclave::core {
namespace {

using ::testing::ContainsRegex;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Sends stderr to a temporary file for the fixture's lifetime, and restores the text format.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/conclave-log-test-XXXXXX";
    file_ = mkstemp(name);
    ASSERT_GE(file_, 0);
    path_ = name;
    saved_ = dup(STDERR_FILENO);
    dup2(file_, STDERR_FILENO);
  }
  void TearDown() override {
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    close(file_);
    unlink(path_.c_str());
    SetLogFormat("text").IgnoreError();
  }
  std::string Written() {
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  int file_ = -1;
  int saved_ = -1;
  std::string path_;
};

TEST_F(LogTest, TextLineHasTimeLevelComponentAndMessage) {
  ASSERT_TRUE(SetLogFormat("text").ok());
  LogLine(LogLevel::kWarn, "config", "unknown key 'prot'");
  const std::string line = Written();
  // Colour codes only when stderr is a terminal, which it is not here.
  EXPECT_THAT(line,
              ContainsRegex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} "
                            "warning \\[config\\] unknown key 'prot'\n$"));
}

TEST_F(LogTest, JsonLineIsOneEscapedObject) {
  ASSERT_TRUE(SetLogFormat("json").ok());
  EXPECT_EQ(LogFormatName(), "json");
  LogLine(LogLevel::kError, "http", "a \"quoted\" \\ word\nnext line\ttab \x01 é \xff end");
  const std::string line = Written();
  EXPECT_THAT(line,
              ContainsRegex("^\\{\"ts\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                            "\\.[0-9]{3}Z\","));
  // Control characters escaped, valid UTF-8 kept, the invalid byte replaced: the line parses.
  EXPECT_THAT(line, EndsWith(",\"level\":\"error\",\"component\":\"http\",\"msg\":\"a "
                             "\\\"quoted\\\" \\\\ word\\nnext line\\ttab \\u0001 é \\ufffd "
                             "end\"}\n"));
}

TEST_F(LogTest, JsonFieldsFollowTheMessage) {
  ASSERT_TRUE(SetLogFormat("json").ok());
  LogLineWithFields(LogLevel::kInfo, "access", "GET /x 200",
                    {{"route", "/x"}, {"status", "200", true}, {"peer", "::1"}});
  EXPECT_THAT(Written(), EndsWith("\"msg\":\"GET /x 200\",\"route\":\"/x\",\"status\":200,"
                                  "\"peer\":\"::1\"}\n"));
}

TEST_F(LogTest, TextFormatIgnoresFields) {
  ASSERT_TRUE(SetLogFormat("text").ok());
  LogLineWithFields(LogLevel::kInfo, "access", "GET /x 200", {{"route", "/x"}});
  EXPECT_THAT(Written(), EndsWith(" [access] GET /x 200\n"));
}

TEST(LogFormat, UnknownNameIsInvalidArgument) {
  EXPECT_EQ(SetLogFormat("xml").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LogFormatName(), "text");
}

TEST(AccessLog, SwitchesAtRuntime) {
  const bool before = AccessLogEnabled();
  SetAccessLogEnabled(false);
  EXPECT_FALSE(AccessLogEnabled());
  SetAccessLogEnabled(true);
  EXPECT_TRUE(AccessLogEnabled());
  SetAccessLogEnabled(before);
}

}  // namespace
}  // namespace conclave::core
