// Pure parsers for the text the kernel hands out about cgroups. No I/O: each one takes the
// contents of a file, so tests feed them samples and the drivers read the file separately.

/** One line of /proc/<pid>/mountinfo (see proc(5)). */
export interface MountInfo {
  mountId: number;
  parentId: number;
  /** "major:minor" of the filesystem's device. */
  device: string;
  /** The directory of the filesystem that is mounted here; for a cgroup mount, the cgroup path. */
  root: string;
  mountPoint: string;
  mountOptions: string[];
  fsType: string;
  source: string;
  /** Per-superblock options; for cgroup v1 these name the controllers ("rw,cpu,cpuacct"). */
  superOptions: string[];
}

// mountinfo escapes space, tab, newline and backslash in paths as \ooo octal.
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * Parses /proc/self/mountinfo. Lines are
 * `id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions`;
 * the optional fields vary in number, so the " - " separator is what splits the two halves.
 * Malformed lines are skipped: the file comes from the kernel, and one odd line must not hide
 * every other mount.
 */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const fields = line.split(" ");
    const sep = fields.indexOf("-", 6);
    if (sep < 0 || fields.length < sep + 3) continue;
    const [id, parent, device, root, mountPoint, options] = fields;
    if (id === undefined || parent === undefined || device === undefined) continue;
    if (root === undefined || mountPoint === undefined || options === undefined) continue;
    out.push({
      mountId: Number(id),
      parentId: Number(parent),
      device,
      root: unescapeOctal(root),
      mountPoint: unescapeOctal(mountPoint),
      mountOptions: options.split(","),
      fsType: fields[sep + 1] ?? "",
      source: unescapeOctal(fields[sep + 2] ?? ""),
      superOptions: (fields[sep + 3] ?? "").split(",").filter((o) => o !== ""),
    });
  }
  return out;
}

/** One line of /proc/<pid>/cgroup: `hierarchy-id:controller-list:path`. */
export interface ProcCgroup {
  hierarchyId: number;
  /** Empty for the v2 unified hierarchy ("0::/path"); ["name=systemd"] for a named v1 hierarchy. */
  controllers: string[];
  path: string;
}

/** Parses /proc/<pid>/cgroup. The path may itself contain ':', so only the first two are split. */
export function parseProcCgroup(text: string): ProcCgroup[] {
  const out: ProcCgroup[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const a = line.indexOf(":");
    const b = a < 0 ? -1 : line.indexOf(":", a + 1);
    if (a < 0 || b < 0) continue;
    const list = line.slice(a + 1, b);
    out.push({
      hierarchyId: Number(line.slice(0, a)),
      controllers: list === "" ? [] : list.split(","),
      path: line.slice(b + 1),
    });
  }
  return out;
}

/**
 * Parses a flat keyed cgroup file: memory.stat, cpu.stat, memory.events, pids.events,
 * memory.oom_control, cgroup.events — lines of `key value`. Values are numbers, except "max"
 * which becomes Infinity. Lines whose value is not a number are left out.
 */
export function parseCgroupStat(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(\S+)\s+(\S+)\s*$/.exec(line);
    if (m === null) continue;
    const [, key, raw] = m as unknown as [string, string, string];
    const value = raw === "max" ? Infinity : Number(raw);
    if (!Number.isNaN(value)) out.set(key, value);
  }
  return out;
}

/** Parses cgroup.procs / tasks: one pid per line. */
export function parsePids(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (t === "") continue;
    const pid = Number(t);
    if (Number.isInteger(pid) && pid > 0) out.push(pid);
  }
  return out;
}

/** Parses a space-separated controller list: cgroup.controllers, cgroup.subtree_control. */
export function parseControllerList(text: string): string[] {
  return text.split(/\s+/).filter((c) => c !== "");
}
