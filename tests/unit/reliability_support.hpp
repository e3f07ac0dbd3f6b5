// tests/unit/reliability_support.hpp - child processes for the reliability
// tests: run a function in a forked child and learn how it ended, so a test
// can watch a crash (or its absence) without dying itself.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <string>
#include <system_error>
#include <utility>

namespace mmapx_test {

/// How a child process ended.
struct child_end {
  int exit_code = -1;  ///< exit status, or -1 if killed by a signal
  int signal = 0;      ///< the signal that killed it, or 0

  bool exited(int code) const { return signal == 0 && exit_code == code; }
  std::string describe() const {
    return signal != 0 ? "killed by signal " + std::to_string(signal) : "exit " + std::to_string(exit_code);
  }
};

/// A forked child running `body` (which returns its exit code; an exception
/// is exit 99). The child never returns into the test framework.
class child {
public:
  template <class Fn>
  explicit child(Fn&& body) {
    pid_ = ::fork();
    if (pid_ < 0) throw std::system_error(errno, std::system_category(), "fork");
    if (pid_ == 0) {
      int code = 99;
      try {
        code = std::forward<Fn>(body)();
      } catch (...) {
      }
      ::_exit(code);
    }
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status;
      ::waitpid(pid_, &status, 0);
    }
  }

  pid_t pid() const { return pid_; }
  void kill(int sig) const { ::kill(pid_, sig); }

  child_end wait() {
    int status = 0;
    pid_t got;
    do {
      got = ::waitpid(pid_, &status, 0);
    } while (got < 0 && errno == EINTR);
    if (got < 0) throw std::system_error(errno, std::system_category(), "waitpid");
    pid_ = -1;
    child_end end;
    if (WIFEXITED(status)) end.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) end.signal = WTERMSIG(status);
    return end;
  }

private:
  pid_t pid_ = -1;
};

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
