// mmapx/error.hpp - how every fallible mmapx call reports failure.
//
// The std::filesystem convention: each operation comes as a throwing form
// (std::system_error whose message names the operation and the path or
// address) and a noexcept form taking std::error_code&. Both are generated
// from one implementation that fills a detail::failure, so the two forms can
// never disagree. Nothing here aborts or prints. (docs/regions.md, "Errors",
// says why both forms stay.)
//
// Writing an implementation (a new backend, say):
//   f.subject = path;                      // copied, bounded: may point anywhere
//   f.fd = fd;                             // when there is no path
//   if (::ioctl(...) != 0) return f.fail_errno("ioctl");
//   return f.at(offset).fail(errc::range_outside_region, "map buffer");
// `operation` is a string literal for the message only: code never compares
// it. Code that must know which step failed (to explain a refusal, as
// devmem.hpp and pci.hpp do) branches on `f.step`, which open_fd and the
// mmap call record as stage::open and stage::map; a backend that needs
// another step passes it: f.fail_errno("ioctl", stage::control).
// `subject` is an owned, bounded copy (longer text keeps its head and tail
// around "..."), so it never dangles and filling it never throws; reading it
// gives a `const char*` (null when unset), as the old borrowed pointer did.
#pragma once

#include <cerrno>
#include <cstdint>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace mmapx {

/// Errors that mmapx detects itself (operating-system errors keep their errno
/// in std::system_category). Each compares equal to the nearest std::errc.
enum class errc {
  range_outside_region = 1,  ///< offset/length outside the mapped region
  offset_beyond_end,         ///< offset past the end of a file or object
  length_beyond_end,         ///< a read-only mapping longer than the file
  size_overflow,             ///< offset + length does not fit 64 bits
  view_too_large,            ///< typed view does not fit in the region
  view_misaligned,           ///< typed view start not aligned for its type
  not_mapped,                ///< the region is empty or was moved from
  huge_pages_unavailable,    ///< no huge pages of the requested size
  placement_failed,          ///< the kernel did not honour a fixed address
  not_regular_file,          ///< a directory or special file where a file is needed
  value_out_of_range,        ///< a run-time value does not fit its field
  unknown_name,              ///< a register or field name that the map lacks
  access_denied_by_map,      ///< writing a read-only / reading a write-only field
  unknown_encoding,          ///< a field holds a value its enumeration lacks
  timed_out,                 ///< waited longer than allowed
  parse_error,               ///< text that does not follow the expected syntax
  protection_keys_unavailable,  ///< the CPU or kernel has no memory protection keys
};

namespace detail {
class mmapx_category_impl final : public std::error_category {
public:
  const char* name() const noexcept override { return "mmapx"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::range_outside_region: return "range outside the region";
      case errc::offset_beyond_end: return "offset beyond the end of the file";
      case errc::length_beyond_end: return "length beyond the end of the file";
      case errc::size_overflow: return "offset plus length overflows";
      case errc::view_too_large: return "typed view larger than the region";
      case errc::view_misaligned: return "typed view misaligned for its type";
      case errc::not_mapped: return "region is not mapped (empty or moved from)";
      case errc::huge_pages_unavailable: return "no huge pages of the requested size are available";
      case errc::placement_failed: return "the kernel did not place the mapping at the requested address";
      case errc::not_regular_file: return "not a regular file";
      case errc::value_out_of_range: return "value does not fit its field";
      case errc::unknown_name: return "unknown register or field name";
      case errc::access_denied_by_map: return "access not allowed by the register map";
      case errc::unknown_encoding: return "field holds an encoding its enumeration lacks";
      case errc::timed_out: return "timed out";
      case errc::parse_error: return "syntax error";
      case errc::protection_keys_unavailable: return "memory protection keys are not supported by this CPU or kernel";
    }
    return "unknown mmapx error";
  }
  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<errc>(ev)) {
      case errc::range_outside_region:
      case errc::offset_beyond_end:
      case errc::length_beyond_end:
      case errc::view_too_large:
      case errc::value_out_of_range:
        return std::errc::result_out_of_range;
      case errc::size_overflow: return std::errc::value_too_large;
      case errc::view_misaligned:
      case errc::parse_error:
      case errc::unknown_name:
      case errc::unknown_encoding:
        return std::errc::invalid_argument;
      case errc::not_mapped: return std::errc::bad_address;
      case errc::huge_pages_unavailable: return std::errc::not_enough_memory;
      case errc::placement_failed: return std::errc::file_exists;
      case errc::not_regular_file: return std::errc::is_a_directory;
      case errc::access_denied_by_map: return std::errc::permission_denied;
      case errc::timed_out: return std::errc::timed_out;
      case errc::protection_keys_unavailable: return std::errc::operation_not_supported;
    }
    return std::error_condition(ev, *this);
  }
};
}  // namespace detail

/// The category of mmapx::errc values.
inline const std::error_category& mmapx_category() noexcept {
  static const detail::mmapx_category_impl instance;
  return instance;
}

/// Makes errc values usable as std::error_code (found by ADL).
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), mmapx_category()};
}

}  // namespace mmapx

/// \cond std_specialisations (not mmapx names: left out of the API reference)
/// Lets an errc convert implicitly to std::error_code and compare with one,
/// e.g. `ec == mmapx::errc::timed_out`.
template <>
struct std::is_error_code_enum<mmapx::errc> : std::true_type {};
/// \endcond

