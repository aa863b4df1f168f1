// The object Bun's resourceUsage() returns, over the engine's raw rusage (18 int64s). Like Bun's,
// it has no own keys: every field is a getter on its prototype, and its constructor is Object.

const record = <T extends object>(fields: T): T => Object.assign(Object.create(null), fields);

export class ResourceUsage {
  #ru: BigInt64Array;

  /** @internal */
  constructor(ru: BigInt64Array) {
    this.#ru = ru;
  }

  get contextSwitches(): { voluntary: number; involuntary: number } {
    return record({ voluntary: Number(this.#ru[16]), involuntary: Number(this.#ru[17]) });
  }
  get cpuTime(): { user: bigint; system: bigint; total: bigint } {
    const user = this.#ru[0]! * 1_000_000n + this.#ru[1]!;
    const system = this.#ru[2]! * 1_000_000n + this.#ru[3]!;
    return record({ user, system, total: user + system });
  }
  /** Bytes (the kernel counts KiB). */
  get maxRSS(): number {
    return Number(this.#ru[4]) * 1024;
  }
  get messages(): { sent: number; received: number } {
    return record({ sent: Number(this.#ru[13]), received: Number(this.#ru[14]) });
  }
  get ops(): { in: number; out: number } {
    return record({ in: Number(this.#ru[11]), out: Number(this.#ru[12]) });
  }
  get shmSize(): number {
    return Number(this.#ru[5]);
  }
  get signalCount(): number {
    return Number(this.#ru[15]);
  }
  get swapCount(): number {
    return Number(this.#ru[10]);
  }
}
Object.defineProperty(ResourceUsage.prototype, "constructor", { value: Object });
Object.defineProperty(ResourceUsage.prototype, Symbol.toStringTag, { value: "ResourceUsage", configurable: true });

export function resourceUsageOf(ru: BigInt64Array): ResourceUsage {
  return new ResourceUsage(ru);
}
