// base::release_idle_memory (lxmd and lxm-monitor give back what they touched once) and the
// sync envelope written around already-serialized metadata.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "lxm/api/response.hpp"
#include "lxm/apitypes/envelope.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/memory.hpp"

namespace {

using namespace lxm;
using json = nlohmann::json;

// Rss (kB) of the mapping that holds addr, from /proc/self/smaps; -1 when not found.
long mapping_rss_kb(const void* addr) {
    auto smaps = base::read_file("/proc/self/smaps", 16 << 20);
    if (!smaps) return -1;
    auto a = reinterpret_cast<unsigned long>(addr);
    bool in = false;
    size_t pos = 0;
    while (pos < smaps->size()) {
        size_t nl = smaps->find('\n', pos);
        if (nl == std::string::npos) nl = smaps->size();
        std::string line = smaps->substr(pos, nl - pos);
        pos = nl + 1;
        unsigned long s = 0, e = 0;
        if (!line.empty() && !std::isupper(static_cast<unsigned char>(line[0])) &&
            std::sscanf(line.c_str(), "%lx-%lx ", &s, &e) == 2) {
            in = a >= s && a < e;
        } else if (in && line.starts_with("Rss:")) {
            return std::strtol(line.c_str() + 4, nullptr, 10);
        }
    }
    return -1;
}

TEST(MemoryRelease, CleanFileMappingsLeaveTheResidentSetAndReadBackTheSame) {
    // A read-only private mapping of a file (like code), fully touched.
    std::string path = "/proc/self/exe";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    off_t size = ::lseek(fd, 0, SEEK_END);
    size_t len = static_cast<size_t>(std::min<off_t>(size, 4 << 20)) & ~size_t{4095};
    ASSERT_GT(len, 0u);
    auto* ro = static_cast<const unsigned char*>(::mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd, 0));
    ASSERT_NE(ro, MAP_FAILED);
    // A writable private mapping of the same file with one page changed: never released.
    auto* rw = static_cast<unsigned char*>(::mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
    ASSERT_NE(rw, MAP_FAILED);
    ::close(fd);
    rw[0] = static_cast<unsigned char>(rw[0] ^ 0xff);
    unsigned char changed = rw[0];

    unsigned long sum = 0;
    for (size_t i = 0; i < len; i += 4096) sum += ro[i];
    EXPECT_GE(mapping_rss_kb(ro), static_cast<long>(len / 1024) - 4);

    auto st = base::release_idle_memory();
    EXPECT_GE(st.mappings, 1u);
    EXPECT_GE(st.file_bytes, len);
    EXPECT_EQ(mapping_rss_kb(ro), 0);
    EXPECT_EQ(rw[0], changed);  // the private copy is kept

    unsigned long again = 0;
    for (size_t i = 0; i < len; i += 4096) again += ro[i];
    EXPECT_EQ(again, sum);
    EXPECT_GT(base::resident_kb(), 0u);
    ::munmap(const_cast<unsigned char*>(ro), len);
    ::munmap(rw, 8192);
}

TEST(SyncResponse, DumpedMetadataGivesTheSameBodyAsTheEnvelope) {
    for (const auto& m : {json::array(), json{{"b", 1}, {"a", "x\"y"}}, json(nullptr),
                          json::array({json{{"name", "c1"}, {"config", json::object()}}})}) {
        std::string want = json(apitypes::Envelope::sync(m)).dump();
        EXPECT_EQ(api::Response::sync(m).body, want);
        EXPECT_EQ(api::Response::sync_dumped(m.dump()).body, want);
    }
}

}  // namespace
