// libFuzzer target: the mapping API against a model.
//
// Each input picks a backend (a file by path, a file or memfd by descriptor,
// map_memfd), its contents, an access mode, an offset, a length, a size to
// grow to, a reservation policy and map options, then resizes, writes,
// flushes and advises through the region. Every call must either fail with
// exactly the error the model predicts or succeed with exactly the bytes the
// model predicts, in the mapping and, for writable mappings, in the file.
//
// RLIMIT_FSIZE is set to 1 MiB (SIGXFSZ ignored) so that growing a file past
// it is a quick, predictable EFBIG and the fuzzer never fills a disk or RAM.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include <mmapx/file.hpp>
#include <mmapx/memfd.hpp>
#include <mmapx/sigbus.hpp>

namespace {

using namespace mmapx;
using mmapx::access;

constexpr std::uint64_t file_limit = std::uint64_t{1} << 20;

struct environment {
  std::filesystem::path dir;
  std::filesystem::path path;
  void* held = nullptr;  // a reserved range: a fixed_noreplace hint there must fail
  std::size_t held_length = 0;

  environment() {
    char pattern[] = "/tmp/mmapx-map-fuzz-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) std::abort();
    dir = pattern;
    path = dir / "f";
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{file_limit, file_limit};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) std::abort();
    held_length = 4 * page_size();
    held = ::mmap(nullptr, held_length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (held == MAP_FAILED) std::abort();
  }
  ~environment() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

environment& env() {
  static environment e;
  return e;
}

std::string describe(const std::error_code& ec) { return ec ? ec.category().name() + (":" + ec.message()) : "success"; }

[[noreturn]] void finding(const std::string& what, const std::error_code& got, const std::error_code& want) {
  std::fprintf(stderr, "map_fuzz: %s: got %s, model says %s\n", what.c_str(), describe(got).c_str(),
               describe(want).c_str());
  __builtin_trap();
}
[[noreturn]] void finding(const std::string& what) { finding(what, {}, {}); }

void expect(const char* what, const std::error_code& got, const std::error_code& want) {
  if (got != want) finding(what, got, want);
}

std::error_code sys(int e) { return {e, std::system_category()}; }

/// Offsets and lengths worth trying: edges of pages, of the file, of the types.
std::uint64_t pick_number(FuzzedDataProvider& in, std::uint64_t file_size) {
  const std::uint64_t page = page_size();
  switch (in.ConsumeIntegralInRange<int>(0, 11)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return page - 1;
    case 3: return page;
    case 4: return page + 1;
    case 5: return file_size;
    case 6: return file_size + 1;
    case 7: return file_size == 0 ? 0 : file_size - 1;
    case 8: return UINT64_MAX - in.ConsumeIntegralInRange<std::uint64_t>(0, 2 * page);
    case 9: return static_cast<std::uint64_t>(INT64_MAX) - in.ConsumeIntegralInRange<std::uint64_t>(0, 2 * page);
    case 10: return file_limit + in.ConsumeIntegralInRange<std::uint64_t>(0, page);
    default: return in.ConsumeIntegralInRange<std::uint64_t>(0, 5 * page);
  }
}

/// What the model knows of one backing file.
struct model {
  std::string bytes;  // the file's contents
};

/// The model of detail::map_open_file and map_range: the region's bytes'
/// offset and length, or the error.
struct prediction {
  std::error_code error;
  std::uint64_t length = 0;
  std::uint64_t file_size = 0;  // after any growth
};

/// The error of growing a file to `to` bytes: an end past the largest off_t
/// is errc::size_overflow (for every backend), one past RLIMIT_FSIZE EFBIG.
std::error_code growth_error(std::uint64_t to) {
  if (to > largest_file_end) return errc::size_overflow;
  if (to > file_limit) return sys(EFBIG);
  return {};
}

prediction predict(access a, const file_options& o, std::uint64_t file_size) {
  prediction p;
  const bool rw = a == access::read_write;
  // map_file checks everything before it changes the file: the size the file
  // grows to, then the range, and only then grows it (EFBIG comes last).
  if (rw && o.size > largest_file_end) return p.error = errc::size_overflow, p;
  const std::uint64_t grown = rw && o.size > file_size ? o.size : file_size;
  std::uint64_t length = o.length;
  if (length == 0) {
    if (o.offset > grown) return p.error = errc::offset_beyond_end, p;
    length = grown - o.offset;
  }
  const auto end = checked_add<std::uint64_t>(o.offset, length);
  if (!end || *end > static_cast<std::uint64_t>(INT64_MAX)) return p.error = errc::size_overflow, p;
  if (*end > grown && !rw) return p.error = o.offset > grown ? errc::offset_beyond_end : errc::length_beyond_end, p;
  if (grown > file_size) {
    if (auto e = growth_error(grown)) return p.error = e, p;
    file_size = grown;
  }
  if (*end > file_size) {
    if (auto e = growth_error(*end)) return p.error = e, p;
    file_size = *end;
  }
  // map_range: huge pages on a file that is not on hugetlbfs.
  if (o.map.huge == huge_pages::explicit_2m && o.map.on_no_huge_pages == huge_fallback::fail)
    return p.error = errc::huge_pages_unavailable, p;
  p.length = length;
  p.file_size = file_size;
  if (length != 0 && o.map.place == placement::fixed_noreplace) {
    const auto hint = reinterpret_cast<std::uintptr_t>(o.map.hint);
    if (hint % page_size() != 0) return p.error = sys(EINVAL), p;
    p.error = sys(EEXIST);  // the only fixed hints used lie in env().held
  }
  return p;
}

std::string file_contents(int fd) {
  struct ::stat st {};
  if (::fstat(fd, &st) != 0) finding("fstat of the backing file", sys(errno), {});
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  if (::pread(fd, out.data(), out.size(), 0) != static_cast<ssize_t>(out.size())) finding("pread of the backing file");
  return out;
}

std::string_view view(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

template <access A>
void exercise(FuzzedDataProvider& in, region<A>& r, int fd, std::uint64_t offset, model& m) {
  const std::uint64_t page = page_size();
  // Sub-range operations: any range inside the region works, any other is range_outside_region.
  for (int i = in.ConsumeIntegralInRange<int>(0, 4); i > 0; --i) {
    const int op = in.ConsumeIntegralInRange<int>(0, 2);
    const std::uint64_t off = pick_number(in, r.size());
    std::uint64_t len = pick_number(in, r.size());
    if (op == 2 && len > 16 * page) len = 1;  // copies need a buffer of that size
    const bool inside = range_within(off, len, r.size());
    const std::error_code want = inside ? std::error_code{} : make_error_code(errc::range_outside_region);
    std::error_code ec;
    if (op == 2) {
      std::string out(static_cast<std::size_t>(len), '\0');
      copy_from(r, static_cast<std::size_t>(off), std::as_writable_bytes(std::span(out)), ec);
      if (!ec && out != std::string_view(m.bytes).substr(offset + off, len)) finding("copy_from bytes differ from the file");
    } else {
      // advice::random on part of a region splits its VMA: a later resize
      // must still work (it maps anew when mremap cannot).
      r.advise(op == 0 ? advice::will_need : advice::random, static_cast<std::size_t>(off),
               static_cast<std::size_t>(len), ec);
    }
    if (ec != want) finding("sub-range operation", ec, want);
  }

  if constexpr (A != access::read) {
    // Write through the mapping; a shared one reaches the file, a private one does not.
    if (!r.empty()) {
      const std::uint64_t off = in.ConsumeIntegralInRange<std::uint64_t>(0, r.size() - 1);
      const std::uint64_t len = in.ConsumeIntegralInRange<std::uint64_t>(0, r.size() - off);
      const std::string text(static_cast<std::size_t>(len), static_cast<char>(in.ConsumeIntegral<std::uint8_t>()));
      std::error_code ec;
      copy_to(r, off, std::as_bytes(std::span(text)), ec);
      expect("copy_to in range", ec, {});
      if (A == access::read_write) m.bytes.replace(offset + off, len, text);
      if constexpr (A == access::read_write) {
        const auto level = static_cast<flush_level>(in.ConsumeIntegralInRange<int>(0, 2));
        r.flush(level, ec);
        expect("flush", ec, {});
      }
      if (file_contents(fd) != m.bytes) finding("file contents differ from the model after a write");
    }
  }

  // Resize: growth is checked against the file exactly like the first map.
  if (in.ConsumeBool()) {
    const std::uint64_t new_size = pick_number(in, r.size());
    const std::uint64_t file_size = m.bytes.size();
    std::error_code want;
    const auto end = checked_add<std::uint64_t>(offset, new_size);
    if (!end || *end > largest_file_end) {
      want = errc::size_overflow;
    } else if (new_size > r.size() && *end > file_size) {
      want = A != access::read_write ? std::error_code(errc::length_beyond_end) : growth_error(*end);
    }
    std::error_code ec;
    r.resize(static_cast<std::size_t>(new_size), {}, ec);
    expect("resize", ec, want);
    if (!ec) {
      if (A == access::read_write && *end > file_size) m.bytes.resize(static_cast<std::size_t>(*end), '\0');
      if (r.size() != new_size) finding("resize gave the wrong size");
      if (A == access::read_write && file_contents(fd) != m.bytes) finding("file after growth differs from the model");
    }
  }
  if (A != access::copy_on_write && view(r.bytes()) != std::string_view(m.bytes).substr(offset, r.size()))
    finding("mapped bytes differ from the model");
}

template <access A>
void run(FuzzedDataProvider& in, int backend) {
  const std::uint64_t page = page_size();
  model m;
  const std::size_t initial = in.ConsumeIntegralInRange<std::size_t>(0, 4 * page + 3);
  const char fill = static_cast<char>(in.ConsumeIntegral<std::uint8_t>());
  for (std::size_t i = 0; i < initial; ++i) m.bytes += static_cast<char>(fill + static_cast<char>(i * 7));

  file_options o;
  o.offset = pick_number(in, initial);
  o.length = in.ConsumeBool() ? 0 : pick_number(in, initial);
  o.size = in.ConsumeBool() ? 0 : pick_number(in, initial);
  o.reserve = static_cast<reserve_space>(in.ConsumeIntegralInRange<int>(0, 2));
  o.map.populate = in.ConsumeBool();
  o.map.no_reserve = in.ConsumeBool();
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: o.map.huge = huge_pages::none; break;
    case 1: o.map.huge = huge_pages::transparent; break;
    default: o.map.huge = huge_pages::explicit_2m; break;
  }
  o.map.on_no_huge_pages = in.ConsumeBool() ? huge_fallback::fail : huge_fallback::base_pages;
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0:
      o.map.place = placement::fixed_noreplace;
      o.map.hint = static_cast<char*>(env().held) + page * in.ConsumeIntegralInRange<std::size_t>(0, 3) +
                   (in.ConsumeBool() ? 1 : 0);
      break;
    case 1: o.map.hint = env().held; break;  // only a hint: the kernel maps elsewhere
    default: break;
  }

