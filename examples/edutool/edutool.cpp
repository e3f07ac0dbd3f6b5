// edutool - a user-space driver for QEMU's "edu" PCI device, built on
// mmapx's typed register map (mmapx/devices/edu.hpp): what a small real
// driver looks like without a kernel module of its own.
//
// It finds the device by vendor/device ID in sysfs and works in one of two
// modes. The default maps BAR0 through its PCI resource file, sleeps on
// interrupts through UIO and does DMA into a buffer of mmapx's reference
// kernel module (a raw bus address, no protection). --vfio does it all
// through VFIO (mmapx/vfio.hpp): BAR0 through the device descriptor,
// interrupts through eventfds, and DMA into ordinary anonymous memory mapped
// into the IOMMU, which checks every access. Either way it dumps registers,
// checks liveness, computes factorials (polling or on the completion
// interrupt) and runs DMA transfers, verifying the data both ways.
#include <mmapx/anonymous.hpp>
#include <mmapx/devices/edu.hpp>
#include <mmapx/kmod.hpp>
#include <mmapx/number.hpp>
#include <mmapx/pci.hpp>
#include <mmapx/uio.hpp>
#include <mmapx/vfio.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edu = mmapx::edu;
using namespace std::chrono_literals;

namespace {

constexpr int exit_ok = 0;
constexpr int exit_check_failed = 1;  // the device answered wrongly
constexpr int exit_usage = 2;
constexpr int exit_system = 3;        // no device, no permission, no module...

constexpr const char* usage = R"(usage: edutool [--device DDDD:BB:DD.F] COMMAND [ARGS]

A user-space driver for QEMU's edu device (PCI 1234:11e8).

commands:
  info               where the device is and what its BAR0 is
  dump               decoded register dump
  live [COUNT]       liveness check: COUNT writes read back complemented (default 16)
  fact N [--irq]     compute N! (N <= 12); --irq sleeps on the completion
                     interrupt (UIO: needs uio_pci_generic bound to edu;
                     --vfio: MSI through an eventfd)
  irq [COUNT] [--intx]
                     --vfio only: raise COUNT interrupts (default 3) and count
                     them as they arrive (MSI, or INTx with --intx)
  dma [--minor M] [--dma-bits B]
                     copy a pattern from RAM into the device and back into other
                     RAM with the device's DMA engine, and verify it. UIO mode:
                     a buffer of the mmapx kernel module (needs mmapx_kmod, root
                     for the bus address); --vfio: anonymous memory mapped into
                     the IOMMU. B is the device's DMA mask width, 28 unless QEMU
                     was started with -device edu,dma_mask=...

options:
  --device ADDR      use this device instead of the first edu found
  --vfio             work through VFIO (edu bound to vfio-pci, IOMMU on)
                     instead of sysfs, UIO and the kernel module
  --help             this text

exit status: 0 success, 1 the device gave a wrong result, 2 usage error,
3 system error (no device, no permission, module missing).
)";

struct usage_error {
  std::string message;
};

std::uint64_t parse_number(const char* text, const char* what) {
  std::error_code ec;
  const std::uint64_t v = mmapx::parse_number(text, ec);
  if (ec) throw usage_error{std::string(what) + " must be a number below 2^64, not '" + text + "'"};
  return v;
}

// The device opened through VFIO: the container (IOMMU context) and the device.
struct vfio_handle {
  mmapx::vfio::container box;
  mmapx::vfio::device dev;
};

// edu's BAR0 bound to its register map, mapped through sysfs or through VFIO.
class edu_device {
public:
  edu_device(std::string address, bool use_vfio)
      : address_(std::move(address)), vfio_(open_vfio(address_, use_vfio)),
        bar0_(vfio_ ? vfio_->dev.map_region(0, 0, edu::bar0_size)
                    : mmapx::map_pci_bar(address_, 0, {.length = edu::bar0_size})),
        regs_(mmapx::reg::bind<edu::map>(bar0_.bytes())) {}

