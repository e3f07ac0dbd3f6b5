// mmapx/reg/recording_bus.hpp - a bus that performs no access but writes
// each one down, so a driver is tested without its hardware.
//
// Tests assert the exact sequence of (operation, offset, width, value).
// Reads are answered by a behavioural fake of the device (on_read), or else
// by the values the test queued (replies), or else 0.
#pragma once

#include <mmapx/reg/bus.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace mmapx::reg {

struct access_record {
  enum class op : std::uint8_t { read, write };
  op kind;
  std::size_t offset;
  unsigned bits;
  std::uint64_t value;

  friend bool operator==(const access_record&, const access_record&) = default;
};

inline access_record read_of(std::size_t offset, unsigned bits, std::uint64_t value) noexcept {
  return {access_record::op::read, offset, bits, value};
}
inline access_record write_of(std::size_t offset, unsigned bits, std::uint64_t value) noexcept {
  return {access_record::op::write, offset, bits, value};
}

/// "read32 0x20 -> 0x80" / "write64 0x80 <- 0x1000": for test failure messages.
inline std::string to_string(const access_record& a) {
  char text[64];
  std::snprintf(text, sizeof text, "%s%u 0x%zx %s 0x%llx", a.kind == access_record::op::read ? "read" : "write",
                a.bits, a.offset, a.kind == access_record::op::read ? "->" : "<-",
                static_cast<unsigned long long>(a.value));
  return text;
}

/// The log and the answers of a recording bus.
class recorder {
 public:
  std::vector<access_record> log;
  std::deque<std::uint64_t> replies;
  std::function<std::uint64_t(std::size_t offset, unsigned bits)> on_read;
  std::function<void(std::size_t offset, unsigned bits, std::uint64_t value)> on_write;

  std::size_t reads() const noexcept { return count(access_record::op::read); }
  std::size_t writes() const noexcept { return count(access_record::op::write); }
  void clear() noexcept { log.clear(); }

  std::uint64_t read(std::size_t offset, unsigned bits) {
    std::uint64_t value = 0;
    if (on_read) {
      value = on_read(offset, bits);
    } else if (!replies.empty()) {
      value = replies.front();
      replies.pop_front();
    }
    log.push_back(read_of(offset, bits, value));
    return value;
  }
  void write(std::size_t offset, unsigned bits, std::uint64_t value) {
    log.push_back(write_of(offset, bits, value));
    if (on_write) on_write(offset, bits, value);
  }

 private:
  std::size_t count(access_record::op kind) const noexcept {
    std::size_t n = 0;
    for (const auto& a : log) n += a.kind == kind ? 1 : 0;
    return n;
  }
};

/// A bus handle on a recorder (the block copies its bus; the log stays put).
class recording_bus {
 public:
  static constexpr bool writable = true;

  explicit recording_bus(recorder& rec) noexcept : rec_(&rec) {}

  template <class T>
  T load(std::size_t offset) const {
    return static_cast<T>(rec_->read(offset, sizeof(T) * 8));
  }
  template <class T>
  void store(std::size_t offset, T value) const {
    rec_->write(offset, sizeof(T) * 8, value);
  }

 private:
  recorder* rec_;
};

}  // namespace mmapx::reg
