// raft/crc32c.h
//
// CRC-32C (Castagnoli), the checksum on every record the LevelDB log store writes.
// Table-driven, portable, no hardware dependency: records are small and the disk sync
// dominates. mask()/unmask() keep a CRC stored next to data from being mistaken for the
// CRC of a buffer that itself contains CRCs.
#pragma once

#include <cstdint>

#include "base/bytes.h"

namespace shoal::raft::crc32c {

// CRC of `data`, continued from `crc` (0 to start).
uint32_t extend(uint32_t crc, ByteView data);
inline uint32_t value(ByteView data) { return extend(0, data); }

inline uint32_t mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0x9e3779b9u; }
inline uint32_t unmask(uint32_t masked) {
  const uint32_t rot = masked - 0x9e3779b9u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace shoal::raft::crc32c
