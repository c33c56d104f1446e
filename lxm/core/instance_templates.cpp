// Instances: the file templates of an instance's image (lxm/core/image_templates.hpp)
// kept in its instance dir and applied at create, copy, start and rename.
#include "lxm/core/image_templates.hpp"
#include "lxm/core/instances.hpp"

#include <fcntl.h>

#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "store/instances.hpp"

namespace lxm::core {

using base::Result;

namespace {

// LXD's key: the create/copy trigger the first start applies again.
constexpr std::string_view kApplyTemplateKey = "volatile.apply_template";

bool privileged_config(const ConfigMap& c) {
    auto it = c.find("security.privileged");
    return it != c.end() && parse_bool(it->second).value_or(false);
}

}  // namespace

Result<void> Instances::write_templates(const Loaded& l, const TemplateSet& set, const std::string& trigger) {
    if (!set.has_trigger(trigger)) return {};
    // Where the files go (the instance is stopped, or being made):
    //   overlay: a detached overlay of the volume (open_root), whose upper holds
    //            the instance's own files owned by its host ids;
    //   dir/btrfs: the tree itself, unshifted on disk (the runtime idmaps it), so
    //            the container's root owns files as 0. (Creating files as host root
    //            through the idmapped mount open_root makes would fail: EOVERFLOW.)
    LXM_TRY(store::InstanceRootfs vol, pool_of(l.rec.name).instance_rootfs(l.rec.name));
    InstanceRoot root;
    if (vol.upper_dir.empty()) {
        LXM_TRY(root.root, base::open_fd(vol.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC));
        root.privileged = true;  // identity: the ids on disk are the container's own
    } else {
        LXM_TRY(root, open_root(l));
    }
    TemplateContext ctx = template_context(l.rec.name, l.rec.architecture, privileged_config(l.expanded_config),
                                           l.rec.ephemeral, l.expanded_config, l.expanded_devices);
    LXM_TRY(auto written, apply_templates(root, set, trigger, ctx));
    LXM_DEBUG("instance {}: {} template(s) applied at {}", l.rec.name, written.size(), trigger);
    return {};
}

Result<void> Instances::init_templates(const std::string& name, const std::string& trigger, const std::string& image_fp,
                                       const std::string& copy_from) {
    TemplateSet set;
    if (!copy_from.empty()) {
        // A copy keeps its source's templates; a source made before instances kept
        // them takes them from its image, if that is still stored.
        LXM_TRY(set, load_template_set(pool_of(copy_from).instance_dir(copy_from)));
        if (set.empty()) {
            LXM_TRY(Loaded src, load(copy_from));
            auto it = src.rec.config.find("volatile.base_image");
            std::string fp = it != src.rec.config.end() ? it->second : src.rec.image_fingerprint;
            if (auto* st = images_.image_store(); st && !fp.empty() && st->has(fp)) {
                LXM_TRY(set, image_template_set(*st, fp));
            }
        }
    } else if (!image_fp.empty()) {
        auto* st = images_.image_store();
        if (st && st->has(image_fp)) {
            LXM_TRY(set, image_template_set(*st, image_fp));
        }
    }
    if (set.empty()) return {};
    LXM_TRY(Loaded l, load(name));
    LXM_TRY_VOID(base::wrap(save_template_set(pool_of(name).instance_dir(name), set), "keep the image's templates"));
    LXM_TRY_VOID(write_templates(l, set, trigger));
    // As LXD, the first start applies them again with the config of then (lxc init,
    // then config set cloud-init.user-data, then start); the create made them visible
    // before any start and made a bad template fail the create.
    if (!set.has_trigger(trigger)) return {};
    return set_pending_trigger(l.rec.project, name, trigger);
}

Result<void> Instances::set_pending_trigger(const std::string& project, const std::string& name,
                                            const std::string& trigger) {
    return state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
        LXM_TRY(auto cur, store::get_instance(tx, project, name));
        if (trigger.empty())
            cur.config.erase(std::string(kApplyTemplateKey));
        else
            cur.config[std::string(kApplyTemplateKey)] = trigger;
        return store::update_instance(tx, cur);
    });
}

Result<void> Instances::apply_instance_templates(const std::string& name, const std::string& trigger) {
    LXM_TRY(TemplateSet set, load_template_set(pool_of(name).instance_dir(name)));
    if (set.empty()) return {};
    LXM_TRY(Loaded l, load(name));
    if (trigger == "start") {
        auto pending = l.rec.config.find(std::string(kApplyTemplateKey));
        if (pending != l.rec.config.end()) {
            LXM_TRY_VOID(write_templates(l, set, pending->second));
            LXM_TRY_VOID(set_pending_trigger(l.rec.project, name, ""));
            if (auto r = write_backup(name); !r) LXM_WARN("instance {}: {}", name, r.error().message());
        }
    }
    return write_templates(l, set, trigger);
}

}  // namespace lxm::core
