// hostUsers: false through a real daemon: the pod's own user namespace with 65536 ids of its
// own on the host, so that root in the container is an unprivileged id there; the image's files
// appear with their owners through idmapped mounts, the pod's own volumes are its root's, a
// claim's files keep the ids its containers gave them (idmapped too), and a host file owned by
// root is out of its reach. Two pods never share ids; a pod's range goes with it. On a pod
// network: network-userns.test.ts.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, e2eSkip, idmapSkip, repo, waitFor } from "./harness.ts";
import { onTerminal } from "../terminal.ts";
import { waitRunning } from "./daemon-helpers.ts";
import { withCli, type Cli } from "./cli-helpers.ts";
import { pid1Of } from "./pod-helpers.ts";

const skip = e2eSkip() || idmapSkip();
const SECRET = "s3cret-for-userns";

const pod = (name: string, hostDir: string) => `apiVersion: v1
kind: Secret
metadata: {name: ${name}-creds}
stringData: {password: ${SECRET}}
---
apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  hostUsers: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:local
    command: [sleep, "1000"]
    volumeMounts:
    - {name: scratch, mountPath: /scratch}
    - {name: creds, mountPath: /etc/creds}
    - {name: host, mountPath: /host}
    - {name: img, mountPath: /img}
  volumes:
  - {name: img, image: {reference: "busybox:local"}}
  - {name: scratch, emptyDir: {}}
  - {name: creds, secret: {secretName: ${name}-creds, defaultMode: 0400}}
  - {name: host, hostPath: {path: ${hostDir}, type: Directory}}
`;

async function sh(c: Cli, name: string, cmd: string): Promise<{ code: number; out: string }> {
  const r = await c.run("exec", [name, "--", "sh", "-c", cmd]);
  return { code: r.code ?? -1, out: (r.stdout + r.stderr).trim() };
}

/** Running, or the reason it is not (the emulated VM is slow: a minute). */
async function running(c: Cli, name: string): Promise<void> {
  try {
    await waitRunning(c.d, name, "c", 60_000);
  } catch (err) {
    const described = (await c.run("describe", ["pod", name])).stdout;
    throw new Error(`${(err as Error).message}\n${described}`);
  }
}

