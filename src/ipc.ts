// The IPC channel of spawn's `ipc` option: the parent's end of an AF_UNIX socketpair the engine
// made (a "pipe" slot), speaking Bun's two wire formats exactly (probed on Bun 1.4.5):
//   "json":     one JSON text per line ("\n"); a line that starts with 0x02 is internal.
//   "advanced": [type u8][length u32 LE][body]; type 1 = version (length is the version, 2, no
//               body), 2 = message, 3 = internal message, 4 = a message holding Buffers, sent
//               as the envelope [message, buffers] (JSC's serializer turns a Buffer into a plain
//               Uint8Array; the receiver gives the listed views Buffer's prototype back, and
//               serialization keeps identity, so every occurrence is restored); body = JSC's
//               SerializedScriptValue, byte for byte what bun:jsc's serialize() writes, except
//               that Blobs cross as {}.
// Both formats reserve messages whose `cmd` is "NODE_HANDLE" (a handle is coming; with no fd
// attached Bun answers NODE_HANDLE_NACK) and "NODE_HANDLE_ACK"/"NODE_HANDLE_NACK": they are
// protocol traffic and never reach the `ipc` callback.
// Left out on purpose: handles (sockets/servers sent along a message) and cluster's internal
// messages, which are read and dropped.
import { serialize, deserialize } from "bun:jsc";
import type { FileSink } from "bun";
// What getReader() returns: bun-types makes the global ReadableStream node's (stream/web), whose
// reader lacks the Bun-only readMany that bun-types adds to the global reader type.
import type { ReadableStreamDefaultReader } from "node:stream/web";
import { closeFd } from "./native.ts";
import { argError } from "./errors.ts";
import type { SpawnPlan } from "./plan.ts";

export type Serialization = "json" | "advanced";

/** What options.ts decided for `ipc`: the callback, the format and the child's fd number. */
export interface IpcRequest {
  onMessage: (message: unknown, subprocess: unknown, handle?: unknown) => void;
  mode: Serialization;
  fd: number;
}

/** Bun's reading of `ipc` and `serialization` (spawn only): a callable `ipc` opens a channel;
 * a truthy `serialization` must be "json" or "advanced" (the default). Undefined: no channel. */
export function readIpcOptions(ipc: unknown, serialization: unknown): Omit<IpcRequest, "fd"> | undefined {
  if (typeof ipc !== "function") return undefined;
  let mode: Serialization = "advanced";
  if (serialization) {
    if (typeof serialization !== "string") throw argError("ERR_INVALID_ARG_TYPE", "Expected serialization to be a string for 'spawn'.");
    if (serialization !== "json" && serialization !== "advanced") {
      throw argError("ERR_INVALID_ARG_TYPE", 'serialization must be "json" or "advanced"');
    }
    mode = serialization;
  }
  return { onMessage: ipc as IpcRequest["onMessage"], mode };
}

/** Adds the channel to a plan as Bun does: the last "ipc" stdio entry's socketpair, else one at
 * the first fd after every stdio entry; NODE_CHANNEL_FD / NODE_CHANNEL_SERIALIZATION_MODE at the
 * end of the environment. */
export function addIpcToPlan(plan: SpawnPlan, ipc: Omit<IpcRequest, "fd">): IpcRequest {
  let fd = plan.slots.findLastIndex((slot) => slot?.ipc === true);
  if (fd < 0) {
    fd = plan.slots.length;
    plan.slots = [...plan.slots, { kind: "pipe", fd: -1 }];
  }
  plan.envp = [...plan.envp, `NODE_CHANNEL_FD=${fd}`, `NODE_CHANNEL_SERIALIZATION_MODE=${ipc.mode}`];
  return { ...ipc, fd };
}

const TYPE_VERSION = 1;
const TYPE_MESSAGE = 2;
const TYPE_INTERNAL = 3;
const TYPE_MESSAGE_WITH_BUFFERS = 4;
const HEADER_BYTES = 5;
const version_packet = new Uint8Array([TYPE_VERSION, 2, 0, 0, 0]);
const NEWLINE = 0x0a;
const INTERNAL_PREFIX = 0x02;
/** Bun's tag for its own host objects (Blob, File, Bun.file()) in a serialized value. */
const BUN_HOST_TAG = 0xfe;
const utf8 = new TextDecoder();

