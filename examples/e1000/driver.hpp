// examples/e1000/driver.hpp - a user-space driver for Intel's 82540EM on
// mmapx: the register map of <mmapx/devices/e1000.hpp> bound to BAR 0, one
// receive and one transmit ring of typed descriptors (mapped_array) in one
// region of DMA memory whose IOVA the caller gives (VFIO maps it), packet
// buffers next to them, polling or interrupts.
//
// The bring-up follows the manual's chapter 14 ("General Initialization and
// Reset Operation"): mask interrupts, reset (CTRL.RST), mask again, set link
// up, clear the statistics and the multicast table, program the station
// address, set up the receive ring (RDBAL/RDBAH/RDLEN/RDH/RDT) and only then
// enable receive (RCTL), set up the transmit ring and only then enable
// transmit (TCTL, TIPG), unmask the causes the driver handles.
//
// The driver is a template over the register bus, so unit tests run the same
// code against a recording bus (tests/unit/e1000_init_test.cpp).
#pragma once

#include <mmapx/devices/e1000.hpp>
#include <mmapx/typed.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>

namespace e1000_driver {

namespace e1000 = mmapx::e1000;
namespace reg = mmapx::reg;

/// Every error the driver reports: what failed, on which device, and why.
struct driver_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Orders the CPU's stores to DMA memory (descriptors, buffers) before a later
/// store to a device register (a tail update), as Linux's dma_wmb()+writel.
/// x86 keeps stores in order, so only the compiler must be stopped from
/// moving the plain stores past the volatile one; arm64 needs a barrier.
inline void dma_wmb() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("" ::: "memory");
#elif defined(__aarch64__)
  asm volatile("dmb oshst" ::: "memory");
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}
/// Orders a read of a descriptor's status (dd) before reads of the fields the
/// device wrote with it (length, errors), as Linux's dma_rmb().
inline void dma_rmb() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("" ::: "memory");
#elif defined(__aarch64__)
  asm volatile("dmb oshld" ::: "memory");
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

/// Ring sizes and mode.
struct config {
  std::size_t rx_ring = 256;  ///< receive descriptors: a multiple of 8, 8 to 65536
  std::size_t tx_ring = 256;  ///< transmit descriptors: the same rule
  bool interrupts = false;    ///< unmask the receive/transmit/link causes (IMS)
  std::uint16_t itr = 0;      ///< ITR: minimum gap between interrupts, 256 ns units; 0 = none
  std::chrono::milliseconds link_timeout{5000};  ///< how long init() waits for STATUS.LU
};

/// Bytes of each packet buffer: RCTL.BSIZE 2048, enough for a 1518-byte frame.
inline constexpr std::size_t buffer_size = 2048;
/// Largest frame send() accepts (without FCS; the NIC appends it).
inline constexpr std::size_t max_frame = 1514;

/// Where rings and buffers lie in the DMA region, for `rx` and `tx` descriptors.
struct dma_layout {
  std::size_t rx_ring = 0, tx_ring = 0, rx_buffers = 0, tx_buffers = 0, total = 0;
  /// The layout for ring sizes rx, tx: rings first (128-byte aligned), then buffers.
  static constexpr dma_layout of(std::size_t rx, std::size_t tx) noexcept {
    dma_layout l;
    l.rx_ring = 0;
    l.tx_ring = round_up(rx * sizeof(e1000::rx_descriptor), e1000::ring_alignment);
    l.rx_buffers = round_up(l.tx_ring + tx * sizeof(e1000::tx_descriptor), buffer_size);
    l.tx_buffers = l.rx_buffers + rx * buffer_size;
    l.total = l.tx_buffers + tx * buffer_size;
    return l;
  }
  static constexpr std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }
};

/// Throws unless `n` descriptors make a ring the 82540EM accepts: RDLEN/TDLEN
/// are multiples of 128 bytes (8 descriptors), at most 65536 descriptors.
inline void check_ring_size(const char* which, std::size_t n) {
  if (n < e1000::ring_granule || n % e1000::ring_granule != 0 || n > e1000::max_ring_size)
    throw driver_error(std::string(which) + " ring of " + std::to_string(n) +
                       " descriptors: the 82540EM takes a multiple of 8 descriptors (128 bytes), 8 to 65536");
}

/// Counters the driver keeps itself (the device's own are in statistics()).
struct driver_counters {
  std::uint64_t sent = 0, received = 0, reclaimed = 0;
  std::uint64_t rx_wraps = 0, tx_wraps = 0;  ///< times the next index went back to 0
  std::uint64_t rx_errors = 0;               ///< descriptors with an error bit
};

