// mmapx/reg/block.hpp - a register map bound to a base: the object drivers
// use to read and write registers by name.
//
//   auto dev = reg::bind<edu::map>(region.bytes());   // checks the fit, once
//   dev.write<edu::factorial>(10u);                    // one store
//   dev.modify(edu::status::irq_on_done::val<1>);      // one load, one store
//   dev.wait_until(edu::status::computing::val<0>, 100ms);
//   std::uint32_t n = dev.read<edu::factorial>();
//
// A block is a copyable view (like std::span): it holds its bus, nothing
// more, so several blocks of one map at several bases are cheap. Every
// access is one full-width load or store on the bus; which fields are named
// decides, at compile time, whether a modify needs its load at all.
#pragma once

#include <mmapx/detail/posix.hpp>
#include <mmapx/error.hpp>
#include <mmapx/reg/bus.hpp>
#include <mmapx/reg/map.hpp>
#include <mmapx/reg/names.hpp>
#include <mmapx/reg/recording_bus.hpp>

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>

namespace mmapx::reg {

/// One register's bits, read once and decoded as often as needed.
template <register_type R>
class snapshot {
 public:
  /// The register's unsigned integer type.
  using value_type = typename R::value_type;

  /// Wraps bits already read (block::snapshot<R>() does the read).
  constexpr explicit snapshot(value_type raw) noexcept : raw_(raw) {}

  /// The bits as they were read.
  constexpr value_type raw() const noexcept { return raw_; }

  /// Field F decoded, as block::read would decode it; no access.
  template <field_type F>
  constexpr typename F::read_type get() const noexcept {
    static_assert(layout<R>::template has<F>, "mmapx::reg: the field is not in this register");
    static_assert(layout<R>::template can_read<F>, "mmapx::reg: the field is write-only: it cannot be read");
    return F::decode(raw_);
  }
  /// Whether field F held `v`; no access.
  template <field_type F>
  constexpr bool is(field_value<F> v) const noexcept {
    static_assert(layout<R>::template has<F>, "mmapx::reg: the field is not in this register");
    static_assert(layout<R>::template can_read<F>, "mmapx::reg: the field is write-only: it cannot be read");
    return (raw_ & F::mask) == v.bits;
  }
  /// "code=0xed minor=0x0 major=0x1"
  std::string describe() const { return mmapx::reg::describe(detail::register_entry<R>(), raw_); }

 private:
  value_type raw_;
};

namespace detail {
/// "status.computing", with static storage: the subject of error messages.
template <class R, class F>
inline constexpr auto qualified_name = [] {
  std::array<char, R::name.size() + F::name.size() + 2> text{};
  std::size_t i = 0;
  for (const char c : R::name) text[i++] = c;
  text[i++] = '.';
  for (const char c : F::name) text[i++] = c;
  return text;
}();
}  // namespace detail

/// A register map bound to a bus (direct_bus at a mapped base, unless a test says otherwise);
/// made by bind(). Every call is checked against Map at compile time.
template <map_type Map, bus_type Bus = direct_bus<std::byte>>
class block {
 public:
  /// The register map this block accesses.
  using map_type = Map;
  /// How accesses reach the device: direct_bus, recording_bus, or a user's bus.
  using bus_type = Bus;

  /// An unbound block (null base with direct_bus): only to be assigned a bound one.
  constexpr block() noexcept
    requires std::is_default_constructible_v<Bus>
  = default;
  /// Accesses go through `bus`, unchecked: bind() is the checked way to make a block.
  constexpr explicit block(Bus bus) noexcept : bus_(bus) {}

  /// The bus, e.g. for direct_bus::base().
  const Bus& bus() const noexcept { return bus_; }

  // --- reads -------------------------------------------------------------

