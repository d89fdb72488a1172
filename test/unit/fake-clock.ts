// A clock for tests: time moves only when the test advances it, and every timer due on the way
// fires in order, with what it set going (promises, I/O already done) settled before the next.
import type { Clock } from "../../supervisor/base/time.ts";

/** Lets every promise chain that can move now move: one turn of the event loop. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class FakeClock implements Clock {
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private next = 1;

  constructor(public t = 0) {}

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): number {
    const id = this.next++;
    this.timers.push({ at: this.t + Math.max(0, ms), fn, id });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }

  /** Runs every timer due by now + ms, in order, letting what each one started settle. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await settle();
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const due = this.timers[0];
      if (!due || due.at > end) break;
      this.timers.shift();
      this.t = due.at;
      due.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }

  /** How many timers wait. */
  pending(): number {
    return this.timers.length;
  }
}
