# lxm AppArmor profile for container "{{container}}".
# Rendered by lxm from templates/apparmor/container.profile; edits here are lost.
#
# The template syntax (values, sections and their flags) is described in
# lxm/runtime/apparmor.hpp.
#
# The container is a whole OS with its own init: the profile allows what an
# init (systemd) does and blocks what reaches the host: kernel tunables outside
# the container's namespaces, firmware and debug interfaces, mounts of /proc
# and /sys elsewhere, and signals/ptrace across the profile boundary.

#include <tunables/global>

# Paths a bind, move or remount may take as source: anything except /proc and
# /sys and what is below them (so masked paths cannot be uncovered by a bind).
@{lxm_bindable}=/[^ps]*{,/**} /p[^r]*{,/**} /pr[^o]*{,/**} /pro[^c]*{,/**} /proc?*{,/**}
@{lxm_bindable}+=/s[^y]*{,/**} /sy[^s]*{,/**} /sys?*{,/**}

profile "{{name}}" flags=(attach_disconnected,mediate_deleted) {
  ### Base: a system container uses most of the kernel through its namespaces.
  capability,
  dbus,
  file,
  network,
  umount,
{{#userns}}
  userns,
{{/userns}}

  ### Processes: signals and ptrace stay inside this profile; the monitor and
  ### the host may still signal (stop, kill) and inspect the container.
  signal (receive),
  signal peer=@{profile_name},
  ptrace (readby, tracedby),
  ptrace peer=@{profile_name},

  ### Mounts an init makes.
  # Inits try to remount / read-only at shutdown; deny without noise.
  deny mount options=(ro, remount) -> /,
  deny mount options=(ro, remount, silent) -> /,

  mount fstype=proc -> /proc/,
  mount fstype=sysfs -> /sys/,
  mount options=(ro, nosuid, nodev, noexec, remount) -> /sys/,
  mount fstype=tmpfs,
  mount fstype=ramfs,
  mount fstype=devpts,
  mount fstype=mqueue,
  mount fstype=hugetlbfs,
  mount fstype=fuse,
  mount fstype=fuse.*,
  mount fstype=fusectl -> /sys/fs/fuse/connections/,
  mount fstype=cgroup -> /sys/fs/cgroup/{,**},
  mount fstype=cgroup2 -> /sys/fs/cgroup/{,**},
  mount options=(ro, nosuid, nodev, noexec, remount, strictatime) -> /sys/fs/cgroup/,
  mount options=(rw, nosuid, nodev, remount) -> /run/,
  # Host-wide filesystems: the mount is allowed so units do not fail, the content is not.
  mount fstype=binfmt_misc -> /proc/sys/fs/binfmt_misc/,
  mount fstype=configfs -> /sys/kernel/config/,
  mount fstype=debugfs -> /sys/kernel/debug/,
  mount fstype=tracefs -> /sys/kernel/tracing/,
  mount fstype=securityfs -> /sys/kernel/security/,
  mount fstype=efivarfs -> /sys/firmware/efi/efivars/,

  # Propagation changes on the root.
  mount options=(rw, slave) -> /,
  mount options=(rw, rslave) -> /,
  mount options=(rw, shared) -> /,
  mount options=(rw, rshared) -> /,
  mount options=(rw, private) -> /,
  mount options=(rw, rprivate) -> /,
  mount options=(rw, unbindable) -> /,
  mount options=(rw, runbindable) -> /,

  # Bind, rbind, move and read-only bind remounts (systemd's PrivateTmp,
  # ProtectSystem, ...) of anything but /proc and /sys.
  mount options=(rw, bind) @{lxm_bindable},
  mount options=(rw, rbind) @{lxm_bindable},
  mount options=(rw, move) @{lxm_bindable},
  mount options=(ro, remount, bind) @{lxm_bindable},
  mount options=(ro, remount, bind, nodev) @{lxm_bindable},
  mount options=(ro, remount, bind, noexec) @{lxm_bindable},
  mount options=(ro, remount, bind, noexec, nodev) @{lxm_bindable},
  mount options=(ro, remount, bind, nosuid) @{lxm_bindable},
  mount options=(ro, remount, bind, nosuid, nodev) @{lxm_bindable},
  mount options=(ro, remount, bind, nosuid, noexec) @{lxm_bindable},
  mount options=(ro, remount, bind, nosuid, noexec, nodev) @{lxm_bindable},
  mount options=(ro, remount, bind, noatime) @{lxm_bindable},
  mount options=(ro, remount, bind, nosuid, noexec, strictatime) @{lxm_bindable},

  ### /proc: kernel memory, sysrq and hardware interfaces are host-wide.
  deny /proc/kcore rwklx,
  deny /proc/kmem rwklx,
  deny /proc/mem rwklx,
  deny /proc/sysrq-trigger rwklx,
  deny /proc/acpi/** rwklx,
  deny /proc/bus/** wklx,
{{^binfmt}}
  deny /proc/sys/fs/binfmt_misc/{,**} rwklx,
{{/binfmt}}

  # /proc/sys is writable only where the container owns the namespace:
  # fs/binfmt_misc, kernel/{hostname,domainname} (uts), kernel/{shm,msg,sem}* (ipc),
  # net/ (net) and user/ (user). Everything else is denied by exclusion.
  deny /proc/sys/[^fknu]*{,/**} wklx,
  deny /proc/sys/f[^s]*{,/**} wklx,
  deny /proc/sys/fs?*{,/**} wklx,
  deny /proc/sys/fs/[^b]*{,/**} wklx,
  deny /proc/sys/fs/b[^i]*{,/**} wklx,
  deny /proc/sys/fs/bi[^n]*{,/**} wklx,
  deny /proc/sys/fs/bin[^f]*{,/**} wklx,
  deny /proc/sys/fs/binf[^m]*{,/**} wklx,
  deny /proc/sys/fs/binfm[^t]*{,/**} wklx,
  deny /proc/sys/fs/binfmt[^_]*{,/**} wklx,
  deny /proc/sys/fs/binfmt_[^m]*{,/**} wklx,
  deny /proc/sys/fs/binfmt_m[^i]*{,/**} wklx,
  deny /proc/sys/fs/binfmt_mi[^s]*{,/**} wklx,
  deny /proc/sys/fs/binfmt_mis[^c]*{,/**} wklx,
  deny /proc/sys/fs/binfmt_misc?*{,/**} wklx,
  deny /proc/sys/k[^e]*{,/**} wklx,
  deny /proc/sys/ke[^r]*{,/**} wklx,
  deny /proc/sys/ker[^n]*{,/**} wklx,
  deny /proc/sys/kern[^e]*{,/**} wklx,
  deny /proc/sys/kerne[^l]*{,/**} wklx,
  deny /proc/sys/kernel?*{,/**} wklx,
  deny /proc/sys/kernel/[^dhms]*{,/**} wklx,
  deny /proc/sys/kernel/d[^o]*{,/**} wklx,
  deny /proc/sys/kernel/do[^m]*{,/**} wklx,
  deny /proc/sys/kernel/dom[^a]*{,/**} wklx,
  deny /proc/sys/kernel/doma[^i]*{,/**} wklx,
  deny /proc/sys/kernel/domai[^n]*{,/**} wklx,
  deny /proc/sys/kernel/domain[^n]*{,/**} wklx,
  deny /proc/sys/kernel/domainn[^a]*{,/**} wklx,
  deny /proc/sys/kernel/domainna[^m]*{,/**} wklx,
  deny /proc/sys/kernel/domainnam[^e]*{,/**} wklx,
  deny /proc/sys/kernel/domainname?*{,/**} wklx,
  deny /proc/sys/kernel/h[^o]*{,/**} wklx,
  deny /proc/sys/kernel/ho[^s]*{,/**} wklx,
  deny /proc/sys/kernel/hos[^t]*{,/**} wklx,
  deny /proc/sys/kernel/host[^n]*{,/**} wklx,
  deny /proc/sys/kernel/hostn[^a]*{,/**} wklx,
  deny /proc/sys/kernel/hostna[^m]*{,/**} wklx,
  deny /proc/sys/kernel/hostnam[^e]*{,/**} wklx,
  deny /proc/sys/kernel/hostname?*{,/**} wklx,
  deny /proc/sys/kernel/m[^s]*{,/**} wklx,
  deny /proc/sys/kernel/ms[^g]*{,/**} wklx,
  deny /proc/sys/kernel/msg*/** wklx,
  deny /proc/sys/kernel/s[^he]*{,/**} wklx,
  deny /proc/sys/kernel/se[^m]*{,/**} wklx,
  deny /proc/sys/kernel/sem*/** wklx,
  deny /proc/sys/kernel/sh[^m]*{,/**} wklx,
  deny /proc/sys/kernel/shm*/** wklx,
  deny /proc/sys/n[^e]*{,/**} wklx,
  deny /proc/sys/ne[^t]*{,/**} wklx,
  deny /proc/sys/net?*{,/**} wklx,
  deny /proc/sys/u[^s]*{,/**} wklx,
  deny /proc/sys/us[^e]*{,/**} wklx,
  deny /proc/sys/use[^r]*{,/**} wklx,
  deny /proc/sys/user?*{,/**} wklx,

  ### /sys: writable only for the container's network devices (class/net,
  ### devices/virtual/net), its cgroups (fs/cgroup) and bpffs (fs/bpf).
  deny /sys/[^cdf]*{,/**} wklx,
  deny /sys/c[^l]*{,/**} wklx,
  deny /sys/cl[^a]*{,/**} wklx,
  deny /sys/cla[^s]*{,/**} wklx,
  deny /sys/clas[^s]*{,/**} wklx,
  deny /sys/class?*{,/**} wklx,
  deny /sys/class/[^n]*{,/**} wklx,
  deny /sys/class/n[^e]*{,/**} wklx,
  deny /sys/class/ne[^t]*{,/**} wklx,
  deny /sys/class/net?*{,/**} wklx,
  deny /sys/d[^e]*{,/**} wklx,
  deny /sys/de[^v]*{,/**} wklx,
  deny /sys/dev[^i]*{,/**} wklx,
  deny /sys/devi[^c]*{,/**} wklx,
  deny /sys/devic[^e]*{,/**} wklx,
  deny /sys/device[^s]*{,/**} wklx,
  deny /sys/devices?*{,/**} wklx,
  deny /sys/devices/[^v]*{,/**} wklx,
  deny /sys/devices/v[^i]*{,/**} wklx,
  deny /sys/devices/vi[^r]*{,/**} wklx,
  deny /sys/devices/vir[^t]*{,/**} wklx,
  deny /sys/devices/virt[^u]*{,/**} wklx,
  deny /sys/devices/virtu[^a]*{,/**} wklx,
  deny /sys/devices/virtua[^l]*{,/**} wklx,
  deny /sys/devices/virtual?*{,/**} wklx,
  deny /sys/devices/virtual/[^n]*{,/**} wklx,
  deny /sys/devices/virtual/n[^e]*{,/**} wklx,
  deny /sys/devices/virtual/ne[^t]*{,/**} wklx,
  deny /sys/devices/virtual/net?*{,/**} wklx,
  deny /sys/f[^s]*{,/**} wklx,
  deny /sys/fs?*{,/**} wklx,
  deny /sys/fs/[^bc]*{,/**} wklx,
  deny /sys/fs/b[^p]*{,/**} wklx,
  deny /sys/fs/bp[^f]*{,/**} wklx,
  deny /sys/fs/bpf?*{,/**} wklx,
  deny /sys/fs/c[^g]*{,/**} wklx,
  deny /sys/fs/cg[^r]*{,/**} wklx,
  deny /sys/fs/cgr[^o]*{,/**} wklx,
  deny /sys/fs/cgro[^u]*{,/**} wklx,
  deny /sys/fs/cgrou[^p]*{,/**} wklx,
  deny /sys/fs/cgroup?*{,/**} wklx,
  # Not even readable: debug, tracing, configfs, firmware variables, LSM state.
  deny /sys/kernel/{debug,tracing,config,security}/{,**} rwklx,
  deny /sys/firmware/efi/efivars/{,**} rwklx,

{{#unprivileged}}
  ### Unprivileged: the user namespace already confines mounts and pivot_root
  ### (the kernel checks the mount namespace's owner), so allow them all as
  ### nested containers and systemd's sandboxing need them.
  pivot_root,
  mount,

{{/unprivileged}}
{{#nesting}}
  ### Nesting: the container runs containers of its own.
  pivot_root,
  mount,
  ptrace,
  signal,
  change_profile -> "{{name}}",

{{/nesting}}
{{#raw}}
  ### Extra rules from the instance configuration (raw.apparmor).
{{raw}}

{{/raw}}
}
