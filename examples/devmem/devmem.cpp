// mmapx-devmem - read or write device memory, in the manner of devmem2 and pcimem,
// built on mmapx: at a physical address (/dev/mem), at an offset in a PCI
// BAR (sysfs resourceN), or by register name through a typed register map.
//
//   mmapx-devmem 0xfeb00000                       read 32 bits at a physical address
//   mmapx-devmem --width 64 0xfeb00080 0x1000     write 64 bits
//   mmapx-devmem --pci 0000:00:04.0 --bar 0 0x4   read 32 bits at BAR0 + 4
//   mmapx-devmem --map edu dump                   every register of the first edu, decoded
//   mmapx-devmem --map edu status.irq_on_done=1   write a field by name (read-modify-write)
#include <mmapx/devices/edu.hpp>
#include <mmapx/devmem.hpp>
#include <mmapx/number.hpp>
#include <mmapx/pci.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int exit_ok = 0;
constexpr int exit_usage = 2;
constexpr int exit_system = 3;

constexpr const char* usage = R"(usage: mmapx-devmem [--width 8|16|32|64] [--cached] ADDRESS [VALUE]
       mmapx-devmem [--width W] --pci DDDD:BB:DD.F [--bar N] OFFSET [VALUE]
       mmapx-devmem --map NAME [--pci DDDD:BB:DD.F] [--bar N] dump | REG[.FIELD] | REG[.FIELD]=VALUE
       mmapx-devmem --help

Reads (no VALUE) or writes one naturally aligned value of WIDTH bits (default 32)
at a physical address through /dev/mem (uncached unless --cached), or at an
offset in a memory BAR of a PCI device (default BAR 0). With a register map,
names registers and fields; the device is the first one with the map's IDs
unless --pci names it. Maps: edu (QEMU's edu device).

Numbers are decimal, 0x hex or 0b binary (no octal: 010 is ten). Needs root
(or CAP_SYS_RAWIO for /dev/mem).
exit status: 0 success, 2 usage error, 3 system error.
)";

struct usage_error {
  std::string message;
};

std::uint64_t number(std::string_view text, const char* what) {
  std::error_code ec;
  const std::uint64_t v = mmapx::parse_number(text, ec);
  if (ec) throw usage_error{std::string(what) + " must be a number below 2^64, not '" + std::string(text) + "'"};
  return v;
}

void print_value(std::uint64_t where, unsigned width, std::uint64_t value, const char* verb) {
  std::printf("%s 0x%llx: 0x%0*llx\n", verb, static_cast<unsigned long long>(where), static_cast<int>(width / 4),
              static_cast<unsigned long long>(value));
}

// One access of `width` bits at a raw address, exactly: volatile, full width,
// never split (no register map says otherwise there).
std::uint64_t load(const std::byte* p, unsigned width) {
  switch (width) {
    case 8: return *reinterpret_cast<const volatile std::uint8_t*>(p);
    case 16: return *reinterpret_cast<const volatile std::uint16_t*>(p);
    case 32: return *reinterpret_cast<const volatile std::uint32_t*>(p);
    default: return *reinterpret_cast<const volatile std::uint64_t*>(p);
  }
}
void store(std::byte* p, unsigned width, std::uint64_t v) {
  switch (width) {
    case 8: *reinterpret_cast<volatile std::uint8_t*>(p) = static_cast<std::uint8_t>(v); break;
    case 16: *reinterpret_cast<volatile std::uint16_t*>(p) = static_cast<std::uint16_t>(v); break;
    case 32: *reinterpret_cast<volatile std::uint32_t*>(p) = static_cast<std::uint32_t>(v); break;
    default: *reinterpret_cast<volatile std::uint64_t*>(p) = v; break;
  }
}

// Reads, or writes and reads back, one value in a freshly mapped window.
int access_window(mmapx::rw_region window, std::uint64_t where, unsigned width, const std::string* value) {
  if (value != nullptr) {
    const std::uint64_t v = number(*value, "VALUE");
    if (width < 64 && v >> width != 0) throw usage_error{"VALUE does not fit in " + std::to_string(width) + " bits"};
    store(window.data(), width, v);
    print_value(where, width, v, "wrote");
  }
  print_value(where, width, load(window.data(), width), "read");
  return exit_ok;
}

