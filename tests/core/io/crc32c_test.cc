#include "core/io/crc32c.h"

#include <string>

#include "gtest/gtest.h"

namespace liger {
namespace {

// Check values from RFC 3720 (iSCSI), appendix B.4, and the common "123456789" check string.
TEST(Crc32cTest, MatchesPublishedCheckValues) {
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(Crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(descending), 0x113FDB5Cu);
}

// The eight-byte fast path and the byte tail must agree at every split and alignment.
TEST(Crc32cTest, ExtendingAtAnySplitEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 100; ++i) data.push_back(static_cast<char>(i * 37 + 11));
  const uint32_t whole = Crc32c(data);
  for (size_t split = 0; split <= data.size(); ++split) {
    const absl::string_view view(data);
    EXPECT_EQ(ExtendCrc32c(Crc32c(view.substr(0, split)), view.substr(split)), whole) << split;
  }
  for (size_t start = 1; start < 8; ++start) {
    const absl::string_view view(data);
    std::string copy(view.substr(start));
    EXPECT_EQ(Crc32c(view.substr(start)), Crc32c(copy)) << start;
  }
}

// Whichever path ExtendCrc32c takes on this CPU must equal the portable one, at every length
// (the 8-byte loops and the byte tails) and from any starting CRC.
TEST(Crc32cTest, FastPathEqualsPortable) {
  std::string data;
  uint32_t x = 12345;
  for (int i = 0; i < 4096; ++i) {
    x = x * 1103515245u + 12345u;
    data.push_back(static_cast<char>(x >> 24));
  }
  const absl::string_view view(data);
  for (size_t n = 0; n <= 100; ++n) {
    EXPECT_EQ(Crc32c(view.substr(0, n)), ExtendCrc32cPortable(0, view.substr(0, n))) << n;
    EXPECT_EQ(ExtendCrc32c(0xDEADBEEFu, view.substr(3, n)),
              ExtendCrc32cPortable(0xDEADBEEFu, view.substr(3, n)))
        << n;
  }
  EXPECT_EQ(Crc32c(view), ExtendCrc32cPortable(0, view));
  EXPECT_EQ(ExtendCrc32cPortable(0, "123456789"), 0xE3069283u);
}

TEST(Crc32cTest, EverySingleBitFlipChangesTheChecksum) {
  std::string data(64, 'x');
  const uint32_t clean = Crc32c(data);
  for (size_t byte = 0; byte < data.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      data[byte] = static_cast<char>(data[byte] ^ (1 << bit));
      EXPECT_NE(Crc32c(data), clean) << byte << ":" << bit;
      data[byte] = static_cast<char>(data[byte] ^ (1 << bit));
    }
  }
}

}  // namespace
}  // namespace liger
