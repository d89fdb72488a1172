// Seccomp profiles in the JSON format Docker, containerd and CRI-O read (moby's
// profiles/seccomp/default.json; the OCI runtime spec's linux.seccomp plus Docker's archMap,
// name, comment, includes and excludes), which is what a Kubernetes Localhost profile names.
//
// parseProfile is strict where a mistake would silently weaken or change a filter: an unknown
// field, action, operator, architecture or capability is an error naming the file, the line and
// the field. A system call name the table does not know is not: runc and libseccomp skip such
// names so that one profile serves several kernels and architectures, and podd does the same,
// but lists them in the warnings.
import { PoddError } from "../../base/errors.ts";
import type { Pos, TreeNode } from "../../../pod-specs/load.ts";
import { parseJsonTree } from "../../../pod-specs/json-tree.ts";
import { hostArch, syscallNumber, type SeccompArch } from "./syscalls.ts";

/** Far larger than any real profile (Docker's default is some 20 KiB). */
export const PROFILE_MAX_BYTES = 1024 * 1024;
const MAX_DEPTH = 16;
const MAX_PROBLEMS = 20;

export const SECCOMP_ACTIONS = [
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_LOG",
] as const;
export type SeccompAction = (typeof SECCOMP_ACTIONS)[number];

// Valid in the format, but each needs a process that podd does not run.
const REFUSED_ACTIONS: Readonly<Record<string, string>> = {
  SCMP_ACT_NOTIFY: "it hands the system call to a seccomp agent listening on listenerPath, and podd runs none",
  SCMP_ACT_TRACE: "it stops the process for a ptrace(2) tracer, and podd attaches none (without one the call fails with ENOSYS)",
};

export const SECCOMP_OPERATORS = [
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_EQ",
  "SCMP_CMP_GE",
  "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
] as const;
export type SeccompOperator = (typeof SECCOMP_OPERATORS)[number];

export const SECCOMP_FLAGS = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"] as const;
export type SeccompFlag = (typeof SECCOMP_FLAGS)[number];
const REFUSED_FLAGS: Readonly<Record<string, string>> = {
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: "it only applies to a seccomp agent's listener, and podd runs no agent",
  SECCOMP_FILTER_FLAG_NEW_LISTENER: "it creates a listener for a seccomp agent, and podd runs no agent",
};

/** The architectures of the `architectures` and `archMap` fields (libseccomp's SCMP_ARCH_*). */
export const SCMP_ARCHES = [
  "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
  "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
  "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
  "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64",
  "SCMP_ARCH_M68K", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
] as const;
export const NATIVE_SCMP_ARCH: Readonly<Record<SeccompArch, string>> = { x86_64: "SCMP_ARCH_X86_64", aarch64: "SCMP_ARCH_AARCH64" };
/** The other ABIs a kernel of each architecture runs, which podd's filters refuse. */
export const SUB_SCMP_ARCHES: Readonly<Record<SeccompArch, readonly string[]>> = {
  x86_64: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  aarch64: ["SCMP_ARCH_ARM"],
};

/**
 * The architecture names of includes/excludes.arches: Docker's (Go's, "amd64", "arm64") and
 * libseccomp's. The kernel-style names of podd's two architectures mean the same.
 */
export const RULE_ARCHES = [
  "x86", "amd64", "x86_64", "x32", "arm", "arm64", "aarch64", "mips", "mipsle", "mipsel", "mips64", "mips64n32",
  "mipsel64", "mipsel64n32", "mips3l64n32", "ppc", "ppc64", "ppc64le", "riscv64", "s390", "s390x", "parisc",
  "parisc64", "loong64", "loongarch64", "m68k", "sh", "sheb",
] as const;
export const RULE_ARCH_NAMES: Readonly<Record<SeccompArch, readonly string[]>> = {
  x86_64: ["amd64", "x86_64"],
  aarch64: ["arm64", "aarch64"],
};

