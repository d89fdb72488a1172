// A container is not trusted: run as root inside a default container (busybox image and
// `image: host`), every escape the fixture tries fails with EPERM, EACCES or EROFS; the same
// fixture under `privileged: true` succeeds at the attempts that are safe to make, which proves
// the suite sees a failure where there is one. Capabilities, no_new_privs, the seccomp mode and
// the user of each securityContext combination are read back from /proc/self/status.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, existsSync, openSync, readFileSync, statSync } from "node:fs";
import { e2eSkip, hostFixtureMount, hostFixtureVolume, importBusybox, waitFor, type Env } from "./harness.ts";
import { containerStatus, getPod } from "./daemon-helpers.ts";
import { withCli } from "./cli-helpers.ts";
import { assertNothingLeft, inEnv, inEnvUnder, linesOf, runManifest, said } from "./pod-helpers.ts";

const skip = e2eSkip();

/**
 * A device of the host outside the allow-list that this (root) test process can open, as the
 * fixture's argument: the disk of /, else a loop device; where there is no block device (a VM
 * on a 9p root), /dev/kmsg. Where the machine itself refuses even root the disk, the control
 * would fail for the machine's reasons, not podd's.
 */
function hostDevice(): string {
  const root = statSync("/").dev;
  const candidates = [`${Math.floor(root / 256) & 0xfff}:${(root & 0xff) | ((root >> 12) & 0xfff00)}`, "7:0"];
  for (const dev of candidates) {
    const path = `/sys/dev/block/${dev}`;
    try {
      const name = readFileSync(`${path}/uevent`, "utf8").match(/^DEVNAME=(.*)$/m)?.[1];
      if (!name) continue;
      closeSync(openSync(`/dev/${name}`, "r"));
      return `b:${dev}`;
    } catch {
      // not this one: not a block device here, or not openable by root on this machine
    }
  }
  closeSync(openSync("/dev/kmsg", "r"));
  return "c:1:11";
}

/** /proc/self/status lines as a map (CapEff → "00000000a80425fb"). */
function statusOf(lines: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of lines) {
    const i = l.indexOf(":");
    if (i > 0 && !l.includes("=")) m.set(l.slice(0, i), l.slice(i + 1).trim());
  }
  return m;
}

/** The escape fixture's NAME=RESULT lines. */
function attemptsOf(lines: string[]): Map<string, string> {
  return new Map(lines.filter((l) => /^[a-z_0-9]+=[A-Z0-9]+$/.test(l)).map((l) => l.split("=") as [string, string]));
}

const REFUSED = new Set(["EPERM", "EACCES", "EROFS"]);
const ATTEMPTS = [
  "mount_tmpfs", "open_disk", "mount_cgroup", "release_agent", "remount_root_rw", "remount_sys_rw", "mount_proc",
  "write_proc_sys", "uncover_hidden", "unshare_mount", "load_module", "reboot", "set_clock", "sysrq_trigger",
  "open_dev_mem", "ptrace_pid1", "keyctl", "bpf",
];

function assertAllRefused(lines: string[], what: string): void {
  const got = attemptsOf(lines);
  assert.deepEqual([...got.keys()].sort(), [...ATTEMPTS].sort(), `${what}: every attempt reported\n${lines.join("\n")}`);
  // A kernel without magic SysRq has no trigger to refuse: that attempt cannot be made there.
  const absent = (name: string, v: string) => name === "sysrq_trigger" && v === "ENOENT" && !existsSync("/proc/sysrq-trigger");
  const through = [...got].filter(([name, v]) => !REFUSED.has(v) && !absent(name, v));
  assert.deepEqual(through, [], `${what}: attempts that were not refused with EPERM, EACCES or EROFS`);
}

/** The bounding set of this (host root) process: what "every capability" is here. */
const hostCapBnd = readFileSync("/proc/self/status", "utf8").match(/^CapBnd:\s*(\w+)$/m)![1]!;

