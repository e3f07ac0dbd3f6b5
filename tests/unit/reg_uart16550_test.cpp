// The 16550 map (devices/uart16550.hpp) driven the way a driver drives the
// chip, on the recording bus against a behavioural fake of the UART: the exact
// accesses of init (divisor through the divisor latch bank), transmit, receive,
// FIFO control through the shadow of the write-only fcr, and interrupt
// identification; and the dump, which must never read a register whose reads
// have side effects.
#include "reg_test_catch.hpp"

#include <mmapx/devices/uart16550.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <system_error>
#include <vector>

namespace uart = mmapx::uart16550;
namespace reg = mmapx::reg;
using Log = std::vector<reg::access_record>;
using regtest::rd;
using regtest::wr;

namespace {

/// The UART as the datasheet describes its behaviour: a receive FIFO that reads
/// pop, a transmitter that sends at once, error bits that reading lsr clears,
/// a transmitter-empty interrupt that reading iir acknowledges, and the divisor
/// latch in place of rbr/thr/ier while lcr.dlab is 1.
class fake_uart {
 public:
  std::deque<std::uint8_t> rx;  ///< bytes on the line, not yet read
  std::string tx;               ///< bytes sent
  std::uint8_t line_errors = 0;  ///< lsr bits 1..4 and 7, cleared by reading lsr
  std::uint8_t ier = 0, lcr = 0, mcr = 0, scr = 0, dll = 0, dlm = 0;
  bool fifos = false;
  unsigned trigger = 0;  ///< fcr.trigger

  std::uint16_t divisor() const { return static_cast<std::uint16_t>(dll | dlm << 8); }

  std::uint64_t read(std::size_t offset) {
    const bool dlab = (lcr & 0x80) != 0;
    switch (offset) {
      case 0: return dlab ? dll : pop();
      case 1: return dlab ? dlm : ier;
      case 2: return identify();
      case 3: return lcr;
      case 4: return mcr;
      case 5: {
        const std::uint8_t v = static_cast<std::uint8_t>((rx.empty() ? 0 : 1) | line_errors | 0x60);
        line_errors = 0;
        return v;
      }
      case 7: return scr;
      default: return 0;
    }
  }
  void write(std::size_t offset, std::uint64_t value) {
    const auto v = static_cast<std::uint8_t>(value);
    const bool dlab = (lcr & 0x80) != 0;
    switch (offset) {
      case 0:
        if (dlab) {
          dll = v;
        } else {
          tx += static_cast<char>(v);
          thr_interrupt_ = true;  // sent at once: the holding register is empty again
        }
        break;
      case 1:
        if (dlab) {
          dlm = v;
        } else {
          thr_interrupt_ = thr_interrupt_ || ((v & 2) != 0 && (ier & 2) == 0);
          ier = v & 0x0f;
        }
        break;
      case 2:
        fifos = (v & 1) != 0;
        if ((v & 2) != 0) rx.clear();
        trigger = v >> 6;
        break;
      case 3: lcr = v; break;
      case 4: mcr = v; break;
      case 7: scr = v; break;
      default: break;
    }
  }

 private:
  bool thr_interrupt_ = false;

  std::uint8_t pop() {
    if (rx.empty()) return 0;
    const std::uint8_t c = rx.front();
    rx.pop_front();
    return c;
  }
  std::uint8_t identify() {
    static constexpr unsigned levels[] = {1, 4, 8, 14};
    const std::uint8_t fifo_bits = fifos ? 0xc0 : 0;
    if ((ier & 4) != 0 && line_errors != 0) return fifo_bits | 0b0110;
    if ((ier & 1) != 0 && rx.size() >= (fifos ? levels[trigger] : 1)) return fifo_bits | 0b0100;
    if ((ier & 2) != 0 && thr_interrupt_) {
      thr_interrupt_ = false;  // reading iir acknowledges it
      return fifo_bits | 0b0010;
    }
    return fifo_bits | 0b0001;
  }
};

/// A recorder wired to a fake UART.
struct bench {
  fake_uart chip;
  reg::recorder rec;
  bench() {
    rec.on_read = [this](std::size_t offset, unsigned) { return chip.read(offset); };
    rec.on_write = [this](std::size_t offset, unsigned, std::uint64_t v) { chip.write(offset, v); };
  }
};

/// What a driver does to bring the UART up: 115200 8N1, FIFOs on, modem lines up.
template <class Block>
void init(const Block& dev, reg::shadow<uart::fcr>& fcr) {
  dev.template write<uart::ier>(0);
  uart::set_divisor(dev, uart::divisor_for(uart::pc_clock_hz, 115200));
  dev.write(uart::lcr::length::val<uart::word_length::eight>);
  dev.write(fcr, uart::fcr::enable::val<1>, uart::fcr::clear_rx::val<1>, uart::fcr::clear_tx::val<1>,
            uart::fcr::trigger::val<uart::rx_trigger::fourteen>);
  dev.write(uart::mcr::dtr::val<1>, uart::mcr::rts::val<1>, uart::mcr::out2::val<1>);
}

}  // namespace

