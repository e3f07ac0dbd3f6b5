// mmapx/devices/edu.hpp - the register map of QEMU's "edu" educational PCI
// device (1234:11e8, BAR0: 1 MiB), as its specification (QEMU
// docs/specs/edu.rst) and model (hw/misc/edu.c) describe it.
//
// The device takes only 4-byte accesses below 0x80 and 4- or 8-byte accesses
// from 0x80 on; its DMA registers are 64-bit and must be written whole (edu.c
// ignores a write to their upper half), so the bus contract allows w32 and w64.
#pragma once

#include <mmapx/reg.hpp>

#include <cstdint>

namespace mmapx::edu {

/// So that the declarations below read as reg::field, reg::reg32, ...
namespace reg = mmapx::reg;

/// PCI vendor and device ID, for find_pci_devices (pci.hpp).
/// @{
inline constexpr std::uint16_t vendor_id = 0x1234;
inline constexpr std::uint16_t device_id = 0x11e8;
/// @}
/// BAR 0 holds every register: 1 MiB, of which the map uses the first 0x9c bytes.
inline constexpr std::size_t bar0_size = 0x100000;
/// The device's own DMA buffer: 4096 bytes at device address 0x40000.
/// @{
inline constexpr std::uint64_t dma_buffer_address = 0x40000;
inline constexpr std::uint64_t dma_buffer_size = 4096;
/// @}

/// 0xRRrr00ed: major and minor version around a fixed code.
struct id : reg::reg32<"id", 0x00, reg::ro, 0x010000ed> {
  /// Always id_code.
  using code  = reg::field<"code",  0,  16, reg::ro>;
  /// Version, minor then major part (QEMU's model reports 1.0).
  /// @{
  using minor = reg::field<"minor", 16, 8,  reg::ro>;
  using major = reg::field<"major", 24, 8,  reg::ro>;
  /// @}
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<code, minor, major>;
};
/// What id::code holds; anything else means this is not an edu device.
inline constexpr std::uint32_t id_code = 0x00ed;

/// Reads back the complement of what was written.
using liveness = reg::reg32<"liveness", 0x04, reg::rw, 0>;

/// Write n to start computing n!; read the result once status.computing is 0.
using factorial = reg::reg32<"factorial", 0x08, reg::rw, 0>;

/// Factorial progress, and whether its end raises an interrupt.
struct status : reg::reg32<"status", 0x20, reg::rw, 0> {
  /// 1 from a write to factorial until the result is ready (factorial ignores writes meanwhile).
  using computing   = reg::field<"computing",   0, 1, reg::ro>;
  using irq_on_done = reg::field<"irq_on_done", 7, 1, reg::rw>;  ///< raise irq 0x1 when n! is ready
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<computing, irq_on_done>;
};

/// Interrupt causes: the values written to irq_raise, ORed; the device uses
/// 0x1 (factorial done) and 0x100 (DMA done).
struct irq_status : reg::reg32<"irq_status", 0x24, reg::ro, 0> {
  /// Cause irq_factorial is pending.
  using factorial_done = reg::field<"factorial_done", 0, 1, reg::ro>;
  /// Cause irq_dma is pending.
  using dma_done       = reg::field<"dma_done",       8, 1, reg::ro>;
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<factorial_done, dma_done>;
};
/// The two causes the device raises itself, as bits of irq_status and values for irq_ack.
/// @{
inline constexpr std::uint32_t irq_factorial = 0x1;
inline constexpr std::uint32_t irq_dma = 0x100;
/// @}

/// The value written is ORed into irq_status and raises the interrupt.
using irq_raise = reg::reg32<"irq_raise", 0x60, reg::wo, 0>;
/// The value written is cleared from irq_status (the ISR must do this).
using irq_ack = reg::reg32<"irq_ack", 0x64, reg::wo, 0>;

/// DMA source, destination and byte count. One side lies in the device's buffer, the
/// other is a bus address of RAM (masked to 28 bits by edu.c's default dma_mask).
/// Writes while a transfer runs are ignored.
/// @{
using dma_source      = reg::reg64<"dma_source",      0x80, reg::rw, 0>;
using dma_destination = reg::reg64<"dma_destination", 0x88, reg::rw, 0>;
using dma_count       = reg::reg64<"dma_count",       0x90, reg::rw, 0>;
/// @}

/// Which way dma_command moves the data, seen from the device's buffer.
enum class dma_direction : std::uint8_t { ram_to_device = 0, device_to_ram = 1 };

/// Starts the transfer set up in dma_source, dma_destination and dma_count.
struct dma_command : reg::reg32<"dma_command", 0x98, reg::rw, 0> {
  /// Write 1 to start; reads 1 until the transfer is done. The device ignores
  /// a write without it, so the other fields go in the same store.
  using start = reg::field<"start", 0, 1, reg::rw>;
  /// Must agree with which of source and destination is the device's buffer.
  using direction = reg::field<"direction", 1, 1, reg::rw,
      reg::enumerated<reg::choice<dma_direction::ram_to_device, "ram_to_device">,
                      reg::choice<dma_direction::device_to_ram, "device_to_ram">>>;
  using irq_on_done = reg::field<"irq_on_done", 2, 1, reg::rw>;  ///< raise irq 0x100 when done
  /// The register's fields, in the order dumps and access by name list them.
  using fields = reg::fields<start, direction, irq_on_done>;
};

/// The whole device, for reg::bind<edu::map>(BAR 0's bytes).
using map = reg::map<"edu", bar0_size, reg::contract{reg::w32 | reg::w64},
                     id, liveness, factorial, status, irq_status, irq_raise, irq_ack,
                     dma_source, dma_destination, dma_count, dma_command>;

}  // namespace mmapx::edu
