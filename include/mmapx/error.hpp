// mmapx/error.hpp - how every fallible mmapx call reports failure.
//
// The std::filesystem convention: each operation comes as a throwing form
// (std::system_error whose message names the operation and the path or
// address) and a noexcept form taking std::error_code&. Both are generated
// from one implementation that fills a detail::failure, so the two forms can
// never disagree. Nothing here aborts or prints.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
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

/// Lets an errc convert implicitly to std::error_code and compare with one,
/// e.g. `ec == mmapx::errc::timed_out`.
template <>
struct std::is_error_code_enum<mmapx::errc> : std::true_type {};

namespace mmapx::detail {

/// What went wrong, where: filled by the one implementation of an operation.
/// Holds no owned strings so that filling it can never throw.
struct failure {
  std::error_code code;
  const char* operation = "";    ///< e.g. "open", "mmap", "flush"
  const char* subject = nullptr; ///< a path or name, if the call had one
  int fd = -1;                   ///< the descriptor, when the call had no path
  std::uint64_t address = 0;     ///< offset or physical address, if relevant
  bool has_address = false;

  explicit operator bool() const noexcept { return static_cast<bool>(code); }

  /// Records an error and returns false, so `return f.fail(...)` reads well.
  bool fail(std::error_code ec, const char* op) noexcept {
    code = ec;
    operation = op;
    return false;
  }
  bool fail(errc e, const char* op) noexcept { return fail(make_error_code(e), op); }
  /// Records the current errno.
  bool fail_errno(const char* op) noexcept {
    return fail(std::error_code(errno, std::system_category()), op);
  }
  failure& at(std::uint64_t addr) noexcept {
    address = addr;
    has_address = true;
    return *this;
  }

  /// "mmapx: open '/data/x': No such file or directory" (formatting only
  /// happens on the throwing path).
  std::string what() const {
    std::string text = "mmapx: ";
    text += operation;
    if (subject != nullptr) {
      text += " '";
      text += subject;
      text += '\'';
    } else if (fd >= 0) {
      text += " fd " + std::to_string(fd);
    }
    if (has_address) {
      char buf[32];
      std::snprintf(buf, sizeof buf, " at 0x%llx", static_cast<unsigned long long>(address));
      text += buf;
    }
    return text;
  }

  void throw_if_failed() const {
    if (code) throw std::system_error(code, what());
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
