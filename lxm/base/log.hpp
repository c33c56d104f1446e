// Logging: a thin layer over spdlog. Library code logs at debug at most;
// the layer that decides what to do with a failure logs it once.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace lxm::base {

// Configure the default logger: to stderr, or to a file when path is non-empty.
void init_logging(const std::string& program, const std::string& path = {}, bool debug = false);

}  // namespace lxm::base

#define LXM_DEBUG(...) SPDLOG_DEBUG(__VA_ARGS__)
#define LXM_INFO(...) spdlog::info(__VA_ARGS__)
#define LXM_WARN(...) spdlog::warn(__VA_ARGS__)
#define LXM_ERROR(...) spdlog::error(__VA_ARGS__)
