// mmapx/detail/sysfs.hpp - reading sysfs, once for every backend: paths
// under the sysfs root, attributes as numbers or strings, symbolic links,
// directory listings and the `resource` table of a PCI device.
//
// The root is /sys, or $MMAPX_SYSFS_ROOT when it is set, so that tests can
// point the PCI and UIO parsers at a fake tree in a temporary directory. It
// is read with secure_getenv: a set-user-ID or file-capability program
// always reads the real /sys.
//
// Attributes are small text files the kernel writes in one go ("0x1234\n",
// "7\n", "uio_pci_generic\n"). Every reader here checks the whole text: a
// missing file is the open error (ENOENT), an empty, garbled or over-long
// one is errc::parse_error, a number above 2^64 - 1 errc::value_out_of_range.
// Paths are built in a fixed buffer (no allocation): ENAMETOOLONG, never a
// silently cut path.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "../unique_fd.hpp"
#include "posix.hpp"

namespace mmapx::detail {

/// The sysfs mount point: $MMAPX_SYSFS_ROOT if set and not empty, else "/sys".
inline const char* sysfs_root() noexcept {
  const char* root = ::secure_getenv("MMAPX_SYSFS_ROOT");
  return root != nullptr && root[0] != '\0' ? root : "/sys";
}

/// Directories under the root that mmapx reads (each spelled only here).
inline constexpr const char* sysfs_pci_devices = "bus/pci/devices";
inline constexpr const char* sysfs_uio_class = "class/uio";
inline constexpr const char* sysfs_pci_drivers = "bus/pci/drivers";
inline constexpr const char* sysfs_iommu_groups = "kernel/iommu_groups";

/// `<root>/<relative>`, formatted printf-style into a buffer of its own.
class sysfs_path {
public:
  [[gnu::format(printf, 2, 3)]] explicit sysfs_path(const char* relative, ...) noexcept {
    const int head = std::snprintf(text_, sizeof text_, "%s/", sysfs_root());
    std::va_list args;
    va_start(args, relative);
    const int tail =
        head < 0 || head >= capacity ? -1 : std::vsnprintf(text_ + head, sizeof text_ - head, relative, args);
    va_end(args);
    fits_ = tail >= 0 && head + tail < capacity;
  }

  [[nodiscard]] const char* c_str() const noexcept { return text_; }
  /// False (and ENAMETOOLONG recorded as `op`) when the path did not fit.
  bool check(failure& f, const char* op) const noexcept {
    if (fits_) return true;
    return f.fail(std::make_error_code(std::errc::filename_too_long), op);
  }

private:
  static constexpr int capacity = 512;
  char text_[capacity] = {};
  bool fits_ = false;
};

/// Reads the whole attribute at `path` into buf (NUL-terminated) and returns
/// its length. Every failure names `path`. A text that does not fit in capacity - 1 bytes is
/// errc::parse_error: no attribute mmapx reads is that long.
inline std::size_t read_sysfs_text(const char* path, char* buf, std::size_t capacity, const char* op,
                                   failure& f) noexcept {
  buf[0] = '\0';
  // O_NONBLOCK: a FIFO in a fake tree reads as empty instead of hanging.
  auto fd = open_fd(path, O_RDONLY | O_NONBLOCK, 0, f);
  if (f) {
    f.operation = op;
    return 0;
  }
  std::size_t used = 0;
  for (;;) {
    // One byte more than fits, to tell "exactly full" from "too long".
    char extra;
    char* into = used + 1 < capacity ? buf + used : &extra;
    const std::size_t room = used + 1 < capacity ? capacity - 1 - used : 1;
    const ssize_t n = retry_on_eintr([&] { return ::read(fd.get(), into, room); });
    if (n == 0) break;
    if (n < 0 || into == &extra) {
      if (n < 0) f.fail_errno(op);
      else f.fail(errc::parse_error, op);
      f.subject = path;
      return 0;
    }
    used += static_cast<std::size_t>(n);
  }
  buf[used] = '\0';
  return used;
}

/// The attribute's text without its one trailing newline.
inline std::string_view sysfs_value(const char* text, std::size_t length) noexcept {
  if (length > 0 && text[length - 1] == '\n') --length;
  return {text, length};
}

/// Reads a number attribute ("0x1234", "7"; the syntax of parse_unsigned).
inline bool read_sysfs_number(const char* path, std::uint64_t& value, const char* op, failure& f) noexcept {
  char text[96];
  const std::size_t n = read_sysfs_text(path, text, sizeof text, op, f);
  if (f) return false;
  if (parse_unsigned(sysfs_value(text, n), value, f, op)) return true;
  f.subject = path;
  return false;
}

/// Reads a string attribute (a name) into buf, without the trailing newline.
/// An empty attribute is "" (drivers may leave names empty).
inline bool read_sysfs_string(const char* path, char* buf, std::size_t capacity, const char* op,
                              failure& f) noexcept {
  const std::size_t n = read_sysfs_text(path, buf, capacity, op, f);
  if (f) return false;
  buf[sysfs_value(buf, n).size()] = '\0';
  return true;
}

/// The last component of the target of the symbolic link at `path` (e.g.
/// "0000:00:04.0" for a `device` link) into buf; false if there is no link
/// or the target does not fit.
inline bool read_sysfs_link_name(const char* path, char* buf, std::size_t capacity) noexcept {
  char target[512];
  const ssize_t n = ::readlink(path, target, sizeof target);
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof target) return false;
  target[n] = '\0';
  const char* slash = std::strrchr(target, '/');
  const char* name = slash != nullptr ? slash + 1 : target;
  if (std::strlen(name) >= capacity) return false;
  std::strcpy(buf, name);
  return true;
}

/// Calls `each(name)` for every entry of the directory `dir` but "." and
/// "..". An exception from `each` (std::bad_alloc) stops the listing and is
/// recorded as ENOMEM. Opening the directory fails as `op`.
template <class Each>
bool list_sysfs_dir(const char* dir, const char* op, failure& f, Each&& each) noexcept {
  DIR* listing = ::opendir(dir);
  if (listing == nullptr) return f.fail_errno(op);
  try {
    while (const dirent* entry = ::readdir(listing)) {
      if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) each(entry->d_name);
    }
  } catch (...) {
    f.fail(std::make_error_code(std::errc::not_enough_memory), op);
  }
  ::closedir(listing);
  return !f;
}

/// One line of a `resource` table: "start end flags", three numbers.
struct sysfs_resource {
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  std::uint64_t flags = 0;
};

/// Parses line `index` (from 0) of a `resource` table (a PCI device's
/// sysfs `resource` file). False, with errc::parse_error (or
/// errc::value_out_of_range for a number above 2^64 - 1) recorded as `op`,
/// when the table has no such line or the line is not three numbers.
inline bool parse_sysfs_resource(std::string_view table, unsigned index, sysfs_resource& out, const char* op,
                                 failure& f) noexcept {
  for (unsigned line = 0; line < index; ++line) {
    const auto newline = table.find('\n');
    if (newline == std::string_view::npos) return f.fail(errc::parse_error, op);
    table.remove_prefix(newline + 1);
  }
  table = table.substr(0, table.find('\n'));
  std::uint64_t* fields[] = {&out.start, &out.end, &out.flags};
  for (std::uint64_t* field : fields) {
    const auto space = table.find(' ');
    if (!parse_unsigned(table.substr(0, space), *field, f, op)) return false;
    table = space == std::string_view::npos ? std::string_view() : table.substr(space + 1);
  }
  return table.empty() || f.fail(errc::parse_error, op);
}

}  // namespace mmapx::detail
