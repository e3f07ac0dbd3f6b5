// mmapx-e1000: a user-space driver for Intel's 82540EM (QEMU's -device e1000)
// over VFIO, built on mmapx: BAR 0 as a region bound to the register map of
// <mmapx/devices/e1000.hpp>, rings and packet buffers in one anonymous region
// mapped for the device through the IOMMU, interrupts through an eventfd.
//
//   mmapx-e1000 info BDF                 link, speed, MAC (EEPROM and RAL0/RAH0)
//   mmapx-e1000 dump BDF [--statistics]  every register; statistics (which clear
//                                        when read) only when asked
//   mmapx-e1000 send BDF COUNT [SIZE|mixed]       broadcast test frames
//   mmapx-e1000 recv BDF COUNT [SECONDS]          receive and check them
//   mmapx-e1000 loop TX_BDF RX_BDF COUNT [SIZE|mixed] [--interrupts] [--window=N]
//                                        [--rx-ring=N] [--tx-ring=N]
//   mmapx-e1000 fault TX_BDF RX_BDF      a descriptor whose buffer IOVA is not mapped
//
// Devices must be bound to vfio-pci. Exit status: 0 success, 1 a frame was
// lost or wrong, 2 usage or setup error (no such device, not bound to
// vfio-pci, link down, bad ring size, frame too long), 3 device error seen.
#include "driver.hpp"
#include "frames.hpp"

#include <mmapx/anonymous.hpp>
#include <mmapx/number.hpp>
#include <mmapx/pci.hpp>
#include <mmapx/vfio.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace {

namespace e1000 = mmapx::e1000;
namespace vfio = mmapx::vfio;
using e1000_driver::driver_error;
using clock_type = std::chrono::steady_clock;
using nic_type = e1000_driver::nic<mmapx::reg::direct_bus<std::byte>>;

constexpr e1000_frames::mac_address broadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/// Refuses, with the reason and the fix, a PCI address that is not an 82540EM
/// bound to vfio-pci, before the VFIO container is opened.
void check_device(const std::string& bdf) {
  const auto all = mmapx::find_pci_devices(e1000::vendor_id, e1000::device_id);
  bool found = false;
  std::string list;
  for (const auto& d : all) {
    found = found || d == bdf;
    list += (list.empty() ? "" : ", ") + d;
  }
  if (!found)
    throw driver_error("no 82540EM (8086:100e) at " + bdf + "; 82540EMs present: " + (list.empty() ? "none" : list));
  (void)vfio::check_device(bdf);  // in an IOMMU group and bound to vfio-pci, or how to bind it
}

/// Checks every device (check_device), then opens the VFIO container they will share.
vfio::container open_container(std::initializer_list<std::string> bdfs) {
  for (const auto& bdf : bdfs) check_device(bdf);
  return vfio::container::open();
}

/// One NIC through VFIO: its BAR 0, its DMA memory and mapping, its interrupt, the driver.
struct port {
  vfio::device device;
  mmapx::rw_region bar0;
  mmapx::rw_region dma;
  vfio::dma_mapping mapping;
  std::optional<vfio::interrupts> irq;
  std::unique_ptr<nic_type> nic;

  port(vfio::container& container, const std::string& bdf, const e1000_driver::config& cfg) {
    device = container.open_device(bdf);
    bar0 = device.map_region(0);
    device.enable_bus_master();
    dma = mmapx::map_anonymous(e1000_driver::dma_layout::of(cfg.rx_ring, cfg.tx_ring).total);
    mapping = container.map_dma(dma);
    if (cfg.interrupts) irq = device.enable_interrupts(vfio::irq_type::intx);
    nic = std::make_unique<nic_type>(mmapx::reg::bind<e1000::map>(bar0.bytes()), dma, mapping.iova(), cfg, bdf);
    nic->init();
    if (irq) irq->unmask();
  }
};

/// Waits up to `timeout` for the NIC's interrupt: true when one came, false
/// when none did in time (errc::timed_out); other errors throw.
bool interrupted(vfio::interrupts& irq, std::chrono::milliseconds timeout) {
  std::error_code ec;
  (void)irq.wait(timeout, 0, ec);
  if (ec == mmapx::errc::timed_out) return false;
  if (ec) throw std::system_error(ec, "wait for the NIC's interrupt");
  return true;
}

