// node/apps/instance_spec.h
//
// The two translations between an app leader and a supervisor, shared by the real leader
// (app_leader.cc) and the simulator's (simulations/apps/), so both send and read exactly
// the same thing:
//  - instance_spec(): what a supervisor is told to run for one instance: the release's
//    command, env (manifest defaults, then config vars), limits (the formation's, else the
//    manifest's), generation, stop grace and the type's health check. Artifact peers are
//    the caller's to fill. nullopt when the release was pruned or does not name the type
//    (the scheduler replaces such an instance).
//  - report_line(): a supervisor's status of one instance, as the AppState report takes it.
#pragma once

#include <optional>

#include "node/apps/app_state.h"
#include "node/supervisor/assignment.h"

namespace shoal::node::apps {

std::optional<supervisor::InstanceSpec> instance_spec(const AppState& app, const Instance& i);
InstanceReport report_line(const supervisor::InstanceStatus& s);

}  // namespace shoal::node::apps