/** Bun's validation of a message, after the channel checks (see Subprocess.send). */
export function checkMessage(message: unknown): void {
  if (message === undefined) throw argError("ERR_MISSING_ARGS", 'The "message" argument must be specified');
  if (typeof message === "bigint" || typeof message === "symbol") {
    const shown = typeof message === "bigint" ? `${message}n` : String(message);
    throw argError(
      "ERR_INVALID_ARG_TYPE",
      `The "message" argument must be one of type string, object, number, or boolean. Received type ${typeof message} (${shown})`,
    );
  }
}

export function channelClosedError(message: string): Error {
  return argError("ERR_IPC_CHANNEL_CLOSED", message, Error as unknown as typeof TypeError);
}

/** One message in the channel's wire format. Throws what JSON.stringify or the cloner throws. */
export function encodeMessage(mode: Serialization, message: unknown): Uint8Array {
  if (mode === "json") {
    // JSON.stringify gives undefined for a function: Bun then sends an empty line, and so do we.
    return Buffer.from((JSON.stringify(message) ?? "") + "\n", "utf8");
  }
  const envelope = buffersIn(message);
  const value = envelope ?? message;
  let body = serialize(value, { binaryType: "nodebuffer" });
  // IPC serializes "for cross-process transfer", where Bun's Blobs become empty objects; the tag
  // byte can also occur inside data, so its presence only tells us to look.
  if (body.includes(BUN_HOST_TAG)) body = serialize(withoutBlobs(value, new Map()), { binaryType: "nodebuffer" });
  const packet = Buffer.allocUnsafe(HEADER_BYTES + body.byteLength);
  packet[0] = envelope ? TYPE_MESSAGE_WITH_BUFFERS : TYPE_MESSAGE;
  packet.writeUInt32LE(body.byteLength, 1);
  packet.set(body, HEADER_BYTES);
  return packet;
}

/** The [message, buffers] envelope when `message` holds Buffers, else undefined. The walk follows
 * what the serializer follows (Map and Set entries, own enumerable properties) but descends data
 * properties only, so no getter runs twice; a Buffer behind a getter crosses as a Uint8Array, as
 * in Bun. */
function buffersIn(message: unknown): [unknown, Buffer[]] | undefined {
  const buffers: Buffer[] = [];
  const seen = new Set<object>();
  const stack = [message];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current !== "object" || current === null || seen.has(current)) continue;
    seen.add(current);
    if (ArrayBuffer.isView(current)) {
      if (Buffer.isBuffer(current)) buffers.push(current);
    } else if (current instanceof Map) {
      for (const [key, entry] of current) stack.push(key, entry);
    } else if (current instanceof Set) {
      for (const entry of current) stack.push(entry);
    } else {
      for (const key of Object.keys(current)) {
        const property = Object.getOwnPropertyDescriptor(current, key);
        if (property && "value" in property) stack.push(property.value);
      }
    }
  }
  return buffers.length > 0 ? [message, buffers] : undefined;
}

/** The receiving side of buffersIn(); a malformed envelope throws Bun's error. */
function restoreBuffers(envelope: unknown): unknown {
  if (!Array.isArray(envelope) || envelope.length !== 2 || !Array.isArray(envelope[1])) {
    throw new Error("failed to parse serialized buffer envelope");
  }
  for (const view of envelope[1]) if (ArrayBuffer.isView(view) && !(view instanceof DataView)) Object.setPrototypeOf(view, Buffer.prototype);
  return envelope[0];
}

/** A copy of the containers on the way to each Blob, with the Blob replaced by {}. */
function withoutBlobs(value: unknown, copies: Map<object, unknown>): unknown {
  if (typeof value !== "object" || value === null) return value;
  const known = copies.get(value);
  if (known !== undefined) return known;
  if (value instanceof Blob) {
    const empty = {};
    copies.set(value, empty);
    return empty;
  }
  if (value instanceof Map) {
    const copy = new Map();
    copies.set(value, copy);
    for (const [k, v] of value) copy.set(withoutBlobs(k, copies), withoutBlobs(v, copies));
    return copy;
  }
  if (value instanceof Set) {
    const copy = new Set();
    copies.set(value, copy);
    for (const v of value) copy.add(withoutBlobs(v, copies));
    return copy;
  }
  // Plain objects, arrays and class instances cross as their own enumerable properties; every
  // other kind (Date, RegExp, buffers, errors, boxed primitives …) is kept as it is.
  const tag = Object.prototype.toString.call(value);
  if (tag !== "[object Object]" && tag !== "[object Array]") return value;
  // An array's copy is filled by the string keys Object.keys gives, as a plain object's is.
  const copy = (Array.isArray(value) ? new Array(value.length) : {}) as Record<string, unknown>;
  copies.set(value, copy);
  for (const key of Object.keys(value)) copy[key] = withoutBlobs((value as Record<string, unknown>)[key], copies);
  return copy;
}

