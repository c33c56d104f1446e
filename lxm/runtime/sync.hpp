// The start sequence is two mirrored halves (parent = monitor, child = future
// init) that meet at named steps over a SOCK_SEQPACKET socketpair. The child
// reports a failure as a message naming its step; the socket closing on exec
// (it is O_CLOEXEC) is the proof that init was executed.
#pragma once

#include <cstdint>
#include <string>

#include "lxm/base/error.hpp"

namespace lxm::runtime {

enum class StartStep : uint32_t {
    ChildStarted = 1,   // child -> parent: alive in its new namespaces, waiting for its maps
    MapsWritten,        // parent -> child: uid/gid maps written, cgroup joined, links moved
    RootfsReady,        // (reported in errors) mounts inside the container, pivot_root
    Confined,           // (reported in errors) AppArmor, capabilities, seccomp
    Exec,               // (reported in errors) execve of init
    Error = 100,        // child -> parent: the failing step, errno and text follow
};

const char* step_name(StartStep s);

struct SyncMessage {
    StartStep step;
    StartStep failed_step;  // with Error
    int32_t err;            // errno with Error
    char text[480];
};

// Send and receive one message; receiving EOF gives std::errc::broken_pipe.
base::Result<void> sync_send(int fd, StartStep step);
base::Result<void> sync_send_error(int fd, StartStep failed, int err, const std::string& text);
base::Result<SyncMessage> sync_recv(int fd);
// Wait for a specific step; an Error message from the other side becomes the returned error.
base::Result<void> sync_expect(int fd, StartStep step);

}  // namespace lxm::runtime
