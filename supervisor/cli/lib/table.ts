// Column alignment as Go's text/tabwriter does it, because kubectl prints every table and every
// describe page through one: cells are tab-terminated, a column block is a run of consecutive
// lines that have a cell in that column, and each block is as wide as its widest cell plus the
// padding. The last cell of a line is not tab-terminated and is never padded. Reproducing the
// algorithm (rather than padding per table) is what makes describe's odd-looking alignments —
// Requests aligned with Environment — come out as kubectl's do.

export interface TabOptions {
  minWidth: number;
  padding: number;
}

/** `kubectl get` (printers.GetNewTabWriter): minwidth 6, padding 3. */
export const GET_TABLE: TabOptions = { minWidth: 6, padding: 3 };
/** `kubectl describe` (tabbedString): minwidth 0, padding 2. */
export const DESCRIBE: TabOptions = { minWidth: 0, padding: 2 };

/** Display width; podd's output is ASCII apart from user text, which kubectl also counts in runes. */
function width(s: string): number {
  return [...s].length;
}

/** Formats text containing tabs and newlines as Go's tabwriter (AlignLeft, padchar ' ') would. */
export function tabwrite(text: string, opts: TabOptions): string {
  const trailingNewline = text.endsWith("\n");
  const lines = (trailingNewline ? text.slice(0, -1) : text).split("\n").map((l) => l.split("\t"));
  const out: string[] = new Array<string>(lines.length).fill("");
  const widths: number[] = [];

  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const cells = lines[i]!;
      let s = "";
      cells.forEach((c, j) => {
        s += c;
        if (j < widths.length && j < cells.length - 1) s += " ".repeat(Math.max(0, widths[j]! - width(c)));
      });
      out[i] = s;
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    let start = line0;
    for (let i = line0; i < line1; i++) {
      if (column >= lines[i]!.length - 1) continue;
      writeLines(start, i);
      start = i;
      let w = opts.minWidth;
      for (; i < line1; i++) {
        const cells = lines[i]!;
        if (column >= cells.length - 1) break;
        w = Math.max(w, width(cells[column]!) + opts.padding);
      }
      widths.push(w);
      format(start, i);
      widths.pop();
      start = i;
      i--; // the loop's i++ must look at line i again
    }
    writeLines(start, line1);
  };

  format(0, lines.length);
  return out.join("\n") + (trailingNewline ? "\n" : "");
}

/** Rows of cells as a kubectl table: every column but the last padded to its widest cell. */
export function table(rows: readonly (readonly string[])[], opts: TabOptions = GET_TABLE): string {
  if (rows.length === 0) return "";
  return tabwrite(rows.map((r) => r.join("\t")).join("\n") + "\n", opts);
}

/**
 * A table printed in pieces (get -w, events -w): like tabwriter's RememberWidths, a column never
 * gets narrower than it was in an earlier piece, so rows printed later line up with the header.
 */
export class StreamingTable {
  private widths: number[] = [];

  constructor(private readonly opts: TabOptions = GET_TABLE) {}

  format(rows: readonly (readonly string[])[]): string {
    for (const r of rows) {
      r.forEach((c, j) => {
        if (j < r.length - 1) this.widths[j] = Math.max(this.widths[j] ?? this.opts.minWidth, width(c) + this.opts.padding);
      });
    }
    return rows
      .map((r) => r.map((c, j) => (j < r.length - 1 ? c + " ".repeat(Math.max(0, this.widths[j]! - width(c))) : c)).join("") + "\n")
      .join("");
  }
}
