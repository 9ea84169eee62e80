#include "raft/crc32c.h"

#include <array>

namespace shoal::raft::crc32c {

namespace {
constexpr uint32_t kPolynomial = 0x82f63b78u;  // Castagnoli, bit-reflected

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr auto kTable = make_table();
}  // namespace

uint32_t extend(uint32_t crc, ByteView data) {
  uint32_t c = ~crc;
  for (uint8_t byte : data) c = kTable[(c ^ byte) & 0xff] ^ (c >> 8);
  return ~c;
}

}  // namespace shoal::raft::crc32c
