// mmapx/sync.hpp - waiting across processes on shared mappings: wait/notify
// on a 32-bit word, and a robust process-shared mutex that tells the next
// locker when its holder died.
//
//   auto& ready = *new (shared.data()) std::atomic<std::uint32_t>{0};
//   mmapx::wait_for(ready, 0, std::chrono::seconds(1));   // other process: ready = 1; notify_all(ready)
//
// wait/notify use the shared futex (no FUTEX_PRIVATE_FLAG): the kernel finds
// waiters by the page under the word, so they meet whichever address each
// process mapped it at, in a MAP_SHARED mapping of a file, memfd, POSIX or
// System V shared memory, or shared anonymous memory inherited over fork.
#pragma once

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <utility>

#include "error.hpp"

namespace mmapx {

namespace detail {

static_assert(std::atomic<std::uint32_t>::is_always_lock_free && sizeof(std::atomic<std::uint32_t>) == 4,
              "a futex is a plain 32-bit word");

// Waiting and retrying live in these small functions only, so that they can
// move to the project's one EINTR/timeout helper in one place.

/// A point `timeout` from now on the monotonic clock; the far future when
/// the timeout is nanoseconds::max() ("forever") or would overflow.
inline std::chrono::steady_clock::time_point deadline_after(std::chrono::nanoseconds timeout) noexcept {
  if (timeout == std::chrono::nanoseconds::max()) return std::chrono::steady_clock::time_point::max();
  const auto now = std::chrono::steady_clock::now();
  if (timeout > std::chrono::steady_clock::time_point::max() - now) return std::chrono::steady_clock::time_point::max();
  return now + timeout;
}

/// Time left until `deadline` as a timespec; false once it has passed.
inline bool time_left(std::chrono::steady_clock::time_point deadline, ::timespec& left) noexcept {
  const auto rest = deadline - std::chrono::steady_clock::now();
  if (rest <= std::chrono::nanoseconds::zero()) return false;
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(rest).count();
  left.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  left.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  return true;
}

/// One FUTEX_WAIT (shared): sleeps while *word == expected, for at most
/// `left` (null: no limit). 0, or the errno (EAGAIN: the value differed;
/// EINTR; ETIMEDOUT).
inline int futex_wait_once(std::atomic<std::uint32_t>& word, std::uint32_t expected, const ::timespec* left) noexcept {
  if (::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, left, nullptr, 0) == 0) {
    return 0;
  }
  return errno;
}

/// Waits until *word may differ from `expected` (woken, or the value
/// changed) or the deadline passes (errc::timed_out). EINTR waits again.
inline bool wait_until(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       std::chrono::steady_clock::time_point deadline, failure& f) noexcept {
  const bool forever = deadline == std::chrono::steady_clock::time_point::max();
  for (;;) {
    if (word.load(std::memory_order_acquire) != expected) return true;
    ::timespec left{};
    if (!forever && !time_left(deadline, left)) return f.fail(errc::timed_out, "wait");
    const int err = futex_wait_once(word, expected, forever ? nullptr : &left);
    if (err == 0 || err == EAGAIN) return true;
    if (err == ETIMEDOUT) return f.fail(errc::timed_out, "wait");
    if (err != EINTR) return f.fail(std::error_code(err, std::system_category()), "wait (futex)");
  }
}

/// FUTEX_WAKE (shared) of up to `count` waiters; how many were woken.
inline int futex_wake(std::atomic<std::uint32_t>& word, int count, failure& f) noexcept {
  const long woken = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, count, nullptr,
                               nullptr, 0);
  if (woken < 0) f.fail_errno("notify (futex)");
  return woken < 0 ? 0 : static_cast<int>(woken);
}

}  // namespace detail

