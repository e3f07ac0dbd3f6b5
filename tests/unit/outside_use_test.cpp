// Unit tests: the defects that outside use found (issue 12, items 1-10), each
// written from the documented promise before the fix.
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <climits>
#include <csignal>
#include <cstring>
#include <string>

#include <mmapx/anonymous.hpp>
#include <mmapx/device.hpp>
#include <mmapx/file.hpp>
#include <mmapx/kmod.hpp>
#include <mmapx/memfd.hpp>
#include <mmapx/pci.hpp>
#include <mmapx/reg.hpp>
#include <mmapx/sigbus.hpp>
#include <mmapx/typed.hpp>

#include "catch.hpp"
#include "test_support.hpp"

using namespace mmapx;
using mmapx_test::contains;
using mmapx_test::in_child;
using mmapx_test::temp_dir;
using mmapx_test::thrown_message;
using mmapx_test::write_file;

namespace {

/// Runs `check` in a child that SIGALRM kills after 5 s: a call that blocks
/// fails the test instead of hanging the suite.
template <class Fn>
int within_five_seconds(Fn&& check) {
  return in_child([&] {
    ::alarm(5);
    return check();
  });
}

}  // namespace

TEST_CASE("a FIFO is refused at once by map_file and map_device, never waited on", "[outside][special]") {
  temp_dir dir;
  const auto fifo = dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(within_five_seconds([&] {
          std::error_code ec;
          (void)map_file(fifo, {}, ec);
          if (ec != errc::not_regular_file) return 3;
          (void)map_file<access::copy_on_write>(fifo, {}, ec);
          if (ec != errc::not_regular_file) return 4;
          (void)map_file<access::read_write>(fifo, {}, ec);
          if (ec != errc::not_regular_file) return 5;
          return 0;
        }) == 0);
  CHECK(within_five_seconds([&] {
          std::error_code ec;
          (void)map_device<access::read>(fifo, 0, 4096, {}, ec);
          if (ec != std::errc::no_such_device) return 3;
          (void)map_device<access::read_write>(fifo, 0, 4096, {}, ec);
          if (ec != std::errc::no_such_device) return 4;
          return 0;
        }) == 0);
}

TEST_CASE("fixed placement without an address is an error and maps nothing", "[outside]") {
  // In a child: before the fix this mapped page 0 and never unmapped it.
  // msync tells whether page 0 is mapped, where the platform's msync checks
  // (qemu-user's does not: that check is skipped there, with this warning).
  const bool msync_sees_unmapped = ::msync(nullptr, page_size(), MS_ASYNC) != 0 && errno == ENOMEM;
  if (!msync_sees_unmapped) WARN("skipped the page-0 check: msync itself does not report unmapped memory here (qemu-user)");
  CHECK(in_child([msync_sees_unmapped] {
          std::error_code ec;
          {
            auto r = map_anonymous(page_size(), {.map = {.place = placement::fixed_noreplace}}, ec);
            if (ec != std::errc::invalid_argument) return 3;
            if (r.is_mapped() || r.data() != nullptr) return 4;
          }
          // Page 0 is not mapped: msync of an unmapped range is ENOMEM.
          if (msync_sees_unmapped && (::msync(nullptr, page_size(), MS_ASYNC) == 0 || errno != ENOMEM)) return 5;
          return 0;
        }) == 0);
  // The file form and the message, in a child for the same reason.
  CHECK(in_child([] {
          std::error_code ec;
          auto r = map_file(std::filesystem::path("/proc/self/exe"),
                            {.length = 1, .map = {.place = placement::fixed_noreplace}}, ec);
          if (ec != std::errc::invalid_argument || r.is_mapped()) return 3;
          const auto text = thrown_message([] {
            (void)map_anonymous(page_size(), {.map = {.place = placement::fixed_noreplace}});
          });
          return contains(text, "hint") ? 0 : 4;
        }) == 0);
}

