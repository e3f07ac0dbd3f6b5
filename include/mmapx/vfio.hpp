// mmapx/vfio.hpp - user-space PCI drivers through Linux VFIO, the way DPDK,
// SPDK, libvfn and ixy do them: a device's regions (BARs as ordinary
// region<A> objects, config space), its interrupts delivered to eventfds, and
// DMA into any mmapx region (anonymous, huge pages, memfd, shm) through the
// IOMMU, which checks every access the device makes.
//
//   auto vfio = mmapx::vfio::container::open();
//   auto dev  = vfio.open_device("0000:00:03.0");      // bound to vfio-pci
//   auto bar0 = dev.map_region(0);                      // an mmapx::rw_region
//   dev.enable_bus_master();
//   auto buf  = mmapx::map_anonymous(1 << 20);
//   auto dma  = vfio.map_dma(buf, {.iova_limit = 0xfffffff});   // a 28-bit device
//   program_device(bar0, dma.iova());
//   auto irq  = dev.enable_interrupts(mmapx::vfio::irq_type::msi);
//   auto n    = irq.wait(100ms);                        // n >= 1 arrived; errc::timed_out if none
//
// The kernel's protocol (Documentation/driver-api/vfio.rst): a container
// (/dev/vfio/vfio) holds IOMMU groups (/dev/vfio/N, all devices the IOMMU
// cannot tell apart); the first group attached sets the container's IOMMU
// model (type1 here: Debian 12's kernel headers have no iommufd, whose
// IOAS would take the container's place in this design); devices come out of
// their group as descriptors whose offsets select regions. Every failure that
// has a well-known cause (IOMMU off, group not viable, device bound to
// another driver, no interrupt remapping, RLIMIT_MEMLOCK, the DMA entry limit,
// IOVAs outside the IOMMU's apertures or overlapping) says what it was and
// how to fix it.
#pragma once

#include <linux/vfio.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "device.hpp"
#include "detail/posix.hpp"
#include "detail/sysfs.hpp"
#include "pci.hpp"