  // The backing object, filled without mmapx.
  unique_fd fd;
  if (backend == 0 || backend == 1) {
    fd.reset(::open(env().path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  } else {
    fd.reset(::memfd_create("map_fuzz", MFD_CLOEXEC));
  }
  if (!fd) finding("cannot create the backing object");
  if (::pwrite(fd.get(), m.bytes.data(), m.bytes.size(), 0) != static_cast<ssize_t>(m.bytes.size()))
    finding("cannot fill the backing object");

  const prediction p = predict(A, o, m.bytes.size());
  std::error_code ec;
  region<A> r = backend == 0 ? map_file<A>(env().path, o, ec) : map_fd<A>(fd.get(), o, ec);
  if (p.error == sys(EEXIST) && !ec) {
    // The hint lay in the held range: the kernel must have refused it.
    finding("fixed_noreplace over a mapping succeeded", ec, p.error);
  }
  expect("map", ec, p.error);
  if (ec) {
    if (r.is_mapped() || r.size() != 0) finding("a failed map left a mapping");
    return;
  }
  if (r.size() != p.length) finding("region size differs from the model");
  if (r.offset() != o.offset) finding("region offset differs from the model");
  if (A == access::read_write) m.bytes.resize(static_cast<std::size_t>(p.file_size), '\0');
  if (file_contents(fd.get()) != m.bytes) finding("file after map differs from the model");
  if (view(r.bytes()) != std::string_view(m.bytes).substr(o.offset, r.size())) finding("mapped bytes differ from the file");
  exercise(in, r, fd.get(), o.offset, m);
}

/// map_memfd: a fresh zeroed memfd of the given size.
void run_memfd(FuzzedDataProvider& in) {
  const std::uint64_t size = pick_number(in, 2 * page_size());
  std::error_code ec;
  auto r = map_memfd("map_fuzz", static_cast<std::size_t>(size), {}, ec);
  std::error_code want;
  if (size > largest_file_end) want = errc::size_overflow;
  else if (size > file_limit) want = sys(EFBIG);
  expect("map_memfd", ec, want);
  if (ec) return;
  model m;
  m.bytes.assign(static_cast<std::size_t>(size), '\0');
  if (view(r.bytes()) != m.bytes) finding("a new memfd is not zero");
  // Our own descriptor of the memfd: resizing an empty region re-maps it
  // with a fresh duplicate, so the region's own number can change.
  const unique_fd own(::fcntl(r.native_handle(), F_DUPFD_CLOEXEC, 0));
  exercise(in, r, own.get(), 0, m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  (void)env();
  const int backend = in.ConsumeIntegralInRange<int>(0, 3);
  if (backend == 3) {
    run_memfd(in);
    return 0;
  }
  switch (in.ConsumeIntegralInRange<int>(0, 2)) {
    case 0: run<access::read>(in, backend); break;
    case 1: run<access::read_write>(in, backend); break;
    default: run<access::copy_on_write>(in, backend); break;
  }
  return 0;
}
