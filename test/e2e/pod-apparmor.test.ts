// AppArmor as Debian and Ubuntu hosts have it, through a daemon: a container that names no
// profile runs confined to podd's default one (a mount it holds CAP_SYS_ADMIN for is refused,
// and a signal to its unconfined podd-init, while its Unconfined twin does both), as does what `podd exec` starts in it; a privileged one
// runs unconfined; a Localhost profile the test loads governs its container; one that is not
// loaded holds its container in CreateContainerError. Runs where the host has AppArmor: the v2
// VM (Debian's kernel, securityfs mounted); the host without it refuses such pods
// (daemon-admission.test.ts).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { AppArmor } from "../../supervisor/runtime/apparmor.ts";
import { e2eSkip, waitFor } from "./harness.ts";
import { withCli, type Cli } from "./cli-helpers.ts";

const probe = AppArmor.probe();
const skip = e2eSkip() || (probe instanceof AppArmor ? false : `${probe.unavailable}; the v2 VM runs this suite`);

function parser(args: string[], profile: string): void {
  const r = spawnSync("apparmor_parser", args, { input: profile, encoding: "utf8" });
  assert.equal(r.status, 0, `apparmor_parser ${args.join(" ")}: ${r.stderr}`);
}

async function logsOf(c: Cli, pod: string, container: string, last: string): Promise<string> {
  return waitFor(`${pod}/${container} says ${last}`, async () => {
    const r = await c.run("logs", [pod, "-c", container]);
    return r.stdout.includes(last) ? r.stdout : undefined;
  });
}

describe("AppArmor", { skip, timeout: 300_000 }, () => {
  test("podd-default unless Unconfined or privileged, podd exec too; a Localhost profile governs; one not loaded holds the container", () =>
    withCli(async (c) => {
      // A profile of this test's own, which forbids reading one file.
      const name = `podd-test-${randomBytes(4).toString("hex")}`;
      const profile = `profile ${name} flags=(attach_disconnected,mediate_deleted) {\n  file,\n  capability,\n  signal,\n  ptrace,\n  deny /etc/hostname r,\n}\n`;
      parser(["-r", "-K", "-q"], profile);
      try {
        const probeCmd = "cat /proc/self/attr/current; mkdir -p /m; mount -t tmpfs t /m && echo mount=ok || echo mount=refused; kill -CONT 1 && echo signal=ok || echo signal=refused; echo done; exec sleep 3600";
        const applied = await c.apply(
          "aa.yaml",
          `apiVersion: v1
kind: Pod
metadata: {name: aa}
spec:
  containers:
    - {name: default, image: busybox:local, command: [sh, -c, "${probeCmd}"], securityContext: {capabilities: {add: [SYS_ADMIN]}}}
    - {name: free, image: busybox:local, command: [sh, -c, "${probeCmd}"], securityContext: {capabilities: {add: [SYS_ADMIN]}, appArmorProfile: {type: Unconfined}}}
    - {name: priv, image: busybox:local, command: [sh, -c, "cat /proc/self/attr/current; echo done; exec sleep 3600"], securityContext: {privileged: true}}
    - name: local
      image: busybox:local
      command: [sh, -c, "cat /proc/self/attr/current; cat /etc/hostname >/dev/null && echo read=ok || echo read=refused; echo done; exec sleep 3600"]
      securityContext: {appArmorProfile: {type: Localhost, localhostProfile: ${name}}}
`,
          ["--wait"],
        );
        assert.equal(applied.code, 0, applied.stderr);
        const def = await logsOf(c, "aa", "default", "done");
        assert.match(def, /^podd-default \(enforce\)$/m, def);
        assert.match(def, /^mount=refused$/m, "the default profile refuses a mount that CAP_SYS_ADMIN would allow");
        assert.match(def, /^signal=refused$/m, "no signal leaves the profile: not to podd-init, PID 1, which runs unconfined");
        const free = await logsOf(c, "aa", "free", "done");
        assert.match(free, /^unconfined$/m, free);
        assert.match(free, /^mount=ok$/m, "the control: unconfined, the same capability mounts");
        assert.match(free, /^signal=ok$/m, "the control: unconfined, it signals PID 1");
        assert.match(await logsOf(c, "aa", "priv", "done"), /^unconfined$/m);
        const local = await logsOf(c, "aa", "local", "done");
        assert.match(local, new RegExp(`^${name} \\(enforce\\)$`, "m"), local);
        assert.match(local, /^read=refused$/m, "the Localhost profile's rule holds");
        const exec = await c.run("exec", ["aa", "-c", "default", "--", "cat", "/proc/self/attr/current"]);
        assert.equal(exec.code, 0, exec.stderr);
        assert.equal(exec.stdout.trim(), "podd-default (enforce)", "podd exec runs under the container's profile");

        const missing = `podd-absent-${randomBytes(4).toString("hex")}`;
        const held = await c.apply("held.yaml", `apiVersion: v1\nkind: Pod\nmetadata: {name: held}\nspec:\n  containers:\n    - {name: c, image: busybox:local, command: [sleep, "3600"], securityContext: {appArmorProfile: {type: Localhost, localhostProfile: ${missing}}}}\n`);
        assert.equal(held.code, 0, held.stderr);
        const described = await waitFor("held in CreateContainerError", async () => {
          const d = await c.run("describe", ["pod", "held"]);
          return /Reason: +CreateContainerError/.test(d.stdout) ? d.stdout : undefined;
        });
        assert.match(described, new RegExp(`AppArmor profile "${missing}" is not loaded on this host`), described);
        for (const pod of ["aa", "held"]) assert.equal((await c.run("delete", ["pod", pod])).code, 0);
      } finally {
        parser(["-R", "-K", "-q"], profile);
      }
    }));
});
