// The object Bun's resourceUsage() returns, built from the engine's raw rusage (18 int64s).

export interface ResourceUsage {
  contextSwitches: { voluntary: number; involuntary: number };
  cpuTime: { user: bigint; system: bigint; total: bigint };
  maxRSS: number;
  messages: { sent: number; received: number };
  ops: { in: number; out: number };
  shmSize: number;
  signalCount: number;
  swapCount: number;
}

const record = <T extends object>(fields: T): T => Object.assign(Object.create(null), fields);

export function resourceUsageOf(ru: BigInt64Array): ResourceUsage {
  const user = ru[0]! * 1_000_000n + ru[1]!;
  const system = ru[2]! * 1_000_000n + ru[3]!;
  return {
    contextSwitches: record({ voluntary: Number(ru[16]), involuntary: Number(ru[17]) }),
    cpuTime: record({ user, system, total: user + system }),
    maxRSS: Number(ru[4]) * 1024,
    messages: record({ sent: Number(ru[13]), received: Number(ru[14]) }),
    ops: record({ in: Number(ru[11]), out: Number(ru[12]) }),
    shmSize: Number(ru[5]),
    signalCount: Number(ru[15]),
    swapCount: Number(ru[10]),
  };
}