namespace mmapx::detail {

/// The step of an operation that failed, for code that rewrites an error
/// to explain it. Values are only ever added.
enum class stage : std::uint8_t {
  other,    ///< a step without a name of its own (argument checks, most calls)
  open,     ///< opening a path (detail::open_fd)
  map,      ///< the mmap(2) call itself
  control,  ///< an ioctl or a sysfs write that configures a device
};

/// A copy of a path or name for an error message: owned, so it cannot
/// dangle, and bounded, so that filling it never allocates or throws. Text
/// longer than `capacity - 1` bytes keeps its head and tail around "...".
class bounded_text {
public:
  /// Bytes kept, terminator included.
  static constexpr std::size_t capacity = 256;

  /// Copies `text`; null clears (reads back as null).
  bounded_text& operator=(const char* text) noexcept {
    if (text == nullptr) {
      set_ = false;
      text_[0] = '\0';
      return *this;
    }
    return *this = std::string_view(text);
  }
  /// Copies `text` (up to an embedded NUL, as a C string would show it).
  bounded_text& operator=(std::string_view text) noexcept {
    text = text.substr(0, text.find('\0'));
    set_ = true;
    if (text.size() < capacity) {
      std::memcpy(text_, text.data(), text.size());
      text_[text.size()] = '\0';
      return *this;
    }
    constexpr std::size_t marker = 3, head = (capacity - 1 - marker) / 2, tail = capacity - 1 - marker - head;
    std::memcpy(text_, text.data(), head);
    std::memcpy(text_ + head, "...", marker);
    std::memcpy(text_ + head + marker, text.data() + text.size() - tail, tail);
    text_[capacity - 1] = '\0';
    return *this;
  }
  /// True when nothing was set.
  [[nodiscard]] bool empty() const noexcept { return !set_; }
  /// The text, or null when unset: reads like the `const char*` it replaced.
  operator const char*() const noexcept { return set_ ? text_ : nullptr; }

private:
  char text_[capacity] = {};
  bool set_ = false;
};

/// What went wrong, where: filled by the one implementation of an operation.
/// Filling it never allocates or throws; see the top of this header.
struct failure {
  /// fd's value when the call had no descriptor (-1 is a descriptor a caller
  /// may pass, and the message then says "fd -1").
  static constexpr int no_fd = INT_MIN;

  std::error_code code;
  const char* operation = "";    ///< a string literal naming the step, e.g. "open", "mmap", "flush"
  stage step = stage::other;     ///< the same step as a value, for code that branches on it
  bounded_text subject;          ///< a path or name, if the call had one
  int fd = no_fd;                ///< the descriptor, when the call had no path
  std::uint64_t address = 0;     ///< offset or physical address, if relevant
  bool has_address = false;

  /// True when an error was recorded.
  explicit operator bool() const noexcept { return static_cast<bool>(code); }

  /// Records an error and returns false, so `return f.fail(...)` reads well.
  bool fail(std::error_code ec, const char* op, stage s = stage::other) noexcept {
    code = ec;
    operation = op;
    step = s;
    return false;
  }
  /// Records an mmapx error.
  bool fail(errc e, const char* op, stage s = stage::other) noexcept { return fail(make_error_code(e), op, s); }
  /// Records the current errno.
  bool fail_errno(const char* op, stage s = stage::other) noexcept {
    return fail(std::error_code(errno, std::system_category()), op, s);
  }
  /// Records the offset or address the failure concerns ("at 0x…").
  failure& at(std::uint64_t addr) noexcept {
    address = addr;
    has_address = true;
    return *this;
  }

  /// "mmapx: open '/data/x': No such file or directory"; a descriptor is
  /// named with the file behind it: "mmapx: flush '/data/x' (fd 5) at 0x0"
  /// (formatting only happens on the throwing path).
  std::string what() const {
    std::string text = "mmapx: ";
    text += operation;
    if (!subject.empty()) {
      text += " '";
      text += subject;
      text += '\'';
    } else if (fd != no_fd) {
      const std::string file = file_behind_fd();
      text += file.empty() ? " fd " + std::to_string(fd) : " '" + file + "' (fd " + std::to_string(fd) + ")";
    }
    if (has_address) {
      char buf[32];
      std::snprintf(buf, sizeof buf, " at 0x%llx", static_cast<unsigned long long>(address));
      text += buf;
    }
    return text;
  }

  /// Throws std::system_error(code, what()) if an error was recorded.
  void throw_if_failed() const {
    if (code) throw std::system_error(code, what());
  }

private:
  /// The file `fd` has open (from /proc/self/fd), bounded; "" if unknown.
  std::string file_behind_fd() const {
    if (fd < 0) return {};
    char link[32], target[PATH_MAX];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t n = ::readlink(link, target, sizeof target);
    if (n <= 0) return {};
    bounded_text name;
    name = std::string_view(target, static_cast<std::size_t>(n));
    return static_cast<const char*>(name);
  }
};

/// Runs an implementation `fn(failure&)` and throws on failure: the throwing
/// form of every public call.
template <class Fn>
auto throwing(Fn&& fn) -> decltype(fn(std::declval<failure&>())) {
  failure f;
  if constexpr (std::is_void_v<decltype(fn(f))>) {
    fn(f);
    f.throw_if_failed();
  } else {
    auto result = fn(f);
    f.throw_if_failed();
    return result;
  }
}

/// Runs an implementation `fn(failure&)` and stores the error in `ec`: the
/// noexcept form of every public call.
template <class Fn>
auto reporting(std::error_code& ec, Fn&& fn) noexcept -> decltype(fn(std::declval<failure&>())) {
  failure f;
  if constexpr (std::is_void_v<decltype(fn(f))>) {
    fn(f);
    ec = f.code;
  } else {
    auto result = fn(f);
    ec = f.code;
    return result;
  }
}

}  // namespace mmapx::detail
