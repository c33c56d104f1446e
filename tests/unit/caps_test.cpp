#include <gtest/gtest.h>

#include <algorithm>

#include "lxm/runtime/caps.hpp"

using namespace lxm::runtime;

TEST(Caps, DefaultDropFollowsIncus) {
    auto priv = default_cap_drop(true);
    std::sort(priv.begin(), priv.end());
    std::vector<cap_value_t> want{CAP_SYS_TIME, CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_MAC_ADMIN, CAP_MAC_OVERRIDE};
    std::sort(want.begin(), want.end());
    EXPECT_EQ(priv, want);
    // The user namespace confines an unprivileged container; Incus drops nothing there.
    EXPECT_TRUE(default_cap_drop(false).empty());
}

TEST(Caps, ParsesNamesInEveryUsualSpelling) {
    auto r = parse_cap_names({"sys_admin", "CAP_SYS_ADMIN", "cap_net_raw", "NET_ADMIN", "Sys_Time", "checkpoint_restore"});
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, (std::vector<cap_value_t>{CAP_SYS_ADMIN, CAP_SYS_ADMIN, CAP_NET_RAW, CAP_NET_ADMIN, CAP_SYS_TIME,
                                            CAP_CHECKPOINT_RESTORE}));
    auto empty = parse_cap_names({});
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->empty());
}

TEST(Caps, UnknownNamesAreClearErrors) {
    auto r = parse_cap_names({"sys_admin", "sys_adnim"});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("unknown capability 'sys_adnim'"), std::string::npos) << r.error().message();
    for (const char* bad : {"", "21", "cap_", "sys admin", "all"}) {
        auto b = parse_cap_names({bad});
        EXPECT_FALSE(b) << "'" << bad << "' should be rejected";
    }
}

TEST(Caps, NamesForMessages) {
    EXPECT_EQ(cap_name(CAP_SYS_ADMIN), "cap_sys_admin");
    EXPECT_EQ(cap_name(CAP_MAC_OVERRIDE), "cap_mac_override");
}
