// e1000-afpacket: the kernel's side of the e1000 comparison. Sends the
// frames of frames.hpp from one network interface through an AF_PACKET
// socket (Linux's own e1000.ko drives the NIC), receives them on another
// (joined to the first by a QEMU hub), checks every byte and prints
// frames/s, the figure mmapx-e1000's `loop` prints for the user-space driver.
//
//   e1000-afpacket TX_IFACE RX_IFACE COUNT SIZE|mixed [WINDOW]
//
// At most WINDOW frames (default 128, half of e1000.ko's 256 receive
// descriptors) are in flight: sent but not yet received. Without such a
// window the sender fills the receiving ring faster than the receiver's
// NAPI empties it and QEMU drops the rest (counted by MPC, the kernel's
// rx_missed_errors); mmapx-e1000 loop keeps the same window.
//
// Exit status: 0 all frames arrived intact, 1 a frame was lost or wrong,
// 2 a usage or system error. Static, so it runs in the VM's busybox guest.
#include "frames.hpp"

#include <mmapx/number.hpp>

#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using e1000_frames::mac_address;

[[noreturn]] void fail_system(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

/// An open file descriptor, closed when it goes out of scope.
struct socket_fd {
  int fd = -1;
  explicit socket_fd(int f) : fd(f) {}
  socket_fd(const socket_fd&) = delete;
  socket_fd& operator=(const socket_fd&) = delete;
  ~socket_fd() {
    if (fd >= 0) ::close(fd);
  }
};

/// One network interface: its index, MAC, and whether the link is up.
struct interface {
  std::string name;
  int index = 0;
  mac_address mac{};
};

ifreq request_for(const std::string& name) {
  ifreq req{};
  if (name.size() >= sizeof req.ifr_name) throw std::runtime_error("interface name too long: " + name);
  std::memcpy(req.ifr_name, name.c_str(), name.size() + 1);
  return req;
}

/// Sets IFF_UP and waits until the driver reports carrier (IFF_RUNNING):
/// e1000.ko's watchdog sees QEMU's link come up after autonegotiation.
interface bring_up(int control, const std::string& name) {
  interface itf{name};
  ifreq req = request_for(name);
  if (::ioctl(control, SIOCGIFINDEX, &req) != 0) fail_system("SIOCGIFINDEX " + name);
  itf.index = req.ifr_ifindex;
  if (::ioctl(control, SIOCGIFHWADDR, &req) != 0) fail_system("SIOCGIFHWADDR " + name);
  std::memcpy(itf.mac.data(), req.ifr_hwaddr.sa_data, 6);
  if (::ioctl(control, SIOCGIFFLAGS, &req) != 0) fail_system("SIOCGIFFLAGS " + name);
  req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP);
  if (::ioctl(control, SIOCSIFFLAGS, &req) != 0) fail_system("SIOCSIFFLAGS " + name);
  const auto deadline = clock_type::now() + std::chrono::seconds(20);
  for (;;) {
    if (::ioctl(control, SIOCGIFFLAGS, &req) != 0) fail_system("SIOCGIFFLAGS " + name);
    if ((req.ifr_flags & IFF_RUNNING) != 0) return itf;
    if (clock_type::now() > deadline) throw std::runtime_error(name + ": link still down after 20 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

int packet_socket(const interface& itf, std::uint16_t protocol) {
  const int fd = ::socket(AF_PACKET, SOCK_RAW, htons(protocol));
  if (fd < 0) fail_system("socket(AF_PACKET)");
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(protocol);
  addr.sll_ifindex = itf.index;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    fail_system("bind AF_PACKET to " + itf.name);
  }
  return fd;
}

/// What the receiving thread saw.
struct receive_result {
  std::atomic<std::uint64_t> received{0};
  std::uint64_t verified = 0;
  std::string first_problem;
  clock_type::time_point last{};
};

/// Receives until `count` frames arrived or none came for two seconds.
void receive(int fd, const mac_address& own, std::uint64_t count, receive_result& out,
             std::atomic<bool>& ready) {
  timeval idle{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
  std::vector<std::uint8_t> buffer(2048);
  ready = true;
  while (out.received < count) {
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;  // EAGAIN after two idle seconds: the rest is lost
    out.last = clock_type::now();
    out.received.fetch_add(1, std::memory_order_release);
    const auto v = e1000_frames::check({buffer.data(), static_cast<std::size_t>(n)}, own);
    if (v.ok) {
      ++out.verified;
    } else if (out.first_problem.empty()) {
      out.first_problem = v.problem;
    }
  }
}

/// Sends one frame, retrying while the queue is full (ENOBUFS from the qdisc).
void send_frame(int fd, const std::vector<std::uint8_t>& frame, std::uint64_t& retries) {
  for (;;) {
    if (::send(fd, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size())) return;
    if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) fail_system("send");
    ++retries;
    std::this_thread::yield();
  }
}

/// Waits until fewer than `window` frames are in flight; false when nothing
/// arrived for two seconds (a frame was lost: stop sending).
bool wait_for_window(const receive_result& result, std::uint64_t sent, std::uint64_t window) {
  auto last_progress = clock_type::now();
  std::uint64_t seen = result.received.load(std::memory_order_acquire);
  while (sent - seen >= window) {
    std::this_thread::yield();
    const std::uint64_t now_seen = result.received.load(std::memory_order_acquire);
    if (now_seen != seen) {
      seen = now_seen;
      last_progress = clock_type::now();
    } else if (clock_type::now() - last_progress > std::chrono::seconds(2)) {
      return false;
    }
  }
  return true;
}

int run(const std::string& tx_name, const std::string& rx_name, std::uint64_t count, std::size_t size,
        std::uint64_t window) {
  socket_fd control(::socket(AF_INET, SOCK_DGRAM, 0));
  if (control.fd < 0) fail_system("socket(AF_INET)");
  const interface tx = bring_up(control.fd, tx_name);
  const interface rx = bring_up(control.fd, rx_name);
  socket_fd rx_fd(packet_socket(rx, e1000_frames::ether_type));
  int big = 16 << 20;
  ::setsockopt(rx_fd.fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  socket_fd tx_fd(packet_socket(tx, 0));  // protocol 0: sends only, receives nothing

  receive_result result;
  std::atomic<bool> ready{false};
  std::thread receiver([&] { receive(rx_fd.fd, rx.mac, count, result, ready); });
  while (!ready) std::this_thread::yield();

  std::uint64_t retries = 0;
  std::vector<std::uint8_t> frame;
  const auto start = clock_type::now();
  std::uint64_t sent = 0;
  for (std::uint64_t seq = 0; seq < count; ++seq) {
    if (!wait_for_window(result, sent, window)) break;
    frame.resize(size != 0 ? size : e1000_frames::mixed_size(static_cast<std::uint32_t>(seq)));
    e1000_frames::fill(frame, static_cast<std::uint32_t>(seq), rx.mac, tx.mac);
    send_frame(tx_fd.fd, frame, retries);
    ++sent;
  }
  receiver.join();

  const double seconds = std::chrono::duration<double>(result.last - start).count();
  std::printf("kernel e1000.ko AF_PACKET %s -> %s: size=%s window=%llu sent=%llu received=%llu "
              "verified=%llu lost=%llu send_retries=%llu seconds=%.3f frames/s=%.0f\n",
              tx.name.c_str(), rx.name.c_str(), size != 0 ? std::to_string(size).c_str() : "mixed",
              static_cast<unsigned long long>(window), static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(result.received.load()),
              static_cast<unsigned long long>(result.verified),
              static_cast<unsigned long long>(count - result.received.load()), static_cast<unsigned long long>(retries),
              seconds, seconds > 0 ? static_cast<double>(result.verified) / seconds : 0.0);
  if (!result.first_problem.empty()) std::printf("first bad frame: %s\n", result.first_problem.c_str());
  return result.verified == count ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: e1000-afpacket TX_IFACE RX_IFACE COUNT SIZE|mixed [WINDOW]\n");
    return 2;
  }
  // Numbers as every mmapx tool reads them (mmapx::parse_number: decimal, 0x, 0b; no sign).
  std::error_code ec;
  const std::uint64_t count = mmapx::parse_number(argv[3], ec);
  if (ec || count == 0 || count > 0xffffffffull) {
    std::fprintf(stderr, "e1000-afpacket: COUNT must be 1 to 2^32-1, not '%s'\n", argv[3]);
    return 2;
  }
  std::size_t size = 0;
  if (std::string(argv[4]) != "mixed") {
    const std::uint64_t wanted = mmapx::parse_number(argv[4], ec);
    if (ec || wanted < e1000_frames::min_size || wanted > e1000_frames::max_size) {
      std::fprintf(stderr, "e1000-afpacket: SIZE must be %zu to %zu or 'mixed', not '%s'\n",
                   e1000_frames::min_size, e1000_frames::max_size, argv[4]);
      return 2;
    }
    size = static_cast<std::size_t>(wanted);
  }
  std::uint64_t window = 128;
  if (argc == 6) {
    window = mmapx::parse_number(argv[5], ec);
    if (ec || window == 0 || window > 4096) {
      std::fprintf(stderr, "e1000-afpacket: WINDOW must be 1 to 4096, not '%s'\n", argv[5]);
      return 2;
    }
  }
  try {
    return run(argv[1], argv[2], count, size, window);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "e1000-afpacket: %s\n", e.what());
    return 2;
  }
}
