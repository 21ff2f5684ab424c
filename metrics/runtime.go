package metrics

// The Go runtime's and the process's series come from the library, which
// writes their # HELP lines without text and names three of them against
// the Prometheus rules; tidy mends both with the tables below.

// renamed are the library's names that break the Prometheus rules (a
// counter without _total, a gauge named like a summary's count), and the
// names served instead.
var renamed = map[string]string{
	"go_cgo_calls_count": "go_cgo_calls_total",
	"go_gc_forced_count": "go_gc_forced_total",
	"go_cpu_count":       "go_cpus",
}

// runtimeHelp is the # HELP text of the Go runtime's and the process's
// families (Linux, macOS and Windows write a subset each), by the names
// served.
var runtimeHelp = map[string]string{
	"go_sched_latencies_seconds":          "Time goroutines spent ready to run before running (buckets up to 1 s).",
	"go_mutex_wait_seconds_total":         "Time goroutines spent blocked on a sync.Mutex or sync.RWMutex.",
	"go_gc_mark_assist_cpu_seconds_total": "CPU time goroutines spent helping the garbage collector mark.",
	"go_gc_cpu_seconds_total":             "CPU time spent in the garbage collector.",
	"go_gc_pauses_seconds":                "Stop-the-world pauses of the garbage collector (buckets up to 1 s).",
	"go_scavenge_cpu_seconds_total":       "CPU time spent returning memory to the operating system.",
	"go_memlimit_bytes":                   "The Go memory limit (GOMEMLIMIT); the largest int64 when none is set.",
	"go_memstats_alloc_bytes":             "Bytes of heap objects allocated and not yet freed.",
	"go_memstats_alloc_bytes_total":       "Bytes allocated for heap objects.",
	"go_memstats_buck_hash_sys_bytes":     "Bytes of memory in profiling bucket hash tables.",
	"go_memstats_frees_total":             "Heap objects freed.",
	"go_memstats_gc_cpu_fraction":         "Fraction of the available CPU time the garbage collector has used since the process started.",
	"go_memstats_gc_sys_bytes":            "Bytes of memory in garbage collection metadata.",
	"go_memstats_heap_alloc_bytes":        "Bytes of heap objects allocated and not yet freed.",
	"go_memstats_heap_idle_bytes":         "Bytes in idle heap spans.",
	"go_memstats_heap_inuse_bytes":        "Bytes in in-use heap spans.",
	"go_memstats_heap_objects":            "Heap objects allocated and not yet freed.",
	"go_memstats_heap_released_bytes":     "Bytes of physical memory returned to the operating system.",
	"go_memstats_heap_sys_bytes":          "Bytes of heap memory obtained from the operating system.",
	"go_memstats_last_gc_time_seconds":    "When the last garbage collection finished, in seconds since the Unix epoch.",
	"go_memstats_lookups_total":           "Pointer lookups performed by the runtime.",
	"go_memstats_mallocs_total":           "Heap objects allocated.",
	"go_memstats_mcache_inuse_bytes":      "Bytes of allocated mcache structures.",
	"go_memstats_mcache_sys_bytes":        "Bytes of memory obtained from the operating system for mcache structures.",
	"go_memstats_mspan_inuse_bytes":       "Bytes of allocated mspan structures.",
	"go_memstats_mspan_sys_bytes":         "Bytes of memory obtained from the operating system for mspan structures.",
	"go_memstats_next_gc_bytes":           "Heap size at which the next garbage collection starts.",
	"go_memstats_other_sys_bytes":         "Bytes of memory in miscellaneous off-heap runtime allocations.",
	"go_memstats_stack_inuse_bytes":       "Bytes of goroutine stacks in use.",
	"go_memstats_stack_sys_bytes":         "Bytes of stack memory obtained from the operating system.",
	"go_memstats_sys_bytes":               "Bytes of memory obtained from the operating system by the Go runtime.",
	"go_cgo_calls_total":                  "Calls from Go to C (next to none in a static build).",
	"go_cpus":                             "Logical CPUs the process may use.",
	"go_gc_duration_seconds":              "Stop-the-world pauses of the garbage collector: quantiles of the last 256, sum and count of all.",
	"go_gc_forced_total":                  "Garbage collections forced by the program.",
	"go_gomaxprocs":                       "GOMAXPROCS: how many processors run Go code at once.",
	"go_goroutines":                       "Goroutines that exist.",
	"go_threads":                          "Operating system threads created by the Go runtime.",
	"go_info":                             "The Go version the binary was built with, in the version label.",
	"go_info_ext":                         "The compiler, GOARCH, GOOS and GOROOT of the binary, in labels.",

	"process_cpu_seconds_system_total":              "CPU time the process spent in the kernel.",
	"process_cpu_seconds_total":                     "CPU time the process spent, in user space and in the kernel.",
	"process_cpu_seconds_user_total":                "CPU time the process spent in user space.",
	"process_major_pagefaults_total":                "Page faults of the process that needed a disk read.",
	"process_minor_pagefaults_total":                "Page faults of the process resolved without a disk read.",
	"process_pagefaults_total":                      "Page faults of the process.",
	"process_num_threads":                           "Threads of the process.",
	"process_resident_memory_bytes":                 "Resident memory of the process (RSS).",
	"process_resident_memory_peak_bytes":            "The largest resident memory the process has had.",
	"process_resident_memory_anon_bytes":            "Resident memory of the process not backed by a file (heap, stacks).",
	"process_resident_memory_file_bytes":            "Resident memory of the process backed by files (the binary, the database's mapping).",
	"process_resident_memory_shared_bytes":          "Resident shared memory of the process.",
	"process_start_time_seconds":                    "When the process started, in seconds since the Unix epoch.",
	"process_virtual_memory_bytes":                  "Virtual memory of the process.",
	"process_virtual_memory_peak_bytes":             "The largest virtual memory the process has had.",
	"process_virtual_memory_max_bytes":              "The most virtual memory the process may have.",
	"process_io_read_bytes_total":                   "Bytes the process read through system calls.",
	"process_io_written_bytes_total":                "Bytes the process wrote through system calls.",
	"process_io_read_syscalls_total":                "Read system calls of the process.",
	"process_io_write_syscalls_total":               "Write system calls of the process.",
	"process_io_storage_read_bytes_total":           "Bytes the process had read from storage.",
	"process_io_storage_written_bytes_total":        "Bytes the process had written to storage.",
	"process_pressure_cpu_waiting_seconds_total":    "Time some tasks of the process's cgroup waited for a CPU (pressure stall information).",
	"process_pressure_cpu_stalled_seconds_total":    "Time all tasks of the process's cgroup waited for a CPU (pressure stall information).",
	"process_pressure_io_waiting_seconds_total":     "Time some tasks of the process's cgroup waited for I/O (pressure stall information).",
	"process_pressure_io_stalled_seconds_total":     "Time all tasks of the process's cgroup waited for I/O (pressure stall information).",
	"process_pressure_memory_waiting_seconds_total": "Time some tasks of the process's cgroup waited for memory (pressure stall information).",
	"process_pressure_memory_stalled_seconds_total": "Time all tasks of the process's cgroup waited for memory (pressure stall information).",
	"process_cgroup_cpu_throttled_seconds_total":    "Time the process's cgroup was held back by its CPU quota.",
	"process_max_fds":                               "File descriptors the process may have open (its soft limit, LimitNOFILE under systemd).",
	"process_open_fds":                              "File descriptors the process has open.",
}
