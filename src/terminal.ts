// Terminal: Bun.Terminal's PTY, field for field (Bun 1.4.5): openpty through libc, the master read
// through Bun.file(fd).stream() and written through a FileSink, the slave given to children.
// Left out on purpose: Windows ConPTY. One known difference: see `unref()`.
import { closeFd, dupFd, getTermios, openPty, setTermios, setWindowSize, TERMIOS_BYTES } from "./native.ts";
import { argError, unsupportedOption } from "./errors.ts";
import { PausableReader } from "./ipc.ts";
import type { BufferSource, FileSink } from "bun";
import type { Slot, SpawnPlan } from "./plan.ts";

export interface TerminalOptions {
  cols?: number;
  rows?: number;
  name?: string;
  data?: (terminal: Terminal, data: Buffer) => void;
  exit?: (terminal: Terminal, exitCode: number, signal: string | null) => void;
  drain?: (terminal: Terminal) => void;
}

/** The options as Bun reads them: sizes coerced and defaulted, callbacks only when callable. */
interface ParsedOptions {
  cols: number;
  rows: number;
  name: string;
  data: TerminalOptions["data"];
  exit: TerminalOptions["exit"];
  drain: TerminalOptions["drain"];
}

const max_name_length = 128;

// termios offsets and bits (glibc, Linux): the flag words, then c_line, then c_cc[32] at 17.
const IFLAG = 0, OFLAG = 4, CFLAG = 8, LFLAG = 12, CC = 17, ISPEED = 52, OSPEED = 56;
const B38400 = 0o17;
const VINTR = 0, VQUIT = 1, VERASE = 2, VKILL = 3, VEOF = 4, VTIME = 5, VMIN = 6, VSTART = 8, VSTOP = 9;
const VSUSP = 10, VEOL = 11, VREPRINT = 12, VDISCARD = 13, VWERASE = 14, VLNEXT = 15;
/** Bun's "cooked" defaults (node-pty's): ICRNL IXON IXANY IMAXBEL BRKINT IUTF8 / OPOST ONLCR /
 * CREAD CS8 HUPCL B38400 / ICANON ISIG IEXTEN ECHO ECHOE ECHOK ECHOKE ECHOCTL. */
const cooked = { iflag: 0x6d02, oflag: 0x5, cflag: 0x4b0 | B38400, lflag: 0x8a3b };
const cooked_cc: [number, number][] = [
  [VEOF, 4], [VEOL, 0], [VERASE, 0x7f], [VWERASE, 23], [VKILL, 21], [VREPRINT, 18], [VINTR, 3],
  [VQUIT, 0x1c], [VSUSP, 26], [VSTART, 17], [VSTOP, 19], [VLNEXT, 22], [VDISCARD, 15], [VMIN, 1], [VTIME, 0],
];
// libuv's raw mode, which Bun's setRawMode uses: these bits off, CS8 on, VMIN 1, VTIME 0.
const raw_iflag_off = 0x2 | 0x100 | 0x10 | 0x20 | 0x400; // BRKINT ICRNL INPCK ISTRIP IXON
const raw_lflag_off = 0x8 | 0x2 | 0x8000 | 0x1; // ECHO ICANON IEXTEN ISIG
const CS8 = 0x30;

/** Bun coerces cols/rows to an int32 (saturating) and keeps the default outside 1..65535. */
function readSize(value: unknown, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  let n = typeof value === "bigint" ? Number(value) : Number(value);
  n = Number.isNaN(n) ? 0 : Math.trunc(Math.min(Math.max(n, -(2 ** 31)), 2 ** 31 - 1));
  return n > 0 && n <= 65535 ? n : fallback;
}

