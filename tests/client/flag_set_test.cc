#include "client/flag_set.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace actserve::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Values {
  std::string name = "relu";
  bool json = false;
  bool color = true;
  int64_t count = 3;
  double scale = 1.5;
  absl::Duration deadline = absl::Seconds(5);
  std::vector<std::string> params;
};

FlagSet MakeFlags(Values* v) {
  FlagSet flags("tool run [flags]", "Runs things.");
  flags.AddString("name", &v->name, "Which one.", "NAME");
  flags.AddBool("json", &v->json, "As JSON.");
  flags.AddBool("color", &v->color, "In color.");
  flags.AddInt("count", &v->count, "How many.");
  flags.AddDouble("scale", &v->scale, "How big.");
  flags.AddDuration("deadline", &v->deadline, "How long.");
  flags.AddRepeated("param", &v->params, "A parameter.", "K=V");
  return flags;
}

TEST(FlagSetTest, ParsesEveryForm) {
  Values v;
  FlagSet flags = MakeFlags(&v);
  const std::vector<std::string> args = {
      "--name=gelu", "--json",      "--nocolor",     "--count",
      "-7",          "--scale=2e3", "--deadline",    "250ms",
      "--param",     "alpha=1",     "--param=beta=2"};
  ASSERT_TRUE(flags.Parse(args).ok());
  EXPECT_EQ(v.name, "gelu");
  EXPECT_TRUE(v.json);
  EXPECT_FALSE(v.color);
  EXPECT_EQ(v.count, -7);
  EXPECT_EQ(v.scale, 2000);
  EXPECT_EQ(v.deadline, absl::Milliseconds(250));
  EXPECT_THAT(v.params, ElementsAre("alpha=1", "beta=2"));
  EXPECT_FALSE(flags.help_requested());
}

TEST(FlagSetTest, UnsetFlagsKeepTheirDefaults) {
  Values v;
  FlagSet flags = MakeFlags(&v);
  ASSERT_TRUE(flags.Parse({}).ok());
  EXPECT_EQ(v.name, "relu");
  EXPECT_EQ(v.count, 3);
  EXPECT_TRUE(v.color);
}

TEST(FlagSetTest, ReportsBadInput) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--count=many"}, "an integer"},
      {{"--scale=x"}, "a number"},
      {{"--json=maybe"}, "true or false"},
      {{"--deadline=5 parsecs"}, "duration"},
      {{"--deadline=-1s"}, "duration"},
      {{"--bogus=1"}, "unknown flag --bogus"},
      {{"--nobogus"}, "unknown flag --nobogus"},
      {{"--noname"}, "unknown flag --noname"},
      {{"positional"}, "unexpected argument"},
      {{"--count"}, "needs a value"},
      {{"--name=a", "--name=b"}, "given twice"}};
  for (const auto& [args, message] : cases) {
    Values v;
    FlagSet flags = MakeFlags(&v);
    absl::Status status = flags.Parse(args);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << message;
    EXPECT_THAT(status.message(), HasSubstr(message));
  }
}

TEST(FlagSetTest, RequiredFlagsMustBeGivenUnlessHelpIsAsked) {
  Values v;
  FlagSet flags = MakeFlags(&v);
  flags.Require("name");
  EXPECT_THAT(flags.Parse({"--json"}).message(),
              HasSubstr("--name is required"));
  Values w;
  FlagSet help = MakeFlags(&w);
  help.Require("name");
  EXPECT_TRUE(help.Parse({"--json", "--help", "--bogus"}).ok());
  EXPECT_TRUE(help.help_requested());
}

TEST(FlagSetTest, UsageListsFlagsWithDefaultsAndWraps) {
  Values v;
  FlagSet flags = MakeFlags(&v);
  flags.AddString("long", &v.name,
                  "A help text long enough that it cannot possibly fit on "
                  "one line of eighty columns together with its flag.");
  flags.Require("name");
  const std::string usage = flags.Usage();
  EXPECT_THAT(usage, HasSubstr("Usage: tool run [flags]\n\nRuns things."));
  EXPECT_THAT(usage, HasSubstr("--name=NAME"));
  EXPECT_THAT(usage, HasSubstr("Which one. Required. (default: relu)"));
  EXPECT_THAT(usage, HasSubstr("(default: 3)"));
  EXPECT_THAT(usage, HasSubstr("(default: 5s)"));
  EXPECT_THAT(usage, HasSubstr("A parameter. Repeatable."));
  EXPECT_THAT(usage, HasSubstr("--help"));
  size_t start = 0;
  while (start < usage.size()) {
    const size_t end = usage.find('\n', start);
    EXPECT_LE(end - start, 80u) << usage.substr(start, end - start);
    start = end + 1;
  }
}

}  // namespace
}  // namespace actserve::client
