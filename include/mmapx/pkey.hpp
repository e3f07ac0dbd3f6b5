// mmapx/pkey.hpp - memory protection keys: tag pages of a region with a key,
// then change per thread, without a system call, what that thread may do
// with every page carrying the key.
//
//   auto key = mmapx::protection_key::allocate();
//   key.assign(table, 0, table.size(), mmapx::protection::read_write);
//   key.set_rights(mmapx::key_rights::read_only);   // this thread: writes now fault
//
// What a thread may do with a page is both its page protection and its
// rights for the page's key. Rights are per thread (x86: the PKRU register):
// allocate() gives the calling thread `initial` rights; threads that already
// exist keep the kernel's default for a fresh key (on x86 Linux: no access)
// until they call set_rights themselves; new threads inherit their creator's
// rights. A denied access raises SIGSEGV with si_code SEGV_PKUERR and si_pkey
// the key. Where the CPU or kernel has no protection keys, allocate() fails
// with errc::protection_keys_unavailable and supported() is false.
#pragma once

#include <sys/mman.h>

#include <cerrno>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "region.hpp"

#ifndef PKEY_DISABLE_ACCESS
#define PKEY_DISABLE_ACCESS 0x1
#define PKEY_DISABLE_WRITE 0x2
#endif

namespace mmapx {

/// What the current thread may do with pages carrying a key.
enum class key_rights : unsigned {
  read_write = 0,                      ///< whatever the page protection allows
  read_only = PKEY_DISABLE_WRITE,      ///< writes fault
  none = PKEY_DISABLE_ACCESS,          ///< reads and writes fault
};

/// One allocated protection key; freed when destroyed. Move-only.
class protection_key {
public:
  /// No key: get() is -1 and every operation is errc::not_mapped.
  protection_key() noexcept = default;
  /// Takes over `other`'s key; `other` is left without one.
  protection_key(protection_key&& other) noexcept : key_(std::exchange(other.key_, -1)) {}
  /// Frees the current key, then takes over `other`'s.
  protection_key& operator=(protection_key&& other) noexcept {
    if (this != &other) {
      free_key();
      key_ = std::exchange(other.key_, -1);
    }
    return *this;
  }
  /// Not copyable: exactly one object frees a key.
  protection_key(const protection_key&) = delete;
  protection_key& operator=(const protection_key&) = delete;
  /// pkey_free. Pages still tagged keep the key number: do not free a key
  /// while regions carry it (a later allocate may hand the number out again).
  ~protection_key() { free_key(); }

  /// True when this CPU and kernel provide protection keys (x86: CPUID
  /// reports OSPKE, i.e. the kernel enabled them; elsewhere: a key can be had).
  [[nodiscard]] static bool supported() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (c & (1U << 4)) != 0;
#else
    const int key = ::pkey_alloc(0, 0);
    if (key >= 0) ::pkey_free(key);
    return key >= 0;
#endif
  }

  /// A new key; the calling thread gets `initial` rights for it. No keys on
  /// this CPU or kernel: errc::protection_keys_unavailable; all in use: ENOSPC.
  static protection_key allocate(key_rights initial = key_rights::read_write) {
    return detail::throwing([&](detail::failure& f) { return allocate_impl(initial, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static protection_key allocate(key_rights initial, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return allocate_impl(initial, f); });
  }

  /// The key number, or -1.
  [[nodiscard]] int get() const noexcept { return key_; }

  /// Tags the pages of r holding [offset, offset + length) with this key and
  /// gives them protection `p` (pkey_mprotect; whole pages, as region::protect).
  /// Out of range: errc::range_outside_region; write protection on a
  /// read-only region: EACCES.
  template <access A>
  void assign(region<A>& r, std::size_t offset, std::size_t length, protection p) const {
    detail::throwing([&](detail::failure& f) { assign_impl(r, offset, length, p, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  template <access A>
  void assign(region<A>& r, std::size_t offset, std::size_t length, protection p,
              std::error_code& ec) const noexcept {
    detail::reporting(ec, [&](detail::failure& f) { assign_impl(r, offset, length, p, f); });
  }

  /// Sets the calling thread's rights for this key (no system call).
  void set_rights(key_rights rights) const {
    detail::throwing([&](detail::failure& f) { set_impl(rights, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void set_rights(key_rights rights, std::error_code& ec) const noexcept {
    detail::reporting(ec, [&](detail::failure& f) { set_impl(rights, f); });
  }
  /// The calling thread's rights for this key.
  [[nodiscard]] key_rights rights() const {
    return detail::throwing([&](detail::failure& f) { return get_impl(f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  [[nodiscard]] key_rights rights(std::error_code& ec) const noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return get_impl(f); });
  }

private:
  static protection_key allocate_impl(key_rights initial, detail::failure& f) noexcept {
    protection_key out;
    out.key_ = ::pkey_alloc(0, static_cast<unsigned>(initial));
    if (out.key_ >= 0) return out;
    if (errno == ENOSYS || (errno == ENOSPC && !supported())) {
      f.fail(errc::protection_keys_unavailable, "pkey_alloc");
    } else {
      f.fail_errno("pkey_alloc");
    }
    return out;
  }

  template <access A>
  bool assign_impl(region<A>& r, std::size_t offset, std::size_t length, protection p,
                   detail::failure& f) const noexcept {
    if (key_ < 0) return f.fail(errc::not_mapped, "pkey_mprotect (no key)");
    if (!range_within(offset, length, r.size())) return f.at(offset).fail(errc::range_outside_region, "pkey_mprotect");
    const int prot = detail::prot_flags(p);
    if (!region<A>::writable && (prot & PROT_WRITE) != 0) {
      return f.at(offset).fail(std::make_error_code(std::errc::permission_denied), "pkey_mprotect (read-only region)");
    }
    if (length == 0) return true;
    const auto first = reinterpret_cast<std::uintptr_t>(r.data()) + offset;
    const auto start = align_down(first, r.page_size());
    const auto end = *align_up(first + length, r.page_size());  // inside the mapping
    if (::pkey_mprotect(reinterpret_cast<void*>(start), static_cast<std::size_t>(end - start), prot, key_) != 0) {
      return f.at(offset).fail_errno("pkey_mprotect");
    }
    return true;
  }

  bool set_impl(key_rights rights, detail::failure& f) const noexcept {
    if (key_ < 0) return f.fail(errc::not_mapped, "pkey_set (no key)");
    if (::pkey_set(key_, static_cast<unsigned>(rights)) != 0) return f.fail_errno("pkey_set");
    return true;
  }

  key_rights get_impl(detail::failure& f) const noexcept {
    if (key_ < 0) {
      f.fail(errc::not_mapped, "pkey_get (no key)");
      return key_rights::none;
    }
    const int bits = ::pkey_get(key_);
    if (bits < 0) {
      f.fail_errno("pkey_get");
      return key_rights::none;
    }
    if ((bits & PKEY_DISABLE_ACCESS) != 0) return key_rights::none;
    return (bits & PKEY_DISABLE_WRITE) != 0 ? key_rights::read_only : key_rights::read_write;
  }

  void free_key() noexcept {
    if (key_ >= 0) ::pkey_free(key_);
    key_ = -1;
  }

  int key_ = -1;
};

}  // namespace mmapx
