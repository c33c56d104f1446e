// Defer runs a callable at scope exit; Reverter collects undo steps and runs
// them in reverse unless success() was called (all-or-nothing construction).
#pragma once

#include <functional>
#include <utility>
#include <vector>

namespace lxm::base {

template <typename F>
class Defer {
public:
    explicit Defer(F f) : f_(std::move(f)) {}
    Defer(const Defer&) = delete;
    Defer& operator=(const Defer&) = delete;
    ~Defer() {
        if (armed_) f_();
    }
    void cancel() noexcept { armed_ = false; }

private:
    F f_;
    bool armed_ = true;
};

class Reverter {
public:
    Reverter() = default;
    Reverter(const Reverter&) = delete;
    Reverter& operator=(const Reverter&) = delete;
    Reverter(Reverter&& o) noexcept : steps_(std::move(o.steps_)) { o.steps_.clear(); }
    ~Reverter() { fail(); }

    // Register an undo step; undo steps must not throw.
    void add(std::function<void()> undo) { steps_.push_back(std::move(undo)); }
    // Keep everything that was built: the undo steps are dropped.
    void success() noexcept { steps_.clear(); }
    // Undo now, in reverse order.
    void fail() noexcept {
        while (!steps_.empty()) {
            auto f = std::move(steps_.back());
            steps_.pop_back();
            try {
                f();
            } catch (...) {
            }
        }
    }
    // Hand the undo steps to another reverter (for a caller that keeps building).
    Reverter take() noexcept { return std::move(*this); }

private:
    std::vector<std::function<void()>> steps_;
};

}  // namespace lxm::base