/** Bun's Terminal.Options.parseFromJS, in its order: cols, rows, name, data, exit, drain. */
export function parseTerminalOptions(options: Record<string, unknown>): ParsedOptions {
  const cols = readSize(options.cols, 80);
  const rows = readSize(options.rows, 24);
  const raw_name = options.name;
  let name = "";
  if (raw_name !== undefined && raw_name !== null) {
    if (typeof raw_name !== "string") {
      throw argError("ERR_INVALID_ARG_TYPE", `The "name" property must be of type string, got ${typeof raw_name}`);
    }
    if (raw_name.length > max_name_length) throw new Error(`Terminal name too long (max ${max_name_length} characters)`);
    name = raw_name;
  }
  const callable = (value: unknown) => (typeof value === "function" ? (value as any) : undefined);
  return { cols, rows, name: name || "xterm-256color", data: callable(options.data), exit: callable(options.exit), drain: callable(options.drain) };
}

/** Reports an exception from a user callback without stopping the reader that called it. */
function report(error: unknown): void {
  reportError(error);
}

const parsed_marker = Symbol("forkless.parsedTerminalOptions");

/** A backstop for a terminal nobody closed: its fds close when it is collected (the reader holds
 * it while the PTY is live, so that is after EOF). */
const unclosed = new FinalizationRegistry<number[]>((fds) => {
  for (const fd of fds) if (fd >= 0) closeFd(fd);
});

export class Terminal implements AsyncDisposable {
  #options: ParsedOptions;
  /** The master for ioctls; reads and writes go through their own duplicates, as in Bun. */
  #master: number;
  #slave: number;
  #readFd: number;
  #writeFd: number;
  #sink: FileSink | undefined;
  #reader: PausableReader;
  #closed = false;
  /** The reader reached EOF or an error, or close() ended it: `exit` has been called. */
  #readerDone = false;
  /** After asyncDispose no callback runs again. */
  #silenced = false;
  #savedTermios: Uint8Array | undefined;
  /** Made by spawn from an options object: its slave went to that one child. */
  #inline = false;

