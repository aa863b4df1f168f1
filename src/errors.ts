// Bun-shaped errors: the exact objects Bun.spawn / Bun.spawnSync 1.4.5 throw, so that code which
// inspects `code`, `errno`, `syscall`, `path` or `message` cannot tell forkless from Bun.
// Deliberately left out: Bun's `originalLine`/`originalColumn` bookkeeping and its native stack frame.
//
// Probed against Bun 1.4.5 on Linux (root; a cwd without permission could not be made):
//
// | situation                              | class  | message                                                | code    | errno | syscall     | path      |
// |----------------------------------------|--------|--------------------------------------------------------|---------|-------|-------------|-----------|
// | cmd[0] not found in PATH               | Error  | Executable not found in $PATH: "x"                     | ENOENT  | -2    | (absent)    | cmd[0] ¹  |
// | cwd missing                            | Error  | ENOENT: no such file or directory, posix_spawn 'true'  | ENOENT  | -2    | posix_spawn | argv[0] ² |
// | cwd is a regular file                  | Error  | ENOTDIR: not a directory, posix_spawn 'true'           | ENOTDIR | -20   | posix_spawn | argv[0]   |
// | executable is a non-executable file    | Error  | EACCES: permission denied, posix_spawn '/etc/passwd'   | EACCES  | -13   | posix_spawn | argv[0]   |
// | executable is a directory              | Error  | EACCES: permission denied, posix_spawn '/etc'          | EACCES  | -13   | posix_spawn | argv[0]   |
// | missing /abs, ./rel or a/b path        | Error  | ENOENT: no such file or directory, posix_spawn './x'   | ENOENT  | -2    | posix_spawn | argv[0]   |
// | #! interpreter missing                 | Error  | ENOENT: no such file or directory, posix_spawn './x'   | ENOENT  | -2    | posix_spawn | argv[0]   |
// | no #!, junk bytes (exec format)        | Error  | ENOEXEC: unknown error, posix_spawn './x' ³            | ENOEXEC | -8    | posix_spawn | argv[0]   |
// | stdio fd not open (async only ⁴)       | Error  | EBADF: bad file descriptor, posix_spawn 'true'         | EBADF   | -9    | posix_spawn | argv[0]   |
// | EMFILE making a "pipe" stdio           | Error  | EMFILE: too many open files, socketpair                | EMFILE  | -24   | socketpair  | (absent)  |
// | EMFILE in the spawn itself             | Error  | EMFILE: too many open files, posix_spawn 'true'        | EMFILE  | -24   | posix_spawn | argv[0]   |
//
// ¹ absent when cmd[0] is "" (Bun never sets an empty `path` or `syscall`).
// ² argv[0] is `argv0` when given: the path Bun reports is the name the child would have seen, not
//   cmd[0] and not the resolved file. A missing cwd is found only at spawn time, so a command that
//   is also missing from PATH reports "Executable not found" first.
// ³ Bun's description table is libuv's list; errnos not in it (ENOEXEC, ECHILD, …) print
//   "unknown error". ⁴ spawnSync with an fd that is not open does not throw in Bun.
// Own enumerable keys are code, path, syscall, errno in that order (absent ones skipped), all
// writable and non-configurable; the class is plain Error; `name` is "Error".
//
// Argument errors (ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE) are TypeErrors whose prototype is
// a per-code object { name: "TypeError", code, toString } on top of TypeError.prototype, so `code`
// is inherited, not own, and String(err) is "TypeError [CODE]: message".

/** Linux errno → the name Bun 1.4.5 reports. Bun's own table, including its quirks: 41 is
 * "EWOULDBLOCK" and 58 "EDEADLOCK" (numbers Linux leaves unused), 95 is "ENOTSUP". */
const errno_names: readonly string[] = [
  "SUCCESS", "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF",
  "ECHILD", "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV", "ENODEV",
  "ENOTDIR", "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC", "ESPIPE",
  "EROFS", "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK", "ENAMETOOLONG", "ENOLCK", "ENOSYS", "ENOTEMPTY",
  "ELOOP", "EWOULDBLOCK", "ENOMSG", "EIDRM", "ECHRNG", "EL2NSYNC", "EL3HLT", "EL3RST", "ELNRNG", "EUNATCH",
  "ENOCSI", "EL2HLT", "EBADE", "EBADR", "EXFULL", "ENOANO", "EBADRQC", "EBADSLT", "EDEADLOCK", "EBFONT",
  "ENOSTR", "ENODATA", "ETIME", "ENOSR", "ENONET", "ENOPKG", "EREMOTE", "ENOLINK", "EADV", "ESRMNT",
  "ECOMM", "EPROTO", "EMULTIHOP", "EDOTDOT", "EBADMSG", "EOVERFLOW", "ENOTUNIQ", "EBADFD", "EREMCHG", "ELIBACC",
  "ELIBBAD", "ELIBSCN", "ELIBMAX", "ELIBEXEC", "EILSEQ", "ERESTART", "ESTRPIPE", "EUSERS", "ENOTSOCK", "EDESTADDRREQ",
  "EMSGSIZE", "EPROTOTYPE", "ENOPROTOOPT", "EPROTONOSUPPORT", "ESOCKTNOSUPPORT", "ENOTSUP", "EPFNOSUPPORT", "EAFNOSUPPORT", "EADDRINUSE", "EADDRNOTAVAIL",
  "ENETDOWN", "ENETUNREACH", "ENETRESET", "ECONNABORTED", "ECONNRESET", "ENOBUFS", "EISCONN", "ENOTCONN", "ESHUTDOWN", "ETOOMANYREFS",
  "ETIMEDOUT", "ECONNREFUSED", "EHOSTDOWN", "EHOSTUNREACH", "EALREADY", "EINPROGRESS", "ESTALE", "EUCLEAN", "ENOTNAM", "ENAVAIL",
  "EISNAM", "EREMOTEIO", "EDQUOT", "ENOMEDIUM", "EMEDIUMTYPE", "ECANCELED", "ENOKEY", "EKEYEXPIRED", "EKEYREVOKED", "EKEYREJECTED",
  "EOWNERDEAD", "ENOTRECOVERABLE", "ERFKILL", "EHWPOISON",
];

