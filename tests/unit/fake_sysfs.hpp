// tests/unit/fake_sysfs.hpp - a fake sysfs tree in a temporary directory,
// which mmapx reads instead of /sys ($MMAPX_SYSFS_ROOT) while it lives: the
// one way the unit tests give the PCI, UIO and VFIO parsers a machine.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "test_support.hpp"

namespace mmapx_test {

/// A fake sysfs tree that mmapx reads instead of /sys while it lives.
class fake_sysfs {
public:
  fake_sysfs() {
    ::setenv("MMAPX_SYSFS_ROOT", dir_.path().c_str(), 1);
    std::filesystem::create_directories(dir_ / "bus/pci/devices");
    std::filesystem::create_directories(dir_ / "class/uio");
  }
  ~fake_sysfs() { ::unsetenv("MMAPX_SYSFS_ROOT"); }
  fake_sysfs(const fake_sysfs&) = delete;
  fake_sysfs& operator=(const fake_sysfs&) = delete;

  /// Writes `text` to the attribute at `relative` (directories made as needed).
  void attribute(const std::string& relative, const std::string& text) const {
    std::filesystem::create_directories((dir_ / relative).parent_path());
    write_file(dir_ / relative, text);
  }
  /// Makes the symbolic link `relative` (directories made as needed) point
  /// at `target`, which need not exist (mmapx reads only the link's text).
  void link(const std::string& relative, const std::string& target) const {
    std::filesystem::create_directories((dir_ / relative).parent_path());
    std::filesystem::create_symlink(target, dir_ / relative);
  }
  std::filesystem::path operator/(const std::string& relative) const { return dir_ / relative; }

  /// A PCI function with these IDs and `resource` table.
  void pci_device(const std::string& address, const std::string& vendor, const std::string& device,
                  const std::string& resource = "") const {
    const std::string d = "bus/pci/devices/" + address + "/";
    attribute(d + "vendor", vendor);
    attribute(d + "device", device);
    attribute(d + "resource", resource);
  }

private:
  temp_dir dir_;
};

}  // namespace mmapx_test
