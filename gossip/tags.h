// gossip/tags.h
//
// Serf node tags as carried in memberlist node meta (Serf 0.9.4 encodeTags/decodeTags):
// [255][msgpack map of string to string]. Meta that does not start with 255, including
// empty meta, is Serf's pre-protocol-3 form: the whole meta is the "role" tag, so empty
// meta decodes to {"role": ""} exactly as Serf does.
//
// Contract:
//  - Pure functions; results own their storage.
//  - encode_tags() fails with invalid_argument when the encoding exceeds kMetaMaxSize
//    (512 bytes), the limit Serf and memberlist enforce.
//  - decode_tags() returns corruption for a malformed map. (Serf logs and keeps whatever it
//    had decoded so far; we refuse instead, so half-read tags never reach the cluster view.)
#pragma once

#include <map>
#include <string>

#include "base/bytes.h"
#include "base/status.h"

namespace shoal::gossip {

using Tags = std::map<std::string, std::string>;

Result<Bytes> encode_tags(const Tags& tags);
Result<Tags> decode_tags(ByteView meta);

}  // namespace shoal::gossip
