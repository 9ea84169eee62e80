// `shoal git remote APP [--add [NAME]]` prints (and adds) the git remote of an app on the
// node the CLI talks to; the hidden `shoal git-hook pre-receive` is what a push to that
// remote runs on the node (node/git/git_remote.h, docs/git.md): it deploys the pushed
// commit with the pusher's token and refuses the push unless the deploy ends `done`.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/temp_dir.h"
#include "node/apps/names.h"
#include "node/script_process.h"
#include "node/unique_fd.h"

namespace shoal::cli {

namespace fs = std::filesystem;

namespace {

constexpr const char* kDeployBranch = "refs/heads/main";

std::string env_or(const char* name, const char* fallback = "") {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

// Everything the hook prints becomes a `remote:` line in the pusher's terminal.
void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// The commit the app's current release was deployed from, "" if none or not from git.
std::string current_commit(Cli& cli, const std::string& app) {
  auto client = make_client(cli);
  if (!client) return "";
  auto reply = client->call("GET", "/v1/apps/" + node::ApiClient::url_encode(app) + "/releases");
  if (!reply.ok() || !reply->contains("releases") || !(*reply)["releases"].is_array()) return "";
  for (const auto& r : (*reply)["releases"]) {
    if (r.value("current", false)) return r.value("commit", "");
  }
  return "";
}

int pre_receive(Cli& cli) {
  const std::string app = env_or("SHOAL_GIT_APP");
  if (!node::apps::validate_app_name(app).ok()) {
    say("shoal: this hook runs only in a push to a node's /git/APP.git remote");
    return kExitFailed;
  }
  std::string old_rev, new_rev, ref, commit;
  int refs = 0;
  while (std::cin >> old_rev >> new_rev >> ref) {
    ++refs;
    if (ref != kDeployBranch) {
      say("shoal: refusing " + ref + ": " + app + " deploys from branch main (git push REMOTE HEAD:main)");
      return kExitFailed;
    }
    if (new_rev.find_first_not_of('0') == std::string::npos) {  // all zeros: a delete
      say("shoal: refusing to delete main: an app's releases are removed with shoal apps destroy");
      return kExitFailed;
    }
    commit = new_rev;
  }
  if (refs == 0) return kExitOk;

  // One deploy per app at a time on this node; a second push is told, not queued.
  const fs::path git_dir = env_or("GIT_DIR", ".");
  node::UniqueFd lock(::open((git_dir / "shoal-push.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.open() || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    say("shoal: another push to " + app + " is deploying on this node; push again once it is done");
    return kExitFailed;
  }

  if (current_commit(cli, app) == commit) {
    say("-----> " + app + " already runs " + commit.substr(0, 12) + ": nothing to deploy");
    return kExitOk;
  }
  say("-----> deploying " + commit.substr(0, 12) + " to " + app);

  // The commit's tree as the tarball `shoal deploy` would upload.
  TempDir tmp;
  if (Status s = tmp.make("shoal-push"); !s.ok()) {
    say("shoal: " + s.message());
    return kExitFailed;
  }
  const fs::path archive = tmp.path / (app + ".tar.gz");
  node::ScriptLimits limits;
  limits.timeout = std::chrono::minutes(5);
  auto packed = node::run_script("exec git archive --format=tar.gz -o \"$OUT\" \"$COMMIT\"",
                                 {{"OUT", archive.string()}, {"COMMIT", commit}}, "", limits);
  if (!packed.ok()) {
    say("shoal: git archive " + commit.substr(0, 12) + " failed: " + packed.describe(limits) +
        (packed.err.empty() ? "" : ": " + packed.err));
    return kExitFailed;
  }
  deploy_archive(cli, archive.string(), app, commit);
  if (cli.exit_code != kExitOk) {
    say("shoal: the deploy failed; the push is refused and " + app + " keeps its release");
  }
  return cli.exit_code;
}

}  // namespace

void add_git_commands(CLI::App& app, Cli& cli) {
  auto* git = app.add_subcommand("git", "The git remote of an app: git push to deploy (docs/git.md)");
  git->require_subcommand(1);
  auto* remote = git->add_subcommand("remote", "Print the git remote of APP on this node; --add adds it");
  auto app_name = std::make_shared<std::string>();
  auto add_as = std::make_shared<std::string>();
  remote->add_option("APP", *app_name, "The app")->required();
  remote->add_option("--add", *add_as,
                     "Add it to the git repository here under this name (e.g. shoal)");
  remote->callback([&cli, app_name, add_as] {
    if (Status s = node::apps::validate_app_name(*app_name); !s.ok()) return usage_error(cli, s.message());
    std::string base = cli.addr;
    if (base.find("://") == std::string::npos) base = "http://" + base;
    while (!base.empty() && base.back() == '/') base.pop_back();
    const std::string url = base + "/git/" + *app_name + ".git";
    if (add_as->empty()) {
      std::printf("%s\n", url.c_str());
      std::fprintf(stderr,
                   "git asks for a user and password when you push: any user, and an API token "
                   "with the deploy:%s scope as the password (shoal token create --scope "
                   "deploy:%s).\n",
                   app_name->c_str(), app_name->c_str());
      return;
    }
    node::ScriptLimits limits;
    auto added = node::run_script("exec git remote add \"$NAME\" \"$URL\"",
                                  {{"NAME", *add_as}, {"URL", url}}, "", limits);
    if (!added.ok()) {
      return fail(cli, Status::failed_precondition("git remote add " + *add_as + " failed: " +
                                                   added.err + added.describe(limits)));
    }
    std::printf("added remote %s: %s\ngit push %s main deploys %s\n", add_as->c_str(), url.c_str(),
                add_as->c_str(), app_name->c_str());
  });

  auto* hook = app.add_subcommand("git-hook", "");  // run by git on a node, not by users
  hook->group("");
  auto which = std::make_shared<std::string>();
  hook->add_option("HOOK", *which)->required();
  hook->callback([&cli, which] {
    if (*which != "pre-receive") return usage_error(cli, "no git hook " + *which);
    cli.exit_code = pre_receive(cli);
  });
}

}  // namespace shoal::cli
