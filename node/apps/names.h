// node/apps/names.h
//
// The naming rules of the apps layer. Each check is pure and returns invalid_argument with a
// message that quotes the name and states the rule, fit to show a user as is.
//
//  - app and service names: a DNS label (1-63 of [a-z0-9-], not starting or ending with '-'),
//    because they become host names in the router;
//  - process types: [a-z][a-z0-9_-]*, at most 30 characters (they prefix instance ids);
//  - config var keys: [A-Za-z_][A-Za-z0-9_]*, at most 255; SHOAL_* and PORT are refused
//    because the supervisor sets them;
//  - node names: what the agent accepts for --node (1-128 bytes, no '/', no control chars);
//  - OS package names: Debian's rule, [a-z0-9][a-z0-9+.-]+;
//  - custom domains (`shoal domains add`) and the cluster's --domain: a DNS name of up to
//    253 characters, labels as for app names, whose last label is not all digits (so no IP
//    address); given in any case, it is checked lower-cased (normalize_domain).
#pragma once

#include <string_view>

#include "base/status.h"

namespace shoal::node::apps {

Status validate_app_name(std::string_view name);
Status validate_service_name(std::string_view name);
Status validate_process_type(std::string_view type);
Status validate_config_key(std::string_view key);
Status validate_node_name(std::string_view node);
Status validate_package_name(std::string_view package);
// Lower-cases `host` and drops one trailing '.', then checks it (validate_domain).
Result<std::string> normalize_domain(std::string_view host);
Status validate_domain(std::string_view host);

}  // namespace shoal::node::apps
