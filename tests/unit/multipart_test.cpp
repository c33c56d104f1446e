// The streaming multipart/form-data reader and writer pieces (split image upload/export).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "lxm/apitypes/multipart.hpp"

namespace lxm::apitypes {
namespace {

struct Collected {
    std::vector<std::string> names, filenames, bodies;
    int ended = 0;
};

MultipartReader::Handler collect(Collected& c) {
    MultipartReader::Handler h;
    h.begin = [&c](const MultipartPart& p) -> base::Result<void> {
        c.names.push_back(p.name);
        c.filenames.push_back(p.filename);
        c.bodies.emplace_back();
        return {};
    };
    h.data = [&c](std::string_view d) -> base::Result<void> {
        c.bodies.back().append(d);
        return {};
    };
    h.end = [&c]() -> base::Result<void> {
        ++c.ended;
        return {};
    };
    return h;
}

std::string body_of(const std::string& b, const std::vector<std::pair<std::string, std::string>>& parts) {
    std::string s;
    bool first = true;
    for (const auto& [name, data] : parts) {
        s += multipart_part_header(b, name, name + ".bin", first) + data;
        first = false;
    }
    return s + multipart_trailer(b);
}

TEST(Multipart, BoundaryFromContentType) {
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc"), "abc");
    EXPECT_EQ(multipart_boundary("Multipart/Form-Data; charset=x; boundary=\"q r\""), "q r");
    EXPECT_FALSE(multipart_boundary("application/octet-stream"));
    EXPECT_FALSE(multipart_boundary("multipart/form-data"));
}

TEST(Multipart, RoundTripWholeAndByteByByte) {
    // Data that looks like a boundary without being one, CRLFs and binary bytes.
    std::string meta = "metadata\r\n--notit\r\n\r\n";
    std::string rootfs(70000, '\0');
    for (size_t i = 0; i < rootfs.size(); ++i) rootfs[i] = static_cast<char>(i * 7);
    std::string b = make_boundary();
    std::string body = body_of(b, {{"metadata", meta}, {"rootfs", rootfs}});
    for (size_t step : {body.size(), size_t{1}, size_t{3}, size_t{4096}}) {
        Collected c;
        MultipartReader r(b, collect(c));
        for (size_t i = 0; i < body.size(); i += step) ASSERT_TRUE(r.feed(std::string_view(body).substr(i, step)));
        ASSERT_TRUE(r.finish());
        ASSERT_EQ(c.names, (std::vector<std::string>{"metadata", "rootfs"})) << step;
        EXPECT_EQ(c.filenames[1], "rootfs.bin");
        EXPECT_EQ(c.bodies[0], meta);
        EXPECT_EQ(c.bodies[1], rootfs) << step;
        EXPECT_EQ(c.ended, 2);
    }
}

TEST(Multipart, PreambleAndGoStyleParts) {
    // What Go's mime/multipart writer produces (no preamble) and with a preamble before it.
    std::string s = "ignored preamble\r\n--B\r\nContent-Disposition: form-data; name=\"metadata\"; "
                    "filename=\"m.tar\"\r\nContent-Type: application/octet-stream\r\n\r\nM\r\n--B\r\n"
                    "Content-Disposition: form-data; name=\"rootfs\"; filename=\"r.tar\"\r\n\r\nR\r\n--B--\r\n";
    Collected c;
    MultipartReader r("B", collect(c));
    ASSERT_TRUE(r.feed(s));
    ASSERT_TRUE(r.finish());
    EXPECT_EQ(c.names, (std::vector<std::string>{"metadata", "rootfs"}));
    EXPECT_EQ(c.bodies, (std::vector<std::string>{"M", "R"}));
}

TEST(Multipart, TruncatedAndMalformed) {
    std::string body = body_of("B", {{"metadata", "abc"}});
    {
        Collected c;
        MultipartReader r("B", collect(c));
        ASSERT_TRUE(r.feed(body.substr(0, body.size() - 8)));
        EXPECT_FALSE(r.finish());
    }
    {
        Collected c;
        MultipartReader r("B", collect(c));
        EXPECT_FALSE(r.feed("--Bjunk\r\n") && r.finish());
    }
    {
        Collected c;
        MultipartReader r("B", collect(c));
        ASSERT_TRUE(r.feed("no boundary at all"));
        EXPECT_FALSE(r.finish());
    }
    {
        // A handler error stops the reader.
        Collected c;
        auto h = collect(c);
        h.begin = [](const MultipartPart&) -> base::Result<void> {
            return base::make_error(std::errc::invalid_argument, "no");
        };
        MultipartReader r("B", h);
        EXPECT_FALSE(r.feed(body));
    }
}

}  // namespace
}  // namespace lxm::apitypes
