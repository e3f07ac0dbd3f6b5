// mmapx/devices/uart16550.hpp - the register map of the National Semiconductor
// PC16550D UART (and its many clones: 8250, 16450, 16550A, the UARTs of most
// SoCs and of QEMU's "serial" device), as its datasheet describes it.
//
// Eight 8-bit registers, one byte apart (a platform that spaces them 4 bytes
// apart needs a map of its own). Three of the datasheet's quirks are in the
// map itself, so that the compiler enforces them:
//   - offset 0 reads the receive buffer (rbr) and writes the transmit holding
//     register (thr); offset 2 reads interrupt identification (iir) and writes
//     FIFO control (fcr): aliased registers, each used only its own way;
//   - while lcr.dlab is 1, offsets 0 and 1 are the divisor latch (dll, dlm)
//     instead of rbr/thr and ier: bank `divisor_latch`, reached only through
//     block::bank<divisor_latch>(), which sets dlab and restores lcr;
//   - fcr is write-only: change one of its fields with a reg::shadow<fcr>
//     (as Linux's 8250 driver keeps one), never by a read-modify-write.
// Reading rbr pops the receive FIFO, iir clears a pending transmit interrupt,
// lsr clears its error bits and msr its delta bits: none is ever read by a dump.
#pragma once

#include <mmapx/reg.hpp>

#include <cstddef>
#include <cstdint>

