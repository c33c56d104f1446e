#include "tests/support/test_env.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <stdexcept>

#include "lxm/base/file.hpp"

namespace lxm::test {

std::string build_dir() {
    if (const char* d = std::getenv("LXM_BUILD_DIR")) return d;
    return std::string(LXM_SOURCE_DIR) + "/build";
}

std::string bin(const std::string& name) { return build_dir() + "/bin/" + name; }

std::string source_dir() { return LXM_SOURCE_DIR; }

TempDir::TempDir(const std::string& tag) {
    std::string tmpl = "/tmp/lxmt-" + tag + "-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
    // Searchable, not listable: containers started below it must reach their root.
    ::chmod(path_.c_str(), 0711);
}

TempDir::~TempDir() { (void)base::remove_tree(path_); }

}  // namespace lxm::test