/// Polling: takes the frames that are there. Interrupts: waits for the
/// receiving NIC's interrupt first (up to 200 ms; none in time is not an
/// error, the frames are taken anyway), reads ICR (which clears the causes
/// and so deasserts the line), unmasks INTx, then takes the frames; frames
/// that arrive after the ICR read raise the next interrupt.
template <class F>
std::size_t take_frames(port& rx, F&& on_frame) {
  if (rx.irq && interrupted(*rx.irq, std::chrono::milliseconds(200))) {
    (void)rx.nic->take_interrupt_causes();
    rx.irq->unmask();
  }
  return rx.nic->receive(on_frame);
}

/// Sends one frame and waits (up to 5 s) until it arrives, then clears the
/// statistics and counters: QEMU's model holds received frames back for about
/// a second after each RCTL write (its flush_queue_timer), which must not be
/// timed. Throws when the frame never arrives.
void warm_up(port& tx, port& rx) {
  constexpr std::uint32_t seq = 0xffffffff;
  std::vector<std::uint8_t> frame(e1000_frames::min_size);
  e1000_frames::fill(frame, seq, rx.nic->mac(), tx.nic->mac());
  tx.nic->queue(frame);
  tx.nic->flush();
  bool arrived = false;
  const auto deadline = clock_type::now() + std::chrono::seconds(5);
  while (!arrived && clock_type::now() < deadline)
    rx.nic->receive([&](std::span<const std::uint8_t> in) { arrived = arrived || e1000_frames::check(in, rx.nic->mac()).seq == seq; });
  if (!arrived) throw driver_error("no frame from " + tx.nic->name() + " reached " + rx.nic->name() + " within 5 s");
  while (tx.nic->in_flight() != 0 && tx.nic->reclaim() != 0) {}
  if (rx.irq) {
    (void)rx.nic->take_interrupt_causes();
    (void)interrupted(*rx.irq, std::chrono::milliseconds(0));  // takes a pending one, if any
    rx.irq->unmask();
  }
  (void)tx.nic->read_statistics();
  (void)rx.nic->read_statistics();
  tx.nic->clear_counters();
  rx.nic->clear_counters();
}

/// A number on the command line, read as every mmapx tool reads them
/// (mmapx::parse_number: decimal, 0x or 0b; no sign), at most `high`; what
/// it must be is said in `rule`. Finer checks (a ring's multiple of 8, a
/// frame's length) are the driver's.
std::uint64_t parse_argument(const std::string& text, const char* what, const char* rule, std::uint64_t low,
                             std::uint64_t high) {
  std::error_code ec;
  const std::uint64_t v = mmapx::parse_number(text, ec);
  if (ec || v < low || v > high) throw driver_error(std::string(what) + " must be " + rule + ", not '" + text + "'");
  return v;
}
std::size_t parse_size(const std::string& text) {
  if (text == "mixed") return 0;
  return parse_argument(text, "SIZE", "a number of bytes or 'mixed'", 0, SIZE_MAX);
}
std::uint64_t parse_count(const std::string& text) {
  return parse_argument(text, "COUNT", "1 to 2^32-1", 1, 0xffffffffull);
}
std::size_t parse_ring(const std::string& text, const char* option) {
  return parse_argument(text, option, "a number of descriptors", 0, SIZE_MAX);
}

void print_statistics(const char* who, const e1000_driver::statistics& s) {
  std::printf("%s statistics: gptc=%llu tpt=%llu gotc=%llu tot=%llu gprc=%llu tpr=%llu gorc=%llu tor=%llu mpc=%llu "
              "rnbc=%llu crcerrs=%llu\n",
              who, (unsigned long long)s.gptc, (unsigned long long)s.tpt, (unsigned long long)s.gotc,
              (unsigned long long)s.tot, (unsigned long long)s.gprc, (unsigned long long)s.tpr,
              (unsigned long long)s.gorc, (unsigned long long)s.tor, (unsigned long long)s.mpc,
              (unsigned long long)s.rnbc, (unsigned long long)s.crcerrs);
}