/**
 * Reads an fd we own through Bun.file(fd).stream(), and can stop holding the event loop. A
 * pending Bun read cannot be unref'd, and cancelling a stream drops what Bun already read ahead
 * into its queue; but at a macrotask boundary a read is always pending, so its queue is empty.
 * pause() therefore cancels from a setImmediate, and resume() opens a new stream on the same fd.
 */
export class PausableReader {
  #fd: number;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #wantPaused = false;
  #ended = false;
  #onChunk: (chunk: Uint8Array) => void;
  #onEnd: (failed: boolean) => void;

  /** `onEnd` runs once, at EOF (false) or a read error (true), never after stop(). */
  constructor(fd: number, onChunk: (chunk: Uint8Array) => void, onEnd: (failed: boolean) => void) {
    this.#fd = fd;
    this.#onChunk = onChunk;
    this.#onEnd = onEnd;
    this.#start();
  }

  pause(): void {
    this.#wantPaused = true;
    setImmediate(() => {
      const reader = this.#reader;
      if (!this.#wantPaused || !reader) return;
      this.#reader = undefined;
      reader.cancel().catch(() => {});
    });
  }

  resume(): void {
    this.#wantPaused = false;
    if (!this.#reader && !this.#ended) this.#start();
  }

  /** Stops for good; resolves once Bun has let go of the fd (it may be closed then). */
  stop(): Promise<void> {
    this.#ended = true;
    const reader = this.#reader;
    this.#reader = undefined;
    return reader ? reader.cancel().catch(() => {}) : Promise.resolve();
  }

  #start(): void {
    const reader = Bun.file(this.#fd).stream().getReader();
    this.#reader = reader;
    this.#pump(reader);
  }

  async #pump(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    let failed = false;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        // Paused or stopped meanwhile: this stream is no longer ours to report on.
        if (reader !== this.#reader) return;
        if (done) break;
        this.#onChunk(value);
        if (reader !== this.#reader) return;
      }
    } catch {
      if (reader !== this.#reader) return;
      failed = true;
    }
    this.#reader = undefined;
    this.#ended = true;
    this.#onEnd(failed);
  }
}

/** The handle-protocol command a message carries, if it is one (Bun reads `cmd` off any object). */
function handleCommand(message: unknown): string | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const cmd = (message as { cmd?: unknown }).cmd;
  return cmd === "NODE_HANDLE" || cmd === "NODE_HANDLE_ACK" || cmd === "NODE_HANDLE_NACK" ? cmd : undefined;
}

/** Splits incoming bytes into messages; `broken` means the peer broke the format there (the
 * messages before the break are still delivered, as Bun does). */
class Decoder {
  #mode: Serialization;
  #buffer = new Uint8Array(0);

  constructor(mode: Serialization) {
    this.#mode = mode;
  }

  push(chunk: Uint8Array): { messages: unknown[]; broken: boolean } {
    const joined = new Uint8Array(this.#buffer.byteLength + chunk.byteLength);
    joined.set(this.#buffer, 0);
    joined.set(chunk, this.#buffer.byteLength);
    const messages: unknown[] = [];
    const consumed = this.#mode === "json" ? decodeLines(joined, messages) : decodePackets(joined, messages);
    if (consumed < 0) return { messages, broken: true };
    this.#buffer = joined.subarray(consumed);
    return { messages, broken: false };
  }
}

/** Returns the bytes consumed, or -1 when a line is empty or not JSON (Bun closes the channel). */
function decodeLines(bytes: Uint8Array, out: unknown[]): number {
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(NEWLINE, start);
    if (end < 0) return start;
    if (end === start) return -1;
    const internal = bytes[start] === INTERNAL_PREFIX;
    const text = utf8.decode(bytes.subarray(internal ? start + 1 : start, end));
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return -1;
    }
    if (!internal) out.push(message);
    start = end + 1;
  }
}

function decodePackets(bytes: Uint8Array, out: unknown[]): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start = 0;
  while (bytes.byteLength - start >= HEADER_BYTES) {
    const type = bytes[start];
    const length = view.getUint32(start + 1, true);
    if (type === TYPE_VERSION) {
      start += HEADER_BYTES;
      continue;
    }
    if (type !== TYPE_MESSAGE && type !== TYPE_INTERNAL && type !== TYPE_MESSAGE_WITH_BUFFERS) return -1;
    if (bytes.byteLength - start - HEADER_BYTES < length) break;
    let message: unknown;
    try {
      message = deserialize(bytes.slice(start + HEADER_BYTES, start + HEADER_BYTES + length));
    } catch {
      return -1;
    }
    if (type === TYPE_MESSAGE_WITH_BUFFERS) {
      try {
        message = restoreBuffers(message);
      } catch (error) {
        // Bun reports a failed restore as this delivery's uncaught error, then closes the
        // channel as for any input it cannot decode.
        reportError(error);
        return -1;
      }
    }
    if (type !== TYPE_INTERNAL) out.push(message);
    start += HEADER_BYTES + length;
  }
  return start;
}

/**
 * The parent's end of one channel. It is closed once: by disconnect(), by the peer (EOF: the
 * child disconnected or exited), or by malformed input; `onClose` runs once after any of them.
 * While open and ref'd it keeps a read pending, which holds the event loop; setRef(false) pauses.
 */
export class IpcChannel {
  #fd: number;
  #mode: Serialization;
  #sink: FileSink;
  #reader: PausableReader;
  #decoder: Decoder;
  #open = true;
  #onMessage: (message: unknown) => void;
  #onClose: () => void;
  /** disconnect()'s onClose, until it has run. */
  #closing: ReturnType<typeof setImmediate> | undefined;

