// tests/unit/reliability_support.hpp - what the reliability tests add to
// child_process.hpp: a pipe for "I got this far" messages from a child.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "child_process.hpp"

namespace mmapx_test {

/// A pipe whose ends close themselves; for "I got this far" messages from a child.
class pipe_pair {
public:
  pipe_pair() {
    if (::pipe(fds_) != 0) throw std::system_error(errno, std::system_category(), "pipe");
  }
  ~pipe_pair() {
    close_read();
    close_write();
  }
  pipe_pair(const pipe_pair&) = delete;
  pipe_pair& operator=(const pipe_pair&) = delete;
  int read_end() const { return fds_[0]; }
  int write_end() const { return fds_[1]; }
  void close_read() {
    if (fds_[0] >= 0) ::close(fds_[0]);
    fds_[0] = -1;
  }
  void close_write() {
    if (fds_[1] >= 0) ::close(fds_[1]);
    fds_[1] = -1;
  }

private:
  int fds_[2] = {-1, -1};
};

}  // namespace mmapx_test
