#include "node/http_api_owner.h"

#include "node/apps/app_service.h"
#include "node/http_forward.h"
#include "node/http_util.h"

namespace shoal::node {

bool forward_to_catalog_leader(apps::AppService& svc, const HttpRequest& req,
                               const std::shared_ptr<HttpResponder>& res) {
  auto owner = svc.catalog_owner();
  if (!owner.ok()) {
    reply_status(*res, owner.status());
    return true;
  }
  if (owner->here) return false;
  forward_request(req, res, owner->rpc);
  return true;
}

}  // namespace shoal::node
