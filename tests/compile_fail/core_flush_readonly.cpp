// expect-error: == (mmapx::)?access::read_write
// flush() exists only where writes reach a shared object (access::read_write).
#include <mmapx/file.hpp>
int main() {
  auto r = mmapx::map_file("/etc/hostname");
  r.flush();
}