  /// The whole register: one load.
  template <register_type R>
  typename R::value_type read() const {
    member<R>();
    static_assert(layout<R>::readable, "mmapx::reg: the register is write-only: it cannot be read");
    return load<R>();
  }
  /// One field, decoded: bool, integer, or std::optional of its enumeration.
  template <register_type R, field_type F>
  typename F::read_type read() const {
    member<R>();
    static_assert(layout<R>::template has<F>, "mmapx::reg: the field is not in this register");
    static_assert(layout<R>::template can_read<F>, "mmapx::reg: the field is write-only: it cannot be read");
    return F::decode(load<R>());
  }
  /// One field, its register found from the map (a compile error unless exactly one holds it).
  template <field_type F>
  typename F::read_type read() const {
    return read<register_of_t<Map, F>, F>();
  }
  /// The whole register in one load, to decode several fields of the same value.
  template <register_type R>
  mmapx::reg::snapshot<R> snapshot() const {
    return mmapx::reg::snapshot<R>(read<R>());
  }
  /// Whether field F holds `v` now: one load.
  template <field_type F>
  bool matches(field_value<F> v) const {
    using R = register_of_t<Map, F>;
    static_assert(layout<R>::template can_read<F>, "mmapx::reg: the field is write-only: it cannot be read");
    return (load<R>() & F::mask) == v.bits;
  }

  // --- writes ------------------------------------------------------------

  /// The whole register: one store. The value's type must be unsigned and no
  /// wider than the register (a field's checked()/truncated() for the rest).
  template <register_type R, class T>
    requires std::integral<T>
  void write(T raw) const {
    static_assert(std::is_unsigned_v<T> && !std::is_same_v<T, bool> &&
                      std::numeric_limits<T>::digits <= static_cast<int>(R::bits),
                  "mmapx::reg: a raw register value must be an unsigned integer no wider than the register");
    writable<R>();
    store<R>(static_cast<typename R::value_type>(raw));
  }
  /// One store: the named fields take the given values, the others their
  /// reset value (w1c/w1s fields: 0, which leaves them; reserved bits: their
  /// required value).
  template <register_type R, field_type... Fs>
  void write(field_value<Fs>... values) const {
    writable<R>();
    fields_writable<R, Fs...>();
    constexpr std::uint64_t named = (std::uint64_t{0} | ... | Fs::mask);
    using V = typename R::value_type;
    constexpr auto base = static_cast<V>(layout<R>::write_base & ~named);
    store<R>(static_cast<V>(base | (V{0} | ... | static_cast<V>(values.bits))));
  }
  /// The same, the register found from the first field.
  template <field_type F, field_type... Fs>
  void write(field_value<F> value, field_value<Fs>... values) const {
    write<register_of_t<Map, F>>(value, values...);
  }

  /// One read-modify-write: one load and one store, or only the store when
  /// the named fields leave nothing to preserve. w1c/w1s bits that read as 1
  /// are not written back.
  template <register_type R, field_type... Fs>
  void modify(field_value<Fs>... values) const {
    static_assert(sizeof...(Fs) > 0, "mmapx::reg: modify names at least one field");
    writable<R>();
    fields_writable<R, Fs...>();
    using L = layout<R>;
    using V = typename R::value_type;
    constexpr std::uint64_t named = (std::uint64_t{0} | ... | Fs::mask);
    constexpr auto kept = static_cast<V>(L::keep & ~named);
    constexpr auto fixed = static_cast<V>(L::fixed & ~named);
    if constexpr (kept == 0) {
      store<R>(static_cast<V>(fixed | (V{0} | ... | static_cast<V>(values.bits))));
    } else {
      static_assert(L::readable,
                    "mmapx::reg: modify must read this write-only register: name all its fields or use write()");
      static_assert(!L::read_side_effects,
                    "mmapx::reg: modify would read a register whose reads have side effects: use write()");
      const V old = load<R>();
      store<R>(static_cast<V>((old & kept) | fixed | (V{0} | ... | static_cast<V>(values.bits))));
    }
  }
  /// The same, the register found from the first field.
  template <field_type F, field_type... Fs>
  void modify(field_value<F> value, field_value<Fs>... values) const {
    modify<register_of_t<Map, F>>(value, values...);
  }

  // --- waiting -----------------------------------------------------------

