// Pod sysctls (spec.securityContext.sysctls) as Kubernetes names and groups them: the name
// syntax the API server accepts (validation.go IsValidSysctlName, with "/" allowed in place of
// "."), the kernel namespace a name belongs to (component-helpers' sysctl GetNamespace), the
// kubelet's safe set and pattern syntax (pkg/kubelet/sysctl), and where a name lives under
// /proc/sys. Pure: the kernel release is handed in.

/** One segment of a sysctl name: lower-case letters and digits, with "-" and "_" inside. */
const SEGMENT = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?";
/** The API server's SysctlContainSlashFmt; its messages show it anchored. */
export const SYSCTL_NAME_REGEX = `^(${SEGMENT}[\\./])*${SEGMENT}$`;
/** The kubelet's pattern syntax for --allowed-unsafe-sysctls (a last segment may end in "*"). */
export const SYSCTL_PATTERN_FMT = `(${SEGMENT}[\\./])*([a-z0-9][-_a-z0-9]*)?[a-z0-9*]`;
export const SYSCTL_MAX_LENGTH = 253;

const nameRe = new RegExp(SYSCTL_NAME_REGEX);
const patternRe = new RegExp(`^${SYSCTL_PATTERN_FMT}$`);

export function isValidSysctlName(name: string): boolean {
  return name.length <= SYSCTL_MAX_LENGTH && nameRe.test(name);
}

export function isValidSysctlPattern(pattern: string): boolean {
  return pattern.length <= SYSCTL_MAX_LENGTH && patternRe.test(pattern);
}

/**
 * The dotted form of a name (sysctl.d(5)): when the first separator is "/", "." and "/" swap,
 * so "net/ipv4/conf/eno2.100/rp_filter" is "net.ipv4.conf.eno2/100.rp_filter".
 */
export function normalizeSysctlName(name: string): string {
  const first = name.search(/[./]/);
  if (first < 0 || name[first] === ".") return name;
  return swapSeparators(name);
}

function swapSeparators(s: string): string {
  return s.replace(/[./]/g, (c) => (c === "." ? "/" : "."));
}

/** The file of a sysctl: "net.ipv4.ip_local_port_range" is /proc/sys/net/ipv4/ip_local_port_range. */
export function sysctlPath(name: string, procSys = "/proc/sys"): string {
  return `${procSys}/${swapSeparators(normalizeSysctlName(name))}`;
}

/** The kernel namespaces whose sysctls a pod may set: each is the pod's own unless it shares the host's. */
export type SysctlNamespace = "IPC" | "Net";

// The IPC namespace's sysctls by name (and the kernel.shm / kernel.msg prefixes of the older
// patterns), the namespaces whose every sysctl lives there by prefix.
const IPC_NAMES = new Set([
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
  "kernel.shm",
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.msg",
]);
const PREFIX_NAMESPACES: ReadonlyArray<[string, SysctlNamespace]> = [
  ["net.", "Net"],
  ["fs.mqueue.", "IPC"],
];

/**
 * The namespace a sysctl (or the part of a pattern before its "*") is set in; undefined for a
 * sysctl that is not known to be namespaced, which would change the whole machine.
 */
export function sysctlNamespace(nameOrPrefix: string): SysctlNamespace | undefined {
  const n = normalizeSysctlName(nameOrPrefix);
  if (IPC_NAMES.has(n)) return "IPC";
  return PREFIX_NAMESPACES.find(([p]) => n.startsWith(p))?.[1];
}

/**
 * The kubelet's safe sysctls (safe_sysctls.go): namespaced, and without effect on any other pod.
 * `kernel` is the release that namespaced it; on an older kernel the sysctl is not safe.
 */
export const SAFE_SYSCTLS: ReadonlyArray<{ name: string; kernel?: string }> = [
  { name: "kernel.shm_rmid_forced" },
  { name: "net.ipv4.ip_local_port_range" },
  { name: "net.ipv4.tcp_syncookies" },
  { name: "net.ipv4.ping_group_range" },
  { name: "net.ipv4.ip_unprivileged_port_start" },
  { name: "net.ipv4.ip_local_reserved_ports", kernel: "3.16" },
  { name: "net.ipv4.tcp_keepalive_time", kernel: "4.5" },
  { name: "net.ipv4.tcp_fin_timeout", kernel: "4.6" },
  { name: "net.ipv4.tcp_keepalive_intvl", kernel: "4.5" },
  { name: "net.ipv4.tcp_keepalive_probes", kernel: "4.5" },
  { name: "net.ipv4.tcp_rmem" },
  { name: "net.ipv4.tcp_wmem" },
];

/** The safe sysctls a kernel of this release (uname -r, "6.1.0-18-amd64") has namespaced. */
export function safeSysctls(kernelRelease: string): string[] {
  const have = releaseNumbers(kernelRelease);
  return SAFE_SYSCTLS.filter((s) => s.kernel === undefined || (have !== undefined && atLeast(have, releaseNumbers(s.kernel)!))).map((s) => s.name);
}

function releaseNumbers(release: string): number[] | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

function atLeast(have: number[], want: number[]): boolean {
  for (let i = 0; i < want.length; i++) {
    if (have[i]! !== want[i]!) return have[i]! > want[i]!;
  }
  return true;
}
