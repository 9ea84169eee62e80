#include "simulations/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace shoal::sim {

namespace {

constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                   "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

// A "nice" tick step for a span, 1/2/5 x 10^k.
double nice_step(double span, int target) {
  if (span <= 0) return 1;
  const double raw = span / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

std::string tick_label(double v) {
  if (std::fabs(v) >= 1e6) return fmt::format("{:.3g}M", v / 1e6);
  if (std::fabs(v) >= 1e4) return fmt::format("{:.3g}k", v / 1e3);
  return fmt::format("{:.4g}", v);
}

void render_panel(std::string& out, const Panel& p, int top, int width, int height) {
  const int left = 70, right = 170, pad_top = 28, pad_bottom = 40;
  const int pw = width - left - right, ph = height - pad_top - pad_bottom;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& s : p.series) {
    for (auto [x, y] : s.points) {
      x0 = std::min(x0, x); x1 = std::max(x1, x);
      y0 = std::min(y0, y); y1 = std::max(y1, y);
    }
  }
  for (const auto& m : p.markers) { x0 = std::min(x0, m.first); x1 = std::max(x1, m.first); }
  if (x0 > x1) { x0 = 0; x1 = 1; }
  if (y0 > y1) { y0 = 0; y1 = 1; }
  if (p.y_from_zero) y0 = std::min(0.0, y0);
  if (y1 <= y0) y1 = y0 + 1;
  if (x1 <= x0) x1 = x0 + 1;
  const double ystep = nice_step(y1 - y0, 5);
  y1 = std::ceil(y1 / ystep) * ystep;
  auto fx = [&](double x) {
    if (p.x_log) {
      const double l0 = std::log10(std::max(x0, 1e-9)), l1 = std::log10(std::max(x1, 1e-9));
      return left + (std::log10(std::max(x, 1e-9)) - l0) / std::max(l1 - l0, 1e-9) * pw;
    }
    return left + (x - x0) / (x1 - x0) * pw;
  };
  auto fy = [&](double y) { return top + pad_top + ph - (y - y0) / (y1 - y0) * ph; };

  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
                     left, top + 18, esc(p.title));
  out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>\n",
                     left, top + pad_top, pw, ph);
  for (double y = y0; y <= y1 + ystep / 2; y += ystep) {
    out += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#eee\"/>"
                       "<text x=\"{}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"end\">{}</text>\n",
                       left, left + pw, fy(y), fy(y), left - 5, fy(y) + 4, tick_label(y));
  }
  if (p.x_log) {
    for (double x = std::pow(10.0, std::floor(std::log10(std::max(x0, 1e-9)))); x <= x1 * 1.001; x *= 10) {
      if (x < x0 * 0.999) continue;
      out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>\n",
                         fx(x), top + pad_top + ph + 15, tick_label(x));
    }
  } else {
    const double xstep = nice_step(x1 - x0, 8);
    for (double x = std::ceil(x0 / xstep) * xstep; x <= x1 + xstep / 1000; x += xstep) {
      out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>\n",
                         fx(x), top + pad_top + ph + 15, tick_label(x));
    }
  }
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{}</text>\n",
                     left + pw / 2, top + height - 8, esc(p.x_label));
  out += fmt::format("<text x=\"14\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" "
                     "transform=\"rotate(-90 14 {})\">{}</text>\n",
                     top + pad_top + ph / 2, top + pad_top + ph / 2, esc(p.y_label));
  for (size_t i = 0; i < p.markers.size(); ++i) {
    const double x = fx(p.markers[i].first);
    out += fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{}\" y2=\"{}\" stroke=\"#888\" "
                       "stroke-dasharray=\"4,3\"/><text x=\"{:.1f}\" y=\"{}\" font-size=\"10\" "
                       "fill=\"#555\">{}</text>\n",
                       x, x, top + pad_top, top + pad_top + ph, x + 2,
                       top + pad_top + 10 + 11 * int(i % 4), esc(p.markers[i].second));
  }
  for (size_t si = 0; si < p.series.size(); ++si) {
    const auto& s = p.series[si];
    const char* color = kColors[si % std::size(kColors)];
    if (s.dots) {
      for (auto [x, y] : s.points) {
        out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", fx(x), fy(y), color);
      }
    } else if (!s.points.empty()) {
      out += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"", color);
      for (auto [x, y] : s.points) out += fmt::format("{:.1f},{:.1f} ", fx(x), fy(y));
      out += "\"/>\n";
    }
    const int ly = top + pad_top + 12 + 16 * int(si);
    out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"3\" fill=\"{}\"/>"
                       "<text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>\n",
                       left + pw + 10, ly - 4, color, left + pw + 26, ly, esc(s.name));
  }
}

}  // namespace

std::string render_svg(const std::string& title, const std::vector<Panel>& panels, int width,
                       int height) {
  const int total = 30 + height * int(panels.size());
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"20\" font-size=\"16\" text-anchor=\"middle\">{}</text>\n",
      width, total, width / 2, esc(title));
  for (size_t i = 0; i < panels.size(); ++i) render_panel(out, panels[i], 30 + height * int(i), width, height);
  out += "</svg>\n";
  return out;
}

std::string render_run_svg(const RunReport& r) {
  Panel conv{"Membership convergence", "time (s)", "fraction of live nodes", {}, {}};
  Series full{"full correct view", {}}, mean{"mean view accuracy", {}};
  for (const auto& s : r.samples) {
    full.points.emplace_back(s.t, s.live ? double(s.converged) / double(s.live) : 1.0);
    mean.points.emplace_back(s.t, s.mean_correct);
  }
  conv.series = {full, mean};
  for (const auto& f : r.faults) conv.markers.push_back(f);
  if (conv.markers.size() > 24) conv.markers.resize(24);

  Panel det{"Failure detection (each kill)", "seconds after the kill", "fraction of live nodes aware", {}, {}};
  size_t shown = 0;
  for (const auto& k : r.kills) {
    if (k.interrupted || k.curve.empty()) continue;
    if (++shown > 8) break;
    det.series.push_back(Series{fmt::format("n{} @{:.0f}s", k.node, to_seconds(k.at - kTimeZero)), k.curve});
  }

  Panel msgs{"Traffic", "time (s)", "per node per second", {}, {}};
  Series m{"messages", {}}, susp{"suspicions (cluster)", {}};
  for (const auto& s : r.samples) {
    m.points.emplace_back(s.t, s.msgs_per_node_s);
    susp.points.emplace_back(s.t, double(s.suspicions));
  }
  msgs.series = {m, susp};
  std::vector<Panel> panels{conv};
  if (!det.series.empty()) panels.push_back(det);
  panels.push_back(msgs);
  return render_svg(fmt::format("{} — {} nodes, seed {}", r.scenario, r.nodes, r.seed), panels);
}

}  // namespace shoal::sim