/** <linux/capability.h>, 0 to 40. */
export const CAPABILITIES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
  "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** The kernel keeps SECCOMP_RET_DATA to 16 bits, and no errno is above MAX_ERRNO. */
export const MAX_ERRNO = 4095;
export const U64_MAX = (1n << 64n) - 1n;

export interface SeccompArg {
  /** the system call argument, 0 to 5 */
  index: number;
  value: bigint;
  /** only SCMP_CMP_MASKED_EQ uses it: (argument & value) == valueTwo */
  valueTwo: bigint;
  op: SeccompOperator;
}

/** "5.8" in the JSON: the kernel's version and major revision */
export interface KernelVersion {
  major: number;
  minor: number;
}

export interface SeccompRuleFilter {
  /** includes: every one present; excludes: any one present */
  caps?: readonly string[];
  arches?: readonly string[];
  minKernel?: KernelVersion;
}

export interface SeccompRule {
  /** the JSON's deprecated `name` becomes a one-element `names` */
  names: readonly string[];
  action: SeccompAction;
  errnoRet?: number;
  /** ANDed; when two name the same argument they are ORed instead, as runc does */
  args?: readonly SeccompArg[];
  includes?: SeccompRuleFilter;
  excludes?: SeccompRuleFilter;
  comment?: string;
}

export interface SeccompArchMapEntry {
  architecture: string;
  subArchitectures: readonly string[];
}

export interface SeccompProfile {
  defaultAction: SeccompAction;
  /** with SCMP_ACT_ERRNO; EPERM when absent */
  defaultErrnoRet?: number;
  architectures?: readonly string[];
  archMap?: readonly SeccompArchMapEntry[];
  flags?: readonly SeccompFlag[];
  syscalls?: readonly SeccompRule[];
}

export interface ParsedProfile {
  profile: SeccompProfile;
  /** what is accepted but has no effect: system calls this architecture lacks, 32-bit ABIs */
  warnings: string[];
}

export interface ParseProfileOptions {
  /** the architecture whose table decides which names are unknown; the host's by default */
  arch?: SeccompArch;
}

class Problems {
  readonly list: string[] = [];
  constructor(private readonly file: string) {}
  add(pos: Pos | undefined, field: string, message: string): void {
    const where = pos ? `${this.file}:${pos.line}:${pos.col}` : this.file;
    this.list.push(field ? `${where}: ${field}: ${message}` : `${where}: ${message}`);
  }
}

type MapOf = Map<string, { node: TreeNode; keyPos: Pos }>;

/**
 * The profile in `text`, read from `path` (which names it in every error). Throws a PoddError
 * with code "Invalid" listing every problem found.
 */
export function parseProfile(text: string, path: string, options: ParseProfileOptions = {}): ParsedProfile {
  const arch = options.arch ?? hostArch();
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > PROFILE_MAX_BYTES) {
    throw invalid(path, [`${path}: seccomp profile is ${bytes} bytes, more than the limit of ${PROFILE_MAX_BYTES}`]);
  }
  const lineStarts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) lineStarts.push(i + 1);
  const posAt = (offset: number): Pos => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - lineStarts[lo]! + 1 };
  };
  const root = parseJsonTree(text, 0, posAt, MAX_DEPTH);
  if (!root) {
    let reason = `nested more than ${MAX_DEPTH} levels deep`;
    try {
      JSON.parse(text);
    } catch (err) {
      reason = `not valid JSON: ${(err as Error).message}`;
    }
    throw invalid(path, [`${path}: ${reason}`]);
  }
  const problems = new Problems(path);
  const warnings: string[] = [];
  const profile = readProfile(root, problems);
  if (problems.list.length > 0) throw invalid(path, problems.list);
  warnings.push(...profileWarnings(profile!, arch, path));
  return { profile: profile!, warnings };
}

function invalid(path: string, list: string[]): PoddError {
  const shown = list.slice(0, MAX_PROBLEMS);
  if (list.length > MAX_PROBLEMS) shown.push(`… and ${list.length - MAX_PROBLEMS} more`);
  const head = list.length === 1 ? "" : `seccomp profile ${path}: ${list.length} problems\n`;
  return new PoddError(head + shown.join("\n"), { code: "Invalid", path });
}

