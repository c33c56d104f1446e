#include "lxm/base/data_dir.hpp"

#include <cstdlib>

#include "lxm/base/file.hpp"

namespace lxm::base {

std::string find_data_file(std::string_view rel) {
    std::string r(rel);
    std::string installed = std::string(LXM_DATA_DIR) + "/" + r;
    if (const char* env = std::getenv("LXM_DATA_DIR"); env && *env) {
        std::string p = std::string(env) + "/" + r;
        if (path_exists(p)) return p;
    }
    if (path_exists(installed)) return installed;
    std::string source = std::string(LXM_SOURCE_DIR) + "/" + r;
    if (path_exists(source)) return source;
    return installed;
}

}  // namespace lxm::base