TEST_CASE("memfd explicit huge pages follow the same fallback rules as anonymous memory", "[outside]") {
  for (const auto huge : {huge_pages::explicit_2m, huge_pages::explicit_1g}) {
    const std::size_t huge_size = huge == huge_pages::explicit_2m ? std::size_t{2} << 20 : std::size_t{1} << 30;
    std::error_code ec;
    auto fallback = map_memfd("huge-fallback", 2 << 20,
                              {.map = {.huge = huge, .on_no_huge_pages = huge_fallback::base_pages}}, ec);
    CHECK_FALSE(ec);
    CHECK(fallback.size() == (2u << 20));
    CHECK((fallback.page_size() == page_size() || fallback.page_size() == huge_size));
    auto strict = map_memfd("huge-strict", 2 << 20, {.map = {.huge = huge}}, ec);
    if (ec) {
      CHECK(ec == errc::huge_pages_unavailable);
      CHECK_FALSE(strict.is_mapped());
    } else {
      CHECK(strict.page_size() == huge_size);
    }
  }
}

TEST_CASE("view_array with an explicit count that does not fit is an error", "[outside]") {
  auto r = map_anonymous(page_size());
  std::error_code ec;
  auto words = view_array<std::uint32_t>(r, 0, SIZE_MAX, ec);
  CHECK(ec == errc::size_overflow);
  CHECK(words.empty());
  auto bytes = view_array<char>(r, 0, SIZE_MAX, ec);
  CHECK(ec == errc::view_too_large);
  CHECK(bytes.empty());
  CHECK_THROWS_AS(view_array<char>(r, 0, SIZE_MAX), std::system_error);
  CHECK_THROWS_AS(view_array<char>(r, 8, page_size()), std::system_error);
  CHECK(view_array<char>(r, 8).size() == page_size() - 8);  // without a count: as many as fit
}

TEST_CASE("resize after unmap is not_mapped: an unmapped region is empty", "[outside]") {
  auto r = map_anonymous(page_size());
  r.unmap();
  std::error_code ec;
  (void)r.resize(2 * page_size(), {}, ec);
  CHECK(ec == errc::not_mapped);
  CHECK_FALSE(r.is_mapped());
  CHECK(r.empty());

  temp_dir dir;
  write_file(dir / "f", std::string(4096, 'x'));
  auto file = map_file<access::read_write>(dir / "f");
  file.unmap();
  CHECK(file.native_handle() == -1);  // nothing is held after unmap
  (void)file.resize(4096, {}, ec);
  CHECK(ec == errc::not_mapped);
}

TEST_CASE("a path with an embedded NUL byte is refused, not truncated", "[outside]") {
  temp_dir dir;
  write_file(dir / "a", std::string(4096, 'a'));
  const std::string with_nul = (dir / "a").string() + std::string("\0b", 2);
  std::error_code ec;
  auto r = map_file(std::filesystem::path(with_nul), {}, ec);
  CHECK(ec == std::errc::invalid_argument);
  CHECK_FALSE(r.is_mapped());
  CHECK(contains(thrown_message([&] { (void)map_file(std::filesystem::path(with_nul)); }), "NUL"));
  (void)map_device(std::filesystem::path(with_nul), 0, 4096, {}, ec);
  CHECK(ec == std::errc::invalid_argument);
  (void)map_pci_bar(std::string("0000:00:04.0\0x", 14), 0, {}, ec);
  CHECK(ec == errc::parse_error);
  // The kernel module's device by path: "/dev/null" before the NUL would be
  // opened (and fail later with ENOTTY) if the path were truncated.
  (void)mmapx::kmod::device::open(std::string("/dev/null\0x", 11), ec);
  CHECK(ec == std::errc::invalid_argument);
  (void)pci_bar_info(std::string("0000:00:04.0\0x", 14), 0, ec);
  CHECK(ec == errc::parse_error);
}