/** Bun's description for an errno name (libuv's uv_strerror text); anything else is "unknown error". */
const errno_descriptions: Readonly<Record<string, string>> = {
  E2BIG: "argument list too long", EACCES: "permission denied", EADDRINUSE: "address already in use",
  EADDRNOTAVAIL: "address not available", EAFNOSUPPORT: "address family not supported",
  EAGAIN: "resource temporarily unavailable", EALREADY: "connection already in progress",
  EBADF: "bad file descriptor", EBUSY: "resource busy or locked", ECANCELED: "operation canceled",
  ECONNABORTED: "software caused connection abort", ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by peer", EDESTADDRREQ: "destination address required",
  EEXIST: "file already exists", EFAULT: "bad address in system call argument", EFBIG: "file too large",
  EHOSTUNREACH: "host is unreachable", EINTR: "interrupted system call", EINVAL: "invalid argument",
  EIO: "i/o error", EISCONN: "socket is already connected", EISDIR: "illegal operation on a directory",
  ELOOP: "too many symbolic links encountered", EMFILE: "too many open files", EMSGSIZE: "message too long",
  ENAMETOOLONG: "name too long", ENETDOWN: "network is down", ENETUNREACH: "network is unreachable",
  ENFILE: "file table overflow", ENOBUFS: "no buffer space available", ENODEV: "no such device",
  ENOENT: "no such file or directory", ENOMEM: "not enough memory", ENONET: "machine is not on the network",
  ENOPROTOOPT: "protocol not available", ENOSPC: "no space left on device", ENOSYS: "function not implemented",
  ENOTCONN: "socket is not connected", ENOTDIR: "not a directory", ENOTEMPTY: "directory not empty",
  ENOTSOCK: "socket operation on non-socket", ENOTSUP: "operation not supported on socket",
  EOVERFLOW: "value too large for defined data type", EPERM: "operation not permitted", EPIPE: "broken pipe",
  EPROTO: "protocol error", EPROTONOSUPPORT: "protocol not supported", EPROTOTYPE: "protocol wrong type for socket",
  ERANGE: "result too large", EROFS: "read-only file system", ESHUTDOWN: "cannot send after transport endpoint shutdown",
  ESPIPE: "invalid seek", ESRCH: "no such process", ETIMEDOUT: "connection timed out", ETXTBSY: "text file is busy",
  EXDEV: "cross-device link not permitted", ENXIO: "no such device or address", EMLINK: "too many links",
  EHOSTDOWN: "host is down", EREMOTEIO: "remote I/O error", ENOTTY: "inappropriate ioctl for device",
  EILSEQ: "illegal byte sequence", ESOCKTNOSUPPORT: "socket type not supported", ENODATA: "no data available",
  EUNATCH: "protocol driver not attached",
};

/** The code Bun reports for a positive Linux errno ("UNKNOWN" outside Bun's table: not probed). */
export function errnoCode(errno: number): string {
  return (errno > 0 && errno < errno_names.length ? errno_names[errno] : undefined) ?? "UNKNOWN";
}

/** The description Bun prints for a positive Linux errno. */
export function errnoDescription(errno: number): string {
  return errno_descriptions[errnoCode(errno)] ?? "unknown error";
}

/** Defines the fields of a Bun SystemError in Bun's order: writable, enumerable, not configurable. */
function defineField(error: Error, key: string, value: string | number): void {
  Object.defineProperty(error, key, { value, writable: true, enumerable: true, configurable: false });
}