function describe(node: TreeNode): string {
  if (node.kind === "map") return "an object";
  if (node.kind === "seq") return "a list";
  if (node.value === null) return "null";
  if (typeof node.value === "string") return `the string ${JSON.stringify(node.value)}`;
  return String(node.source);
}

/** The entries of an object node, or undefined (with a problem) when it is none or has unknown or repeated keys. */
function object(node: TreeNode, field: string, known: readonly string[], p: Problems): MapOf | undefined {
  if (node.kind !== "map") {
    p.add(node.pos, field, `must be an object, not ${describe(node)}`);
    return undefined;
  }
  const out: MapOf = new Map();
  for (const e of node.entries) {
    const sub = field ? `${field}.${e.key}` : e.key;
    if (out.has(e.key)) p.add(e.keyPos, sub, "appears twice");
    else if (!known.includes(e.key)) p.add(e.keyPos, sub, `unknown field; known here: ${known.join(", ")}`);
    else out.set(e.key, { node: e.value, keyPos: e.keyPos });
  }
  return out;
}

/** Go's encoding/json, which wrote most profiles, treats null as absent. */
function present(m: MapOf, key: string): TreeNode | undefined {
  const v = m.get(key)?.node;
  return v === undefined || (v.kind === "scalar" && v.value === null) ? undefined : v;
}

function string(node: TreeNode, field: string, p: Problems): string | undefined {
  if (node.kind === "scalar" && typeof node.value === "string") return node.value;
  p.add(node.pos, field, `must be a string, not ${describe(node)}`);
  return undefined;
}

function list(node: TreeNode, field: string, p: Problems): TreeNode[] | undefined {
  if (node.kind === "seq") return node.items;
  p.add(node.pos, field, `must be a list, not ${describe(node)}`);
  return undefined;
}

function stringList(node: TreeNode, field: string, p: Problems, allowed?: readonly string[], what?: string): string[] | undefined {
  const items = list(node, field, p);
  if (!items) return undefined;
  const out: string[] = [];
  items.forEach((item, i) => {
    const s = string(item, `${field}[${i}]`, p);
    if (s === undefined) return;
    if (allowed && !allowed.includes(s)) {
      p.add(item.pos, `${field}[${i}]`, `unknown ${what} ${JSON.stringify(s)}; one of ${allowed.join(", ")}`);
      return;
    }
    out.push(s);
  });
  return out;
}

/** A non-negative integer as written, exactly (JSON numbers above 2^53 lose digits in a double). */
function integer(node: TreeNode, field: string, max: bigint, p: Problems): bigint | undefined {
  if (node.kind === "scalar" && typeof node.value === "number" && /^(0|[1-9]\d*)$/.test(node.source)) {
    const v = BigInt(node.source);
    if (v <= max) return v;
  }
  p.add(node.pos, field, `must be an integer from 0 to ${max}, not ${describe(node)}`);
  return undefined;
}

function action(node: TreeNode, field: string, p: Problems): SeccompAction | undefined {
  const s = string(node, field, p);
  if (s === undefined) return undefined;
  if ((SECCOMP_ACTIONS as readonly string[]).includes(s)) return s as SeccompAction;
  const refused = REFUSED_ACTIONS[s];
  if (refused) p.add(node.pos, field, `${s} is not supported by podd: ${refused}`);
  else p.add(node.pos, field, `unknown action ${JSON.stringify(s)}; one of ${SECCOMP_ACTIONS.join(", ")}`);
  return undefined;
}

function errnoRet(m: MapOf, key: string, field: string, act: SeccompAction | undefined, p: Problems): number | undefined {
  const node = present(m, key);
  if (!node) return undefined;
  const v = integer(node, field, BigInt(MAX_ERRNO), p);
  if (v !== undefined && act !== undefined && act !== "SCMP_ACT_ERRNO") {
    p.add(m.get(key)!.keyPos, field, `only SCMP_ACT_ERRNO returns an errno, and the action is ${act}`);
  }
  return v === undefined ? undefined : Number(v);
}

