// mmapx/reg/recording_bus.hpp - a bus that performs no access but writes
// each one down, so a driver is tested without its hardware.
//
// Tests assert the exact sequence of (operation, offset, width, value).
// Reads are answered by a behavioural fake of the device (on_read), or else
// by the values the test queued (replies), or else 0.
#pragma once

#include <mmapx/reg/block.hpp>
#include <mmapx/reg/bus.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace mmapx::reg {

/// One access as a recording bus saw it; tests compare logs of these.
struct access_record {
  /// Load (read) or store (write).
  enum class op : std::uint8_t { read, write };
  /// Which of the two this access was.
  op kind;
  /// Byte offset from the map's base (an array element's or a block copy's included).
  std::size_t offset;
  /// Access width: 8, 16, 32 or 64 (a split 64-bit access logs two 32-bit ones).
  unsigned bits;
  /// The value read (as on_read or the replies answered it) or written, zero-extended.
  std::uint64_t value;

  /// Member by member, so that whole logs compare with ==.
  friend bool operator==(const access_record&, const access_record&) = default;
};

/// An expected read, to compare with the log: read_of(0x20, 32, 0x80).
inline access_record read_of(std::size_t offset, unsigned bits, std::uint64_t value) noexcept {
  return {access_record::op::read, offset, bits, value};
}
/// An expected write, to compare with the log: write_of(0x08, 32, 10).
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
  /// Every access, oldest first; a split 64-bit access appears as its two 32-bit halves.
  std::vector<access_record> log;
  /// Answers for reads when on_read is unset, used front first; reads give 0 once it is empty.
  std::deque<std::uint64_t> replies;
  /// Optional fake device answering every read (replies are then not used). It is
  /// called before the read is logged, with the offset from the map's base and the
  /// width in bits; it may change its own state (a FIFO pop, a read-clear).
  std::function<std::uint64_t(std::size_t offset, unsigned bits)> on_read;
  /// Optional: called after each write is logged, e.g. to update a fake device.
  std::function<void(std::size_t offset, unsigned bits, std::uint64_t value)> on_write;

  /// Reads logged since the last clear() (each half of a split access counts).
  std::size_t reads() const noexcept { return count(access_record::op::read); }
  /// Writes logged since the last clear() (each half of a split access counts).
  std::size_t writes() const noexcept { return count(access_record::op::write); }
  /// Empties the log; replies and callbacks stay.
  void clear() noexcept { log.clear(); }

  /// The bus's read: answered by on_read, else the next reply, else 0; then logged.
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
  /// The bus's write: logged, then passed to on_write.
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
  /// A recording bus accepts writes.
  static constexpr bool writable = true;

  /// Logs offsets from the block's base; `rec` must outlive the bus and every block bound to it.
  explicit recording_bus(recorder& rec, std::size_t base = 0) noexcept : rec_(&rec), base_(base) {}

  /// One read of sizeof(T) bytes at `offset` (plus the base of an array copy),
  /// answered by the recorder (on_read, replies, or 0), logged, truncated to T.
  template <class T>
  T load(std::size_t offset) const {
    return static_cast<T>(rec_->read(base_ + offset, sizeof(T) * 8));
  }
  /// One write of sizeof(T) bytes, logged (then passed to on_write) by the recorder.
  template <class T>
  void store(std::size_t offset, T value) const {
    rec_->write(base_ + offset, sizeof(T) * 8, value);
  }
  /// The same recorder, offsets `base` bytes further (an element of an array):
  /// the log keeps offsets from the map's base.
  recording_bus rebased(std::size_t base) const noexcept { return recording_bus(*rec_, base_ + base); }

 private:
  recorder* rec_;
  std::size_t base_;
};

/// A block whose accesses go to a recorder instead of memory: the test double
/// for a driver's block (the recorder must outlive the block).
template <map_type Map>
block<Map, recording_bus> bind(recorder& rec) noexcept {
  return block<Map, recording_bus>(recording_bus(rec));
}

}  // namespace mmapx::reg
