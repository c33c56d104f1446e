// File templates of LXD images (metadata.yaml "templates:" + templates/*.tpl),
// applied into an instance's root at create, copy, start and rename, as LXD
// does: for each target path whose `when` lists the trigger, render the
// template (lxm/core/template_render.hpp) and write the file.
//
// Like LXD, an instance keeps its own copy of its image's templates in its
// instance dir (beside its root volume), so that start and rename need
// neither the image (which may be deleted) nor its tarball:
//   <instance_dir>/metadata.yaml      the image's metadata.yaml
//   <instance_dir>/templates/<file>   its template files
// A copy takes them from its source instance.
//
// Writing: the root is hostile. Every path is resolved through the root fd
// with openat2(RESOLVE_IN_ROOT) (symlinks resolve inside the container);
// missing parent directories are made owned by the container's root, 0755;
// the file is written to a temporary name in its directory and renamed over
// the target, so a symlink, fifo or hard link planted at the target is
// replaced, never written through. A new file is owned by the container's root
// (the instance's host root ids when unprivileged), mode 0644; an existing
// regular file keeps its owner and mode (as LXD). create_only: skipped when
// anything exists at the path. A directory at the path is an error.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lxm/base/error.hpp"
#include "lxm/core/instances.hpp"
#include "lxm/core/template_render.hpp"
#include "store/image_metadata.hpp"
#include "store/image_store.hpp"

namespace lxm::core {

// An image's templates: its metadata (rules in metadata.templates) and files.
struct TemplateSet {
    store::ImageMetadata metadata{};
    std::map<std::string, std::string> files{};  // template file name -> text
    bool empty() const { return metadata.templates.empty(); }
    bool has_trigger(std::string_view trigger) const;
};

// The set of an image in the store (empty when its metadata has no templates).
base::Result<TemplateSet> image_template_set(const store::ImageStore& images, const std::string& fingerprint);

// The set kept in an instance dir (empty when it has none); save replaces it.
base::Result<TemplateSet> load_template_set(const std::string& instance_dir);
base::Result<void> save_template_set(const std::string& instance_dir, const TemplateSet& set);

// What the templates see of the instance (LXD's names: instance/container map).
TemplateContext template_context(const std::string& name, const std::string& architecture, bool privileged,
                                 bool ephemeral, const ConfigMap& expanded_config, const DeviceMap& expanded_devices);

// Render, then write every template whose `when` lists trigger. All templates
// are rendered before anything is written, so a bad template writes nothing.
// Returns the paths written (sorted). Errors name the template file and line.
base::Result<std::vector<std::string>> apply_templates(const InstanceRoot& root, const TemplateSet& set,
                                                       const std::string& trigger, const TemplateContext& ctx);

}  // namespace lxm::core