function readProfile(root: TreeNode, p: Problems): SeccompProfile | undefined {
  const m = object(
    root,
    "",
    ["defaultAction", "defaultErrnoRet", "architectures", "archMap", "flags", "listenerPath", "listenerMetadata", "syscalls"],
    p,
  );
  if (!m) return undefined;
  const defaultNode = present(m, "defaultAction");
  let defaultAction: SeccompAction | undefined;
  if (defaultNode) defaultAction = action(defaultNode, "defaultAction", p);
  else p.add(root.pos, "defaultAction", "is required (a profile that allows everything is seccompProfile type Unconfined)");
  const profile: SeccompProfile = { defaultAction: defaultAction ?? "SCMP_ACT_ERRNO" };
  const defaultErrno = errnoRet(m, "defaultErrnoRet", "defaultErrnoRet", defaultAction, p);
  if (defaultErrno !== undefined) profile.defaultErrnoRet = defaultErrno;

  for (const key of ["listenerPath", "listenerMetadata"]) {
    const node = present(m, key);
    if (node && !(node.kind === "scalar" && node.value === "")) {
      p.add(m.get(key)!.keyPos, key, "is not supported by podd: it names a seccomp agent for SCMP_ACT_NOTIFY, and podd runs none");
    }
  }

  const archNode = present(m, "architectures");
  const archMapNode = present(m, "archMap");
  if (archNode && archMapNode) p.add(m.get("archMap")!.keyPos, "archMap", "and architectures are both set; use one of them");
  if (archNode) {
    const arches = stringList(archNode, "architectures", p, SCMP_ARCHES, "architecture");
    if (arches) profile.architectures = arches;
  }
  if (archMapNode) {
    const entries: SeccompArchMapEntry[] = [];
    list(archMapNode, "archMap", p)?.forEach((item, i) => {
      const field = `archMap[${i}]`;
      const e = object(item, field, ["architecture", "subArchitectures"], p);
      if (!e) return;
      const archItem = present(e, "architecture");
      let architecture: string | undefined;
      if (!archItem) p.add(item.pos, `${field}.architecture`, "is required");
      else {
        architecture = string(archItem, `${field}.architecture`, p);
        if (architecture !== undefined && !(SCMP_ARCHES as readonly string[]).includes(architecture)) {
          p.add(archItem.pos, `${field}.architecture`, `unknown architecture ${JSON.stringify(architecture)}; one of ${SCMP_ARCHES.join(", ")}`);
          architecture = undefined;
        }
      }
      const subNode = present(e, "subArchitectures");
      const subArchitectures = subNode ? stringList(subNode, `${field}.subArchitectures`, p, SCMP_ARCHES, "architecture") : [];
      if (architecture !== undefined && subArchitectures) entries.push({ architecture, subArchitectures });
    });
    profile.archMap = entries;
  }

  const flagsNode = present(m, "flags");
  if (flagsNode) {
    const flags: SeccompFlag[] = [];
    list(flagsNode, "flags", p)?.forEach((item, i) => {
      const s = string(item, `flags[${i}]`, p);
      if (s === undefined) return;
      if ((SECCOMP_FLAGS as readonly string[]).includes(s)) flags.push(s as SeccompFlag);
      else if (REFUSED_FLAGS[s]) p.add(item.pos, `flags[${i}]`, `${s} is not supported by podd: ${REFUSED_FLAGS[s]}`);
      else p.add(item.pos, `flags[${i}]`, `unknown flag ${JSON.stringify(s)}; one of ${SECCOMP_FLAGS.join(", ")}`);
    });
    profile.flags = flags;
  }

  const syscallsNode = present(m, "syscalls");
  if (syscallsNode) {
    const rules: SeccompRule[] = [];
    list(syscallsNode, "syscalls", p)?.forEach((item, i) => {
      const rule = readRule(item, `syscalls[${i}]`, p);
      if (rule) rules.push(rule);
    });
    profile.syscalls = rules;
  }
  return profile;
}

