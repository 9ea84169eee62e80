// node/http_api_owner.h
//
// For handlers whose work belongs to the catalog's leader: forward_to_catalog_leader()
// answers the request itself (an error: no leader reachable; or the request forwarded to
// the leader, with the caller's token) and returns true, or returns false when this node
// leads the catalog and the handler should go on.
#pragma once

#include <memory>

#include "node/http_server.h"

namespace shoal::node {
namespace apps {
class AppService;
}

bool forward_to_catalog_leader(apps::AppService& svc, const HttpRequest& req,
                               const std::shared_ptr<HttpResponder>& res);

}  // namespace shoal::node
