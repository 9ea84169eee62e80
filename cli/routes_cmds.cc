// `shoal routes`, `shoal domains [add|remove]`: the routing mesh (docs/router.md): the
// route table of the agent asked, and the custom domains an app answers to.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/routes_render.h"
#include "node/apps/names.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

std::string domains_path(const std::string& app) {
  return "/v1/apps/" + node::ApiClient::url_encode(app) + "/domains";
}

struct RoutesOptions {
  std::string format = "text";
};

struct DomainOptions {
  std::string app;
  std::string host;
  std::string cert_file;  // add only: PEM certificate chain and key for TLS
  std::string key_file;
  std::string format = "text";
};

// A PEM file's text; false (and `error` set) when it cannot be read.
bool read_pem(const std::string& path, const char* flag, std::string* text, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = std::string(flag) + ": cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream all;
  all << in.rdbuf();
  *text = all.str();
  return true;
}

void run_routes(Cli& cli, const RoutesOptions& o) {
  auto client = make_client(cli);
  if (!client) return;
  auto reply = client->call("GET", "/v1/routes");
  if (!reply.ok()) return fail(cli, reply.status());
  if (o.format == "json") return print_json(*reply);
  std::fputs(render_routes_table(*reply).c_str(), stdout);
}

void run_domains_list(Cli& cli, const DomainOptions& o) {
  auto client = make_client(cli);
  if (!client) return;
  auto reply = client->call("GET", domains_path(o.app));
  if (!reply.ok()) return fail(cli, reply.status());
  if (o.format == "json") return print_json(*reply);
  std::fputs(render_domains(*reply).c_str(), stdout);
}

void run_domains_change(Cli& cli, const DomainOptions& o, bool add) {
  const char* verb = add ? "domains add" : "domains remove";
  // Checked here too so that a typo is a usage error, before any agent is asked.
  auto host = node::apps::normalize_domain(o.host);
  if (!host.ok()) return usage_error(cli, std::string(verb) + ": " + host.status().message());
  json body = {{"host", *host}};
  if (add && (!o.cert_file.empty() || !o.key_file.empty())) {
    if (o.cert_file.empty() || o.key_file.empty()) {
      return usage_error(cli, "domains add: --cert and --key go together");
    }
    std::string cert, key, error;
    if (!read_pem(o.cert_file, "--cert", &cert, &error) ||
        !read_pem(o.key_file, "--key", &key, &error)) {
      return usage_error(cli, "domains add: " + error);
    }
    body["cert"] = cert;
    body["key"] = key;
  }
  auto client = make_client(cli);
  if (!client) return;
  auto reply = add ? client->call("POST", domains_path(o.app), {}, &body)
                   : client->call("DELETE", domains_path(o.app) + "/" +
                                                node::ApiClient::url_encode(*host));
  if (!reply.ok()) return fail(cli, reply.status());
  if (o.format == "json") return print_json(*reply);
  if (!add) {
    std::printf("Removed %s from %s\n", host->c_str(), o.app.c_str());
  } else if (body.contains("cert")) {
    std::printf("Added %s to %s with its certificate: the routers answer it, over HTTPS too "
                "on --router-tls, within seconds\n",
                host->c_str(), o.app.c_str());
  } else {
    std::printf("Added %s to %s: the routers answer it within seconds\n", host->c_str(),
                o.app.c_str());
  }
}

}  // namespace

void add_routes_commands(CLI::App& app, Cli& cli) {
  auto* routes = app.add_subcommand("routes", "Show the route table of the agent asked");
  auto ro = std::make_shared<RoutesOptions>();
  add_format_option(*routes, ro->format);
  routes->callback([&cli, ro] { run_routes(cli, *ro); });

  auto* domains = app.add_subcommand("domains", "Show an app's custom domains, or add or remove one");
  domains->require_subcommand(0, 1);
  auto lo = std::make_shared<DomainOptions>();
  domains->add_option("NAME", lo->app, "App name");
  add_format_option(*domains, lo->format);
  domains->callback([&cli, domains, lo] {
    if (!domains->get_subcommands().empty()) return;
    if (lo->app.empty()) return usage_error(cli, "domains: give the app's NAME");
    run_domains_list(cli, *lo);
  });
  for (bool add : {true, false}) {
    auto* cmd = domains->add_subcommand(
        add ? "add" : "remove",
        add ? "Route a host name to an app (a host belongs to one app)" : "Stop routing a host name to an app");
    auto o = std::make_shared<DomainOptions>();
    cmd->add_option("NAME", o->app, "App name")->required();
    cmd->add_option("HOST", o->host, "Host name, e.g. www.example.com")->required();
    if (add) {
      cmd->add_option("--cert", o->cert_file,
                      "PEM certificate chain for HTTPS on this host (with --key)");
      cmd->add_option("--key", o->key_file, "PEM private key of --cert (unencrypted)");
    }
    add_format_option(*cmd, o->format);
    cmd->callback([&cli, o, add] { run_domains_change(cli, *o, add); });
  }
}

}  // namespace shoal::cli
