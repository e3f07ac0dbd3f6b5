// mmapx/sysv_shm.hpp - System V shared memory (shmget/shmat) as an owning
// object, for software that still speaks it.
//
//   auto seg = mmapx::sysv_shm::create(0x4d4d0001, 1 << 20);   // exclusive, 0600
//   auto bytes = seg.attach();                    // rw_region over the segment
//   ... another process: mmapx::sysv_shm::open(0x4d4d0001).attach<mmapx::access::read>();
//
// Lifetime, as the kernel defines it: a segment lives until it is marked for
// removal (shmctl IPC_RMID) and its last attachment is gone; marking it does
// not detach anybody, and on Linux its id stays attachable until then (its
// key does not: a new shmget with that key makes a new segment). The object
// that created a segment owns it and marks it for removal when destroyed,
// so a segment disappears with its last attachment once its creator is gone;
// keep() hands that duty over. Attachments are regions: they detach when
// unmapped (munmap of a shmat mapping is shmdt), can outlive this object,
// and cannot resize. Permissions are applied exactly (no umask). Sizes: at
// least 1 byte, at most /proc/sys/kernel/shmmax (EINVAL beyond), in total
// at most shmall pages (ENOSPC); a region shows the size asked for.
#pragma once

#include <sys/ipc.h>
#include <sys/shm.h>

#include "region.hpp"

namespace mmapx {

/// Options of sysv_shm::create.
struct sysv_shm_options {
  /// Permission bits of the new segment (the low 9 bits; umask does not apply).
  mode_t permissions = 0600;
};

/// A System V shared memory segment: its id and, for the creator, the duty
/// to mark it for removal. Move-only.
class sysv_shm {
public:
  /// No segment: id() is -1, attach() fails with errc::not_mapped.
  sysv_shm() noexcept = default;
  /// Takes over `other`'s segment and duty; `other` is left without a segment.
  sysv_shm(sysv_shm&& other) noexcept
      : id_(std::exchange(other.id_, -1)), owns_(std::exchange(other.owns_, false)) {}
  /// Marks an owned segment for removal, then takes over `other`'s.
  sysv_shm& operator=(sysv_shm&& other) noexcept {
    if (this != &other) {
      remove_owned();
      id_ = std::exchange(other.id_, -1);
      owns_ = std::exchange(other.owns_, false);
    }
    return *this;
  }
  /// Not copyable: exactly one object owns the duty to remove a segment.
  sysv_shm(const sysv_shm&) = delete;
  sysv_shm& operator=(const sysv_shm&) = delete;
  /// Marks the segment for removal if this object owns it (errors ignored);
  /// attachments stay valid until they go.
  ~sysv_shm() { remove_owned(); }

