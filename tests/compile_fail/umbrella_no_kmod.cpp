// expect-error: mmapx::kmod. has not been declared|no member named 'kmod' in namespace 'mmapx'
// The umbrella mmapx.hpp is what a general user needs: the reference kernel
// module's interface (mmapx/kmod.hpp, and <linux/ioctl.h> with it) is
// included on purpose, by name. umbrella_control.cpp is the control.
#include <mmapx/mmapx.hpp>

int main() {
  auto dev = mmapx::kmod::device::open("/dev/mmapx0");
  return dev.native_handle() < 0;
}