namespace mmapx::uart16550 {

/// So that the declarations below read as reg::field, reg::reg8, ...
namespace reg = mmapx::reg;

/// Bytes of address space the UART decodes (registers 0 to 7).
inline constexpr std::size_t size = 8;
/// The usual input clock of PC serial ports (1.8432 MHz): divisor = clock / (16 * baud).
inline constexpr std::uint32_t pc_clock_hz = 1843200;

/// Receive buffer: the oldest received byte; reading it removes it from the FIFO.
struct rbr : reg::reg8<"rbr", 0, reg::ro, 0, reg::reads_have_side_effects> {};
/// Transmit holding register: the byte written is sent (queued in the transmit FIFO).
struct thr : reg::reg8<"thr", 0, reg::wo, 0> {};

/// Interrupt enable: which conditions raise the interrupt line.
struct ier : reg::reg8<"ier", 1, reg::rw, 0> {
  using rx_available = field<"rx_available", 0, 1>;  ///< data (or a FIFO timeout) to read
  using thr_empty    = field<"thr_empty",    1, 1>;  ///< room to transmit
  using line_status  = field<"line_status",  2, 1>;  ///< overrun, parity, framing error or break
  using modem_status = field<"modem_status", 3, 1>;  ///< a modem input changed
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<rx_available, thr_empty, line_status, modem_status>;
};

/// What iir.cause reports, in the datasheet's priority order (highest first).
enum class interrupt : std::uint8_t {
  line_status = 0b011,   ///< cleared by reading lsr
  rx_available = 0b010,  ///< cleared when the FIFO drops below its trigger level
  rx_timeout = 0b110,    ///< data waits in the FIFO; cleared by reading rbr
  thr_empty = 0b001,     ///< cleared by reading iir or writing thr
  modem_status = 0b000,  ///< cleared by reading msr
};
/// FIFO state shown in iir.fifos.
enum class fifo_state : std::uint8_t { disabled = 0b00, enabled = 0b11 };

/// Interrupt identification. Reading it acknowledges a transmitter-empty interrupt.
struct iir : reg::reg8<"iir", 2, reg::ro, 0x01, reg::reads_have_side_effects> {
  /// 1 when no interrupt is pending (the bit is active low).
  using none_pending = field<"none_pending", 0, 1, reg::ro>;
  /// The highest-priority pending interrupt (meaningful while none_pending is 0).
  using cause = field<"cause", 1, 3, reg::ro,
      reg::enumerated<reg::choice<interrupt::line_status, "line_status">,
                      reg::choice<interrupt::rx_available, "rx_available">,
                      reg::choice<interrupt::rx_timeout, "rx_timeout">,
                      reg::choice<interrupt::thr_empty, "thr_empty">,
                      reg::choice<interrupt::modem_status, "modem_status">>>;
  /// Whether the FIFOs are enabled (fcr.enable).
  using fifos = field<"fifos", 6, 2, reg::ro,
      reg::enumerated<reg::choice<fifo_state::disabled, "disabled">, reg::choice<fifo_state::enabled, "enabled">>>;
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<none_pending, cause, fifos>;
};

/// Receive FIFO level at which rx_available is raised.
enum class rx_trigger : std::uint8_t { one = 0b00, four = 0b01, eight = 0b10, fourteen = 0b11 };

/// FIFO control (write-only). enable must be 1 in every write that changes the others.
struct fcr : reg::reg8<"fcr", 2, reg::wo, 0> {
  /// 1 enables both FIFOs; 0 turns them off and empties them.
  using enable   = field<"enable",   0, 1, reg::wo>;
  /// Write 1 to empty a FIFO (receive, transmit); the bit clears itself, 0 does nothing.
  /// @{
  using clear_rx = field<"clear_rx", 1, 1, reg::w1s>;
  using clear_tx = field<"clear_tx", 2, 1, reg::w1s>;
  /// @}
  /// 1 selects DMA mode 1 (the RXRDY/TXRDY pins signal per FIFO, not per byte).
  using dma_mode = field<"dma_mode", 3, 1, reg::wo>;
  /// The receive FIFO level at which rx_available is raised.
  using trigger  = field<"trigger",  6, 2, reg::wo,
      reg::enumerated<reg::choice<rx_trigger::one, "one">, reg::choice<rx_trigger::four, "four">,
                      reg::choice<rx_trigger::eight, "eight">, reg::choice<rx_trigger::fourteen, "fourteen">>>;
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<enable, clear_rx, clear_tx, dma_mode, trigger>;
};

/// Bits per character.
enum class word_length : std::uint8_t { five = 0b00, six = 0b01, seven = 0b10, eight = 0b11 };

/// Line control: the character format, break, and the divisor latch access bit.
struct lcr : reg::reg8<"lcr", 3, reg::rw, 0> {
  /// Bits per character.
  using length        = field<"length", 0, 2, reg::rw,
      reg::enumerated<reg::choice<word_length::five, "five">, reg::choice<word_length::six, "six">,
                      reg::choice<word_length::seven, "seven">, reg::choice<word_length::eight, "eight">>>;
  using two_stop_bits = field<"two_stop_bits", 2, 1>;  ///< 1.5 stop bits with five-bit words
  using parity        = field<"parity",        3, 1>;  ///< a parity bit is sent and checked
  using even_parity   = field<"even_parity",   4, 1>;  ///< with parity: even (1) or odd (0)
  using stick_parity  = field<"stick_parity",  5, 1>;  ///< with parity: send it fixed (0 if even_parity, else 1)
  using set_break     = field<"set_break",     6, 1>;  ///< hold the line at space
  using dlab          = field<"dlab",          7, 1>;  ///< selects bank divisor_latch
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<length, two_stop_bits, parity, even_parity, stick_parity, set_break, dlab>;
};

/// Modem control: the modem outputs and loopback.
struct mcr : reg::reg8<"mcr", 4, reg::rw, 0> {
  using dtr      = field<"dtr",      0, 1>;  ///< drives data terminal ready (active when 1)
  using rts      = field<"rts",      1, 1>;  ///< drives request to send (active when 1)
  using out1     = field<"out1",     2, 1>;  ///< user output 1 (unused on PCs)
  using out2     = field<"out2",     3, 1>;  ///< gates the interrupt line on PCs
  using loopback = field<"loopback", 4, 1>;  ///< transmitter feeds the receiver; the line stays idle
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<dtr, rts, out1, out2, loopback>;
};

/// Line status. Reading it clears the error bits (overrun, parity, framing, break).
struct lsr : reg::reg8<"lsr", 5, reg::ro, 0x60> {
  using data_ready        = field<"data_ready",        0, 1, reg::ro>;  ///< a byte waits in rbr
  using overrun_error     = field<"overrun_error",     1, 1, reg::rc>;  ///< a received byte was lost
  using parity_error      = field<"parity_error",      2, 1, reg::rc>;  ///< the byte at the top had bad parity
  using framing_error     = field<"framing_error",     3, 1, reg::rc>;  ///< the byte at the top had no stop bit
  using break_interrupt   = field<"break_interrupt",   4, 1, reg::rc>;  ///< the line was held at space
  using thr_empty         = field<"thr_empty",         5, 1, reg::ro>;  ///< room for a byte in thr
  using transmitter_empty = field<"transmitter_empty", 6, 1, reg::ro>;  ///< all sent
  using fifo_error        = field<"fifo_error",        7, 1, reg::rc>;  ///< an error byte is in the FIFO
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<data_ready, overrun_error, parity_error, framing_error, break_interrupt, thr_empty,
                             transmitter_empty, fifo_error>;
};

/// Modem status. Reading it clears the delta bits (what changed since the last read).
struct msr : reg::reg8<"msr", 6, reg::ro, 0> {
  using delta_cts = field<"delta_cts", 0, 1, reg::rc>;  ///< cts changed
  using delta_dsr = field<"delta_dsr", 1, 1, reg::rc>;  ///< dsr changed
  using ri_ended  = field<"ri_ended",  2, 1, reg::rc>;  ///< trailing edge of ring indicator
  using delta_dcd = field<"delta_dcd", 3, 1, reg::rc>;  ///< dcd changed
  using cts       = field<"cts",       4, 1, reg::ro>;  ///< clear to send (rts in loopback)
  using dsr       = field<"dsr",       5, 1, reg::ro>;  ///< data set ready (dtr in loopback)
  using ri        = field<"ri",        6, 1, reg::ro>;  ///< ring indicator (out1 in loopback)
  using dcd       = field<"dcd",       7, 1, reg::ro>;  ///< data carrier detect (out2 in loopback)
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<delta_cts, delta_dsr, ri_ended, delta_dcd, cts, dsr, ri, dcd>;
};

/// Scratch: holds any byte; the classic probe for a UART's presence.
struct scr : reg::reg8<"scr", 7, reg::rw, 0> {};

/// Divisor latch, low and high byte: baud = clock / (16 * divisor). Bank divisor_latch only.
struct dll : reg::reg8<"dll", 0, reg::rw, 0> {};
struct dlm : reg::reg8<"dlm", 1, reg::rw, 0> {};
/// dll and dlm, visible while lcr.dlab is 1 (they hide rbr, thr and ier).
using divisor_latch = reg::bank<"divisor_latch", lcr::dlab::val<1>, dll, dlm>;

/// The whole UART: reg::bind<uart16550::map>(its 8 bytes). Byte accesses only.
using map = reg::map<"uart16550", size, reg::contract{reg::w8},
                     rbr, thr, ier, iir, fcr, lcr, mcr, lsr, msr, scr, divisor_latch>;

/// The divisor for `baud` at input clock `clock_hz` (rounded to nearest); 0 when
/// the rate is unreachable (baud 0, or a divisor that would not fit 16 bits).
constexpr std::uint16_t divisor_for(std::uint32_t clock_hz, std::uint32_t baud) noexcept {
  if (baud == 0) return 0;
  const std::uint64_t d = (std::uint64_t{clock_hz} + 8ull * baud) / (16ull * baud);
  return d == 0 || d > 0xffff ? 0 : static_cast<std::uint16_t>(d);
}

/// Sets the divisor through the divisor latch: one load and two stores of lcr
/// around the two latch bytes (lcr keeps its other fields).
template <class Block>
void set_divisor(const Block& uart, std::uint16_t divisor) {
  const auto latch = uart.template bank<divisor_latch>();
  latch.template write<dll>(static_cast<std::uint8_t>(divisor & 0xff));
  latch.template write<dlm>(static_cast<std::uint8_t>(divisor >> 8));
}

}  // namespace mmapx::uart16550
