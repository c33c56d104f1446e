#include "lxm/runtime/cgroup_device_bpf.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "lxm/base/file.hpp"

namespace lxm::runtime {

namespace {

// Instruction builders (the encodings of linux/filter.h, which is not a uapi header).
bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}
bpf_insn ldx_w(uint8_t dst, uint8_t src, int16_t off) { return insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0); }
bpf_insn alu32_imm(uint8_t op, uint8_t dst, int32_t imm) { return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm); }
bpf_insn mov64_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn mov64_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
// 32-bit compare: majors and minors are u32 and would be sign-extended by a 64-bit compare.
bpf_insn jne32_imm(uint8_t dst, uint32_t imm) {
    return insn(BPF_JMP32 | BPF_JNE | BPF_K, dst, 0, 0, static_cast<int32_t>(imm));
}
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

// Registers after the prologue.
constexpr uint8_t kCtx = 1, kType = 2, kAccess = 3, kMajor = 4, kMinor = 5, kScratch = 1, kRet = 0;
constexpr uint8_t kRwm = DeviceRule::kMknod | DeviceRule::kRead | DeviceRule::kWrite;

long sys_bpf(int cmd, bpf_attr* attr) { return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

}  // namespace

base::Result<std::vector<bpf_insn>> device_rules_to_bpf(const std::vector<DeviceRule>& rules) {
    std::vector<bpf_insn> prog = {
        ldx_w(kType, kCtx, offsetof(bpf_cgroup_dev_ctx, access_type)),
        alu32_imm(BPF_AND, kType, 0xffff),  // BPF_DEVCG_DEV_*
        ldx_w(kAccess, kCtx, offsetof(bpf_cgroup_dev_ctx, access_type)),
        alu32_imm(BPF_RSH, kAccess, 16),    // BPF_DEVCG_ACC_*
        ldx_w(kMajor, kCtx, offsetof(bpf_cgroup_dev_ctx, major)),
        ldx_w(kMinor, kCtx, offsetof(bpf_cgroup_dev_ctx, minor)),
    };
    for (const auto& rule : rules) {
        LXM_TRY_VOID(validate_device_rule(rule));
        // One block: compares that jump past the block on mismatch, then "return 1".
        std::vector<bpf_insn> block;
        if (rule.type != 'a')
            block.push_back(jne32_imm(kType, rule.type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK));
        if (rule.access != kRwm) {
            // Every requested access bit must be allowed: (access & ~allowed) == 0.
            block.push_back(mov64_reg(kScratch, kAccess));
            block.push_back(alu32_imm(BPF_AND, kScratch, ~rule.access & kRwm));
            block.push_back(jne32_imm(kScratch, 0));
        }
        if (rule.major != DeviceRule::kAny) block.push_back(jne32_imm(kMajor, static_cast<uint32_t>(rule.major)));
        if (rule.minor != DeviceRule::kAny) block.push_back(jne32_imm(kMinor, static_cast<uint32_t>(rule.minor)));
        block.push_back(mov64_imm(kRet, 1));
        block.push_back(exit_insn());
        bool unconditional = true;
        for (size_t i = 0; i < block.size(); ++i) {
            if (block[i].code == (BPF_JMP32 | BPF_JNE | BPF_K)) {
                block[i].off = static_cast<int16_t>(block.size() - i - 1);
                unconditional = false;
            }
        }
        prog.insert(prog.end(), block.begin(), block.end());
        // Anything after an unconditional allow is unreachable, which the verifier rejects.
        if (unconditional) return prog;
    }
    prog.push_back(mov64_imm(kRet, 0));
    prog.push_back(exit_insn());
    if (prog.size() > BPF_MAXINSNS)
        return base::make_error(std::errc::argument_list_too_long, "device rules: BPF program too long");
    return prog;
}

