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
//
// Banked registers are reached only through a bank scope (RAII: selects the
// bank, restores the select register), array elements through at<A>(i) or
// A::at<I>, and write-only registers are modified only through a shadow<R>.
#pragma once

#include <mmapx/detail/posix.hpp>
#include <mmapx/error.hpp>
#include <mmapx/reg/bus.hpp>
#include <mmapx/reg/map.hpp>
#include <mmapx/reg/names.hpp>

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

/// The last value written to register R, kept in ordinary memory by the driver
/// (as Linux's 8250 driver keeps LCR, FCR and IER): block::write(shadow, ...)
/// stores and remembers, block::modify(shadow, ...) changes the named fields of
/// the remembered value without reading the device. Starts at R's reset value;
/// it is right only while every write of R goes through it.
template <register_type R>
class shadow {
 public:
  /// The register's unsigned integer type.
  using value_type = typename R::value_type;
  /// The reset value: what the device holds before the first write.
  constexpr shadow() noexcept = default;
  /// A device whose register was set before this shadow existed (by firmware, say).
  constexpr explicit shadow(value_type known) noexcept : raw_(known) {}
  /// The value last written (or the initial one).
  constexpr value_type raw() const noexcept { return raw_; }
  /// Field F of the remembered value; no access (write-only fields included).
  template <field_type F>
  constexpr typename F::read_type get() const noexcept {
    static_assert(layout<R>::template has<F>, "mmapx::reg: the field is not in this register");
    return F::decode(raw_);
  }
  /// Remembers `v` as written (the block calls this after each store).
  constexpr void remember(value_type v) noexcept { raw_ = v; }

 private:
  value_type raw_ = static_cast<value_type>(R::reset);
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

/// Called only from a constant evaluation that must fail: its name is the message.
inline void constant_does_not_fit_the_register() noexcept {}

/// An integer constant for a whole register of type V: any integer type, checked
/// to fit when compiling (so `write<scr>(0x5a)` needs no cast and `0x1ff` does not compile).
template <class V>
struct register_constant {
  V value;
  template <std::integral I>
    requires(!std::is_same_v<I, bool>)
  consteval register_constant(I v) noexcept  // NOLINT: implicit on purpose
      : value(static_cast<V>(v)) {
    const std::conditional_t<std::is_signed_v<I>, long long, unsigned long long> wide = v;  // chars too
    if (std::cmp_less(wide, 0) || std::cmp_greater(wide, std::numeric_limits<V>::max()))
      constant_does_not_fit_the_register();
  }
};

/// A bus whose offsets start `base` bytes further, for one copy of an array.
template <class Bus>
class offset_bus {
 public:
  static constexpr bool writable = Bus::writable;
  constexpr offset_bus(Bus bus, std::size_t base) noexcept : bus_(bus), base_(base) {}
  template <class T>
  T load(std::size_t offset) const {
    return bus_.template load<T>(base_ + offset);
  }
  template <class T>
    requires writable
  void store(std::size_t offset, T value) const {
    bus_.template store<T>(base_ + offset, value);
  }