/** Bun's SystemError for a failed syscall: `CODE: description, syscall 'path'`, errno negative. */
export function systemError(errno: number /* positive */, syscall: string, path?: string): Error {
  const code = errnoCode(errno);
  const where = path === undefined || path === "" ? syscall : `${syscall} '${path}'`;
  const error = new Error(`${code}: ${errnoDescription(errno)}, ${where}`);
  // Defined before anything reads `stack`, so the own-property order matches Bun's
  // (message, code, path, syscall, errno, then the lazily added stack bookkeeping).
  defineField(error, "code", code);
  if (path !== undefined && path !== "") defineField(error, "path", path);
  if (syscall !== "") defineField(error, "syscall", syscall);
  defineField(error, "errno", -errno);
  return error;
}

/** What Bun throws when cmd[0] has no "/" and is not found in PATH: no `syscall`. */
export function executableNotFound(command: string): Error {
  const error = new Error(`Executable not found in $PATH: "${command}"`);
  defineField(error, "code", "ENOENT");
  if (command !== "") defineField(error, "path", command);
  defineField(error, "errno", -2);
  return error;
}

/** Engine failure stages (zig/src/abi.zig Stage; a failed child leaves one in its launch). */
export const launch_stage = { cwd: 1, exec: 2, resource: 3, reaped_elsewhere: 10 } as const;

const EMFILE = 24;
const ENFILE = 23;

/**
 * Maps the engine's failure report to the error Bun throws for the same situation.
 * `command` is argv[0] as the child would see it (SpawnRequest.command); `file` is the resolved
 * path given to execve, kept for callers that want it but never reported, because Bun reports argv[0].
 */
export function launchError(stage: number, errno: number, command: string, file: string): Error {
  void file;
  // Not a launch failure: the child ended, but a waitpid(-1) elsewhere in the process took its
  // status first (the engine reaps by pidfd; it cannot stop others from waiting for any child).
  if (stage === launch_stage.reaped_elsewhere) return systemError(errno, "waitid", command);
  if (stage === launch_stage.resource && (errno === EMFILE || errno === ENFILE)) {
    // Bun makes its "pipe" stdio with socketpair before the spawn and reports it without a path.
    return systemError(errno, "socketpair");
  }
  // cwd failures, exec failures and a failed clone (EAGAIN, ENOMEM) are all one posix_spawn
  // failure in Bun, reported against argv[0].
  return systemError(errno, "posix_spawn", command);
}

type ArgErrorClass = typeof TypeError | typeof RangeError;
const arg_error_protos = new Map<string, object>();

/** Bun's node-style argument error: `code` lives on a per-code prototype, as in Bun. */
export function argError(code: string, message: string, Class: ArgErrorClass = TypeError): Error {
  const key = `${Class.name}:${code}`;
  let proto = arg_error_protos.get(key);
  if (proto === undefined) {
    const field = (value: unknown) => ({ value, writable: true, enumerable: true, configurable: true });
    proto = Object.create(Class.prototype, {
      name: field(Class.name),
      code: field(code),
      toString: field(function (this: Error & { code: string }) {
        return `${this.name} [${this.code}]: ${this.message}`;
      }),
    }) as object;
    arg_error_protos.set(key, proto);
  }
  const error = new Class(message);
  Object.setPrototypeOf(error, proto);
  return error;
}

/** Thrown for a documented Bun option forkless does not implement yet. */
export function unsupportedOption(what: string): Error {
  return argError("ERR_FORKLESS_UNSUPPORTED", `forkless does not support ${what} yet`);
}

/**
 * Quotes a string the way Bun's "without null bytes" messages do for cmd[0], cwd and argv0:
 * \b \t \n \f \r short escapes, other C0 controls as \u00XX (upper-case hex), `"` and `\`
 * escaped, U+2028, U+2029 and U+FEFF escaped, lone surrogates replaced by U+FFFD.
 */
export function quoteLikeBun(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0x20 && unit !== 0x22 && unit !== 0x5c && unit < 0x2028) {
      out += text[i];
    } else if (unit >= 0xd800 && unit <= 0xdfff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += text[i]! + text[i + 1]!;
        i++;
      } else {
        out += "\ufffd";
      }
    } else {
      out += escapeUnit(unit, text[i]!);
    }
  }
  return out + '"';
}

function escapeUnit(unit: number, char: string): string {
  switch (unit) {
    case 0x08: return "\\b";
    case 0x09: return "\\t";
    case 0x0a: return "\\n";
    case 0x0c: return "\\f";
    case 0x0d: return "\\r";
    case 0x22: return '\\"';
    case 0x5c: return "\\\\";
  }
  if (unit < 0x20 || unit === 0x2028 || unit === 0x2029 || unit === 0xfeff) {
    return "\\u" + unit.toString(16).toUpperCase().padStart(4, "0");
  }
  return char;
}

/** Bun's ERR_INVALID_ARG_VALUE for a string holding a NUL byte. `quoted` says whether Bun escapes it. */
export function nullByteError(subject: string, value: string, quoted: boolean): Error {
  // Bun builds the message from UTF-8, so lone surrogates come out as U+FFFD either way.
  const received = quoted ? quoteLikeBun(value) : `"${value.toWellFormed()}"`;
  return argError(
    "ERR_INVALID_ARG_VALUE",
    `The ${subject.toWellFormed()} must be a string without null bytes. Received ${received}`,
  );
}
