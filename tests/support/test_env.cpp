#include "tests/support/test_env.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
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

CmdResult sh(const std::string& cmd) {
    CmdResult r;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int st = ::pclose(p);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace lxm::test