/// Blocks while `word` holds `expected`, until another thread or process
/// notifies it or `timeout` passes (errc::timed_out); nanoseconds::max()
/// waits for ever. It may return early (a notify meant for another value, a
/// spurious wake): callers re-check their condition in a loop. `word` must
/// lie in memory mapped MAP_SHARED (or private to this process).
inline void wait_for(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::chrono::nanoseconds timeout) {
  detail::throwing([&](detail::failure& f) { detail::wait_until(word, expected, detail::deadline_after(timeout), f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
inline void wait_for(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::chrono::nanoseconds timeout,
                     std::error_code& ec) noexcept {
  detail::reporting(ec, [&](detail::failure& f) {
    detail::wait_until(word, expected, detail::deadline_after(timeout), f);
  });
}

/// Wakes one waiter on `word` (in any process); returns how many woke (0 or 1).
inline int notify_one(std::atomic<std::uint32_t>& word) {
  return detail::throwing([&](detail::failure& f) { return detail::futex_wake(word, 1, f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
inline int notify_one(std::atomic<std::uint32_t>& word, std::error_code& ec) noexcept {
  return detail::reporting(ec, [&](detail::failure& f) { return detail::futex_wake(word, 1, f); });
}
/// Wakes every waiter on `word`; returns how many woke.
inline int notify_all(std::atomic<std::uint32_t>& word) {
  return detail::throwing([&](detail::failure& f) { return detail::futex_wake(word, INT32_MAX, f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
inline int notify_all(std::atomic<std::uint32_t>& word, std::error_code& ec) noexcept {
  return detail::reporting(ec, [&](detail::failure& f) { return detail::futex_wake(word, INT32_MAX, f); });
}

class robust_mutex;

/// Ownership of a locked robust_mutex; unlocks when destroyed. Move-only.
///
/// When previous_owner_died() is true, the last holder died while holding the
/// mutex and the data it guards may be half-updated. Repair or check it, then
/// call mark_consistent(). Unlocking without that makes the mutex unusable:
/// every later acquire fails with std::errc::state_not_recoverable, so no
/// later locker is ever handed the data silently.
class robust_lock {
public:
  /// Owns nothing.
  robust_lock() noexcept = default;
  /// Takes over `other`'s ownership; `other` owns nothing afterwards.
  robust_lock(robust_lock&& other) noexcept
      : mutex_(std::exchange(other.mutex_, nullptr)), owner_died_(std::exchange(other.owner_died_, false)) {}
  /// Unlocks what this owns, then takes over `other`'s ownership.
  robust_lock& operator=(robust_lock&& other) noexcept {
    if (this != &other) {
      release();
      mutex_ = std::exchange(other.mutex_, nullptr);
      owner_died_ = std::exchange(other.owner_died_, false);
    }
    return *this;
  }
  /// Not copyable: exactly one object unlocks.
  robust_lock(const robust_lock&) = delete;
  robust_lock& operator=(const robust_lock&) = delete;
  /// Unlocks (see the class comment for an owner that died).
  ~robust_lock() { release(); }

  /// True while this holds the mutex.
  [[nodiscard]] bool owns_lock() const noexcept { return mutex_ != nullptr; }
  /// True when the previous holder died holding the mutex and this holder
  /// has not yet called mark_consistent().
  [[nodiscard]] bool previous_owner_died() const noexcept { return owner_died_; }
  /// Declares the guarded data repaired (pthread_mutex_consistent): the
  /// mutex stays usable after this unlock. Not holding: errc::not_mapped.
  void mark_consistent() {
    detail::throwing([&](detail::failure& f) { consistent_impl(f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void mark_consistent(std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { consistent_impl(f); });
  }
  /// Unlocks now; owns nothing afterwards.
  void unlock() noexcept { release(); }

private:
  friend class robust_mutex;
  robust_lock(pthread_mutex_t* m, bool owner_died) noexcept : mutex_(m), owner_died_(owner_died) {}

  bool consistent_impl(detail::failure& f) noexcept {
    if (mutex_ == nullptr) return f.fail(errc::not_mapped, "mark consistent (lock not held)");
    if (!owner_died_) return true;
    if (const int err = ::pthread_mutex_consistent(mutex_); err != 0) {
      return f.fail(std::error_code(err, std::system_category()), "mark consistent");
    }
    owner_died_ = false;
    return true;
  }

  void release() noexcept {
    if (mutex_ != nullptr) ::pthread_mutex_unlock(mutex_);
    mutex_ = nullptr;
    owner_died_ = false;
  }

  pthread_mutex_t* mutex_ = nullptr;
  bool owner_died_ = false;
};

/// A mutex that lives in shared mapped memory (PTHREAD_PROCESS_SHARED) and
/// survives a holder that dies (PTHREAD_MUTEX_ROBUST): the next acquire
/// succeeds with robust_lock::previous_owner_died() set. Construct it once,
/// in place, in a MAP_SHARED mapping (`new (region.data()) robust_mutex`);
/// other processes use the same bytes without constructing again. Destroy it
/// (or unmap it) only when no thread holds it. Not BasicLockable on purpose:
/// std::lock_guard would drop the news that the owner died.
class robust_mutex {
public:
  /// Initialises the mutex; throws std::system_error when pthread cannot.
  robust_mutex() {
    detail::throwing([&](detail::failure& f) { init(f); });
  }
  /// The same, reporting into `ec` instead (the mutex must not be used then).
  explicit robust_mutex(std::error_code& ec) noexcept {
    detail::reporting(ec, [&](detail::failure& f) { init(f); });
  }
  /// Not copyable or movable: other processes know it by its address.
  robust_mutex(const robust_mutex&) = delete;
  robust_mutex& operator=(const robust_mutex&) = delete;
  /// pthread_mutex_destroy: nobody may hold or wait for it.
  ~robust_mutex() { ::pthread_mutex_destroy(&mutex_); }

  /// Blocks until this thread holds the mutex. A mutex left unrecoverable
  /// (see robust_lock) is std::errc::state_not_recoverable.
  [[nodiscard]] robust_lock acquire() {
    return detail::throwing([&](detail::failure& f) { return lock_impl(nullptr, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  [[nodiscard]] robust_lock acquire(std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return lock_impl(nullptr, f); });
  }
  /// As acquire(), giving up after `timeout` with errc::timed_out.
  /// (ThreadSanitizer, LLVM 14 at least, misses EOWNERDEAD from the timed
  /// lock underneath and then reports a false "unlock of an unlocked mutex".)
  [[nodiscard]] robust_lock acquire_for(std::chrono::nanoseconds timeout) {
    return detail::throwing([&](detail::failure& f) { return lock_for(timeout, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  [[nodiscard]] robust_lock acquire_for(std::chrono::nanoseconds timeout, std::error_code& ec) noexcept {
    return detail::reporting(ec, [&](detail::failure& f) { return lock_for(timeout, f); });
  }

private:
  bool init(detail::failure& f) noexcept {
    pthread_mutexattr_t attr;
    int err = ::pthread_mutexattr_init(&attr);
    if (err == 0) err = ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (err == 0) err = ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (err == 0) err = ::pthread_mutex_init(&mutex_, &attr);
    ::pthread_mutexattr_destroy(&attr);
    if (err != 0) return f.fail(std::error_code(err, std::system_category()), "init robust mutex");
    return true;
  }

  /// Timed lock. pthread takes an absolute CLOCK_REALTIME deadline
  /// (pthread_mutex_clocklock would take a monotonic one, but sanitizers do
  /// not know it): the timeout is turned into one just before the call.
  robust_lock lock_for(std::chrono::nanoseconds timeout, detail::failure& f) noexcept {
    if (timeout == std::chrono::nanoseconds::max()) return lock_impl(nullptr, f);
    ::timespec at{};
    ::clock_gettime(CLOCK_REALTIME, &at);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::seconds(at.tv_sec) + std::chrono::nanoseconds(at.tv_nsec) +
                        std::max(timeout, std::chrono::nanoseconds::zero()))
                        .count();
    at.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    at.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    return lock_impl(&at, f);
  }

  robust_lock lock_impl(const ::timespec* deadline, detail::failure& f) noexcept {
    const int err = deadline == nullptr ? ::pthread_mutex_lock(&mutex_) : ::pthread_mutex_timedlock(&mutex_, deadline);
    if (err == 0 || err == EOWNERDEAD) return robust_lock(&mutex_, err == EOWNERDEAD);
    if (err == ETIMEDOUT) f.fail(errc::timed_out, "acquire robust mutex");
    else f.fail(std::error_code(err, std::system_category()), "acquire robust mutex");
    return {};
  }

  pthread_mutex_t mutex_{};
};

}  // namespace mmapx