namespace {

/// Whether a SIGBUS from a mapped page past the end of its file carries the
/// address that was read, seen by a plain handler in a child (no mmapx).
/// qemu-arm 7.2 reports the page after it: a guarded copy cannot tell such
/// a fault from one outside its range, and rightly lets it kill the process.
bool platform_reports_sigbus_address(const std::filesystem::path& p) {
  return in_child([&] {
           static volatile std::uintptr_t expected = 0;
           struct ::sigaction on_bus {};
           on_bus.sa_flags = SA_SIGINFO;
           on_bus.sa_sigaction = [](int, ::siginfo_t* info, void*) {
             ::_exit(reinterpret_cast<std::uintptr_t>(info->si_addr) == expected ? 0 : 1);
           };
           ::sigaction(SIGBUS, &on_bus, nullptr);
           const int fd = ::open(p.c_str(), O_RDWR | O_CLOEXEC);
           void* base = ::mmap(nullptr, 3 * 4096, PROT_READ, MAP_SHARED, fd, 0);
           if (fd < 0 || base == MAP_FAILED || ::ftruncate(fd, 0) != 0) return 2;
           expected = reinterpret_cast<std::uintptr_t>(base) + 4096;
           return *reinterpret_cast<volatile const char*>(expected) == 'x' ? 3 : 4;  // the handler exits
         }) == 0;
}

}  // namespace

TEST_CASE("messages name the descriptor, the file behind it, and cap long paths", "[outside]") {
  const auto bad_fd = thrown_message([] { (void)map_fd(-1); });
  CHECK(contains(bad_fd, "fd -1"));

  temp_dir dir;
  const std::string long_name = (dir / std::string(5000, 'n')).string();
  const auto long_msg = thrown_message([&] { (void)map_file(std::filesystem::path(long_name)); });
  CHECK(!long_msg.empty());
  CHECK(long_msg.size() < 600);
  CHECK(contains(long_msg, "..."));

  const auto p = dir / "shrinks";
  write_file(dir / "probe", std::string(3 * 4096, 'x'));
  MMAPX_SKIP_UNLESS(platform_reports_sigbus_address(dir / "probe"),
                    "SIGBUS itself reports another address than the one read here (qemu-arm 7.2: the next page)");
  write_file(p, std::string(3 * 4096, 'x'));
  auto r = map_file<access::read_write>(p);
  REQUIRE(::truncate(p.c_str(), 0) == 0);
  std::byte buf[16];
  std::error_code ec;
  copy_from(r, 4096, std::span<std::byte>(buf), ec);
  CHECK(ec == std::errc::bad_address);
  const auto copy = thrown_message([&] { copy_from(r, 4096, std::span<std::byte>(buf)); });
  CHECK(contains(copy, p.string()));
}

TEST_CASE("a PCI BAR mapping the kernel refuses is explained like /dev/mem's", "[outside]") {
  // The kernel's refusal cannot be provoked on the build machine (the VM
  // suite maps real BARs); the explanation is checked on the failure record.
  for (const auto code : {std::errc::operation_not_permitted, std::errc::permission_denied}) {
    detail::failure f;
    f.subject = "0000:00:06.0";
    f.fail(std::make_error_code(code), "mmap", detail::stage::map);
    detail::explain_pci_bar_failure(f);
    const std::string text = f.what();
    CHECK(contains(text, "CAP_SYS_ADMIN"));
    CHECK(contains(text, "lockdown"));
    CHECK(contains(text, "driver"));
    CHECK(contains(text, "0000:00:06.0"));
    CHECK(f.code == code);  // the code is kept; only the text explains
  }
  detail::failure opening;
  opening.fail(std::make_error_code(std::errc::permission_denied), "open", detail::stage::open);
  detail::explain_pci_bar_failure(opening);
  CHECK(contains(opening.what(), "root"));
  detail::failure other;
  other.fail(std::make_error_code(std::errc::invalid_argument), "mmap", detail::stage::map);
  detail::explain_pci_bar_failure(other);
  CHECK(std::string(other.operation) == "map PCI BAR");
}

TEST_CASE("reg::bind on null memory is errc::not_mapped, as block.hpp documents", "[outside]") {
  using r0 = reg::reg32<"r0", 0x00, reg::rw, 0>;
  using dev = reg::map<"dev", 0x10, reg::contract{}, r0>;
  std::error_code ec;
  (void)reg::bind<dev>(nullptr, 0x10, ec);
  CHECK(ec == errc::not_mapped);
  (void)reg::bind<dev>(std::span<std::byte>(), ec);
  CHECK(ec == errc::not_mapped);
}
