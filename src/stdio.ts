// The parent's ends of "pipe" slots as the objects Bun hands out: a ReadableStream for stdout and
// stderr, a FileSink for stdin. Bun never closes an fd it was given by number, so these wrappers
// close it themselves: at EOF, on cancel, on end()/close(), and (as a backstop) when collected.
import { closeFd, readAvailable } from "./native.ts";
import type { FileSink } from "bun";
import type { Slot } from "./plan.ts";

const orphans = new FinalizationRegistry<number>((fd) => closeFd(fd));

/** Ties `fd` to `owner`: the returned function closes it exactly once; collection of the owner
 * closes it if nobody did. */
function ownedFd(owner: object, fd: number): () => void {
  const token = {};
  let closed = false;
  orphans.register(owner, fd, token);
  return () => {
    if (closed) return;
    closed = true;
    orphans.unregister(token);
    closeFd(fd);
  };
}

/** A byte stream over a socket end we own; the fd is closed exactly once, when it is done. */
export function readableFromFd(fd: number, first?: Uint8Array): ReadableStream<Uint8Array> {
  let release = () => {};
  /** Closed, errored, cancelled or ended early: no read of `fd` may happen after. */
  let ended = false;
  let control: ReadableStreamDefaultController<Uint8Array>;
  const reader = Bun.file(fd).stream().getReader();
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      control = controller;
      // Bytes already taken from the fd (see Subprocess #settleUnread) come first.
      if (first) controller.enqueue(first);
    },
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (ended) return;
        if (done) {
          ended = true;
          release();
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (error) {
        release();
        if (ended) return;
        ended = true;
        controller.error(error);
      }
    },
    async cancel(reason) {
      ended = true;
      try {
        await reader.cancel(reason);
      } finally {
        release();
      }
    },
    // Read ahead without bound, as Bun does: a child must not block on an output not read yet.
  }, { highWaterMark: Infinity });
  release = ownedFd(stream, fd);
  // Ends it now with what was read and what waits in the socket, whoever still holds the other
  // end (a grandchild). Everything read so far is already queued: the inner read resolves the
  // turn it reads, and this runs in a later one. The fd closes once the inner read is cancelled.
  enders.set(stream, () => {
    if (ended) return; // at its end already: the fd may be closed, its number reused
    ended = true;
    const rest = readAvailable(fd).bytes;
    if (rest.length > 0) control.enqueue(rest);
    control.close();
    reader.cancel().then(release, release);
  });
  return stream;
}

const enders = new WeakMap<ReadableStream<Uint8Array>, () => void>();

/** Bun's rule after a timeout or abort kill: an output nobody has started to read ends at the
 * exit, with what it held, even while a grandchild keeps the pipe open. */
export function endIfUnread(stream: ReadableStream<Uint8Array> | undefined): void {
  if (stream === undefined || stream.locked) return;
  const end = enders.get(stream);
  enders.delete(stream);
  end?.();
}

/**
 * A stream over a socket end we own that is Bun's own file stream, not a JS wrapper: what Bun's
 * internals can consume natively. node:child_process turns a Subprocess's stdout into a Node
 * Readable through the stream's native source, and a JS pull wrapper has none: every program on
 * node:child_process (execa, zx, npm) read empty output.
 *
 * Bun never closes an fd it was given by number: once the stream starts it reads from a dup of
 * its own, which it closes at EOF and on cancel. Our fd may therefore close at any time after the
 * start, never before (the dup would take a dead or reused number). A consumer that tells us it
 * is done (see adoptNativeStreams) closes it then, so a destroyed stdout fails the child's next
 * write with EPIPE as under Bun; otherwise it closes once nothing can read it any more: when both
 * the stream and `owner` (the Subprocess, which node's ChildProcess holds for as long as its
 * streams can be read) are collected.
 */
export function nativeReadableFromFd(fd: number, owner: { _hold(holder: object): void }): ReadableStream<Uint8Array> {
  const stream = Bun.file(fd).stream();
  const holder = {};
  nativeOpen++;
  // Nothing but a collection closes these: with many waiting, ask for one (asynchronous).
  if (nativeOpen >= collectAt) {
    collectAt = nativeOpen * 2;
    Bun.gc(false);
  }
  nativeRegistry.register(holder, fd, holder);
  Object.defineProperty(stream, fd_holder, { value: holder });
  owner._hold(holder);
  adopter?.(() => {
    if (!nativeRegistry.unregister(holder)) return;
    closeFd(fd);
    nativeDone();
  });
  return stream as ReadableStream<Uint8Array>;
}
const fd_holder = Symbol("forkless fd holder");
let nativeOpen = 0;
let collectAt = 64;
function nativeDone(): void {
  nativeOpen--;
  if (nativeOpen < collectAt / 4 && collectAt > 64) collectAt /= 2;
}
const nativeRegistry = new FinalizationRegistry<number>((fd) => {
  closeFd(fd);
  nativeDone();
});
let adopter: ((release: () => void) => void) | undefined;

/**
 * Runs `consume`; each native stream handed out meanwhile gives `adopt` a function that closes
 * its fd, which the consumer calls once it is done with the stream (it has ended or was
 * destroyed, after Bun's start or instead of it). forkless/global wraps node:child_process's
 * stdout and stderr getters in this: their Node Readable's 'close' is that moment.
 */
export function adoptNativeStreams<T>(adopt: (release: () => void) => void, consume: () => T): T {
  const outer = adopter;
  adopter = adopt;
  try {
    return consume();
  } finally {
    adopter = outer;
  }
}

/** A FileSink on a socket end we own; end() and close() close the fd once the data is flushed. */
export function sinkFromFd(fd: number): FileSink {
  const sink = Bun.file(fd).writer();
  const release = ownedFd(sink, fd);
  const after = <T>(result: T): T => {
    if (result instanceof Promise) result.then(release, release);
    else release();
    return result;
  };
  const end = sink.end.bind(sink);
  const close = (sink as any).close?.bind(sink) as ((error?: Error) => unknown) | undefined;
  Object.defineProperty(sink, "end", { value: (error?: Error) => after(end(error)), configurable: true, writable: true });
  if (close) Object.defineProperty(sink, "close", { value: (error?: Error) => after(close(error)), configurable: true, writable: true });
  return sink;
}

/** After the child ended: flush what can be flushed, close the fd, and take no more writes
 * (Bun's write() then returns true, flush() undefined, end() 0). */
export function retireSink(sink: FileSink): void {
  try {
    const ended = sink.end();
    if (ended instanceof Promise) ended.catch(() => {});
  } catch {
    // The peer is gone (EPIPE): end() has released the fd all the same.
  }
  Object.defineProperty(sink, "write", { value: () => true, configurable: true, writable: true });
  Object.defineProperty(sink, "flush", { value: () => undefined, configurable: true, writable: true });
  Object.defineProperty(sink, "end", { value: () => 0, configurable: true, writable: true });
}

/** The number the user gave for a standard stream, when it is not the stream's own number. */
export function givenFd(slots: readonly (Slot | null)[], index: 0 | 1 | 2): number | undefined {
  const slot = slots[index];
  // A source forkless opened itself (Bun.file(path), buffer stdin) shows undefined, as in Bun.
  return slot?.kind === "fd" && slot.fd !== index && !slot.source ? slot.fd : undefined;
}

/** An fd no object was made for yet (a stream nobody asked for): closed when the owner goes. */
export function closeWhenCollected(owner: object, fd: number): object {
  const token = {};
  orphans.register(owner, fd, token);
  return token;
}

export function forget(token: object): void {
  orphans.unregister(token);
}