  /// Creates a segment of `size` bytes under `key` (IPC_PRIVATE: a new
  /// segment no key finds); an existing key is EEXIST.
  static sysv_shm create(key_t key, std::size_t size, const sysv_shm_options& o = {}) {
    return detail::throwing([&](detail::failure& f) { return create_impl(key, size, o, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static sysv_shm create(key_t key, std::size_t size, const sysv_shm_options& o, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return create_impl(key, size, o, f); });
  }
  /// The existing segment under `key` (ENOENT if none); never owns it.
  static sysv_shm open(key_t key) {
    return detail::throwing([&](detail::failure& f) { return open_impl(key, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static sysv_shm open(key_t key, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return open_impl(key, f); });
  }
  /// The segment with id `id` (EINVAL if none; EACCES without read
  /// permission); never owns it.
  static sysv_shm open_id(int id) {
    return detail::throwing([&](detail::failure& f) { return open_id_impl(id, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static sysv_shm open_id(int id, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return open_id_impl(id, f); });
  }

  /// The segment id (for open_id in another process), or -1.
  [[nodiscard]] int id() const noexcept { return id_; }
  /// True when this object marks the segment for removal when destroyed.
  [[nodiscard]] bool owns() const noexcept { return owns_; }
  /// Leaves the segment in place when this object goes away.
  void keep() noexcept { owns_ = false; }

  /// The segment's size in bytes, as created.
  [[nodiscard]] std::size_t size() const {
    return detail::throwing([&](detail::failure& f) { return stat(f).shm_segsz; });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  [[nodiscard]] std::size_t size(std::error_code& ec) const noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return stat(f).shm_segsz; });
  }
  /// How many attachments the segment has, in all processes.
  [[nodiscard]] std::size_t attachments() const {
    return detail::throwing([&](detail::failure& f) { return static_cast<std::size_t>(stat(f).shm_nattch); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  [[nodiscard]] std::size_t attachments(std::error_code& ec) const noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return static_cast<std::size_t>(stat(f).shm_nattch); });
  }

  /// Attaches the whole segment (shmat; SHM_RDONLY for access::read).
  /// Copy-on-write does not exist for System V segments.
  template <access A = access::read_write>
    requires(A != access::copy_on_write)
  region<A> attach() const {
    return detail::throwing([&](detail::failure& f) { return attach_impl<A>(f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  template <access A = access::read_write>
    requires(A != access::copy_on_write)
  region<A> attach(std::error_code& ec) const noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return attach_impl<A>(f); });
  }

  /// Marks the segment for removal now (see the top of this header); this
  /// object no longer owns it.
  void remove() {
    detail::throwing([&](detail::failure& f) { remove_impl(f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void remove(std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { remove_impl(f); });
  }

private:
  static sysv_shm get(key_t key, std::size_t size, int flags, const char* op, detail::failure& f) noexcept {
    sysv_shm out;
    out.id_ = ::shmget(key, size, flags);
    if (out.id_ < 0) f.at(static_cast<std::uint32_t>(key)).fail_errno(op);
    return out;
  }

  static sysv_shm create_impl(key_t key, std::size_t size, const sysv_shm_options& o, detail::failure& f) noexcept {
    auto out = get(key, size, IPC_CREAT | IPC_EXCL | static_cast<int>(o.permissions & 0777), "shmget (create)", f);
    out.owns_ = out.id_ >= 0;
    return out;
  }

  static sysv_shm open_impl(key_t key, detail::failure& f) noexcept {
    if (key == IPC_PRIVATE) {
      f.fail(std::make_error_code(std::errc::invalid_argument), "shmget (IPC_PRIVATE names no existing segment)");
      return {};
    }
    return get(key, 0, 0, "shmget", f);
  }

  static sysv_shm open_id_impl(int id, detail::failure& f) noexcept {
    sysv_shm out;
    if (id < 0) {
      f.fail(std::make_error_code(std::errc::invalid_argument), "shmctl (a negative id)");
      return out;
    }
    out.id_ = id;
    out.stat(f);
    if (f) out.id_ = -1;
    return out;
  }

  ::shmid_ds stat(detail::failure& f) const noexcept {
    ::shmid_ds ds{};
    if (id_ < 0) f.fail(errc::not_mapped, "shmctl (no segment)");
    else if (::shmctl(id_, IPC_STAT, &ds) != 0) f.at(static_cast<std::uint32_t>(id_)).fail_errno("shmctl (IPC_STAT)");
    return ds;
  }

  template <access A>
  region<A> attach_impl(detail::failure& f) const noexcept {
    const auto ds = stat(f);
    if (f) return {};
    void* base = ::shmat(id_, nullptr, A == access::read ? SHM_RDONLY : 0);
    if (base == reinterpret_cast<void*>(-1)) {
      f.at(static_cast<std::uint32_t>(id_)).fail_errno("shmat");
      return {};
    }
    return detail::adopt_mapping<A>(base, ds.shm_segsz, detail::backing::sysv_segment);
  }

  bool remove_impl(detail::failure& f) noexcept {
    if (id_ < 0) return f.fail(errc::not_mapped, "shmctl (no segment)");
    owns_ = false;
    if (::shmctl(id_, IPC_RMID, nullptr) != 0) return f.at(static_cast<std::uint32_t>(id_)).fail_errno("shmctl (IPC_RMID)");
    return true;
  }

  void remove_owned() noexcept {
    if (owns_) ::shmctl(id_, IPC_RMID, nullptr);
    owns_ = false;
  }

  int id_ = -1;
  bool owns_ = false;
};

}  // namespace mmapx
