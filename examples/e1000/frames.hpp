// examples/e1000/frames.hpp - the test frames both e1000 programs send and
// check: mmapx-e1000 (the user-space driver) and e1000-afpacket (Linux's
// e1000.ko through an AF_PACKET socket), so that their figures compare the
// same work.
//
// A frame is an Ethernet II frame of the local experimental EtherType
// 0x88b5: destination and source MAC, the type, a 32-bit sequence number,
// the frame's length, then a payload whose every byte follows from the
// sequence number and its position. The receiver recomputes every byte.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

namespace e1000_frames {

/// A MAC address, in wire order.
using mac_address = std::array<std::uint8_t, 6>;

/// IEEE 802 "local experimental" EtherType: no stack in the guest claims it.
inline constexpr std::uint16_t ether_type = 0x88b5;
/// Smallest frame handed to a NIC (60 bytes; the NIC adds the 4-byte FCS: 64 on the wire).
inline constexpr std::size_t min_size = 60;
/// Largest standard frame without FCS (1518 on the wire).
inline constexpr std::size_t max_size = 1514;
/// Bytes before the payload: MACs, type, sequence number, length.
inline constexpr std::size_t header_size = 6 + 6 + 2 + 4 + 2;

/// The size of frame `seq` in a mixed run: spread over 60..1514, not periodic in ring sizes.
constexpr std::size_t mixed_size(std::uint32_t seq) noexcept {
  return min_size + (static_cast<std::size_t>(seq) * 7919u) % (max_size - min_size + 1);
}

/// The payload byte at `index` of frame `seq`.
constexpr std::uint8_t pattern_byte(std::uint32_t seq, std::size_t index) noexcept {
  return static_cast<std::uint8_t>(seq * 31u + index * 7u + (index >> 8));
}

/// Writes frame `seq` of `out.size()` bytes (min_size..max_size) into `out`.
inline void fill(std::span<std::uint8_t> out, std::uint32_t seq, const mac_address& dst,
                 const mac_address& src) noexcept {
  std::size_t i = 0;
  for (auto b : dst) out[i++] = b;
  for (auto b : src) out[i++] = b;
  out[i++] = ether_type >> 8;
  out[i++] = ether_type & 0xff;
  for (int shift = 24; shift >= 0; shift -= 8) out[i++] = static_cast<std::uint8_t>(seq >> shift);
  out[i++] = static_cast<std::uint8_t>(out.size() >> 8);
  out[i++] = static_cast<std::uint8_t>(out.size());
  for (; i < out.size(); ++i) out[i] = pattern_byte(seq, i);
}

/// What check() found in a received frame.
struct verdict {
  bool ok = false;          ///< every byte as sent
  std::uint32_t seq = 0;    ///< the sequence number the frame carries
  std::string problem;      ///< why not ok: the first wrong byte
};

/// Checks a received frame against what fill() wrote for its sequence number,
/// with `dst` as the expected destination. Every byte is compared.
inline verdict check(std::span<const std::uint8_t> in, const mac_address& dst) {
  verdict v;
  char text[160];
  if (in.size() < header_size) {
    std::snprintf(text, sizeof text, "frame of %zu bytes, shorter than the header", in.size());
    v.problem = text;
    return v;
  }
  v.seq = (std::uint32_t{in[14]} << 24) | (std::uint32_t{in[15]} << 16) | (std::uint32_t{in[16]} << 8) | in[17];
  const std::size_t length = (std::size_t{in[18]} << 8) | in[19];
  for (std::size_t i = 0; i < 6; ++i)
    if (in[i] != dst[i]) v.problem = "destination MAC differs";
  if (in[12] != (ether_type >> 8) || in[13] != (ether_type & 0xff)) v.problem = "EtherType differs";
  if (length != in.size()) {
    std::snprintf(text, sizeof text, "frame %u: %zu bytes received, %zu sent", v.seq, in.size(), length);
    v.problem = text;
  }
  for (std::size_t i = header_size; i < in.size() && v.problem.empty(); ++i) {
    if (in[i] != pattern_byte(v.seq, i)) {
      std::snprintf(text, sizeof text, "frame %u byte %zu: 0x%02x, expected 0x%02x", v.seq, i, in[i],
                    pattern_byte(v.seq, i));
      v.problem = text;
    }
  }
  v.ok = v.problem.empty();
  return v;
}

/// "52:54:00:12:34:56"
inline std::string to_string(const mac_address& mac) {
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                mac[5]);
  return text;
}

}  // namespace e1000_frames