TEST_CASE("uart16550: the map's layout, aliases and bank", "[reg][uart16550]") {
  const auto& info = reg::info_of<uart::map>;
  CHECK(info.registers.size() == 12);
  CHECK(info.find("rbr")->offset == info.find("thr")->offset);
  CHECK(info.find("iir")->offset == info.find("fcr")->offset);
  CHECK(info.find("dll")->bank->name == "divisor_latch");
  CHECK(info.find("dlm")->offset == info.find("ier")->offset);
  static_assert(uart::divisor_for(uart::pc_clock_hz, 115200) == 1);
  static_assert(uart::divisor_for(uart::pc_clock_hz, 9600) == 12);
  static_assert(uart::divisor_for(uart::pc_clock_hz, 0) == 0);
  static_assert(uart::divisor_for(uart::pc_clock_hz, 1) == 0);  // 115200: does not fit 16 bits
}

TEST_CASE("uart16550: init sets the divisor through the latch bank, then the line and FIFOs", "[reg][uart16550]") {
  bench b;
  b.chip.rx = {'x'};  // stale input, which the FIFO clear drops
  auto dev = reg::bind<uart::map>(b.rec);
  reg::shadow<uart::fcr> fcr;
  init(dev, fcr);
  CHECK(b.rec.log == Log{wr(1, 8, 0x00),                                      // interrupts off
                         rd(3, 8, 0x00), wr(3, 8, 0x80),                      // bank: dlab on
                         wr(0, 8, 0x01), wr(1, 8, 0x00),                      // dll, dlm
                         wr(3, 8, 0x00),                                      // bank left: lcr restored
                         wr(3, 8, 0x03),                                      // 8N1
                         wr(2, 8, 0xc7),                                      // FIFOs on, cleared, 14 bytes
                         wr(4, 8, 0x0b)});                                    // dtr, rts, out2
  CHECK(b.chip.divisor() == 1);
  CHECK(b.chip.lcr == 0x03);
  CHECK(b.chip.fifos);
  CHECK(b.chip.trigger == 3);
  CHECK(b.chip.rx.empty());
  CHECK(fcr.raw() == 0xc7);

  b.rec.clear();
  uart::set_divisor(dev, 12);  // 9600 baud later on: lcr's 8N1 survives the bank
  CHECK(b.rec.log == Log{rd(3, 8, 0x03), wr(3, 8, 0x83), wr(0, 8, 12), wr(1, 8, 0), wr(3, 8, 0x03)});
  CHECK(b.chip.divisor() == 12);

  b.rec.clear();
  dev.write<uart::scr>(0x5a);  // the presence probe: scratch keeps what it was given
  CHECK(dev.read<uart::scr>() == 0x5a);
}

TEST_CASE("uart16550: transmit waits for room in thr, then writes it", "[reg][uart16550]") {
  bench b;
  auto dev = reg::bind<uart::map>(b.rec);
  for (const char c : std::string("hi")) {
    dev.wait_until(uart::lsr::thr_empty::val<1>, std::chrono::milliseconds(10));
    dev.write<uart::thr>(static_cast<std::uint8_t>(c));
  }
  CHECK(b.chip.tx == "hi");
  CHECK(b.rec.log == Log{rd(5, 8, 0x60), wr(0, 8, 'h'), rd(5, 8, 0x60), wr(0, 8, 'i')});
}

TEST_CASE("uart16550: receive reads rbr while lsr says data is ready; errors show once", "[reg][uart16550]") {
  bench b;
  b.chip.rx = {'o', 'k'};
  b.chip.line_errors = 0x02;  // an overrun before these bytes
  auto dev = reg::bind<uart::map>(b.rec);
  std::string got;
  bool overrun = false;
  for (;;) {
    const auto status = dev.snapshot<uart::lsr>();
    overrun = overrun || status.get<uart::lsr::overrun_error>();
    if (!status.get<uart::lsr::data_ready>()) break;
    got += static_cast<char>(dev.read<uart::rbr>());
  }
  CHECK(got == "ok");
  CHECK(overrun);
  CHECK(b.rec.log == Log{rd(5, 8, 0x63), rd(0, 8, 'o'), rd(5, 8, 0x61), rd(0, 8, 'k'), rd(5, 8, 0x60)});
}

