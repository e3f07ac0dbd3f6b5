// expect-success
// The control of umbrella_no_kmod.cpp: the umbrella compiles on its own and
// brings neither the kernel module's UAPI nor <linux/ioctl.h>; kmod.hpp
// included by name gives the kmod names.
#include <mmapx/mmapx.hpp>

#if defined(MMAPX_KMOD_IOC_GEOMETRY) || defined(_IOC)
#error "mmapx/mmapx.hpp must not include the kernel module's UAPI or <linux/ioctl.h>"
#endif

#include <mmapx/kmod.hpp>

int main() {
  auto region = mmapx::map_anonymous(4096);
  std::error_code ec;
  auto dev = mmapx::kmod::device::open("/dev/mmapx0", ec);
  return region.size() == 4096 && dev.native_handle() < 0 ? 0 : 1;
}