/// The device's statistics registers, read once (which clears them).
struct statistics {
  std::uint64_t gprc = 0, gptc = 0, gorc = 0, gotc = 0, tor = 0, tot = 0, tpr = 0, tpt = 0, mpc = 0,
                rnbc = 0, crcerrs = 0;
};

/// The driver of one 82540EM. Bus: reg::direct_bus on BAR 0, or a recording bus.
template <class Bus>
class nic {
 public:
  /// The register map bound to Bus.
  using block_type = reg::block<e1000::map, Bus>;

  /// Takes the registers and a DMA region (`iova` is its device address) of at least
  /// dma_layout::of(rx, tx).total bytes; touches nothing until init().
  nic(block_type regs, mmapx::rw_region& dma, std::uint64_t iova, const config& cfg, std::string name)
      : regs_(regs), cfg_(cfg), name_(std::move(name)), iova_(iova) {
    check_ring_size("receive", cfg.rx_ring);
    check_ring_size("transmit", cfg.tx_ring);
    layout_ = dma_layout::of(cfg.rx_ring, cfg.tx_ring);
    if (iova % e1000::ring_alignment != 0)
      throw driver_error(name_ + ": DMA address " + hex(iova) + " is not 128-byte aligned");
    if (dma.size() < layout_.total)
      throw driver_error(name_ + ": DMA region of " + std::to_string(dma.size()) + " bytes, " +
                         std::to_string(layout_.total) + " needed");
    rx_ = mmapx::view_array<e1000::rx_descriptor>(dma, layout_.rx_ring, cfg.rx_ring);
    tx_ = mmapx::view_array<e1000::tx_descriptor>(dma, layout_.tx_ring, cfg.tx_ring);
    buffers_ = dma.data();
  }

  /// Resets the device and brings it up in the manual's order (see the top).
  void init() {
    reset();
    mac_ = read_mac_from_eeprom();
    set_link_up();
    (void)read_statistics();  // they clear when read: start from zero
    clear_multicast_table();
    program_station_address(mac_);
    setup_receive();
    setup_transmit();
    regs_.template write<e1000::itr>(std::uint32_t{cfg_.itr});  // not left to what ran before
    if (cfg_.interrupts)
      regs_.template write<e1000::ims>(e1000::cause::rxt0 | e1000::cause::rxo | e1000::cause::rxdmt0 |
                                       e1000::cause::rxseq | e1000::cause::lsc | e1000::cause::txdw);
  }

  /// Global reset (CTRL.RST), interrupts masked before and after (the reset may
  /// leave causes pending), pending causes cleared by reading ICR.
  void reset() {
    regs_.template write<e1000::imc>(e1000::cause::all);
    regs_.template modify<e1000::ctrl>(e1000::ctrl::rst::val<1>);
    wait_for("CTRL.RST to clear after reset", [&] { return !regs_.template read<e1000::ctrl, e1000::ctrl::rst>(); },
             std::chrono::milliseconds(100));
    regs_.template write<e1000::imc>(e1000::cause::all);
    (void)regs_.template read<e1000::icr>();
  }

  /// The MAC address in EEPROM words 0-2, read through EERD (13.4.4).
  std::array<std::uint8_t, 6> read_mac_from_eeprom() {
    std::array<std::uint8_t, 6> mac{};
    for (unsigned word = 0; word < e1000::eeprom_mac_words; ++word) {
      const std::uint16_t v = read_eeprom(word);
      mac[2 * word] = static_cast<std::uint8_t>(v);
      mac[2 * word + 1] = static_cast<std::uint8_t>(v >> 8);
    }
    return mac;
  }
  /// One EEPROM word: start the read, wait for done, take the data.
  std::uint16_t read_eeprom(unsigned word) {
    regs_.template write<e1000::eerd>(e1000::eerd::start::val<1>, e1000::eerd::addr::truncated(word));
    std::uint16_t data = 0;
    wait_for("EERD.DONE (EEPROM read)", [&] {
      const auto s = regs_.template snapshot<e1000::eerd>();
      data = s.template get<e1000::eerd::data>();
      return s.template get<e1000::eerd::done>();
    }, std::chrono::milliseconds(100));
    return data;
  }
  /// The address in RAL0/RAH0 and whether RAH0.AV marks it valid.
  std::pair<std::array<std::uint8_t, 6>, bool> read_mac_from_ra() const {
    const std::uint32_t lo = regs_.template at<e1000::ral, 0>().read();
    const auto hi = regs_.template at<e1000::rah, 0>().snapshot();
    std::array<std::uint8_t, 6> mac{};
    for (int i = 0; i < 4; ++i) mac[i] = static_cast<std::uint8_t>(lo >> (8 * i));
    mac[4] = static_cast<std::uint8_t>(hi.template get<e1000::rah_entry::rah>());
    mac[5] = static_cast<std::uint8_t>(hi.template get<e1000::rah_entry::rah>() >> 8);
    return {mac, hi.template get<e1000::rah_entry::av>()};
  }

