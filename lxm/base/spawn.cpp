#include "lxm/base/spawn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "lxm/base/unique_fd.hpp"

extern char** environ;

namespace lxm::base {

namespace {

struct Pipe {
    UniqueFd read;
    UniqueFd write;
};

Result<Pipe> make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) < 0) return errno_error("pipe2");
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Result<void> set_nonblock(int fd) {
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return errno_error("fcntl O_NONBLOCK");
    return {};
}

std::vector<std::string> build_env(const SpawnOptions& opts) {
    std::vector<std::string> env;
    auto key_of = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
    if (opts.inherit_env) {
        for (char** e = environ; e && *e; ++e) {
            std::string kv(*e);
            bool overridden = false;
            for (const auto& o : opts.env)
                if (key_of(o) == key_of(kv)) overridden = true;
            if (!overridden) env.push_back(std::move(kv));
        }
    }
    env.insert(env.end(), opts.env.begin(), opts.env.end());
    return env;
}

std::vector<char*> c_array(std::vector<std::string>& v) {
    std::vector<char*> out;
    out.reserve(v.size() + 1);
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// Kills (SIGKILL) and reaps the child unless released: no path leaves a zombie or a runaway.
class ChildGuard {
public:
    explicit ChildGuard(pid_t pid) : pid_(pid) {}
    ChildGuard(const ChildGuard&) = delete;
    ChildGuard& operator=(const ChildGuard&) = delete;
    ~ChildGuard() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    void release() { pid_ = -1; }

private:
    pid_t pid_;
};

// Write to a pipe without risking SIGPIPE for the whole process: block it in this
// thread for the write and swallow one that our write raised.
ssize_t write_nosigpipe(int fd, const char* data, size_t len) {
    sigset_t pipe_set, old_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    ssize_t n = ::write(fd, data, len);
    int saved = errno;
    if (n < 0 && saved == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
    errno = saved;
    return n;
}

struct Sink {
    UniqueFd fd;
    std::string* buf;
    bool* truncated;
};

// Read what is available; closes the fd at EOF.
Result<void> drain(Sink& s, size_t limit) {
    char chunk[16384];
    for (;;) {
        ssize_t n = ::read(s.fd.get(), chunk, sizeof chunk);
        if (n > 0) {
            size_t room = s.buf->size() < limit ? limit - s.buf->size() : 0;
            size_t take = std::min(room, static_cast<size_t>(n));
            s.buf->append(chunk, take);
            if (take < static_cast<size_t>(n)) *s.truncated = true;
            continue;
        }
        if (n == 0) {
            s.fd.reset();
            return {};
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return {};
        return errno_error("read child output");
    }
}

}  // namespace

std::string SpawnResult::status_text() const {
    if (timed_out) return "timed out";
    if (term_signal) return "killed by signal " + std::to_string(term_signal);
    return "exit status " + std::to_string(exit_code);
}

Result<SpawnResult> spawn_capture(const SpawnOptions& opts) {
    if (opts.argv.empty() || opts.argv[0].empty()) return make_error(std::errc::invalid_argument, "spawn: empty argv");
    std::vector<std::string> argv_store;
    if (opts.die_with_parent) argv_store = {"setpriv", "--pdeathsig", "KILL", "--"};
    argv_store.insert(argv_store.end(), opts.argv.begin(), opts.argv.end());
    const std::string& prog = argv_store[0];

    LXM_TRY(Pipe in, make_pipe());
    LXM_TRY(Pipe out, make_pipe());
    LXM_TRY(Pipe err, make_pipe());

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    struct SpawnCleanup {
        posix_spawn_file_actions_t* fa;
        posix_spawnattr_t* attr;
        ~SpawnCleanup() {
            posix_spawn_file_actions_destroy(fa);
            posix_spawnattr_destroy(attr);
        }
    } cleanup{&fa, &attr};

    // dup2 onto 0/1/2 clears O_CLOEXEC on the targets; everything else is closed.
    posix_spawn_file_actions_adddup2(&fa, in.read.get(), 0);
    posix_spawn_file_actions_adddup2(&fa, out.write.get(), 1);
    posix_spawn_file_actions_adddup2(&fa, err.write.get(), 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (!opts.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, opts.cwd.c_str());

    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<std::string> env_store = build_env(opts);
    auto argv = c_array(argv_store);
    auto envp = c_array(env_store);

    pid_t pid = -1;
    int rc = prog.find('/') == std::string::npos
                 ? ::posix_spawnp(&pid, prog.c_str(), &fa, &attr, argv.data(), envp.data())
                 : ::posix_spawn(&pid, prog.c_str(), &fa, &attr, argv.data(), envp.data());
    if (rc != 0) return errno_error("spawn " + prog, rc);
    ChildGuard guard(pid);

    in.read.reset();
    out.write.reset();
    err.write.reset();

    // A pidfd lets the final wait honour the timeout even after the pipes closed.
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) return errno_error("pidfd_open for " + prog);

    SpawnResult res;
    Sink sinks[2] = {{std::move(out.read), &res.out, &res.out_truncated},
                     {std::move(err.read), &res.err, &res.err_truncated}};
    UniqueFd stdin_w = std::move(in.write);
    size_t written = 0;
    if (opts.stdin_data.empty()) stdin_w.reset();
    for (auto* fd : {&stdin_w, &sinks[0].fd, &sinks[1].fd})
        if (*fd) LXM_TRY_VOID(set_nonblock(fd->get()));

    using Clock = std::chrono::steady_clock;
    const bool has_deadline = opts.timeout.count() > 0;
    const auto deadline = Clock::now() + opts.timeout;
    auto poll_timeout = [&]() -> int {
        if (!has_deadline) return -1;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        return left > 0 ? static_cast<int>(std::min<long long>(left, 1 << 30)) : 0;
    };

    bool exited = false;
    while (!res.timed_out && !exited) {
        struct pollfd pfds[4];
        int n = 0;
        int idx_in = -1, idx_out = -1, idx_err = -1;
        if (stdin_w) idx_in = n, pfds[n++] = {stdin_w.get(), POLLOUT, 0};
        if (sinks[0].fd) idx_out = n, pfds[n++] = {sinks[0].fd.get(), POLLIN, 0};
        if (sinks[1].fd) idx_err = n, pfds[n++] = {sinks[1].fd.get(), POLLIN, 0};
        // Only once the pipes are done does the child's exit end the loop.
        int idx_pid = -1;
        if (n == 0) idx_pid = n, pfds[n++] = {pidfd.get(), POLLIN, 0};

        int pr = ::poll(pfds, n, poll_timeout());
        if (pr < 0) {
            if (errno == EINTR) continue;
            return errno_error("poll child " + prog);
        }
        if (pr == 0) {
            res.timed_out = true;
            break;
        }
        if (idx_in >= 0 && pfds[idx_in].revents) {
            ssize_t w = write_nosigpipe(stdin_w.get(), opts.stdin_data.data() + written,
                                        opts.stdin_data.size() - written);
            if (w > 0) {
                written += static_cast<size_t>(w);
                if (written == opts.stdin_data.size()) stdin_w.reset();
            } else if (w < 0 && errno == EPIPE) {
                stdin_w.reset();  // the child stopped reading: not our error, its status tells
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                return errno_error("write stdin of " + prog);
            }
        }
        if (idx_out >= 0 && pfds[idx_out].revents) LXM_TRY_VOID(drain(sinks[0], opts.output_limit));
        if (idx_err >= 0 && pfds[idx_err].revents) LXM_TRY_VOID(drain(sinks[1], opts.output_limit));
        if (idx_pid >= 0 && pfds[idx_pid].revents) exited = true;
    }

    if (res.timed_out) ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);

    int status = 0;
    pid_t w;
    while ((w = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    if (w < 0) return errno_error("waitpid " + prog);
    guard.release();

    if (WIFEXITED(status)) res.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) res.term_signal = WTERMSIG(status);
    return res;
}

Result<SpawnResult> spawn_checked(const SpawnOptions& opts) {
    LXM_TRY(SpawnResult res, spawn_capture(opts));
    if (res.success()) return res;
    std::string msg = opts.argv[0] + " failed (" + res.status_text() + ")";
    std::string text = res.err.empty() ? res.out : res.err;
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    if (!text.empty()) msg += ": " + text;
    return make_error(std::errc::io_error, std::move(msg));
}

}  // namespace lxm::base