  /// Polls field F until it holds `v`; errc::timed_out after `timeout`
  /// (negative: forever; zero: one check; the rule of every mmapx wait).
  /// Busy-polls without sleeping (deadline on steady_clock); the exception names the field.
  template <field_type F>
  void wait_until(field_value<F> v, std::chrono::nanoseconds timeout) const {
    std::error_code ec;
    wait_until(v, timeout, ec);
    if (ec) {
      mmapx::detail::failure f;
      f.fail(ec, "wait_until");
      f.subject = detail::qualified_name<register_of_t<Map, F>, F>.data();
      f.throw_if_failed();
    }
  }
  /// The noexcept form: errc::timed_out in `ec`.
  /// The loop is written out here, not through detail::reporting, and always
  /// inlined, so that it compiles to the instructions of a hand-written loop.
  template <field_type F>
  [[gnu::always_inline]] inline void wait_until(field_value<F> v, std::chrono::nanoseconds timeout,
                                                std::error_code& ec) const noexcept {
    using R = register_of_t<Map, F>;
    static_assert(layout<R>::template can_read<F>, "mmapx::reg: the field is write-only: it cannot be read");
    // The rule of every mmapx wait (detail/posix.hpp), written out rather
    // than through detail::deadline so that the loop compiles to a
    // hand-written loop's instructions (tests/codegen).
    const auto deadline = mmapx::detail::without_end(timeout) ? std::chrono::steady_clock::time_point::max()
                                                               : std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if ((load<R>() & F::mask) == v.bits) {
        ec.clear();
        return;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        ec = make_error_code(errc::timed_out);
        return;
      }
    }
  }

  // --- by name, at run time ------------------------------------------------

  /// Performs a parsed assignment with the typed calls' rules: the whole
  /// register is one store; a field is a modify (refused, not performed,
  /// when that would read a write-only register or one with read side effects).
  void apply(const assignment& a) const {
    mmapx::detail::throwing([&](mmapx::detail::failure& f) { apply(a, f); });
  }
  /// The noexcept form. Errors (both forms): unknown_name (an assignment parsed against
  /// another map), access_denied_by_map, value_out_of_range.
  void apply(const assignment& a, std::error_code& ec) const noexcept {
    mmapx::detail::reporting(ec, [&](mmapx::detail::failure& f) { apply(a, f); });
  }

  /// Every register, decoded, one per line. Write-only registers and those
  /// whose reads have side effects are listed but not read.
  std::string dump() const {
    std::string text(Map::name);
    text += ":\n";
    for (const auto& r : info_of<Map>.registers) {
      char line[96];
      std::snprintf(line, sizeof line, "  0x%04zx %-16.*s ", r.offset, static_cast<int>(r.name.size()),
                    r.name.data());
      text += line;
      if (!r.readable()) {
        text += "(write-only)\n";
        continue;
      }
      if (r.read_side_effects) {
        text += "(not read: reads have side effects)\n";
        continue;
      }
      const std::uint64_t value = load_bits(r.offset, r.bits, r.counter);
      std::snprintf(line, sizeof line, "0x%0*llx", static_cast<int>(r.bits / 4),
                    static_cast<unsigned long long>(value));
      text += line;
      const std::string fields = describe(r, value);
      if (!fields.empty()) {
        text += "  ";
        text += fields;
      }
      text += '\n';
    }
    return text;
  }

 private:
  template <class R>
  static constexpr void member() noexcept {
    static_assert(contains_register<R>(), "mmapx::reg: the register is not in this map");
  }
  template <class R>
  static constexpr bool contains_register() noexcept {
    return []<class... Rs>(register_list<Rs...>) { return (std::is_same_v<R, Rs> || ...); }(
        typename Map::registers{});
  }
  template <class R>
  static constexpr void writable() noexcept {
    member<R>();
    static_assert(Bus::writable, "mmapx::reg: the block is bound to read-only memory: it cannot be written");
    static_assert(layout<R>::writable, "mmapx::reg: the register is read-only: it cannot be written");
  }
  template <class R, class... Fs>
  static constexpr void fields_writable() noexcept {
    static_assert((layout<R>::template has<Fs> && ...), "mmapx::reg: the field is not in this register");
    static_assert((is_writable(Fs::access) && ...), "mmapx::reg: the field is read-only: it cannot be written");
    static_assert([] {
      [[maybe_unused]] std::uint64_t seen = 0;
      bool once = true;
      ((once = once && (seen & Fs::mask) == 0, seen |= Fs::mask), ...);
      return once;
    }(), "mmapx::reg: a field is named twice");
  }

  static constexpr bool split64 = (Map::bus.widths & w64) == 0;