describe("containers are not trusted by default", { skip, timeout: 600_000 }, () => {
  // A host-root container's roots must lie where it sees them (not under the /tmp it gets a
  // tmpfs on); an image container's under the temp dir (the v2 VM's /var/lib is 9p, no overlay upper).
  const base = "/var/lib";

  test("busybox image: default capabilities by user, every escape refused; privileged: the safe ones succeed", () =>
    inEnv(async (env: Env) => {
      await importBusybox(env);
      const disk = hostDevice();
      const r = await runManifest(env, "sec.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: sec}
spec:
  restartPolicy: Never
  containers:
    - {name: root, image: busybox:local, command: [sh, -c, "podd-fixture status; podd-fixture escape ${disk} /etc/hosts"]}
    - {name: nonroot, image: busybox:local, command: [podd-fixture, status], securityContext: {runAsUser: 1000, runAsGroup: 1000}}
    - name: narrow
      image: busybox:local
      command: [podd-fixture, status]
      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}}
    - {name: wide, image: busybox:local, command: [podd-fixture, status], securityContext: {capabilities: {add: [NET_ADMIN, SYS_TIME]}}}
    - {name: privileged, image: busybox:local, command: [sh, -c, "podd-fixture status; podd-fixture escape --safe-only ${disk} /etc/hosts"], securityContext: {privileged: true}}
`);
      assert.equal(r.code, 0, said(r));

      const root = statusOf(linesOf(r, "sec", "root"));
      assert.equal(root.get("CapEff"), "00000000a80425fb", said(r));
      assert.equal(root.get("CapBnd"), "00000000a80425fb");
      assert.equal(root.get("CapInh"), "0000000000000000");
      assert.equal(root.get("CapAmb"), "0000000000000000");
      assert.equal(root.get("NoNewPrivs"), "0");
      assertAllRefused(linesOf(r, "sec", "root"), "a root container on an image");

      const nonroot = statusOf(linesOf(r, "sec", "nonroot"));
      assert.equal(nonroot.get("CapEff"), "0000000000000000", "a non-root user holds nothing effective");
      assert.equal(nonroot.get("CapPrm"), "0000000000000000");
      assert.equal(nonroot.get("CapBnd"), "00000000a80425fb");
      assert.match(nonroot.get("Uid") ?? "", /^1000\s+1000\s+1000\s+1000$/);

      const narrow = statusOf(linesOf(r, "sec", "narrow"));
      assert.equal(narrow.get("CapEff"), "0000000000000400", "drop ALL, add NET_BIND_SERVICE");
      assert.equal(narrow.get("CapBnd"), "0000000000000400");
      assert.equal(narrow.get("NoNewPrivs"), "1");

      const wide = statusOf(linesOf(r, "sec", "wide"));
      assert.equal(wide.get("CapEff"), (0xa80425fbn | (1n << 12n) | (1n << 25n)).toString(16).padStart(16, "0"), "NET_ADMIN and SYS_TIME added");

      const priv = statusOf(linesOf(r, "sec", "privileged"));
      assert.equal(priv.get("CapEff"), hostCapBnd, "privileged: every capability the host has");
      assert.equal(priv.get("Seccomp"), "0", "privileged: no seccomp filter");
      const safe = attemptsOf(linesOf(r, "sec", "privileged"));
      assert.equal(safe.get("mount_tmpfs"), "OK", `the control can mount: ${said(r)}`);
      assert.equal(safe.get("open_disk"), "OK", "the control opens the host's disk read-only");
      assertNothingLeft(env, r.namespaces);
    }));

  test("image: host: every escape refused, podd's roots stay hidden; privileged: the safe ones succeed", () =>
    inEnvUnder(base, async (env: Env) => {
      const disk = hostDevice();
      const r = await runManifest(env, "host.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: hostsec}
spec:
  restartPolicy: Never
  volumes: [${hostFixtureVolume}]
  containers:
    - {name: root, image: host, command: [/run/podd-fixture, escape, "${disk}", "${env.state}"], volumeMounts: [${hostFixtureMount}]}
    - name: privileged
      image: host
      command: [/run/podd-fixture, escape, --safe-only, "${disk}", "${env.state}"]
      volumeMounts: [${hostFixtureMount}]
      securityContext: {privileged: true}
`);
      assert.equal(r.code, 0, said(r));
      assertAllRefused(linesOf(r, "hostsec", "root"), "a root container on the host's root");
      const safe = attemptsOf(linesOf(r, "hostsec", "privileged"));
      assert.equal(safe.get("mount_tmpfs"), "OK", said(r));
      assert.equal(safe.get("open_disk"), "OK");
      assertNothingLeft(env, r.namespaces);
    }));

  test("a symlink a container plants in its volume never leads a subPath mount out of the volume", () =>
    withCli(async (c) => {
      // First run: replace the subPath's directory by a link to the host's root, and exit. The
      // restart mounts the subPath again: beneath the volume, or not at all.
      const yaml = `apiVersion: v1
kind: Pod
metadata: {name: planter}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:local
    command: [sh, -c, "if [ -e /scratch/planted ]; then ls /sub; sleep 1000; fi; rm -rf /scratch/sub; ln -s / /scratch/sub; touch /scratch/planted; exit 1"]
    volumeMounts:
    - {name: scratch, mountPath: /scratch}
    - {name: scratch, mountPath: /sub, subPath: sub}
  volumes:
  - {name: scratch, emptyDir: {}}
`;
      assert.equal((await c.apply("planter.yaml", yaml)).code, 0);
      const held = await waitFor("the restart refused", async () => {
        const st = containerStatus(await getPod(c.d, "planter"), "c");
        const msg = `${st?.lastState?.terminated?.message ?? ""} ${st?.state?.waiting?.message ?? ""}`;
        // Only the first run may run (and exits at once); a later one running has the link mounted.
        if ((st?.restartCount ?? 0) >= 1 && st?.state?.running) assert.fail(`running with the link mounted: ${JSON.stringify(st)}`);
        return /subPath sub of .* leads outside the volume/.test(msg) ? msg : undefined;
      }, 60_000);
      assert.match(held, /for \/sub/);
    }, ["--backoff-initial", "50ms", "--backoff-max", "100ms"]));
});
