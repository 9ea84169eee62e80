#include "gossip/config.h"

namespace shoal::gossip {

Result<Config> Config::by_name(std::string_view name) {
  if (name == "lan") return lan();
  if (name == "wan") return wan();
  if (name == "local") return local();
  return Status::invalid_argument("unknown gossip profile '" + std::string(name) +
                                  "' (choose lan, wan or local)");
}

}  // namespace shoal::gossip
