// User namespace id maps: formatting, writing them for a child, a throwaway
// user namespace that carries a map (for idmapped mounts), and the allocator
// that hands each container its own host id range.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "lxm/base/error.hpp"
#include "lxm/base/unique_fd.hpp"
#include "lxm/runtime/spec.hpp"

namespace lxm::runtime {

// "inside outside count\n" lines as /proc/<pid>/uid_map wants them.
std::string format_id_map(const std::vector<IdMapEntry>& entries);

// The default unprivileged map: container 0..size-1 -> host base..base+size-1 for uids and gids.
IdMap make_idmap(uint32_t host_base, uint32_t size = 65536);

// Write uid_map and gid_map of pid (the caller is root in the parent namespace).
base::Result<void> write_id_maps(pid_t pid, const IdMap& map);

// A user namespace with this map, owned by nobody else: for mount_setattr(MOUNT_ATTR_IDMAP).
// Made by a short-lived child that is gone when this returns.
base::Result<base::UniqueFd> make_userns_fd(const IdMap& map);

// Hands out host id ranges from a pool so two containers never share host ids.
// Pure logic: the daemon persists which bases are in use.
class IdAllocator {
public:
    // Pool [pool_start, pool_start + pool_size), blocks of block_size ids.
    IdAllocator(uint32_t pool_start, uint32_t pool_size, uint32_t block_size = 65536);
    // Lowest free base not in used; error "id pool exhausted" when none is left.
    base::Result<uint32_t> allocate(const std::set<uint32_t>& used) const;
    uint32_t block_size() const { return block_size_; }
    bool contains(uint32_t base) const;

private:
    uint32_t start_, size_, block_size_;
};

// Parse /etc/subuid-style text ("root:1000000:1000000000") for a user: first range or error.
base::Result<std::pair<uint32_t, uint32_t>> parse_subid(std::string_view text, std::string_view user);

}  // namespace lxm::runtime