int info(const std::string& bdf) {
  vfio::container container = open_container({bdf});
  port p(container, bdf, {});
  const auto st = p.nic->registers().snapshot<e1000::status>();
  const auto [ra, valid] = p.nic->read_mac_from_ra();
  static const char* speeds[] = {"10", "100", "1000", "1000"};
  std::printf("82540EM %s: link %s, %s Mb/s %s duplex\n", bdf.c_str(), st.get<e1000::status::lu>() ? "up" : "down",
              speeds[st.get<e1000::status::speed>()], st.get<e1000::status::fd>() ? "full" : "half");
  std::printf("MAC (EEPROM words 0-2): %s\n", e1000_frames::to_string(p.nic->mac()).c_str());
  std::printf("MAC (RAL0/RAH0): %s%s\n", e1000_frames::to_string(ra).c_str(), valid ? " (valid)" : " (not valid)");
  std::printf("DMA: %zu bytes at IOVA 0x%llx\n", p.dma.size(), (unsigned long long)p.mapping.iova());
  return 0;
}

int dump(const std::string& bdf, bool statistics) {
  vfio::container container = open_container({bdf});
  vfio::device device = container.open_device(bdf);
  auto bar0 = device.map_region(0);
  const auto regs = mmapx::reg::bind<e1000::map>(bar0.bytes());
  std::fputs(regs.dump().c_str(), stdout);  // never reads ICR or a statistics register
  if (statistics) {
    mmapx::rw_region none = mmapx::map_anonymous(e1000_driver::dma_layout::of(8, 8).total);
    e1000_driver::config cfg;
    cfg.rx_ring = cfg.tx_ring = 8;
    nic_type nic(regs, none, 0, cfg, bdf);  // not init()ed: only reads the statistics
    print_statistics("read-clear", nic.read_statistics());
  }
  return 0;
}

int send(const std::string& bdf, std::uint64_t count, std::size_t size) {
  vfio::container container = open_container({bdf});
  port p(container, bdf, {});
  std::vector<std::uint8_t> frame;
  const auto start = clock_type::now();
  for (std::uint64_t seq = 0; seq < count;) {
    frame.resize(size != 0 ? size : e1000_frames::mixed_size(static_cast<std::uint32_t>(seq)));
    e1000_frames::fill(frame, static_cast<std::uint32_t>(seq), broadcast, p.nic->mac());
    if (p.nic->queue(frame)) {
      ++seq;
      continue;
    }
    p.nic->flush();
    p.nic->reclaim();
  }
  p.nic->flush();
  p.nic->wait_transmitted(std::chrono::seconds(5));
  const double s = std::chrono::duration<double>(clock_type::now() - start).count();
  std::printf("sent %llu frames in %.3f s: %.0f frames/s\n", (unsigned long long)count, s, count / s);
  print_statistics(bdf.c_str(), p.nic->read_statistics());
  return 0;
}

int recv(const std::string& bdf, std::uint64_t count, int seconds) {
  vfio::container container = open_container({bdf});
  port p(container, bdf, {});
  std::printf("receiving on %s (%s)\n", bdf.c_str(), e1000_frames::to_string(p.nic->mac()).c_str());
  std::fflush(stdout);
  std::uint64_t good = 0, bad = 0;
  const auto deadline = clock_type::now() + std::chrono::seconds(seconds);
  while (good + bad < count && clock_type::now() < deadline) {
    p.nic->receive([&](std::span<const std::uint8_t> in) {
      const auto v = e1000_frames::check(in, broadcast);
      if (v.ok) ++good;
      else if (bad++ == 0) std::printf("bad frame: %s\n", v.problem.c_str());
    });
  }
  std::printf("received %llu frames, %llu verified, %llu wrong\n", (unsigned long long)(good + bad),
              (unsigned long long)good, (unsigned long long)bad);
  print_statistics(bdf.c_str(), p.nic->read_statistics());
  return good == count ? 0 : 1;
}

struct loop_options {
  std::size_t size = 0;  // 0: mixed
  std::uint64_t window = 128;
  e1000_driver::config cfg;
};

