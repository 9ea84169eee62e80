// The dashboard in a real browser (issue 11, point 5): headless Chromium, driven over its
// DevTools protocol, loads /ui from one node of a 3-node cluster running three apps. It must
// find every node, app and instance; show an instance's restart after its process is
// killed with SIGKILL, the app's events and logs, the membership; show a node that is
// killed as failed and its instances placed elsewhere, and report no console errors on
// the way.
//
// SHOAL_UI_SCREENSHOTS=DIR keeps the screenshots (docs/ui-*.png come from this test).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "tests/integration/apps_cluster.h"
#include "tests/integration/chromium_browser.h"

namespace shoal::test {
namespace {

// A JS string literal for `s` (names here are plain, but quoting stays honest).
std::string js_str(const std::string& s) { return json(s).dump(); }

void keep_screenshot(ChromiumBrowser& b, const std::string& name) {
  auto png = b.screenshot(/*full_page=*/true);
  REQUIRE(png.ok());
  CHECK(png->rfind("\x89PNG", 0) == 0);
  if (const char* dir = std::getenv("SHOAL_UI_SCREENSHOTS")) {
    fs::create_directories(dir);
    std::ofstream(fs::path(dir) / (name + ".png"), std::ios::binary | std::ios::trunc) << *png;
  }
}

// Waits until the page shows `expression` true, with what the page held on failure.
void see(ChromiumBrowser& b, const std::string& what, const std::string& expression,
         std::chrono::milliseconds limit = 30s) {
  auto r = b.wait_for(expression, limit);
  if (!r.ok()) {
    auto text = b.evaluate("document.getElementById('view').innerText.slice(0, 3000)");
    auto banner = b.evaluate("document.getElementById('banner').innerText");
    INFO("page: " << (text.ok() ? text->dump() : text.status().to_string()));
    INFO("banner: " << (banner.ok() ? banner->dump() : ""));
    INFO("console: " << json(b.console_errors()).dump());
    FAIL("the dashboard did not show " << what << ": " << r.status().to_string());
  }
}

}  // namespace

TEST_CASE("ui: the dashboard shows the cluster, an instance's restart and a node's failure, "
          "with no console errors",
          "[integration][ui]") {
  auto browser = ChromiumBrowser::launch(1400, 1000);
  if (!browser.ok()) FAIL("headless Chromium (Debian chromium, scripts/install-deps.sh): "
                          << browser.status().to_string());
  ChromiumBrowser& b = **browser;

  AppsCluster c(3);
  AgentProcess& n0 = *c.agents[0];
  for (const auto& [example, app] : std::vector<std::pair<std::string, std::string>>{
           {"examples/python-web", "hello"}, {"examples/python-worker", "ticker"},
           {"examples/cpu-burner", "burner"}}) {
    auto dep = c.cli(n0, {"deploy", (source_dir() / example).string(), "--app", app});
    INFO(app << ": " << dep.out << dep.err);
    REQUIRE(dep.exit_code == 0);
  }
  REQUIRE(wait_for(60s, [&] { return running(c.ps(n0, "hello")).size() == 2; }));
  // Something to see on the charts: the burner burns up to its limit.
  for (const auto& i : running(c.ps(n0, "burner"))) (void)get_port(i.value("port", 0), "/burn");

  const std::string base = "http://" + n0.http_addr() + "/ui/";
  REQUIRE(b.navigate(base, 20s).ok());

  // 0. The API wants a token: the page asks for one, refuses a wrong one, takes the right.
  see(b, "the sign-in form", "document.getElementById('signin') !== null");
  REQUIRE(b.evaluate("document.getElementById('token').value = 'shoal_wrong';"
                     "document.getElementById('signin').requestSubmit(); true").ok());
  see(b, "a refused token",
      "document.getElementById('signin-error')?.textContent.includes('401')");
  REQUIRE(b.evaluate("document.getElementById('token').value = " + js_str(test_admin_token()) +
                     "; document.getElementById('signin').requestSubmit(); true").ok());
  see(b, "signed in", "document.getElementById('signin') === null && "
                      "!document.getElementById('signout').hidden");
  // Until then the browser logs each refused request; nothing else may go wrong.
  const auto before_signin = b.console_errors();
  for (const auto& e : before_signin) {
    INFO(e);
    CHECK(e.find("401") != std::string::npos);
  }

  // 1. Every node alive, every app, every instance where it runs.
  std::string all_nodes = "true";
  for (auto& a : c.agents) {
    all_nodes += " && document.querySelector('[data-node=" + js_str(a->name()) +
                 "][data-status=alive]') !== null";
  }
  see(b, "every node alive", all_nodes);
  see(b, "every app",
      "['hello','ticker','burner'].every(a => document.querySelector(`tr[data-app=\"${a}\"]`))");
  const json hello = c.ps(n0, "hello");
  for (const auto& i : hello["instances"]) {
    const std::string sel = "[data-instance=" + js_str("hello/" + i["id"].get<std::string>()) +
                            "][data-node=" + js_str(i["node"].get<std::string>()) + "]";
    see(b, "instance " + sel, "document.querySelector(" + js_str(sel) + ") !== null");
  }
  // The charts fill as samples arrive.
  see(b, "charts with a line per node",
      "document.querySelectorAll('.chart[data-series=\"3\"] path.line').length >= 6", 20s);
  std::this_thread::sleep_for(8s);  // a few more points, for the screenshot
  keep_screenshot(b, "ui-cluster");

  // 2. kill -9 of an instance: the supervisor restarts it, the page shows it.
  const json victim = running(c.ps(n0, "hello")).at(0);
  const std::string id = victim["id"];
  const int old_pid = victim["pid"];
  const std::string chip = "document.querySelector(" + js_str("[data-instance=\"hello/" + id + "\"]") + ")";
  see(b, "the victim's pid", chip + "?.dataset.pid === " + js_str(std::to_string(old_pid)));
  REQUIRE(::kill(old_pid, SIGKILL) == 0);
  see(b, "the instance restarted",
      chip + " && " + chip + ".dataset.pid !== " + js_str(std::to_string(old_pid)) + " && " +
          chip + ".dataset.restarts === '1' && " + chip + ".dataset.state === 'running'");

  // 3. The app's page: instances, the restart among its events, its logs.
  REQUIRE(b.navigate(base + "#/apps/hello", 20s).ok());
  see(b, "hello's instances",
      "document.querySelectorAll('tr[data-instance^=\"hello/\"]').length === 2");
  see(b, "the restart event",
      "document.querySelector('li[data-kind=restarted][data-instance=" + js_str(id) + "]') !== null");
  see(b, "hello's log lines", "document.querySelector('.logs').innerText.includes('listening on port')");
  // Lines of several points: the history from before the page opened is drawn too.
  see(b, "CPU and memory charts with a line per instance",
      "(() => { const p = [...document.querySelectorAll('.chart[data-series=\"2\"] path.line')];"
      " return p.length === 4 && p.every(x => x.getAttribute('d').split('L').length >= 4); })()");
  keep_screenshot(b, "ui-app");

  // 4. The apps page: each app with the nodes it runs on; the membership as gossip sees it.
  REQUIRE(b.navigate(base + "#/apps", 20s).ok());
  see(b, "every app with where it runs",
      "['hello','ticker','burner'].every(a => { const r = document.querySelector(`tr[data-app=\"${a}\"]`);"
      " return r && /n[0-2]/.test(r.innerText); })");

  REQUIRE(b.navigate(base + "#/members", 20s).ok());
  see(b, "three alive members", "document.querySelectorAll('tr[data-member][data-status=alive]').length === 3");
  keep_screenshot(b, "ui-members");

  // 5. kill -9 of a whole node, one that runs an instance of hello (not the node serving
  // the page): it shows failed, and hello runs its two instances on the others.
  std::string dead;
  for (const auto& i : running(c.ps(n0, "hello"))) {
    if (i["node"] != n0.name()) dead = i["node"];
  }
  REQUIRE(!dead.empty());
  kill_node(*c.by_name(dead));
  REQUIRE(b.navigate(base, 20s).ok());
  const std::string dead_card = "document.querySelector('[data-node=" + js_str(dead) + "]')";
  see(b, dead + " failed", dead_card + "?.dataset.status === 'failed'", 60s);
  see(b, "hello's instances running elsewhere, none left on " + dead,
      "(() => { const c = [...document.querySelectorAll('.chip[data-instance^=\"hello/\"]')];"
      " return c.length === 2 && c.every(x => x.dataset.node !== " + js_str(dead) +
          " && x.dataset.state === 'running'); })()",
      90s);
  see(b, "every instance running, none on " + dead,
      "[...document.querySelectorAll('.chip[data-instance]')].every(x => x.dataset.node !== " +
          js_str(dead) + " && x.dataset.state === 'running')",
      90s);
  REQUIRE(b.navigate(base + "#/events", 20s).ok());
  see(b, dead + "'s failure among the events",
      "document.querySelector('li[data-kind=node_failed]')?.innerText.includes(" + js_str(dead) + ")", 30s);
  REQUIRE(b.navigate(base, 20s).ok());
  see(b, dead + " failed", dead_card + "?.dataset.status === 'failed'");
  see(b, "the charts, from the nodes' own history",
      "document.querySelectorAll('.chart path.line').length >= 4");
  keep_screenshot(b, "ui-failover");

  auto errors = b.console_errors();
  errors.erase(errors.begin(), errors.begin() + static_cast<long>(before_signin.size()));
  INFO(json(errors).dump(2));
  CHECK(errors.empty());
}

}  // namespace shoal::test