  constructor(options: TerminalOptions) {
    const given = options as unknown;
    if (given === undefined || given === null || (typeof given !== "object" && typeof given !== "function")) {
      throw new Error("Terminal constructor requires an options object");
    }
    this.#options = (given as any)[parsed_marker] ?? parseTerminalOptions(given as Record<string, unknown>);
    const opened = openPty(this.#options.cols, this.#options.rows);
    if (typeof opened === "number") throw new Error("Failed to open PTY");
    [this.#master, this.#slave] = opened;
    applyCooked(this.#slave);
    this.#readFd = dupFd(this.#master);
    this.#writeFd = dupFd(this.#master);
    if (this.#readFd < 0 || this.#writeFd < 0) {
      for (const fd of [this.#master, this.#slave, this.#readFd, this.#writeFd]) if (fd >= 0) closeFd(fd);
      throw new Error("Failed to duplicate PTY file descriptor");
    }
    this.#reader = new PausableReader(this.#readFd, (chunk) => this.#receive(chunk), (failed) => this.#endReader(failed ? 1 : 0));
    unclosed.register(this, this.#fds, this);
  }

  /** Every fd this terminal owns, for the backstop (kept current: the slave may close first). */
  get #fds(): number[] {
    return [this.#master, this.#slave, this.#readFd, this.#writeFd];
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes everything (buffering what the PTY cannot take yet); returns the byte length. */
  write(data: string | BufferSource): number {
    if (this.#closed) throw new Error("Terminal is closed");
    if (data === undefined || data === null) throw new Error("write() requires data argument");
    let bytes: Uint8Array;
    if (typeof data === "string") bytes = Buffer.from(data, "utf8");
    else if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) bytes = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else throw new Error("write() argument must be a string or ArrayBuffer");
    if (bytes.byteLength === 0) return 0;
    const sink = (this.#sink ??= Bun.file(this.#writeFd).writer());
    sink.write(bytes);
    const flushed = sink.flush();
    const drain = this.#options.drain;
    if (drain && flushed instanceof Promise) {
      flushed.then(() => {
        if (!this.#silenced) drain.call(this, this);
      }, () => {});
    }
    return bytes.byteLength;
  }

  resize(cols: number, rows: number): void {
    if (this.#closed) throw new Error("Terminal is closed");
    const valid = (n: unknown) => typeof n === "number" && (n | 0) > 0 && (n | 0) <= 65535;
    if (!valid(cols)) throw new Error("resize() requires valid cols argument");
    if (!valid(rows)) throw new Error("resize() requires valid rows argument");
    if (setWindowSize(this.#master, cols | 0, rows | 0) !== 0) throw new Error("Failed to resize terminal");
  }

  setRawMode(enabled: boolean): void {
    if (this.#closed) throw new Error("Terminal is closed");
    const termios = new Uint8Array(TERMIOS_BYTES);
    if (!getTermios(this.#master, termios)) throw new Error("Failed to set raw mode");
    if (enabled) {
      this.#savedTermios ??= termios.slice();
      const view = new DataView(termios.buffer);
      view.setUint32(IFLAG, view.getUint32(IFLAG, true) & ~raw_iflag_off, true);
      view.setUint32(CFLAG, view.getUint32(CFLAG, true) | CS8, true);
      view.setUint32(LFLAG, view.getUint32(LFLAG, true) & ~raw_lflag_off, true);
      termios[CC + VMIN] = 1;
      termios[CC + VTIME] = 0;
      if (!setTermios(this.#master, termios)) throw new Error("Failed to set raw mode");
    } else if (this.#savedTermios) {
      if (!setTermios(this.#master, this.#savedTermios)) throw new Error("Failed to set raw mode");
    }
  }

  get inputFlags(): number {
    return this.#flag(IFLAG);
  }
  set inputFlags(value: number) {
    this.#setFlag(IFLAG, value);
  }
  get outputFlags(): number {
    return this.#flag(OFLAG);
  }
  set outputFlags(value: number) {
    this.#setFlag(OFLAG, value);
  }
  get localFlags(): number {
    return this.#flag(LFLAG);
  }
  set localFlags(value: number) {
    this.#setFlag(LFLAG, value);
  }
  get controlFlags(): number {
    return this.#flag(CFLAG);
  }
  set controlFlags(value: number) {
    this.#setFlag(CFLAG, value);
  }

  /** Keeps the event loop alive while the terminal is open (the default). */
  ref(): void {
    if (this.#closed) return;
    this.#reader.resume();
  }

  /**
   * Lets the program exit while the terminal is open. Bun keeps reading an unref'd terminal; a
   * pending Bun.file() read cannot be unref'd, so forkless stops reading until ref() (nothing is
   * lost: the output waits in the PTY).
   */
  unref(): void {
    if (this.#closed) return;
    this.#reader.pause();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    unclosed.unregister(this);
    const sink = this.#sink;
    this.#sink = undefined;
    const writeFd = this.#writeFd;
    if (sink) Promise.resolve(sink.end()).then(() => closeFd(writeFd), () => closeFd(writeFd));
    else closeFd(writeFd);
    const readFd = this.#readFd;
    // Closing ends the reader: `exit` with 0 at once, as Bun does inside close().
    this.#endReader(0);
    this.#reader.stop().then(() => closeFd(readFd));
    closeFd(this.#master);
    if (this.#slave >= 0) closeFd(this.#slave);
    this.#slave = -1;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#silenced = true;
    this.close();
  }

  get [Symbol.toStringTag](): string {
    return "Terminal";
  }

  #flag(offset: number): number {
    if (this.#closed) return 0;
    const termios = new Uint8Array(TERMIOS_BYTES);
    if (!getTermios(this.#master, termios)) return 0;
    return new DataView(termios.buffer).getUint32(offset, true);
  }

  #setFlag(offset: number, value: unknown): void {
    if (this.#closed) return;
    let n = typeof value === "bigint" ? Number(value) : Number(value);
    // Bun clamps into u32 range; NaN ends up at the top of it.
    n = Number.isNaN(n) ? 0xffffffff : Math.trunc(Math.min(Math.max(n, 0), 0xffffffff));
    const termios = new Uint8Array(TERMIOS_BYTES);
    if (!getTermios(this.#master, termios)) return;
    new DataView(termios.buffer).setUint32(offset, n, true);
    setTermios(this.#master, termios);
  }

  #receive(chunk: Uint8Array): void {
    const data = this.#options.data;
    if (!data || this.#silenced) return;
    try {
      data.call(this, this, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (error) {
      report(error);
    }
  }

  #endReader(status: number): void {
    if (this.#readerDone) return;
    this.#readerDone = true;
    const exit = this.#options.exit;
    if (!exit || this.#silenced) return;
    try {
      exit.call(this, this, status, null);
    } catch (error) {
      report(error);
    }
  }

  /** @internal The slots a child of this terminal gets: its slave at fds 0, 1 and 2. */
  _slots(slots: readonly (Slot | null)[]): (Slot | null)[] {
    const slave: Slot = { kind: "fd", fd: this.#slave };
    const out = slots.slice();
    out[0] = out[1] = out[2] = slave;
    return out;
  }

  /** @internal A child of an inline terminal has it; the parent's slave goes so EOF can come. */
  _spawnedInline(): void {
    this.#inline = true;
    if (this.#slave >= 0) closeFd(this.#slave);
    this.#slave = -1;
    unclosed.unregister(this);
    unclosed.register(this, this.#fds, this);
  }

  /** @internal Bun's checks for a Terminal given to spawn, in Bun's order. */
  _checkReusable(): void {
    if (this.#closed) throw argError("ERR_INVALID_ARG_TYPE", "terminal is closed");
    if (this.#inline) throw argError("ERR_INVALID_ARG_TYPE", "terminal was created inline by a previous spawn and cannot be reused");
    if (this.#slave < 0) throw argError("ERR_INVALID_ARG_TYPE", "terminal slave fd is no longer valid");
  }
}

function applyCooked(fd: number): void {
  const termios = new Uint8Array(TERMIOS_BYTES);
  if (!getTermios(fd, termios)) return;
  const view = new DataView(termios.buffer);
  view.setUint32(IFLAG, cooked.iflag, true);
  view.setUint32(OFLAG, cooked.oflag, true);
  view.setUint32(CFLAG, cooked.cflag, true);
  view.setUint32(LFLAG, cooked.lflag, true);
  for (const [index, value] of cooked_cc) termios[CC + index] = value;
  view.setUint32(ISPEED, B38400, true);
  view.setUint32(OSPEED, B38400, true);
  setTermios(fd, termios);
}

/** What spawn's `terminal` option became after validation: options for a new PTY, or a Terminal. */
export type TerminalRequest = { options: ParsedOptions } | { existing: Terminal };

/** Validates spawn's `terminal` option (Bun reads it only when truthy). */
export function readTerminalOption(value: unknown): TerminalRequest {
  if (value instanceof Terminal) {
    value._checkReusable();
    return { existing: value };
  }
  // Bun's own Terminal keeps its PTY out of reach: reading it as options would open a new one.
  if (value instanceof Bun.Terminal) throw unsupportedOption("a Bun.Terminal as `terminal` (use forkless's Terminal)");
  if ((typeof value === "object" || typeof value === "function") && value !== null) {
    return { options: parseTerminalOptions(value as Record<string, unknown>) };
  }
  throw argError("ERR_INVALID_ARG_TYPE", "terminal must be a Terminal object or options object");
}

/** The terminal of one launch and the plan that puts it at fds 0–2. A new (inline) terminal
 * makes the child a session leader with the PTY as its controlling terminal; an existing one is
 * only the child's stdio, as in Bun (no setsid). */
export function terminalForLaunch(request: TerminalRequest, plan: SpawnPlan): { terminal: Terminal; plan: SpawnPlan; inline: boolean } {
  if ("existing" in request) {
    const terminal = request.existing;
    // Checked again: the terminal may have been closed between validation and launch.
    terminal._checkReusable();
    return { terminal, plan: { ...plan, slots: terminal._slots(plan.slots) }, inline: false };
  }
  const terminal = new Terminal({ [parsed_marker]: request.options } as unknown as TerminalOptions);
  return { terminal, plan: { ...plan, slots: terminal._slots(plan.slots), controllingTerminal: true }, inline: true };
}
