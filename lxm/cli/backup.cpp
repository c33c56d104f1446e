// lxm export / lxm import: instance backups as LXD's `lxc export` / `lxc import` do them.
//
//   export: POST .../backups (the server records a snapshot), wait, GET .../export
//           streamed into a temp file beside the target (write-back started every 32 MiB,
//           one fsync, renamed at the end; "-" = stdout),
//           then DELETE the backup whatever happened.
//   import: POST /1.0/instances with the file as an application/octet-stream body
//           (X-LXD-name, X-LXD-pool), wait for the operation.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "lxm/cli/commands.hpp"

namespace lxm::cli {

namespace {

base::Result<int> do_export(Context& ctx, const std::string& name, std::string target, bool instance_only,
                            const std::string& compression) {
    LXM_TRY(auto* c, ctx.client());
    if (target.empty()) target = name + (compression == "none" ? ".tar" : compression == "gzip" ? ".tar.gz" : ".tar.zst");
    json req{{"name", ""},
             {"instance_only", instance_only},
             {"container_only", instance_only},
             {"optimized_storage", false},
             {"compression_algorithm", compression}};
    LXM_TRY(auto r, c->post(instance_url(name) + "/backups", req));
    LXM_TRY(apitypes::Operation op, ctx.wait(r));
    std::string backup;
    if (auto it = op.resources.find("backups"); it != op.resources.end() && !it->second.empty()) {
        backup = it->second.front();
        if (auto p = backup.rfind('/'); p != std::string::npos) backup = backup.substr(p + 1);
    }
    if (backup.empty()) return user_error("the server did not name the backup it made");
    base::Defer drop([&] {
        auto d = c->del(instance_url(name) + "/backups/" + url_escape(backup));
        if (d) (void)ctx.wait(*d);
    });

    int fd = -1;
    std::string tmp;
    if (target == "-") {
        fd = STDOUT_FILENO;
    } else {
        tmp = target + ".partial-XXXXXX";
        std::vector<char> buf(tmp.begin(), tmp.end());
        buf.push_back('\0');
        fd = ::mkostemp(buf.data(), O_CLOEXEC);
        if (fd < 0) return user_error("cannot create " + tmp + ": " + std::strerror(errno));
        tmp = buf.data();
    }
    base::Defer close_tmp([&] {
        if (!tmp.empty()) {
            ::close(fd);
            ::unlink(tmp.c_str());
        }
    });
    uint64_t bytes = 0, queued = 0;
    // The file must be durable (one fsync at the end), but a single fsync of a whole
    // gigabyte waits for all of it: start the write-back of every 32 MiB as it is written,
    // so the disk works while the download goes on and the final fsync has little left.
    constexpr uint64_t kWriteBack = 32 << 20;
    auto got = c->download(instance_url(name) + "/backups/" + url_escape(backup) + "/export",
                           [&](std::string_view chunk) -> base::Result<void> {
                               LXM_TRY_VOID(base::write_all(fd, chunk));
                               bytes += chunk.size();
                               if (!tmp.empty() && bytes - queued >= kWriteBack) {
                                   // Best effort (not every filesystem has it): fsync still follows.
                                   (void)::sync_file_range(fd, static_cast<off_t>(queued),
                                                           static_cast<off_t>(bytes - queued), SYNC_FILE_RANGE_WRITE);
                                   queued = bytes;
                               }
                               return {};
                           });
    if (!got) return user_error("export of " + name + " failed (nothing written): " + error_text(got.error()));
    if (!tmp.empty()) {
        if (::fsync(fd) != 0) return user_error("cannot write " + target + ": " + std::strerror(errno));
        ::fchmod(fd, 0600);
        if (::rename(tmp.c_str(), target.c_str()) != 0)
            return user_error("cannot rename " + tmp + " to " + target + ": " + std::strerror(errno));
        ::close(fd);
        tmp.clear();
        print(ctx.out, "Backup exported successfully to " + target + " (" + std::to_string(bytes) + " bytes)\n");
    }
    return 0;
}

base::Result<int> do_import(Context& ctx, const std::string& file, const std::string& name, const std::string& pool) {
    if (::access(file.c_str(), R_OK) != 0) return user_error("cannot read " + file + ": " + std::strerror(errno));
    LXM_TRY(auto* c, ctx.client());
    std::map<std::string, std::string> headers{{"Content-Type", "application/octet-stream"}};
    if (!name.empty()) headers["X-LXD-name"] = name;
    if (!pool.empty()) headers["X-LXD-pool"] = pool;
    std::vector<client::Client::BodyPart> parts{client::Client::BodyPart{.data = {}, .file = file}};
    LXM_TRY(auto r, c->upload("POST", "/1.0/instances", parts, headers));
    LXM_TRY(apitypes::Operation op, ctx.wait(r));
    std::string made = name;
    if (auto it = op.resources.find("instances"); made.empty() && it != op.resources.end() && !it->second.empty()) {
        made = it->second.front();
        if (auto p = made.rfind('/'); p != std::string::npos) made = made.substr(p + 1);
    }
    print(ctx.out, "Instance " + made + " imported from " + file + "\n");
    return 0;
}

}  // namespace

void add_backup_commands(CLI::App& app, Context& ctx, Action& chosen) {
    {
        auto* sub = app.add_subcommand("export", "Export an instance (and its snapshots) as a backup tarball");
        auto name = std::make_shared<std::string>();
        auto target = std::make_shared<std::string>();
        auto instance_only = std::make_shared<bool>(false);
        auto compression = std::make_shared<std::string>("zstd");
        sub->add_option("instance", *name, "[remote:]instance")->required()->transform(remote_arg(ctx));
        sub->add_option("file", *target, "Target file (default <instance>.tar.zst; - for stdout)");
        sub->add_flag("--instance-only", *instance_only, "Leave the snapshots out");
        sub->add_option("--compression", *compression, "zstd (default), gzip, xz or none");
        on_run(sub, chosen, [&ctx, name, target, instance_only, compression] {
            return do_export(ctx, *name, *target, *instance_only, *compression);
        });
    }
    {
        auto* sub = app.add_subcommand("import", "Create an instance from a backup tarball (lxm export, lxc export)");
        auto file = std::make_shared<std::string>();
        auto name = std::make_shared<std::string>();
        auto pool = std::make_shared<std::string>();
        sub->add_option("file", *file, "Backup tarball")->required();
        sub->add_option("name", *name, "[remote:]name of the new instance (default: the name in the backup)")
            ->transform(remote_arg(ctx));
        sub->add_option("-s,--storage", *pool, "Storage pool");
        on_run(sub, chosen, [&ctx, file, name, pool] { return do_import(ctx, *file, *name, *pool); });
    }
}

}  // namespace lxm::cli
