// One mutex per instance name: work on one instance is serialised (start vs
// delete, create vs rename), different instances proceed in parallel.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace lxm::core {

class NameLocks {
public:
    // Holds the locks of one or more names (taken in sorted order: no deadlock).
    class Guard {
    public:
        Guard() = default;
        Guard(Guard&&) = default;
        Guard& operator=(Guard&&) = default;

    private:
        friend class NameLocks;
        std::vector<std::unique_lock<std::mutex>> locks_;
    };

    Guard lock(std::vector<std::string> names) {
        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end());
        std::vector<std::shared_ptr<std::mutex>> ms;
        {
            std::lock_guard g(mu_);
            for (const auto& n : names) {
                auto& m = locks_[n];
                if (!m) m = std::make_shared<std::mutex>();
                ms.push_back(m);
            }
        }
        Guard g;
        for (auto& m : ms) g.locks_.emplace_back(*m);
        return g;
    }
    Guard lock(const std::string& name) { return lock(std::vector<std::string>{name}); }

private:
    // Entries are never erased (a mutex may be locked through a guard at any
    // time); one small entry per name ever used.
    std::mutex mu_;
    std::map<std::string, std::shared_ptr<std::mutex>> locks_;
};

}  // namespace lxm::core
