#include "control.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace conclave {

void ControlQueue::Push(ControlRequest r) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(r));
  }
  cv_.notify_one();
}

ControlRequest ControlQueue::Pop() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !queue_.empty(); });
  ControlRequest r = std::move(queue_.front());
  queue_.pop_front();
  return r;
}

sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGHUP}) sigaddset(&set, s);
  return set;
}

namespace {

ControlRequest RequestFor(int sig, bool dev) {
  switch (sig) {
    case SIGINT:
      return {dev ? Action::kReload : Action::kShutdown, {}, "SIGINT"};
    case SIGUSR1:
      return {dev ? Action::kReload : Action::kShutdown, {}, "SIGUSR1"};
    case SIGUSR2:
      return {Action::kRestart, {}, "SIGUSR2"};
    case SIGHUP:
      return {Action::kReloadConfig, {}, "SIGHUP"};
    default:
      return {Action::kShutdown, {}, sig == SIGQUIT ? "SIGQUIT" : "SIGTERM"};
  }
}

}  // namespace

SignalThread::SignalThread(ControlQueue& queue, bool dev) {
  sigset_t set = HandledSignals();
  signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  thread_ = std::thread([this, &queue, dev] {
    for (;;) {
      pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) continue;  // EINTR
      if (fds[1].revents != 0) return;
      signalfd_siginfo info;
      if (read(signal_fd_, &info, sizeof info) != sizeof info) continue;
      queue.Push(RequestFor(static_cast<int>(info.ssi_signo), dev));
    }
  });
}

SignalThread::~SignalThread() {
  uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof one);
  thread_.join();
  close(signal_fd_);
  close(stop_fd_);
}

}  // namespace conclave
