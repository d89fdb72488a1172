// The filter a container's run installs: none for Unconfined, podd's RuntimeDefault for the
// container's capabilities (compiled once per capability set), or a Localhost profile read
// from the seccomp directory under the state root, as the kubelet reads <root>/seccomp.
import { readFileSync, statSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import type { ProcessSecurity } from "../../../pod-specs/security.ts";
import { hasErrno } from "../../base/errors.ts";
import { ConfigError } from "../launch.ts";
import { compileSeccomp, seccompFilterFlags } from "./compile.ts";
import { defaultProfile } from "./default-profile.ts";
import { parseProfile, PROFILE_MAX_BYTES } from "./profile.ts";
import { hostArch, syscallNumber, syscallTable, type SeccompArch } from "./syscalls.ts";

/** A name of another architecture's table (a profile written for both): nothing to deny here. */
function syscallKnownElsewhere(name: string): boolean {
  return (["x86_64", "aarch64"] as SeccompArch[]).some((a) => syscallTable(a).has(name));
}

/** Flags that only the seccomp(2) call can pass; TSYNC means nothing to a process of one thread. */
const UNSUPPORTED_FLAGS = 2 | 4; // SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW

/** Every capability podd's RuntimeDefault rules depend on (their includes.caps); made on first use, not at load. */
let profileCaps: ReadonlySet<string> | undefined;
function profileCapabilities(): ReadonlySet<string> {
  profileCaps ??= new Set((defaultProfile().syscalls ?? []).flatMap((r) => r.includes?.caps ?? []));
  return profileCaps;
}

export class SeccompFilters {
  private readonly defaults = new Map<string, Buffer>();
  private readonly arch = hostArch();

  constructor(private readonly dir: string) {}

  /**
   * Compiles, ahead of need, the RuntimeDefault programs of these containers, so that their
   * starts find them made: called while the pod's sandbox is being made, when the event loop
   * would otherwise wait. A Localhost profile is read at the start itself (it may change).
   */
  prepare(securities: Iterable<Pick<ProcessSecurity, "seccomp" | "capabilities">>): void {
    for (const s of securities) {
      if (s.seccomp.type !== "RuntimeDefault") continue;
      try {
        this.forContainer(s);
      } catch {
        // Nothing is lost: the container's start compiles it again and reports the error there.
      }
    }
  }

  /** The compiled program for a container, or undefined when it runs Unconfined. */
  forContainer(security: Pick<ProcessSecurity, "seccomp" | "capabilities">): Buffer | undefined {
    const p = security.seccomp;
    if (p.type === "Unconfined") return undefined;
    const caps = security.capabilities;
    if (p.type === "RuntimeDefault") {
      // Keyed by the capabilities the profile looks at, not by every set a manifest can name:
      // the cache holds a handful of programs, however many pods come and go.
      const key = caps.filter((c) => profileCapabilities().has(`CAP_${c}`)).join(",");
      let bpf = this.defaults.get(key);
      if (!bpf) {
        bpf = compileSeccomp(defaultProfile(), { arch: this.arch, caps, kernel: release() });
        this.defaults.set(key, bpf);
      }
      return bpf;
    }
    const path = join(this.dir, p.localhostProfile ?? "");
    const profile = this.readLocalhost(path);
    if (seccompFilterFlags(profile) & UNSUPPORTED_FLAGS) {
      throw new ConfigError(`seccomp profile ${path}: the flags SECCOMP_FILTER_FLAG_LOG and SECCOMP_FILTER_FLAG_SPEC_ALLOW are not supported by podd; remove them`);
    }
    try {
      return compileSeccomp(profile, { arch: this.arch, caps, kernel: release() });
    } catch (err) {
      throw new ConfigError(`seccomp profile ${path}: ${(err as Error).message}`);
    }
  }

  private readLocalhost(path: string) {
    let text: string;
    try {
      // A size check before the read: the file is the node admin's, but no file makes the daemon grow.
      if (statSync(path).size > PROFILE_MAX_BYTES) throw new ConfigError(`seccomp profile ${path}: larger than ${PROFILE_MAX_BYTES} bytes`);
      text = readFileSync(path, "utf8");
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      if (hasErrno(err, "ENOENT")) throw new ConfigError(`seccomp profile ${path} does not exist; put the profile there or use seccompProfile type RuntimeDefault`);
      throw new ConfigError(`cannot read seccomp profile ${path}: ${(err as Error).message}`);
    }
    let profile;
    try {
      profile = parseProfile(text, path).profile;
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
    // A call podd's tables do not know is left out of the program. In a rule that allows, that
    // only denies more; in one that denies, it would let the call through: refused.
    const unknown = (profile.syscalls ?? [])
      .filter((r) => r.action !== "SCMP_ACT_ALLOW")
      .flatMap((r) => r.names)
      .filter((n) => syscallNumber(this.arch, n) === undefined && !syscallKnownElsewhere(n));
    if (unknown.length > 0) {
      throw new ConfigError(`seccomp profile ${path}: podd does not know the system calls ${[...new Set(unknown)].join(", ")}, which a rule denies; remove them or use a newer podd`);
    }
    return profile;
  }
}