function readRule(node: TreeNode, field: string, p: Problems): SeccompRule | undefined {
  const m = object(node, field, ["names", "name", "action", "errnoRet", "args", "includes", "excludes", "comment"], p);
  if (!m) return undefined;
  const namesNode = present(m, "names");
  const nameNode = present(m, "name");
  const names: string[] = [];
  const addName = (item: TreeNode, sub: string): void => {
    const n = string(item, sub, p);
    if (n === undefined) return;
    if (/^[a-z_][a-z0-9_]*$/.test(n)) names.push(n);
    else p.add(item.pos, sub, `${JSON.stringify(n)} is no system call name`);
  };
  if (namesNode && nameNode) p.add(m.get("name")!.keyPos, `${field}.name`, "and names are both set; use names");
  else if (namesNode) {
    const items = list(namesNode, `${field}.names`, p);
    items?.forEach((item, i) => addName(item, `${field}.names[${i}]`));
    if (items && items.length === 0) p.add(namesNode.pos, `${field}.names`, "is empty");
  } else if (nameNode) addName(nameNode, `${field}.name`);
  else p.add(node.pos, `${field}.names`, "is required");

  const actionNode = present(m, "action");
  let act: SeccompAction | undefined;
  if (actionNode) act = action(actionNode, `${field}.action`, p);
  else p.add(node.pos, `${field}.action`, "is required");
  const rule: SeccompRule = { names, action: act ?? "SCMP_ACT_ERRNO" };
  const errno = errnoRet(m, "errnoRet", `${field}.errnoRet`, act, p);
  if (errno !== undefined) rule.errnoRet = errno;

  const argsNode = present(m, "args");
  if (argsNode) {
    const args: SeccompArg[] = [];
    list(argsNode, `${field}.args`, p)?.forEach((item, i) => {
      const arg = readArg(item, `${field}.args[${i}]`, p);
      if (arg) args.push(arg);
    });
    if (args.length > 0) rule.args = args;
  }
  for (const key of ["includes", "excludes"] as const) {
    const f = present(m, key);
    if (f) {
      const filter = readFilter(f, `${field}.${key}`, p);
      if (filter) rule[key] = filter;
    }
  }
  const comment = present(m, "comment");
  if (comment) {
    const s = string(comment, `${field}.comment`, p);
    if (s !== undefined) rule.comment = s;
  }
  return rule;
}

function readArg(node: TreeNode, field: string, p: Problems): SeccompArg | undefined {
  const m = object(node, field, ["index", "value", "valueTwo", "op"], p);
  if (!m) return undefined;
  const need = (key: string): TreeNode | undefined => {
    const v = present(m, key);
    if (!v) p.add(node.pos, `${field}.${key}`, "is required");
    return v;
  };
  const indexNode = need("index");
  const valueNode = need("value");
  const opNode = need("op");
  const index = indexNode && integer(indexNode, `${field}.index`, 5n, p);
  const value = valueNode && integer(valueNode, `${field}.value`, U64_MAX, p);
  const twoNode = present(m, "valueTwo");
  const valueTwo = twoNode ? integer(twoNode, `${field}.valueTwo`, U64_MAX, p) : 0n;
  let op: SeccompOperator | undefined;
  if (opNode) {
    const s = string(opNode, `${field}.op`, p);
    if (s !== undefined && (SECCOMP_OPERATORS as readonly string[]).includes(s)) op = s as SeccompOperator;
    else if (s !== undefined) p.add(opNode.pos, `${field}.op`, `unknown operator ${JSON.stringify(s)}; one of ${SECCOMP_OPERATORS.join(", ")}`);
  }
  // libseccomp ignores valueTwo for the other operators; a profile that sets it meant something else.
  if (op && op !== "SCMP_CMP_MASKED_EQ" && valueTwo) {
    p.add(m.get("valueTwo")!.keyPos, `${field}.valueTwo`, `is only used by SCMP_CMP_MASKED_EQ, and the operator is ${op}`);
  }
  if (index === undefined || value === undefined || valueTwo === undefined || op === undefined) return undefined;
  return { index: Number(index), value, valueTwo, op };
}

