// The C reference loop: what a careful C program pays for the same spawns the JS rows measure —
// vfork (or fork, for the 4 GiB cliff) + close_range(CLOEXEC) + execve + waitpid, nothing else.
// It leaves out error reporting from the child (an exec failure is exit 127) and any event loop.
// Usage: loop MODE [key=value ...]; prints one line of JSON with microseconds (or MB/s).
//   seq      n= stdio=ignore|pipe|sync fork=0|1 env_count= env_bytes= fds= touch_gib=
//   inflight n= k=        µs per spawn with k children alive at once (waitpid(-1): all ours)
//   pause    n= k=        µs the parent is suspended in vfork (k in flight), per spawn
//   spew     n= bytes=    MB/s of `tiny spew bytes` read through a socketpair, n rounds
//   cliff    n= fork_n= touch_gib=  seq with vfork (n) and fork (fork_n), before and after
//                                  making touch_gib GiB resident
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define MAX_SAMPLES 100000

static const char *tiny_path;
static char **child_env;
static int devnull_fd;

struct options {
  long n, k, fork, fork_n, env_count, env_bytes, fds, touch_gib;
  long long bytes;
  const char *stdio;
};

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void die(const char *what) {
  fprintf(stderr, "loop: %s: %s\n", what, strerror(errno));
  exit(1);
}

// The vfork child shares our memory and stack: it may only dup2, close_range and execve.
static pid_t launch(char *const argv[], int in_fd, int out_fd, int err_fd, int use_fork) {
  pid_t pid = use_fork ? fork() : vfork();
  if (pid < 0) die(use_fork ? "fork" : "vfork");
  if (pid == 0) {
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(126);
    // The JS rows may hold thousands of non-CLOEXEC fds; a correct spawner never leaks them.
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    execve(argv[0], argv, child_env);
    _exit(127);
  }
  return pid;
}

static void wait_ok(pid_t pid) {
  int status;
  if (waitpid(pid, &status, 0) != pid) die("waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "loop: child status %d\n", status);
    exit(1);
  }
}

static long read_to_end(int fd, char *buf, size_t buf_bytes) {
  long total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, buf_bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("read");
    if (n == 0) return total;
    total += n;
  }
}

// stdout (and for "sync" stderr too) through pipes, read to the end with poll like a runtime would.
static void one_spawn(const struct options *o) {
  static char say[] = "say";
  char *argv_true[] = {(char *)tiny_path, NULL};
  char *argv_say[] = {(char *)tiny_path, say, NULL};
  char buf[4096];
  if (strcmp(o->stdio, "ignore") == 0) {
    wait_ok(launch(argv_true, devnull_fd, devnull_fd, devnull_fd, (int)o->fork));
    return;
  }
  int out[2], err[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) < 0) die("pipe2");
  int sync_mode = strcmp(o->stdio, "sync") == 0;
  if (sync_mode && pipe2(err, O_CLOEXEC) < 0) die("pipe2");
  pid_t pid = launch(argv_say, devnull_fd, out[1], sync_mode ? err[1] : devnull_fd, (int)o->fork);
  close(out[1]);
  if (sync_mode) close(err[1]);
  long got = 0;
  if (!sync_mode) {
    got = read_to_end(out[0], buf, sizeof buf);
  } else {
    struct pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open_count = 2;
    while (open_count > 0) {
      if (poll(p, 2, -1) < 0) die("poll");
      for (int i = 0; i < 2; i++) {
        if (p[i].fd < 0 || p[i].revents == 0) continue;
        ssize_t n = read(p[i].fd, buf, sizeof buf);
        if (n < 0) die("read");
        if (n == 0) { close(p[i].fd); p[i].fd = -1; open_count--; }
        got += n;
      }
    }
  }
  if (!sync_mode) close(out[0]); // the poll loop closed both in sync mode
  wait_ok(pid);
  if (got != (sync_mode ? 8 : 4)) { fprintf(stderr, "loop: read %ld bytes\n", got); exit(1); }
}

static void print_samples(const char *name, const double *samples, long count, int last) {
  printf("\"%s\":[", name);
  for (long i = 0; i < count; i++) printf(i ? ",%.3f" : "%.3f", samples[i]);
  printf(last ? "]" : "],");
}

static void seq_samples(const struct options *o, double *samples) {
  for (long i = 0; i < o->n; i++) {
    double t0 = now_us();
    one_spawn(o);
    samples[i] = now_us() - t0;
  }
}

// k children alive at once; when timing_pause, time only the launch call (the parent's pause).
static void inflight(const struct options *o, double *samples, int timing_pause) {
  char *argv_true[] = {(char *)tiny_path, NULL};
  long launched = 0, running = 0, done = 0;
  while (done < o->n) {
    while (running < o->k && launched < o->n) {
      double t0 = now_us();
      launch(argv_true, devnull_fd, devnull_fd, devnull_fd, 0);
      if (timing_pause) samples[launched] = now_us() - t0;
      launched++;
      running++;
    }
    int status;
    if (waitpid(-1, &status, 0) < 0) die("waitpid");
    running--;
    done++;
  }
}