base::Result<base::UniqueFd> load_device_bpf(const std::vector<bpf_insn>& program) {
    static const char license[] = "GPL";
    auto load = [&](char* log, uint32_t log_size) {
        bpf_attr attr;
        std::memset(&attr, 0, sizeof attr);
        attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
        attr.expected_attach_type = BPF_CGROUP_DEVICE;
        attr.insns = reinterpret_cast<uintptr_t>(program.data());
        attr.insn_cnt = static_cast<uint32_t>(program.size());
        attr.license = reinterpret_cast<uintptr_t>(license);
        attr.log_buf = reinterpret_cast<uintptr_t>(log);
        attr.log_size = log_size;
        attr.log_level = log ? 1 : 0;
        std::strncpy(attr.prog_name, "lxm_devices", sizeof attr.prog_name - 1);
        return static_cast<int>(sys_bpf(BPF_PROG_LOAD, &attr));  // bpf fds are always O_CLOEXEC
    };
    int fd = load(nullptr, 0);
    if (fd >= 0) return base::UniqueFd(fd);
    int err = errno;
    // Load again with the verifier log for the error text.
    std::string log(64 * 1024, '\0');
    fd = load(log.data(), static_cast<uint32_t>(log.size()));
    if (fd >= 0) return base::UniqueFd(fd);
    log.resize(std::strlen(log.c_str()));
    while (!log.empty() && log.back() == '\n') log.pop_back();
    return base::errno_error("load device BPF program" + (log.empty() ? std::string() : " (verifier: " + log + ")"),
                             err);
}

base::Result<std::vector<uint32_t>> attached_device_bpf_ids(int cgroup_dir_fd) {
    std::vector<uint32_t> ids(64);
    bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.query.target_fd = static_cast<uint32_t>(cgroup_dir_fd);
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = reinterpret_cast<uintptr_t>(ids.data());
    attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
    if (sys_bpf(BPF_PROG_QUERY, &attr) != 0) return base::errno_error("query device BPF programs");
    ids.resize(std::min<size_t>(attr.query.prog_cnt, ids.size()));
    return ids;
}

base::Result<void> attach_device_bpf(int cgroup_dir_fd, int prog_fd) {
    LXM_TRY(auto old_ids, attached_device_bpf_ids(cgroup_dir_fd));
    bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.target_fd = static_cast<uint32_t>(cgroup_dir_fd);
    attr.attach_bpf_fd = static_cast<uint32_t>(prog_fd);
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (sys_bpf(BPF_PROG_ATTACH, &attr) != 0) return base::errno_error("attach device BPF program");
    // The new program is in place: drop the ones it replaces.
    for (uint32_t id : old_ids) {
        bpf_attr get;
        std::memset(&get, 0, sizeof get);
        get.prog_id = id;
        int old_fd = static_cast<int>(sys_bpf(BPF_PROG_GET_FD_BY_ID, &get));
        if (old_fd < 0) {
            if (errno == ENOENT) continue;  // gone meanwhile
            return base::errno_error("get device BPF program " + std::to_string(id));
        }
        base::UniqueFd old(old_fd);
        bpf_attr det;
        std::memset(&det, 0, sizeof det);
        det.target_fd = static_cast<uint32_t>(cgroup_dir_fd);
        det.attach_bpf_fd = static_cast<uint32_t>(old.get());
        det.attach_type = BPF_CGROUP_DEVICE;
        if (sys_bpf(BPF_PROG_DETACH, &det) != 0 && errno != ENOENT)
            return base::errno_error("detach old device BPF program " + std::to_string(id));
    }
    return {};
}

base::Result<void> apply_device_bpf(const std::string& cgroup_dir, const std::vector<DeviceRule>& rules) {
    auto ctx = "device policy for " + cgroup_dir;
    auto prog = device_rules_to_bpf(rules);
    if (!prog) return std::unexpected(base::wrap(prog.error(), ctx));
    auto fd = load_device_bpf(*prog);
    if (!fd) return std::unexpected(base::wrap(fd.error(), ctx));
    auto dir = base::open_fd(cgroup_dir, O_RDONLY | O_DIRECTORY);
    if (!dir) return std::unexpected(base::wrap(dir.error(), ctx));
    // The attachment holds its own reference to the program: closing fd afterwards keeps it.
    return base::wrap(attach_device_bpf(dir->get(), fd->get()), ctx);
}

}  // namespace lxm::runtime