  /// CTRL: set link up with speed detection, no link or PHY reset (14.5.1 for copper);
  /// then waits for STATUS.LU ("link down" error after cfg.link_timeout).
  void set_link_up() {
    using c = e1000::ctrl;
    regs_.template modify<c>(c::slu::val<1>, c::asde::val<1>, c::lrst::val<0>, c::phy_rst::val<0>,
                             c::ilos::val<0>, c::vme::val<0>);
    wait_for("link up (STATUS.LU): link down", [&] { return regs_.template read<e1000::status, e1000::status::lu>(); },
             cfg_.link_timeout);
  }

  /// Reads every statistics register the driver reports; the device clears them.
  e1000_driver::statistics read_statistics() const {
    e1000_driver::statistics s;
    s.crcerrs = regs_.template read<e1000::crcerrs>();
    s.mpc = regs_.template read<e1000::mpc>();
    s.gprc = regs_.template read<e1000::gprc>();
    s.gptc = regs_.template read<e1000::gptc>();
    s.gorc = regs_.template read<e1000::gorc>();
    s.gotc = regs_.template read<e1000::gotc>();
    s.rnbc = regs_.template read<e1000::rnbc>();
    s.tor = regs_.template read<e1000::tor>();
    s.tot = regs_.template read<e1000::tot>();
    s.tpr = regs_.template read<e1000::tpr>();
    s.tpt = regs_.template read<e1000::tpt>();
    return s;
  }

  /// MTA[0..127] = 0: no multicast hash matches.
  void clear_multicast_table() {
    for (std::size_t i = 0; i < e1000::mta_count; ++i) regs_.template at<e1000::mta>(i).write(0u);
  }

  /// RAL0/RAH0 = `mac`, valid: frames to it are accepted.
  void program_station_address(const std::array<std::uint8_t, 6>& mac) {
    const std::uint32_t lo = mac[0] | (std::uint32_t{mac[1]} << 8) | (std::uint32_t{mac[2]} << 16) |
                             (std::uint32_t{mac[3]} << 24);
    regs_.template at<e1000::ral, 0>().write(lo);
    regs_.template at<e1000::rah, 0>().write(
        e1000::rah_entry::rah::truncated(static_cast<std::uint32_t>(mac[4] | (mac[5] << 8))), e1000::rah_entry::av::val<1>);
  }

  /// Every receive descriptor gets its buffer; the ring is handed to the device
  /// (RDT = last), and only then is the receiver enabled (14.4).
  void setup_receive() {
    for (std::size_t i = 0; i < rx_.size(); ++i) {
      rx_[i] = e1000::rx_descriptor{};
      rx_[i].addr = iova_ + layout_.rx_buffers + i * buffer_size;
    }
    rx_next_ = 0;
    const std::uint64_t ring = iova_ + layout_.rx_ring;
    regs_.template write<e1000::rdbal>(static_cast<std::uint32_t>(ring));
    regs_.template write<e1000::rdbah>(static_cast<std::uint32_t>(ring >> 32));
    regs_.template write<e1000::rdlen>(static_cast<std::uint32_t>(rx_.size() * sizeof(e1000::rx_descriptor)));
    regs_.template write<e1000::rdh>(0u);
    dma_wmb();
    regs_.template write<e1000::rdt>(static_cast<std::uint32_t>(rx_.size() - 1));
    using r = e1000::rctl;
    regs_.template write<r>(r::en::val<1>, r::bam::val<1>, r::secrc::val<1>,
                            r::bsize::val<e1000::rx_buffer_size::b2048>, r::rdmts::val<e1000::rx_threshold::half>);
  }

