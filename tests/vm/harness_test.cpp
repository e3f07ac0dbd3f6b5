// The VM harness's own in-guest test: the system /init prepares is the one
// the other VM tests rely on. The hidden [.provoke] cases misbehave on
// purpose; harness_selftest.py runs them to prove the host sees each kind of
// failure (a failed check, a kernel warning, a panic, a hang).
#include <catch.hpp>

#include "privileges.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace {

bool is_char_device(const char* path) {
  struct stat st {};
  return ::stat(path, &st) == 0 && S_ISCHR(st.st_mode);
}

bool is_file(const char* path) {
  struct stat st {};
  return ::stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

long filesystem_type(const char* path) {
  struct statfs fs {};
  return ::statfs(path, &fs) == 0 ? static_cast<long>(fs.f_type) : -1;
}

// From <linux/magic.h>, spelled out so the test needs no kernel headers.
constexpr long proc_magic = 0x9fa0;
constexpr long sysfs_magic = 0x62656572;
constexpr long debugfs_magic = 0x64626720;
constexpr long tmpfs_magic = 0x01021994;

}  // namespace

TEST_CASE("/init mounts devtmpfs, proc, sysfs, debugfs and tmpfs", "[harness]") {
  CHECK(is_char_device("/dev/null"));
  CHECK(is_char_device("/dev/mem"));
  CHECK(is_char_device("/dev/port"));
  CHECK(filesystem_type("/proc") == proc_magic);
  CHECK(filesystem_type("/sys") == sysfs_magic);
  CHECK(filesystem_type("/sys/kernel/debug") == debugfs_magic);
  CHECK(filesystem_type("/dev/shm") == tmpfs_magic);
  CHECK(filesystem_type("/tmp") == tmpfs_magic);
}

TEST_CASE("the guest runs Debian's kernel as root with its UIO modules at hand", "[harness]") {
  utsname un{};
  REQUIRE(::uname(&un) == 0);
  CHECK(std::string(un.release).find("amd64") != std::string::npos);
  CHECK(::geteuid() == 0);
  CHECK(is_file("/modules/uio.ko"));
  CHECK(is_file("/modules/uio_pci_generic.ko"));
  // The x86 PAT list the kernel-module tests read.
  CHECK(is_file("/sys/kernel/debug/x86/pat_memtype_list"));
}

TEST_CASE("provoke: a failing check", "[.provoke-failure]") {
  CHECK(1 + 1 == 3);
}

TEST_CASE("provoke: a kernel warning in the log", "[.provoke-warning]") {
  mmapx_test::write_kernel_file("/dev/kmsg", "WARNING: provoked by harness_test\n");
}

TEST_CASE("provoke: a kernel panic", "[.provoke-panic]") {
  mmapx_test::write_kernel_file("/proc/sys/kernel/sysrq", "1\n");
  mmapx_test::write_kernel_file("/proc/sysrq-trigger", "c\n");
}

TEST_CASE("provoke: a hang", "[.provoke-hang]") {
  for (;;) ::pause();
}
