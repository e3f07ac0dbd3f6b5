// mmapx/devices/e1000.hpp - the register map and DMA descriptors of Intel's
// 82540EM Gigabit Ethernet controller (8086:100e), as Intel's "PCI/PCI-X
// Family of Gigabit Ethernet Controllers Software Developer's Manual"
// (8254x, chapter 13 "Register Descriptions", chapter 3 "Receive and Transmit
// Description") gives them. QEMU's `-device e1000` models this chip.
//
// Only the registers a driver needs to reset the chip, read its MAC address,
// run one receive and one transmit ring, take interrupts and read the
// statistics are declared; offsets and bits are the manual's. The device
// takes 32-bit accesses only (the manual: "all registers ... must be accessed
// as 32-bit"), so the 64-bit statistics are read as two halves, low first:
// reading the high half clears the pair.
//
// Access kinds follow the manual: ICR and every statistics register clear
// when read (rc), so a dump() lists them without reading them; IMS reads the
// mask and writing 1 sets bits (w1s), IMC is write-only.
#pragma once

#include <mmapx/reg.hpp>

#include <cstddef>
#include <cstdint>

namespace mmapx::e1000 {

/// So that the declarations below read as reg::field, reg::reg32, ...
namespace reg = mmapx::reg;

/// PCI vendor and device ID of the 82540EM, for find_pci_devices (pci.hpp).
/// @{
inline constexpr std::uint16_t vendor_id = 0x8086;
inline constexpr std::uint16_t device_id = 0x100e;
/// @}
/// BAR 0: the memory-mapped registers, 128 KiB.
inline constexpr std::size_t bar0_size = 0x20000;

// --- general ------------------------------------------------------------------

/// Device Control (CTRL, 13.4.1).
struct ctrl : reg::reg32<"ctrl", 0x0000, reg::rw, 0x00000000> {
  using fd       = field<"fd", 0, 1, reg::rw>;        ///< full duplex
  using lrst     = field<"lrst", 3, 1, reg::rw>;      ///< link reset (must be 0 for the link to come up)
  using asde     = field<"asde", 5, 1, reg::rw>;      ///< auto-speed detection enable
  using slu      = field<"slu", 6, 1, reg::rw>;       ///< set link up
  using ilos     = field<"ilos", 7, 1, reg::rw>;      ///< invert loss-of-signal
  using speed    = field<"speed", 8, 2, reg::rw>;     ///< 0: 10, 1: 100, 2: 1000 Mb/s (when forced)
  using frcspd   = field<"frcspd", 11, 1, reg::rw>;   ///< force speed
  using frcdplx  = field<"frcdplx", 12, 1, reg::rw>;  ///< force duplex
  using rst      = field<"rst", 26, 1, reg::rw>;      ///< device reset; self-clearing
  using rfce     = field<"rfce", 27, 1, reg::rw>;     ///< receive flow control enable
  using tfce     = field<"tfce", 28, 1, reg::rw>;     ///< transmit flow control enable
  using vme      = field<"vme", 30, 1, reg::rw>;      ///< VLAN mode enable
  using phy_rst  = field<"phy_rst", 31, 1, reg::rw>;  ///< PHY reset (must be 0 for the link)
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<fd, lrst, asde, slu, ilos, speed, frcspd, frcdplx, rst, rfce, tfce, vme, phy_rst>;
};

/// Device Status (STATUS, 13.4.2), read only.
struct status : reg::reg32<"status", 0x0008, reg::ro, 0> {
  using fd      = field<"fd", 0, 1, reg::ro>;       ///< full duplex
  using lu      = field<"lu", 1, 1, reg::ro>;       ///< link up
  using txoff   = field<"txoff", 4, 1, reg::ro>;    ///< transmission paused (flow control)
  using speed   = field<"speed", 6, 2, reg::ro>;    ///< 0: 10, 1: 100, 2 or 3: 1000 Mb/s
  using pci66   = field<"pci66", 11, 1, reg::ro>;   ///< PCI bus at 66 MHz
  using bus64   = field<"bus64", 12, 1, reg::ro>;   ///< 64-bit PCI bus
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<fd, lu, txoff, speed, pci66, bus64>;
};

/// EEPROM/Flash Control (EECD, 13.4.3): bit-banged EEPROM access; EERD is the simple way.
struct eecd : reg::reg32<"eecd", 0x0010, reg::rw, 0> {
  using ee_pres = field<"ee_pres", 8, 1, reg::ro>;  ///< an EEPROM is present
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<ee_pres>;
};

/// EEPROM Read (EERD, 13.4.4), 82540EM layout: write the word address with
/// start=1, poll done, take data.
struct eerd : reg::reg32<"eerd", 0x0014, reg::rw, 0> {
  using start = field<"start", 0, 1, reg::rw>;   ///< start a read (cleared by the device)
  using done  = field<"done", 4, 1, reg::ro>;    ///< the read finished; data is valid
  using addr  = field<"addr", 8, 8, reg::rw>;    ///< EEPROM word address
  using data  = field<"data", 16, 16, reg::ro>;  ///< the word read
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<start, done, addr, data>;
};

/// Interrupt causes (13.4.17): bits of ICR, ICS, IMS and IMC.
namespace cause {
inline constexpr std::uint32_t txdw = 1u << 0;    ///< a transmit descriptor was written back
inline constexpr std::uint32_t txqe = 1u << 1;    ///< the transmit queue is empty
inline constexpr std::uint32_t lsc = 1u << 2;     ///< link status changed
inline constexpr std::uint32_t rxseq = 1u << 3;   ///< receive sequence error
inline constexpr std::uint32_t rxdmt0 = 1u << 4;  ///< free receive descriptors below the RCTL.RDMTS threshold
inline constexpr std::uint32_t rxo = 1u << 6;     ///< receiver overrun
inline constexpr std::uint32_t rxt0 = 1u << 7;    ///< receiver timer: frames arrived
/// Every cause the 82540EM defines (bits 0-16 without the reserved 5, 8, 11, 12, 14).
inline constexpr std::uint32_t all = 0x1a6df;
}  // namespace cause

/// Interrupt Cause Read (ICR, 13.4.17): reading returns the pending causes and clears them.
struct icr : reg::reg32<"icr", 0x00c0, reg::rw, 0> {
  using causes = field<"causes", 0, 17, reg::rc>;  ///< cause:: bits; cleared by the read
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<causes>;
};
/// Interrupt Throttling (ITR, 13.4.18): minimum gap between interrupts in 256 ns units; 0 = off.
using itr = reg::reg32<"itr", 0x00c4, reg::rw, 0>;
/// Interrupt Cause Set (ICS, 13.4.19): writing 1 raises that cause (for tests).
using ics = reg::reg32<"ics", 0x00c8, reg::wo, 0>;
/// Interrupt Mask Set/Read (IMS, 13.4.20): reads the mask; writing 1 enables a cause.
struct ims : reg::reg32<"ims", 0x00d0, reg::rw, 0> {
  using mask = field<"mask", 0, 17, reg::w1s>;  ///< cause:: bits enabled
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<mask>;
};
/// Interrupt Mask Clear (IMC, 13.4.21): writing 1 disables a cause.
using imc = reg::reg32<"imc", 0x00d8, reg::wo, 0>;

// --- receive ------------------------------------------------------------------

/// Receive buffer sizes of RCTL.BSIZE with BSEX=0.
enum class rx_buffer_size : std::uint8_t { b2048 = 0, b1024 = 1, b512 = 2, b256 = 3 };
/// When RXDMT0 fires: free descriptors below 1/2, 1/4 or 1/8 of the ring.
enum class rx_threshold : std::uint8_t { half = 0, quarter = 1, eighth = 2 };

/// Receive Control (RCTL, 13.4.22).
struct rctl : reg::reg32<"rctl", 0x0100, reg::rw, 0> {
  using en    = field<"en", 1, 1, reg::rw>;      ///< receiver enable
  using sbp   = field<"sbp", 2, 1, reg::rw>;     ///< store bad packets
  using upe   = field<"upe", 3, 1, reg::rw>;     ///< unicast promiscuous
  using mpe   = field<"mpe", 4, 1, reg::rw>;     ///< multicast promiscuous
  using lpe   = field<"lpe", 5, 1, reg::rw>;     ///< long packets (over 1522 bytes)
  using lbm   = field<"lbm", 6, 2, reg::rw>;     ///< loopback mode: 0 none, 3 PHY loopback
  /// When RXDMT0 fires (free descriptors below this part of the ring).
  using rdmts = field<"rdmts", 8, 2, reg::rw,
      reg::enumerated<reg::choice<rx_threshold::half, "half">, reg::choice<rx_threshold::quarter, "quarter">,
                      reg::choice<rx_threshold::eighth, "eighth">>>;
  using mo    = field<"mo", 12, 2, reg::rw>;     ///< multicast offset (which address bits index MTA)
  using bam   = field<"bam", 15, 1, reg::rw>;    ///< accept broadcast
  /// Receive buffer size (with bsex = 0).
  using bsize = field<"bsize", 16, 2, reg::rw,
      reg::enumerated<reg::choice<rx_buffer_size::b2048, "2048">, reg::choice<rx_buffer_size::b1024, "1024">,
                      reg::choice<rx_buffer_size::b512, "512">, reg::choice<rx_buffer_size::b256, "256">>>;
  using vfe   = field<"vfe", 18, 1, reg::rw>;    ///< VLAN filter enable
  using bsex  = field<"bsex", 25, 1, reg::rw>;   ///< buffer sizes x16
  using secrc = field<"secrc", 26, 1, reg::rw>;  ///< strip the Ethernet CRC
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<en, sbp, upe, mpe, lpe, lbm, rdmts, mo, bam, bsize, vfe, bsex, secrc>;
};

// The receive descriptor ring (13.4.24-28).
using rdbal = reg::reg32<"rdbal", 0x2800, reg::rw, 0>;  ///< ring base IOVA, low 32 bits (16-byte aligned)
using rdbah = reg::reg32<"rdbah", 0x2804, reg::rw, 0>;  ///< ring base IOVA, high 32 bits
using rdlen = reg::reg32<"rdlen", 0x2808, reg::rw, 0>;  ///< ring length in bytes, a multiple of 128
using rdh   = reg::reg32<"rdh", 0x2810, reg::rw, 0>;    ///< head: the next descriptor the device fills
using rdt   = reg::reg32<"rdt", 0x2818, reg::rw, 0>;    ///< tail: the device fills up to, not including, it
using rdtr  = reg::reg32<"rdtr", 0x2820, reg::rw, 0>;   ///< receive delay timer, 1.024 us units; 0: at once
using radv  = reg::reg32<"radv", 0x282c, reg::rw, 0>;   ///< absolute receive delay, 1.024 us units

// --- transmit -----------------------------------------------------------------

/// Transmit Control (TCTL, 13.4.33).
struct tctl : reg::reg32<"tctl", 0x0400, reg::rw, 0> {
  using en   = field<"en", 1, 1, reg::rw>;     ///< transmitter enable
  using psp  = field<"psp", 3, 1, reg::rw>;    ///< pad short packets to 64 bytes
  using ct   = field<"ct", 4, 8, reg::rw>;     ///< collision threshold (manual: 0x0f)
  using cold = field<"cold", 12, 10, reg::rw>; ///< collision distance (0x40 full duplex, 0x200 half)
  using swxoff = field<"swxoff", 22, 1, reg::rw>;  ///< send one XOFF frame
  using rtlc = field<"rtlc", 24, 1, reg::rw>;  ///< retransmit on late collision
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<en, psp, ct, cold, swxoff, rtlc>;
};
/// Transmit Inter-Packet Gap (TIPG, 13.4.34); the manual gives 10, 8, 6 for the 82540EM on copper.
struct tipg : reg::reg32<"tipg", 0x0410, reg::rw, 0> {
  using ipgt  = field<"ipgt", 0, 10, reg::rw>;    ///< back-to-back gap
  using ipgr1 = field<"ipgr1", 10, 10, reg::rw>;  ///< first part of the gap after a deferral
  using ipgr2 = field<"ipgr2", 20, 10, reg::rw>;  ///< whole gap after a deferral
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<ipgt, ipgr1, ipgr2>;
};
// The transmit descriptor ring (13.4.37-41).
using tdbal = reg::reg32<"tdbal", 0x3800, reg::rw, 0>;  ///< ring base IOVA, low 32 bits (16-byte aligned)
using tdbah = reg::reg32<"tdbah", 0x3804, reg::rw, 0>;  ///< ring base IOVA, high 32 bits
using tdlen = reg::reg32<"tdlen", 0x3808, reg::rw, 0>;  ///< ring length in bytes, a multiple of 128
using tdh   = reg::reg32<"tdh", 0x3810, reg::rw, 0>;    ///< head: the next descriptor the device sends
using tdt   = reg::reg32<"tdt", 0x3818, reg::rw, 0>;    ///< tail: one past the last descriptor queued
/// Transmit interrupt delay (TIDV, 1.024 us units).
using tidv  = reg::reg32<"tidv", 0x3820, reg::rw, 0>;

// --- address filters ----------------------------------------------------------

/// Multicast Table Array (MTA[128], 13.4.28): 4096 hash bits, 32 per entry.
struct mta_entry : reg::reg32<"mta", 0x5200, reg::rw, 0> {};
/// Entries in the table: MTA[n] at 0x5200 + 4n.
inline constexpr std::size_t mta_count = 128;
/// The whole table, one reg::array element per 32 hash bits.
using mta = reg::array<mta_entry, mta_count, 4>;

/// Receive Address Low (RAL[16], 13.4.27): the first four bytes of a station
/// address, the first byte lowest.
struct ral_entry : reg::reg32<"ral", 0x5400, reg::rw, 0> {};
/// Receive Address High (RAH[16]): the last two bytes, and whether the entry is valid.
struct rah_entry : reg::reg32<"rah", 0x5404, reg::rw, 0> {
  using rah  = field<"rah", 0, 16, reg::rw>;   ///< address bytes 4 (low) and 5
  using asel = field<"asel", 16, 2, reg::rw>;  ///< 0: match the destination address
  using av   = field<"av", 31, 1, reg::rw>;    ///< address valid
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<rah, asel, av>;
};
/// 16 address filters: RAL[n] at 0x5400 + 8n, RAH[n] at 0x5404 + 8n. Entry 0 is the station address.
inline constexpr std::size_t ra_count = 16;
/// The RAL and RAH halves of the 16 filters, as arrays indexed by filter number.
/// @{
using ral = reg::array<ral_entry, ra_count, 8>;
using rah = reg::array<rah_entry, ra_count, 8>;
/// @}

// --- statistics (13.7): every one clears when read ------------------------------

/// A 32-bit statistics counter of the manual's 13.7: reading returns and clears it.
template <reg::fixed_name Name, std::size_t Offset>
struct statistic32 : reg::reg32<Name, Offset, reg::ro, 0> {
  /// Events since the last read (the register's own field: each counter has one).
  using count = typename statistic32::template field<"count", 0, 32, reg::rc>;
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<count>;
};
/// A 64-bit statistics counter (low half at Offset): read low then high; reading the
/// high half clears both.
template <reg::fixed_name Name, std::size_t Offset>
struct statistic64 : reg::reg64<Name, Offset, reg::ro, 0> {
  /// Octets since the last read.
  using count = typename statistic64::template field<"count", 0, 64, reg::rc>;
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<count>;
};

using crcerrs = statistic32<"crcerrs", 0x4000>;  ///< CRC errors
using mpc     = statistic32<"mpc", 0x4010>;      ///< missed packets (no receive descriptor)
using colc    = statistic32<"colc", 0x4028>;     ///< collisions
using rlec    = statistic32<"rlec", 0x4040>;     ///< receive length errors
using prc64   = statistic32<"prc64", 0x405c>;    ///< packets received of 64 bytes
using prc127  = statistic32<"prc127", 0x4060>;   ///< 65-127 bytes
using prc255  = statistic32<"prc255", 0x4064>;   ///< 128-255 bytes
using prc511  = statistic32<"prc511", 0x4068>;   ///< 256-511 bytes
using prc1023 = statistic32<"prc1023", 0x406c>;  ///< 512-1023 bytes
using prc1522 = statistic32<"prc1522", 0x4070>;  ///< 1024-1522 bytes
using gprc    = statistic32<"gprc", 0x4074>;     ///< good packets received
using bprc    = statistic32<"bprc", 0x4078>;     ///< broadcast packets received
using mprc    = statistic32<"mprc", 0x407c>;     ///< multicast packets received
using gptc    = statistic32<"gptc", 0x4080>;     ///< good packets transmitted
using gorc    = statistic64<"gorc", 0x4088>;     ///< good octets received (GORCL/GORCH)
using gotc    = statistic64<"gotc", 0x4090>;     ///< good octets transmitted (GOTCL/GOTCH)
using rnbc    = statistic32<"rnbc", 0x40a0>;     ///< receive no buffers
using ruc     = statistic32<"ruc", 0x40a4>;      ///< receive undersize
using roc     = statistic32<"roc", 0x40ac>;      ///< receive oversize
using tor     = statistic64<"tor", 0x40c0>;      ///< total octets received (TORL/TORH)
using tot     = statistic64<"tot", 0x40c8>;      ///< total octets transmitted (TOTL/TOTH)
using tpr     = statistic32<"tpr", 0x40d0>;      ///< total packets received
using tpt     = statistic32<"tpt", 0x40d4>;      ///< total packets transmitted
using ptc64   = statistic32<"ptc64", 0x40d8>;    ///< packets transmitted of 64 bytes
using ptc1522 = statistic32<"ptc1522", 0x40ec>;  ///< 1024-1522 bytes
using mptc    = statistic32<"mptc", 0x40f0>;     ///< multicast packets transmitted
using bptc    = statistic32<"bptc", 0x40f4>;     ///< broadcast packets transmitted

/// The whole device, for reg::bind<e1000::map>(BAR 0's bytes): 32-bit accesses only,
/// 64-bit counters read low half first.
using map = reg::map<"e1000", bar0_size, reg::contract{reg::w32, reg::lo_hi},
                     ctrl, status, eecd, eerd, icr, itr, ics, ims, imc, rctl, tctl, tipg,
                     rdbal, rdbah, rdlen, rdh, rdt, rdtr, radv, tdbal, tdbah, tdlen, tdh, tdt, tidv,
                     crcerrs, mpc, colc, rlec, prc64, prc127, prc255, prc511, prc1023, prc1522,
                     gprc, bprc, mprc, gptc, gorc, gotc, rnbc, ruc, roc, tor, tot, tpr, tpt,
                     ptc64, ptc1522, mptc, bptc, mta, ral, rah>;

// --- descriptors (chapter 3) ----------------------------------------------------

/// Legacy receive descriptor (3.2.3): the driver fills addr; the device writes
/// the rest and sets status.dd last.
struct rx_descriptor {
  std::uint64_t addr;      ///< IOVA of the receive buffer
  std::uint16_t length;    ///< bytes the device stored
  std::uint16_t checksum;  ///< packet checksum
  std::uint8_t status;     ///< rx_status bits
  std::uint8_t errors;     ///< rx_error bits
  std::uint16_t special;   ///< VLAN tag
};
static_assert(sizeof(rx_descriptor) == 16);

/// Receive status bits (3.2.3.1).
namespace rx_status {
inline constexpr std::uint8_t dd = 1u << 0;   ///< descriptor done
inline constexpr std::uint8_t eop = 1u << 1;  ///< end of packet
}  // namespace rx_status
/// Receive error bits (3.2.3.2): CRC, symbol, sequence, carrier extension, TCP/IP checksum, data.
inline constexpr std::uint8_t rx_errors_frame = 0x97;

/// Legacy transmit descriptor (3.3.3): the driver fills everything; the device
/// sets status.dd when cmd.rs asked for it.
struct tx_descriptor {
  std::uint64_t addr;    ///< IOVA of the frame
  std::uint16_t length;  ///< bytes to send
  std::uint8_t cso;      ///< checksum offset (unused here)
  std::uint8_t cmd;      ///< tx_command bits
  std::uint8_t status;   ///< tx_status bits, written by the device
  std::uint8_t css;      ///< checksum start (unused here)
  std::uint16_t special; ///< VLAN tag
};
static_assert(sizeof(tx_descriptor) == 16);

/// Transmit command bits (3.3.3.1).
namespace tx_command {
inline constexpr std::uint8_t eop = 1u << 0;   ///< end of packet
inline constexpr std::uint8_t ifcs = 1u << 1;  ///< insert the FCS
inline constexpr std::uint8_t rs = 1u << 3;    ///< report status (set dd when done)
}  // namespace tx_command
/// Transmit status bit dd (3.3.3.2): the device finished with the descriptor.
inline constexpr std::uint8_t tx_status_dd = 1u << 0;

/// Ring constraints (13.4.25, 13.4.36): a ring's length is a multiple of 128
/// bytes (8 descriptors) and its base is 16-byte aligned (the driver uses 128).
inline constexpr std::size_t ring_alignment = 128;
/// Descriptors per 128 bytes: every ring size is a multiple of it.
inline constexpr std::size_t ring_granule = ring_alignment / sizeof(rx_descriptor);
/// Largest ring: RDLEN/TDLEN hold up to 20 bits (the manual's 64 K descriptors cap at 65536).
inline constexpr std::size_t max_ring_size = 65536;

/// EEPROM words 0-2 hold the MAC address, low byte first (5.6.1).
inline constexpr unsigned eeprom_mac_words = 3;

}  // namespace mmapx::e1000
