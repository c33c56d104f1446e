// Executors: where API code runs.
//  - io: an io_context run by a few threads (default 2). Sessions, timers and
//    websocket callbacks live here; nothing on it may block.
//  - blocking: an elastic thread pool for slow kernel work (handlers marked
//    blocking, operation work functions). Threads are started on demand up to
//    blocking_max_threads, so long operations (an interactive exec) do not
//    starve short ones; beyond that, work queues.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace lxm::api {

struct ExecutorOptions {
    int io_threads = 2;
    int blocking_max_threads = 128;
};

class Executors {
public:
    explicit Executors(ExecutorOptions opts = {});
    ~Executors();  // stop()
    Executors(const Executors&) = delete;
    Executors& operator=(const Executors&) = delete;

    void start();  // spawn the io threads (idempotent)
    // Stop the io threads (pending io handlers are dropped) and join the blocking
    // threads after they finished their current and queued work.
    void stop();

    boost::asio::io_context& io();
    void post_io(std::function<void()> fn);
    void post_blocking(std::function<void()> fn);

    // Run fn on an io thread after delay; the returned function cancels it (any thread).
    std::function<void()> schedule(std::chrono::milliseconds delay, std::function<void()> fn);

private:
    struct State;
    std::unique_ptr<State> s_;
};

}  // namespace lxm::api
