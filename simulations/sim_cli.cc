#include "simulations/sim_cli.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "simulations/simulator.h"

namespace shoal::sim {

namespace {

struct RunArgs {
  std::string scenario;
  uint64_t seed = 1;
  int64_t nodes = 0;
  std::string out;
};

struct SweepArgs {
  std::string scenario;
  std::string seeds = "1..10";
  int jobs = 2;
  int64_t nodes = 0;
};

[[noreturn]] void finish(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::exit(code);
}

Status write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return Status::io_error(fmt::format("cannot write {}", path.string()));
  out << text;
  return out ? Status() : Status::io_error(fmt::format("writing {} failed", path.string()));
}

std::string program_name(const CLI::App* app) {
  while (app->get_parent() != nullptr) app = app->get_parent();
  std::string name = app->get_name();
  return name.empty() ? "shoal" : name;
}

void do_run(const RunArgs& a, const std::string& prog) {
  auto sc = load_scenario(a.scenario);
  if (!sc.ok()) {
    std::fprintf(stderr, "%s\n", sc.status().to_string().c_str());
    finish(2);
  }
  RunOptions o;
  o.seed = a.seed;
  if (a.nodes > 0) o.nodes = a.nodes;
  o.csv = !a.out.empty();
  o.svg = !a.out.empty();
  auto r = run_scenario(*sc, o);
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.status().to_string().c_str());
    finish(2);
  }
  std::fputs(r->summary.c_str(), stdout);
  std::printf("cost: %.2fs wall, %.1f simulated s per wall s, peak RSS %.1f MB\n", r->wall_seconds,
              r->sim_seconds / std::max(r->wall_seconds, 1e-9), double(r->peak_rss_kb) / 1024.0);
  if (!a.out.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(a.out, ec);
    const std::string base = fmt::format("{}/{}-seed{}", a.out, r->scenario, a.seed);
    std::string wrote;
    for (auto [ext, text] : {std::pair{".txt", &r->summary}, {".csv", &r->csv}, {".svg", &r->svg}}) {
      if (text->empty()) continue;  // raft runs draw no plot
      wrote += wrote.empty() ? ext + 1 : fmt::format(",{}", ext + 1);
      if (Status s = write_file(base + ext, *text); !s.ok()) {
        std::fprintf(stderr, "%s\n", s.to_string().c_str());
        finish(2);
      }
    }
    std::printf("wrote %s.{%s}\n", base.c_str(), wrote.c_str());
  }
  if (!r->passed) {
    std::printf("reproduce: %s sim run %s --seed %llu%s\n", prog.c_str(), a.scenario.c_str(),
                static_cast<unsigned long long>(a.seed),
                a.nodes > 0 ? fmt::format(" --nodes {}", a.nodes).c_str() : "");
  }
  finish(r->passed ? 0 : 1);
}

Result<std::pair<uint64_t, uint64_t>> parse_seed_range(const std::string& text) {
  const auto dots = text.find("..");
  try {
    if (dots == std::string::npos) {
      const uint64_t k = std::stoull(text);
      return std::pair<uint64_t, uint64_t>{1, k};
    }
    const uint64_t lo = std::stoull(text.substr(0, dots));
    const uint64_t hi = std::stoull(text.substr(dots + 2));
    if (lo > hi) return Status::invalid_argument(fmt::format("--seeds {}: empty range", text));
    return std::pair<uint64_t, uint64_t>{lo, hi};
  } catch (const std::exception&) {
    return Status::invalid_argument(fmt::format("--seeds {}: want A..B or K", text));
  }
}