static void spew(const struct options *o, double *samples) {
  static char buf[65536];
  char bytes_arg[32], spew_arg[] = "spew";
  snprintf(bytes_arg, sizeof bytes_arg, "%lld", o->bytes);
  char *argv[] = {(char *)tiny_path, spew_arg, bytes_arg, NULL};
  for (long i = 0; i < o->n; i++) {
    // Bulk bytes go through an AF_UNIX socketpair, as Bun's "pipe" does: a 64 KiB pipe makes the
    // writer and the reader take turns and measured 3-4x slower here than either.
    int out[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) < 0) die("socketpair");
    double t0 = now_us();
    pid_t pid = launch(argv, devnull_fd, out[1], devnull_fd, 0);
    close(out[1]);
    long got = read_to_end(out[0], buf, sizeof buf);
    close(out[0]);
    wait_ok(pid);
    if (got != o->bytes) { fprintf(stderr, "loop: spew read %ld\n", got); exit(1); }
    samples[i] = (double)o->bytes / (now_us() - t0); // bytes per µs == MB/s
  }
}

// Resident, not just reserved: MAP_POPULATE faults every page in (2.5x faster than touching them
// one by one here), exactly as the Bun rows do through bun:ffi.
static void touch_memory(long gib) {
  size_t bytes = (size_t)gib << 30;
  char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED) die("mmap");
  p[bytes - 1] = 1;
}

static void open_fds(long count) {
  for (long i = 0; i < count; i++) {
    if (open("/dev/null", O_RDONLY) < 0) die("open /dev/null");
  }
}

extern char **environ;

// count == 0: the child gets our own environment, as the JS rows' children do by default.
static void build_env(long count, long value_bytes) {
  if (count == 0) { child_env = environ; return; }
  child_env = calloc((size_t)count + 1, sizeof *child_env);
  for (long i = 0; i < count; i++) {
    child_env[i] = malloc((size_t)value_bytes + 32);
    int len = sprintf(child_env[i], "FL_BENCH_%04ld=", i);
    memset(child_env[i] + len, 'x', (size_t)value_bytes);
    child_env[i][len + value_bytes] = 0;
  }
}

static long option(const char *arg, const char *key, long fallback) {
  size_t len = strlen(key);
  return strncmp(arg, key, len) == 0 && arg[len] == '=' ? atol(arg + len + 1) : fallback;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: loop TINY MODE [key=value...]\n"); return 2; }
  tiny_path = argv[1];
  const char *mode = argv[2];
  struct options o = {.n = 100, .k = 8, .stdio = "ignore", .bytes = 1 << 20};
  for (int i = 3; i < argc; i++) {
    o.n = option(argv[i], "n", o.n);
    o.k = option(argv[i], "k", o.k);
    o.fork = option(argv[i], "fork", o.fork);
    o.fork_n = option(argv[i], "fork_n", o.fork_n);
    o.env_count = option(argv[i], "env_count", o.env_count);
    o.env_bytes = option(argv[i], "env_bytes", o.env_bytes);
    o.fds = option(argv[i], "fds", o.fds);
    o.touch_gib = option(argv[i], "touch_gib", o.touch_gib);
    if (strncmp(argv[i], "bytes=", 6) == 0) o.bytes = atoll(argv[i] + 6);
    if (strncmp(argv[i], "stdio=", 6) == 0) o.stdio = argv[i] + 6;
  }
  if (o.n < 1 || o.n > MAX_SAMPLES || o.k < 1) { fprintf(stderr, "loop: bad n or k\n"); return 2; }
  devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull_fd < 0) die("open /dev/null");
  build_env(o.env_count, o.env_bytes);
  open_fds(o.fds);
  static double samples[MAX_SAMPLES];
  printf("{");
  if (strcmp(mode, "seq") == 0) {
    if (o.touch_gib) touch_memory(o.touch_gib);
    seq_samples(&o, samples);
    print_samples("samples_us", samples, o.n, 1);
  } else if (strcmp(mode, "inflight") == 0) {
    double t0 = now_us();
    inflight(&o, samples, 0);
    printf("\"us_per_spawn\":%.3f", (now_us() - t0) / (double)o.n);
  } else if (strcmp(mode, "pause") == 0) {
    inflight(&o, samples, 1);
    print_samples("samples_us", samples, o.n, 1);
  } else if (strcmp(mode, "spew") == 0) {
    spew(&o, samples);
    print_samples("mb_per_s", samples, o.n, 1);
  } else if (strcmp(mode, "cliff") == 0) {
    // fork with gigabytes resident costs ~0.1 s a call: the fork loops get their own, smaller n.
    struct options with_vfork = o, with_fork = o;
    with_vfork.fork = 0;
    with_fork.fork = 1;
    with_fork.n = o.fork_n > 0 && o.fork_n <= MAX_SAMPLES ? o.fork_n : o.n;
    seq_samples(&with_vfork, samples); print_samples("vfork_0", samples, with_vfork.n, 0);
    seq_samples(&with_fork, samples); print_samples("fork_0", samples, with_fork.n, 0);
    touch_memory(o.touch_gib);
    seq_samples(&with_vfork, samples); print_samples("vfork_mem", samples, with_vfork.n, 0);
    seq_samples(&with_fork, samples); print_samples("fork_mem", samples, with_fork.n, 1);
  } else {
    fprintf(stderr, "loop: unknown mode %s\n", mode);
    return 2;
  }
  printf("}\n");
  return 0;
}
