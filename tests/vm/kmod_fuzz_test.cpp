// In-guest mmap fuzz of the module, the method of the published work on
// driver mmap handlers: many random (offset, length, protection, flags),
// including values near 2^64 and misaligned ones. Each result is compared
// with what the kernel's own checks (mm/mmap.c, 6.1) and the module's
// documented rules (mmapx_kmod.h) say, and every mapping that succeeds must
// show exactly the buffer pages its offset names (each page carries a tag).
#include "kmod_support.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <random>
#include <set>

using namespace kmod_test;

namespace {

constexpr std::uint64_t page = 4096;
constexpr std::uint64_t task_size = (std::uint64_t{1} << 47) - page;  // x86-64, 4-level

struct request {
  std::uint64_t offset;
  std::uint64_t length;
  int prot;
  int flags;
  bool writable_fd;
};

/// What mmap must answer: 0 for success, else the allowed errnos.
std::set<int> expected(const request& r, const kmod::geometry& g) {
  if (r.offset % page != 0) return {EINVAL};  // sys_mmap
  if (r.length == 0) return {EINVAL};
  if (r.length > ~std::uint64_t{0} - (page - 1)) return {ENOMEM};  // PAGE_ALIGN wraps to 0
  const std::uint64_t length = (r.length + page - 1) / page * page;
  const std::uint64_t pgoff = r.offset / page;
  if (length > task_size) return {ENOMEM};  // get_unmapped_area
  if (pgoff > (~std::uint64_t{0} - length) / page) return {EOVERFLOW};  // file_mmap_ok
  const int type = r.flags & MAP_TYPE;
  if (type == MAP_SHARED || type == MAP_SHARED_VALIDATE) {
    if ((r.prot & PROT_WRITE) && !r.writable_fd) return {EACCES};
  } else if (type != MAP_PRIVATE) {
    return {EINVAL};
  }
  std::set<int> allowed;
  // A private writable mapping is charged to the commit limit first.
  if (type == MAP_PRIVATE && (r.prot & PROT_WRITE) && length > (std::uint64_t{64} << 20))
    allowed.insert(ENOMEM);
  if (type == MAP_PRIVATE) return allowed.insert(EINVAL), allowed;

  // The module's decoding, from the UAPI header's description.
  const std::uint64_t window = r.offset >> MMAPX_KMOD_WINDOW_SHIFT;
  const std::uint64_t first = (r.offset % MMAPX_KMOD_WINDOW_SIZE) / page;
  const std::uint64_t shift = MMAPX_KMOD_WINDOW_SHIFT;
  std::uint64_t npages = 0;
  bool status = false;
  if (r.offset >> MMAPX_KMOD_OFFSET_BITS) return allowed.insert(EINVAL), allowed;
  if (window == MMAPX_KMOD_STATUS_OFFSET >> shift) {
    status = true;
    npages = 1;
  } else if (window & (MMAPX_KMOD_STATUS_OFFSET >> shift)) {
    return allowed.insert(EINVAL), allowed;
  } else {
    const std::uint64_t cache = (window >> (MMAPX_KMOD_CACHE_SHIFT - shift)) & 3;
    const std::uint64_t index = window & ((1u << MMAPX_KMOD_INDEX_BITS) - 1);
    if (cache >= MMAPX_KMOD_CACHE_MODES || index >= g.buffer_count)
      return allowed.insert(EINVAL), allowed;
    npages = g.buffer_size / page;
  }
  if (first >= npages || length / page > npages - first) return allowed.insert(EINVAL), allowed;
  if (status && (r.prot & PROT_WRITE)) return allowed.insert(EACCES), allowed;
  if (r.prot & PROT_EXEC) return allowed.insert(EPERM), allowed;
  return allowed.insert(0), allowed;
}

/// A random request, drawn to hit the interesting edges often.
request draw(std::mt19937_64& rng, const kmod::geometry& g) {
  auto pick = [&](std::uint64_t n) { return rng() % n; };
  const std::uint64_t npages = g.buffer_size / page;
  request r{};
  if (pick(3) == 0) {  // a request that is most likely right
    const auto first = pick(npages);
    r.offset = MMAPX_KMOD_BUFFER_OFFSET(pick(3), pick(2), pick(g.buffer_count)) + first * page;
    r.length = (1 + pick(npages - first)) * page - pick(page);
    static constexpr int prots[] = {PROT_READ, PROT_READ | PROT_WRITE, PROT_NONE, PROT_WRITE};
    r.prot = prots[pick(std::size(prots))];
    r.flags = pick(2) ? MAP_SHARED : MAP_SHARED | MAP_POPULATE;
    r.writable_fd = true;
    return r;
  }
  switch (pick(6)) {
    case 0:
    case 1:
    case 2: {  // a buffer window, sometimes one that does not exist
      const auto method = pick(2);
      const auto cache = pick(4);
      const auto index = pick(g.buffer_count + 2);
      r.offset = MMAPX_KMOD_BUFFER_OFFSET(cache, method, index) + pick(npages + 3) * page;
      break;
    }
    case 3:  // the status page, maybe with selector bits it must not have
      r.offset = MMAPX_KMOD_STATUS_OFFSET + (pick(4) == 0 ? pick(3) * page : 0) +
                 (pick(4) == 0 ? (pick(8) << MMAPX_KMOD_INDEX_SHIFT) : 0);
      break;
    case 4:  // near 2^64
      r.offset = ~std::uint64_t{0} - pick(64) * page - (page - 1);
      break;
    default:  // anything
      r.offset = rng() & ~(page - 1);
      break;
  }
  if (pick(8) == 0) r.offset += 1 + pick(page - 1);  // misaligned
  if (pick(8) == 0) r.offset |= std::uint64_t{1} << (MMAPX_KMOD_OFFSET_BITS + pick(28));

  switch (pick(6)) {
    case 0:
    case 1:
    case 2:  // pages around the buffer size, not always a whole number of pages
      r.length = (1 + pick(npages + 2)) * page - (pick(3) == 0 ? pick(page) : 0);
      break;
    case 3:  // the published exploit: a length the driver must not trust
      r.length = pick(2) ? 0xf0000000ULL : (std::uint64_t{1} << 40) - pick(1000) * page;
      break;
    case 4:  // near 2^64 or past the address space
      r.length = pick(2) ? ~std::uint64_t{0} - pick(2 * page) : task_size + page + rng() % task_size;
      break;
    default:
      r.length = pick(16) == 0 ? 0 : pick(2 * page);
      break;
  }
  r.prot = static_cast<int>(pick(8));  // any of READ, WRITE, EXEC
  static constexpr int flag_choices[] = {MAP_SHARED, MAP_SHARED, MAP_SHARED | MAP_POPULATE,
                                         MAP_SHARED_VALIDATE, MAP_PRIVATE, 0};
  r.flags = flag_choices[pick(std::size(flag_choices))];
  r.writable_fd = pick(4) != 0;
  return r;
}

}  // namespace

