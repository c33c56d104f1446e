#include "lxm/base/memory.hpp"

#include <malloc.h>
#include <sys/mman.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "lxm/base/file.hpp"

namespace lxm::base {

ReleaseStats release_idle_memory() {
    ReleaseStats stats;
    ::malloc_trim(0);
    auto smaps = read_file("/proc/self/smaps", 16 << 20);
    if (!smaps) return stats;
    // The ranges are collected first and released at the end: releasing while parsing would
    // fault the parsing code itself (and its neighbours) straight back in.
    struct Range {
        unsigned long start, end;
    };
    std::vector<Range> ranges;
    unsigned long start = 0, end = 0, inode = 0;
    bool candidate = false, copied = false;
    auto flush = [&] {
        if (candidate && !copied) ranges.push_back({start, end});
        candidate = copied = false;
    };
    size_t pos = 0;
    const std::string& s = *smaps;
    while (pos < s.size()) {
        size_t nl = s.find('\n', pos);
        if (nl == std::string::npos) nl = s.size();
        const char* line = s.c_str() + pos;
        size_t len = nl - pos;
        pos = nl + 1;
        // "start-end perms offset dev inode path" opens the next mapping; field lines start
        // with a capitalized name ("Rss:", "Anonymous:", ...).
        if (len > 0 && std::isxdigit(static_cast<unsigned char>(line[0])) && !std::isupper(static_cast<unsigned char>(line[0]))) {
            flush();
            char perms[5] = {};
            if (std::sscanf(line, "%lx-%lx %4s %*s %*s %lu", &start, &end, perms, &inode) == 4)
                candidate = inode != 0 && perms[0] == 'r' && perms[1] == '-' && perms[3] == 'p';
        } else if (len > 10 && std::strncmp(line, "Anonymous:", 10) == 0) {
            unsigned long kb = 0;
            copied = std::sscanf(line, "Anonymous: %lu", &kb) != 1 || kb != 0;
        }
    }
    flush();
    for (const auto& r : ranges) {
        if (::madvise(reinterpret_cast<void*>(r.start), r.end - r.start, MADV_DONTNEED) != 0) continue;
        stats.file_bytes += r.end - r.start;
        ++stats.mappings;
    }
    return stats;
}

size_t resident_kb() {
    auto status = read_file("/proc/self/status", 1 << 16);
    if (!status) return 0;
    auto at = status->find("VmRSS:");
    if (at == std::string::npos) return 0;
    return static_cast<size_t>(std::strtoul(status->c_str() + at + 6, nullptr, 10));
}

}  // namespace lxm::base