 private:
  Bus bus_;
  std::size_t base_;
};
/// `bus` moved `base` bytes on: by the bus's own rebased() when it has one
/// (direct_bus: a new base pointer, so the code is what hand-written code does).
template <class Bus>
auto rebased(const Bus& bus, std::size_t base) noexcept {
  if constexpr (requires { bus.rebased(base); })
    return bus.rebased(base);
  else
    return offset_bus<Bus>(bus, base);
}

/// Register R moved to offset 0: an element's bus carries the element's whole
/// offset (R::offset + i * stride, one expression, as hand-written code has it).
template <class R>
struct relocated : R {
  static constexpr std::size_t offset = 0;
};

/// The map of one element of a register array: the register alone, on the contract of its map.
template <contract Bus, class R>
struct element_map {
  using map_tag = void;
  using entries = register_list<R>;
  using registers = register_list<R>;
  static constexpr std::string_view name = R::name;
  static constexpr const char* c_name = R::c_name;
  static constexpr contract bus = Bus;
  static constexpr std::size_t size = R::offset + R::bytes;
  static constexpr std::size_t extent = size;
  static constexpr std::size_t alignment = R::bytes;
};

template <class R, class List>
inline constexpr bool listed = false;
template <class R, class... Rs>
inline constexpr bool listed<R, register_list<Rs...>> = (std::is_same_v<R, Rs> || ...);

template <class R, class E>
constexpr bool bank_lists() noexcept {
  if constexpr (bank_type<E>)
    return listed<R, typename E::registers>;
  else
    return false;
}
/// The bank among `Entries` that lists R, or void.
template <class R, class Entries>
struct bank_listing {
  using type = void;
};
template <class R, class E, class... Es>
struct bank_listing<R, register_list<E, Es...>> {
  using type = std::conditional_t<bank_lists<R, E>(), E, typename bank_listing<R, register_list<Es...>>::type>;
};

/// Whether some register of bank B shares bytes with R (and so hides it while B is selected).
template <class B, class R>
constexpr bool hidden_by() noexcept {
  if constexpr (std::is_void_v<B>)
    return false;
  else
    return []<class... Rs>(register_list<Rs...>) {
      return ((Rs::offset < R::offset + R::bytes && R::offset < Rs::offset + Rs::bytes) || ...);
    }(typename B::registers{});
}

template <class R>
concept element_type = requires { typename R::array; };

/// Whether R is a register of Map at all (named, banked, or an element of a listed array).
template <class Map, class R>
constexpr bool in_map() noexcept {
  if constexpr (element_type<R>)
    return listed<typename R::array, typename Map::entries>;
  else
    return listed<R, typename Map::registers>;
}

/// Whether another register of Map, visible in View, sits at R's bytes and can do
/// what R cannot: the other side of an alias (Readable: a readable one; else a writable one).
template <class Map, class View, class R, bool Readable>
constexpr bool alias_can() noexcept {
  return []<class... Rs>(register_list<Rs...>) {
    auto one = []<class O>(O*) {
      if constexpr (std::is_same_v<O, R>) {
        return false;
      } else {
        using B = typename bank_listing<O, typename Map::entries>::type;
        const bool visible = std::is_same_v<B, View> || (std::is_void_v<B> && !hidden_by<View, O>());
        return visible && O::offset == R::offset && O::bytes == R::bytes &&
               (Readable ? layout<O>::readable : layout<O>::writable);
      }
    };
    return (one(static_cast<Rs*>(nullptr)) || ...);
  }(typename Map::registers{});
}

/// How many registers of Map list F (more than one only for a field declared with reg::field).
template <class Map, class F>
inline constexpr std::size_t listings = owner_of<F, typename Map::registers>::count;
}  // namespace detail

template <map_type Map, bus_type Bus, class A>
class element_view;
template <map_type Map, bus_type Bus, bank_type Bank>
class bank_scope;

/// A register map bound to a bus (direct_bus at a mapped base, unless a test says otherwise);
/// made by bind(). Every call is checked against Map at compile time. View is void for
/// the block bind() makes; a bank scope is a block whose View is its bank, and it alone
/// reaches that bank's registers.
template <map_type Map, bus_type Bus = direct_bus<std::byte>, class View = void>
class block {
 public:
  /// The register map this block accesses.
  using map_type = Map;
  /// How accesses reach the device: direct_bus, recording_bus, or a user's bus.
  using bus_type = Bus;

  /// An unbound block (null base with direct_bus): only to be assigned a bound one.
  constexpr block() noexcept
    requires std::is_default_constructible_v<Bus> && std::is_void_v<View>
  = default;
  /// Accesses go through `bus`, unchecked: bind() is the checked way to make a block.
  constexpr explicit block(Bus bus) noexcept
    requires std::is_void_v<View>
      : bus_(bus) {}

  /// The bus, e.g. for direct_bus::base().
  const Bus& bus() const noexcept { return bus_; }

  // --- reads -------------------------------------------------------------

  /// The whole register: one load.
  template <register_type R>
  typename R::value_type read() const {
    readable<R>();
    return load<R>();
  }
  /// One field, decoded: bool, integer, or std::optional of its enumeration.
  template <register_type R, field_type F>
  typename F::read_type read() const {
    readable<R>();
    field_of<R, F>();
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
    readable<R>();
    static_assert(layout<R>::template can_read<F>, "mmapx::reg: the field is write-only: it cannot be read");
    return (load<R>() & F::mask) == v.bits;
  }

