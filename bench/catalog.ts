// The rows, in table order. Each runs in a bun process of its own (rows.ts); index.ts starts them.
import { row6, row7 } from "./heavy.ts";
import { row4, row5 } from "./inflight.ts";
import { row9 } from "./pipe.ts";
import type { RowContext } from "./rows.ts";
import { row1, row2, row3, row8 } from "./seq.ts";

export interface Row {
  id: string;
  title: string;
  run(ctx: RowContext): Promise<void>;
}

export const ROWS: Row[] = [
  { id: "1", title: "sequential spawn+wait, stdio ignored", run: row1 },
  { id: "2", title: "sequential, stdout piped", run: row2 },
  { id: "3", title: "spawnSync capturing stdout and stderr", run: row3 },
  { id: "4", title: "throughput at 8 and 1,000 in flight", run: row4 },
  { id: "5", title: "JS-thread time and event-loop delay", run: row5 },
  { id: "6", title: "4 GiB resident parent", run: row6 },
  { id: "7", title: "20,000 open fds", run: row7 },
  { id: "8", title: "2,000-variable environment", run: row8 },
  { id: "9", title: "64 MiB through a pipe", run: row9 },
];
