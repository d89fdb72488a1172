// Seccomp for containers: profiles in Docker's JSON format, podd's RuntimeDefault, and the
// compiler to the classic BPF program podd-init installs.
//
//   const { profile, warnings } = parseProfile(text, path);   // a Localhost profile
//   const profile = defaultProfile();                          // RuntimeDefault
//   const bpf = compileSeccomp(profile, { arch: hostArch(), caps, kernel: os.release() });
export {
  compileSeccomp,
  compileSeccompProgram,
  decodeProgram,
  encodeProgram,
  parseKernelRelease,
  seccompFilterFlags,
  BPF_MAXINSNS,
  type CompileOptions,
  type SockFilter,
} from "./compile.ts";
export { defaultProfile, DEFAULT_DENIED, type DeniedGroup } from "./default-profile.ts";
export {
  formatProfile,
  parseProfile,
  PROFILE_MAX_BYTES,
  type KernelVersion,
  type ParsedProfile,
  type ParseProfileOptions,
  type SeccompAction,
  type SeccompArg,
  type SeccompArchMapEntry,
  type SeccompFlag,
  type SeccompOperator,
  type SeccompProfile,
  type SeccompRule,
  type SeccompRuleFilter,
} from "./profile.ts";
export { AUDIT_ARCH, hostArch, syscallNumber, syscallTable, type SeccompArch } from "./syscalls.ts";
