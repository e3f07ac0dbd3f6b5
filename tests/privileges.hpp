// tests/privileges.hpp - the one way mmapx's tests that run as root (the VM
// suite) change what the kernel lets them do: drop a capability, and write
// a kernel attribute (/sys, /proc/sys, /dev/kmsg). Beside child_process.hpp,
// since dropping a capability is mostly done in a forked child.
#pragma once

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace mmapx_test {

/// How far drop_capability takes a capability away.
enum class drop_scope {
  effective,  ///< from the effective set only: uid 0 keeps it permitted (and could take it back)
  for_good,   ///< from the effective, permitted, inheritable and bounding sets: gone for this process and its children
};

/// Drops capability `cap` (CAP_SYS_ADMIN, ...) from this process, keeping
/// uid 0; true if the kernel accepted it.
inline bool drop_capability(int cap, drop_scope scope = drop_scope::effective) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  const unsigned bit = 1U << (cap % 32);
  auto& word = data[cap / 32];
  word.effective &= ~bit;
  if (scope == drop_scope::for_good) {
    word.permitted &= ~bit;
    word.inheritable &= ~bit;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return false;
  }
  return ::syscall(SYS_capset, &header, data) == 0;
}

/// Writes `text` to the kernel file at `path` (a sysfs attribute, a
/// /proc/sys parameter, /dev/kmsg) in one write; false when the kernel
/// refused it (the write's error, e.g. EINVAL for a bad value).
inline bool write_kernel_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  return out.good();
}

}  // namespace mmapx_test