  constructor(fd: number, mode: Serialization, onMessage: (message: unknown) => void, onClose: () => void) {
    this.#fd = fd;
    this.#mode = mode;
    this.#decoder = new Decoder(mode);
    this.#onMessage = onMessage;
    this.#onClose = onClose;
    this.#sink = Bun.file(fd).writer();
    if (mode === "advanced") this.#write(version_packet);
    this.#reader = new PausableReader(fd, (chunk) => this.#receive(chunk), () => this.#peerClosed());
  }

  /** Subprocess.ref()/unref(): an unref'd channel stops reading (see PausableReader) until ref'd. */
  setRef(reffed: boolean): void {
    if (!this.#open) return;
    if (reffed) this.#reader.resume();
    else this.#reader.pause();
  }

  get connected(): boolean {
    return this.#open;
  }

  /** Encodes and queues one message; `done` runs once it has been handed to the kernel. */
  send(message: unknown, done?: (error: null) => void): void {
    const flushed = this.#write(encodeMessage(this.#mode, message));
    if (done) Promise.resolve(flushed).then(() => process.nextTick(done, null), () => process.nextTick(done, null));
  }

  /** Closes our end after what was sent is flushed; onClose follows in a later task, as in Bun. */
  disconnect(): void {
    if (!this.#open) return;
    this.#shut();
    this.#closing = setImmediate(() => this.settleClose());
  }

  /** Runs a disconnect()'s pending onClose now. Bun reports a disconnect before it looks at any
   * later I/O, so before the child's exit; an immediate can wait behind an event-loop poll that
   * the exit ends, so the Subprocess calls this before it reports an exit. */
  settleClose(): void {
    if (this.#closing === undefined) return;
    clearImmediate(this.#closing);
    this.#closing = undefined;
    this.#onClose();
  }

  /** A write the child can no longer take (EPIPE, ECONNRESET) ends the channel; it never throws
   * out of spawn() or send(), as Bun's do not. */
  #write(bytes: Uint8Array): unknown {
    try {
      this.#sink.write(bytes);
      const flushed = this.#sink.flush();
      if (flushed instanceof Promise) flushed.catch(() => this.#peerClosedLater());
      return flushed;
    } catch {
      this.#peerClosedLater();
      return undefined;
    }
  }

  #peerClosedLater(): void {
    setImmediate(() => this.#peerClosed());
  }

  #shut(): void {
    this.#open = false;
    const fd = this.#fd;
    // The fd closes after both the writer has flushed and the reader has let go of it.
    const writerDone = Promise.resolve(this.#sink.end()).catch(() => {});
    Promise.all([writerDone, this.#reader.stop()]).then(() => closeFd(fd));
  }

  #receive(chunk: Uint8Array): void {
    const { messages, broken } = this.#decoder.push(chunk);
    for (const message of messages) {
      if (!this.#open) return;
      const command = handleCommand(message);
      if (command !== undefined) {
        if (command === "NODE_HANDLE") this.#write(encodeMessage(this.#mode, { cmd: "NODE_HANDLE_NACK" }));
        continue;
      }
      try {
        this.#onMessage(message);
      } catch (error) {
        reportError(error);
      }
    }
    if (broken && this.#open) this.#peerClosed();
  }

  /** EOF, a read error or malformed input: the channel is over from the child's side. */
  #peerClosed(): void {
    if (!this.#open) return;
    this.#shut();
    this.#onClose();
  }
}