TEST_CASE("uart16550: FIFO control changes the trigger through the shadow of fcr", "[reg][uart16550]") {
  bench b;
  auto dev = reg::bind<uart::map>(b.rec);
  reg::shadow<uart::fcr> fcr;
  init(dev, fcr);
  b.chip.rx = {'a', 'b'};
  b.rec.clear();
  dev.modify(fcr, uart::fcr::trigger::val<uart::rx_trigger::four>);
  // One store, no load: enable kept from the shadow, the FIFO clears not sent again.
  CHECK(b.rec.log == Log{wr(2, 8, 0x41)});
  CHECK(b.chip.fifos);
  CHECK(b.chip.trigger == 1);
  CHECK(b.chip.rx.size() == 2);
  dev.modify(fcr, uart::fcr::clear_rx::val<1>);
  CHECK(b.rec.log.back() == wr(2, 8, 0x43));
  CHECK(b.chip.rx.empty());
  CHECK(fcr.get<uart::fcr::trigger>() == uart::rx_trigger::four);

  // By name, a field of fcr would need a modify, which cannot know enable: refused, nothing written.
  b.rec.clear();
  const auto& info = reg::info_of<uart::map>;
  std::error_code ec;
  dev.apply(reg::parse_assignment(info, "fcr.trigger=four"), ec);
  CHECK(ec == mmapx::errc::access_denied_by_map);
  CHECK(b.rec.log.empty());
  dev.apply(reg::parse_assignment(info, "fcr=0xc1"));  // the whole register is one store
  CHECK(b.rec.log == Log{wr(2, 8, 0xc1)});
}

TEST_CASE("uart16550: interrupt identification, by priority, and the read that acknowledges", "[reg][uart16550]") {
  bench b;
  auto dev = reg::bind<uart::map>(b.rec);
  reg::shadow<uart::fcr> fcr;
  init(dev, fcr);
  dev.modify(fcr, uart::fcr::trigger::val<uart::rx_trigger::one>);
  b.rec.clear();

  auto id = dev.snapshot<uart::iir>();
  CHECK(id.get<uart::iir::none_pending>());
  CHECK(id.get<uart::iir::fifos>() == uart::fifo_state::enabled);

  dev.modify(uart::ier::thr_empty::val<1>, uart::ier::rx_available::val<1>, uart::ier::line_status::val<1>);
  id = dev.snapshot<uart::iir>();
  CHECK_FALSE(id.get<uart::iir::none_pending>());
  CHECK(id.get<uart::iir::cause>() == uart::interrupt::thr_empty);
  CHECK(dev.read<uart::iir::none_pending>());  // that read acknowledged it

  b.chip.rx = {'z'};
  b.chip.line_errors = 0x08;  // framing error: higher priority than the data
  CHECK(dev.read<uart::iir::cause>() == uart::interrupt::line_status);
  (void)dev.read<uart::lsr>();  // clears the error
  CHECK(dev.read<uart::iir::cause>() == uart::interrupt::rx_available);
  (void)dev.read<uart::rbr>();
  CHECK(dev.read<uart::iir::none_pending>());
  CHECK(b.rec.log == Log{rd(2, 8, 0xc1), rd(1, 8, 0x00), wr(1, 8, 0x07), rd(2, 8, 0xc2), rd(2, 8, 0xc1),
                         rd(2, 8, 0xc6), rd(5, 8, 0x69), rd(2, 8, 0xc4), rd(0, 8, 'z'), rd(2, 8, 0xc1)});
}

TEST_CASE("uart16550: dump reads the latch through its bank and nothing with side effects", "[reg][uart16550]") {
  bench b;
  auto dev = reg::bind<uart::map>(b.rec);
  reg::shadow<uart::fcr> fcr;
  init(dev, fcr);
  b.chip.rx = {'q'};
  b.rec.clear();
  const std::string text = dev.dump();
  CHECK(text ==
        "uart16550:\n"
        "  0x0000 rbr              (not read: reads have side effects)\n"
        "  0x0000 thr              (write-only)\n"
        "  0x0001 ier              0x00  rx_available=0 thr_empty=0 line_status=0 modem_status=0\n"
        "  0x0002 iir              (not read: reads have side effects)\n"
        "  0x0002 fcr              (write-only)\n"
        "  0x0003 lcr              0x03  length=eight two_stop_bits=0 parity=0 even_parity=0 stick_parity=0 "
        "set_break=0 dlab=0\n"
        "  0x0004 mcr              0x0b  dtr=1 rts=1 out1=0 out2=1 loopback=0\n"
        "  0x0005 lsr              (not read: reads have side effects)\n"
        "  0x0006 msr              (not read: reads have side effects)\n"
        "  0x0007 scr              0x00\n"
        "  0x0000 dll              0x01\n"
        "  0x0001 dlm              0x00\n");
  CHECK(b.chip.rx.size() == 1);  // nothing popped
  CHECK(b.chip.lcr == 0x03);     // the bank was left
  for (const auto& a : b.rec.log) {
    CHECK(a.offset != 2);
    CHECK(a.offset != 5);
    CHECK(a.offset != 6);
  }
}
