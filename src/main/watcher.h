// BuildWatcher: watch mode (`conclave --watch`, config `watch`; dev builds only). Watches what
// the build writes — the module files, libconclave_core.so and the executable — with inotify and
// says when a build has finished writing them, so that main can do what Ctrl+C does.
//
// "Finished" is: when the build directory holds ninja's `.ninja_log`, ninja has closed it (ninja
// keeps it open for writing from the first finished step to the end of the build, so a reload
// never loads half of a build whose other libraries are still compiling), reported at once;
// without ninja, no write to a watched file for `debounce`. A failed compile or link step of the
// build is recorded by cmake/conclave_launcher.sh in `<build_dir>/.conclave-build-failed`; such a
// build is reported as failed and nothing is reloaded.
#ifndef CONCLAVE_MAIN_WATCHER_H_
#define CONCLAVE_MAIN_WATCHER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace conclave {

// The name of the marker a failed build step writes, in the build directory.
inline constexpr char kBuildFailedMarker[] = ".conclave-build-failed";

struct WatchOptions {
  // Files whose writes mean "the build produced something": module files, core, executable.
  std::vector<std::string> files;
  // Where `.ninja_log` and the failure marker are; empty: none (debounce only).
  std::string build_dir;
  // Quiet time after the last write before a finished build is reported, unless ninja's closing
  // of `.ninja_log` said the build ended. Default 150 ms.
  absl::Duration debounce = absl::Milliseconds(150);
};

// What one finished build did to the watched files.
struct BuildOutcome {
  bool failed = false;
  std::string failure;               // the marker's text: the output of the step that failed
  std::vector<std::string> written;  // watched files written (base names, sorted, unique)
};

// Owns one thread that blocks in poll(2) on an inotify descriptor: no wake-up while nothing is
// written. `on_build` runs on that thread, once per finished build that wrote a watched file or
// failed; it must not call back into the watcher. Destruction stops and joins the thread.
// Thread-compatible otherwise.
class BuildWatcher {
 public:
  // Starts watching the directories of `options.files` and `options.build_dir`. Returns
  // kInvalidArgument without files, or the errno of inotify_init1/inotify_add_watch
  // (kInternal, naming the directory), e.g. when a directory does not exist.
  static absl::StatusOr<std::unique_ptr<BuildWatcher>> Start(
      WatchOptions options, std::function<void(const BuildOutcome&)> on_build);
  ~BuildWatcher();

  BuildWatcher(const BuildWatcher&) = delete;
  BuildWatcher& operator=(const BuildWatcher&) = delete;

 private:
  struct State;
  BuildWatcher(std::unique_ptr<State> state);
  void Run();

  std::unique_ptr<State> state_;
  std::thread thread_;
};

}  // namespace conclave

#endif  // CONCLAVE_MAIN_WATCHER_H_