  const std::string& address() const { return address_; }
  const auto& regs() const { return regs_; }
  // The VFIO container and device, or nullptr in UIO mode.
  vfio_handle* vfio() { return vfio_ ? &*vfio_ : nullptr; }

private:
  static std::optional<vfio_handle> open_vfio(const std::string& address, bool use_vfio) {
    if (!use_vfio) return std::nullopt;
    auto box = mmapx::vfio::container::open();
    auto dev = box.open_device(address);
    return vfio_handle{std::move(box), std::move(dev)};
  }

  std::string address_;
  std::optional<vfio_handle> vfio_;
  mmapx::rw_region bar0_;
  decltype(mmapx::reg::bind<edu::map>(std::declval<mmapx::rw_region&>().bytes())) regs_;
};

// Set by --vfio.
bool use_vfio = false;

std::string find_edu(const std::string& wanted) {
  if (!wanted.empty()) return wanted;
  const auto found = mmapx::find_pci_devices(edu::vendor_id, edu::device_id);
  if (found.empty()) {
    throw std::system_error(std::make_error_code(std::errc::no_such_device),
                            "edutool: no edu device (PCI 1234:11e8); start QEMU with -device edu");
  }
  return found.front();
}

int cmd_info(const std::string& address) {
  const auto bar = mmapx::pci_bar_info(address, 0);
  edu_device dev(address, use_vfio);
  const auto id = dev.regs().snapshot<edu::id>();
  std::printf("edu %s: version %u.%u, BAR0 at 0x%llx, %llu KiB, %s%s\n", address.c_str(),
              id.get<edu::id::major>(), id.get<edu::id::minor>(), static_cast<unsigned long long>(bar.address),
              static_cast<unsigned long long>(bar.size >> 10), bar.is_64bit ? "64-bit" : "32-bit",
              bar.prefetchable ? ", prefetchable" : "");
  if (auto* v = dev.vfio()) {
    const auto region = v->dev.region_info(0);
    std::printf("vfio: BAR0 region at descriptor offset 0x%llx, %s; %u regions, %u interrupt kinds, %s\n",
                static_cast<unsigned long long>(region.offset), region.mappable ? "mappable" : "not mappable",
                v->dev.info().regions, v->dev.info().irq_indices,
                v->dev.info().can_reset ? "can reset" : "no reset method");
    for (const auto& r : v->box.iova_ranges()) {
      std::printf("vfio: IOVA range 0x%llx-0x%llx\n", static_cast<unsigned long long>(r.first),
                  static_cast<unsigned long long>(r.last));
    }
  }
  return id.get<edu::id::code>() == edu::id_code ? exit_ok : exit_check_failed;
}

int cmd_dump(const std::string& address) {
  edu_device dev(address, use_vfio);
  std::fputs(dev.regs().dump().c_str(), stdout);
  return exit_ok;
}

int cmd_live(const std::string& address, std::uint64_t count) {
  edu_device dev(address, use_vfio);
  std::uint32_t value = 0x9e3779b9U;
  for (std::uint64_t i = 0; i < count; ++i) {
    value = value * 1664525U + 1013904223U;
    dev.regs().write<edu::liveness>(value);
    const std::uint32_t back = dev.regs().read<edu::liveness>();
    if (back != ~value) {
      std::printf("liveness: wrote 0x%08x, read 0x%08x, expected 0x%08x\n", value, back, ~value);
      return exit_check_failed;
    }
  }
  std::printf("liveness: %llu of %llu values came back complemented\n", static_cast<unsigned long long>(count),
              static_cast<unsigned long long>(count));
  return exit_ok;
}

// The UIO device bound to this PCI device.
mmapx::uio_device uio_for(const std::string& address) {
  for (unsigned n = 0; n < 64; ++n) {
    std::error_code ec;
    auto dev = mmapx::uio_device::open(n, ec);
    if (!ec && dev.pci_address() == address) return dev;
  }
  throw std::system_error(std::make_error_code(std::errc::no_such_device),
                          "edutool: " + address + " has no UIO device; bind it with: echo '1234 11e8' > "
                          "/sys/bus/pci/drivers/uio_pci_generic/new_id");
}

