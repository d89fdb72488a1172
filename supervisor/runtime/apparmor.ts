// AppArmor, on the hosts that have it (Debian and Ubuntu enable it by default). podd confines a
// container as containerd does there: to podd's own default profile unless the pod names
// another (Localhost, loaded by the administrator) or asks for none (Unconfined, privileged).
// The default profile is loaded, or replaced, with apparmor_parser once per daemon, when the
// first container needs it; podd-init then names the profile for the command's execve.
import { spawn } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { join } from "node:path";
import { PoddError } from "../base/errors.ts";
import { APPARMOR_DEFAULT_PROFILE } from "../../pod-specs/security.ts";
import { CreateError } from "./launch.ts";

/** How long loading the default profile may take (apparmor_parser compiles it). */
const PARSER_TIMEOUT_MS = 30_000;

/**
 * podd's default profile. Everything the container's other limits allow (its capabilities,
 * seccomp filter, read-only and masked paths) stays allowed; on top of them it forbids what
 * a container should never reach even with a capability added: mounts, the kernel's
 * firmware and security interfaces, the sysrq trigger and kernel memory, and signals or
 * ptrace to any process outside the profile. That includes the container's own podd-init,
 * which runs unconfined (as PID 1 it ignores what it has no handler for anyway), and with
 * hostPID every process of the host: AppArmor knows processes by profile only.
 */
export const DEFAULT_PROFILE = `# podd's default AppArmor profile: what RuntimeDefault means for a podd container.
profile ${APPARMOR_DEFAULT_PROFILE} flags=(attach_disconnected,mediate_deleted) {
  network,
  capability,
  file,
  umount,

  # Signals from podd (its podd-init forwards the stop signal) and among the pod's containers.
  signal (receive) peer=unconfined,
  signal (send, receive) peer=${APPARMOR_DEFAULT_PROFILE},
  ptrace (trace, read, tracedby, readby) peer=${APPARMOR_DEFAULT_PROFILE},

  deny mount,
  deny pivot_root,
  deny /proc/sys/** w,
  deny /proc/sysrq-trigger rwklx,
  deny /proc/kcore rwklx,
  deny /proc/kmem rwklx,
  deny /proc/mem rwklx,
  deny /sys/firmware/** rwklx,
  deny /sys/kernel/security/** rwklx,
}
`;

export interface AppArmorPaths {
  /** "Y" when the LSM is on */
  enabled: string;
  /** the profiles the kernel has loaded, one "NAME (MODE)" per line */
  profiles: string;
  /** where apparmor_parser is looked for, in order */
  parserDirs: readonly string[];
}

export const HOST_APPARMOR: AppArmorPaths = {
  enabled: "/sys/module/apparmor/parameters/enabled",
  profiles: "/sys/kernel/security/apparmor/profiles",
  parserDirs: ["/usr/sbin", "/sbin", "/usr/bin", "/bin"],
};

export class AppArmor {
  private loading: Promise<void> | undefined;

  private constructor(private readonly paths: AppArmorPaths, private readonly parser: string) {}

  /** The host's AppArmor, or why podd cannot confine containers with it. */
  static probe(paths: AppArmorPaths = HOST_APPARMOR): AppArmor | { unavailable: string } {
    let enabled = "";
    try {
      enabled = readFileSync(paths.enabled, "utf8").trim();
    } catch {
      // No module parameter: the kernel has no AppArmor.
    }
    if (enabled !== "Y") return { unavailable: "AppArmor is not enabled on the host" };
    try {
      accessSync(paths.profiles, constants.R_OK);
    } catch {
      return { unavailable: `AppArmor is enabled, but its policy interface ${paths.profiles} cannot be read (is securityfs mounted?)` };
    }
    const parser = paths.parserDirs.map((d) => join(d, "apparmor_parser")).find((p) => {
      try {
        accessSync(p, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    if (!parser) return { unavailable: "AppArmor is enabled, but apparmor_parser is not installed (apt-get install apparmor)" };
    return new AppArmor(paths, parser);
  }

  /** Whether the kernel has a profile of this name loaded. */
  loaded(name: string): boolean {
    let list: string;
    try {
      list = readFileSync(this.paths.profiles, "utf8");
    } catch (err) {
      throw PoddError.wrap(`read ${this.paths.profiles}`, err);
    }
    return list.split("\n").some((line) => line.slice(0, line.lastIndexOf(" (")) === name);
  }

  /**
   * The profile a container is to run under, ready in the kernel: podd's default is loaded
   * (once per daemon, replacing an older one), a Localhost one must be there already, as
   * containerd wants it. A missing profile holds the container.
   */
  async ready(name: string): Promise<void> {
    if (name === APPARMOR_DEFAULT_PROFILE) {
      this.loading ??= this.load(DEFAULT_PROFILE).catch((err: unknown) => {
        this.loading = undefined;
        throw new CreateError((err as Error).message, err);
      });
      return this.loading;
    }
    let loaded: boolean;
    try {
      loaded = this.loaded(name);
    } catch (err) {
      throw new CreateError((err as Error).message, err);
    }
    if (!loaded) throw new CreateError(`AppArmor profile "${name}" is not loaded on this host; load it with apparmor_parser, or name another`);
  }

  private load(profile: string): Promise<void> {
    return new Promise((resolve, reject) => {
      // -r: replace what an older podd loaded; -K: no cache files of ours on the host.
      const child = spawn(this.parser, ["-r", "-K", "-q"], { stdio: ["pipe", "ignore", "pipe"], timeout: PARSER_TIMEOUT_MS, killSignal: "SIGKILL" });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (s: string) => {
        if (stderr.length < 4096) stderr += s;
      });
      child.on("error", (err) => reject(PoddError.wrap(`load the AppArmor profile ${APPARMOR_DEFAULT_PROFILE}: run ${this.parser}`, err)));
      child.on("close", (code, signal) => {
        if (code === 0) resolve();
        else reject(new PoddError(`load the AppArmor profile ${APPARMOR_DEFAULT_PROFILE}: ${this.parser} ${signal ? `killed by ${signal}` : `exited ${code}`}: ${stderr.trim() || "no message"}`, { code: "Internal" }));
      });
      child.stdin.on("error", () => {
        // The parser's exit says what went wrong.
      });
      child.stdin.end(profile);
    });
  }
}
