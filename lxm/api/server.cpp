#include "lxm/api/server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "lxm/api/http_session.hpp"
#include "lxm/base/unique_fd.hpp"

namespace lxm::api {
namespace asio = boost::asio;
namespace beast = boost::beast;
using UnixStream = beast::basic_stream<asio::local::stream_protocol, asio::any_io_executor>;

struct Server::State {
    std::shared_ptr<detail::SessionHub> hub;
    std::mutex mu;
    std::vector<std::shared_ptr<asio::local::stream_protocol::acceptor>> acceptors;
    std::vector<std::string> socket_paths;
};

namespace {

// Is something accepting connections at path?
bool socket_answers(const std::string& path) {
    base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return false;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

Peer unix_peer(int fd) {
    Peer p;
    p.kind = Peer::Kind::unix_socket;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        p.uid = cred.uid;
        p.gid = cred.gid;
        p.pid = cred.pid;
    }
    return p;
}

asio::awaitable<void> accept_loop(std::shared_ptr<detail::SessionHub> hub,
                                  std::shared_ptr<asio::local::stream_protocol::acceptor> acc) {
    for (;;) {
        auto strand = asio::make_strand(hub->ex.io());
        auto [ec, sock] = co_await acc->async_accept(strand, asio::as_tuple(asio::use_awaitable));
        if (ec) {
            if (ec == asio::error::operation_aborted || !acc->is_open()) co_return;
            LXM_WARN("api: accept failed: {}", ec.message());
            if (ec == asio::error::no_descriptors) {
                asio::steady_timer t(acc->get_executor(), std::chrono::milliseconds(100));
                co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
            }
            continue;
        }
        Peer peer = unix_peer(sock.native_handle());
        UnixStream stream(std::move(sock));
        auto ex = stream.get_executor();
        asio::co_spawn(ex, detail::run_session<UnixStream>(hub, std::move(stream), std::move(peer)),
                       [](std::exception_ptr e) {
                           if (!e) return;
                           try {
                               std::rethrow_exception(e);
                           } catch (const std::exception& ex) {
                               LXM_ERROR("api: session ended by exception: {}", ex.what());
                           }
                       });
    }
}

}  // namespace

Server::Server(Executors& ex, const Router& router, ServerOptions opts) : s_(std::make_shared<State>()) {
    s_->hub = std::make_shared<detail::SessionHub>(ex, router, std::move(opts));
}

Server::~Server() { shutdown(std::chrono::milliseconds(0)); }

base::Result<void> Server::listen_unix(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return base::make_error(std::errc::file_exists, "listen on " + path + ": a non-socket file is in the way");
        if (socket_answers(path))
            return base::make_error(std::errc::address_in_use, "listen on " + path + ": another server answers there");
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) return base::errno_error("remove stale socket " + path);
    }
    auto acc = std::make_shared<asio::local::stream_protocol::acceptor>(asio::make_strand(s_->hub->ex.io()));
    boost::system::error_code ec;
    acc->open(asio::local::stream_protocol(), ec);
    if (!ec) acc->bind(asio::local::stream_protocol::endpoint(path), ec);
    if (ec) return std::unexpected(base::Error{std::error_code(ec), "bind " + path});
    if (::chmod(path.c_str(), s_->hub->opts.socket_mode) != 0) return base::errno_error("chmod " + path);
    acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return std::unexpected(base::Error{std::error_code(ec), "listen " + path});
    {
        std::lock_guard lk(s_->mu);
        s_->acceptors.push_back(acc);
        s_->socket_paths.push_back(path);
    }
    asio::co_spawn(acc->get_executor(), accept_loop(s_->hub, acc), asio::detached);
    return {};
}

void Server::shutdown(std::chrono::milliseconds grace) {
    std::vector<std::shared_ptr<asio::local::stream_protocol::acceptor>> accs;
    std::vector<std::string> paths;
    {
        std::lock_guard lk(s_->mu);
        accs.swap(s_->acceptors);
        paths.swap(s_->socket_paths);
    }
    for (auto& acc : accs) {
        asio::post(acc->get_executor(), [acc] {
            boost::system::error_code ec;
            acc->close(ec);
        });
    }
    for (auto& p : paths) ::unlink(p.c_str());

    auto& hub = *s_->hub;
    auto close_where = [&](bool only_idle) {
        std::lock_guard lk(hub.mu);
        hub.stopping = true;
        for (auto& [id, e] : hub.sessions)
            if (!only_idle || e.idle) e.close();
    };
    close_where(true);
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (sessions() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    close_where(false);
}

size_t Server::sessions() const {
    std::lock_guard lk(s_->hub->mu);
    return s_->hub->sessions.size();
}

}  // namespace lxm::api
