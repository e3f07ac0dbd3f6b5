// mmcp - copy files through memory mappings, safely and at least as fast as cp.
//
//   mmcp [OPTION]... SRC DST
//   mmcp [OPTION]... SRC... DIRECTORY
//
// The destination is written to a temporary file next to it and renamed into
// place only when complete (and verified, with --verify), so a failed or
// interrupted copy never leaves a half-written file under DST's name, and an
// existing DST stays as it was. Space is reserved before the first byte is
// written, holes stay holes, mode bits are copied.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <mmapx/version.hpp>

#include "copy.hpp"

namespace {

namespace fs = std::filesystem;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

/// Copies at least this large get a progress bar (when stderr is a terminal).
constexpr std::uint64_t progress_threshold = std::uint64_t{64} << 20;

struct settings {
  mmcp::strategy how = mmcp::default_strategy;
  std::size_t window = mmcp::default_window;
  mmcp::parallelism parallel;
  bool verify = false;
  enum class bar { automatic, always, never } progress = bar::automatic;
};

void print_help() {
  std::printf(
      "Usage: mmcp [OPTION]... SRC DST\n"
      "  or:  mmcp [OPTION]... SRC... DIRECTORY\n"
      "Copy regular files through memory mappings (mmapx).\n"
      "\n"
      "  --verify            re-read the copy and compare it with SRC before keeping it\n"
      "  --strategy=NAME     how bytes move (see below)\n"
      "  --window=SIZE       bytes mapped at a time, a multiple of the page size;\n"
      "                      suffixes K, M, G (default %zuM)\n"
      "  --threads=N         copy N windows at once (default: one per core from 3\n"
      "                      cores, as memory allows; copies under %" PRIu64 " MiB use one)\n"
      "  --progress          always show a progress bar on stderr\n"
      "  --no-progress       never show one (default: only on a terminal, for copies\n"
      "                      of %" PRIu64 " MiB or more)\n"
      "  -h, --help          show this help and exit\n"
      "  -V, --version       show the version and exit\n"
      "\n"
      "Strategies:\n",
      mmcp::default_window >> 20, mmcp::parallelism{}.min_parallel_bytes >> 20, progress_threshold >> 20);
  for (const auto& s : mmcp::strategies) {
    std::printf("  %-18.*s  %.*s\n", static_cast<int>(s.name.size()), s.name.data(),
                static_cast<int>(s.summary.size()), s.summary.data());
  }
  std::printf(
      "\n"
      "If DST is a directory, the copy is DST/basename(SRC). Holes in SRC stay\n"
      "holes; DST gets SRC's mode bits. DST is replaced only once the copy is\n"
      "complete: on failure nothing is left behind and an existing DST is kept.\n"
      "\n"
      "Exit status: 0 if every file was copied, 1 if any copy failed, 2 on a\n"
      "usage error.\n");
}

int usage_error(const char* what, const char* arg = nullptr) {
  if (arg != nullptr) {
    std::fprintf(stderr, "mmcp: %s '%s'\n", what, arg);
  } else {
    std::fprintf(stderr, "mmcp: %s\n", what);
  }
  std::fprintf(stderr, "Try 'mmcp --help' for more information.\n");
  return exit_usage;
}

/// "64M" -> 67108864; nothing on junk or overflow.
std::optional<std::size_t> parse_size(const char* text) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long number = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || text[0] == '-') return std::nullopt;
  unsigned shift = 0;
  switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; ++end; break;
    case 'm': case 'M': shift = 20; ++end; break;
    case 'g': case 'G': shift = 30; ++end; break;
    default: return std::nullopt;
  }
  if (*end != '\0' || number > (SIZE_MAX >> shift)) return std::nullopt;
  return static_cast<std::size_t>(number) << shift;
}

void report(const mmcp::failure& f) {
  std::fprintf(stderr, "mmcp: cannot %s '%s': %s\n", f.operation, f.subject != nullptr ? f.subject : "?",
               f.code.message().c_str());
}

// --- the temporary destination, removed on failure and on SIGINT/SIGTERM/SIGHUP

char pending_temp[PATH_MAX];  // the file to remove if a signal ends us
volatile std::sig_atomic_t pending_set = 0;