  // --- writes ------------------------------------------------------------

  /// The whole register: one store. A run-time value must be unsigned and no
  /// wider than the register (a field's checked()/truncated() for the rest).
  template <register_type R, std::unsigned_integral T>
    requires(!std::is_same_v<T, bool>)
  void write(T raw) const {
    static_assert(std::numeric_limits<T>::digits <= static_cast<int>(R::bits),
                  "mmapx::reg: a raw register value must be an unsigned integer no wider than the register");
    writable<R>();
    store<R>(static_cast<typename R::value_type>(raw));
  }
  /// The whole register from an integer constant of any type: `write<scr>(0x5a)`.
  /// A constant that does not fit is a compile error naming constant_does_not_fit_the_register.
  template <register_type R>
  void write(detail::register_constant<typename R::value_type> constant) const {
    writable<R>();
    store<R>(constant.value);
  }
  /// One store: the named fields take the given values, the others their
  /// reset value (w1c/w1s fields: 0, which leaves them; reserved bits: their
  /// required value).
  template <register_type R, field_type... Fs>
  void write(field_value<Fs>... values) const {
    store<R>(written<R, Fs...>(values...));
  }
  /// The same, the register found from the first field.
  template <field_type F, field_type... Fs>
  void write(field_value<F> value, field_value<Fs>... values) const {
    write<register_of_t<Map, F>>(value, values...);
  }
  /// write(values...), remembered in `last` for later shadowed modifies.
  template <register_type R, field_type... Fs>
  void write(shadow<R>& last, field_value<Fs>... values) const {
    const auto value = written<R, Fs...>(values...);
    store<R>(value);
    last.remember(value);
  }

