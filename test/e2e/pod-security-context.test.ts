// The pod's securityContext groups and sysctls, end to end against a daemon: the container's
// processes (its command, a postStart hook, podd exec) have the supplementary groups Merge and
// Strict give them, as /proc/self/status shows and status user.linux reports; an emptyDir under
// fsGroup is the group's, setgid, and writable by a non-root user through that group; the safe
// sysctls are set inside the pod while the host's stay as they were; an unsafe one is
// SysctlForbidden without --allowed-unsafe-sysctls and set with it; one the kernel refuses
// fails the sandbox with the sysctl and errno named, leaving nothing behind.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { busyboxRootfs, e2eSkip, importBusybox, leftovers, podd, waitFor, writeManifest, type Env, type Ran } from "./harness.ts";
import { containerStatus, getPod, startDaemon, waitGone, waitRunning, withDaemonEnv, type Daemon } from "./daemon-helpers.ts";

const skip = e2eSkip();
const nothingLeft = { mounts: [], cgroups: [], processes: [], pins: [] };

interface Ctx {
  env: Env;
  d: Daemon;
  run(verb: string, args?: string[]): Promise<Ran>;
  apply(name: string, pod: Record<string, unknown>): Promise<void>;
}

// The image of the Kubernetes blog's example: its user 1000 is a member of group 50000, and
// (by name, in a list) of wheel.
const IMAGE_PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n";
const IMAGE_GROUP = "root:x:0:\nwheel:x:10:root,app\napp:x:1000:\ngroup-defined-in-image:x:50000:app\n";

async function importGroupsImage(env: Env): Promise<void> {
  const dir = join(env.dir, "groups-rootfs");
  const cp = spawnSync("cp", ["-a", busyboxRootfs(env.dir), dir], { encoding: "utf8" });
  assert.equal(cp.status, 0, cp.stderr);
  writeFileSync(join(dir, "etc/passwd"), IMAGE_PASSWD);
  writeFileSync(join(dir, "etc/group"), IMAGE_GROUP);
  const r = await podd(["image", "import", "groups:local", dir, "--root", env.state, "--env", "PATH=/bin:/sbin:/usr/bin"]);
  assert.equal(r.code, 0, r.stderr);
}

/** A fresh env with busybox and the groups image, a daemon on it with daemonArgs; all cleaned up afterwards. */
function withDaemon(fn: (c: Ctx) => Promise<void>, daemonArgs: string[] = []): Promise<void> {
  return withDaemonEnv(async (env, daemons) => {
    await importBusybox(env);
    await importGroupsImage(env);
    const d = (daemons.current = await startDaemon(env, daemonArgs));
    const run = (verb: string, args: string[] = []) => podd([verb, "--socket", d.socket, ...args]);
    const apply = async (name: string, pod: Record<string, unknown>) => {
      const r = await run("apply", ["-f", writeManifest(env, `${name}.json`, JSON.stringify(pod))]);
      assert.equal(r.code, 0, r.stderr);
    };
    await fn({ env, d, run, apply });
  });
}

function podOf(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: "v1", kind: "Pod", metadata: { name }, spec: { terminationGracePeriodSeconds: 0, ...spec } };
}

/** The numbers of a /proc/PID/status line ("Groups:\t10 2000 \n" → [10, 2000]). */
function statusField(text: string, field: string): number[] {
  const line = text.split("\n").find((l) => l.startsWith(`${field}:`));
  assert.ok(line, `no ${field} line in ${JSON.stringify(text)}`);
  return line.slice(field.length + 1).trim().split(/\s+/).filter(Boolean).map(Number);
}

