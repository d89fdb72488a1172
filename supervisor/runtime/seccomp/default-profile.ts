// podd's RuntimeDefault seccomp profile: in effect the default of Docker and containerd, but
// written as what it denies. Every system call podd's tables know is allowed except the
// groups below; each group names the capabilities that unlock it, so a container given
// CAP_SYS_ADMIN (say) can mount. A number podd does not know, including any call of a kernel
// newer than podd's tables, fails with ENOSYS, which is how glibc and most runtimes detect a
// missing call and fall back to an older one. Calls of other ABIs (i386 or x32 on x86_64,
// AArch32 on aarch64) fail with ENOSYS before any of this: 32-bit programs need Unconfined.
//
// Where podd differs from Docker's profile (moby profiles/seccomp/default.json):
// - pivot_root is unlocked by CAP_SYS_ADMIN like the other mount calls; Docker never allows it;
// - migrate_pages and move_pages are unlocked by CAP_SYS_NICE like the other NUMA policy
//   calls; userfaultfd by CAP_SYS_PTRACE, the capability the kernel itself asks for it when
//   vm.unprivileged_userfaultfd is 0. Docker never allows these three;
// - socket() and personality() compare the low 32 bits of their int argument, the part the
//   kernel reads, so a caller cannot slip past the check with bits set above it;
// - unknown numbers below the highest known one fail with ENOSYS, where Docker says EPERM;
//   so do the calls no kernel has implemented for years (nfsservctl, _sysctl, …);
// - calls newer than Docker's profile are decided here: open_tree_attr goes with the mount
//   calls; file_getattr and file_setattr are allowed, as the ioctls that do the same are.
import type { Capability, SeccompArg, SeccompProfile, SeccompRule } from "./profile.ts";
import { ENOSYS, EPERM } from "./compile.ts";
import { SECCOMP_ARCHES, syscallTable } from "./syscalls.ts";

export interface DeniedGroup {
  names: readonly string[];
  /** any one of these capabilities allows the group; none: always denied */
  unlockedBy: readonly Capability[];
  why: string;
}

/** Denied with EPERM unless the container has one of the group's capabilities. */
export const DEFAULT_DENIED: readonly DeniedGroup[] = [
  {
    names: ["mount", "umount2", "move_mount", "open_tree", "open_tree_attr", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "pivot_root"],
    unlockedBy: ["CAP_SYS_ADMIN"],
    why: "mounts change what the container sees of the filesystem, and can reach the host's",
  },
  { names: ["unshare", "setns"], unlockedBy: ["CAP_SYS_ADMIN"], why: "new namespaces, or other processes' namespaces" },
  { names: ["sethostname", "setdomainname"], unlockedBy: ["CAP_SYS_ADMIN"], why: "the UTS namespace is the whole pod's" },
  {
    names: ["quotactl", "quotactl_fd", "fanotify_init", "lookup_dcookie", "lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules"],
    unlockedBy: ["CAP_SYS_ADMIN"],
    why: "host-wide filesystem, profiling and security-module state",
  },
  { names: ["bpf"], unlockedBy: ["CAP_SYS_ADMIN", "CAP_BPF"], why: "eBPF programs run in the host's kernel" },
  { names: ["perf_event_open"], unlockedBy: ["CAP_SYS_ADMIN", "CAP_PERFMON"], why: "performance monitoring sees the whole machine" },
  { names: ["syslog"], unlockedBy: ["CAP_SYS_ADMIN", "CAP_SYSLOG"], why: "the kernel log is the host's" },
  { names: ["init_module", "finit_module", "delete_module"], unlockedBy: ["CAP_SYS_MODULE"], why: "kernel modules are the host's" },
  { names: ["reboot"], unlockedBy: ["CAP_SYS_BOOT"], why: "in a PID namespace, reboot ends the container's init" },
  { names: ["settimeofday", "clock_settime"], unlockedBy: ["CAP_SYS_TIME"], why: "the clock is the host's (adjtimex and clock_adjtime stay allowed: the kernel checks CAP_SYS_TIME before they change anything)" },
  { names: ["acct"], unlockedBy: ["CAP_SYS_PACCT"], why: "process accounting is host-wide" },
  { names: ["iopl", "ioperm"], unlockedBy: ["CAP_SYS_RAWIO"], why: "raw I/O port access" },
  { names: ["vhangup"], unlockedBy: ["CAP_SYS_TTY_CONFIG"], why: "hangs up the controlling terminal" },
  { names: ["open_by_handle_at"], unlockedBy: ["CAP_DAC_READ_SEARCH"], why: "file handles open files outside the container's root (the shocker escape)" },
  { names: ["kcmp", "pidfd_getfd", "process_madvise", "userfaultfd"], unlockedBy: ["CAP_SYS_PTRACE"], why: "inspect or act on other processes' memory and files" },
  {
    names: ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node", "migrate_pages", "move_pages"],
    unlockedBy: ["CAP_SYS_NICE"],
    why: "NUMA memory placement",
  },
  { names: ["chroot"], unlockedBy: ["CAP_SYS_CHROOT"], why: "the CRI's default capabilities include CAP_SYS_CHROOT, so this is usually allowed" },
  { names: ["keyctl", "add_key", "request_key"], unlockedBy: [], why: "the kernel keyrings are not namespaced" },
  {
    names: ["io_uring_setup", "io_uring_enter", "io_uring_register"],
    unlockedBy: [],
    why: "io_uring performs system calls' work out of this filter's sight, and has been a rich source of kernel exploits",
  },
  { names: ["kexec_load", "kexec_file_load"], unlockedBy: [], why: "loads a new kernel for the host" },
  { names: ["swapon", "swapoff"], unlockedBy: [], why: "swap is host-wide" },
  { names: ["uselib", "ustat", "sysfs"], unlockedBy: [], why: "obsolete interfaces with no use in a container" },
];