void do_sweep(const SweepArgs& a, const std::string& prog) {
  auto sc = load_scenario(a.scenario);
  if (!sc.ok()) {
    std::fprintf(stderr, "%s\n", sc.status().to_string().c_str());
    finish(2);
  }
  auto range = parse_seed_range(a.seeds);
  if (!range.ok()) {
    std::fprintf(stderr, "%s\n", range.status().to_string().c_str());
    finish(2);
  }
  const auto [lo, hi] = *range;
  const int jobs = std::max(1, a.jobs);
  std::fflush(stdout);
  // Worker j runs seeds lo+j, lo+j+J, ...; one line per seed back through its pipe:
  // "<seed> <0|1|2> <first failing check or error>".
  std::vector<std::pair<pid_t, int>> workers;
  for (int j = 0; j < jobs; ++j) {
    int fds[2];
    if (pipe(fds) != 0) {
      std::perror("pipe");
      finish(2);
    }
    const pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      FILE* out = fdopen(fds[1], "w");
      for (uint64_t seed = lo + uint64_t(j); seed <= hi; seed += uint64_t(jobs)) {
        RunOptions o;
        o.seed = seed;
        if (a.nodes > 0) o.nodes = a.nodes;
        auto r = run_scenario(*sc, o);
        std::string why;
        int code = 0;
        if (!r.ok()) {
          code = 2;
          why = r.status().to_string();
        } else if (!r->passed) {
          code = 1;
          for (const auto& c : r->checks) {
            if (!c.passed) {
              why = c.name + ": " + c.detail;
              break;
            }
          }
        } else {
          why = fmt::format("{:.2f}s wall", r->wall_seconds);
        }
        for (char& ch : why) if (ch == '\n') ch = ' ';
        std::fprintf(out, "%llu %d %s\n", static_cast<unsigned long long>(seed), code, why.c_str());
        std::fflush(out);
      }
      std::fclose(out);
      _exit(0);
    }
    close(fds[1]);
    workers.emplace_back(pid, fds[0]);
  }
  std::vector<std::tuple<uint64_t, int, std::string>> results;
  for (auto [pid, fd] : workers) {
    FILE* in = fdopen(fd, "r");
    char buf[4096];
    while (std::fgets(buf, sizeof buf, in) != nullptr) {
      unsigned long long seed = 0;
      int code = 0, used = 0;
      if (std::sscanf(buf, "%llu %d %n", &seed, &code, &used) >= 2) {
        std::string why(buf + used);
        if (!why.empty() && why.back() == '\n') why.pop_back();
        results.emplace_back(seed, code, why);
      }
    }
    std::fclose(in);
    int status = 0;
    waitpid(pid, &status, 0);
  }
  std::sort(results.begin(), results.end());
  size_t failed = 0;
  for (const auto& [seed, code, why] : results) {
    std::printf("seed %llu: %s  %s\n", static_cast<unsigned long long>(seed),
                code == 0 ? "PASS" : code == 1 ? "FAIL" : "ERROR", why.c_str());
  }
  for (const auto& [seed, code, why] : results) {
    if (code == 0) continue;
    ++failed;
    std::printf("reproduce: %s sim run %s --seed %llu%s\n", prog.c_str(), a.scenario.c_str(),
                static_cast<unsigned long long>(seed),
                a.nodes > 0 ? fmt::format(" --nodes {}", a.nodes).c_str() : "");
  }
  const size_t expected = size_t(hi - lo + 1);
  std::printf("%zu of %zu seeds passed\n", results.size() - failed, expected);
  finish(failed == 0 && results.size() == expected ? 0 : 1);
}

}  // namespace

void add_sim_commands(CLI::App& app) {
  auto* sim = app.add_subcommand("sim", "Deterministic cluster simulator");
  sim->require_subcommand(1);

  auto run_args = std::make_shared<RunArgs>();
  auto* run = sim->add_subcommand("run", "Run one scenario with one seed");
  run->add_option("scenario", run_args->scenario, "Scenario TOML file")->required();
  run->add_option("--seed", run_args->seed, "Seed of every random choice in the run")->capture_default_str();
  run->add_option("--nodes", run_args->nodes, "Override the scenario's cluster size");
  run->add_option("--out", run_args->out, "Directory for the summary, CSV timeline and SVG plot");
  run->callback([run_args, run] { do_run(*run_args, program_name(run)); });

  auto sweep_args = std::make_shared<SweepArgs>();
  auto* sweep = sim->add_subcommand("sweep", "Run many seeds and report the failing ones");
  sweep->add_option("scenario", sweep_args->scenario, "Scenario TOML file")->required();
  sweep->add_option("--seeds", sweep_args->seeds, "Seeds: A..B, or K for 1..K")->capture_default_str();
  sweep->add_option("--jobs", sweep_args->jobs, "Worker processes")->capture_default_str();
  sweep->add_option("--nodes", sweep_args->nodes, "Override the scenario's cluster size");
  sweep->callback([sweep_args, sweep] { do_sweep(*sweep_args, program_name(sweep)); });
}

}  // namespace shoal::sim
