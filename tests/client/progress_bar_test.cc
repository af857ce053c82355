#include "client/progress_bar.h"

#include <cstdio>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace actserve::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ProgressBarTest, FormatsBytes) {
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.50 KiB");
  EXPECT_EQ(FormatBytes(12.0 * (1 << 20)), "12.0 MiB");
  EXPECT_EQ(FormatBytes(3.25 * (1 << 30)), "3.25 GiB");
}

TEST(ProgressBarTest, RendersFractionRateAndEta) {
  const std::string line =
      ProgressBar::Render(25 << 20, 100 << 20, absl::Seconds(5));
  EXPECT_THAT(line, HasSubstr("[#####---------------]"));
  EXPECT_THAT(line, HasSubstr(" 25%"));
  EXPECT_THAT(line, HasSubstr("25.0 MiB / 100.0 MiB"));
  EXPECT_THAT(line, HasSubstr("5.00 MiB/s"));
  EXPECT_THAT(line, HasSubstr("ETA 15s"));
  EXPECT_THAT(ProgressBar::Render(100, 100, absl::Seconds(1)),
              Not(HasSubstr("ETA")));
  EXPECT_THAT(ProgressBar::Render(0, 0, absl::ZeroDuration()),
              HasSubstr("  0%"));
  EXPECT_THAT(ProgressBar::Render(1, 3600, absl::Seconds(1)),
              HasSubstr("ETA 59m59s"));
}

TEST(ProgressBarTest, DrawsOnItsStreamAndEndsTheLine) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  {
    ProgressBar bar(out);
    bar.AddExpected(2048);
    bar.AddTransferred(2048);
  }
  std::rewind(out);
  char buffer[512] = {};
  const size_t n = std::fread(buffer, 1, sizeof(buffer) - 1, out);
  std::fclose(out);
  const std::string text(buffer, n);
  EXPECT_THAT(text, HasSubstr("100%  2.00 KiB / 2.00 KiB"));
  EXPECT_EQ(text.back(), '\n');
}

}  // namespace
}  // namespace actserve::client
