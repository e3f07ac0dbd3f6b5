// bench/read_write_copy.cpp - the plain read()/write() loop with a 128 KiB
// buffer, as a comparison point for bench/mmcp_bench (no mapping at all).
//
//   read_write_copy SRC DST
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

int fail(const char* what, const char* path) {
  std::fprintf(stderr, "read_write_copy: %s '%s': %s\n", what, path, std::strerror(errno));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: read_write_copy SRC DST\n");
    return 2;
  }
  const int in = ::open(argv[1], O_RDONLY | O_CLOEXEC);
  if (in < 0) return fail("cannot open", argv[1]);
  const int out = ::open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) return fail("cannot create", argv[2]);
  std::vector<char> buffer(128 * 1024);
  for (;;) {
    const ssize_t got = ::read(in, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return fail("cannot read", argv[1]);
    if (got == 0) break;
    for (ssize_t put = 0; put < got;) {
      const ssize_t n = ::write(out, buffer.data() + put, static_cast<std::size_t>(got - put));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail("cannot write", argv[2]);
      put += n;
    }
  }
  if (::close(out) != 0) return fail("cannot close", argv[2]);
  ::close(in);
  return 0;
}