namespace mmapx::vfio {

/// An inclusive range of IO virtual addresses [first, last].
struct iova_range {
  std::uint64_t first = 0;  ///< lowest IOVA of the range
  std::uint64_t last = 0;   ///< highest IOVA of the range (inclusive)
};

/// Which interrupt a device raises; the VFIO PCI interrupt indices.
enum class irq_type : unsigned {
  intx = VFIO_PCI_INTX_IRQ_INDEX,  ///< the legacy pin interrupt (one vector, masked after each)
  msi = VFIO_PCI_MSI_IRQ_INDEX,    ///< message-signalled interrupts
  msix = VFIO_PCI_MSIX_IRQ_INDEX,  ///< MSI-X
};

/// What VFIO_DEVICE_GET_INFO says about a device.
struct device_info {
  std::uint32_t flags = 0;    ///< VFIO_DEVICE_FLAGS_*
  unsigned regions = 0;       ///< number of region indices (PCI: BAR 0-5, ROM, config, VGA...)
  unsigned irq_indices = 0;   ///< number of interrupt indices
  bool pci = false;           ///< a PCI device (vfio-pci)
  bool can_reset = false;     ///< reset() has a method to use (FLR, PM, slot or bus reset)
};

/// One part of a region that may be memory-mapped (sparse-mmap capability).
struct mappable_area {
  std::uint64_t offset = 0;  ///< from the start of the region
  std::uint64_t size = 0;    ///< bytes
};

/// What VFIO_DEVICE_GET_REGION_INFO says about one region.
struct region_info {
  unsigned index = 0;          ///< PCI: 0-5 BARs, 6 ROM, 7 config space
  std::uint64_t size = 0;      ///< 0: the region does not exist (e.g. an unimplemented BAR)
  std::uint64_t offset = 0;    ///< where the region starts in the device descriptor
  bool readable = false;       ///< pread works
  bool writable = false;       ///< pwrite works
  bool mappable = false;       ///< mmap works (at least on `areas`)
  /// The parts that may be mapped when the region has the sparse-mmap
  /// capability (e.g. a BAR holding the MSI-X table); empty: all of it.
  std::vector<mappable_area> areas;
};

/// What VFIO_DEVICE_GET_IRQ_INFO says about one interrupt index.
struct irq_info {
  irq_type type = irq_type::intx;  ///< the index asked about
  std::uint32_t count = 0;         ///< vectors (0: the device has none of this kind)
  bool maskable = false;           ///< unmask()/mask work
  bool automasked = false;         ///< masked by the kernel after each interrupt (INTx)
};

/// How container::map_dma chooses the IOVA.
struct dma_options {
  /// Where the region's first page goes in IOVA space; none: mmapx picks a
  /// free place inside the IOMMU's ranges (aligned to the region's page size).
  std::optional<std::uint64_t> iova = std::nullopt;
  /// The highest IOVA the device can reach (its DMA mask), for allocation.
  std::uint64_t iova_limit = UINT64_MAX;
  /// Let the device only read the memory, even from a writable region
  /// (read-only regions are always mapped this way).
  bool device_read_only = false;
};

namespace detail {

using mmapx::detail::failure;

/// Explanations carry names and numbers (which device, which driver, which
/// limit), but a failure holds only borrowed strings; this per-thread buffer
/// holds the text until the throwing form has copied it, i.e. until the
/// next explanation on the same thread.
inline bool explain(failure& f, std::error_code ec, const char* fmt, ...) noexcept
    __attribute__((format(printf, 3, 4)));
inline bool explain(failure& f, std::error_code ec, const char* fmt, ...) noexcept {
  thread_local char text[1024];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(text, sizeof text, fmt, args);
  va_end(args);
  return f.fail(ec, text);
}
inline std::error_code sys(int e) noexcept { return {e, std::system_category()}; }

/// ioctl(2) retried on EINTR: the VFIO calls that pin memory can be interrupted.
inline int ioctl_retry(int fd, unsigned long request, void* arg) noexcept {
  return mmapx::detail::retry_on_eintr([&] { return ::ioctl(fd, request, arg); });
}

/// Walks a VFIO capability chain (info structs of `buf`) for capability `id`.
inline const vfio_info_cap_header* find_cap(const std::vector<std::uint64_t>& buf, std::uint32_t first,
                                            std::uint16_t id) noexcept {
  const auto* bytes = reinterpret_cast<const unsigned char*>(buf.data());
  const std::size_t size = buf.size() * sizeof(std::uint64_t);
  for (std::uint32_t at = first; at != 0 && at + sizeof(vfio_info_cap_header) <= size;) {
    const auto* cap = reinterpret_cast<const vfio_info_cap_header*>(bytes + at);
    if (cap->id == id) return cap;
    if (cap->next <= at) break;  // the chain only goes forward
    at = cap->next;
  }
  return nullptr;
}

/// Calls a VFIO "get info" ioctl whose answer may carry capabilities: the
/// kernel says in argsz how much room they need, so ask again with that much.
template <class Info>
bool get_info_with_caps(int fd, unsigned long request, Info& head, std::vector<std::uint64_t>& buf,
                        const char* op, failure& f) noexcept {
  try {
    buf.assign((sizeof(Info) + 7) / 8, 0);
    std::memcpy(buf.data(), &head, sizeof head);
    reinterpret_cast<Info*>(buf.data())->argsz = sizeof(Info);
    if (ioctl_retry(fd, request, buf.data()) != 0) return f.fail_errno(op);
    const std::uint32_t wanted = reinterpret_cast<Info*>(buf.data())->argsz;
    if (wanted > sizeof(Info)) {
      buf.assign((wanted + 7) / 8, 0);
      std::memcpy(buf.data(), &head, sizeof head);
      reinterpret_cast<Info*>(buf.data())->argsz = wanted;
      if (ioctl_retry(fd, request, buf.data()) != 0) return f.fail_errno(op);
    }
  } catch (...) {
    return f.fail(std::make_error_code(std::errc::not_enough_memory), op);
  }
  std::memcpy(&head, buf.data(), sizeof head);
  return true;
}

/// Why [offset, offset + length) of region `info` cannot be mapped (with
/// write access when `write`), with the error to report, or nullptr when it
/// can: the region must exist, allow mmap (and writes, if asked), and, with
/// the sparse-mmap capability, hold the range inside one mappable area.
inline const char* unmappable(const region_info& info, std::uint64_t offset, std::uint64_t length, bool write,
                              std::error_code& code) noexcept {
  code = std::make_error_code(std::errc::operation_not_supported);
  if (info.size == 0) return "map VFIO region (the region does not exist: size 0, e.g. an unimplemented BAR)";
  if (!info.mappable) {
    return "map VFIO region (vfio-pci does not allow mmap of this region: an I/O-port BAR, the ROM or "
           "config space, or a BAR smaller than a page; use read()/write())";
  }
  code = std::make_error_code(std::errc::permission_denied);
  if (write && !info.writable) return "map VFIO region writable (the region is read-only)";
  code = make_error_code(errc::range_outside_region);
  if (length == 0 || !range_within(offset, length, info.size)) return "map VFIO region (range outside the region)";
  if (info.areas.empty()) return nullptr;
  for (const auto& a : info.areas) {
    if (offset >= a.offset && range_within(offset - a.offset, length, a.size)) return nullptr;
  }
  return "map VFIO region (the range is not inside one mappable area of the sparse-mmap capability; "
         "the rest, e.g. the MSI-X table, is reachable only through read()/write())";
}

/// The container's state: shared by the container, its devices and every
/// DMA mapping, so a mapping can always unmap itself and free its IOVAs.
struct container_state {
  unique_fd fd;
  std::vector<std::pair<unsigned, unique_fd>> groups;  ///< group number, /dev/vfio/N
  bool iommu_set = false;
  std::vector<iova_range> ranges;     ///< where DMA may go (from the IOMMU)
  std::uint64_t page_sizes = 0;       ///< bitmap of IOMMU page sizes
  std::mutex lock;                    ///< guards `used`
  std::vector<iova_range> used;       ///< IOVAs of live mappings, sorted
};

}  // namespace detail

class container;
class device;

/// A region's pages mapped into the IOMMU: the device may access them at
/// iova() onwards until this object is destroyed (or unmap() is called).
/// Move-only. The region must outlive the mapping: the pages stay pinned,
/// but the device would then write memory the program no longer sees.
class dma_mapping {
public:
  /// No mapping: is_mapped() is false.
  dma_mapping() noexcept = default;
  /// Takes over `other`'s mapping; `other` is left empty.
  dma_mapping(dma_mapping&& other) noexcept { *this = std::move(other); }
  /// Unmaps the current mapping, then takes over `other`'s.
  dma_mapping& operator=(dma_mapping&& other) noexcept {
    if (this != &other) {
      detail::failure ignored;
      unmap_impl(ignored);
      state_ = std::move(other.state_);
      base_iova_ = std::exchange(other.base_iova_, 0);
      base_ = std::exchange(other.base_, 0);
      length_ = std::exchange(other.length_, 0);
      lead_ = std::exchange(other.lead_, 0);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  /// Unmaps from the IOMMU (errors ignored; unmap() reports them).
  ~dma_mapping() {
    detail::failure ignored;
    unmap_impl(ignored);
  }

  /// The IOVA of the region's first byte (data()): what the device is given.
  [[nodiscard]] std::uint64_t iova() const noexcept { return base_iova_ + lead_; }
  /// Bytes of the region covered (the IOMMU maps whole pages around them).
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// True until unmapped or moved from.
  [[nodiscard]] bool is_mapped() const noexcept { return state_ != nullptr; }

  /// The IOVA of the byte at `p`, which must lie inside the mapped region
  /// (errc::range_outside_region otherwise).
  [[nodiscard]] std::uint64_t iova_of(const void* p) const {
    return mmapx::detail::throwing([&](detail::failure& f) { return iova_of_impl(p, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  [[nodiscard]] std::uint64_t iova_of(const void* p, std::error_code& ec) const noexcept {
    return mmapx::detail::reporting(ec, [&](detail::failure& f) { return iova_of_impl(p, f); });
  }

  /// Unmaps now, reporting an error the destructor could not.
  void unmap() {
    mmapx::detail::throwing([&](detail::failure& f) { unmap_impl(f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void unmap(std::error_code& ec) noexcept {
    mmapx::detail::reporting(ec, [&](detail::failure& f) { unmap_impl(f); });
  }

private:
  friend class container;

  std::uint64_t iova_of_impl(const void* p, detail::failure& f) const noexcept {
    const auto at = reinterpret_cast<std::uintptr_t>(p);
    const std::uint64_t first = base_ + lead_;
    if (state_ == nullptr || at < first || at - first >= size_) {
      f.subject = "VFIO DMA mapping";
      f.at(at).fail(errc::range_outside_region, "translate pointer to IOVA (not inside the mapped region)");
      return 0;
    }
    return base_iova_ + (at - base_);
  }

  bool unmap_impl(detail::failure& f) noexcept {
    if (state_ == nullptr) return true;
    vfio_iommu_type1_dma_unmap unmap{};
    unmap.argsz = sizeof unmap;
    unmap.iova = base_iova_;
    unmap.size = length_;
    const bool ok = detail::ioctl_retry(state_->fd.get(), VFIO_IOMMU_UNMAP_DMA, &unmap) == 0;
    if (!ok) f.at(base_iova_).fail_errno("unmap DMA (VFIO_IOMMU_UNMAP_DMA)");
    {
      std::lock_guard<std::mutex> hold(state_->lock);
      auto& used = state_->used;
      used.erase(std::remove_if(used.begin(), used.end(),
                                [&](const iova_range& r) { return r.first == base_iova_; }),
                 used.end());
    }
    state_.reset();
    return ok;
  }

  std::shared_ptr<detail::container_state> state_;
  std::uint64_t base_iova_ = 0;  // IOVA of the first mapped page
  std::uintptr_t base_ = 0;      // its virtual address
  std::uint64_t length_ = 0;     // whole pages mapped
  std::uint64_t lead_ = 0;       // from the first page to the region's first byte
  std::size_t size_ = 0;         // the region's bytes
};

/// Interrupts of one kind enabled on a device, one eventfd per vector.
/// Move-only; disables them when destroyed.
class interrupts {
public:
  /// No interrupts: vectors() is 0.
  interrupts() noexcept = default;
  /// Takes over `other`'s eventfds; `other` is left with none.
  interrupts(interrupts&& other) noexcept = default;
  /// Disables the current interrupts, then takes over `other`'s.
  interrupts& operator=(interrupts&& other) noexcept {
    if (this != &other) {
      disable();
      device_ = std::move(other.device_);
      type_ = other.type_;
      events_ = std::move(other.events_);
      counts_ = std::move(other.counts_);
    }
    return *this;
  }
  /// Disables the interrupts (VFIO_DEVICE_SET_IRQS with count 0).
  ~interrupts() { disable(); }

  /// The kind enabled.
  [[nodiscard]] irq_type type() const noexcept { return type_; }
  /// Number of vectors (eventfds).
  [[nodiscard]] unsigned vectors() const noexcept { return static_cast<unsigned>(events_.size()); }
  /// The eventfd of `vector`, for the caller's own epoll loop (-1 if none).
  [[nodiscard]] int native_handle(unsigned vector = 0) const noexcept {
    return vector < events_.size() ? events_[vector].get() : -1;
  }
  /// Interrupts of `vector` received so far by wait().
  [[nodiscard]] std::uint64_t count(unsigned vector = 0) const noexcept {
    return vector < counts_.size() ? counts_[vector] : 0;
  }

  /// Waits for interrupts on `vector` and returns how many arrived since
  /// the last wait (at least 1). errc::timed_out when none comes within
  /// `timeout` (negative: wait forever; zero: only check; the rule of every
  /// mmapx wait, as uio_device::wait); EINVAL for a vector not enabled.
  std::uint64_t wait(std::chrono::milliseconds timeout, unsigned vector = 0) {
    return mmapx::detail::throwing([&](detail::failure& f) { return wait_impl(timeout, vector, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  std::uint64_t wait(std::chrono::milliseconds timeout, unsigned vector, std::error_code& ec) noexcept {
    return mmapx::detail::reporting(ec, [&](detail::failure& f) { return wait_impl(timeout, vector, f); });
  }

  /// Unmasks the interrupt: INTx is masked by the kernel after each one, and
  /// stays masked until the driver has quietened the device and calls this.
  void unmask() {
    mmapx::detail::throwing([&](detail::failure& f) { unmask_impl(f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void unmask(std::error_code& ec) noexcept {
    mmapx::detail::reporting(ec, [&](detail::failure& f) { unmask_impl(f); });
  }

private:
  friend class device;

  std::uint64_t wait_impl(std::chrono::milliseconds timeout, unsigned vector, detail::failure& f) noexcept {
    f.subject = "VFIO interrupt";
    if (vector >= events_.size()) {
      f.at(vector).fail(std::make_error_code(std::errc::invalid_argument), "wait for VFIO interrupt (no such vector)");
      return 0;
    }
    const int event = events_[vector].get();
    f.at(vector);
    if (!mmapx::detail::poll_until(event, POLLIN, mmapx::detail::deadline(timeout), f, "wait for VFIO interrupt")) {
      if (!f) f.fail(errc::timed_out, "wait for VFIO interrupt");
      return 0;
    }
    // The eventfd is non-blocking: another thread may have taken the count
    // between poll and read (EAGAIN, reported as it is).
    std::uint64_t n = 0;
    if (!mmapx::detail::whole_transfer(mmapx::detail::retry_on_eintr([&] { return ::read(event, &n, sizeof n); }),
                                       sizeof n)) {
      f.fail_errno("read VFIO interrupt eventfd");
      return 0;
    }
    counts_[vector] += n;
    return n;
  }

  bool unmask_impl(detail::failure& f) noexcept {
    f.subject = "VFIO interrupt";
    vfio_irq_set set{};
    set.argsz = sizeof set;
    set.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK;
    set.index = static_cast<unsigned>(type_);
    set.count = 1;
    if (!device_) return f.fail(errc::not_mapped, "unmask VFIO interrupt (none enabled)");
    if (detail::ioctl_retry(device_.get(), VFIO_DEVICE_SET_IRQS, &set) != 0) {
      return f.fail_errno("unmask VFIO interrupt (VFIO_DEVICE_SET_IRQS)");
    }
    return true;
  }

  void disable() noexcept {
    if (!device_) return;
    vfio_irq_set set{};
    set.argsz = sizeof set;
    set.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
    set.index = static_cast<unsigned>(type_);
    set.count = 0;
    detail::ioctl_retry(device_.get(), VFIO_DEVICE_SET_IRQS, &set);
    device_.reset();
    events_.clear();
  }

  unique_fd device_;  // a duplicate of the device descriptor, to disable them
  irq_type type_ = irq_type::intx;
  std::vector<unique_fd> events_;
  std::vector<std::uint64_t> counts_;
};

/// A device opened through VFIO. Move-only; closing it lets the kernel
/// reset the device for its next user.
class device {
public:
  /// No device: is_open() is false.
  device() noexcept = default;

  /// The PCI address it was opened by ("0000:00:03.0").
  [[nodiscard]] const std::string& address() const noexcept { return address_; }
  /// What the kernel says about the device.
  [[nodiscard]] const device_info& info() const noexcept { return info_; }
  /// The device descriptor (owned by this object), or -1.
  [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }
  /// True when a device is open.
  [[nodiscard]] bool is_open() const noexcept { return static_cast<bool>(fd_); }

  /// What the kernel says about region `index` (PCI: BAR 0-5, 6 ROM, 7 config).
  [[nodiscard]] vfio::region_info region_info(unsigned index) const {
    return mmapx::detail::throwing([&](detail::failure& f) { return region_info_impl(index, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  [[nodiscard]] vfio::region_info region_info(unsigned index, std::error_code& ec) const noexcept {
    return mmapx::detail::reporting(ec, [&](detail::failure& f) { return region_info_impl(index, f); });
  }

  /// Maps [offset, offset + length) of region `index` (length 0: to its
  /// end) as an ordinary region, so register maps bind to it unchanged.
  /// Refused, with the reason, for a region that cannot be mapped or a
  /// range outside its mappable (sparse-mmap) areas.
  template <access A = access::read_write>
  region<A> map_region(unsigned index, std::uint64_t offset = 0, std::size_t length = 0,
                       const map_options& opts = {}) const {
    return mmapx::detail::throwing([&](detail::failure& f) { return map_impl<A>(index, offset, length, opts, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  template <access A = access::read_write>
  region<A> map_region(unsigned index, std::uint64_t offset, std::size_t length, const map_options& opts,
                       std::error_code& ec) const noexcept {
    return mmapx::detail::reporting(ec, [&](detail::failure& f) { return map_impl<A>(index, offset, length, opts, f); });
  }

  /// Reads `size` bytes at `offset` of region `index` through the descriptor
  /// (for regions that cannot be mapped, and config space).
  void read(unsigned index, std::uint64_t offset, void* out, std::size_t size) const {
    mmapx::detail::throwing([&](detail::failure& f) { transfer_impl(index, offset, out, size, false, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void read(unsigned index, std::uint64_t offset, void* out, std::size_t size, std::error_code& ec) const noexcept {
    mmapx::detail::reporting(ec, [&](detail::failure& f) { transfer_impl(index, offset, out, size, false, f); });
  }
  /// Writes `size` bytes at `offset` of region `index` through the descriptor.
  void write(unsigned index, std::uint64_t offset, const void* in, std::size_t size) const {
    mmapx::detail::throwing([&](detail::failure& f) {
      transfer_impl(index, offset, const_cast<void*>(in), size, true, f);
    });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void write(unsigned index, std::uint64_t offset, const void* in, std::size_t size,
             std::error_code& ec) const noexcept {
    mmapx::detail::reporting(ec, [&](detail::failure& f) {
      transfer_impl(index, offset, const_cast<void*>(in), size, true, f);
    });
  }

  /// Reads a 1-, 2- or 4-byte value of PCI config space (little-endian, as PCI is).
  template <class T>
  [[nodiscard]] T read_config(std::uint64_t offset) const
    requires(sizeof(T) <= 4 && std::is_unsigned_v<T>) {
    T value{};
    read(VFIO_PCI_CONFIG_REGION_INDEX, offset, &value, sizeof value);
    return value;
  }
  /// Writes a 1-, 2- or 4-byte value of PCI config space (vfio-pci filters
  /// what a user may change, e.g. BAR addresses stay the kernel's).
  template <class T>
  void write_config(std::uint64_t offset, T value) const requires(sizeof(T) <= 4 && std::is_unsigned_v<T>) {
    write(VFIO_PCI_CONFIG_REGION_INDEX, offset, &value, sizeof value);
  }

  /// Sets (or clears) Bus Master Enable in the command register: vfio-pci
  /// leaves it off, and without it the device's DMA never reaches memory.
  void enable_bus_master(bool on = true) const {
    mmapx::detail::throwing([&](detail::failure& f) { bus_master_impl(on, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void enable_bus_master(bool on, std::error_code& ec) const noexcept {
    mmapx::detail::reporting(ec, [&](detail::failure& f) { bus_master_impl(on, f); });
  }

  /// Resets the device (VFIO_DEVICE_RESET: FLR, PM, slot or bus reset,
  /// whichever the kernel found); ENOTSUP when it found none.
  void reset() const {
    mmapx::detail::throwing([&](detail::failure& f) { reset_impl(f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  void reset(std::error_code& ec) const noexcept {
    mmapx::detail::reporting(ec, [&](detail::failure& f) { reset_impl(f); });
  }

  /// What the kernel says about interrupts of kind `type`.
  [[nodiscard]] vfio::irq_info irq_info(irq_type type) const {
    return mmapx::detail::throwing([&](detail::failure& f) { return irq_info_impl(type, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  [[nodiscard]] vfio::irq_info irq_info(irq_type type, std::error_code& ec) const noexcept {
    return mmapx::detail::reporting(ec, [&](detail::failure& f) { return irq_info_impl(type, f); });
  }

  /// Routes `vectors` interrupts of kind `type` to new eventfds. A PCI
  /// function uses one kind at a time: destroy the interrupts object of
  /// another kind first (the kernel refuses with EINVAL otherwise). MSI and
  /// MSI-X also switch bus mastering on: they are memory writes by the device.
  [[nodiscard]] interrupts enable_interrupts(irq_type type, unsigned vectors = 1) const {
    return mmapx::detail::throwing([&](detail::failure& f) { return enable_irq_impl(type, vectors, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  [[nodiscard]] interrupts enable_interrupts(irq_type type, unsigned vectors, std::error_code& ec) const noexcept {
    return mmapx::detail::reporting(ec, [&](detail::failure& f) { return enable_irq_impl(type, vectors, f); });
  }

private:
  friend class container;

  vfio::region_info region_info_impl(unsigned index, detail::failure& f) const noexcept {
    vfio::region_info out;
    f.subject = address_.c_str();
    vfio_region_info head{};
    head.index = index;
    std::vector<std::uint64_t> buf;
    if (!detail::get_info_with_caps(fd_.get(), VFIO_DEVICE_GET_REGION_INFO, head, buf,
                                    "VFIO region info (VFIO_DEVICE_GET_REGION_INFO; no such region?)", f)) {
      f.at(index);
      return out;
    }
    out.index = index;
    out.size = head.size;
    out.offset = head.offset;
    out.readable = (head.flags & VFIO_REGION_INFO_FLAG_READ) != 0;
    out.writable = (head.flags & VFIO_REGION_INFO_FLAG_WRITE) != 0;
    out.mappable = (head.flags & VFIO_REGION_INFO_FLAG_MMAP) != 0;
    const auto* cap = (head.flags & VFIO_REGION_INFO_FLAG_CAPS) != 0
                          ? detail::find_cap(buf, head.cap_offset, VFIO_REGION_INFO_CAP_SPARSE_MMAP)
                          : nullptr;
    if (cap != nullptr) {
      const auto* sparse = reinterpret_cast<const vfio_region_info_cap_sparse_mmap*>(cap);
      const std::size_t room = (buf.size() * 8 - head.cap_offset) / sizeof(vfio_region_sparse_mmap_area);
      try {
        for (std::uint32_t i = 0; i < sparse->nr_areas && i < room; ++i) {
          out.areas.push_back({sparse->areas[i].offset, sparse->areas[i].size});
        }
      } catch (...) {
        f.fail(std::make_error_code(std::errc::not_enough_memory), "VFIO region info");
      }
    }
    return out;
  }

  template <access A>
  region<A> map_impl(unsigned index, std::uint64_t offset, std::size_t length, const map_options& opts,
                     detail::failure& f) const noexcept {
    const auto info = region_info_impl(index, f);
    if (f) return {};
    if (length == 0 && offset < info.size) length = static_cast<std::size_t>(info.size - offset);
    std::error_code code;
    if (const char* why = detail::unmappable(info, offset, length, A != access::read, code)) {
      f.at(offset).fail(code, why);
      return {};
    }
    auto fd = mmapx::detail::dup_fd(fd_.get(), f);
    if (f) return {};
    auto r = mmapx::detail::map_fd_range<A>(std::move(fd), info.offset + offset, length, opts, f);
    f.subject = address_.c_str();
    return r;
  }

  bool transfer_impl(unsigned index, std::uint64_t offset, void* buf, std::size_t size, bool out,
                     detail::failure& f) const noexcept {
    const auto info = region_info_impl(index, f);
    if (f) return false;
    f.at(offset);
    if (!range_within(offset, size, info.size)) {
      return f.fail(errc::range_outside_region, out ? "write VFIO region" : "read VFIO region");
    }
    // VFIO region offsets are index << 40: past a 32-bit off_t, hence lfs_.
    const auto at = static_cast<mmapx::detail::file_offset>(info.offset + offset);
    const ssize_t n = mmapx::detail::retry_on_eintr([&] {
      return out ? mmapx::detail::lfs_pwrite(fd_.get(), buf, size, at) : mmapx::detail::lfs_pread(fd_.get(), buf, size, at);
    });
    if (mmapx::detail::whole_transfer(n, size)) return true;
    return f.fail_errno(out ? "write VFIO region" : "read VFIO region");
  }

  bool bus_master_impl(bool on, detail::failure& f) const noexcept {
    std::uint16_t command = 0;
    if (!transfer_impl(VFIO_PCI_CONFIG_REGION_INDEX, command_register, &command, 2, false, f)) return false;
    command = on ? static_cast<std::uint16_t>(command | mmapx::detail::pci_bus_master)
                 : static_cast<std::uint16_t>(command & ~mmapx::detail::pci_bus_master);
    return transfer_impl(VFIO_PCI_CONFIG_REGION_INDEX, command_register, &command, 2, true, f);
  }
  static constexpr std::uint64_t command_register = 4;  // PCI config offset of the command register

  bool reset_impl(detail::failure& f) const noexcept {
    f.subject = address_.c_str();
    if (!info_.can_reset) {
      return f.fail(std::make_error_code(std::errc::not_supported),
                    "reset VFIO device (the kernel found no reset method: no FLR, PM reset, or slot/bus "
                    "reset with the device alone on its bus)");
    }
    if (detail::ioctl_retry(fd_.get(), VFIO_DEVICE_RESET, nullptr) != 0) {
      return f.fail_errno("reset VFIO device (VFIO_DEVICE_RESET)");
    }
    return true;
  }

  vfio::irq_info irq_info_impl(irq_type type, detail::failure& f) const noexcept {
    f.subject = address_.c_str();
    vfio_irq_info raw{};
    raw.argsz = sizeof raw;
    raw.index = static_cast<unsigned>(type);
    vfio::irq_info out;
    out.type = type;
    if (detail::ioctl_retry(fd_.get(), VFIO_DEVICE_GET_IRQ_INFO, &raw) != 0) {
      f.at(raw.index).fail_errno("VFIO interrupt info (VFIO_DEVICE_GET_IRQ_INFO)");
      return out;
    }
    out.count = raw.count;
    out.maskable = (raw.flags & VFIO_IRQ_INFO_MASKABLE) != 0;
    out.automasked = (raw.flags & VFIO_IRQ_INFO_AUTOMASKED) != 0;
    return out;
  }

  interrupts enable_irq_impl(irq_type type, unsigned vectors, detail::failure& f) const noexcept {
    const auto info = irq_info_impl(type, f);
    if (f) return {};
    if (vectors == 0 || vectors > info.count) {
      detail::explain(f, std::make_error_code(std::errc::invalid_argument),
                      "enable VFIO interrupts (%u vectors asked, the device has %u of this kind)", vectors,
                      info.count);
      return {};
    }
    interrupts irq;
    try {
      irq.type_ = type;
      irq.counts_.assign(vectors, 0);
      std::vector<std::uint64_t> buf((sizeof(vfio_irq_set) + vectors * sizeof(int) + 7) / 8, 0);
      auto* set = reinterpret_cast<vfio_irq_set*>(buf.data());
      set->argsz = static_cast<std::uint32_t>(sizeof(vfio_irq_set) + vectors * sizeof(int));
      set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
      set->index = static_cast<unsigned>(type);
      set->count = vectors;
      for (unsigned v = 0; v < vectors; ++v) {
        const int event = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (event < 0) {
          f.fail_errno("create eventfd for VFIO interrupt");
          return {};
        }
        irq.events_.emplace_back(event);
        std::memcpy(set->data + v * sizeof(int), &event, sizeof(int));
      }
      if (detail::ioctl_retry(fd_.get(), VFIO_DEVICE_SET_IRQS, set) != 0) {
        f.fail_errno(errno == EINVAL ? "enable VFIO interrupts (VFIO_DEVICE_SET_IRQS refused them: is another kind "
                                       "still enabled? a PCI function uses one kind at a time)"
                                     : "enable VFIO interrupts (VFIO_DEVICE_SET_IRQS)");
        return {};
      }
    } catch (...) {
      f.fail(std::make_error_code(std::errc::not_enough_memory), "enable VFIO interrupts");
      return {};
    }
    // An MSI is a memory write by the device: without bus mastering it
    // goes nowhere, and the interrupts would silently never come.
    if (type != irq_type::intx && !bus_master_impl(true, f)) return {};
    irq.device_ = mmapx::detail::dup_fd(fd_.get(), f);
    return irq;
  }

  std::shared_ptr<detail::container_state> state_;  // keeps the container alive
  unique_fd fd_;
  std::string address_;
  device_info info_;
};

namespace detail {

using mmapx::detail::sysfs_path;

/// The name the link `leaf` of PCI device `address` points at ("driver":
/// the driver's name; "iommu_group": the group's number), or "" when the
/// device has no such link (or its path does not fit a sysfs_path).
inline std::string pci_link_name(const char* address, const char* leaf) {
  const sysfs_path link("%s/%s/%s", mmapx::detail::sysfs_pci_devices, address, leaf);
  char name[256];
  failure unused;
  if (!link.check(unused, "") || !mmapx::detail::read_sysfs_link_name(link.c_str(), name, sizeof name)) return {};
  return name;
}

/// True for the drivers that may hold another device of a VFIO group
/// without making it unusable: vfio-pci itself, and pcieport and pci-stub,
/// which never do DMA for themselves.
inline bool harmless_in_group(const std::string& driver) noexcept {
  return driver.empty() || driver == "vfio-pci" || driver == "pcieport" || driver == "pci-stub";
}

/// The first device of IOMMU group `group`, other than `address`, bound to
/// a driver that makes the group unusable for VFIO, as "DEVICE (bound to
/// DRIVER)"; "" when none is found (or the group cannot be listed).
inline std::string blocking_device(unsigned group, const char* address) {
  const sysfs_path dir("%s/%u/devices", mmapx::detail::sysfs_iommu_groups, group);
  failure unused;
  std::string found;
  if (!dir.check(unused, "")) return found;
  mmapx::detail::list_sysfs_dir(dir.c_str(), "list IOMMU group", unused, [&](const char* entry) {
    if (!found.empty() || std::strcmp(entry, address) == 0) return;
    const sysfs_path link("%s/%u/devices/%s/driver", mmapx::detail::sysfs_iommu_groups, group, entry);
    char driver[256];
    if (!link.check(unused, "") || !mmapx::detail::read_sysfs_link_name(link.c_str(), driver, sizeof driver)) return;
    if (!harmless_in_group(driver)) found = std::string(entry) + " (bound to " + driver + ")";
  });
  return found;
}

/// Records why group `group` of device `address` is not viable (EBUSY),
/// naming the device that blocks it when sysfs tells.
inline bool explain_not_viable(unsigned group, const char* address, failure& f) {
  const std::string other = blocking_device(group, address);
  return explain(f, std::make_error_code(std::errc::device_or_resource_busy),
                 "open VFIO group %u (not viable: another device of the group, %s, is bound to a driver; "
                 "unbind it or bind it to vfio-pci too, since the IOMMU cannot isolate devices of one group)",
                 group, other.empty() ? "unknown" : other.c_str());
}

/// Records that `address` is bound to `driver` ("" for none), not to
/// vfio-pci, with the commands that bind it. The paths are the real ones
/// (through the sysfs root), so the user can type them as printed.
inline bool explain_not_bound(const char* address, const std::string& driver, failure& f) {
  const sysfs_path device("%s/%s", mmapx::detail::sysfs_pci_devices, address);
  const sysfs_path unbind("%s/%s/unbind", mmapx::detail::sysfs_pci_drivers, driver.c_str());
  const sysfs_path probe("%s_probe", mmapx::detail::sysfs_pci_drivers);  // bus/pci/drivers_probe
  const std::string unbind_step = driver.empty() ? "" : "echo " + std::string(address) + " > " + unbind.c_str() + "; ";
  return explain(f, std::make_error_code(std::errc::no_such_device),
                 "open VFIO device (the device is %s%s, not to vfio-pci; bind it: modprobe vfio-pci; "
                 "echo vfio-pci > %s/driver_override; %secho %s > %s)",
                 driver.empty() ? "bound to no driver" : "bound to ", driver.c_str(), device.c_str(),
                 unbind_step.c_str(), address, probe.c_str());
}

/// Checks what sysfs says before VFIO is asked, so the common mistakes get
/// their own message: the device's IOMMU group number, or false.
inline bool check_vfio_device(const char* address, unsigned& group, failure& f) {
  if (!mmapx::detail::check_pci_address(address, f)) return false;
  const sysfs_path dir("%s/%s", mmapx::detail::sysfs_pci_devices, address);
  if (!dir.check(f, "open VFIO device (sysfs path)")) return false;
  if (::access(dir.c_str(), F_OK) != 0) return f.fail_errno("open VFIO device (no such PCI device in sysfs)");
  const std::string group_name = pci_link_name(address, "iommu_group");
  std::uint64_t number = 0;
  failure unused;
  if (group_name.empty() || !mmapx::detail::parse_unsigned(group_name, number, unused, "") || number > UINT_MAX) {
    return f.fail(std::make_error_code(std::errc::no_such_device),
                  "open VFIO device (the device has no IOMMU group: the IOMMU is off or absent; enable "
                  "VT-d/AMD-Vi in the firmware and boot with intel_iommu=on or amd_iommu=on)");
  }
  group = static_cast<unsigned>(number);
  const std::string driver = pci_link_name(address, "driver");
  return driver == "vfio-pci" || explain_not_bound(address, driver, f);
}

/// vfio::check_device's work: the group number, or 0 with f set.
inline unsigned check_device_impl(const char* address, failure& f) noexcept {
  unsigned group = 0;
  try {
    check_vfio_device(address, group, f);
  } catch (...) {
    f.fail(std::make_error_code(std::errc::not_enough_memory), "check VFIO device");
  }
  return group;
}

}  // namespace detail

/// Checks through sysfs, opening nothing, that the PCI device at `address`
/// can be opened through VFIO: it exists (ENOENT), is in an IOMMU group
/// (ENODEV: the IOMMU is off) and is bound to vfio-pci (ENODEV, with the
/// commands that bind it). The check container::open_device makes first,
/// with the same errors; for tools that check before they set anything up.
/// Returns the device's IOMMU group number.
inline unsigned check_device(const std::string& address) {
  return mmapx::detail::throwing([&](detail::failure& f) { return detail::check_device_impl(address.c_str(), f); });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
inline unsigned check_device(const std::string& address, std::error_code& ec) noexcept {
  return mmapx::detail::reporting(ec, [&](detail::failure& f) { return detail::check_device_impl(address.c_str(), f); });
}

/// A VFIO container: the IOMMU context that devices' groups join and DMA
/// mappings live in. Cheap to move; the state it shares with its devices
/// and mappings lives until the last of them is gone. map_dma and the
/// unmapping of mappings may run on several threads at once; open_device
/// may not run concurrently with anything else on the same container. The
/// kernel lets only the process that made a DMA mapping unmap it.
class container {
public:
  /// No container: is_open() is false.
  container() noexcept = default;

  /// Opens /dev/vfio/vfio and checks that the kernel offers the type1 IOMMU.
  static container open() {
    return mmapx::detail::throwing([&](detail::failure& f) { return open_impl(f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  static container open(std::error_code& ec) noexcept {
    return mmapx::detail::reporting(ec, [&](detail::failure& f) { return open_impl(f); });
  }

  /// True when a container is open.
  [[nodiscard]] bool is_open() const noexcept { return state_ != nullptr; }
  /// The container descriptor, or -1.
  [[nodiscard]] int native_handle() const noexcept { return state_ ? state_->fd.get() : -1; }

  /// Opens the PCI device at `address` ("0000:00:03.0"), which must be bound
  /// to vfio-pci: attaches its IOMMU group (the first group also sets up the
  /// type1 IOMMU) and gets the device from it. Devices of one container
  /// share its DMA mappings.
  [[nodiscard]] device open_device(const std::string& address) {
    return mmapx::detail::throwing([&](detail::failure& f) { return open_device_impl(address.c_str(), f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  [[nodiscard]] device open_device(const std::string& address, std::error_code& ec) noexcept {
    return mmapx::detail::reporting(ec, [&](detail::failure& f) { return open_device_impl(address.c_str(), f); });
  }

  /// The IOVA ranges the IOMMU accepts (known once a device is open).
  [[nodiscard]] std::vector<iova_range> iova_ranges() const {
    return state_ ? state_->ranges : std::vector<iova_range>{};
  }
  /// Bitmap of the IOMMU's page sizes (bit n: 2^n bytes); 0 before a device is open.
  [[nodiscard]] std::uint64_t iova_page_sizes() const noexcept { return state_ ? state_->page_sizes : 0; }

  /// How many more DMA mappings the kernel allows this container
  /// (vfio_iommu_type1's dma_entry_limit less those made); nullopt when
  /// the kernel does not say.
  [[nodiscard]] std::optional<std::uint32_t> dma_mappings_available() const {
    return mmapx::detail::throwing([&](detail::failure& f) { return dma_available_impl(f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  [[nodiscard]] std::optional<std::uint32_t> dma_mappings_available(std::error_code& ec) const noexcept {
    return mmapx::detail::reporting(ec, [&](detail::failure& f) { return dma_available_impl(f); });
  }

  /// Maps the pages of `r` into the IOMMU for the devices of this container,
  /// at `opts.iova` or at a free IOVA inside the IOMMU's ranges and below
  /// `opts.iova_limit`. A read-only region is mapped device-read-only.
  template <access A>
  [[nodiscard]] dma_mapping map_dma(const region<A>& r, const dma_options& opts = {}) {
    return mmapx::detail::throwing([&](detail::failure& f) { return map_dma_impl(r, A == access::read, opts, f); });
  }
  /// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
  template <access A>
  [[nodiscard]] dma_mapping map_dma(const region<A>& r, const dma_options& opts, std::error_code& ec) noexcept {
    return mmapx::detail::reporting(ec, [&](detail::failure& f) { return map_dma_impl(r, A == access::read, opts, f); });
  }

private:
  static container open_impl(detail::failure& f) noexcept {
    container c;
    auto fd = mmapx::detail::open_fd("/dev/vfio/vfio", O_RDWR, 0, f);
    if (f) {
      if (f.code == std::errc::no_such_file_or_directory) {
        f.operation = "open VFIO container (no /dev/vfio/vfio: load the vfio, vfio_iommu_type1 and vfio-pci modules)";
      }
      return c;
    }
    f.subject = "/dev/vfio/vfio";
    if (::ioctl(fd.get(), VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
      f.fail(std::make_error_code(std::errc::not_supported), "open VFIO container (unknown VFIO API version)");
      return c;
    }
    if (::ioctl(fd.get(), VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0) {
      f.fail(std::make_error_code(std::errc::not_supported),
             "open VFIO container (no type1 IOMMU driver: load vfio_iommu_type1)");
      return c;
    }
    try {
      c.state_ = std::make_shared<detail::container_state>();
    } catch (...) {
      f.fail(std::make_error_code(std::errc::not_enough_memory), "open VFIO container");
      return c;
    }
    c.state_->fd = std::move(fd);
    return c;
  }

  device open_device_impl(const char* address, detail::failure& f) noexcept {
    device dev;
    try {
      unsigned group = 0;
      if (!detail::check_vfio_device(address, group, f)) return dev;
      f.subject = address;
      if (state_ == nullptr) {
        f.fail(errc::not_mapped, "open VFIO device (the container is not open)");
        return dev;
      }
      const int group_fd = attach_group(group, address, f);
      if (group_fd < 0) return dev;
      const int fd = ::ioctl(group_fd, VFIO_GROUP_GET_DEVICE_FD, address);
      if (fd < 0) {
        f.fail_errno("open VFIO device (VFIO_GROUP_GET_DEVICE_FD)");
        return dev;
      }
      dev.fd_.reset(fd);
      dev.address_ = address;
    } catch (...) {
      f.fail(std::make_error_code(std::errc::not_enough_memory), "open VFIO device");
      return {};
    }
    vfio_device_info raw{};
    raw.argsz = sizeof raw;
    if (detail::ioctl_retry(dev.fd_.get(), VFIO_DEVICE_GET_INFO, &raw) != 0) {
      f.fail_errno("VFIO device info (VFIO_DEVICE_GET_INFO)");
      return {};
    }
    dev.info_ = {raw.flags, raw.num_regions, raw.num_irqs, (raw.flags & VFIO_DEVICE_FLAGS_PCI) != 0,
                 (raw.flags & VFIO_DEVICE_FLAGS_RESET) != 0};
    dev.state_ = state_;
    return dev;
  }

  /// The descriptor of group `group`, joined to this container (once).
  int attach_group(unsigned group, const char* address, detail::failure& f) {
    for (const auto& [number, fd] : state_->groups) {
      if (number == group) return fd.get();
    }
    const std::string path = "/dev/vfio/" + std::to_string(group);
    auto fd = mmapx::detail::open_fd(path.c_str(), O_RDWR, 0, f);
    f.subject = address;
    if (f) {
      if (f.code == std::errc::device_or_resource_busy) {
        detail::explain(f, f.code, "open VFIO group %u (in use by another process or container)", group);
      } else {
        detail::explain(f, f.code, "open VFIO group %s", path.c_str());
      }
      return -1;
    }
    vfio_group_status status{};
    status.argsz = sizeof status;
    if (::ioctl(fd.get(), VFIO_GROUP_GET_STATUS, &status) != 0) {
      f.fail_errno("VFIO group status (VFIO_GROUP_GET_STATUS)");
      return -1;
    }
    if ((status.flags & VFIO_GROUP_FLAGS_VIABLE) == 0) {
      detail::explain_not_viable(group, address, f);
      return -1;
    }
    int container_fd = state_->fd.get();
    if (::ioctl(fd.get(), VFIO_GROUP_SET_CONTAINER, &container_fd) != 0) {
      f.fail_errno("attach VFIO group to container (VFIO_GROUP_SET_CONTAINER)");
      return -1;
    }
    state_->groups.emplace_back(group, std::move(fd));
    if (!state_->iommu_set && !set_iommu(f)) {
      state_->groups.pop_back();  // closing the group detaches it again
      return -1;
    }
    return state_->groups.back().second.get();
  }

  bool set_iommu(detail::failure& f) {
    if (::ioctl(state_->fd.get(), VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) != 0) {
      if (errno == EPERM) {
        return f.fail_errno("set VFIO IOMMU (no interrupt remapping: the IOMMU cannot stop the device from "
                            "raising arbitrary interrupts; if the device is trusted, allow it with the "
                            "vfio_iommu_type1 parameter allow_unsafe_interrupts=1)");
      }
      return f.fail_errno("set VFIO IOMMU (VFIO_SET_IOMMU, type1v2)");
    }
    state_->iommu_set = true;
    vfio_iommu_type1_info info{};
    std::vector<std::uint64_t> buf;
    if (!detail::get_info_with_caps(state_->fd.get(), VFIO_IOMMU_GET_INFO, info, buf,
                                    "VFIO IOMMU info (VFIO_IOMMU_GET_INFO)", f)) {
      return false;
    }
    state_->page_sizes = info.iova_pgsizes;
    const auto* cap = (info.flags & VFIO_IOMMU_INFO_CAPS) != 0
                          ? detail::find_cap(buf, info.cap_offset, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE)
                          : nullptr;
    if (cap == nullptr) {
      state_->ranges = {{0, UINT64_MAX}};  // a kernel before 5.4 does not say
      return true;
    }
    const auto* list = reinterpret_cast<const vfio_iommu_type1_info_cap_iova_range*>(cap);
    for (std::uint32_t i = 0; i < list->nr_iovas; ++i) {
      state_->ranges.push_back({list->iova_ranges[i].start, list->iova_ranges[i].end});
    }
    return true;
  }

  std::optional<std::uint32_t> dma_available_impl(detail::failure& f) const noexcept {
    if (state_ == nullptr || !state_->iommu_set) return std::nullopt;
    vfio_iommu_type1_info info{};
    std::vector<std::uint64_t> buf;
    if (!detail::get_info_with_caps(state_->fd.get(), VFIO_IOMMU_GET_INFO, info, buf,
                                    "VFIO IOMMU info (VFIO_IOMMU_GET_INFO)", f)) {
      return std::nullopt;
    }
    const auto* cap = (info.flags & VFIO_IOMMU_INFO_CAPS) != 0
                          ? detail::find_cap(buf, info.cap_offset, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL)
                          : nullptr;
    if (cap == nullptr) return std::nullopt;
    return reinterpret_cast<const vfio_iommu_type1_info_dma_avail*>(cap)->avail;
  }

  /// Picks (or checks the caller's) IOVA for `length` bytes: inside one of
  /// the IOMMU's ranges, aligned, and clear of this container's mappings.
  /// Called with state_->lock held.
  bool place(std::uint64_t length, std::uint64_t align, const dma_options& o, std::uint64_t& iova,
             detail::failure& f) const noexcept {
    const auto& ranges = state_->ranges;
    const auto clash = [&](std::uint64_t first, std::uint64_t last) -> const iova_range* {
      for (const auto& u : state_->used) {
        if (u.first <= last && first <= u.last) return &u;
      }
      return nullptr;
    };
    if (o.iova) {
      const std::uint64_t first = *o.iova;
      const auto end = checked_add<std::uint64_t>(first, length - 1);
      const std::uint64_t min_page = state_->page_sizes & (~state_->page_sizes + 1);
      f.at(first);
      if (min_page != 0 && first % min_page != 0) {
        return detail::explain(f, std::make_error_code(std::errc::invalid_argument),
                               "map DMA (the IOVA is not aligned to the IOMMU's page size 0x%llx)",
                               static_cast<unsigned long long>(min_page));
      }
      const bool inside = end && std::any_of(ranges.begin(), ranges.end(), [&](const iova_range& r) {
        return first >= r.first && *end <= r.last;
      });
      if (!inside) return explain_outside(first, length, f);
      if (const auto* u = clash(first, *end)) {
        return detail::explain(f, std::make_error_code(std::errc::file_exists),
                               "map DMA (IOVAs overlap the mapping at 0x%llx-0x%llx)",
                               static_cast<unsigned long long>(u->first), static_cast<unsigned long long>(u->last));
      }
      iova = first;
      return true;
    }
    for (const auto& r : ranges) {
      const std::uint64_t top = std::min(r.last, o.iova_limit);
      auto at = align_up(std::max(r.first, align), align);  // never IOVA 0: it reads as "no address"
      while (at && *at <= top && top - *at >= length - 1) {
        const auto* u = clash(*at, *at + length - 1);
        if (u == nullptr) {
          iova = *at;
          return true;
        }
        at = u->last == UINT64_MAX ? std::nullopt : align_up(u->last + 1, align);
      }
    }
    return detail::explain(f, std::make_error_code(std::errc::no_space_on_device),
                           "map DMA (no free IOVA range of 0x%llx bytes below the limit 0x%llx)",
                           static_cast<unsigned long long>(length), static_cast<unsigned long long>(o.iova_limit));
  }

  bool explain_outside(std::uint64_t first, std::uint64_t length, detail::failure& f) const noexcept {
    char list[256] = "";
    std::size_t used = 0;
    for (const auto& r : state_->ranges) {
      if (used + 48 >= sizeof list) break;
      used += static_cast<std::size_t>(std::snprintf(list + used, sizeof list - used, "%s0x%llx-0x%llx",
                                                     used == 0 ? "" : ", ",
                                                     static_cast<unsigned long long>(r.first),
                                                     static_cast<unsigned long long>(r.last)));
    }
    return detail::explain(f, make_error_code(errc::range_outside_region),
                           "map DMA (IOVAs 0x%llx+0x%llx are outside the IOMMU's ranges %s)",
                           static_cast<unsigned long long>(first), static_cast<unsigned long long>(length), list);
  }

  /// VFIO_IOMMU_MAP_DMA's errors that have a well-known cause.
  static bool explain_map_error(int error, std::uint64_t length, detail::failure& f) noexcept {
    rlimit limit{};
    if (error == ENOMEM && ::getrlimit(RLIMIT_MEMLOCK, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
      return detail::explain(f, detail::sys(error),
                             "map DMA (pinning 0x%llx more bytes exceeds the locked-memory limit RLIMIT_MEMLOCK of "
                             "%llu bytes, which counts every pinned DMA page; raise it (ulimit -l, prlimit "
                             "--memlock, systemd LimitMEMLOCK=) or give the process CAP_IPC_LOCK)",
                             static_cast<unsigned long long>(length), static_cast<unsigned long long>(limit.rlim_cur));
    }
    if (error == ENOSPC) {
      char text[32] = "?";
      detail::failure ignored;
      const mmapx::detail::sysfs_path limit_path("module/vfio_iommu_type1/parameters/dma_entry_limit");
      if (limit_path.check(ignored, "")) mmapx::detail::read_sysfs_text(limit_path.c_str(), text, sizeof text, "read", ignored);
      text[std::strcspn(text, "\n")] = '\0';
      return detail::explain(f, detail::sys(error),
                             "map DMA (the container has as many DMA mappings as vfio_iommu_type1 allows, "
                             "dma_entry_limit=%s; use fewer, larger mappings or raise the module parameter)", text);
    }
    if (error == EEXIST) return f.fail(detail::sys(error), "map DMA (IOVAs overlap an existing DMA mapping)");
    return f.fail(detail::sys(error), "map DMA (VFIO_IOMMU_MAP_DMA)");
  }

  template <access A>
  dma_mapping map_dma_impl(const region<A>& r, bool read_only, const dma_options& o, detail::failure& f) noexcept {
    f.subject = "VFIO container";
    dma_mapping m;
    if (state_ == nullptr || !state_->iommu_set) {
      f.fail(std::make_error_code(std::errc::invalid_argument),
             "map DMA (no device opened yet: the container's IOMMU is set up by the first open_device)");
      return m;
    }
    if (!r.is_mapped() || r.empty()) {
      f.fail(errc::not_mapped, "map DMA (the region is empty)");
      return m;
    }
    const std::uint64_t page = r.page_size();
    const auto data = reinterpret_cast<std::uintptr_t>(r.data());
    const std::uintptr_t base = align_down(data, page);
    const std::uint64_t length = *align_up(data - base + r.size(), page);  // inside the mapping
    std::lock_guard<std::mutex> hold(state_->lock);
    std::uint64_t iova = 0;
    if (!place(length, page, o, iova, f)) return m;
    vfio_iommu_type1_dma_map map{};
    map.argsz = sizeof map;
    map.flags = VFIO_DMA_MAP_FLAG_READ | (read_only || o.device_read_only ? 0 : VFIO_DMA_MAP_FLAG_WRITE);
    map.vaddr = base;
    map.iova = iova;
    map.size = length;
    if (detail::ioctl_retry(state_->fd.get(), VFIO_IOMMU_MAP_DMA, &map) != 0) {
      f.at(iova);
      explain_map_error(errno, length, f);
      return m;
    }
    try {
      const auto at = std::find_if(state_->used.begin(), state_->used.end(),
                                   [&](const iova_range& u) { return u.first > iova; });
      state_->used.insert(at, {iova, iova + length - 1});
    } catch (...) {
      vfio_iommu_type1_dma_unmap undo{};
      undo.argsz = sizeof undo;
      undo.iova = iova;
      undo.size = length;
      detail::ioctl_retry(state_->fd.get(), VFIO_IOMMU_UNMAP_DMA, &undo);
      f.fail(std::make_error_code(std::errc::not_enough_memory), "map DMA");
      return m;
    }
    m.state_ = state_;
    m.base_iova_ = iova;
    m.base_ = base;
    m.length_ = length;
    m.lead_ = data - base;
    m.size_ = r.size();
    return m;
  }

  std::shared_ptr<detail::container_state> state_;
};
}  // namespace mmapx::vfio