  template <class T, bool Counter = false>
  T load_at(std::size_t offset) const {
    if constexpr (sizeof(T) == 8 && split64) {
      if constexpr (Counter) return load_counter(offset);
      if constexpr (Map::bus.split == split_order::lo_hi) {
        const std::uint32_t lo = bus_.template load<std::uint32_t>(offset);
        return (std::uint64_t{bus_.template load<std::uint32_t>(offset + 4)} << 32) | lo;
      } else {
        const std::uint32_t hi = bus_.template load<std::uint32_t>(offset + 4);
        return (std::uint64_t{hi} << 32) | bus_.template load<std::uint32_t>(offset);
      }
    } else {
      return bus_.template load<T>(offset);
    }
  }
  /// High, low, high again: a carry between the halves shows as a changed
  /// high half, and the pair is read again (Linux's hi-lo-hi).
  std::uint64_t load_counter(std::size_t offset) const {
    std::uint32_t hi = 0;
    std::uint32_t lo = 0;
    do {
      hi = bus_.template load<std::uint32_t>(offset + 4);
      lo = bus_.template load<std::uint32_t>(offset);
    } while (hi != bus_.template load<std::uint32_t>(offset + 4));
    return (std::uint64_t{hi} << 32) | lo;
  }
  template <class T>
  void store_at(std::size_t offset, T value) const {
    if constexpr (sizeof(T) == 8 && split64) {
      if constexpr (Map::bus.split == split_order::lo_hi) {
        bus_.template store<std::uint32_t>(offset, static_cast<std::uint32_t>(value));
        bus_.template store<std::uint32_t>(offset + 4, static_cast<std::uint32_t>(value >> 32));
      } else {
        bus_.template store<std::uint32_t>(offset + 4, static_cast<std::uint32_t>(value >> 32));
        bus_.template store<std::uint32_t>(offset, static_cast<std::uint32_t>(value));
      }
    } else {
      bus_.template store<T>(offset, value);
    }
  }
  template <class R>
  typename R::value_type load() const {
    return load_at<typename R::value_type, R::is_counter>(R::offset);
  }
  template <class R>
  void store(typename R::value_type value) const {
    store_at<typename R::value_type>(R::offset, value);
  }
  std::uint64_t load_bits(std::size_t offset, unsigned bits, bool counter) const {
    switch (bits) {
      case 8: return load_at<std::uint8_t>(offset);
      case 16: return load_at<std::uint16_t>(offset);
      case 32: return load_at<std::uint32_t>(offset);
      default: return counter ? load_at<std::uint64_t, true>(offset) : load_at<std::uint64_t>(offset);
    }
  }
  void store_bits(std::size_t offset, unsigned bits, std::uint64_t value) const {
    if constexpr (Bus::writable) {
      switch (bits) {
        case 8: return store_at(offset, static_cast<std::uint8_t>(value));
        case 16: return store_at(offset, static_cast<std::uint16_t>(value));
        case 32: return store_at(offset, static_cast<std::uint32_t>(value));
        default: return store_at(offset, value);
      }
    }
  }

  void apply(const assignment& a, mmapx::detail::failure& f) const {
    const auto registers = info_of<Map>.registers;
    const register_info* r = a.target;
    if (r == nullptr || r < registers.data() || r >= registers.data() + registers.size()) {
      f.fail(errc::unknown_name, "apply assignment");
      return;
    }
    f.subject = r->c_name;
    if (!Bus::writable || !r->writable()) {
      f.fail(errc::access_denied_by_map, "apply assignment");
      return;
    }
    if (a.field == nullptr) {
      if (a.value > low_bits(r->bits)) {
        f.fail(errc::value_out_of_range, "apply assignment");
        return;
      }
      store_bits(r->offset, r->bits, a.value);
      return;
    }
    const field_info& field = *a.field;
    if (a.field < r->fields.data() || a.field >= r->fields.data() + r->fields.size()) {
      f.fail(errc::unknown_name, "apply assignment");
      return;
    }
    f.subject = field.c_name;
    if (!is_writable(field.access)) {
      f.fail(errc::access_denied_by_map, "apply assignment");
      return;
    }
    if (a.value > field.max()) {
      f.fail(errc::value_out_of_range, "apply assignment");
      return;
    }
    const std::uint64_t kept = r->keep & ~field.mask();
    std::uint64_t value = (r->fixed & ~field.mask()) | (a.value << field.pos);
    if (kept != 0) {
      if (!r->readable() || r->read_side_effects) {
        f.fail(errc::access_denied_by_map, "apply assignment");
        return;
      }
      value |= load_bits(r->offset, r->bits, r->counter) & kept;
    }
    store_bits(r->offset, r->bits, value);
  }

