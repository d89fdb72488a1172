// The device allow-list for real, on whichever cgroup version this host boots (v1 hybrid here:
// devices.allow; v2 in test/vm: the eBPF program). A busybox container may use /dev/null,
// /dev/urandom, /dev/ptmx and make a null node of its own, but mknod of a block device or a
// console fails with EPERM, and so does opening device nodes a hostPath hands it (a loop
// device, /dev/kmsg's twin). The control: the same script as a host process in cgroups made by
// the cgroup manager, once with every device allowed (it succeeds: the host allows these
// devices, so the container's EPERM is podd's doing) and once with the default rules (EPERM
// again, without a pod in between).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_DEVICE_RULES, openCgroups } from "../../supervisor/cgroups/index.ts";
import type { DeviceAccess } from "../../supervisor/cgroups/index.ts";
import type { Env } from "./harness.ts";
import { skip, withEnv } from "./lifecycle-helpers.ts";
import { linesOf, runManifest, said, shCommand, valuesOf } from "./pod-helpers.ts";

const EPERM = "Operation not permitted";

/**
 * Tries each device operation and prints key=rc=<status> <what it said>. $DEVS holds nodes the
 * host made: loop0 (b 7:0), kmsg (c 1:11), null (c 1:3). $SCRATCH is a writable directory.
 */
const SCRIPT = `
try() { key=$1; shift; out=$( ("$@") 2>&1 ); rc=$?; echo "$key=rc=$rc\${out:+ $out}"; }
try mknod-block mknod "$SCRATCH/blk" b 7 0
try mknod-tty1 mknod "$SCRATCH/tty1" c 4 1
try mknod-null mknod "$SCRATCH/null" c 1 3
try open-own-null sh -c ': < "$SCRATCH/null"'
try open-loop sh -c ': < "$DEVS/loop0"'
try open-kmsg sh -c ': < "$DEVS/kmsg"'
try open-host-null sh -c ': < "$DEVS/null"'
try dev-null cat /dev/null
try write-null sh -c 'echo x > /dev/null'
try urandom sh -c 'test "$(head -c1 /dev/urandom | wc -c)" = 1'
try ptmx sh -c ': <> /dev/ptmx'
`;

/** Device nodes for hostPath: made on the host, where nothing restricts the test. */
function makeNodes(env: Env): string {
  const dir = join(env.dir, "devs");
  mkdirSync(dir);
  for (const [name, type, major, minor] of [["loop0", "b", 7, 0], ["kmsg", "c", 1, 11], ["null", "c", 1, 3]] as const) {
    const r = spawnSync("mknod", [join(dir, name), type, String(major), String(minor)], { encoding: "utf8" });
    assert.equal(r.status, 0, `mknod ${name} on the host: ${r.stderr}`);
  }
  return dir;
}

/** Runs SCRIPT as a host process in cgroups made by podd's cgroup manager with these devices. */
async function onHost(devs: string, scratch: string, devices: DeviceAccess): Promise<Map<string, string>> {
  const mgr = await openCgroups({ parent: `podd-test-devices-${randomBytes(4).toString("hex")}` });
  try {
    await mgr.ensureParent();
    await mgr.createPod("pod", {});
    await mgr.createContainer("pod", "c", {}, devices);
    const join0 = 'for d in $PODD_CGROUP_DIRS; do echo 0 > "$d/cgroup.procs" || exit 97; done\n';
    mkdirSync(scratch);
    const r = spawnSync("/bin/sh", ["-c", join0 + SCRIPT], {
      encoding: "utf8",
      env: { ...process.env, PODD_CGROUP_DIRS: mgr.containerDirs("pod", "c").join(" "), DEVS: devs, SCRATCH: scratch },
    });
    assert.equal(r.status, 0, `host script: ${r.stderr}`);
    return new Map(r.stdout.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  } finally {
    // The script has exited, so its cgroups are empty.
    await mgr.removeParent();
  }
}

/** "rc=0", or the error text and status: what the kernel said. */
function assertAllowed(v: Map<string, string>, key: string, where: string): void {
  assert.equal(v.get(key), "rc=0", `${where}: ${key} should work`);
}

function assertDenied(v: Map<string, string>, key: string, where: string): void {
  const out = v.get(key) ?? "(missing)";
  assert.ok(out.includes(EPERM) && !out.startsWith("rc=0"), `${where}: ${key} should fail with EPERM, got ${JSON.stringify(out)}`);
}

const denied = ["mknod-block", "mknod-tty1", "open-loop", "open-kmsg"];
const allowed = ["mknod-null", "open-own-null", "open-host-null", "dev-null", "write-null", "urandom", "ptmx"];

describe("device allow-list", { skip }, () => {
  test("a container can use null, urandom and ptmx, but not mknod or open a block device, a console or kmsg", (t) =>
    withEnv(
      async (env) => {
        const devs = makeNodes(env);
        const r = await runManifest(
          env,
          "devices.yaml",
          `apiVersion: v1
kind: Pod
metadata: {name: devices}
spec:
  restartPolicy: Never
  volumes: [{name: devs, hostPath: {path: "${devs}", type: Directory}}]
  containers:
  - name: c
    image: busybox:local
    env: [{name: DEVS, value: /devs}, {name: SCRATCH, value: /tmp/scratch}]
    volumeMounts: [{name: devs, mountPath: /devs}]
    command: ${shCommand("mkdir /tmp/scratch && " + SCRIPT.trim().split("\n").join("\n"))}
`,
        );
        // podd run exits 0 only when the container did.
        assert.equal(r.code, 0, said(r));
        const v = valuesOf(r, "devices", "c");
        const where = `in the container (${linesOf(r, "devices", "c").join("; ")})`;
        t.diagnostic(where);
        for (const k of denied) assertDenied(v, k, where);
        for (const k of allowed) assertAllowed(v, k, where);
      },
      { busybox: true },
    ));

  test("control: on the host, the same operations work with every device allowed and fail with the default rules", (t) =>
    withEnv(async (env) => {
      const devs = makeNodes(env);
      const all = await onHost(devs, join(env.dir, "all"), "all");
      const where = `host cgroup with every device (${[...all].map(([k, x]) => `${k}=${x}`).join("; ")})`;
      t.diagnostic(where);
      for (const k of ["mknod-block", "mknod-tty1", "open-kmsg", ...allowed]) assertAllowed(all, k, where);
      // The loop driver may be absent (a VM without the module): then the open reaches it and
      // fails ENXIO. Only a device list answers EPERM.
      assert.ok(!all.get("open-loop")?.includes(EPERM), `${where}: open-loop`);

      const restricted = await onHost(devs, join(env.dir, "default"), DEFAULT_DEVICE_RULES);
      const where2 = `host cgroup with the default rules (${[...restricted].map(([k, x]) => `${k}=${x}`).join("; ")})`;
      t.diagnostic(where2);
      for (const k of denied) assertDenied(restricted, k, where2);
      for (const k of allowed) assertAllowed(restricted, k, where2);
    }));
});
