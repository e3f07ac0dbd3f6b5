// mmapx/sigbus.hpp - copies into and out of a mapping that report an error
// instead of killing the process when the mapped pages are gone.
//
// Touching a page of a file mapping that lies past the end of the file (the
// file was truncated by someone else), or whose read failed (an I/O error, a
// full disk under a sparse file), raises SIGBUS. These helpers run the copy
// under a recovery point: a SIGBUS inside that copy, at an address the copy
// covers, makes the call fail with EFAULT (EIO for a hardware memory error)
// naming the offset of a missing byte, and the program goes on.
//
//   std::vector<std::byte> buf(n);
//   mmapx::copy_from(region, offset, buf, ec);   // ec == EFAULT if truncated
//
// How: one process-wide SIGBUS handler, installed once with sigaction on the
// first guarded copy (or by install_sigbus_handler), and a thread-local
// pointer to the current copy's recovery point. Each thread has its own, so
// guarded copies in many threads at once are independent.
//
// Limits (by design; read before relying on it):
// - Only the bytes copied by these calls are guarded. Reading the mapping
//   directly (region.data()[i], a typed view) is not: a SIGBUS there goes to
//   whatever handler the program had before (by default the process dies).
// - Only SIGBUS is handled; SIGSEGV (a pointer outside any mapping) is a bug
//   in the caller, and is left alone.
// - mmapx's handler chains to the one it replaced (that one's sa_mask is
//   applied; SA_RESETHAND and SA_NODEFER of that handler are not reproduced).
//   A program that installs its own SIGBUS handler after mmapx's must chain to
//   the one it replaced, or guarded copies lose their protection.
// - The recovery point is thread-local. In a shared object loaded with dlopen
//   the first access to thread-local storage from a thread may allocate; the
//   handler is then safe only in threads that already made a guarded copy.
// - A copy that fails has copied an unspecified part of the range.
// - A write that fails (copy_to) may have dirtied pages before the fault; the
//   file's state is what the kernel kept of them.
#pragma once

#include <setjmp.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "error.hpp"
#include "region.hpp"

namespace mmapx {

namespace detail {

/// One guarded copy in progress: where to resume, which addresses are its own.
struct sigbus_guard {
  sigjmp_buf resume;
  std::uintptr_t ranges[2][2];  // [begin, end) of the source and the destination
  void* volatile fault_address = nullptr;
  volatile int fault_code = 0;

