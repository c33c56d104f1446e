// Shared test helpers: where the build is, temp dirs that clean themselves,
// and skips that print their reason.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace lxm::test {

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
