#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"

namespace liger {

// CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, initial and final value inverted), the
// checksum of iSCSI and ext4; the installed Abseil predates absl/crc. ExtendCrc32c continues the
// CRC of earlier data, so Crc32c(a + b) == ExtendCrc32c(Crc32c(a), b). It uses the SSE4.2 crc32
// instruction where the CPU has it (several GB/s, so checksumming a large session state costs
// little next to copying it) and ExtendCrc32cPortable otherwise.
uint32_t ExtendCrc32c(uint32_t crc, absl::string_view data);
inline uint32_t Crc32c(absl::string_view data) { return ExtendCrc32c(0, data); }

// Table-driven (slicing-by-8) CRC-32C for any CPU; exposed so tests can check both paths agree.
uint32_t ExtendCrc32cPortable(uint32_t crc, absl::string_view data);

}  // namespace liger
