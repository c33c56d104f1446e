// make_cgroup_driver: picks the implementation for a layout.
#include "lxm/runtime/cgroup_v1.hpp"
#include "lxm/runtime/cgroup_v2.hpp"

namespace lxm::runtime {

base::Result<std::unique_ptr<CgroupDriver>> make_cgroup_driver(const CgroupLayout& layout) {
    switch (layout.mode) {
        case CgroupMode::v1:
        case CgroupMode::hybrid:
            if (layout.v1.empty())
                return base::make_error(std::errc::invalid_argument, "cgroup layout: v1 mode without v1 hierarchies");
            return std::unique_ptr<CgroupDriver>(std::make_unique<CgroupV1Driver>(layout));
        case CgroupMode::v2:
            if (!layout.unified_dir)
                return base::make_error(std::errc::invalid_argument, "cgroup layout: v2 mode without a cgroup2 mount");
            return std::unique_ptr<CgroupDriver>(std::make_unique<CgroupV2Driver>(layout));
    }
    return base::make_error(std::errc::invalid_argument, "cgroup layout: unknown mode");
}

}  // namespace lxm::runtime