async function exec(c: Ctx, pod: string, command: string[]): Promise<string> {
  const r = await c.run("exec", [pod, "--", ...command]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

async function logsUntil(c: Ctx, pod: string, done: RegExp): Promise<string> {
  return waitFor(`the log of ${pod} to match ${done}`, async () => {
    const r = await c.run("logs", [pod]);
    return done.test(r.stdout) ? r.stdout : undefined;
  });
}

function readSysctl(path: string): string {
  return readFileSync(path, "utf8").trim().split(/\s+/).join(" ");
}

async function warnings(c: Ctx, name: string): Promise<{ reason: string; message: string }[]> {
  const list = (await c.d.request("GET", "/api/v1/namespaces/default/events")).json;
  return list.items.filter((e: any) => e.involvedObject.name === name && e.type === "Warning").map((e: any) => ({ reason: e.reason, message: e.message }));
}

// The container writes what the kernel says of its groups, makes a file in each emptyDir, and
// shows their mode and group; its postStart hook records its own groups in the disk volume.
const report = [
  "grep -E '^(Uid|Gid|Groups):' /proc/self/status",
  "for d in /data /mem; do echo made > $d/by-app && echo \"$d ok $(stat -c '%a %g' $d) $(stat -c %g $d/by-app)\" || echo \"$d failed\"; done",
  "echo reported",
  "exec sleep 1000",
].join("; ");

function groupsPod(name: string, securityContext: Record<string, unknown>): Record<string, unknown> {
  return podOf(name, {
    // podd gives a postStart hook the grace period to run in.
    terminationGracePeriodSeconds: 5,
    securityContext,
    volumes: [{ name: "data", emptyDir: {} }, { name: "mem", emptyDir: { medium: "Memory" } }],
    containers: [{
      name: "c",
      image: "groups:local",
      command: ["sh", "-c", report],
      volumeMounts: [{ name: "data", mountPath: "/data" }, { name: "mem", mountPath: "/mem" }],
      lifecycle: { postStart: { exec: { command: ["sh", "-c", "grep Groups: /proc/self/status > /data/hook-groups"] } } },
    }],
  });
}

describe("pod securityContext: groups and sysctls", { skip, timeout: 180_000 }, () => {
  test("Merge adds the image's /etc/group memberships, Strict does not: the command, its hook and podd exec alike, as status reports", () =>
    withDaemon(async (c) => {
      const sc = { runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000, supplementalGroups: [4000] };
      await c.apply("merge", groupsPod("merge", sc));
      await c.apply("strict", groupsPod("strict", { ...sc, supplementalGroupsPolicy: "Strict" }));
      // The kubelet's order is the primary gid, the image's, fsGroup, supplementalGroups; the
      // kernel keeps them sorted.
      const want = { merge: [10, 2000, 3000, 4000, 50000], strict: [2000, 3000, 4000] };
      for (const name of ["merge", "strict"] as const) {
        // Running once its postStart hook has run.
        await waitRunning(c.d, name, "c");
        const log = await logsUntil(c, name, /^reported$/m);
        assert.deepEqual(statusField(log, "Uid"), [1000, 1000, 1000, 1000], log);
        assert.deepEqual(statusField(log, "Gid"), [3000, 3000, 3000, 3000], log);
        assert.deepEqual(statusField(log, "Groups"), want[name], `${name}: ${log}`);
        assert.deepEqual(statusField(await exec(c, name, ["cat", "/proc/self/status"]), "Groups"), want[name], `${name}: podd exec`);
        assert.deepEqual(statusField(await exec(c, name, ["cat", "/data/hook-groups"]), "Groups"), want[name], `${name}: postStart`);
        const status = containerStatus(await getPod(c.d, name), "c");
        assert.deepEqual(status.user, { linux: { uid: 1000, gid: 3000, supplementalGroups: want[name] } }, name);
      }
    }));

  test("an emptyDir under fsGroup is the group's, setgid, and writable by a non-root user through it; without fsGroup it is not the group's", () =>
    withDaemon(async (c) => {
      await c.apply("owned", groupsPod("owned", { runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000, supplementalGroupsPolicy: "Strict" }));
      await c.apply("unowned", groupsPod("unowned", { runAsUser: 0, runAsGroup: 3000, supplementalGroupsPolicy: "Strict" }));
      const owned = await logsUntil(c, "owned", /^reported$/m);
      for (const dir of ["/data", "/mem"]) {
        const m = new RegExp(`^${dir} ok (\\d+) (\\d+) (\\d+)$`, "m").exec(owned);
        assert.ok(m, `uid 1000 could not write to ${dir}:\n${owned}`);
        const [mode, dirGroup, fileGroup] = [parseInt(m[1]!, 8), Number(m[2]), Number(m[3])];
        assert.equal(dirGroup, 2000, `${dir} is fsGroup's`);
        assert.equal(mode & 0o2070, 0o2070, `${dir} is setgid and group rwx: ${m[1]}`);
        // The setgid directory gives what is made in it fsGroup, not the writer's primary gid.
        assert.equal(fileGroup, 2000, `a file made in ${dir}`);
      }
      // Control, as root (who may write anywhere): a volume of no fsGroup stays root's group,
      // without setgid, and a file made in it has the writer's primary gid.
      const unowned = await logsUntil(c, "unowned", /^reported$/m);
      for (const dir of ["/data", "/mem"]) {
        const m = new RegExp(`^${dir} ok (\\d+) (\\d+) (\\d+)$`, "m").exec(unowned);
        assert.ok(m, unowned);
        assert.equal(Number(m[2]), 0, `${dir} without fsGroup`);
        assert.equal(parseInt(m[1]!, 8) & 0o2000, 0, `${dir} without fsGroup is not setgid`);
        assert.equal(Number(m[3]), 3000);
      }
    }));

  test("the safe sysctls are set inside the pod; the host's stay as they were", () =>
    withDaemon(async (c) => {
      const hostRange = readSysctl("/proc/sys/net/ipv4/ip_local_port_range");
      const hostRmid = readSysctl("/proc/sys/kernel/shm_rmid_forced");
      // Values the host does not have, so that reading them proves they were set in the pod.
      const range = hostRange === "20000 20999" ? "21000 21999" : "20000 20999";
      const rmid = hostRmid === "1" ? "0" : "1";
      await c.apply("tuned", podOf("tuned", {
        securityContext: { sysctls: [{ name: "net/ipv4/ip_local_port_range", value: range }, { name: "kernel.shm_rmid_forced", value: rmid }] },
        containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }],
      }));
      await waitRunning(c.d, "tuned", "c");
      const inside = await exec(c, "tuned", ["cat", "/proc/sys/net/ipv4/ip_local_port_range", "/proc/sys/kernel/shm_rmid_forced"]);
      assert.deepEqual(inside.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" ")), [range, rmid]);
      // While the pod runs with them, the host still has its own.
      assert.equal(readSysctl("/proc/sys/net/ipv4/ip_local_port_range"), hostRange);
      assert.equal(readSysctl("/proc/sys/kernel/shm_rmid_forced"), hostRmid);
    }));

  test("an unsafe sysctl without --allowed-unsafe-sysctls: Failed, SysctlForbidden, the kubelet's message, nothing created", () =>
    withDaemon(async (c) => {
      await c.apply("unsafe", podOf("unsafe", {
        securityContext: { sysctls: [{ name: "kernel.shm_rmid_forced", value: "1" }, { name: "net.core.somaxconn", value: "1024" }] },
        containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }],
      }));
      const pod = await waitFor("unsafe Failed", async () => {
        const p = await getPod(c.d, "unsafe");
        return p?.status?.phase === "Failed" ? p : undefined;
      });
      const message = 'forbidden sysctl: "net.core.somaxconn" not allowlisted';
      assert.equal(pod.status.reason, "SysctlForbidden");
      assert.equal(pod.status.message, `Pod was rejected: ${message}`);
      assert.deepEqual(await warnings(c, "unsafe"), [{ reason: "SysctlForbidden", message }]);
      const got = await c.run("get", ["pod", "unsafe"]);
      assert.match(got.stdout, /^unsafe +0\/1 +SysctlForbidden +0 /m, got.stdout);
      assert.deepEqual(leftovers(c.env), nothingLeft);
    }));

  test("with --allowed-unsafe-sysctls 'kernel.msg*,net.core.somaxconn' they are set in the pod, not on the host", () =>
    withDaemon(
      async (c) => {
        const hostSomaxconn = readSysctl("/proc/sys/net/core/somaxconn");
        const hostMsgmax = readSysctl("/proc/sys/kernel/msgmax");
        const somaxconn = String(Number(hostSomaxconn) + 1);
        const msgmax = String(Number(hostMsgmax) + 1024);
        await c.apply("allowed", podOf("allowed", {
          securityContext: { sysctls: [{ name: "net.core.somaxconn", value: somaxconn }, { name: "kernel.msgmax", value: msgmax }] },
          containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }],
        }));
        await waitRunning(c.d, "allowed", "c");
        assert.deepEqual((await exec(c, "allowed", ["cat", "/proc/sys/net/core/somaxconn", "/proc/sys/kernel/msgmax"])).trim().split("\n"), [somaxconn, msgmax]);
        assert.equal(readSysctl("/proc/sys/net/core/somaxconn"), hostSomaxconn);
        assert.equal(readSysctl("/proc/sys/kernel/msgmax"), hostMsgmax);
        // Outside the patterns: still forbidden.
        await c.apply("other", podOf("other", {
          securityContext: { sysctls: [{ name: "net.core.rmem_max", value: "1" }] },
          containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }],
        }));
        const other = await waitFor("other Failed", async () => {
          const p = await getPod(c.d, "other");
          return p?.status?.phase === "Failed" ? p : undefined;
        });
        assert.equal(other.status.message, 'Pod was rejected: forbidden sysctl: "net.core.rmem_max" not allowlisted');
      },
      ["--allowed-unsafe-sysctls", "kernel.msg*,net.core.somaxconn"],
    ));

  test("a sysctl the kernel refuses fails the sandbox, naming the sysctl and the errno; no container starts, nothing is left", () =>
    withDaemon(
      async (c) => {
        await c.apply("refused", podOf("refused", {
          securityContext: { sysctls: [{ name: "kernel.shm_rmid_forced", value: "1" }, { name: "net.core.somaxconn", value: "many" }] },
          containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }],
        }));
        const why = "sysctl net.core.somaxconn=many: write /proc/sys/net/core/somaxconn: Invalid argument";
        const events = await waitFor("FailedCreatePodSandBox", async () => {
          // (ClusterFirst without a cluster DNS warns too: not what this test is about)
          const w = (await warnings(c, "refused")).filter((e) => e.reason !== "MissingClusterDNS");
          return w.length > 0 ? w : undefined;
        });
        assert.equal(events[0]!.reason, "FailedCreatePodSandBox", JSON.stringify(events));
        assert.ok(events[0]!.message.startsWith("Failed to create pod sandbox: ") && events[0]!.message.endsWith(why), events[0]!.message);
        const pod = await getPod(c.d, "refused");
        assert.equal(pod.status.phase, "Pending");
        assert.ok(pod.status.message.endsWith(why), pod.status.message);
        assert.equal(containerStatus(pod, "c").state.waiting?.reason, "ContainerCreating");
        assert.equal((await c.run("delete", ["pod", "refused"])).code, 0);
        await waitGone(c.d, "refused");
        assert.deepEqual(leftovers(c.env), nothingLeft);
      },
      ["--allowed-unsafe-sysctls", "net.core.somaxconn"],
    ));

  test("--allowed-unsafe-sysctls refuses a sysctl that is not namespaced: the daemon does not start", () =>
    withDaemonEnv(async (env) => {
      const r = await podd(["daemon", ...env.flags, "--allowed-unsafe-sysctls", "kernel.msg*,vm.swappiness"]);
      assert.equal(r.code, 2, "a usage error");
      assert.match(r.stderr, /invalid --allowed-unsafe-sysctls "kernel\.msg\*,vm\.swappiness": the sysctls "vm\.swappiness" are not known to be namespaced/);
    }));
});
