// libFuzzer target: the `register.field=value` parser and the decoder of the
// register-map library, on the edu device's map (registers of 32 and 64 bits,
// read-only, write-only and enumerated fields) and on the shared test map
// `shapes` (aliases, banks, register arrays `ral[3]`, block arrays `q[1].tdt`).
//
// Every input must give either a clear error or an assignment that obeys the
// map; a parsed assignment, printed back in canonical form, parses to the same
// assignment; applying it to plain memory changes exactly the bits it names;
// and describe() decodes any value of any register without failing.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

#include <mmapx/devices/edu.hpp>

#include "../unit/reg_test_maps.hpp"

namespace {

namespace reg = mmapx::reg;

[[noreturn]] void finding(const char* what, std::string_view input) {
  std::fprintf(stderr, "reg_parse_fuzz: %s for input '%s'\n", what, reg::detail::quoted(input).c_str());
  __builtin_trap();
}

bool is_parse_error(const std::error_code& ec) {
  using mmapx::errc;
  return ec == errc::parse_error || ec == errc::unknown_name || ec == errc::value_out_of_range ||
         ec == errc::access_denied_by_map || ec == errc::unknown_encoding;
}

void check_assignment(const reg::map_info& map, const reg::assignment& a, std::string_view input) {
  if (a.target == nullptr || a.target < map.registers.data() || a.target >= map.registers.data() + map.registers.size())
    finding("assignment without a register of the map", input);
  if (!a.target->writable()) finding("assignment to a read-only register", input);
  const std::uint64_t max = a.field != nullptr ? a.field->max() : reg::low_bits(a.target->bits);
  if (a.value > max) finding("value larger than its field", input);
  if (a.field != nullptr) {
    if (!reg::is_writable(a.field->access)) finding("assignment to a read-only field", input);
    if (a.target->find(a.field->name) != a.field) finding("field not of its register", input);
  }
}

/// "status.irq_on_done=0x1": what a parsed assignment means, in the form a user would type.
std::string canonical(const reg::assignment& a) {
  std::string text(a.target->name);
  if (a.field != nullptr) {
    text += '.';
    text += a.field->name;
  }
  char number[32];
  std::snprintf(number, sizeof number, "=0x%llx", static_cast<unsigned long long>(a.value));
  return text + number;
}

std::uint64_t load(const unsigned char* memory, const reg::register_info& r) {
  std::uint64_t v = 0;
  std::memcpy(&v, memory + r.offset, r.bits / 8);  // little-endian host
  return v;
}

/// Applies `a` to plain memory through Map (banked registers: their bank is
/// selected and the select register restored, so only `a`'s register changes).
template <class Map>
void check_apply(const reg::assignment& a, std::string_view input) {
  alignas(8) static unsigned char memory[mmapx::edu::bar0_size];
  alignas(8) static unsigned char before[0x100];
  std::memset(memory, 0xa5, sizeof before);
  std::memcpy(before, memory, sizeof before);
  auto dev = reg::bind<Map>(memory, sizeof memory);
  std::error_code ec;
  dev.apply(a, ec);
  if (ec) {
    // Refused only for the documented reason: a modify would have to read a
    // register that cannot be read without harm.
    if (ec != mmapx::errc::access_denied_by_map || a.field == nullptr) finding("apply failed", input);
    if (std::memcmp(memory, before, sizeof before) != 0) finding("a refused apply wrote memory", input);
    return;
  }
  const reg::register_info& r = *a.target;
  const std::uint64_t now = load(memory, r);
  const std::uint64_t mask = a.field != nullptr ? a.field->mask() : reg::low_bits(r.bits);
  const unsigned shift = a.field != nullptr ? a.field->pos : 0;
  if (((now & mask) >> shift) != a.value) finding("apply did not store the value", input);
  for (std::size_t i = 0; i < sizeof before; ++i)
    if ((i < r.offset || i >= r.offset + r.bits / 8) && memory[i] != before[i])
      finding("apply wrote outside its register", input);
}

/// Every check, with the map Map.
template <class Map>
void check_map(std::string_view input) {
  const reg::map_info& map = reg::info_of<Map>;
  std::error_code ec;
  const reg::assignment a = reg::parse_assignment(map, input, ec);
  if (ec) {
    if (!is_parse_error(ec)) finding("unexpected error code", input);
    if (a.target != nullptr) finding("an error with a result", input);
    try {
      (void)reg::parse_assignment(map, input);
      finding("the throwing form did not throw", input);
    } catch (const std::system_error& e) {
      if (e.code() != ec) finding("the two forms disagree", input);
    }
  } else {
    check_assignment(map, a, input);
    const std::string again = canonical(a);
    const reg::assignment b = reg::parse_assignment(map, again, ec);
    if (ec || b.target != a.target || b.field != a.field || b.value != a.value)
      finding("the canonical form parses differently", input);
    check_apply<Map>(a, input);
  }

  // The decoder: the first 8 bytes as a value, every register.
  std::uint64_t value = 0;
  std::memcpy(&value, input.data(), input.size() < sizeof value ? input.size() : sizeof value);
  for (const auto& r : map.registers) {
    const std::string text = reg::describe(r, value & reg::low_bits(r.bits));
    for (const auto& f : r.fields)
      if (!r.whole && r.readable() && reg::is_readable(f.access) && text.find(f.name) == std::string::npos)
        finding("describe left out a readable field", input);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_map<mmapx::edu::map>(input);
  check_map<regtest::shapes>(input);
  return 0;
}
