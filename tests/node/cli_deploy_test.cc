// `shoal deploy` as a user meets it before any agent is asked: what PATH may be, --app.
// The upload itself is tested in http_client_upload_test.cc, the progress stream in
// cli_render_test.cc; the whole deploy against real agents with the apps layer (issue 7).
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "tests/support/process.h"

using namespace shoal::test;

namespace {

CommandResult run_offline(std::vector<std::string> args) {
  args.push_back("--addr");
  args.push_back("127.0.0.1:" + std::to_string(free_loopback_port()));
  return run_command(args);
}

}  // namespace

TEST_CASE("cli deploy: PATH and --app are checked before uploading", "[node][cli][cli-apps][process]") {
  const auto dir = make_temp_dir("shoal-deploy-args");
  auto usage = [](const std::vector<std::string>& args, const std::string& message) {
    auto r = run_offline(args);
    INFO("shoal " << Catch::Detail::stringify(args) << "\nstderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(message));
    CHECK(r.out.empty());
  };
  usage({"deploy", dir.string()}, "--app is required");
  usage({"deploy", (dir / "missing").string(), "--app", "hello"},
        "error: " + (dir / "missing").string() + ": no such file or directory");
  const auto text = dir / "notes.txt";
  { std::ofstream(text) << "not an artifact\n"; }
  ::chmod(text.c_str(), 0644);
  usage({"deploy", text.string(), "--app", "hello"},
        "error: " + text.string() + " is not a directory, a .tar.gz/.tgz archive or an executable file");

  // Each kind that is accepted gets as far as the agent (here: none, exit 1).
  const auto app_dir = dir / "app";
  std::filesystem::create_directory(app_dir);
  { std::ofstream(app_dir / "Procfile") << "web: python3 -m http.server $PORT\n"; }
  const auto binary = dir / "server";
  { std::ofstream(binary) << "#!/bin/sh\nexec sleep 1000\n"; }
  ::chmod(binary.c_str(), 0755);
  const auto tarball = dir / "app.tgz";
  { std::ofstream(tarball) << "not checked by the CLI: the agent refuses bad archives"; }
  for (const auto& path : {app_dir, binary, tarball}) {
    auto r = run_offline({"deploy", path.string(), "--app", "hello"});
    INFO(path << "\nstderr: " << r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains("error: cannot reach the agent at http://127.0.0.1:"));
  }
  auto packed = run_offline({"deploy", app_dir.string(), "--app", "hello"});
  CHECK_THAT(packed.err, Catch::StartsWith("Packed " + app_dir.string() + ": 1 file,"));
  std::filesystem::remove_all(dir);
}
