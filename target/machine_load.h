// Is the machine quiet enough to measure on? Labels are only as good as the machine is idle: a build
// beside a measurement moved the v1 labels by a median 41 % (data/reference/README.md). These helpers
// read Linux's /proc to tell how much CPU other processes use and who they are, so that `measure`
// can warn, record the load in every record and, with --require-idle, refuse to start or wait.
//
// All CPU quantities are in "cores": CPU seconds per wall-clock second (2.0 = two cores fully busy).
#ifndef PERFGRAPH_TARGET_MACHINE_LOAD_H_
#define PERFGRAPH_TARGET_MACHINE_LOAD_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace perfgraph::target {

// Busy CPU time of the whole machine since boot (user + nice + system + irq + softirq + steal from
// the "cpu" line of /proc/stat), seconds. Error: kUnavailable when /proc/stat cannot be read.
absl::StatusOr<double> MachineBusyCpuSeconds();

// CPU time (utime + stime of /proc/PID/stat) of one process, seconds. Error: kNotFound when the
// process is gone or /proc is unreadable.
absl::StatusOr<double> ProcessCpuSeconds(pid_t pid);

// The 1-minute load average (/proc/loadavg), or -1 when unreadable.
double LoadAverage1m();

struct BusyProcess {
  pid_t pid = 0;
  std::string command;  // /proc/PID/comm
  double cores = 0;     // CPU used during the sample interval
};

struct LoadSample {
  double other_cores = 0;              // CPU used by processes other than `exclude`, cores
  std::vector<BusyProcess> busiest;    // processes over 0.05 cores, busiest first (at most max_listed)
  double load_average = -1;            // LoadAverage1m() at the end of the interval
  // "cc1plus(1234) 0.95 cores, python3(99) 0.40 cores" or "" when nobody is busy.
  std::string Describe() const;
};

// Samples every process's CPU time twice, `interval` apart (blocking), and sums what processes
// other than `exclude` (and its descendants) used; `exclude` <= 0 excludes nothing. `busiest` lists
// at most `max_listed` processes (5: enough to name the culprits in a message). Error: kUnavailable
// when /proc is unreadable.
absl::StatusOr<LoadSample> SampleMachineLoad(absl::Duration interval, pid_t exclude,
                                             int max_listed = 5);

// Restricts the calling thread (and threads it creates later, e.g. Halide's thread pool) to the
// first `num_cpus` CPUs it is allowed to run on, so every measurement runs on the same cores.
// Returns the CPUs chosen. Error: kInvalidArgument when fewer are allowed; kUnavailable when the
// OS refuses (sched_setaffinity).
absl::StatusOr<std::vector<int>> PinToCpus(int num_cpus);

}  // namespace perfgraph::target

#endif  // PERFGRAPH_TARGET_MACHINE_LOAD_H_
