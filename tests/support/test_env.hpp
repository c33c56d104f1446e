// Shared test helpers: where the build is, temp dirs that clean themselves,
// and skips that print their reason.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace lxm::test {

// Run a shell command line with stderr folded into stdout.
struct CmdResult {
    int code = -1;  // exit status, -1 when it did not exit normally
    std::string out;
};
CmdResult sh(const std::string& cmd);

// Names in a directory (no . and ..), sorted; empty when it cannot be read.
std::vector<std::string> entries(const std::string& dir);

// Directory with bin/lxm, bin/lxmd, bin/lxm-monitor, bin/lxm-probe.
std::string build_dir();
std::string bin(const std::string& name);
std::string source_dir();

// A temp directory under /tmp (prefix lxmt-), removed with its contents at scope exit.
class TempDir {
public:
    explicit TempDir(const std::string& tag = "t");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

private:
    std::string path_;
};

}  // namespace lxm::test

#define LXM_REQUIRE_ROOT()                                                 \
    do {                                                                   \
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (priv/e2e test)"; \
    } while (0)