/** The host's uid of the container's command (PID 1's child). */
function commandUid(c: Cli, name: string): number {
  const pid1 = pid1Of(c.env, name, "c")!;
  const child = readFileSync(`/proc/${pid1}/task/${pid1}/children`, "utf8").trim().split(" ")[0]!;
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${child}/status`, "utf8"))![1]);
}

describe("hostUsers: false", { skip, timeout: 180_000 }, () => {
  test("root in the container is an unprivileged id of its own on the host; images, volumes and host files appear as they should", () =>
    withCli(async (c) => {
      const hostDir = join(c.env.dir, "hostfiles");
      mkdirSync(hostDir);
      writeFileSync(join(hostDir, "root-only"), "the host's\n");
      chmodSync(join(hostDir, "root-only"), 0o600);
      const r = await c.apply("a.yaml", pod("a", hostDir));
      assert.equal(r.code, 0, r.stderr);
      await running(c, "a");

      const map = (await sh(c, "a", "cat /proc/self/uid_map")).out.split(/\s+/).map(Number);
      const base = map[1]!;
      assert.deepEqual([map[0], map[2]], [0, 65536]);
      assert.ok(base >= 2 ** 30, `the pod's ids start at ${base}`);
      assert.equal(commandUid(c, "a"), base, "the container's root is the pod's first id on the host");
      assert.equal((await sh(c, "a", "id -u; id -g")).out, "0\n0");
      assert.equal((await sh(c, "a", "stat -c '%u %g' /bin/busybox /")).out, "0 0\n0 0", "the image's files and the root are root's inside");
      // An image volume too (its one layer is the root's, idmapped once), read-only.
      assert.equal((await sh(c, "a", "stat -c '%u %g' /img/bin/busybox; touch /img/x 2>/dev/null && echo writable || echo read-only")).out, "0 0\nread-only");
      // Written into its own layer: root's inside, the pod's id on the host.
      assert.equal((await sh(c, "a", "echo x > /made && stat -c %u /made")).out, "0");
      const upper = readdirSync(join(c.env.state, "pods")).map((p) => join(c.env.state, "pods", p, "layers", "c", "upper", "made")).find((f) => existsSync(f))!;
      assert.equal(statSync(upper).uid, base);
      // Its own volumes are its root's; the secret (0400) is readable by it.
      assert.equal((await sh(c, "a", "touch /scratch/x && stat -c %u /scratch /scratch/x")).out, "0\n0");
      assert.equal((await sh(c, "a", "cat /etc/creds/password")).out, SECRET);
      // Its /dev is its root's, and the terminal podd exec -t gives it is root's, group tty.
      assert.equal((await sh(c, "a", "stat -c '%u %g' /dev")).out, "0 0");
      const tty = await onTerminal([process.execPath, "--import", "tsx", cli, "exec", "--socket", c.d.socket, "-it", "a", "--", "sh", "-c", 'stat -c "%u %g %a" $(tty)'].map((x) => `'${x}'`).join(" "), { cwd: repo, timeoutMs: 60_000 });
      assert.equal(tty.status, 0, tty.out);
      assert.equal(tty.out, "0 5 620\n", "the pty of exec -t");
      // A host file of the host's root: nobody's inside, and out of reach.
      assert.equal((await sh(c, "a", "stat -c %u /host/root-only")).out, "65534");
      const denied = await sh(c, "a", "cat /host/root-only");
      assert.notEqual(denied.code, 0);
      assert.match(denied.out, /Permission denied/);

      // A second pod gets ids no other pod has; a pod's range goes with it.
      assert.equal((await c.apply("b.yaml", pod("b", hostDir))).code, 0);
      await running(c, "b");
      const other = Number((await sh(c, "b", "cat /proc/self/uid_map")).out.split(/\s+/)[1]);
      assert.ok(Math.abs(other - base) >= 65536, `${other} and ${base} overlap`);
      assert.equal((await c.run("delete", ["pod", "a"])).code, 0);
      await waitFor("a's state gone", () => !readdirSync(join(c.env.state, "pods")).some((p) => p.startsWith("default_a_")));
    }));

  test("a claim is idmapped: its files keep the ids containers gave them, whichever pod of its own ids mounts it next", () =>
    withCli(async (c) => {
      const claim = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: keep}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Mi}}}\n";
      const user = (name: string, hostUsers: boolean) =>
        `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n  hostUsers: ${hostUsers}\n  terminationGracePeriodSeconds: 1\n  containers: [{name: c, image: busybox:local, command: [sleep, "1000"], volumeMounts: [{name: d, mountPath: /data}]}]\n  volumes: [{name: d, persistentVolumeClaim: {claimName: keep}}]\n`;
      assert.equal((await c.apply("claim.yaml", claim)).code, 0);
      assert.equal((await c.apply("a.yaml", user("a", false))).code, 0);
      await running(c, "a");
      assert.equal((await sh(c, "a", "stat -c '%u %g' /data && echo a > /data/root-file && echo a > /data/user-file && chown 1000:1000 /data/user-file && mkdir /data/dir")).out, "0 0");
      // On disk, the container's ids, not the pod's ids on the host.
      const dir = join(c.env.state, "claims", readdirSync(join(c.env.state, "claims")).find((d) => !d.startsWith("."))!);
      const onDisk = (f: string) => `${statSync(join(dir, f)).uid}:${statSync(join(dir, f)).gid}`;
      assert.deepEqual(["root-file", "user-file", "dir"].map(onDisk), ["0:0", "1000:1000", "0:0"]);
      assert.equal((await c.run("delete", ["pod", "a"])).code, 0);
      await waitFor("a gone", async () => (await c.run("get", ["pod", "a"])).code !== 0);

      // Another pod, other ids on the host: the same owners, and its root may change them.
      assert.equal((await c.apply("b.yaml", user("b", false))).code, 0);
      await running(c, "b");
      assert.equal((await sh(c, "b", "stat -c '%n %u %g' /data/root-file /data/user-file /data/dir && echo b >> /data/root-file && echo b >> /data/user-file && cat /data/root-file")).out, "/data/root-file 0 0\n/data/user-file 1000 1000\n/data/dir 0 0\na\nb");
      assert.equal((await c.run("delete", ["pod", "b"])).code, 0);
      await waitFor("b gone", async () => (await c.run("get", ["pod", "b"])).code !== 0);
      // And a pod of the host's ids sees what a real cluster's would.
      assert.equal((await c.apply("h.yaml", user("h", true))).code, 0);
      await running(c, "h");
      assert.equal((await sh(c, "h", "stat -c '%n %u %g' /data/root-file /data/user-file")).out, "/data/root-file 0 0\n/data/user-file 1000 1000");
    }));

  test("what a pod of its own ids cannot have is refused by name", () =>
    withCli(async (c) => {
      const hostNet = await c.apply("n.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: n}\nspec:\n  hostUsers: false\n  hostNetwork: true\n  containers: [{name: c, image: busybox:local}]\n");
      assert.equal(hostNet.code, 1);
      assert.match(hostNet.stderr, /spec\.hostNetwork: Forbidden: when `pod\.Spec\.HostUsers` is false/);
      const host = await c.apply("h.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: h}\nspec:\n  hostUsers: false\n  containers: [{name: c, image: host, command: ['true']}]\n");
      assert.equal(host.code, 1);
      assert.match(host.stderr, /spec\.hostUsers: not supported yet by podd; an image: host container/);
      const big = await c.apply("u.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: u}\nspec:\n  hostUsers: false\n  restartPolicy: Never\n  securityContext: {runAsUser: 70000}\n  containers: [{name: c, image: busybox:local, command: ['true']}]\n");
      assert.equal(big.code, 0, big.stderr);
      await waitFor("u held", async () => /outside the pod's user namespace/.test((await c.run("describe", ["pod", "u"])).stdout) || undefined);
      // An fsGroup past the pod's block would give its volume to another pod's ids: refused
      // before anything is chowned.
      const group = await c.apply("g.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: g}\nspec:\n  hostUsers: false\n  securityContext: {fsGroup: 70000}\n  volumes: [{name: scratch, emptyDir: {}}]\n  containers: [{name: c, image: busybox:local, command: ['true'], volumeMounts: [{name: scratch, mountPath: /scratch}]}]\n");
      assert.equal(group.code, 0, group.stderr);
      await waitFor("g held", async () => /fsGroup 70000 is outside the pod's user namespace/.test((await c.run("describe", ["pod", "g"])).stdout) || undefined);
      const volumes = join(c.env.state, "pods", readdirSync(join(c.env.state, "pods")).find((p) => p.startsWith("default_g_"))!, "volumes");
      assert.ok(!existsSync(join(volumes, "scratch")) || statSync(join(volumes, "scratch")).gid < 65536 * 16384, "no group of another pod's block was given");
    }));
});