  /// The transmit ring, empty (TDH = TDT = 0), then TCTL and TIPG (14.5).
  void setup_transmit() {
    for (std::size_t i = 0; i < tx_.size(); ++i) tx_[i] = e1000::tx_descriptor{};
    tx_tail_ = tx_clean_ = 0;
    const std::uint64_t ring = iova_ + layout_.tx_ring;
    regs_.template write<e1000::tdbal>(static_cast<std::uint32_t>(ring));
    regs_.template write<e1000::tdbah>(static_cast<std::uint32_t>(ring >> 32));
    regs_.template write<e1000::tdlen>(static_cast<std::uint32_t>(tx_.size() * sizeof(e1000::tx_descriptor)));
    regs_.template write<e1000::tdh>(0u);
    regs_.template write<e1000::tdt>(0u);
    using t = e1000::tctl;
    regs_.template write<t>(t::en::val<1>, t::psp::val<1>, t::ct::val<0x0f>, t::cold::val<0x40>);
    using g = e1000::tipg;
    regs_.template write<g>(g::ipgt::val<10>, g::ipgr1::val<8>, g::ipgr2::val<6>);
  }

  /// Copies `frame` into the next transmit buffer and fills its descriptor; the
  /// device sees it at the next flush(). False when the ring is full (reclaim first).
  /// Throws for a frame longer than max_frame or shorter than an Ethernet header.
  bool queue(std::span<const std::uint8_t> frame) {
    if (frame.size() > max_frame || frame.size() < 14)
      throw driver_error(name_ + ": frame of " + std::to_string(frame.size()) +
                         " bytes: the 82540EM sends 14 to 1514 bytes (without FCS; no jumbo frames)");
    const std::size_t next = (tx_tail_ + 1) % tx_.size();
    if (next == tx_clean_) return false;
    std::memcpy(buffers_ + layout_.tx_buffers + tx_tail_ * buffer_size, frame.data(), frame.size());
    auto& d = tx_[tx_tail_];
    d.addr = iova_ + layout_.tx_buffers + tx_tail_ * buffer_size;
    d.length = static_cast<std::uint16_t>(frame.size());
    d.cmd = e1000::tx_command::eop | e1000::tx_command::ifcs | e1000::tx_command::rs;
    d.status = 0;
    tx_tail_ = next;
    if (next == 0) ++counters_.tx_wraps;
    ++counters_.sent;
    return true;
  }
  /// Queues a descriptor that points at `iova` as is (for the IOMMU test: an
  /// address the IOMMU does not map); flush() hands it to the device.
  bool queue_raw(std::uint64_t iova, std::uint16_t length) {
    const std::size_t next = (tx_tail_ + 1) % tx_.size();
    if (next == tx_clean_) return false;
    auto& d = tx_[tx_tail_];
    d.addr = iova;
    d.length = length;
    d.cmd = e1000::tx_command::eop | e1000::tx_command::ifcs | e1000::tx_command::rs;
    d.status = 0;
    tx_tail_ = next;
    if (next == 0) ++counters_.tx_wraps;
    return true;
  }
  /// Hands queued descriptors to the device: barrier, then one TDT store.
  void flush() {
    dma_wmb();
    regs_.template write<e1000::tdt>(static_cast<std::uint32_t>(tx_tail_));
  }
  /// Takes back descriptors the device finished (status.dd); returns how many.
  std::size_t reclaim() {
    std::size_t n = 0;
    while (tx_clean_ != tx_tail_) {
      auto& d = tx_[tx_clean_];
      if ((device_written(d.status) & e1000::tx_status_dd) == 0) break;
      d.status = 0;
      tx_clean_ = (tx_clean_ + 1) % tx_.size();
      ++n;
    }
    counters_.reclaimed += n;
    return n;
  }
  /// Reclaims until every queued descriptor is back. A driver_error instead of
  /// a hang when the device cannot complete them within `timeout`: it says
  /// whether the device took descriptors (TDH moved past them) without
  /// writing any back (its DMA did not reach the ring, e.g. blocked by the
  /// IOMMU) or did not move at all.
  void wait_transmitted(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (reclaim(), in_flight() != 0) {
      if (std::chrono::steady_clock::now() < deadline) continue;
      const std::size_t head = regs_.template read<e1000::tdh>();
      const std::string where = " (TDH=" + std::to_string(head) + ", TDT=" + std::to_string(tx_tail_) +
                                ", oldest unfinished " + std::to_string(tx_clean_) + ")";
      if (head != tx_clean_)
        throw driver_error(name_ + ": device error: the device took transmit descriptors but wrote none back within " +
                           std::to_string(timeout.count()) + " ms" + where +
                           ": its DMA did not reach the ring (blocked by the IOMMU?)");
      throw driver_error(name_ + ": transmit stalled: no descriptor taken within " + std::to_string(timeout.count()) +
                         " ms" + where);
    }
  }
  /// Points TDBAL/TDBAH at `iova` without moving the ring: for fault-injection
  /// tests only (an IOVA the IOMMU does not map). setup_transmit() undoes it.
  void point_transmit_ring_at(std::uint64_t iova) {
    regs_.template write<e1000::tdbal>(static_cast<std::uint32_t>(iova));
    regs_.template write<e1000::tdbah>(static_cast<std::uint32_t>(iova >> 32));
  }
  /// Descriptors queued and not yet reclaimed.
  std::size_t in_flight() const noexcept { return (tx_tail_ + tx_.size() - tx_clean_) % tx_.size(); }

