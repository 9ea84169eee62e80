#include "gossip/broadcast_queue.h"

#include <cmath>
#include <limits>

namespace shoal::gossip {

int retransmit_limit(int retransmit_mult, size_t n) {
  const double scale = std::ceil(std::log10(static_cast<double>(n) + 1.0));
  return retransmit_mult * static_cast<int>(scale);
}

void BroadcastQueue::erase(std::map<Key, Item>::iterator it, bool finished) {
  if (!it->second.name.empty()) by_name_.erase(it->second.name);
  Finished done = std::move(it->second.on_finished);
  items_.erase(it);
  if (finished && done) done();
}

void BroadcastQueue::push(std::string name, Bytes msg, Finished on_finished) {
  if (!name.empty()) {
    if (auto old = by_name_.find(name); old != by_name_.end()) {
      erase(items_.find(old->second), /*finished=*/true);
    }
  }
  const Key key{0, msg.size(), ++next_id_};
  if (!name.empty()) by_name_.emplace(name, key);
  items_.emplace(key, Item{0, msg.size(), key.id, std::move(name), std::move(msg),
                           std::move(on_finished)});
  if (items_.size() > max_size_) prune(max_size_);
}

std::vector<Bytes> BroadcastQueue::take(size_t overhead, size_t limit, int transmit_limit,
                                        size_t max_count) {
  std::vector<Bytes> out;
  if (items_.empty()) return out;
  std::vector<Item> reinsert;
  size_t used = 0;
  const int min_tr = items_.begin()->first.transmits;
  const int max_tr = std::prev(items_.end())->first.transmits;
  for (int tr = min_tr; tr <= max_tr;) {
    if (used + overhead >= limit || out.size() >= max_count) break;
    const size_t free = limit - used - overhead;
    // First item at this transmit count whose size fits: sizes are descending within a count.
    auto it = items_.lower_bound(Key{tr, free, std::numeric_limits<uint64_t>::max()});
    if (it == items_.end() || it->first.transmits != tr) {
      ++tr;
      continue;
    }
    used += overhead + it->second.len;
    out.push_back(it->second.msg);
    Item item = std::move(it->second);
    const std::string name = item.name;
    if (!name.empty()) by_name_.erase(name);
    items_.erase(it);
    if (item.transmits + 1 >= transmit_limit) {
      if (item.on_finished) item.on_finished();
    } else {
      ++item.transmits;
      reinsert.push_back(std::move(item));
    }
  }
  for (auto& item : reinsert) {
    const Key key{item.transmits, item.len, item.id};
    if (!item.name.empty()) by_name_.emplace(item.name, key);
    items_.emplace(key, std::move(item));
  }
  return out;
}

void BroadcastQueue::clear() {
  while (!items_.empty()) erase(items_.begin(), /*finished=*/true);
}

void BroadcastQueue::prune(size_t keep) {
  while (items_.size() > keep) erase(std::prev(items_.end()), /*finished=*/true);
}

}  // namespace shoal::gossip
