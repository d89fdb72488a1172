// Progress while a verb waits (apply --wait, delete): on a terminal one line that spins and
// says the current step, rewritten in place; elsewhere (a log, a pipe) one plain line per change.
import type { Out } from "./client-verb.ts";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export class Progress {
  private text = "";
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly out: Out) {
    if (out.isTTY) {
      this.timer = setInterval(() => this.draw(), 100);
      this.timer.unref();
    }
  }

  /** The current step; printed again only when it changes. */
  update(text: string): void {
    if (text === this.text) return;
    this.text = text;
    if (this.out.isTTY) this.draw();
    else this.out.write(text + "\n");
  }

  /** Prints a line on `to` (stdout, say) without mixing it into the spinner's line. */
  print(line: string, to: Out): void {
    if (this.out.isTTY && this.timer) this.out.write("\r\x1b[K");
    to.write(line + "\n");
    if (this.out.isTTY && this.timer && this.text) this.draw();
  }

  /** Clears the spinner line and prints a final line (if any). */
  done(line?: string): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.out.isTTY) this.out.write("\r\x1b[K");
    if (line !== undefined) this.out.write(line + "\n");
  }

  private draw(): void {
    this.frame = (this.frame + 1) % FRAMES.length;
    this.out.write(`\r\x1b[K${FRAMES[this.frame]} ${this.text}`);
  }
}
