// Catch2 main for every test binary. Logs are quiet unless SHOAL_TEST_LOG names a level
// (trace, debug, info, warn, error), so failures are not buried under protocol chatter.
#define CATCH_CONFIG_RUNNER
#include <spdlog/spdlog.h>

#include <catch2/catch.hpp>
#include <cstdlib>

int main(int argc, char** argv) {
  const char* level = std::getenv("SHOAL_TEST_LOG");
  spdlog::set_level(level ? spdlog::level::from_str(level) : spdlog::level::off);
  return Catch::Session().run(argc, argv);
}