  bool covers(const void* address) const noexcept {
    const auto a = reinterpret_cast<std::uintptr_t>(address);
    for (const auto& r : ranges)
      if (a >= r[0] && a < r[1]) return true;
    return false;
  }
};

/// This thread's guarded copy, or null. Written only by its own thread.
inline thread_local sigbus_guard* current_sigbus_guard = nullptr;

/// The SIGBUS action that was in place before mmapx's; read by the handler,
/// written once before the handler is installed.
inline struct ::sigaction previous_sigbus_action {};

/// Hands a SIGBUS that is not ours to the action that was there before.
inline void chain_sigbus(int sig, ::siginfo_t* info, void* context) noexcept {
  const int saved_errno = errno;
  const struct ::sigaction& old = previous_sigbus_action;
  const bool sent_by_process = info == nullptr || info->si_code <= 0;  // kill(2), sigqueue(3)
  if ((old.sa_flags & SA_SIGINFO) == 0 &&
      (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN)) {
    if (old.sa_handler == SIG_IGN && sent_by_process) {
      errno = saved_errno;
      return;
    }
    // Back to the default action: a fault re-executes the faulting
    // instruction when we return and dies of SIGBUS as it would have; a sent
    // signal is raised again and delivered once this handler returns.
    struct ::sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigemptyset(&dfl.sa_mask);
    ::sigaction(SIGBUS, &dfl, nullptr);
    if (sent_by_process) ::raise(SIGBUS);
    errno = saved_errno;
    return;
  }
  ::sigset_t saved_mask;
  ::pthread_sigmask(SIG_BLOCK, &old.sa_mask, &saved_mask);
  if ((old.sa_flags & SA_SIGINFO) != 0) {
    old.sa_sigaction(sig, info, context);
  } else {
    old.sa_handler(sig);
  }
  ::pthread_sigmask(SIG_SETMASK, &saved_mask, nullptr);
  errno = saved_errno;
}

/// The process-wide handler: resumes the guarded copy that faulted, or chains.
/// Async-signal-safe: it reads a thread-local pointer, compares addresses and
/// calls only pthread_sigmask, sigaction, raise and siglongjmp.
inline void on_sigbus(int sig, ::siginfo_t* info, void* context) noexcept {
  sigbus_guard* const guard = current_sigbus_guard;
  if (guard != nullptr && info != nullptr && info->si_code > 0 && guard->covers(info->si_addr)) {
    guard->fault_address = info->si_addr;
    guard->fault_code = info->si_code;
    // The copy resumes with SIGBUS unblocked (sigsetjmp did not save the mask,
    // which saves a system call on every copy).
    ::sigset_t bus;
    ::sigemptyset(&bus);
    ::sigaddset(&bus, SIGBUS);
    ::pthread_sigmask(SIG_UNBLOCK, &bus, nullptr);
    ::siglongjmp(guard->resume, 1);
  }
  chain_sigbus(sig, info, context);
}

/// Installs on_sigbus once per process; later calls report the first result.
inline bool install_sigbus_handler(failure& f) noexcept {
  static const int error = [] {
    // Read the old action before ours can run, so the handler never sees it half-written.
    if (::sigaction(SIGBUS, nullptr, &previous_sigbus_action) != 0) return errno;
    struct ::sigaction ours {};
    ours.sa_sigaction = on_sigbus;
    ::sigemptyset(&ours.sa_mask);
    ours.sa_flags = SA_SIGINFO | SA_ONSTACK;
    if (::sigaction(SIGBUS, &ours, nullptr) != 0) return errno;
    return 0;
  }();
  if (error == 0) return true;
  return f.fail(std::error_code(error, std::system_category()), "install SIGBUS handler");
}

/// Runs `step` (which touches only [a, a+n) and [b, b+n)) under a recovery
/// point: true, or false with `guard` telling where the SIGBUS hit. Nothing
/// here is changed between sigsetjmp and a return through it, so no local can
/// be clobbered; `step` must not allocate or take locks (it may be abandoned).
template <class Step>
bool run_or_fault(const void* a, const void* b, std::size_t n, sigbus_guard& guard, Step&& step) noexcept {
  const auto pa = reinterpret_cast<std::uintptr_t>(a);
  const auto pb = reinterpret_cast<std::uintptr_t>(b);
  guard.ranges[0][0] = pa;
  guard.ranges[0][1] = pa + n;
  guard.ranges[1][0] = pb;
  guard.ranges[1][1] = pb + n;
  sigbus_guard* const outer = current_sigbus_guard;  // a guarded copy in a signal handler nests
  if (sigsetjmp(guard.resume, 0) != 0) {
    current_sigbus_guard = outer;
    return false;
  }
  current_sigbus_guard = &guard;
  // The fences keep the compiler from moving the step's memory accesses out
  // from between the two stores (or dropping the first as dead).
  std::atomic_signal_fence(std::memory_order_seq_cst);
  step();
  std::atomic_signal_fence(std::memory_order_seq_cst);
  current_sigbus_guard = outer;
  return true;
}

/// Turns a SIGBUS that `guard` caught into an error at `first_offset` plus the
/// index of the missing byte within [a, a+n) or [b, b+n).
inline bool fail_from_fault(const sigbus_guard& guard, const void* a, std::size_t n,
                            std::uint64_t first_offset, const char* op, failure& f) noexcept {
  const auto at = reinterpret_cast<std::uintptr_t>(static_cast<void*>(guard.fault_address));
  const auto pa = reinterpret_cast<std::uintptr_t>(a);
  const auto side = at >= pa && at - pa < n ? pa : guard.ranges[1][0];
  f.at(first_offset + (at - side));
#ifdef BUS_MCEERR_AR
  if (guard.fault_code == BUS_MCEERR_AR) return f.fail(std::make_error_code(std::errc::io_error), op);
#endif
  return f.fail(std::make_error_code(std::errc::bad_address), op);
}

/// A guarded memcpy. On a SIGBUS inside it, fails at `first_offset` plus the
/// index of the missing byte within the copy.
inline bool guarded_memcpy(void* dst, const void* src, std::size_t n, std::uint64_t first_offset,
                           const char* op, failure& f) noexcept {
  if (n == 0) return true;
  if (!install_sigbus_handler(f)) return false;
  sigbus_guard guard;
  if (run_or_fault(src, dst, n, guard, [&] { std::memcpy(dst, src, n); })) return true;
  return fail_from_fault(guard, src, n, first_offset, op, f);
}

/// A guarded comparison: the index of the first byte where [a, a+n) and
/// [b, b+n) differ, or n when they are equal.
inline std::size_t guarded_mismatch(const void* a, const void* b, std::size_t n, std::uint64_t first_offset,
                                    const char* op, failure& f) noexcept {
  if (n == 0) return 0;
  if (!install_sigbus_handler(f)) return n;
  sigbus_guard guard;
  const auto* pa = static_cast<const unsigned char*>(a);
  const auto* pb = static_cast<const unsigned char*>(b);
  std::size_t at = n;
  if (run_or_fault(a, b, n, guard, [&] {
        if (std::memcmp(pa, pb, n) == 0) return;
        std::size_t i = 0;
        while (pa[i] == pb[i]) ++i;
        at = i;
      })) {
    return at;
  }
  fail_from_fault(guard, a, n, first_offset, op, f);
  return n;
}

template <access A>
bool copy_from_impl(const region<A>& r, std::size_t offset, std::span<std::byte> out,
                    failure& f) noexcept {
  f.fd = r.native_handle();
  if (!range_within(offset, out.size(), r.size())) return f.at(offset).fail(errc::range_outside_region, "copy from mapping");
  if (out.empty()) return true;
  return guarded_memcpy(out.data(), r.data() + offset, out.size(), offset, "copy from mapping", f);
}

template <access A>
bool copy_to_impl(region<A>& r, std::size_t offset, std::span<const std::byte> in, failure& f) noexcept {
  f.fd = r.native_handle();
  if (!range_within(offset, in.size(), r.size())) return f.at(offset).fail(errc::range_outside_region, "copy to mapping");
  if (in.empty()) return true;
  return guarded_memcpy(r.data() + offset, in.data(), in.size(), offset, "copy to mapping", f);
}

}  // namespace detail

/// Copies region bytes [offset, offset + out.size()) into `out`. A range
/// outside the region is errc::range_outside_region; pages that are gone
/// (file truncated, I/O error) are EFAULT at the offset of one of them
/// (memcpy need not copy in order).
template <access A>
void copy_from(const region<A>& r, std::size_t offset, std::span<std::byte> out) {
  detail::throwing([&](detail::failure& f) { detail::copy_from_impl(r, offset, out, f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
template <access A>
void copy_from(const region<A>& r, std::size_t offset, std::span<std::byte> out, std::error_code& ec) noexcept {
  detail::reporting(ec, [&](detail::failure& f) { detail::copy_from_impl(r, offset, out, f); });
}

/// Copies `in` into region bytes [offset, offset + in.size()), with the same
/// errors as copy_from. Writable regions only.
template <access A>
  requires(A != access::read)
void copy_to(region<A>& r, std::size_t offset, std::span<const std::byte> in) {
  detail::throwing([&](detail::failure& f) { detail::copy_to_impl(r, offset, in, f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
template <access A>
  requires(A != access::read)
void copy_to(region<A>& r, std::size_t offset, std::span<const std::byte> in, std::error_code& ec) noexcept {
  detail::reporting(ec, [&](detail::failure& f) { detail::copy_to_impl(r, offset, in, f); });
}

/// memcpy(dst, src, n) for pointers into any mapping (a typed view, a
/// mapping made elsewhere): EFAULT, at the index of the missing byte, instead of
/// SIGBUS when a page of either side is gone. Safe to call from many threads
/// at once (each thread has its own recovery point).
///
/// `first_offset` is where the range starts in its file or object (a window
/// of a larger file, say): the error then names first_offset + the index of
/// the missing byte ("... at 0x4000" in the throwing form's message).
inline void guarded_copy(void* dst, const void* src, std::size_t n, std::uint64_t first_offset = 0) {
  detail::throwing([&](detail::failure& f) { detail::guarded_memcpy(dst, src, n, first_offset, "guarded copy", f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
inline void guarded_copy(void* dst, const void* src, std::size_t n, std::error_code& ec) noexcept {
  detail::reporting(ec, [&](detail::failure& f) { detail::guarded_memcpy(dst, src, n, 0, "guarded copy", f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
inline void guarded_copy(void* dst, const void* src, std::size_t n, std::uint64_t first_offset,
                         std::error_code& ec) noexcept {
  detail::reporting(ec, [&](detail::failure& f) { detail::guarded_memcpy(dst, src, n, first_offset, "guarded copy", f); });
}

/// Compares [a, a+n) with [b, b+n) for pointers into any mapping: the index of
/// the first differing byte, or n when equal; EFAULT (at the index of the
/// missing byte) instead of SIGBUS when a page of either side is gone.
/// `first_offset` is as for guarded_copy: it only moves the offset an error names.
inline std::size_t guarded_mismatch(const void* a, const void* b, std::size_t n, std::uint64_t first_offset = 0) {
  return detail::throwing(
      [&](detail::failure& f) { return detail::guarded_mismatch(a, b, n, first_offset, "guarded compare", f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
inline std::size_t guarded_mismatch(const void* a, const void* b, std::size_t n, std::error_code& ec) noexcept {
  return detail::reporting(ec, [&](detail::failure& f) { return detail::guarded_mismatch(a, b, n, 0, "guarded compare", f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
inline std::size_t guarded_mismatch(const void* a, const void* b, std::size_t n, std::uint64_t first_offset,
                                    std::error_code& ec) noexcept {
  return detail::reporting(
      ec, [&](detail::failure& f) { return detail::guarded_mismatch(a, b, n, first_offset, "guarded compare", f); });
}

/// Installs the SIGBUS handler now rather than on the first guarded copy:
/// call it before installing a handler of your own that chains to it.
inline void install_sigbus_handler() {
  detail::throwing([&](detail::failure& f) { detail::install_sigbus_handler(f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
inline void install_sigbus_handler(std::error_code& ec) noexcept {
  detail::reporting(ec, [&](detail::failure& f) { detail::install_sigbus_handler(f); });
}

}  // namespace mmapx
