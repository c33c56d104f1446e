#include "tests/support/two_hosts.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "lxm/base/file.hpp"
#include "lxm/base/spawn.hpp"
#include "lxm/runtime/monitor_client.hpp"
#include "netd/subnet.hpp"

extern char** environ;

namespace lxm::test {

namespace {

bool ip(const std::vector<std::string>& args, std::string* why = nullptr) {
    base::SpawnOptions o;
    o.argv = {"ip"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    auto r = base::spawn_capture(o);
    if (r && r->success()) return true;
    if (why) {
        std::string cmd = "ip";
        for (const auto& a : args) cmd += " " + a;
        *why = cmd + ": " + (r ? r->err : r.error().message());
    }
    return false;
}

bool connectable(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

TwoHosts::TwoHosts() {
    int n = ::getpid() % 10000;
    bridge_ = "lxmt-mbr" + std::to_string(n);
    for (int i = 0; i < 2; ++i) {
        Host h;
        h.ns = "lxmt-mig" + std::to_string(n) + "-" + std::to_string(i);
        h.veth = "lxmt-m" + std::to_string(n) + "h" + std::to_string(i);
        h.state = dir_ / ("host" + std::to_string(i));
        h.log = dir_ / ("lxmd" + std::to_string(i) + ".log");
        hosts_.push_back(h);
    }
}

TwoHosts::~TwoHosts() {
    for (int i = 0; i < 2; ++i) {
        kill_containers(i);
        stop(i, SIGTERM);
    }
    for (auto& h : hosts_) {
        (void)ip({"link", "del", h.veth});
        (void)ip({"netns", "del", h.ns});
    }
    if (made_bridge_) (void)ip({"link", "del", bridge_});
}

bool TwoHosts::setup(std::string* why) {
    auto used = netd::read_used_networks();
    if (!used) {
        *why = "read host routes: " + used.error().message();
        return false;
    }
    auto net = netd::choose_ipv4_subnet(used->v4, bridge_);
    if (!net) {
        *why = "no free 10.x.y.0/24 on this host";
        return false;
    }
    std::string prefix = netd::ipv4_to_string(net->addr);
    prefix = prefix.substr(0, prefix.rfind('.') + 1);
    host_addr_ = prefix + "1";
    if (!ip({"link", "add", bridge_, "type", "bridge"}, why)) return false;
    made_bridge_ = true;
    if (!ip({"addr", "add", host_addr_ + "/24", "dev", bridge_}, why) || !ip({"link", "set", bridge_, "up"}, why))
        return false;
    for (int i = 0; i < 2; ++i) {
        Host& h = hosts_[i];
        h.address = prefix + std::to_string(2 + i);
        h.https = h.address + ":8443";
        std::string peer = h.veth + "p";
        if (!ip({"netns", "add", h.ns}, why)) return false;
        if (!ip({"link", "add", h.veth, "type", "veth", "peer", "name", peer}, why)) return false;
        if (!ip({"link", "set", h.veth, "master", bridge_, "up"}, why)) return false;
        if (!ip({"link", "set", peer, "netns", h.ns}, why)) return false;
        if (!ip({"-n", h.ns, "link", "set", peer, "name", "eth0"}, why)) return false;
        if (!ip({"-n", h.ns, "addr", "add", h.address + "/24", "dev", "eth0"}, why)) return false;
        if (!ip({"-n", h.ns, "link", "set", "eth0", "up"}, why) || !ip({"-n", h.ns, "link", "set", "lo", "up"}, why))
            return false;
        if (!base::mkdir_p(h.state, 0711)) {
            *why = "mkdir " + h.state;
            return false;
        }
    }
    return true;
}

bool TwoHosts::start(int i, std::string* why) {
    Host& h = hosts_[i];
    ::unlink(h.socket().c_str());
    std::vector<std::string> args = {bin("lxmd"), "--state-dir", h.state, "--default-network", "none",
                                     "--https-address", h.https};
    std::string nspath = "/run/netns/" + h.ns;
    std::vector<char*> argv;  // built before fork: the child only makes async-signal-safe calls
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<std::string> env_strs;
    for (char** e = environ; e && *e; ++e) env_strs.push_back(*e);
    env_strs.insert(env_strs.end(), env_.begin(), env_.end());
    std::vector<char*> envp;
    for (auto& e : env_strs) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    pid_t p = ::fork();
    if (p == 0) {
        int nsfd = ::open(nspath.c_str(), O_RDONLY | O_CLOEXEC);
        if (nsfd < 0 || ::setns(nsfd, CLONE_NEWNET) != 0) ::_exit(126);
        int fd = ::open(h.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        ::dup2(null, 0);
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    h.pid = p;
    for (int k = 0; k < 300; ++k) {
        if (connectable(h.socket())) return true;
        int st;
        if (::waitpid(p, &st, WNOHANG) == p) {
            h.pid = -1;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (why) *why = "lxmd " + std::to_string(i) + " did not start: " + log(i);
    return false;
}

void TwoHosts::stop(int i, int sig) {
    Host& h = hosts_[i];
    if (h.pid <= 0) return;
    ::kill(h.pid, sig);
    int st;
    while (::waitpid(h.pid, &st, 0) < 0 && errno == EINTR) {
    }
    h.pid = -1;
}

void TwoHosts::kill_containers(int i) {
    std::string dir = hosts_[i].state + "/containers";
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    std::vector<std::string> socks;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") socks.push_back(dir + "/" + n + "/monitor.sock");
    }
    ::closedir(d);
    for (const auto& s : socks) {
        if (!base::path_exists(s)) continue;
        auto c = runtime::MonitorClient::connect(s);
        if (c) (void)c->stop(0, true);
    }
}

bool TwoHosts::link(int i, bool up) { return ip({"link", "set", hosts_[i].veth, up ? "up" : "down"}); }

std::string TwoHosts::log(int i) const {
    auto t = base::read_file(hosts_[i].log, 1 << 20);
    return t ? *t : std::string();
}

}  // namespace lxm::test
