// Profiles: named config and devices applied to instances in order (LXD's
// /1.0/profiles). The "default" profile exists from the first schema update
// and cannot be deleted or renamed.
#pragma once

#include <string>
#include <vector>

#include "lxm/apitypes/profile.hpp"
#include "lxm/base/error.hpp"
#include "lxm/core/daemon_state.hpp"
#include "lxm/core/instances.hpp"

namespace lxm::core {

class Profiles {
public:
    Profiles(DaemonState& state, Instances& instances) : state_(state), instances_(instances) {}

    base::Result<std::vector<std::string>> names();
    base::Result<apitypes::Profile> get(const std::string& name);
    base::Result<std::vector<apitypes::Profile>> list();
    base::Result<void> create(const apitypes::ProfilesPost& req);
    base::Result<void> update(const std::string& name, const apitypes::ProfilePut& put);
    base::Result<void> rename(const std::string& name, const std::string& new_name);
    base::Result<void> remove(const std::string& name);
    // The writable part, for ETags.
    base::Result<nlohmann::json> etag_state(const std::string& name);

private:
    DaemonState& state_;
    Instances& instances_;
};

}  // namespace lxm::core