TEST_CASE("kmod: 12,000 random mmap requests each get the documented answer") {
  auto dev = kmod::device::open(kmod::device_path(1));
  const auto& g = dev.info();
  REQUIRE(g.page_size == page);
  tag_all_pages(dev);
  const int read_only_fd = ::open(kmod::device_path(1).c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(read_only_fd >= 0);
  const auto live_before = dev.stats().live_mappings;

  std::mt19937_64 rng(20240611);
  int mapped = 0;
  std::set<int> seen_errors;
  for (int n = 0; n < 12000; ++n) {
    const request r = draw(rng, g);
    const auto allowed = expected(r, g);
    int error = 0;
    void* p = raw_mmap(r.length, r.prot, r.flags, r.writable_fd ? dev.native_handle() : read_only_fd,
                       r.offset, error);
    if (!allowed.count(error)) {
      CAPTURE(n, r.offset, r.length, r.prot, r.flags, r.writable_fd, error, *allowed.begin());
      FAIL("unexpected mmap result");
    }
    seen_errors.insert(error);
    if (p == nullptr) continue;
    ++mapped;

    // The mapping shows exactly the pages its offset names.
    const std::uint64_t pages = (r.length + page - 1) / page;
    const std::uint64_t first = (r.offset % MMAPX_KMOD_WINDOW_SIZE) / page;
    const std::uint64_t window = r.offset >> MMAPX_KMOD_WINDOW_SHIFT;
    if (r.prot & PROT_READ) {
      for (std::uint64_t i = 0; i < pages; ++i) {
        const auto* at = static_cast<const std::byte*>(p) + i * page;
        if (r.offset == MMAPX_KMOD_STATUS_OFFSET) {
          CHECK(read_u64(at) == read_u64(&g));
        } else {
          const auto cache = static_cast<kmod::cache_mode>((window >> 8) & 3);
          const auto index = static_cast<std::uint32_t>(window & 0xff);
          if (read_u64(at) != page_tag(cache, index, first + i)) {
            CAPTURE(n, r.offset, r.length, i);
            FAIL("mapping shows the wrong page");
          }
        }
      }
    }
    REQUIRE(::munmap(p, pages * page) == 0);
  }
  ::close(read_only_fd);
  CHECK(mapped > 1000);
  // Every kind of answer came up.
  for (int e : {0, EINVAL, EACCES, EPERM, ENOMEM, EOVERFLOW}) {
    CAPTURE(e);
    CHECK(seen_errors.count(e) == 1);
  }
  CHECK(dev.stats().live_mappings == live_before);
}
