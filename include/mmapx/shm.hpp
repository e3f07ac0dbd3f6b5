// mmapx/shm.hpp - POSIX shared memory (shm_open) as an owning object: a name
// other processes can open, a size, permissions, and mappings of it.
//
//   auto shm = mmapx::shared_memory::create("/frames", 1 << 20);   // exclusive
//   auto bytes = shm.map();                        // rw_region over the whole object
//   ... another process: mmapx::shared_memory::open("/frames").map<mmapx::access::read>();
//
// The object that created a name owns it and unlinks it when destroyed, so a
// crashed test or a forgotten cleanup does not leave names behind in
// /dev/shm. keep_name() hands the name over to whoever unlinks it later.
#pragma once

#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cstring>
#include <string>

#include "file.hpp"

namespace mmapx {

/// Options of shared_memory::create, open_or_create and open.
struct shm_options {
  /// Permission bits of a newly created object, applied exactly (not masked
  /// by the process umask).
  mode_t permissions = 0600;
  /// Open read-only: only access::read mappings will work.
  bool read_only = false;
};

/// An open POSIX shared memory object: descriptor, name and, when this object
/// created the name, the duty to unlink it. Move-only.
class shared_memory {
public:
  /// No object: is_open() is false and map() fails with errc::not_mapped.
  shared_memory() noexcept = default;
  /// Takes over `other`'s descriptor, name and ownership of the name; `other`
  /// is left owning nothing.
  shared_memory(shared_memory&& other) noexcept
      : fd_(std::move(other.fd_)), name_(std::move(other.name_)), owns_name_(std::exchange(other.owns_name_, false)) {}
  /// Unlinks a name this object owns, then takes over `other`'s.
  shared_memory& operator=(shared_memory&& other) noexcept {
    if (this != &other) {
      remove_owned_name();
      fd_ = std::move(other.fd_);
      name_ = std::move(other.name_);
      owns_name_ = std::exchange(other.owns_name_, false);
    }
    return *this;
  }
  /// Not copyable: exactly one object owns a name.
  shared_memory(const shared_memory&) = delete;
  shared_memory& operator=(const shared_memory&) = delete;
  /// Unlinks the name if this object owns it (errors ignored); mappings stay valid.
  ~shared_memory() { remove_owned_name(); }

