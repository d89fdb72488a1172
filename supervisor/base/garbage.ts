// Bytes streamed through the process (an image layer: network → hash → gunzip → podd-init)
// leave their chunks as garbage faster than V8 collects it: it looks for dead Buffers only once
// some 64 MB of them have piled up, so a pull would raise the daemon's peak memory by tens of MB
// whatever the layer's size. A young-generation collection (a millisecond or less: the chunks
// die young) every few MiB streamed keeps the peak flat. V8 hands out its gc function only to
// a context made while --expose-gc is set; the flag is cleared again at once.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type Collect = () => void;

/**
 * Bytes between two collections, counted at every stage they pass (a gzip layer's bytes count
 * as they arrive and again unpacked): more cost memory, fewer cost collections. Measured: 3 MiB
 * holds a pull of 4 layers at once to ~17 MB above the start; without collections, ~40.
 */
export const STREAMED_BETWEEN_COLLECTIONS = 3 * 1024 * 1024;

function v8MinorGc(): Collect | undefined {
  try {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as ((o: { type: "minor" }) => void) | undefined;
    setFlagsFromString("--no-expose-gc");
    return gc ? () => gc({ type: "minor" }) : undefined;
  } catch {
    return undefined;
  }
}

export class StreamedGarbage {
  private pending = 0;
  private collector: Collect | undefined | null = null;

  /** find: the collector, asked for when the first collection is due (a new context costs a millisecond or two). */
  constructor(private readonly find: () => Collect | undefined, private readonly every = STREAMED_BETWEEN_COLLECTIONS) {}

  private get collect(): Collect | undefined {
    if (this.collector === null) this.collector = this.find();
    return this.collector;
  }

  /** Whether V8 gave us its collector (every Node podd runs on does). */
  get collecting(): boolean {
    return this.collect !== undefined;
  }

  /** Counts bytes that went through; collects once `every` have since the last collection. */
  streamed(n: number): void {
    this.pending += n;
    if (this.pending < this.every) return;
    this.pending = 0;
    this.collect?.();
  }
}

/** The process's one counter: every stream of the process adds to it. */
export const streamedGarbage = new StreamedGarbage(v8MinorGc);