int loop(const std::string& tx_bdf, const std::string& rx_bdf, std::uint64_t count, const loop_options& o) {
  vfio::container container = open_container({tx_bdf, rx_bdf});
  port tx(container, tx_bdf, o.cfg);
  port rx(container, rx_bdf, o.cfg);
  warm_up(tx, rx);
  std::vector<std::uint8_t> frame;
  std::uint64_t sent = 0, good = 0, bad = 0, octets = 0;
  std::string first_problem;
  auto on_frame = [&](std::span<const std::uint8_t> in) {
    const auto v = e1000_frames::check(in, rx.nic->mac());
    if (v.ok && v.seq == good + bad) ++good;
    else if (bad++ == 0) first_problem = v.ok ? "frame out of order" : v.problem;
  };
  const std::uint64_t irq_base = rx.irq ? rx.irq->count() : 0;  // the warm-up's are not counted
  const auto start = clock_type::now();
  auto last_progress = start;
  while (good + bad < count) {
    bool queued = false;
    while (sent < count && sent - (good + bad) < o.window) {
      frame.resize(o.size != 0 ? o.size : e1000_frames::mixed_size(static_cast<std::uint32_t>(sent)));
      e1000_frames::fill(frame, static_cast<std::uint32_t>(sent), rx.nic->mac(), tx.nic->mac());
      if (!tx.nic->queue(frame)) break;
      octets += frame.size();
      ++sent;
      queued = true;
    }
    if (queued) tx.nic->flush();
    tx.nic->reclaim();
    if (take_frames(rx, on_frame) != 0) last_progress = clock_type::now();
    else if (clock_type::now() - last_progress > std::chrono::seconds(2)) break;
  }
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  while (tx.nic->in_flight() != 0 && tx.nic->reclaim() != 0) {}
  const auto ts = tx.nic->read_statistics();
  const auto rs = rx.nic->read_statistics();
  const auto again_t = tx.nic->read_statistics();
  const auto again_r = rx.nic->read_statistics();
  const auto& tc = tx.nic->counters();
  const auto& rc = rx.nic->counters();
  std::printf("mmapx-e1000 %s -> %s: size=%s mode=%s window=%llu sent=%llu received=%llu verified=%llu lost=%llu "
              "seconds=%.3f frames/s=%.0f\n",
              tx_bdf.c_str(), rx_bdf.c_str(), o.size ? std::to_string(o.size).c_str() : "mixed",
              rx.irq ? "interrupts" : "polling", (unsigned long long)o.window, (unsigned long long)sent,
              (unsigned long long)(good + bad), (unsigned long long)good, (unsigned long long)(count - good - bad),
              seconds, good / seconds);
  std::printf("ring wrap-arounds: tx %llu (ring %zu), rx %llu (ring %zu); rx descriptors with errors: %llu\n",
              (unsigned long long)tc.tx_wraps, o.cfg.tx_ring, (unsigned long long)rc.rx_wraps, o.cfg.rx_ring,
              (unsigned long long)rc.rx_errors);
  std::printf("interrupts: %llu\n", rx.irq ? (unsigned long long)(rx.irq->count() - irq_base) : 0ull);
  std::printf("octets sent: %llu (%llu with FCS)\n", (unsigned long long)octets,
              (unsigned long long)(octets + 4 * sent));
  print_statistics("tx", ts);
  print_statistics("rx", rs);
  print_statistics("tx re-read", again_t);
  print_statistics("rx re-read", again_r);
  if (!first_problem.empty()) std::printf("first bad frame: %s\n", first_problem.c_str());
  const bool counted = ts.gptc == sent && ts.tpt == sent && rs.gprc == good && rs.tpr == good &&
                       ts.tot == octets + 4 * sent && rs.mpc == 0;
  const bool cleared = again_t.gptc == 0 && again_t.tot == 0 && again_r.gprc == 0 && again_r.tor == 0;
  if (!counted) std::printf("statistics registers disagree with what was sent and received\n");
  if (!cleared) std::printf("statistics registers not zero after being read\n");
  return good == count && counted && cleared ? 0 : 1;
}