  /// Creates `name` ("/something") of `size` bytes; fails if it exists.
  static shared_memory create(const char* name, std::size_t size, const shm_options& o = {}) {
    return detail::throwing([&](detail::failure& f) { return make(name, mode::create, size, o, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static shared_memory create(const char* name, std::size_t size, const shm_options& o,
                              std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return make(name, mode::create, size, o, f); });
  }

  /// Opens `name`, creating it if needed; grows it to at least `size`. Owns
  /// the name only if this call created it.
  static shared_memory open_or_create(const char* name, std::size_t size, const shm_options& o = {}) {
    return detail::throwing([&](detail::failure& f) { return make(name, mode::open_or_create, size, o, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static shared_memory open_or_create(const char* name, std::size_t size, const shm_options& o,
                                      std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return make(name, mode::open_or_create, size, o, f); });
  }

  /// Opens an existing `name`; never owns it.
  static shared_memory open(const char* name, const shm_options& o = {}) {
    return detail::throwing([&](detail::failure& f) { return make(name, mode::open, 0, o, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static shared_memory open(const char* name, const shm_options& o, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return make(name, mode::open, 0, o, f); });
  }

  /// Removes a name without opening it (e.g. one left by a crashed run).
  static void unlink(const char* name) {
    detail::throwing([&](detail::failure& f) { unlink_impl(name, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static void unlink(const char* name, std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { unlink_impl(name, f); });
  }

  /// The name as opened ("/frames"); "" when there is no object.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// The descriptor (still owned by this object), or -1.
  [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }
  /// True when an object is open (false when default-constructed or moved from).
  [[nodiscard]] bool is_open() const noexcept { return static_cast<bool>(fd_); }
  /// True when this object will unlink the name when destroyed.
  [[nodiscard]] bool owns_name() const noexcept { return owns_name_; }
  /// Leaves the name in place when this object goes away.
  void keep_name() noexcept { owns_name_ = false; }

  /// The object's current size (another process may have changed it).
  [[nodiscard]] std::size_t size() const {
    return detail::throwing([&](detail::failure& f) { return size_impl(f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  [[nodiscard]] std::size_t size(std::error_code& ec) const noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return size_impl(f); });
  }

  /// Sets the size. Mappings made before keep their length; bytes past a
  /// shrunken end raise SIGBUS when touched, as with any file.
  void resize(std::size_t new_size) {
    detail::throwing([&](detail::failure& f) { resize_impl(new_size, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void resize(std::size_t new_size, std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { resize_impl(new_size, f); });
  }

  /// Unlinks the name now; open descriptors and mappings stay valid.
  void unlink() {
    detail::throwing([&](detail::failure& f) { unlink_own(f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void unlink(std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { unlink_own(f); });
  }

  /// Maps [offset, offset + length) of the object; length 0 means "to the
  /// current end". The rules of map_file: a read-only or copy-on-write
  /// mapping past the end is errc::offset_beyond_end / length_beyond_end,
  /// a writable one grows the object first; an end past the largest off_t
  /// is errc::size_overflow. The region holds its own descriptor, so it may
  /// outlive this object.
  template <access A = access::read_write>
  region<A> map(std::uint64_t offset = 0, std::size_t length = 0, const map_options& opts = {}) const {
    return detail::throwing([&](detail::failure& f) { return map_impl<A>(offset, length, opts, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  template <access A = access::read_write>
  region<A> map(std::uint64_t offset, std::size_t length, const map_options& opts,
                std::error_code& ec) const noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return map_impl<A>(offset, length, opts, f); });
  }

private:
  enum class mode { create, open_or_create, open };

  /// POSIX leaves names without a leading slash, or with more slashes,
  /// implementation-defined; mmapx accepts only the portable form.
  static bool check_name(const char* name, detail::failure& f) noexcept {
    f.subject = name;
    if (name == nullptr || name[0] != '/' || name[1] == '\0' || std::strchr(name + 1, '/') != nullptr ||
        std::strcmp(name, "/.") == 0 || std::strcmp(name, "/..") == 0) {
      f.subject = name != nullptr ? name : "(null)";
      return f.fail(std::make_error_code(std::errc::invalid_argument),
                    "shm_open (a name is '/' and 1 to 255 further characters, none of them '/')");
    }
    if (std::strlen(name + 1) > NAME_MAX) {
      return f.fail(std::make_error_code(std::errc::filename_too_long),
                    "shm_open (a name is '/' and 1 to 255 further characters, none of them '/')");
    }
    return true;
  }

  /// An object another process put in /dev/shm may be anything; only a
  /// regular file can be sized and mapped. Clears the O_NONBLOCK of the open.
  static bool check_regular(int fd, detail::failure& f) noexcept {
    detail::file_status st {};
    if (!detail::stat_fd(fd, st, f)) return false;
    if (!S_ISREG(st.st_mode)) return f.fail(errc::not_regular_file, "shm_open");
    return detail::clear_nonblocking(fd, f);
  }

  static shared_memory make(const char* name, mode m, std::size_t size, const shm_options& o,
                            detail::failure& f) noexcept {
    shared_memory shm;
    if (!check_name(name, f)) return shm;
    const int access_flags = o.read_only ? O_RDONLY : O_RDWR;
    bool created = false;
    if (m != mode::open) {
      shm.fd_.reset(::shm_open(name, access_flags | O_CREAT | O_EXCL | O_CLOEXEC, o.permissions));
      created = static_cast<bool>(shm.fd_);
      if (!created && (m == mode::create || errno != EEXIST)) {
        f.fail_errno("shm_open (create)");
        return shm;
      }
    }
    if (!created) {
      // O_NONBLOCK: a FIFO put in /dev/shm must not block a read-only open.
      shm.fd_.reset(::shm_open(name, access_flags | O_CLOEXEC | O_NONBLOCK, 0));
      if (!shm.fd_) {
        f.fail_errno("shm_open");
        return shm;
      }
      if (!check_regular(shm.fd_.get(), f)) return shared_memory{};
    }
    try {
      shm.name_ = name;
    } catch (...) {
      if (created) ::shm_unlink(name);
      f.fail(std::make_error_code(std::errc::not_enough_memory), "shm_open");
      return shm;
    }
    shm.owns_name_ = created;
    if (created && ::fchmod(shm.fd_.get(), o.permissions) != 0) {
      f.fail_errno("set shared memory permissions");
    } else if (m != mode::open) {
      const std::size_t current = shm.size_impl(f);
      if (!f && current < size) shm.resize_impl(size, f);
    }
    if (f) return shared_memory{};  // a failed call leaves nothing: `shm` unlinks a name it created
    return shm;
  }

  static bool unlink_impl(const char* name, detail::failure& f) noexcept {
    if (!check_name(name, f)) return false;
    if (::shm_unlink(name) != 0) return f.fail_errno("shm_unlink");
    return true;
  }

  bool unlink_own(detail::failure& f) noexcept {
    if (name_.empty()) return f.fail(errc::not_mapped, "shm_unlink (no shared memory object)");
    owns_name_ = false;
    return unlink_impl(name_.c_str(), f);
  }

  void remove_owned_name() noexcept {
    if (owns_name_) ::shm_unlink(name_.c_str());
    owns_name_ = false;
  }

  std::size_t size_impl(detail::failure& f) const noexcept {
    f.subject = name_.c_str();
    detail::file_status st {};
    if (!detail::stat_fd(fd_.get(), st, f)) return 0;
    return static_cast<std::size_t>(st.st_size);
  }

  bool resize_impl(std::size_t new_size, detail::failure& f) const noexcept {
    f.subject = name_.c_str();
    if (new_size > largest_file_end) return f.at(new_size).fail(errc::size_overflow, "resize shared memory");
    if (detail::lfs_ftruncate(fd_.get(), static_cast<detail::file_offset>(new_size)) != 0) {
      f.at(new_size);
      return f.fail_errno("resize shared memory");
    }
    return true;
  }

  template <access A>
  region<A> map_impl(std::uint64_t offset, std::size_t length, const map_options& opts,
                     detail::failure& f) const noexcept {
    f.subject = name_.c_str();
    if (!fd_) {
      f.fail(errc::not_mapped, "map shared memory (no shared memory object)");
      return {};
    }
    auto fd = detail::dup_fd(fd_.get(), f);
    if (f) return {};
    // The rules of file mappings: read-only and copy-on-write mappings stop
    // at the end, a writable one grows the object first (no SIGBUS later).
    return detail::map_open_file<A>(std::move(fd), {.offset = offset, .length = length, .map = opts}, f);
  }

  unique_fd fd_;
  std::string name_;
  bool owns_name_ = false;
};

}  // namespace mmapx
