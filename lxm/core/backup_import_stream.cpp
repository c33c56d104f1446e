// StreamedImport and Backups::import_streamed: a backup upload unpacked while it arrives
// (lxm/core/backups.hpp), then made into an instance like an import from a file.
#include <fcntl.h>
#include <unistd.h>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "lxm/core/backups.hpp"
#include "store/pool_fs.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;

Result<std::shared_ptr<StreamedImport>> StreamedImport::start(store::PoolDriver& pool, std::string pool_name) {
    std::shared_ptr<StreamedImport> s(new StreamedImport());
    s->pool_ = std::move(pool_name);
    LXM_TRY(s->dir_, store::poolfs::make_temp_dir(pool.path(), "import"));
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return base::errno_error("pipe");
    s->reader_.reset(p[0]);
    s->writer_.reset(p[1]);
    // Bigger pipe buffer: fewer wake-ups between the session writing and the unpacker (best effort).
    (void)::fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    StreamedImport* self = s.get();
    s->thread_ = std::thread([self] {
        store::UnpackOptions uo;
        uo.prefix = "backup";
        uo.same_owner = true;
        self->unpacked_ = store::unpack_tarball("/proc/self/fd/" + std::to_string(self->reader_.get()), self->dir_, uo);
        self->reader_.reset();  // a writer still writing gets EPIPE: the upload stops early
    });
    return s;
}

StreamedImport::~StreamedImport() {
    writer_.reset();  // the unpacker sees the end of the stream if nobody closed it
    if (thread_.joinable()) thread_.join();
    discard();
}

Result<void> StreamedImport::finish(bool body_complete) {
    writer_.reset();
    if (thread_.joinable()) thread_.join();
    Result<void> r;
    if (!unpacked_)
        r = http_error(400, "Invalid backup file: it is truncated or corrupt (nothing was imported): " +
                                unpacked_.error().message());
    else if (!body_complete)
        r = http_error(400, "The upload was cut short (nothing was imported)");
    if (!r) discard();
    return r;
}

void StreamedImport::discard() {
    if (dir_.empty()) return;
    if (auto r = base::remove_tree(dir_); !r) LXM_WARN("import: cleanup {}: {}", dir_, r.error().message());
    dir_.clear();
}

Result<std::string> Backups::import_streamed(const StreamedImport& s, const std::string& name, const std::string& pool,
                                             const Progress& progress) {
    return import_unpacked(s.dir(), name, pool, progress);
}

}  // namespace lxm::core
