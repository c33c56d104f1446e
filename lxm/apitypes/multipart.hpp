// multipart/form-data as LXD uses it for split images (upload: POST /1.0/images
// with parts "metadata" and "rootfs"; download: GET /1.0/images/<fp>/export of a
// split image). A streaming reader (fed chunk by chunk, never holding a part in
// memory) and the bytes a writer puts around each part. Shared by daemon and client.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "lxm/base/error.hpp"

namespace lxm::apitypes {

// The boundary of a "multipart/form-data; boundary=..." content type, if it is one.
std::optional<std::string> multipart_boundary(std::string_view content_type);

struct MultipartPart {
    std::map<std::string, std::string> headers;  // lower-case names
    std::string name;                            // form name (Content-Disposition name=)
    std::string filename;                        // Content-Disposition filename=, may be empty
};

class MultipartReader {
public:
    struct Handler {
        std::function<base::Result<void>(const MultipartPart&)> begin;
        std::function<base::Result<void>(std::string_view)> data;
        std::function<base::Result<void>()> end;
    };
    MultipartReader(std::string boundary, Handler h);
    // Feed the next bytes of the body. Malformed input is errc::bad_message.
    base::Result<void> feed(std::string_view chunk);
    // The body ended: errc::bad_message unless the closing delimiter was seen.
    base::Result<void> finish();
    int parts() const { return parts_; }

private:
    enum class State { preamble, headers, body, after_delim, done };
    base::Result<void> run();
    std::string delim_;  // "\r\n--" + boundary
    Handler h_;
    State state_ = State::preamble;
    std::string buf_;
    int parts_ = 0;
};

// A boundary of random hex digits.
std::string make_boundary();
// What precedes a part's bytes: delimiter and headers of a form file.
std::string multipart_part_header(const std::string& boundary, const std::string& name, const std::string& filename,
                                  bool first);
// What follows the last part.
std::string multipart_trailer(const std::string& boundary);

}  // namespace lxm::apitypes
