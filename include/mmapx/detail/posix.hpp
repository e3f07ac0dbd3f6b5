// mmapx/detail/posix.hpp - the small system-call helpers every backend
// shares, each written once: retrying a call that a signal interrupted,
// waiting with a timeout (one meaning of "timeout" across mmapx), and
// parsing an unsigned number with full-range checks.
//
// The timeout rule, for every mmapx call that waits (uio_device::wait,
// kmod::device::wait, reg::block::wait_until):
//   - a negative timeout waits forever, as poll(2) does;
//   - zero checks once and does not block;
//   - a positive one waits at most that long; one too long for the clock
//     (e.g. milliseconds::max()) waits forever instead of overflowing;
//   - expiry is errc::timed_out, thrown or stored in the std::error_code&.
#pragma once

#include <poll.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "../error.hpp"

namespace mmapx::detail {

/// Calls `call()` again while it fails with EINTR (result -1 and errno
/// EINTR): a signal handler running during a system call is not a failure.
/// Returns the last result; errno is the call's own when it is -1.
template <class Call>
auto retry_on_eintr(Call&& call) noexcept(noexcept(call())) {
  for (;;) {
    const auto result = call();
    if (!(result == -1 && errno == EINTR)) return result;
  }
}

/// Checks a read or write that must move exactly `size` bytes (a 4-byte
/// UIO count, one config-space byte): true if it did; false with errno set
/// otherwise, EIO for a short transfer, which has no errno of its own.
inline bool whole_transfer(long result, std::size_t size) noexcept {
  if (result >= 0 && static_cast<std::size_t>(result) == size) return true;
  if (result >= 0) errno = EIO;
  return false;
}

/// True if `timeout` means a wait without end under the rule above:
/// negative, or longer than about 146 years (the most that still fits the
/// clock next to any plausible now()). Compared in floating point, so that
/// no duration type can overflow here.
template <class Rep, class Period>
[[gnu::always_inline]] constexpr bool without_end(std::chrono::duration<Rep, Period> timeout) noexcept {
  using seconds = std::chrono::duration<double>;
  return timeout < timeout.zero() || seconds(timeout) > seconds(std::chrono::hours(24 * 365 * 146));
}

/// The end of a wait, under the timeout rule above. Built from the
/// caller's duration once, before the first check.
class deadline {
public:
  using clock = std::chrono::steady_clock;

  template <class Rep, class Period>
  explicit deadline(std::chrono::duration<Rep, Period> timeout) noexcept
      : at_(without_end(timeout) ? clock::time_point::max()
                                 : clock::now() + std::chrono::duration_cast<clock::duration>(timeout)) {}

  /// True once the time is up (never for a wait without end).
  [[nodiscard]] bool expired() const noexcept { return clock::now() >= at_; }

  /// What poll(2) takes: -1 for forever, else the milliseconds left, rounded
  /// up (so a wait never ends early) and capped at INT_MAX (the caller polls again).
  [[nodiscard]] int poll_ms() const noexcept {
    if (at_ == clock::time_point::max()) return -1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(at_ - clock::now()).count();
    return left <= 0 ? 0 : left >= INT_MAX ? INT_MAX : static_cast<int>(left);
  }

private:
  clock::time_point at_;  ///< time_point::max(): no end
};

/// Waits until `fd` has one of `events` (POLLIN, ...) or `until` expires,
/// retrying after signals. Returns true when the descriptor is ready (or
/// hung up: the read that follows tells); false on expiry (f untouched) or
/// on an error (recorded in f as `op`; EBADF for a descriptor not open).
inline bool poll_until(int fd, short events, const deadline& until, failure& f, const char* op) noexcept {
  for (;;) {
    ::pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, until.poll_ms());
    if (n > 0 && (p.revents & POLLNVAL) != 0) {
      errno = EBADF;  // poll reports a closed descriptor as an event
      return f.fail_errno(op);
    }
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return f.fail_errno(op);
    if (n == 0 && until.expired()) return false;
  }
}

/// Parses all of `text` as an unsigned 64-bit number: decimal, 0x/0X
/// hexadecimal or 0b/0B binary (a leading 0 is still decimal: no octal).
/// No sign, no spaces, nothing after the digits. Errors, recorded as `op`:
/// errc::parse_error for empty text or any other character,
/// errc::value_out_of_range for a number above 2^64 - 1.
inline bool parse_unsigned(std::string_view text, std::uint64_t& out, failure& f, const char* op) noexcept {
  unsigned base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  } else if (text.size() > 2 && text[0] == '0' && (text[1] == 'b' || text[1] == 'B')) {
    base = 2;
    text.remove_prefix(2);
  }
  if (text.empty()) return f.fail(errc::parse_error, op);
  std::uint64_t value = 0;
  for (const char c : text) {
    unsigned digit = 16;
    if (c >= '0' && c <= '9') digit = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') digit = static_cast<unsigned>(c - 'a') + 10;
    else if (c >= 'A' && c <= 'F') digit = static_cast<unsigned>(c - 'A') + 10;
    if (digit >= base) return f.fail(errc::parse_error, op);
    if (value > (UINT64_MAX - digit) / base) return f.fail(errc::value_out_of_range, op);
    value = value * base + digit;
  }
  out = value;
  return true;
}

}  // namespace mmapx::detail
