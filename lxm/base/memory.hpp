// Giving memory back to the kernel when a long-lived process goes idle (lxmd, lxm-monitor).
//
// A daemon's resident set is mostly pages it touched once: code and constants of its binary
// and shared libraries run only at start-up or by the last request (every fault in a file
// mapping also maps up to 16 neighbouring pages: "fault-around"), and heap the allocator keeps
// after freeing. release_idle_memory() drops both:
//   - malloc_trim(0): free heap pages of every arena go back (the middle of the heap too);
//   - read-only file mappings without a private copy (code, constants; never writable or
//     copied-on-write ones such as relocated data) are unmapped with MADV_DONTNEED. The pages stay
//     in the page cache: what runs next faults them back in (microseconds each).
// It reads /proc/self/smaps and costs about a millisecond; call it when idle, not per request.
#pragma once

#include <cstddef>

namespace lxm::base {

struct ReleaseStats {
    size_t file_bytes = 0;  // size of the file mappings released (resident or not)
    size_t mappings = 0;
};

ReleaseStats release_idle_memory();

// VmRSS of this process in kB (0 when /proc cannot tell).
size_t resident_kb();

}  // namespace lxm::base
