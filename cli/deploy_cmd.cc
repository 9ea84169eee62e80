// `shoal deploy [PATH] --app NAME [--no-follow]`: upload a directory (packed as tar.gz,
// honouring .shoalignore), a tarball or a single executable to any agent, with a progress
// bar, then follow the rollout the agent streams back (docs/apps.md, "Deploy progress
// stream"). Exit 0 on `done`, 1 on `error` or a stream that ends without either.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/temp_dir.h"
#include "cli/deploy_render.h"
#include "cli/human_units.h"
#include "cli/progress.h"
#include "node/artifacts/archive.h"

namespace shoal::cli {
namespace {

namespace fs = std::filesystem;

struct DeployOptions {
  std::string path = ".";
  std::string app;
  bool no_follow = false;
  std::string format = "text";
  std::string commit;  // the git commit the source is (recorded in the release)
};

bool ends_with(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// What to send for PATH: the file and the name the agent is told. A directory is packed
// into `tmp` first.
struct Artifact {
  fs::path file;
  std::string filename;
};

Result<Artifact> pack(const fs::path& dir, const std::string& app, TempDir& tmp) {
  if (Status s = tmp.make("shoal-deploy"); !s.ok()) return s.with_context("packing " + dir.string());
  Artifact a{tmp.path / (app + ".tar.gz"), app + ".tar.gz"};
  node::PackStats stats;
  if (Status s = node::pack_directory(dir, a.file, &stats); !s.ok()) {
    return s.with_context("packing " + dir.string());
  }
  for (const auto& skipped : stats.skipped) {
    std::fprintf(stderr, "warning: not packed: %s\n", skipped.c_str());
  }
  std::error_code ec;
  const auto packed = fs::file_size(a.file, ec);
  std::fprintf(stderr, "Packed %s: %llu file%s, %s (%s compressed)%s\n", dir.string().c_str(),
               static_cast<unsigned long long>(stats.files), stats.files == 1 ? "" : "s",
               format_bytes(stats.bytes).c_str(),
               ec ? "?" : format_bytes(packed).c_str(),
               stats.ignored == 0 ? ""
               : stats.ignored == 1
                   ? ", 1 path ignored"
                   : (", " + std::to_string(stats.ignored) + " paths ignored").c_str());
  return a;
}

void run_deploy(Cli& cli, const DeployOptions& o) {
  const fs::path path = o.path;
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return usage_error(cli, o.path + ": no such file or directory");
  TempDir tmp;
  Artifact artifact;
  if (fs::is_directory(st)) {
    auto packed = pack(path, o.app, tmp);
    if (!packed.ok()) return fail(cli, packed.status());
    artifact = *packed;
  } else if (fs::is_regular_file(st) &&
             (ends_with(o.path, ".tar.gz") || ends_with(o.path, ".tgz") ||
              (st.permissions() & (fs::perms::owner_exec | fs::perms::group_exec |
                                   fs::perms::others_exec)) != fs::perms::none)) {
    artifact = {path, path.filename().string()};
  } else {
    return usage_error(cli, o.path +
                                " is not a directory, a .tar.gz/.tgz archive or an executable file");
  }

  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(artifact.file.c_str(), "rb"),
                                                       &std::fclose);
  const auto size = fs::file_size(artifact.file, ec);
  if (!file || ec) {
    return fail(cli, Status::io_error("cannot read " + artifact.file.string() + ": " +
                                      (ec ? ec.message() : std::strerror(errno))));
  }
  auto client = make_client(cli);
  if (!client) return;
  // Each piece of the upload and each wait for the next event: a build may be quiet a while.
  client->set_timeout(std::chrono::minutes(30));

  UploadProgress progress(stderr, ::isatty(STDERR_FILENO) != 0, artifact.filename, size);
  auto reader = [&](std::span<char> buf) -> Result<size_t> {
    const size_t n = std::fread(buf.data(), 1, buf.size(), file.get());
    if (n == 0 && std::ferror(file.get())) {
      return Status::io_error("reading " + artifact.file.string() + ": " + std::strerror(errno));
    }
    return n;
  };
  auto on_sent = [&](uint64_t sent) {
    progress.update(sent);
    if (sent == size) progress.finish();
  };

  int http_status = 0;
  std::string error_body;
  constexpr size_t kErrorBodyMax = 64 * 1024;
  DeployStream events;
  bool released = false;
  auto on_headers = [&](const node::HttpResponse& head) {
    progress.finish();
    http_status = head.status;
    return true;
  };
  auto show = [&](const std::string& event, std::string_view raw, const std::string& text) {
    if (o.format == "json") {
      std::fwrite(raw.data(), 1, raw.size(), stdout);
      std::fputc('\n', stdout);
    } else if (!text.empty()) {
      std::printf("%s\n", text.c_str());
    }
    std::fflush(stdout);
    if (event == "release") released = true;
  };
  auto on_body = [&](std::string_view piece) {
    if (http_status != 200) {  // refused before anything was stored: a JSON error
      if (error_body.size() < kErrorBodyMax) error_body.append(piece.substr(0, kErrorBodyMax - error_body.size()));
      return true;
    }
    const bool more = events.feed(piece, show);
    return more && !(o.no_follow && released);
  };
  std::string target = "/v1/apps/" + node::ApiClient::url_encode(o.app) +
                       "/deploy?filename=" + node::ApiClient::url_encode(artifact.filename);
  if (!o.commit.empty()) target += "&commit=" + node::ApiClient::url_encode(o.commit);
  auto reply = client->upload("POST", target, size, reader, on_sent, "application/octet-stream",
                              on_body, on_headers);
  progress.finish();
  if (!reply.ok()) return fail(cli, reply.status());
  if (reply->status != 200) return fail(cli, stream_failure(reply->status, error_body));
  if (o.no_follow && released && !events.ended()) {
    std::fprintf(stderr, "Not following the rollout: `shoal ps %s` shows it.\n", o.app.c_str());
    return;
  }
  if (Status s = events.outcome(); !s.ok()) return fail(cli, s);
}

}  // namespace

void add_deploy_command(CLI::App& app, Cli& cli) {
  auto* deploy = app.add_subcommand(
      "deploy", "Deploy a directory, a .tar.gz or an executable as a new release of an app");
  auto o = std::make_shared<DeployOptions>();
  deploy->add_option("PATH", o->path, "What to deploy")->capture_default_str();
  deploy->add_option("--app", o->app, "The app (created on its first deploy)")->required();
  deploy->add_flag("--no-follow", o->no_follow,
                   "Return once the release is made, without following the rollout");
  deploy->add_option("--commit", o->commit,
                     "The git commit the source is (40 or 64 hex digits), shown by `shoal releases`");
  add_format_option(*deploy, o->format);
  deploy->callback([&cli, o] { run_deploy(cli, *o); });
}

void deploy_archive(Cli& cli, const std::string& path, const std::string& app,
                    const std::string& commit) {
  DeployOptions o;
  o.path = path;
  o.app = app;
  o.commit = commit;
  run_deploy(cli, o);
}

}  // namespace shoal::cli
