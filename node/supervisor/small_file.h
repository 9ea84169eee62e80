// node/supervisor/small_file.h — reading the small files the kernel serves (cgroup and
// /proc files, a page or two) with one open and a read or two. The usage sampler reads
// several per instance every second; an ifstream per file cost more than the reading.
#pragma once

#include <filesystem>
#include <string>

namespace shoal::node::supervisor {

// The whole file into `out`; false if it can't be opened or read (`out` is then unspecified).
bool read_small_file(const std::filesystem::path& path, std::string& out);

}  // namespace shoal::node::supervisor
