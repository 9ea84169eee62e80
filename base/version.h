// base/version.h — the version of Shoal and the protocol ranges it speaks.
#pragma once

namespace shoal {

inline constexpr const char* kVersion = "0.1.0";

// memberlist protocol versions understood (memberlist 0.2.2: 1..5) and the one spoken.
inline constexpr int kMemberlistProtocolMin = 1;
inline constexpr int kMemberlistProtocolMax = 5;
inline constexpr int kMemberlistProtocolCur = 2;  // what Serf 0.9 runs memberlist at
// Serf's delegate protocol (Serf 0.9.4: 2..5). The serf agent speaks 5 (its -protocol
// default is the maximum; captured from a real agent), so we do too.
inline constexpr int kSerfProtocolMin = 2;
inline constexpr int kSerfProtocolMax = 5;
inline constexpr int kSerfProtocolCur = 5;

}  // namespace shoal
