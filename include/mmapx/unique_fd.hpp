// mmapx/unique_fd.hpp - an owning file descriptor, and the few file
// operations mapping needs: open (the one place that opens paths, so every
// "open" error names its path the same way), size, and space reservation.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <string_view>
#include <utility>

#include "detail/lfs.hpp"
#include "detail/posix.hpp"
#include "error.hpp"

namespace mmapx {

/// Owns one file descriptor; closes it when destroyed. Move-only.
class unique_fd {
public:
  /// Owns nothing: get() is -1.
  unique_fd() noexcept = default;
  /// Takes ownership of `fd` (-1 for none): this object will close it.
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  /// Takes over `other`'s descriptor; `other` is left owning nothing.
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  /// Closes the current descriptor, then takes over `other`'s.
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  /// Not copyable: exactly one owner closes a descriptor.
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  /// Closes the descriptor, if any (close errors are ignored, as in reset()).
  ~unique_fd() { reset(); }

  /// The descriptor, still owned (-1 if none).
  [[nodiscard]] int get() const noexcept { return fd_; }
  /// True when get() >= 0: this object will close a descriptor.
  explicit operator bool() const noexcept { return fd_ >= 0; }

  /// Gives up ownership without closing.
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

  /// Closes the current descriptor (if any) and takes `fd`. close() errors are
  /// not reportable here: by POSIX the descriptor is gone either way.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

private:
  int fd_ = -1;
};

namespace detail {

/// A path held in a string may contain a NUL byte, and as a C string it
/// would name another file (the part before the NUL): refused here, by
/// every call that takes a path as a string.
inline bool check_path(std::string_view path, failure& f) noexcept {
  if (path.find('\0') == std::string_view::npos) return true;
  f.subject = path;  // shows the part before the NUL
  return f.fail(std::make_error_code(std::errc::invalid_argument), "open (the path contains a NUL byte)");
}

/// Clears O_NONBLOCK on an open descriptor (see open_fd).
inline bool clear_nonblocking(int fd, failure& f) noexcept {
  const int status = ::fcntl(fd, F_GETFL);
  if (status < 0 || ::fcntl(fd, F_SETFL, status & ~O_NONBLOCK) != 0) return f.fail_errno("open (clear O_NONBLOCK)");
  return true;
}

/// open(2) with O_CLOEXEC, retried on EINTR; failures name the path. The
/// open never blocks: opening a FIFO for reading would wait for a writer
/// forever, so the open is O_NONBLOCK, and the flag is cleared afterwards
/// unless `flags` asked for it. Callers then refuse the file types they
/// cannot map (fstat), so a FIFO is a clear error at once, not a hang.
inline unique_fd open_fd(const char* path, int flags, mode_t mode, failure& f) noexcept {
  const int fd = retry_on_eintr([&] { return lfs_open(path, flags | O_CLOEXEC | O_NONBLOCK, mode); });
  if (fd < 0) {
    f.fail_errno("open", stage::open);
    f.subject = path;
    return unique_fd();
  }
  unique_fd owned(fd);
  if ((flags & O_NONBLOCK) == 0 && !clear_nonblocking(fd, f)) {
    f.subject = path;
    return unique_fd();
  }
  return owned;
}

/// A close-on-exec duplicate of `fd`, for a region that must outlive the
/// caller's descriptor; EBADF (reported as "dup") for a descriptor that is not open.
inline unique_fd dup_fd(int fd, failure& f) noexcept {
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) f.fail_errno("dup");
  return unique_fd(copy);
}

/// fstat(2) of `fd` into `st` (64-bit sizes: detail/lfs.hpp); a failure is
/// reported as "stat" with its errno.
inline bool stat_fd(int fd, file_status& st, failure& f) noexcept {
  if (lfs_fstat(fd, st) == 0) return true;
  return f.fail_errno("stat");
}

/// Allocates disk blocks for [offset, offset + length), growing the file if
/// it ends earlier. Done before a writable mapping reaches those bytes, so a
/// full disk is an error now and not a SIGBUS on first touch.
inline bool reserve_range(int fd, std::uint64_t offset, std::uint64_t length, failure& f) noexcept {
  if (length == 0) return true;
  int err;
  do {
    err = lfs_fallocate(fd, static_cast<file_offset>(offset), static_cast<file_offset>(length));
  } while (err == EINTR);
  if (err == 0) return true;
  f.at(offset);
  return f.fail(std::error_code(err, std::system_category()), "reserve space");
}

}  // namespace detail
}  // namespace mmapx
