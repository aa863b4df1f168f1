// The object values of stdin/stdout/stderr/stdio (buffers, Blobs, Bun.file, Response, Request,
// ReadableStream) → slots, with Bun 1.4.5's choices and errors; the fds they need are made just
// before the launch and closed right after it (the child has its own copy of the fd table).
// Left out on purpose: Bun unwraps a ReadableStream that is backed by a Blob or a file (Blob
// .stream(), Bun.file().stream(), an accessed Response.body) into a memfd or the file; nothing in
// JS tells such a stream apart, so forkless streams it through a socket: same bytes, other fd kind.
import { openSync, writeSync, constants } from "node:fs";
import type { FileSink } from "bun";
// What getReader() returns: bun-types makes the global ReadableStream node's (stream/web), whose
// reader lacks the Bun-only readMany that bun-types adds to the global reader type.
import type { ReadableStreamDefaultReader, ReadableStreamReadResult } from "node:stream/web";
import type { Slot, SlotSource, SpawnPlan } from "./plan.ts";
import { argError, systemError } from "./errors.ts";
import { closeFd, createMemfd } from "./native.ts";

const slot_ignore: Slot = Object.freeze({ kind: "ignore", fd: -1 });
const slot_pipe: Slot = Object.freeze({ kind: "pipe", fd: -1 });

/** Bun opens Bun.file(path) with O_CREAT, mode 0o664 (before the umask), and never O_TRUNC or
 * O_APPEND: an existing file is written from offset 0 over its old bytes (probed). */
const file_mode = 0o664;
const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_CLOEXEC } = constants as Record<string, number>;
const file_flags = [O_RDONLY, O_WRONLY, O_WRONLY] as const;
/** Bun's memfd writes go in pieces of at most this many bytes (a bound on one write(2)). */
const write_chunk_bytes = 1 << 30;

const stream_names = ["stdin", "stdout", "stderr"] as const;

/**
 * An object given for child fd `index` → its slot (null: nothing at that fd), or throws Bun's
 * error for it. undefined when the object is of no kind Bun accepts anywhere in stdio (the
 * caller throws Bun's generic message).
 */
export function objectSlot(value: object, index: number, sync: boolean): Slot | null | undefined {
  if (value instanceof ReadableStream) return streamSlot(value, index, sync);
  if (value instanceof Blob) return blobSlot(value, index);
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) {
    if (index === 0) return bytesSlot(ArrayBuffer.isView(value) ? value : new Uint8Array(value));
    // At an extra index Bun makes a socketpair and ignores the bytes (probed: the child reads EOF).
    if (index >= 3) return slot_pipe;
    throw argError("ERR_INVALID_ARG_TYPE", "ArrayBufferView cannot be used for stdout/stderr yet");
  }
  if (value instanceof Response || value instanceof Request) return bodySlot(value, index, sync);
  return undefined;
}

function streamSlot(stream: ReadableStream, index: number, sync: boolean): Slot {
  if (index >= 3) throw argError("ERR_INVALID_ARG_TYPE", `ReadableStream cannot be used for stdio[${index}] yet`);
  if (sync) throw argError("ERR_INVALID_ARG_TYPE", `'${stream_names[index]}' ReadableStream cannot be used in sync mode`);
  // stdout/stderr: Bun makes the socketpair and then neither reads it nor hands it out (probed).
  if (index !== 0) return { kind: "pipe", fd: -1, unread: true };
  // A stdin stream that was read from (by an earlier spawn, say) is refused before the launch,
  // with Bun's error; one that is only locked is launched with, as Bun does (the error surfaces
  // later, unhandled). JS cannot ask a stream whether it is disturbed; a Response can: its
  // constructor throws for a disturbed or locked stream, and neither locks nor reads a fresh one.
  // A locked one forkless did not feed stays unknown.
  if (fed.has(stream) || (!stream.locked && isDisturbed(stream))) {
    throw argError("ERR_INVALID_STATE", "'stdin' ReadableStream has already been used", Error as unknown as typeof TypeError);
  }
  return { kind: "pipe", fd: -1, feed: stream };
}

function isDisturbed(stream: ReadableStream): boolean {
  try {
    new Response(stream);
    return false;
  } catch {
    return true;
  }
}