  /// One read-modify-write: one load and one store, or only the store when
  /// the named fields leave nothing to preserve. w1c/w1s bits that read as 1
  /// are not written back. Does not compile when it would have to read a
  /// write-only register or one whose reads have side effects, or invent a
  /// write-only field the call does not name (modify through a shadow then).
  template <register_type R, field_type... Fs>
  void modify(field_value<Fs>... values) const {
    static_assert(sizeof...(Fs) > 0, "mmapx::reg: modify names at least one field");
    fields_writable<R, Fs...>();
    using L = layout<R>;
    using V = typename R::value_type;
    constexpr std::uint64_t named = (std::uint64_t{0} | ... | Fs::mask);
    static_assert((L::write_only & ~named) == 0,
                  "mmapx::reg: modify would reset a write-only field it does not name: name it, use write(), "
                  "or modify through a reg::shadow");
    constexpr auto kept = static_cast<V>(L::keep & ~named);
    constexpr auto fixed = static_cast<V>(L::fixed & ~named);
    if constexpr (kept == 0) {
      store<R>(static_cast<V>(fixed | (V{0} | ... | static_cast<V>(values.bits))));
    } else {
      static_assert(L::readable,
                    "mmapx::reg: modify must read this write-only register: name all its fields, use write(), "
                    "or modify through a reg::shadow");
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
  /// A modify of the value last written (kept in `last`), not of the device: one
  /// store, no load. The fields not named keep their remembered values (w1c/w1s: 0;
  /// reserved: their required value). Costs the shadow's memory and one store to it.
  template <register_type R, field_type... Fs>
  void modify(shadow<R>& last, field_value<Fs>... values) const {
    static_assert(sizeof...(Fs) > 0, "mmapx::reg: modify names at least one field");
    fields_writable<R, Fs...>();
    using L = layout<R>;
    using V = typename R::value_type;
    constexpr std::uint64_t named = (std::uint64_t{0} | ... | Fs::mask);
    constexpr auto kept = static_cast<V>(L::shadow_keep & ~named);
    constexpr auto fixed = static_cast<V>(L::fixed & ~L::shadow_keep & ~named);
    const auto value = static_cast<V>((last.raw() & kept) | fixed | (V{0} | ... | static_cast<V>(values.bits)));
    store<R>(value);
    last.remember(value);
  }

  // --- banks and arrays --------------------------------------------------

  /// Selects bank B (one load and one store of its select register) and returns
  /// the scope that alone reaches B's registers; leaving the scope stores the
  /// select register's old value again. Registers that B hides are out of reach
  /// inside it. Copying or moving the scope does not compile.
  template <bank_type B>
  bank_scope<Map, Bus, B> bank() const {
    static_assert(std::is_void_v<View>, "mmapx::reg: banks do not nest: leave this bank scope first");
    static_assert(detail::listed<B, typename Map::entries>, "mmapx::reg: the bank is not in this map");
    return bank_scope<Map, Bus, B>(*this);
  }

  /// Element i of register array A (precondition: i < A::count, not checked; see
  /// checked_at), or copy i of block array A as a block of its own.
  template <class A>
    requires array_type<A> || block_array_type<A>
  auto at(std::size_t i) const noexcept {
    static_assert(detail::listed<A, typename Map::entries>, "mmapx::reg: the array is not in this map");
    if constexpr (array_type<A>) {
      return element_view<Map, Bus, A>(detail::offset_bus<Bus>(bus_, A::element_register::offset + i * A::stride));
    } else {
      using sub = decltype(detail::rebased(bus_, 0));
      return block<typename A::block_map, sub>(detail::rebased(bus_, A::offset + i * A::stride));
    }
  }
  /// Element I, the index checked when compiling.
  template <class A, std::size_t I>
    requires array_type<A> || block_array_type<A>
  auto at() const noexcept {
    static_assert(I < A::count, "mmapx::reg: the array index is out of range");
    return at<A>(I);
  }
  /// at<A>(i) with i checked: errc::value_out_of_range naming the array when i >= A::count.
  template <class A>
    requires array_type<A> || block_array_type<A>
  auto checked_at(std::size_t i) const {
    return mmapx::detail::throwing([&](mmapx::detail::failure& f) { return checked_at<A>(i, f); });
  }
  /// The noexcept form; on error `ec` is set and the result is element 0.
  template <class A>
    requires array_type<A> || block_array_type<A>
  auto checked_at(std::size_t i, std::error_code& ec) const noexcept {
    return mmapx::detail::reporting(ec, [&](mmapx::detail::failure& f) { return checked_at<A>(i, f); });
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
    readable<R>();
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
  /// when that would read a write-only register or one with read side effects,
  /// or reset a write-only field). A banked register is reached through its bank.
  void apply(const assignment& a) const {
    mmapx::detail::throwing([&](mmapx::detail::failure& f) { apply(a, f); });
  }
  /// The noexcept form. Errors (both forms): unknown_name (an assignment parsed against
  /// another map), access_denied_by_map, value_out_of_range.
  void apply(const assignment& a, std::error_code& ec) const noexcept {
    mmapx::detail::reporting(ec, [&](mmapx::detail::failure& f) { apply(a, f); });
  }

  /// Register `r` of info_of<Map> (found by name, say), read whole, as the typed
  /// read<R>() would: the map's bus contract (split 64-bit accesses, counters),
  /// its bank selected and restored around the load. Reads even when reads have
  /// side effects (the caller asked for this register); refuses write-only ones.
  std::uint64_t read(const register_info& r) const {
    return mmapx::detail::throwing([&](mmapx::detail::failure& f) { return read(r, f); });
  }
  /// The noexcept form. Errors (both forms): unknown_name (r is not of this map),
  /// access_denied_by_map (write-only); the ec form then returns 0.
  std::uint64_t read(const register_info& r, std::error_code& ec) const noexcept {
    return mmapx::detail::reporting(ec, [&](mmapx::detail::failure& f) { return read(r, f); });
  }
  /// Register `r` written whole, as write<R>(value) would. Errors: unknown_name,
  /// access_denied_by_map (read-only register or read-only memory), value_out_of_range.
  void write(const register_info& r, std::uint64_t value) const {
    mmapx::detail::throwing([&](mmapx::detail::failure& f) { write(r, value, f); });
  }
  /// The noexcept form of write(r, value).
  void write(const register_info& r, std::uint64_t value, std::error_code& ec) const noexcept {
    mmapx::detail::reporting(ec, [&](mmapx::detail::failure& f) { write(r, value, f); });
  }

  /// Every register, decoded, one per line. Write-only registers and those
  /// whose reads have side effects are listed but not read; banked registers
  /// are read through their bank (the select register is written, then restored).
  std::string dump() const {
    static_assert(std::is_void_v<View>, "mmapx::reg: name-driven calls are made on the block, not in a bank scope");
    std::string text(Map::name);
    text += ":\n";
    for (const auto& r : info_of<Map>.registers) dump_line(text, r);
    return text;
  }

 private:
  template <mmapx::reg::map_type, mmapx::reg::bus_type, mmapx::reg::bank_type>
  friend class bank_scope;
  struct in_bank {};
  constexpr block(in_bank, Bus bus) noexcept : bus_(bus) {}

  template <class R>
  static constexpr void member() noexcept {
    static_assert(detail::in_map<Map, R>(), "mmapx::reg: the register is not in this map");
    using B = typename detail::bank_listing<R, typename Map::entries>::type;
    static_assert(std::is_void_v<B> || std::is_same_v<B, View>,
                  "mmapx::reg: the register is banked: reach it through its bank scope, block::bank<B>()");
    static_assert(!std::is_void_v<B> || !detail::hidden_by<View, R>(),
                  "mmapx::reg: the register is hidden by the selected bank: leave the bank scope first");
  }
  template <class R>
  static constexpr void readable() noexcept {
    member<R>();
    static_assert(layout<R>::readable || !detail::alias_can<Map, View, R, true>(),
                  "mmapx::reg: the register is the write-only side of an alias: read the readable register at "
                  "its offset");
    static_assert(layout<R>::readable, "mmapx::reg: the register is write-only: it cannot be read");
  }
  template <class R>
  static constexpr void writable() noexcept {
    member<R>();
    static_assert(Bus::writable, "mmapx::reg: the block is bound to read-only memory: it cannot be written");
    static_assert(layout<R>::writable || !detail::alias_can<Map, View, R, false>(),
                  "mmapx::reg: the register is the read-only side of an alias: write the writable register at "
                  "its offset");
    static_assert(layout<R>::writable, "mmapx::reg: the register is read-only: it cannot be written");
  }
  template <class R, class F>
  static constexpr void field_of() noexcept {
    static_assert(layout<R>::template has<F>, "mmapx::reg: the field is not in this register");
    static_assert(!std::is_void_v<typename F::owner> || detail::listings<Map, F> <= 1,
                  "mmapx::reg: the field is declared with reg::field in several registers, so it names none: "
                  "declare it with the register's own field<> in each");
  }
  template <class R, class... Fs>
  static constexpr void fields_writable() noexcept {
    writable<R>();
    (field_of<R, Fs>(), ...);
    static_assert((is_writable(Fs::access) && ...), "mmapx::reg: the field is read-only: it cannot be written");
    static_assert([] {
      [[maybe_unused]] std::uint64_t seen = 0;
      bool once = true;
      ((once = once && (seen & Fs::mask) == 0, seen |= Fs::mask), ...);
      return once;
    }(), "mmapx::reg: a field is named twice");
  }
  /// What write<R>(values...) stores.
  template <class R, class... Fs>
  static typename R::value_type written(field_value<Fs>... values) noexcept {
    fields_writable<R, Fs...>();
    constexpr std::uint64_t named = (std::uint64_t{0} | ... | Fs::mask);
    using V = typename R::value_type;
    constexpr auto base = static_cast<V>(layout<R>::write_base & ~named);
    return static_cast<V>(base | (V{0} | ... | static_cast<V>(values.bits)));
  }
  template <class A>
  auto checked_at(std::size_t i, mmapx::detail::failure& f) const noexcept {
    if (i >= A::count) {
      f.fail(errc::value_out_of_range, "index register array");
      f.subject = A::c_name;
      i = 0;
    }
    return at<A>(i);
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

  /// Selects r's bank (if it has one) for the life of the object: the run-time
  /// twin of bank_scope, for the name-driven calls.
  class run_time_bank {
   public:
    run_time_bank(const block& b, const bank_info* bank) : block_(b), bank_(bank) {
      if (bank_ == nullptr) return;
      saved_ = block_.load_bits(bank_->select_offset, bank_->select_bits, false);
      block_.store_bits(bank_->select_offset, bank_->select_bits,
                        (saved_ & bank_->select_keep & ~bank_->mask) | (bank_->select_fixed & ~bank_->mask) |
                            bank_->value);
    }
    ~run_time_bank() {
      if (bank_ != nullptr)
        block_.store_bits(bank_->select_offset, bank_->select_bits,
                          (saved_ & bank_->select_keep) | bank_->select_fixed);
    }
    run_time_bank(const run_time_bank&) = delete;
    run_time_bank& operator=(const run_time_bank&) = delete;

   private:
    const block& block_;
    const bank_info* bank_;
    std::uint64_t saved_ = 0;
  };

  /// Whether r is an entry of this map's table; else fails with unknown_name.
  static bool ours(const register_info* r, mmapx::detail::failure& f, const char* operation) noexcept {
    // Their banks are selected from the unbanked state, which a bank scope is not in.
    static_assert(std::is_void_v<View>, "mmapx::reg: name-driven calls are made on the block, not in a bank scope");
    const auto registers = info_of<Map>.registers;
    if (r != nullptr && r >= registers.data() && r < registers.data() + registers.size()) {
      f.subject = r->c_name;
      return true;
    }
    return f.fail(errc::unknown_name, operation);
  }
  std::uint64_t read(const register_info& r, mmapx::detail::failure& f) const {
    if (!ours(&r, f, "read register")) return 0;
    if (!r.readable()) return f.fail(errc::access_denied_by_map, "read register"), 0;
    const run_time_bank selected(*this, r.bank);
    return load_bits(r.offset, r.bits, r.counter);
  }
  void write(const register_info& r, std::uint64_t value, mmapx::detail::failure& f) const {
    if (!ours(&r, f, "write register")) return;
    if (!Bus::writable || !r.writable()) {
      f.fail(errc::access_denied_by_map, "write register");
    } else if (value > low_bits(r.bits)) {
      f.fail(errc::value_out_of_range, "write register");
    } else {
      const run_time_bank selected(*this, r.bank);
      store_bits(r.offset, r.bits, value);
    }
  }

  void dump_line(std::string& text, const register_info& r) const {
    char line[96];
    std::snprintf(line, sizeof line, "  0x%04zx %-16.*s ", r.offset, static_cast<int>(r.name.size()),
                  r.name.data());
    text += line;
    if (!r.readable()) {
      text += "(write-only)\n";
      return;
    }
    if (r.read_side_effects) {
      text += "(not read: reads have side effects)\n";
      return;
    }
    std::uint64_t value = 0;
    {
      const run_time_bank selected(*this, r.bank);
      value = load_bits(r.offset, r.bits, r.counter);
    }
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

  void apply(const assignment& a, mmapx::detail::failure& f) const {
    if (!ours(a.target, f, "apply assignment")) return;
    const register_info& r = *a.target;
    if (a.field == nullptr) return write(r, a.value, f), void();
    const field_info& field = *a.field;
    if (a.field < r.fields.data() || a.field >= r.fields.data() + r.fields.size()) {
      f.fail(errc::unknown_name, "apply assignment");
      return;
    }
    f.subject = field.c_name;
    if (!Bus::writable || !r.writable() || !is_writable(field.access)) {
      f.fail(errc::access_denied_by_map, "apply assignment");
      return;
    }
    if (a.value > field.max()) {
      f.fail(errc::value_out_of_range, "apply assignment");
      return;
    }
    const std::uint64_t kept = r.keep & ~field.mask();
    const bool needs_load = kept != 0;
    if ((r.write_only & ~field.mask()) != 0 || (needs_load && (!r.readable() || r.read_side_effects))) {
      f.fail(errc::access_denied_by_map, "apply assignment");
      return;
    }
    const run_time_bank selected(*this, r.bank);
    std::uint64_t value = (r.fixed & ~field.mask()) | (a.value << field.pos);
    if (needs_load) value |= load_bits(r.offset, r.bits, r.counter) & kept;
    store_bits(r.offset, r.bits, value);
  }

  Bus bus_{};
};

/// Bank B of a block selected for the scope's life (made by block::bank<B>()):
/// a block that alone reaches B's registers. Construction loads the select
/// register and stores it with B's select value; destruction stores the loaded
/// value again (also when an exception leaves the scope). Neither copyable nor
/// movable, so the restore happens exactly once, where the scope ends.
template <map_type Map, bus_type Bus, bank_type Bank>
class bank_scope : public block<Map, Bus, Bank> {
  using select_register = register_of_t<Map, typename Bank::select_field>;
  using V = typename select_register::value_type;
  using L = layout<select_register>;
  static_assert(L::readable && !L::read_side_effects,
                "mmapx::reg: a bank's select register must be readable without side effects, to be restored");
  static_assert(!detail::hidden_by<Bank, select_register>(), "mmapx::reg: a bank hides its own select register");

 public:
  /// Selects the bank through `outer` (one load, one store).
  explicit bank_scope(const block<Map, Bus>& outer)
      : block<Map, Bus, Bank>(typename block<Map, Bus, Bank>::in_bank{}, outer.bus()),
        saved_(outer.template read<select_register>()) {
    constexpr std::uint64_t mask = Bank::select_field::mask;
    outer.template write<select_register>(
        static_cast<V>((saved_ & L::keep & ~mask) | (L::fixed & ~mask) | Bank::select_bits));
  }
  /// Stores the select register's old value (one store).
  ~bank_scope() { this->template write<select_register>(static_cast<V>((saved_ & L::keep) | L::fixed)); }
  bank_scope(const bank_scope&) = delete;
  bank_scope& operator=(const bank_scope&) = delete;

 private:
  V saved_;
};

/// One element of a register array A of a block (made by block::at<A>(i)):
/// read, write and modify it as block does a register, without naming it.
template <map_type Map, bus_type Bus, class A>
class element_view {
  using R = detail::relocated<typename A::element_register>;
  using inner_bus = detail::offset_bus<Bus>;
  using inner = block<detail::element_map<Map::bus, R>, inner_bus>;

 public:
  /// The register every element repeats (element 0's offset).
  using element_register = typename A::element_register;
  /// The element whose accesses go to `bus` (the array's bus, at the element's offset).
  constexpr explicit element_view(inner_bus bus) noexcept : block_(bus) {}

  /// The whole element: one load.
  typename R::value_type read() const { return block_.template read<R>(); }
  /// One field of it, decoded.
  template <field_type F>
  typename F::read_type read() const {
    return block_.template read<R, F>();
  }
  /// One load, for decoding several fields.
  mmapx::reg::snapshot<element_register> snapshot() const { return mmapx::reg::snapshot<element_register>(read()); }
  /// Whether field F holds `v` now: one load.
  template <field_type F>
  bool matches(field_value<F> v) const {
    static_assert(layout<R>::template can_read<F>, "mmapx::reg: the field is write-only: it cannot be read");
    return (read() & F::mask) == v.bits;
  }
  /// The whole element from a run-time unsigned value no wider than it: one store.
  template <std::unsigned_integral T>
    requires(!std::is_same_v<T, bool>)
  void write(T raw) const {
    block_.template write<R>(raw);
  }
  /// The whole element from an integer constant checked when compiling.
  void write(detail::register_constant<typename R::value_type> constant) const {
    block_.template write<R>(constant);
  }
  /// The named fields, the others as block::write: one store.
  template <field_type... Fs>
  void write(field_value<Fs>... values) const {
    block_.template write<R>(values...);
  }
  /// A read-modify-write, as block::modify.
  template <field_type... Fs>
  void modify(field_value<Fs>... values) const {
    block_.template modify<R>(values...);
  }
  /// Polls field F of this element until it holds `v`, as block::wait_until
  /// (errc::timed_out after `timeout`; the exception names the array's register).
  template <field_type F>
  void wait_until(field_value<F> v, std::chrono::nanoseconds timeout) const {
    block_.wait_until(v, timeout);
  }
  /// The noexcept form: errc::timed_out in `ec`.
  template <field_type F>
  void wait_until(field_value<F> v, std::chrono::nanoseconds timeout, std::error_code& ec) const noexcept {
    block_.wait_until(v, timeout, ec);
  }

 private:
  inner block_;
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
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
template <map_type Map>
block<Map> bind(void* base, std::size_t size, std::error_code& ec) noexcept {
  return mmapx::detail::reporting(
      ec, [&](mmapx::detail::failure& f) { return detail::bind<Map>(static_cast<std::byte*>(base), size, f); });
}
}  // namespace mmapx::reg
