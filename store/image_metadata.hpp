// metadata.yaml of the LXD image format: architecture, dates, default
// properties and file templates. Parsing takes text (unit-testable); the
// tarball side is in image_store.hpp.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lxm/base/error.hpp"

namespace lxm::store {

// One rule of metadata.yaml "templates:", keyed by the path in the instance.
struct ImageTemplate {
    std::vector<std::string> when{};                  // "create", "copy", "start", "rename"
    bool create_only = false;                         // only when the file does not exist yet
    std::string template_file{};                      // file name under templates/ in the image
    std::map<std::string, std::string> properties{};  // extra values for the template
};

struct ImageMetadata {
    std::string architecture{};  // as written ("x86_64", "amd64", ...)
    int64_t creation_date = 0;   // unix seconds
    int64_t expiry_date = 0;     // 0: none
    std::map<std::string, std::string> properties{};
    std::map<std::string, ImageTemplate> templates{};
};

// Parse metadata.yaml text. Like LXD: architecture and a non-zero creation_date
// are required; scalars of properties are kept as text; unknown keys are ignored.
base::Result<ImageMetadata> parse_image_metadata(std::string_view yaml);
// The YAML text for metadata.yaml (what parse_image_metadata reads back).
std::string render_image_metadata(const ImageMetadata& meta);

}  // namespace lxm::store