extern "C" void remove_pending_and_die(int sig) {
  if (pending_set != 0) ::unlink(pending_temp);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

/// A temporary file in `dir`, removed by its destructor unless kept.
class temp_file {
public:
  bool create(const fs::path& target, const mmcp::file_ref& named, mmcp::failure& f) {
    // Appended piece by piece: GCC 12 at -O3 warns falsely (-Wrestrict,
    // PR 105651) about `"." + std::string`.
    std::string base = ".";
    base += target.filename().string();
    base += ".mmcp-XXXXXX";
    const std::string name = (target.parent_path() / base).string();
    if (name.size() >= sizeof pending_temp) {
      return f.fail(named, std::make_error_code(std::errc::filename_too_long), "create temporary file for");
    }
    pending_set = 0;
    std::memcpy(pending_temp, name.c_str(), name.size() + 1);
    fd_ = mmapx::unique_fd(::mkostemp(pending_temp, O_CLOEXEC));
    if (!fd_) return f.fail_errno(named, "create a temporary file next to");
    path_ = pending_temp;
    pending_set = 1;
    return true;
  }
  int fd() const { return fd_.get(); }

  bool keep_as(const fs::path& target, const mmcp::file_ref& named, mmcp::failure& f) {
    if (::rename(path_.c_str(), target.c_str()) != 0) return f.fail_errno(named, "rename temporary file to");
    pending_set = 0;
    path_.clear();
    return true;
  }

  ~temp_file() {
    pending_set = 0;
    if (!path_.empty()) ::unlink(path_.c_str());
  }

private:
  mmapx::unique_fd fd_;
  std::string path_;
};

// --- progress -----------------------------------------------------------

class progress_bar {
public:
  progress_bar(bool shown, std::uint64_t total) : shown_(shown), total_(total) {}
  ~progress_bar() {
    if (drawn_) std::fputs("\r\033[K", stderr);
  }

  void update(std::uint64_t done) {
    if (!shown_) return;
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    drawn_ = true;
    constexpr int width = 30;
    const double fraction = total_ == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total_);
    const int filled = static_cast<int>(fraction * width);
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds / (1 << 20) : 0.0;
    std::fprintf(stderr, "\r[%.*s%*s] %3d%%  %" PRIu64 " / %" PRIu64 " MiB  %.0f MiB/s", filled,
                 "##############################", width - filled, "", static_cast<int>(fraction * 100),
                 done >> 20, total_ >> 20, rate);
    std::fflush(stderr);
  }

private:
  bool shown_;
  bool drawn_ = false;
  std::uint64_t total_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

// --- one copy -------------------------------------------------------------

bool same_file(const struct ::stat& a, const struct ::stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/// Copies `src` to `dst_arg` (a file, or a directory to copy into).
bool copy_one(const char* src, const fs::path& dst_arg, const settings& s) {
  mmcp::failure f;
  // O_NONBLOCK: opening a FIFO must not hang us (and then cannot be interrupted).
  mmapx::unique_fd source(::open(src, O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!source) return f.fail_errno({-1, src}, "open"), report(f), false;
  struct ::stat src_st {};
  if (::fstat(source.get(), &src_st) != 0) {
    std::fprintf(stderr, "mmcp: cannot stat '%s': %s\n", src, std::strerror(errno));
    return false;
  }
  if (S_ISDIR(src_st.st_mode)) {
    std::fprintf(stderr, "mmcp: cannot copy '%s': Is a directory\n", src);
    return false;
  }
  if (!S_ISREG(src_st.st_mode)) {
    std::fprintf(stderr, "mmcp: cannot copy '%s': not a regular file\n", src);
    return false;
  }

  // Where the copy goes: into DST if it is a directory, through DST if it is a symlink.
  fs::path target = dst_arg;
  struct ::stat dst_st {};
  bool exists = ::stat(target.c_str(), &dst_st) == 0;
  if (exists && S_ISDIR(dst_st.st_mode)) {
    target /= fs::path(src).filename();
    exists = ::stat(target.c_str(), &dst_st) == 0;
  } else if (!exists && errno == ENOENT && !target.empty() && target.string().back() == '/') {
    std::fprintf(stderr, "mmcp: cannot create '%s': Not a directory\n", target.c_str());
    return false;
  }
  if (!exists && errno != ENOENT) {
    std::fprintf(stderr, "mmcp: cannot stat '%s': %s\n", target.c_str(), std::strerror(errno));
    return false;
  }
  struct ::stat link_st {};
  if (::lstat(target.c_str(), &link_st) == 0 && S_ISLNK(link_st.st_mode)) {
    if (!exists) {
      std::fprintf(stderr, "mmcp: not writing through dangling symlink '%s'\n", target.c_str());
      return false;
    }
    std::error_code ec;
    target = fs::canonical(target, ec);
    if (ec) {
      std::fprintf(stderr, "mmcp: cannot resolve '%s': %s\n", dst_arg.c_str(), ec.message().c_str());
      return false;
    }
  }
  const std::string target_name = target.string();
  if (exists && same_file(src_st, dst_st)) {
    std::fprintf(stderr, "mmcp: '%s' and '%s' are the same file\n", src, target_name.c_str());
    return false;
  }
  if (exists && !S_ISREG(dst_st.st_mode)) {
    std::fprintf(stderr, "mmcp: cannot overwrite '%s': not a regular file\n", target_name.c_str());
    return false;
  }

  temp_file temp;
  if (!temp.create(target, {-1, target_name.c_str()}, f)) return report(f), false;

  const mmcp::file_ref in{source.get(), src};
  const mmcp::file_ref out{temp.fd(), target_name.c_str()};
  const auto size = static_cast<std::uint64_t>(src_st.st_size);
  std::vector<mmcp::extent> extents;
  if (!mmcp::data_extents(in, size, extents, f)) return report(f), false;
  if (!mmcp::reserve_extents(out, size, extents, f)) return report(f), false;

  std::uint64_t data_bytes = 0;
  for (const auto& e : extents) data_bytes += e.length;
  const bool show = s.progress == settings::bar::always ||
                    (s.progress == settings::bar::automatic && data_bytes >= progress_threshold &&
                     ::isatty(STDERR_FILENO) == 1);
  {
    progress_bar bar(show, data_bytes);
    if (!mmcp::copy_extents(in, out, extents, s.how, s.window, [&](std::uint64_t done) { bar.update(done); },
                            f, s.parallel)) {
      return report(f), false;
    }
  }
  if (::fchmod(temp.fd(), src_st.st_mode & 07777) != 0) {
    f.fail_errno(out, "set permissions of");
    return report(f), false;
  }
  if (s.verify) {
    const auto differs = mmcp::first_difference(in, out, s.window, f);
    if (f) return report(f), false;
    if (differs) {
      std::fprintf(stderr, "mmcp: verification failed: '%s' differs from '%s' at byte %" PRIu64 "\n",
                   target_name.c_str(), src, *differs);
      return false;
    }
  }
  if (!temp.keep_as(target, out, f)) return report(f), false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  std::vector<const char*> operands;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      operands.push_back(argv[i]);
    } else if (arg == "--") {
      options_done = true;
    } else if (arg == "-h" || arg == "--help") {
      print_help();
      return exit_ok;
    } else if (arg == "-V" || arg == "--version") {
      std::printf("mmcp (mmapx) %s\n", MMAPX_VERSION_STRING);
      return exit_ok;
    } else if (arg == "--verify") {
      s.verify = true;
    } else if (arg == "--progress") {
      s.progress = settings::bar::always;
    } else if (arg == "--no-progress") {
      s.progress = settings::bar::never;
    } else if (arg.starts_with("--strategy=") || arg == "--strategy") {
      const char* value = arg == "--strategy" ? (i + 1 < argc ? argv[++i] : nullptr) : argv[i] + 11;
      if (value == nullptr) return usage_error("option requires an argument:", "--strategy");
      const auto how = mmcp::parse_strategy(value);
      if (!how) return usage_error("unknown strategy", value);
      s.how = *how;
    } else if (arg.starts_with("--threads=") || arg == "--threads") {
      const char* value = arg == "--threads" ? (i + 1 < argc ? argv[++i] : nullptr) : argv[i] + 10;
      if (value == nullptr) return usage_error("option requires an argument:", "--threads");
      const auto threads = std::strspn(value, "0123456789") == std::strlen(value) ? parse_size(value) : std::nullopt;
      if (!threads || *threads == 0 || *threads > 1024) return usage_error("invalid thread count (want 1 to 1024)", value);
      s.parallel.threads = static_cast<unsigned>(*threads);
    } else if (arg.starts_with("--window=") || arg == "--window") {
      const char* value = arg == "--window" ? (i + 1 < argc ? argv[++i] : nullptr) : argv[i] + 9;
      if (value == nullptr) return usage_error("option requires an argument:", "--window");
      const auto window = parse_size(value);
      if (!window || *window == 0 || *window % mmapx::page_size() != 0) {
        return usage_error("invalid window size (want a multiple of the page size)", value);
      }
      s.window = *window;
    } else {
      return usage_error("unrecognized option", argv[i]);
    }
  }
  if (operands.empty()) return usage_error("missing file operand");
  if (operands.size() == 1) return usage_error("missing destination file operand after", operands[0]);

  // mmapx installs its SIGBUS handler before the first guarded copy; ours
  // below only clean up and die, and do not touch SIGBUS.
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, remove_pending_and_die);
  ::signal(SIGXFSZ, SIG_IGN);  // over RLIMIT_FSIZE: an EFBIG error to report, not a silent death

  const fs::path destination = operands.back();
  operands.pop_back();
  if (operands.size() > 1) {
    struct ::stat st {};
    if (::stat(destination.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      std::fprintf(stderr, "mmcp: target '%s' is not a directory\n", destination.c_str());
      return exit_failed;
    }
  }
  int status = exit_ok;
  for (const char* src : operands) {
    if (!copy_one(src, destination, s)) status = exit_failed;
  }
  return status;
}
