#include "lxm/api/executors.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "lxm/base/log.hpp"

namespace lxm::api {
namespace asio = boost::asio;

struct Executors::State {
    ExecutorOptions opts;
    asio::io_context io{1};
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
    std::vector<std::thread> io_threads;

    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::function<void()>> tasks;
    std::vector<std::thread> workers;
    int idle = 0;
    bool stopping = false;

    void worker_loop() {
        std::unique_lock lk(mu);
        for (;;) {
            ++idle;
            cv.wait(lk, [&] { return stopping || !tasks.empty(); });
            --idle;
            if (tasks.empty()) return;  // stopping and drained
            auto fn = std::move(tasks.front());
            tasks.pop_front();
            lk.unlock();
            try {
                fn();
            } catch (const std::exception& e) {
                LXM_ERROR("blocking task threw: {}", e.what());
            }
            fn = nullptr;
            lk.lock();
        }
    }
};

Executors::Executors(ExecutorOptions opts) : s_(std::make_unique<State>()) { s_->opts = opts; }

Executors::~Executors() { stop(); }

void Executors::start() {
    if (!s_->io_threads.empty()) return;
    s_->guard.emplace(s_->io.get_executor());
    for (int i = 0; i < std::max(1, s_->opts.io_threads); ++i)
        s_->io_threads.emplace_back([this] {
            for (;;) {
                try {
                    s_->io.run();
                    return;
                } catch (const std::exception& e) {
                    LXM_ERROR("io handler threw: {}", e.what());
                }
            }
        });
}

void Executors::stop() {
    s_->guard.reset();
    s_->io.stop();
    for (auto& t : s_->io_threads)
        if (t.joinable()) t.join();
    s_->io_threads.clear();
    {
        std::lock_guard lk(s_->mu);
        s_->stopping = true;
    }
    s_->cv.notify_all();
    std::vector<std::thread> workers;
    {
        std::lock_guard lk(s_->mu);
        workers.swap(s_->workers);
    }
    for (auto& t : workers)
        if (t.joinable()) t.join();
}

asio::io_context& Executors::io() { return s_->io; }

void Executors::post_io(std::function<void()> fn) { asio::post(s_->io, std::move(fn)); }

void Executors::post_blocking(std::function<void()> fn) {
    std::lock_guard lk(s_->mu);
    if (s_->stopping) {
        // Late work during shutdown still runs, on its own thread, so completions are not lost.
        std::thread(std::move(fn)).detach();
        return;
    }
    s_->tasks.push_back(std::move(fn));
    if (s_->idle < static_cast<int>(s_->tasks.size()) &&
        static_cast<int>(s_->workers.size()) < s_->opts.blocking_max_threads)
        s_->workers.emplace_back([st = s_.get()] { st->worker_loop(); });
    else
        s_->cv.notify_one();
}

std::function<void()> Executors::schedule(std::chrono::milliseconds delay, std::function<void()> fn) {
    struct Timer {
        asio::strand<asio::io_context::executor_type> strand;
        asio::steady_timer timer;
        std::atomic<bool> cancelled{false};
        explicit Timer(asio::io_context& io) : strand(asio::make_strand(io)), timer(strand) {}
    };
    auto t = std::make_shared<Timer>(s_->io);
    asio::post(t->strand, [t, delay, fn = std::move(fn)]() mutable {
        t->timer.expires_after(delay);
        t->timer.async_wait([t, fn = std::move(fn)](boost::system::error_code ec) {
            if (!ec && !t->cancelled.load()) fn();
        });
    });
    return [t] {
        t->cancelled = true;
        asio::post(t->strand, [t] { t->timer.cancel(); });
    };
}

}  // namespace lxm::api
