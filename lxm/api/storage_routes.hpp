// /1.0/storage-pools: list (recursion, filter), create, get (ETag), PUT/PATCH,
// delete, /resources and /volumes (list, recursion; one volume by type/name) —
// thin handlers over core::StoragePools.
//
//   core::StoragePools pools(state);
//   register_storage_routes(api, pools);
#pragma once

#include "lxm/api/api.hpp"
#include "lxm/core/storage_pools.hpp"

namespace lxm::api {

// pools must outlive the api.
void register_storage_routes(Api& api, core::StoragePools& pools);

}  // namespace lxm::api
