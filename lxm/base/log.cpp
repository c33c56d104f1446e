#include "lxm/base/log.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace lxm::base {

void init_logging(const std::string& program, const std::string& path, bool debug) {
    std::shared_ptr<spdlog::logger> logger;
    try {
        if (path.empty())
            logger = spdlog::stderr_logger_st(program);
        else
            logger = spdlog::basic_logger_st(program, path);
    } catch (const spdlog::spdlog_ex&) {
        logger = spdlog::get(program);
    }
    if (!logger) return;
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n[%P] %l: %v");
    logger->set_level(debug ? spdlog::level::debug : spdlog::level::info);
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
}

}  // namespace lxm::base