/** Not implemented by any kernel podd runs on; they fail with ENOSYS as the kernel would answer. */
export const DEFAULT_UNIMPLEMENTED: readonly string[] = [
  "_sysctl", "afs_syscall", "create_module", "get_kernel_syms", "getpmsg", "putpmsg", "query_module", "nfsservctl",
  "security", "tuxcall", "vserver",
];

// CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
export const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

/** The personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26 with either, and the query 0xffffffff. */
export const ALLOWED_PERSONALITIES: readonly number[] = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff];

/** Address families socket(2) refuses: AF_ALG (kernel crypto, a frequent exploit path), AF_VSOCK (talks to the hypervisor). */
export const DENIED_SOCKET_FAMILIES: readonly number[] = [38, 40];

/** Calls with rules of their own below, kept out of the plain allow list. */
const ARGUMENT_CHECKED = ["clone", "clone3", "personality", "socket"];

const low32Equals = (index: number, value: number): SeccompArg => ({
  index,
  value: 0xffffffffn,
  valueTwo: BigInt(value),
  op: "SCMP_CMP_MASKED_EQ",
});

/**
 * podd's RuntimeDefault profile for both architectures (a name an architecture lacks is
 * skipped when compiling). Capabilities are resolved by compileSeccomp's `caps`.
 */
export function defaultProfile(): SeccompProfile {
  const withheld = new Set([...DEFAULT_DENIED.flatMap((g) => g.names), ...DEFAULT_UNIMPLEMENTED, ...ARGUMENT_CHECKED]);
  const known = new Set<string>();
  for (const arch of SECCOMP_ARCHES) for (const name of syscallTable(arch).keys()) known.add(name);
  const allowed = [...known].filter((n) => !withheld.has(n)).sort();

  const eperm = { action: "SCMP_ACT_ERRNO", errnoRet: EPERM } as const;
  const syscalls: SeccompRule[] = [
    { names: allowed, action: "SCMP_ACT_ALLOW", comment: "every system call podd knows, except those below" },
  ];
  for (const g of DEFAULT_DENIED) {
    for (const cap of g.unlockedBy) syscalls.push({ names: g.names, action: "SCMP_ACT_ALLOW", includes: { caps: [cap] } });
    syscalls.push({ names: g.names, ...eperm, comment: g.why });
  }
  syscalls.push(
    { names: ["clone"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN"] } },
    {
      names: ["clone"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value: BigInt(CLONE_NAMESPACE_FLAGS), valueTwo: 0n, op: "SCMP_CMP_MASKED_EQ" }],
      comment: "a fork or a thread; no new namespaces",
    },
    { names: ["clone"], ...eperm, comment: "new namespaces need CAP_SYS_ADMIN" },
    { names: ["clone3"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN"] } },
    {
      names: ["clone3"],
      action: "SCMP_ACT_ERRNO",
      errnoRet: ENOSYS,
      comment: "its flags are in memory a filter cannot read; ENOSYS makes glibc fall back to clone, whose flags it can",
    },
    ...ALLOWED_PERSONALITIES.map((v): SeccompRule => ({ names: ["personality"], action: "SCMP_ACT_ALLOW", args: [low32Equals(0, v)] })),
    { names: ["personality"], ...eperm, comment: "other execution domains widen what the kernel does for the process" },
    ...DENIED_SOCKET_FAMILIES.map((f): SeccompRule => ({ names: ["socket"], ...eperm, args: [low32Equals(0, f)] })),
    { names: ["socket"], action: "SCMP_ACT_ALLOW" },
  );
  return { defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: ENOSYS, syscalls };
}