/// Sends frame `seq` (or, with `buffer_iova`, a descriptor pointing there)
/// and reports whether a frame with that sequence number arrived within 2 s.
bool send_and_see(port& tx, port& rx, std::uint32_t seq, std::optional<std::uint64_t> buffer_iova = std::nullopt) {
  std::vector<std::uint8_t> frame(e1000_frames::min_size);
  e1000_frames::fill(frame, seq, rx.nic->mac(), tx.nic->mac());
  if (buffer_iova) tx.nic->queue_raw(*buffer_iova, static_cast<std::uint16_t>(frame.size()));
  else tx.nic->queue(frame);
  tx.nic->flush();
  bool seen = false;
  const auto deadline = clock_type::now() + std::chrono::seconds(2);
  while (!seen && clock_type::now() < deadline)
    rx.nic->receive([&](std::span<const std::uint8_t> in) {
      const auto v = e1000_frames::check(in, rx.nic->mac());
      seen = seen || (v.ok && v.seq == seq);
    });
  return seen;
}

/// The IOMMU stops a device's DMA to IOVAs nothing is mapped at, and the
/// driver says so instead of hanging. Frame 0 is good; frame 1's descriptor
/// points at an unmapped buffer (the device's read is blocked: the frame never
/// arrives); then the transmit ring itself is pointed at an unmapped IOVA (the
/// device takes descriptors but cannot write them back: wait_transmitted
/// reports it); after setting the ring up again, frame 3 is good.
int fault(const std::string& tx_bdf, const std::string& rx_bdf) {
  vfio::container container = open_container({tx_bdf, rx_bdf});
  e1000_driver::config cfg;
  port tx(container, tx_bdf, cfg);
  port rx(container, rx_bdf, cfg);
  warm_up(tx, rx);
  const std::uint64_t unmapped = (tx.mapping.iova() + tx.dma.size() + (1u << 30)) & ~0xfffull;
  int result = 0;
  const bool good0 = send_and_see(tx, rx, 0);
  std::printf("frame 0 (mapped buffer): %s\n", good0 ? "received intact" : "LOST");
  tx.nic->wait_transmitted(std::chrono::seconds(2));
  if (send_and_see(tx, rx, 1, unmapped)) {
    std::printf("frame 1, buffer at unmapped IOVA 0x%llx, arrived: the IOMMU did not stop the device\n",
                (unsigned long long)unmapped);
    result = 1;
  } else {
    std::printf("device error: frame 1, whose descriptor points at IOVA 0x%llx (not mapped), did not arrive: "
                "the IOMMU blocked the device's read (DMAR fault in the kernel log)\n", (unsigned long long)unmapped);
    result = 3;
  }
  tx.nic->wait_transmitted(std::chrono::seconds(2));
  tx.nic->point_transmit_ring_at(unmapped);
  std::vector<std::uint8_t> frame(e1000_frames::min_size);
  e1000_frames::fill(frame, 2, rx.nic->mac(), tx.nic->mac());
  tx.nic->queue(frame);
  tx.nic->flush();
  try {
    tx.nic->wait_transmitted(std::chrono::seconds(1));
    std::printf("frame 2, transmit ring at unmapped IOVA 0x%llx, completed: the IOMMU did not stop the device\n",
                (unsigned long long)unmapped);
    result = 1;
  } catch (const driver_error& e) {
    std::printf("%s\n", e.what());
  }
  tx.nic->setup_transmit();
  const bool good3 = send_and_see(tx, rx, 3);
  std::printf("frame 3 (ring set up again): %s\n", good3 ? "received intact" : "LOST");
  return good0 && good3 ? result : 1;
}

constexpr const char* help = R"(usage: mmapx-e1000 info BDF
       mmapx-e1000 dump BDF [--statistics]
       mmapx-e1000 send BDF COUNT [SIZE|mixed]
       mmapx-e1000 recv BDF COUNT [SECONDS]
       mmapx-e1000 loop TX_BDF RX_BDF COUNT [SIZE|mixed] [--interrupts] [--window=N]
                        [--rx-ring=N] [--tx-ring=N]
       mmapx-e1000 fault TX_BDF RX_BDF
       mmapx-e1000 --help

A user-space driver for Intel's 82540EM (QEMU's -device e1000, PCI 8086:100e)
over VFIO. Devices must be bound to vfio-pci.

