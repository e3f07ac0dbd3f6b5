// tests/vm/vfio_support.hpp - what the VFIO guest tests do to the machine
// around the library: bind devices to drivers through sysfs, find edu
// devices, expect an error with a message (capabilities and kernel files:
// tests/privileges.hpp).
#pragma once

#include <catch.hpp>

#include <mmapx/devices/edu.hpp>
#include <mmapx/pci.hpp>
#include <mmapx/vfio.hpp>

#include "privileges.hpp"

#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>

namespace vfio_test {

inline const std::string sysfs_pci = "/sys/bus/pci/devices/";

/// The driver a device is bound to, or "".
inline std::string driver_of(const std::string& address) {
  char driver[256];
  return mmapx::detail::read_sysfs_link_name((sysfs_pci + address + "/driver").c_str(), driver, sizeof driver) ? driver
                                                                                                              : "";
}

/// Unbinds the device from its driver, if any.
inline void unbind(const std::string& address) {
  const std::string driver = driver_of(address);
  if (!driver.empty()) REQUIRE(mmapx_test::write_kernel_file("/sys/bus/pci/drivers/" + driver + "/unbind", address));
  REQUIRE(driver_of(address).empty());
}

/// Binds the device to `driver` the way docs/vfio.md says: driver_override,
/// then a probe. False when the driver's probe failed.
inline bool bind(const std::string& address, const std::string& driver) {
  unbind(address);
  REQUIRE(mmapx_test::write_kernel_file(sysfs_pci + address + "/driver_override", driver));
  mmapx_test::write_kernel_file("/sys/bus/pci/drivers_probe", address);
  return driver_of(address) == driver;
}

/// Waits until the kernel log has a line containing `text` (read from
/// /dev/kmsg, from the start of the log); false after `timeout`.
inline bool wait_for_kernel_line(const std::string& text, std::chrono::milliseconds timeout) {
  const int fd = ::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool found = false;
  char record[2048];
  while (!found && std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = ::read(fd, record, sizeof record - 1);
    if (n > 0) {
      record[n] = '\0';
      found = std::strstr(record, text.c_str()) != nullptr;
    } else if (n < 0 && errno == EAGAIN) {
      ::usleep(10000);
    } else if (n < 0 && errno != EPIPE) {  // EPIPE: records overwritten meanwhile
      break;
    }
  }
  ::close(fd);
  return found;
}

/// Runs `fn`, which must throw std::system_error with condition/code `code`
/// and a message containing every one of `parts`; returns the message.
template <class Fn, class Code>
std::string expect_error(Fn&& fn, Code code, std::initializer_list<const char*> parts) {
  try {
    fn();
  } catch (const std::system_error& e) {
    INFO(e.what());
    CHECK(e.code() == code);
    for (const char* p : parts) CHECK_THAT(e.what(), Catch::Contains(p));
    return e.what();
  }
  FAIL("no exception");
  return {};
}

}  // namespace vfio_test