function readFilter(node: TreeNode, field: string, p: Problems): SeccompRuleFilter | undefined {
  const m = object(node, field, ["caps", "arches", "minKernel"], p);
  if (!m) return undefined;
  const filter: SeccompRuleFilter = {};
  const caps = present(m, "caps");
  if (caps) {
    const v = stringList(caps, `${field}.caps`, p, CAPABILITIES, "capability");
    if (v) filter.caps = v;
  }
  const arches = present(m, "arches");
  if (arches) {
    const v = stringList(arches, `${field}.arches`, p, RULE_ARCHES, "architecture");
    if (v) filter.arches = v;
  }
  const minKernel = present(m, "minKernel");
  if (minKernel) {
    const s = string(minKernel, `${field}.minKernel`, p);
    // Docker's reading: exactly "<kernel>.<major revision>", and not 0.0.
    const match = s === undefined ? null : /^(\d{1,3})\.(\d{1,3})$/.exec(s);
    if (s !== undefined && (!match || (Number(match[1]) === 0 && Number(match[2]) === 0))) {
      p.add(minKernel.pos, `${field}.minKernel`, `must be a kernel version such as "5.8", not ${JSON.stringify(s)}`);
    } else if (match) filter.minKernel = { major: Number(match[1]), minor: Number(match[2]) };
  }
  return filter;
}

/** Whether a rule can apply on `arch` at all, going by its includes/excludes arches. */
export function ruleMayApplyOn(rule: SeccompRule, arch: SeccompArch): boolean {
  const mine = RULE_ARCH_NAMES[arch];
  if (rule.includes?.arches?.length && !rule.includes.arches.some((a) => mine.includes(a))) return false;
  if (rule.excludes?.arches?.some((a) => mine.includes(a))) return false;
  return true;
}

function profileWarnings(profile: SeccompProfile, arch: SeccompArch, path: string): string[] {
  const warnings: string[] = [];
  const listed = new Set(profile.architectures ?? []);
  for (const e of profile.archMap ?? []) {
    if (e.architecture === NATIVE_SCMP_ARCH[arch]) for (const s of e.subArchitectures) listed.add(s);
  }
  const subs = SUB_SCMP_ARCHES[arch].filter((a) => listed.has(a));
  if (subs.length > 0) {
    warnings.push(
      `${path}: ${subs.join(" and ")} ${subs.length === 1 ? "is" : "are"} listed, but podd's filters refuse every system call ` +
        `not made through the native ${arch} ABI (ENOSYS); a 32-bit program needs seccompProfile type Unconfined`,
    );
  }
  const unknown = new Set<string>();
  for (const rule of profile.syscalls ?? []) {
    if (!ruleMayApplyOn(rule, arch)) continue;
    for (const name of rule.names) if (syscallNumber(arch, name) === undefined) unknown.add(name);
  }
  if (unknown.size > 0) {
    warnings.push(`${path}: system calls ${arch} does not have (or podd does not know), ignored: ${[...unknown].sort().join(", ")}`);
  }
  return warnings;
}

/** The profile as JSON text that parseProfile reads back to the same profile (argument values stay exact). */
export function formatProfile(profile: SeccompProfile): string {
  const text = JSON.stringify(
    profile,
    (key, v: unknown) => {
      if (typeof v === "bigint") return `\u0000${v}`;
      if (key === "minKernel" && v && typeof v === "object") {
        const k = v as KernelVersion;
        return `${k.major}.${k.minor}`;
      }
      return v;
    },
    2,
  );
  return text.replace(/"\\u0000(\d+)"/g, "$1") + "\n";
}