commands:
  info               link, speed, MAC (EEPROM and RAL0/RAH0)
  dump               every register; statistics (which clear when read) only
                     with --statistics
  send               broadcast COUNT test frames of SIZE bytes (default 60;
                     mixed: sizes spread over 60 to 1514)
  recv               receive COUNT test frames and check them (wait up to
                     SECONDS, default 10)
  loop               send COUNT frames from TX_BDF, receive and check them on
                     RX_BDF; prints the rate
  fault              a descriptor whose buffer IOVA is not mapped: the IOMMU
                     must block the device (exit status 3)

options:
  --statistics       dump: read the statistics registers too
  --interrupts       loop: wait on the receive interrupt instead of polling
  --window=N         loop: frames in flight at most (default 128; below the
                     receive ring's size)
  --rx-ring=N        loop: receive descriptors, a multiple of 8 from 8 to 65536
                     (default 256)
  --tx-ring=N        loop: transmit descriptors, the same rule (default 256)
  --help             this text

exit status: 0 success, 1 a frame was lost or wrong, 2 usage or setup error
(no such device, not bound to vfio-pci, link down, bad ring size, frame too
long), 3 device error seen.
)";

int usage(const char* why) {
  std::fprintf(stderr, "mmapx-e1000: %s\nTry 'mmapx-e1000 --help' for more information.\n", why);
  return 2;
}

int run(const std::vector<std::string>& a) {
  if (a.empty()) return usage("no command");
  const std::string& cmd = a[0];
  if (cmd == "--help" && a.size() == 1) {
    std::fputs(help, stdout);
    return 0;
  }
  if (cmd == "info" && a.size() == 2) return info(a[1]);
  if (cmd == "dump" && (a.size() == 2 || (a.size() == 3 && a[2] == "--statistics"))) return dump(a[1], a.size() == 3);
  if (cmd == "send" && (a.size() == 3 || a.size() == 4))
    return send(a[1], parse_count(a[2]), a.size() == 4 ? parse_size(a[3]) : 60);
  if (cmd == "recv" && (a.size() == 3 || a.size() == 4))
    return recv(a[1], parse_count(a[2]), a.size() == 4 ? static_cast<int>(parse_argument(a[3], "SECONDS", "1 to 86400", 1, 86400)) : 10);
  if (cmd == "fault" && a.size() == 3) return fault(a[1], a[2]);
  if (cmd == "loop" && a.size() >= 4) {
    loop_options o;
    for (std::size_t i = 4; i < a.size(); ++i) {
      const std::string& opt = a[i];
      if (opt == "--interrupts") o.cfg.interrupts = true;
      else if (opt.rfind("--window=", 0) == 0) o.window = parse_argument(opt.substr(9), "--window", "1 to 2^32-1", 1, 0xffffffffull);
      else if (opt.rfind("--rx-ring=", 0) == 0) o.cfg.rx_ring = parse_ring(opt.substr(10), "--rx-ring");
      else if (opt.rfind("--tx-ring=", 0) == 0) o.cfg.tx_ring = parse_ring(opt.substr(10), "--tx-ring");
      else if (opt.rfind("--", 0) != 0 && i == 4) o.size = parse_size(opt);
      else return usage(("unknown option '" + opt + "'").c_str());
    }
    e1000_driver::check_ring_size("receive", o.cfg.rx_ring);
    e1000_driver::check_ring_size("transmit", o.cfg.tx_ring);
    if (o.window >= o.cfg.rx_ring)
      throw driver_error("--window=" + std::to_string(o.window) + " must be smaller than the receive ring (" +
                         std::to_string(o.cfg.rx_ring) + " descriptors): the device drops what the ring cannot hold");
    if (o.size != 0 && (o.size > e1000_driver::max_frame || o.size < e1000_frames::min_size))
      throw driver_error("frame of " + std::to_string(o.size) + " bytes: loop sends 60 to 1514 bytes (no jumbo frames)");
    return loop(a[1], a[2], parse_count(a[3]), o);
  }
  return usage(("unknown command or wrong arguments: '" + cmd + "'").c_str());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mmapx-e1000: %s\n", e.what());
    return 2;
  }
}
