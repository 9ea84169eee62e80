// simulations/report.h
//
// Turning a finished run into words: the checks a scenario asked for (evaluated against the
// observer's records), the human summary, and the CSV timeline's header. Everything here is
// a pure function of the run's records, so it is as deterministic as the run.
#pragma once

#include <string>

#include "simulations/scenario.h"
#include "simulations/simulator.h"

namespace shoal::sim {

// Appends one CheckOutcome per check the scenario declares, and sets report.passed.
void evaluate_checks(const Scenario& scenario, RunReport& report);
std::string format_summary(const Scenario& scenario, const RunReport& report);
inline constexpr const char* kCsvHeader =
    "t_s,node,up,alive_view,failed_view,suspicions,msgs_sent,bytes_sent,health\n";

}  // namespace shoal::sim
