// Options per module: a module reads its own keys from core's raw table with an OptionReader,
// registers a section, and SIGHUP's re-read table reaches it. The test module's options below
// are declared here only: core's shared types (Config, RawConfig, OptionReader, ConfigSections,
// the module descriptor) know nothing of them, which is the point.
#include "conclave/core/config_sections.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "conclave/core/config.h"

namespace conclave::core {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// A module's options, as a module declares them: a struct and the one function reading it.
struct WidgetOptions {
  int64_t widgets = 0;
  bool fancy = false;
  std::string password;
  absl::Duration period;
  std::vector<std::string> names;
};

WidgetOptions ReadWidgetOptions(OptionReader& r) {
  WidgetOptions o;
  o.widgets = r.Integer("widget_count", 3, 1, 100,
                        {.unit = "widgets", .runtime = true, .doc = "How many widgets"});
  o.fancy = r.Bool("widget_fancy", false, {.doc = "Fancy widgets (at the next load)"});
  o.password = r.String("widget_password", "", {.runtime = true, .secret = true});
  o.period = r.Duration("widget_period", absl::Seconds(5), {.runtime = true});
  o.names = r.StringList("widget_names", {}, {});
  return o;
}

using WidgetSection = TypedOptionSection<WidgetOptions>;

RawConfig Raw(std::string_view toml, char** environ = nullptr) {
  auto loaded = ParseConfig(toml, "test.toml", environ);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return loaded.ok() ? loaded->config.raw : RawConfig{};
}

std::unique_ptr<WidgetSection> Open(const RawConfig& raw) {
  auto section = WidgetSection::Create("widgets", &ReadWidgetOptions, raw);
  EXPECT_TRUE(section.ok()) << section.status();
  return section.ok() ? *std::move(section) : nullptr;
}

TEST(OptionReader, ReadsTypedValuesFromTheFileAndTheEnvironment) {
  std::string env = "CONCLAVE_WIDGET_NAMES=a; b;;c";
  char* environ[] = {env.data(), nullptr};
  RawConfig raw = Raw("widget_count = 7\nwidget_period = \"250ms\"", environ);
  OptionReader reader("widgets", raw);
  WidgetOptions o = ReadWidgetOptions(reader);
  ASSERT_TRUE(reader.status().ok()) << reader.status();
  EXPECT_EQ(o.widgets, 7);
  EXPECT_FALSE(o.fancy);
  EXPECT_EQ(o.period, absl::Milliseconds(250));
  EXPECT_THAT(o.names, ElementsAre("a", "b", "c"));
  ASSERT_EQ(reader.read().size(), 5u);
  EXPECT_EQ(reader.read()[0].source, "file");
  EXPECT_EQ(reader.read()[0].default_text, "3");
  EXPECT_EQ(reader.read()[0].unit, "widgets");
  EXPECT_TRUE(reader.read()[0].runtime);
  EXPECT_EQ(reader.read()[1].source, "default");
  EXPECT_EQ(reader.read()[3].value_text, "\"250ms\"");
  EXPECT_EQ(reader.read()[4].source, "env");
  EXPECT_EQ(reader.read()[4].value_text, "[\"a\", \"b\", \"c\"]");
}

TEST(OptionReader, AnInvalidValueNamesTheKeyAndWhereItCameFrom) {
  RawConfig raw = Raw("widget_count = 1000");
  OptionReader range("widgets", raw);
  (void)ReadWidgetOptions(range);
  EXPECT_EQ(range.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(range.status().message()),
              HasSubstr("widget_count (test.toml): 1000 is outside 1..100"));

  std::string env = "CONCLAVE_WIDGET_FANCY=maybe";
  char* environ[] = {env.data(), nullptr};
  RawConfig from_env = Raw("", environ);
  OptionReader type("widgets", from_env);
  (void)ReadWidgetOptions(type);
  EXPECT_THAT(std::string(type.status().message()),
              HasSubstr("widget_fancy (CONCLAVE_WIDGET_FANCY): expected true or false"));
  EXPECT_EQ(WidgetSection::Create("widgets", &ReadWidgetOptions, from_env).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// As for core's keys (Config.ABadValueInTheFileIsAnErrorEvenWhereTheEnvironmentOverridesIt): the
// file is what the next start without the variable reads, so its bad value is an error now.
TEST(OptionReader, ABadValueInTheFileIsAnErrorEvenWhereTheEnvironmentOverridesIt) {
  std::string env = "CONCLAVE_WIDGET_COUNT=5";
  char* environ[] = {env.data(), nullptr};
  for (const char* bad : {"widget_count = \"five\"", "widget_count = 1000"}) {
    RawConfig raw = Raw(bad, environ);
    ASSERT_NE(raw.Overridden("widget_count"), nullptr) << bad;
    OptionReader reader("widgets", raw);
    (void)ReadWidgetOptions(reader);
    EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(reader.status().message()), HasSubstr("widget_count (test.toml)"))
        << bad;
    EXPECT_EQ(WidgetSection::Create("widgets", &ReadWidgetOptions, raw).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  // A good value in the file: the environment's wins, and only it shows.
  RawConfig good = Raw("widget_count = 9", environ);
  OptionReader reader("widgets", good);
  EXPECT_EQ(ReadWidgetOptions(reader).widgets, 5);
  ASSERT_TRUE(reader.status().ok()) << reader.status();
  EXPECT_EQ(reader.read()[0].source, "env");
  // A key only in the environment overrides nothing.
  EXPECT_EQ(Raw("", environ).Overridden("widget_count"), nullptr);
}

TEST(ConfigSections, AModuleOptionIsKnownOnceItsSectionIsRegistered) {
  const RawConfig raw = Raw("widget_count = 9\nwidget_password = \"hunter2\"");
  ConfigSections sections(raw);
  EXPECT_FALSE(sections.Knows("widget_count"));
  auto knows = [&](std::string_view key) { return sections.Knows(key); };
  EXPECT_EQ(UnknownKeyWarnings(raw, knows).size(), 2u);
  {
    std::unique_ptr<WidgetSection> section = Open(*sections.raw());
    ConfigSections::Handle handle = sections.Register(section.get());
    EXPECT_EQ(section->Get().widgets, 9);
    EXPECT_THAT(UnknownKeyWarnings(raw, knows), IsEmpty());
    std::vector<OptionRead> shown = sections.InForce();
    ASSERT_EQ(shown.size(), 5u);
    EXPECT_EQ(shown[0].key, "widget_count");
    EXPECT_EQ(shown[0].value_text, "9");
    EXPECT_EQ(shown[0].module, "widgets");
    EXPECT_EQ(shown[2].value_text, "(set; redacted)");
  }
  EXPECT_FALSE(sections.Knows("widget_count"));  // the handle unregistered it
}

TEST(ConfigSections, ReloadAppliesRuntimeKeysAndLeavesTheOthersForTheNextLoad) {
  ConfigSections sections(Raw("widget_count = 2\nwidget_password = \"old\""));
  std::unique_ptr<WidgetSection> section = Open(*sections.raw());
  ConfigSections::Handle handle = sections.Register(section.get());

  auto plan = sections.Reload(
      Raw("widget_count = 4\nwidget_fancy = true\nwidget_password = \"new\"\nother = 1"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->apply, ElementsAre(Field(&ConfigChange::key, "widget_count"),
                                       Field(&ConfigChange::key, "widget_password")));
  EXPECT_THAT(plan->needs_restart, ElementsAre(Field(&ConfigChange::key, "widget_fancy")));
  const std::string line = DescribeConfigReload(*plan);
  EXPECT_THAT(line, HasSubstr("widget_count (2 -> 4)"));
  EXPECT_THAT(line, Not(HasSubstr("new")));
  EXPECT_EQ(section->Get().widgets, 4);
  EXPECT_EQ(section->Get().password, "new");
  EXPECT_FALSE(section->Get().fancy);  // not runtime: unchanged until the module loads again

  // The module's next load reads the table SIGHUP kept, and so gets the new value.
  std::unique_ptr<WidgetSection> next = Open(*sections.raw());
  EXPECT_TRUE(next->Get().fancy);
}

TEST(ConfigSections, AnInvalidValueChangesNothing) {
  ConfigSections sections(Raw("widget_count = 2"));
  std::unique_ptr<WidgetSection> first = Open(*sections.raw());
  std::unique_ptr<WidgetSection> second = Open(*sections.raw());
  ConfigSections::Handle a = sections.Register(first.get());
  ConfigSections::Handle b = sections.Register(second.get());
  auto plan = sections.Reload(Raw("widget_count = 5\nwidget_period = \"soon\""));
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("widget_period"));
  EXPECT_EQ(first->Get().widgets, 2);
  EXPECT_EQ(second->Get().widgets, 2);
  EXPECT_EQ(std::get<int64_t>(sections.raw()->Find("widget_count")->value), 2);
}

}  // namespace
}  // namespace conclave::core