  /// Calls on_frame(span of the frame's bytes) for each frame received, at most
  /// `budget`, then returns the descriptors to the device (one RDT store).
  template <class F>
  std::size_t receive(F&& on_frame, std::size_t budget = SIZE_MAX) {
    std::size_t n = 0;
    std::size_t last = SIZE_MAX;
    while (n < budget) {
      auto& d = rx_[rx_next_];
      if ((device_written(d.status) & e1000::rx_status::dd) == 0) break;
      dma_rmb();
      const auto* data = reinterpret_cast<const std::uint8_t*>(buffers_ + layout_.rx_buffers + rx_next_ * buffer_size);
      // A frame with an error bit, spread over several buffers (no EOP) or longer than
      // its buffer is counted, never handed on.
      if ((d.errors & e1000::rx_errors_frame) != 0 || (d.status & e1000::rx_status::eop) == 0 ||
          d.length > buffer_size) {
        ++counters_.rx_errors;
      } else {
        on_frame(std::span<const std::uint8_t>(data, d.length));
      }
      d.status = 0;
      last = rx_next_;
      rx_next_ = (rx_next_ + 1) % rx_.size();
      if (rx_next_ == 0) ++counters_.rx_wraps;
      ++n;
    }
    counters_.received += n;
    if (last != SIZE_MAX) {
      dma_wmb();
      regs_.template write<e1000::rdt>(static_cast<std::uint32_t>(last));
    }
    return n;
  }

  /// Reads ICR: the pending causes, which the read clears.
  std::uint32_t take_interrupt_causes() const { return regs_.template read<e1000::icr>(); }
  /// Whether STATUS.LU says the link is up.
  bool link_up() const { return regs_.template read<e1000::status, e1000::status::lu>(); }

  /// The register block, for reads the driver does not wrap (dumps, STATUS).
  const block_type& registers() const noexcept { return regs_; }
  /// Frames, wrap-arounds and errors the driver counted since init() or clear_counters().
  const driver_counters& counters() const noexcept { return counters_; }
  /// Zeroes the driver's own counters (not the device's statistics).
  void clear_counters() noexcept { counters_ = {}; }
  /// The MAC address init() read from the EEPROM and programmed into RAL0/RAH0.
  const std::array<std::uint8_t, 6>& mac() const noexcept { return mac_; }
  /// The name errors carry (the PCI address).
  const std::string& name() const noexcept { return name_; }

 private:
  /// A status byte the device writes by DMA: one volatile load, never cached in a register.
  static std::uint8_t device_written(const std::uint8_t& status) noexcept {
    return *static_cast<const volatile std::uint8_t*>(&status);
  }
  static std::string hex(std::uint64_t v) {
    char text[24];
    std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(v));
    return text;
  }
  /// Polls `done` until true; a driver_error naming `what` after `timeout`.
  template <class Done>
  void wait_for(const char* what, Done&& done, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline)
        throw driver_error(name_ + ": timed out after " + std::to_string(timeout.count()) + " ms waiting for " + what);
      std::this_thread::yield();
    }
  }

  block_type regs_;
  config cfg_;
  std::string name_;
  std::uint64_t iova_;
  dma_layout layout_;
  mmapx::mapped_array<e1000::rx_descriptor> rx_;
  mmapx::mapped_array<e1000::tx_descriptor> tx_;
  std::byte* buffers_ = nullptr;
  std::size_t rx_next_ = 0, tx_tail_ = 0, tx_clean_ = 0;
  std::array<std::uint8_t, 6> mac_{};
  driver_counters counters_;
};

}  // namespace e1000_driver