function blobSlot(blob: Blob, index: number): Slot | null {
  const file = fileRef(blob);
  if (file !== null) return fileSlot(file, index);
  if (index === 0) return bytesSlot(settledBytes(blob.bytes()));
  // An empty one leaves nothing at that fd, as "ignore" does there (probed in Bun).
  if (index >= 3) {
    if (blob.size === 0) return null;
    throw argError("ERR_INVALID_ARG_TYPE", `Blob cannot be used for stdio[${index}] yet`);
  }
  throw argError("ERR_INVALID_ARG_TYPE", "Blobs are immutable, and cannot be used for stdout/stderr");
}

/** Bun.file(path) or Bun.file(fd); Bun.inspect is the only tell from JS. A slice of a file is
 * ignored, as Bun ignores it: the child gets the whole file. */
function fileRef(blob: Blob): { path: string } | { fd: number } | null {
  const shown = Bun.inspect(blob);
  if (!shown.startsWith("FileRef")) return null;
  const fd = /^FileRef \(fd: (\d+)\)/.exec(shown);
  return fd ? { fd: Number(fd[1]) } : { path: (blob as Blob & { name: string }).name };
}

function fileSlot(file: { path: string } | { fd: number }, index: number): Slot {
  // Bun.file(fd): the user's own fd, handed back as that number, as a plain number is.
  if ("fd" in file) return { kind: "fd", fd: file.fd };
  const flags = (index < 3 ? file_flags[index]! : O_RDWR) | O_CREAT | O_CLOEXEC;
  return { kind: "fd", fd: -1, source: { path: file.path, flags } };
}

/** Buffer stdin: a memfd holding the bytes, or /dev/null when there are none (as Bun). */
function bytesSlot(view: ArrayBufferView): Slot {
  if (view.byteLength === 0) return slot_ignore;
  const bytes = view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  return { kind: "fd", fd: -1, source: { bytes } };
}

/** An in-memory body reads synchronously; Bun.peek takes the already settled value. */
function settledBytes(pending: Promise<Uint8Array>): Uint8Array {
  const bytes = Bun.peek(pending);
  if (bytes instanceof Promise) {
    // Only a body that is not in memory (a network Blob) can still be pending.
    bytes.catch(() => {});
    throw argError("ERR_INVALID_ARG_TYPE", "stdin Blob is not in memory; pass its bytes or a ReadableStream");
  }
  return bytes;
}

type BodyKind = "stream" | "file" | "bytes" | "none";

