#include "core/echo.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace actserve {
namespace {

TEST(EchoTest, ShortTextStaysAsItIs) {
  EXPECT_EQ(EchoText("gelu"), "gelu");
  EXPECT_EQ(EchoText(std::string(kMaxEchoBytes, 'a')),
            std::string(kMaxEchoBytes, 'a'));
}

TEST(EchoTest, LongTextIsCutAndSaysHowLongItWas) {
  const std::string echo = EchoText(std::string(kMaxEchoBytes + 1, 'a'));
  EXPECT_EQ(echo, std::string(kMaxEchoBytes, 'a') + "…(49 bytes)");
  EXPECT_LT(EchoText(std::string(1 << 20, 'a')).size(), 2 * kMaxEchoBytes);
}

TEST(EchoTest, ControlAndNonAsciiBytesAreEscaped) {
  EXPECT_EQ(EchoText(std::string("a\nb\0z\r'\\\xc3\xa9", 10)),
            R"(a\nb\x00z\r\'\\\xc3\xa9)");
  // However long the input, the echo is bounded even when every byte
  // escapes to four characters.
  EXPECT_LE(EchoText(std::string(1 << 20, '\x01')).size(),
            4 * kMaxEchoBytes + 32);
}

TEST(EchoTest, ShapesUpToTheLimitAreShownWhole) {
  EXPECT_EQ(EchoShape({}), "[]");
  EXPECT_EQ(EchoShape({2, 3}), "[2, 3]");
  const std::vector<int64_t> eight = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_EQ(eight.size(), kMaxEchoDimensions);
  EXPECT_EQ(EchoShape(eight), "[1, 2, 3, 4, 5, 6, 7, 8]");
}

TEST(EchoTest, LongShapesAreElidedInTheMiddle) {
  std::vector<int64_t> shape(100000);
  for (size_t i = 0; i < shape.size(); ++i) shape[i] = static_cast<int64_t>(i);
  EXPECT_EQ(EchoShape(shape),
            "[0, 1, 2, 3, …, 99996, 99997, 99998, 99999] (rank 100000)");
  EXPECT_EQ(EchoShape({1, 2, 3, 4, 5, 6, 7, 8, 9}),
            "[1, 2, 3, 4, …, 6, 7, 8, 9] (rank 9)");
}

}  // namespace
}  // namespace actserve