  Bus bus_{};
};

// --- binding ----------------------------------------------------------------

/// Anything with data() and size() (a region's bytes(), a std::span, part of
/// either) that outlives the block: lvalues, or views that do not own.
template <class Bytes>
concept byte_source =
    requires(Bytes& b) {
      { b.data() } -> std::convertible_to<const volatile void*>;
      { b.size() } -> std::convertible_to<std::size_t>;
    } && (std::is_lvalue_reference_v<Bytes> || std::ranges::borrowed_range<Bytes>);

namespace detail {
template <class Map, class Byte>
block<Map, direct_bus<Byte>> bind(Byte* base, std::size_t size, mmapx::detail::failure& f) noexcept {
  f.subject = Map::c_name;
  f.at(reinterpret_cast<std::uintptr_t>(base));
  if (base == nullptr) {
    f.fail(errc::not_mapped, "bind register map");
  } else if (size < Map::extent) {
    f.fail(errc::view_too_large, "bind register map");
  } else if (reinterpret_cast<std::uintptr_t>(base) % Map::alignment != 0) {
    f.fail(errc::view_misaligned, "bind register map");
  } else {
    return block<Map, direct_bus<Byte>>(direct_bus<Byte>(base));
  }
  return {};
}
template <class Bytes>
auto byte_pointer(Bytes& bytes) noexcept {
  using element = std::remove_pointer_t<decltype(bytes.data())>;
  if constexpr (std::is_const_v<element>)
    return reinterpret_cast<const std::byte*>(bytes.data());
  else
    return reinterpret_cast<std::byte*>(bytes.data());
}
template <class Bytes>
std::size_t byte_size(Bytes& bytes) noexcept {
  using element = std::remove_cv_t<std::remove_pointer_t<decltype(bytes.data())>>;
  constexpr std::size_t element_size = std::is_void_v<element> ? 1 : sizeof(element);
  return static_cast<std::size_t>(bytes.size()) * element_size;
}
}  // namespace detail

/// Binds Map to memory (a region's bytes(), part of it, or plain memory):
/// checks once that the map fits and that the base is aligned for its
/// registers. The block is writable unless the memory is const.
template <map_type Map, byte_source Bytes>
auto bind(Bytes&& bytes) {
  return mmapx::detail::throwing([&](mmapx::detail::failure& f) {
    return detail::bind<Map>(detail::byte_pointer(bytes), detail::byte_size(bytes), f);
  });
}
/// The noexcept form. Errors (both forms): errc::not_mapped (null data), view_too_large
/// (fewer than Map::extent bytes), view_misaligned; the ec form then returns an unbound block.
template <map_type Map, byte_source Bytes>
auto bind(Bytes&& bytes, std::error_code& ec) noexcept {
  return mmapx::detail::reporting(ec, [&](mmapx::detail::failure& f) {
    return detail::bind<Map>(detail::byte_pointer(bytes), detail::byte_size(bytes), f);
  });
}
/// Binds Map at a raw address of `size` bytes (from devmem or uio, say), writable,
/// with the same checks and errors.
template <map_type Map>
block<Map> bind(void* base, std::size_t size) {
  return mmapx::detail::throwing(
      [&](mmapx::detail::failure& f) { return detail::bind<Map>(static_cast<std::byte*>(base), size, f); });
}
template <map_type Map>
block<Map> bind(void* base, std::size_t size, std::error_code& ec) noexcept {
  return mmapx::detail::reporting(
      ec, [&](mmapx::detail::failure& f) { return detail::bind<Map>(static_cast<std::byte*>(base), size, f); });
}
/// A block whose accesses go to a recorder instead of memory.
template <map_type Map>
block<Map, recording_bus> bind(recorder& rec) noexcept {
  return block<Map, recording_bus>(recording_bus(rec));
}

}  // namespace mmapx::reg
