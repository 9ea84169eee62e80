// simulations/svg_plot.h
//
// A small SVG line-chart renderer (no dependencies): panels with axes, ticks, a legend,
// several series and labelled vertical markers, stacked into one image. Numbers are printed
// with fixed precision, so the same data gives the same bytes.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "simulations/simulator.h"

namespace shoal::sim {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;
  bool dots = false;  // draw points instead of a line
};

struct Panel {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<Series> series;
  std::vector<std::pair<double, std::string>> markers;  // vertical lines at x
  bool y_from_zero = true;
  bool x_log = false;
};

// Stacks the panels vertically, each `width` x `height` pixels.
std::string render_svg(const std::string& title, const std::vector<Panel>& panels,
                       int width = 900, int height = 260);

// The standard picture of one run: convergence, failure detection, messages per node/s.
std::string render_run_svg(const RunReport& report);

}  // namespace shoal::sim
