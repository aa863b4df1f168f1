// The child every row launches, built static (`gcc -static -O2`) so that exec cost is the kernel's,
// not the dynamic loader's. No stdio buffering, no locale: raw write(2) and exit.
//   tiny            exit 0 at once (the trivial `true`)
//   tiny say        write "out\n" to stdout and "err\n" to stderr, exit 0
//   tiny spew N     write N zero bytes to stdout in 64 KiB writes, exit 0
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(int fd, const char *bytes, size_t count) {
  while (count > 0) {
    ssize_t n = write(fd, bytes, count);
    if (n < 0) return -1;
    bytes += n;
    count -= (size_t)n;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return 0;
  if (strcmp(argv[1], "say") == 0) {
    if (write_all(1, "out\n", 4) != 0) return 1;
    if (write_all(2, "err\n", 4) != 0) return 1;
    return 0;
  }
  if (strcmp(argv[1], "spew") == 0 && argc == 3) {
    static char zeros[65536];
    long long left = atoll(argv[2]);
    while (left > 0) {
      size_t chunk = left < (long long)sizeof zeros ? (size_t)left : sizeof zeros;
      if (write_all(1, zeros, chunk) != 0) return 1;
      left -= (long long)chunk;
    }
    return 0;
  }
  return 2;
}