/** What a Response/Request body is, without touching `.body` (which would turn it into a stream). */
function bodyKindOf(body: Response | Request): BodyKind {
  const shown = Bun.inspect(body);
  if (/\n {2}ReadableStream \{/.test(shown)) return "stream";
  if (/\n {2}FileRef \(/.test(shown)) return "file";
  if (/\n {2}Blob \(/.test(shown)) return "bytes";
  return "none";
}

function bodySlot(body: Response | Request, index: number, sync: boolean): Slot {
  const kind = bodyKindOf(body);
  if (index !== 0) {
    if (kind === "stream") {
      if (sync) throw argError("ERR_INVALID_ARG_TYPE", "ReadableStream cannot be used in sync mode");
      const target = index < 3 ? `${stream_names[index]} yet. For now, do .${stream_names[index]}` : `stdio[${index}] yet`;
      throw argError("ERR_INVALID_ARG_TYPE", `ReadableStream cannot be used for ${target}`);
    }
    if (index >= 3) throw argError("ERR_INVALID_ARG_TYPE", `Blob cannot be used for stdio[${index}] yet`);
    throw argError("ERR_INVALID_ARG_TYPE", "Blobs are immutable, and cannot be used for stdout/stderr");
  }
  if (kind === "stream") {
    if (sync) throw argError("ERR_INVALID_ARG_TYPE", "ReadableStream cannot be used in sync mode");
    // Bun hands the body stream itself out as subprocess.stdin.
    return { kind: "pipe", fd: -1, feed: body.body! };
  }
  if (body.bodyUsed) throw argError("ERR_BODY_ALREADY_USED", "Body already used");
  if (kind === "none") return slot_ignore;
  if (kind === "file") {
    const file = fileRef(Bun.peek(body.blob()) as Blob);
    if (file !== null) return fileSlot(file, 0);
  }
  return bytesSlot(settledBytes(body.bytes()));
}

// ---------------------------------------------------------------------------------------------
// Around the launch

/**
 * Runs `launch` with the plan's sources opened (files, memfds) and closes them once it returns
 * or throws: the engine checks and dups every fd before clone. Bun reports a file it cannot open
 * as the spawn's own failure (`ENOENT: …, posix_spawn '<argv[0]>'`), and so does this.
 */
export function withSources<T>(plan: SpawnPlan, command: string, launch: (plan: SpawnPlan) => T): T {
  const slots = plan.slots;
  let i = 0;
  while (i < slots.length && !slots[i]?.source) i++;
  if (i === slots.length) return launch(plan);
  const opened: number[] = [];
  try {
    const ready = slots.map((slot) => (slot?.source ? { kind: "fd" as const, fd: openSource(slot.source, command, opened) } : slot));
    return launch({ ...plan, slots: ready });
  } finally {
    for (const fd of opened) closeFd(fd);
  }
}

function openSource(source: SlotSource, command: string, opened: number[]): number {
  if ("path" in source) {
    try {
      const fd = openSync(source.path, source.flags, file_mode);
      opened.push(fd);
      return fd;
    } catch (error) {
      throw systemError(-((error as { errno?: number }).errno ?? -5), "posix_spawn", command);
    }
  }
  const fd = createMemfd();
  if (fd < 0) throw systemError(-fd, "memfd_create");
  opened.push(fd);
  const bytes = source.bytes;
  // pwrite at explicit offsets: the child starts reading at offset 0.
  for (let done = 0; done < bytes.byteLength; ) {
    const length = Math.min(write_chunk_bytes, bytes.byteLength - done);
    done += writeSync(fd, bytes, done, length, done);
  }
  return fd;
}

// ---------------------------------------------------------------------------------------------
// A ReadableStream stdin

/**
 * Pumps `stream` into the child's stdin, one chunk at a time, waiting for each to drain, so a
 * payload of any size flows without being held whole. As in Bun: the stream is locked from
 * spawn() on; the child's end closing (EPIPE) cancels the stream with that error; a stream that
 * is locked, already errored at the spawn, or yields a chunk FileSink cannot write ends the
 * child's stdin and surfaces as an unhandled rejection. One that errors later only ends the
 * child's stdin, quietly (both as in Bun, probed).
 */
/** The stdin streams a spawn has read from. */
const fed = new WeakSet<ReadableStream>();

export function feedStream(stream: ReadableStream, sink: FileSink): void {
  fed.add(stream);
  let reader: ReadableStreamDefaultReader;
  try {
    reader = stream.getReader();
  } catch (error) {
    endQuietly(sink);
    void Promise.reject(error);
    return;
  }
  const first = reader.read();
  void pump(reader, sink, first, Bun.peek.status(first) === "rejected");
}

async function pump(reader: ReadableStreamDefaultReader, sink: FileSink, first: Promise<ReadableStreamReadResult<unknown>>, erroredAtSpawn: boolean): Promise<void> {
  let chunk: ReadableStreamReadResult<unknown>;
  try {
    chunk = await first;
  } catch (error) {
    endQuietly(sink);
    if (erroredAtSpawn) throw error;
    return;
  }
  while (!chunk.done) {
    try {
      sink.write(chunk.value as Uint8Array);
    } catch (error) {
      if (!isPeerGone(error)) {
        endQuietly(sink);
        throw error;
      }
      return cancel(reader, sink, error);
    }
    try {
      await sink.flush();
    } catch (error) {
      return cancel(reader, sink, error);
    }
    try {
      chunk = await reader.read();
    } catch {
      return endQuietly(sink); // errored after the spawn
    }
  }
  endQuietly(sink);
}

function isPeerGone(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return code === "EPIPE" || code === "ECONNRESET";
}

async function cancel(reader: ReadableStreamDefaultReader, sink: FileSink, error: unknown): Promise<void> {
  endQuietly(sink);
  await reader.cancel(error).catch(() => {});
}

function endQuietly(sink: FileSink): void {
  try {
    const ended = sink.end();
    if (ended instanceof Promise) ended.catch(() => {});
  } catch {
    // EPIPE at the last flush: end() has released the fd all the same.
  }
}