/// Starts n! with edu's completion interrupt on and waits for it through
/// `wait(ec)` (which waits up to 5 s, UIO or VFIO alike); then reads and
/// acknowledges the interrupt cause. nullopt, said on stdout, when none came.
template <class Regs, class Wait>
std::optional<std::uint32_t> factorial_with_interrupt(const Regs& regs, std::uint64_t n, Wait&& wait) {
  regs.modify(edu::status::irq_on_done::val<1>);
  regs.template write<edu::factorial>(static_cast<std::uint32_t>(n));
  std::error_code timeout;
  wait(timeout);
  regs.modify(edu::status::irq_on_done::val<0>);
  if (timeout == mmapx::errc::timed_out) {
    std::printf("factorial: no completion interrupt within 5 s\n");
    return std::nullopt;
  }
  if (timeout) throw std::system_error(timeout, "edutool: wait for the completion interrupt");
  const std::uint32_t cause = regs.template read<edu::irq_status>();
  regs.template write<edu::irq_ack>(cause);
  return cause;
}

int cmd_fact(const std::string& address, std::uint64_t n, bool use_irq) {
  if (n > 12) throw usage_error{"n! fits the 32-bit register only for n <= 12"};
  edu_device dev(address, use_vfio);
  std::uint32_t expected = 1;
  for (std::uint32_t i = 2; i <= n; ++i) expected *= i;
  const auto& regs = dev.regs();
  if (use_irq && dev.vfio() != nullptr) {
    auto msi = dev.vfio()->dev.enable_interrupts(mmapx::vfio::irq_type::msi);
    const auto cause = factorial_with_interrupt(regs, n, [&](std::error_code& ec) { (void)msi.wait(5s, 0, ec); });
    if (!cause) return exit_check_failed;
    std::printf("factorial: completion interrupt through VFIO MSI (cause 0x%x)\n", *cause);
    if ((*cause & edu::irq_factorial) == 0) return exit_check_failed;
  } else if (use_irq) {
    auto uio = uio_for(address);
    mmapx::pci_enable_intx(address);
    mmapx::uio_event event{};
    const auto cause = factorial_with_interrupt(regs, n, [&](std::error_code& ec) { event = uio.wait(5s, ec); });
    if (!cause) return exit_check_failed;
    mmapx::pci_enable_intx(address);  // uio_pci_generic masked INTx in its handler
    std::printf("factorial: completion interrupt %u (cause 0x%x)\n", event.count, *cause);
    if ((*cause & edu::irq_factorial) == 0) return exit_check_failed;
  } else {
    regs.write<edu::factorial>(static_cast<std::uint32_t>(n));
    regs.wait_until(edu::status::computing::val<0>, 5s);
  }
  const std::uint32_t result = regs.read<edu::factorial>();
  std::printf("%llu! = %u (0x%x)%s\n", static_cast<unsigned long long>(n), result, result,
              result == expected ? "" : ", WRONG");
  return result == expected ? exit_ok : exit_check_failed;
}

// One transfer of `count` bytes; direction decides which side is RAM.
void run_dma(const edu_device& dev, std::uint64_t ram, std::uint64_t count, edu::dma_direction direction) {
  const auto& regs = dev.regs();
  const bool to_device = direction == edu::dma_direction::ram_to_device;
  regs.write<edu::dma_source>(to_device ? ram : edu::dma_buffer_address);
  regs.write<edu::dma_destination>(to_device ? edu::dma_buffer_address : ram);
  regs.write<edu::dma_count>(count);
  regs.write<edu::dma_command>(edu::dma_command::start::val<1>, edu::dma_command::direction::checked(direction));
  regs.wait_until(edu::dma_command::start::val<0>, 5s);
}

