// lxm-proxy: the userspace relay of one proxy device with nat=false (netd/proxy_relay.hpp).
//   lxm-proxy --listen ADDR --connect ADDR --pid INIT_PID --record FILE [--log FILE]
//             [--uid N] [--gid N] [--mode OCTAL]    (a unix listen socket's owner and mode)
//
// Binds the listen address in the caller's (the host's) namespaces, detaches (a new
// session, stdio on the log), writes its record (pid, start time, addresses; lxmd adopts
// relays by it across its restarts), enters the namespaces of INIT_PID and serves until
// SIGTERM or until INIT_PID exits; then it removes the record. The first process prints
// {"pid": N} and exits 0 once the relay serves; on failure it prints the reason on stderr
// and exits 3 when the listen address cannot be bound (taken, not local) and 1 otherwise.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "netd/proxy_relay.hpp"

namespace {

int usage() {
    std::fprintf(stderr,
                 "usage: lxm-proxy --listen ADDR --connect ADDR --pid INIT_PID --record FILE [--log FILE]"
                 " [--uid N] [--gid N] [--mode OCTAL]\n");
    return 2;
}

int fail(const std::string& what, int code = 1) {
    std::fprintf(stderr, "lxm-proxy: %s\n", what.c_str());
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    std::string listen, connect, record, log = "/dev/null";
    long target = 0;
    lxm::netd::ListenDac dac;
    auto number = [](const std::string& v, int base, int64_t max, int64_t& out) {
        char* end = nullptr;
        errno = 0;
        long long n = std::strtoll(v.c_str(), &end, base);
        if (v.empty() || errno != 0 || *end != '\0' || n < 0 || n > max) return false;
        out = n;
        return true;
    };
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (i + 1 >= argc) return usage();
        std::string v = argv[++i];
        if (a == "--listen") listen = v;
        else if (a == "--connect") connect = v;
        else if (a == "--pid") target = std::strtol(v.c_str(), nullptr, 10);
        else if (a == "--record") record = v;
        else if (a == "--log") log = v;
        else if (a == "--uid") {
            if (!number(v, 10, 0xfffffffe, dac.uid)) return usage();
        } else if (a == "--gid") {
            if (!number(v, 10, 0xfffffffe, dac.gid)) return usage();
        } else if (a == "--mode") {
            int64_t m = 0;
            if (!number(v, 8, 07777, m)) return usage();
            dac.mode = static_cast<uint32_t>(m);
        } else return usage();
    }
    if (listen.empty() || connect.empty() || record.empty() || record[0] != '/' || target <= 0) return usage();
    auto l = lxm::netd::parse_relay_endpoint(listen);
    if (!l) return fail("listen " + listen + ": " + l.error().context);
    auto c = lxm::netd::parse_relay_endpoint(connect);
    if (!c) return fail("connect " + connect + ": " + c.error().context);

    lxm::base::UniqueFd logfd(::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
    if (!logfd) return fail("open " + log);
    // The record's directory, opened before the mount namespace may change.
    std::string rdir = record.substr(0, record.rfind('/'));
    std::string rname = record.substr(record.rfind('/') + 1);
    lxm::base::UniqueFd rdirfd(::open(rdir.empty() ? "/" : rdir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!rdirfd) return fail("open " + rdir);

    auto relay = lxm::netd::Relay::open({*l, *c, static_cast<pid_t>(target), dac});
    if (!relay) {
        auto e = relay.error().code;
        bool address = e == std::errc::address_in_use || e == std::errc::address_not_available ||
                       e == std::errc::permission_denied;
        return fail(relay.error().message(), address ? 3 : 1);
    }

    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return fail("pipe");
    pid_t pid = ::fork();
    if (pid < 0) return fail("fork");
    if (pid > 0) {
        // First process: report once the relay serves (or why it could not).
        ::close(p[1]);
        std::string msg;
        char buf[512];
        ssize_t n;
        while ((n = ::read(p[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<size_t>(n));
        if (msg == "ok") {
            std::printf("{\"pid\": %d}\n", pid);
            std::fflush(stdout);
            ::_exit(0);
        }
        ::waitpid(pid, nullptr, 0);
        std::fprintf(stderr, "lxm-proxy: %s\n", msg.empty() ? "the relay ended before it served" : msg.c_str());
        std::fflush(stderr);
        ::_exit(1);
    }
    // The relay: its own session, stdio on the log, so that nothing ties it to the caller.
    ::close(p[0]);
    ::setsid();
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(logfd.get(), 1);
    ::dup2(logfd.get(), 2);
    auto report = [&](const std::string& m) {
        (void)!::write(p[1], m.data(), m.size());
        ::close(p[1]);
    };
    lxm::netd::RelayRecord rec;
    rec.pid = ::getpid();
    rec.starttime = lxm::netd::process_starttime(rec.pid);
    rec.listen = l->to_string();
    rec.connect = c->to_string();
    rec.target_pid = static_cast<pid_t>(target);
    rec.listen_dac = dac.to_string();
    if (auto w = lxm::netd::write_relay_record(record, rec); !w) {
        report("write " + record + ": " + w.error().message());
        return 1;
    }
    if (auto e = relay->enter_target(); !e) {
        ::unlinkat(rdirfd.get(), rname.c_str(), 0);
        report(e.error().message());
        return 1;
    }
    report("ok");
    std::fprintf(stderr, "lxm-proxy %d: %s -> %s (pid %ld)\n", rec.pid, rec.listen.c_str(), rec.connect.c_str(), target);
    int rc = relay->run();
    // The record goes with the relay (unless a newer relay wrote its own there meanwhile).
    lxm::base::UniqueFd cur(::openat(rdirfd.get(), rname.c_str(), O_RDONLY | O_CLOEXEC));
    if (cur) {
        char buf[4096];
        ssize_t n = ::read(cur.get(), buf, sizeof buf - 1);
        std::string text = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
        if (text.find("\"pid\":" + std::to_string(rec.pid) + ",") != std::string::npos)
            ::unlinkat(rdirfd.get(), rname.c_str(), 0);
    }
    std::fprintf(stderr, "lxm-proxy %d: ended\n", rec.pid);
    return rc;
}