/// Register access by name through Map; `device` is a PCI address or "".
template <class Map>
int by_name(const std::string& device, unsigned bar, std::uint16_t vendor, std::uint16_t device_id,
            std::string_view request) {
  std::string address = device;
  if (address.empty()) {
    const auto found = mmapx::find_pci_devices(vendor, device_id);
    if (found.empty()) {
      std::fprintf(stderr, "mmapx-devmem: no %s device (PCI %04x:%04x)\n", std::string(Map::name).c_str(), vendor,
                   device_id);
      return exit_system;
    }
    address = found.front();
  }
  auto region = mmapx::map_pci_bar(address, bar, {.length = Map::size});
  const auto regs = mmapx::reg::bind<Map>(region.bytes());
  const auto& info = mmapx::reg::info_of<Map>;
  if (request == "dump") {
    std::fputs(regs.dump().c_str(), stdout);
    return exit_ok;
  }
  const bool wrote = request.find('=') != std::string_view::npos;
  if (wrote) {
    regs.apply(mmapx::reg::parse_assignment(info, request));
    request = request.substr(0, request.find('='));
  }
  // REG (names as the table spells them: "ral[3]", "txq[1].tdt") or REG.FIELD.
  const mmapx::reg::register_info* r = info.find(request);
  const mmapx::reg::field_info* f = nullptr;
  const auto dot = request.rfind('.');
  if (r == nullptr && dot != std::string_view::npos) {
    r = info.find(request.substr(0, dot));
    if (r != nullptr && (f = r->find(request.substr(dot + 1))) == nullptr)
      throw usage_error{"no field '" + std::string(request) + "' in the map"};
  }
  if (r == nullptr) throw usage_error{"no register '" + std::string(request) + "' in the map"};
  if (!r->readable() && !wrote) throw usage_error{"'" + std::string(r->name) + "' is write-only"};
  if (!r->readable() || (wrote && r->read_side_effects)) {
    std::printf("%s: written; not read back (%s)\n", std::string(request).c_str(),
                r->readable() ? "reads have side effects" : "write-only");
    return exit_ok;
  }
  // Through the map's bus contract (split 64-bit halves, counters, banks), as the
  // typed read would; a register whose reads have side effects is read when asked.
  const std::uint64_t value = regs.read(*r);
  if (f == nullptr) {
    std::printf("%s = 0x%0*llx  %s\n", std::string(r->name).c_str(), static_cast<int>(r->bits / 4),
                static_cast<unsigned long long>(value), mmapx::reg::describe(*r, value).c_str());
    return exit_ok;
  }
  std::printf("%s = 0x%llx\n", std::string(request).c_str(),
              static_cast<unsigned long long>((value >> f->pos) & f->max()));
  return exit_ok;
}

int run(int argc, char** argv) {
  unsigned width = 32;
  bool cached = false;
  std::string pci, map;
  unsigned bar = 0;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw usage_error{std::string(arg) + " needs a value"};
      return argv[++i];
    };
    if (arg == "--help") {
      std::fputs(usage, stdout);
      return exit_ok;
    } else if (arg == "--width") {
      width = static_cast<unsigned>(number(value(), "--width"));
      if (width != 8 && width != 16 && width != 32 && width != 64) throw usage_error{"--width is 8, 16, 32 or 64"};
    } else if (arg == "--cached") {
      cached = true;
    } else if (arg == "--pci") {
      pci = value();
    } else if (arg == "--bar") {
      bar = static_cast<unsigned>(number(value(), "--bar"));
    } else if (arg == "--map") {
      map = value();
    } else if (arg.starts_with("--")) {
      throw usage_error{"unknown option '" + std::string(arg) + "'"};
    } else {
      positional.emplace_back(arg);
    }
  }

  if (!map.empty()) {
    if (positional.size() != 1) throw usage_error{"--map takes one request: dump, REG[.FIELD] or REG[.FIELD]=VALUE"};
    if (map == "edu") {
      return by_name<mmapx::edu::map>(pci, bar, mmapx::edu::vendor_id, mmapx::edu::device_id, positional[0]);
    }
    throw usage_error{"unknown register map '" + map + "' (known: edu)"};
  }
  if (positional.empty() || positional.size() > 2) throw usage_error{"give an address (or offset) and maybe a value"};
  const std::uint64_t where = number(positional[0], pci.empty() ? "ADDRESS" : "OFFSET");
  if (where % (width / 8) != 0) throw usage_error{"the address must be aligned to the access width"};
  const std::string* value = positional.size() == 2 ? &positional[1] : nullptr;
  if (pci.empty()) {
    const auto cache = cached ? mmapx::devmem_cache::cached : mmapx::devmem_cache::uncached;
    return access_window(mmapx::map_physical(where, width / 8, {.cache = cache}), where, width, value);
  }
  return access_window(mmapx::map_pci_bar(pci, bar, {.offset = where, .length = width / 8}), where, width, value);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const usage_error& e) {
    std::fprintf(stderr, "mmapx-devmem: %s (try --help)\n", e.message.c_str());
    return exit_usage;
  } catch (const std::system_error& e) {
    // A request the register map rejects is the user's mistake, not the system's.
    std::fprintf(stderr, "%s\n", e.what());
    const auto c = e.code();
    const bool bad_request = c == mmapx::errc::unknown_name || c == mmapx::errc::parse_error ||
                             c == mmapx::errc::value_out_of_range || c == mmapx::errc::access_denied_by_map;
    return bad_request ? exit_usage : exit_system;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return exit_system;
  }
}