// Not the whole 4096-byte device buffer: edu in QEMU before 8.2 rejects a
// transfer that ends at its last byte (an off-by-one, fixed upstream in
// "edu: fix DMA range upper bound check") and stops the whole machine.
constexpr std::size_t dma_size = edu::dma_buffer_size - 8;

// A pattern from `out` (at device address out_at) into edu and back into
// `in` (at in_at); true when it came back unchanged.
bool dma_both_ways(const edu_device& dev, std::byte* out, std::uint64_t out_at, std::byte* in, std::uint64_t in_at) {
  for (std::size_t i = 0; i < dma_size; ++i) {
    out[i] = static_cast<std::byte>((i * 31 + 7) & 0xff);
    in[i] = std::byte{0};
  }
  run_dma(dev, out_at, dma_size, edu::dma_direction::ram_to_device);
  run_dma(dev, in_at, dma_size, edu::dma_direction::device_to_ram);
  return std::memcmp(out, in, dma_size) == 0;
}

// VFIO: ordinary anonymous memory, mapped into the IOMMU below the DMA mask.
int dma_through_vfio(edu_device& dev, unsigned dma_bits) {
  auto& v = *dev.vfio();
  auto buffer = mmapx::map_anonymous(2 * dma_size);
  const std::uint64_t limit = dma_bits >= 64 ? UINT64_MAX : (std::uint64_t{1} << dma_bits) - 1;
  auto dma = v.box.map_dma(buffer, {.iova_limit = limit});
  v.dev.enable_bus_master();
  std::byte* out = buffer.data();
  std::byte* in = buffer.data() + dma_size;
  const bool same = dma_both_ways(dev, out, dma.iova_of(out), in, dma.iova_of(in));
  std::printf("dma: %zu bytes, anonymous memory at IOVA 0x%llx -> edu -> IOVA 0x%llx: %s\n", dma_size,
              static_cast<unsigned long long>(dma.iova_of(out)), static_cast<unsigned long long>(dma.iova_of(in)),
              same ? "verified" : "MISMATCH");
  return same ? exit_ok : exit_check_failed;
}

int cmd_dma(const std::string& address, unsigned minor, unsigned dma_bits) {
  edu_device dev(address, use_vfio);
  if (dev.vfio() != nullptr) return dma_through_vfio(dev, dma_bits);
  auto module = mmapx::kmod::device::open(mmapx::kmod::device_path(minor));
  if (module.info().buffer_size < 2 * dma_size) {
    std::printf("dma: module buffers of %llu bytes are too small (need %zu)\n",
                static_cast<unsigned long long>(module.info().buffer_size), 2 * dma_size);
    return exit_system;
  }
  const std::uint64_t bus = module.bus_address(mmapx::kmod::cache_mode::cached, 0);
  if (dma_bits < 64 && bus + 2 * dma_size > (std::uint64_t{1} << dma_bits)) {
    std::printf("dma: the buffer at bus address 0x%llx is beyond the device's %u-bit DMA mask\n",
                static_cast<unsigned long long>(bus), dma_bits);
    return exit_system;
  }
  mmapx::pci_enable_bus_master(address);
  auto buffer = module.map({.index = 0, .cache = mmapx::kmod::cache_mode::cached, .length = 2 * dma_size});
  const bool same = dma_both_ways(dev, buffer.data(), bus, buffer.data() + dma_size, bus + dma_size);
  std::printf("dma: %zu bytes, module buffer at bus 0x%llx -> edu -> bus 0x%llx: %s\n", dma_size,
              static_cast<unsigned long long>(bus), static_cast<unsigned long long>(bus + dma_size),
              same ? "verified" : "MISMATCH");
  return same ? exit_ok : exit_check_failed;
}

