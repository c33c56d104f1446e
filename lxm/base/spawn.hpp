// Spawn: run a program (no shell) with explicit stdin data, capture its stdout
// and stderr (bounded), wait for it with an optional timeout.
//
// The child starts with default signal dispositions, an empty signal mask and
// only fds 0, 1, 2 open. Safe to call from a threaded program (posix_spawn;
// nothing runs between fork and exec but the C library's own code).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "lxm/base/error.hpp"

namespace lxm::base {

struct SpawnOptions {
    // argv[0] is the program: a path, or a bare name looked up in PATH.
    std::vector<std::string> argv;
    // Environment as KEY=VALUE; when inherit_env is set these are added to
    // (and override) the caller's environment, otherwise they are all the child gets.
    std::vector<std::string> env;
    bool inherit_env = true;
    // Working directory of the child; empty keeps the caller's.
    std::string cwd;
    // Written to the child's stdin, which is then closed (EOF).
    std::string stdin_data;
    // Each of stdout/stderr keeps at most this many bytes; the rest is read and dropped.
    size_t output_limit = 1024 * 1024;
    // Zero: wait as long as it takes. Otherwise SIGKILL the child when it runs longer.
    std::chrono::milliseconds timeout{0};
    // SIGKILL the child when the calling thread dies (with its process: a killed lxmd
    // leaves no copier writing into a pool's tmp/): the program runs under
    // `setpriv --pdeathsig KILL` (util-linux). Only the program itself gets the signal,
    // not processes it starts.
    bool die_with_parent = false;
};

struct SpawnResult {
    int exit_code = -1;     // when the child exited normally, else -1
    int term_signal = 0;    // when killed by a signal (including our timeout SIGKILL)
    bool timed_out = false;
    bool out_truncated = false;
    bool err_truncated = false;
    std::string out;
    std::string err;

    bool success() const { return exit_code == 0; }
    // "exit status 3" / "killed by signal 9" / "timed out" — for error messages.
    std::string status_text() const;
};

// Run the program and wait for it. A program that runs and fails is not an
// error here: the Result carries its status; the Error cases are "could not
// start" (e.g. ENOENT for a missing program) and I/O failures while talking to it.
Result<SpawnResult> spawn_capture(const SpawnOptions& opts);

// Convenience: run, and turn a non-zero exit into an Error whose context has
// the program name, its status and the (trimmed) stderr text.
Result<SpawnResult> spawn_checked(const SpawnOptions& opts);

}  // namespace lxm::base