// VFIO: raise `count` interrupts through irq_raise and count their arrival.
int cmd_irq(const std::string& address, std::uint64_t count, bool intx) {
  if (!use_vfio) throw usage_error{"irq needs --vfio"};
  edu_device dev(address, true);
  const auto& regs = dev.regs();
  auto irq = dev.vfio()->dev.enable_interrupts(intx ? mmapx::vfio::irq_type::intx : mmapx::vfio::irq_type::msi);
  for (std::uint64_t i = 0; i < count; ++i) {
    regs.write<edu::irq_raise>(0x10U);
    std::error_code timeout;
    (void)irq.wait(5s, 0, timeout);
    if (timeout == mmapx::errc::timed_out) {
      std::printf("irq: interrupt %llu did not arrive within 5 s\n", static_cast<unsigned long long>(i + 1));
      return exit_check_failed;
    }
    if (timeout) throw std::system_error(timeout, "edutool: wait for the interrupt");
    regs.write<edu::irq_ack>(0x10U);
    if (intx) irq.unmask();  // the kernel masked INTx until the device is quiet
  }
  std::printf("irq: %llu of %llu %s interrupts arrived\n", static_cast<unsigned long long>(irq.count()),
              static_cast<unsigned long long>(count), intx ? "INTx" : "MSI");
  return irq.count() == count ? exit_ok : exit_check_failed;
}

int run(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  std::string wanted;
  std::size_t i = 0;
  auto next = [&](const char* what) -> const char* {
    if (i + 1 >= args.size()) throw usage_error{std::string(what) + " needs a value"};
    return argv[1 + ++i];
  };
  for (; i < args.size() && args[i].starts_with("--"); ++i) {
    if (args[i] == "--help") {
      std::fputs(usage, stdout);
      return exit_ok;
    }
    if (args[i] == "--vfio") {
      use_vfio = true;
      continue;
    }
    if (args[i] != "--device") throw usage_error{"unknown option '" + std::string(args[i]) + "'"};
    wanted = next("--device");
  }
  if (i >= args.size()) throw usage_error{"no command"};
  const std::string_view command = args[i];
  std::vector<const char*> rest;
  for (++i; i < args.size(); ++i) rest.push_back(argv[1 + i]);

  if (command == "info" && rest.empty()) return cmd_info(find_edu(wanted));
  if (command == "dump" && rest.empty()) return cmd_dump(find_edu(wanted));
  if (command == "live" && rest.size() <= 1) {
    return cmd_live(find_edu(wanted), rest.empty() ? 16 : parse_number(rest[0], "COUNT"));
  }
  if (command == "fact" && (rest.size() == 1 || (rest.size() == 2 && std::string_view(rest[1]) == "--irq"))) {
    return cmd_fact(find_edu(wanted), parse_number(rest[0], "N"), rest.size() == 2);
  }
  if (command == "irq" && rest.size() <= 2) {
    const bool intx = !rest.empty() && std::string_view(rest.back()) == "--intx";
    if (rest.size() == 2 && !intx) throw usage_error{"irq takes [COUNT] [--intx]"};
    const std::size_t numbers = rest.size() - (intx ? 1 : 0);
    return cmd_irq(find_edu(wanted), numbers == 1 ? parse_number(rest[0], "COUNT") : 3, intx);
  }
  if (command == "dma") {
    unsigned minor = 0, bits = 28;
    for (std::size_t k = 0; k < rest.size(); k += 2) {
      const std::string_view option = rest[k];
      if (k + 1 >= rest.size() || (option != "--minor" && option != "--dma-bits")) {
        throw usage_error{"dma takes --minor M and --dma-bits B"};
      }
      const auto value = parse_number(rest[k + 1], rest[k]);
      if (option == "--minor") minor = static_cast<unsigned>(value);
      if (option == "--dma-bits") {
        if (value < 12 || value > 64) throw usage_error{"--dma-bits must be 12 to 64"};
        bits = static_cast<unsigned>(value);
      }
    }
    return cmd_dma(find_edu(wanted), minor, bits);
  }
  throw usage_error{"unknown command or wrong arguments: '" + std::string(command) + "'"};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const usage_error& e) {
    std::fprintf(stderr, "edutool: %s (try --help)\n", e.message.c_str());
    return exit_usage;
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return exit_system;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "edutool: %s\n", e.what());
    return exit_system;
  }
}
