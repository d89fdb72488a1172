// podd apply against the daemon over the fake runtime: local validation first, the PUTs, the
// daemon's verdicts, --dry-run=client without a daemon, starting a daemon when none runs, and
// --wait following the pod's real status, through daemon restarts.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { applyMain, type ApplyDeps } from "../../supervisor/cli/apply.ts";
import { ConfigError } from "../../supervisor/runtime/launch.ts";
import { capture, NOW } from "./cli-capture.ts";
import { FakeDaemon, until } from "./fake-daemon.ts";

const dir = mkdtempSync(join(tmpdir(), "podd-apply-"));
function manifest(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
const pod = (name: string, image = "host", spec = "") => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n${spec}  containers:\n  - name: app\n    image: ${image}\n`;
const noDaemon: ApplyDeps = {
  startDaemon: () => Promise.reject(new Error("the test did not expect a daemon to be started")),
};

let api: FakeDaemon;
before(async () => {
  api = await FakeDaemon.start(NOW);
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
  return api.close();
});

const apply = (argv: string[], deps = noDaemon, tty = false) => capture((io) => applyMain([...argv, "--socket", api.socket], io, deps), { tty });
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs an apply while the daemon's clock moves on, `step` ms at a time, until it returns. */
async function applyWhileTime(argv: string[], step: number, onStep: (n: number) => void = () => {}) {
  let done = false;
  const r = apply(argv).finally(() => (done = true));
  for (let n = 0; !done; n++) {
    onStep(n);
    await api.advance(step);
    await pause(5);
  }
  return r;
}

/** Waits (in real time) until the CLI has asked for its count-th watch of the pod. */
async function watching(name: string, count = 1): Promise<void> {
  const q = `GET /api/v1/namespaces/default/pods?watch=true&fieldSelector=metadata.name%3D${name}`;
  await until(`watch ${count} of pod ${name}`, () => api.paths().filter((p) => p === q).length >= count);
}

test("apply PUTs each defaulted pod and prints the daemon's verdict", async () => {
  const file = manifest("two.yaml", pod("a") + "---\n" + pod("b"));
  const before = api.requests.length;
  const r = await apply(["-f", file]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "pod/a created\npod/b created\n");
  const puts = api.requests.slice(before).filter((q) => q.method === "PUT");
  assert.deepEqual(puts.map((q) => q.path), ["/api/v1/namespaces/default/pods/a", "/api/v1/namespaces/default/pods/b"]);
  const stored = api.daemon.get("default", "a")!;
  assert.equal(stored.spec.containers[0]!.image, "host");
  assert.equal(stored.spec.restartPolicy, "Always", "the pod is stored defaulted");

  assert.equal((await apply(["-f", file])).stdout, "pod/a unchanged\npod/b unchanged\n");
  assert.equal((await apply(["-f", manifest("a2.yaml", pod("a", "other"))])).stdout, "pod/a configured\n");
  assert.equal(api.daemon.get("default", "a")!.spec.containers[0]!.image, "other");
});

test("an invalid manifest is reported with file:line:col and nothing is sent", async () => {
  const file = manifest("bad.yaml", pod("ok") + "---\n" + "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n  - name: c\n    imagee: host\n");
  const before = api.requests.length;
  const r = await apply(["-f", file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`^${file}:17:5: spec\\.containers\\[0\\]\\.imagee: `, "m"));
  assert.equal(api.requests.length, before);
});

test("the daemon's Invalid Status is printed with its causes", async () => {
  const cm = (v: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fixed}\nimmutable: true\ndata: {a: "${v}"}\n`;
  assert.equal((await apply(["-f", manifest("cm1.yaml", cm("1"))])).stdout, "configmap/fixed created\n");
  const r = await apply(["-f", manifest("cm2.yaml", cm("2"))]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error from server (Invalid): ConfigMap "fixed" is invalid: data: Forbidden: field is immutable when `immutable` is set\n* data: Forbidden: field is immutable when `immutable` is set\n');
});

test("--dry-run=client validates and needs no daemon", async () => {
  const r = await capture((io) => applyMain(["-f", manifest("dry.yaml", pod("dry")), "--dry-run=client", "--socket", join(dir, "none.sock")], io, noDaemon));
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "pod/dry created (dry run)\n");
});

test("with no daemon, apply starts one, says where its log and state are, waits for /healthz", async () => {
  const late = FakeDaemon.prepare(NOW);
  let started = 0;
  const deps: ApplyDeps = {
    async startDaemon(socket, place) {
      assert.equal(socket, late.socket);
      assert.equal(place.root, "/tmp/state");
      assert.equal(place["cgroup-parent"], "podd-x");
      started++;
      await late.open();
      return { pid: 4242, logPath: "/var/log/podd/daemon.log", stateRoot: "/var/lib/podd", exited: new Promise(() => {}) };
    },
  };
  try {
    const r = await capture((io) => applyMain(["-f", manifest("late.yaml", pod("late")), "--socket", late.socket, "--root", "/tmp/state", "--cgroup-parent", "podd-x"], io, deps));
    assert.equal(r.code, 0);
    assert.equal(started, 1);
    assert.equal(r.stderr, "no podd daemon was running: started one (pid 4242); its log is /var/log/podd/daemon.log, its state /var/lib/podd\n");
    assert.equal(r.stdout, "pod/late created\n");
    assert.deepEqual(late.paths(), ["GET /healthz", "PUT /api/v1/namespaces/default/pods/late"]);
  } finally {
    await late.close();
  }
});

test("a daemon that exits before answering is an error that points at its log", async () => {
  const sock = join(dir, "dies.sock");
  const deps: ApplyDeps = {
    startDaemon: async () => ({ pid: 1, logPath: join(dir, "daemon.log"), stateRoot: "/var/lib/podd", exited: Promise.resolve(1) }),
  };
  writeFileSync(join(dir, "daemon.log"), "error: podd daemon must run as root\n");
  const r = await capture((io) => applyMain(["-f", manifest("dies.yaml", pod("dies")), "--socket", sock], io, deps));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /podd daemon exited \(code 1\) before it answered on .*dies\.sock; see .*daemon\.log:\nerror: podd daemon must run as root\n$/);
});

test("--wait: plain progress lines off a terminal, then ready; a failed pod makes exit 1", async () => {
  api.rt.scripts.set("app", { startsAfterMs: 1000 });
  const ok = await applyWhileTime(["-f", manifest("w.yaml", pod("w-ok")), "--wait"], 500);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, "pod/w-ok created\npod/w-ok ready\n");
  assert.equal(ok.stderr, "pod/w-ok ContainerCreating (0/1 ready)\n");
  api.rt.scripts.set("app", { startError: 'exec: "app": executable file not found in $PATH' });
  const bad = await applyWhileTime(["-f", manifest("wf.yaml", pod("w-fail", "host", "  restartPolicy: Never\n")), "--wait", "--timeout", "10s"], 500);
  api.rt.scripts.delete("app");
  assert.equal(bad.code, 1);
  assert.equal(bad.stdout, "pod/w-fail created\npod/w-fail failed: StartError\n");
  assert.ok(api.paths().includes("GET /api/v1/namespaces/default/pods?watch=true&fieldSelector=metadata.name%3Dw-ok"), api.paths().join("\n"));
});

test("--wait: a pod deleted while waited for ends the wait with exit 1 (it ends Failed on its way out, as with the kubelet)", async () => {
  api.rt.scripts.set("app", { startsAfterMs: 1000 });
  const r = apply(["-f", manifest("gone.yaml", pod("gone")), "--wait", "--timeout", "10s"]);
  await watching("gone");
  await api.daemon.delete("default", "gone", 0);
  await api.advance(4_000);
  api.rt.scripts.delete("app");
  const done = await r;
  assert.equal(done.code, 1);
  assert.equal(done.stdout, "pod/gone created\npod/gone failed: Error\n");
});

const restarts = [
  { how: "stops (its watches end)", name: "ended", drop: () => api.stop() },
  { how: "is killed mid-stream", name: "cut", drop: () => api.kill() },
];
for (const { how, name, drop } of restarts) {
  test(`--wait watches again when the daemon ${how} and comes back, and still reports the pod`, async () => {
    api.rt.scripts.set("app", { startsAfterMs: 1000 });
    const r = apply(["-f", manifest(`${name}.yaml`, pod(name)), "--wait", "--timeout", "10s"]);
    await watching(name);
    await drop();
    await api.open();
    await watching(name, 2);
    await api.advance(1000);
    api.rt.scripts.delete("app");
    const done = await r;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout, `pod/${name} created\npod/${name} ready\n`);
  });
}

test("--wait: a daemon that comes back without the pod ends the wait at once, not at --timeout", async () => {
  api.rt.scripts.set("app", { startsAfterMs: 60_000 });
  const r = apply(["-f", manifest("lost.yaml", pod("lost")), "--wait", "--timeout", "10s"]);
  await watching("lost");
  await api.kill();
  rmSync(join(api.dir, "state", "desired", "default", "lost.json"));
  await api.open();
  api.rt.scripts.delete("app");
  const lost = await r;
  assert.equal(lost.code, 1);
  assert.match(lost.stderr, /pod\/lost was deleted while waiting for it/);
});

test("--wait gives up at --timeout and says where each pod stood", async () => {
  api.rt.scripts.set("app", { startsAfterMs: 60_000 });
  const r = await apply(["-f", manifest("slow.yaml", pod("slow")), "--wait", "--timeout", "300ms"]);
  api.rt.scripts.delete("app");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error: timed out waiting for pod\/slow to be ready or to end: ContainerCreating \(0\/1 ready\)\n$/);
});

test("--wait shows at once why a pod is held, with the container's message, as it changes", async () => {
  api.rt.failingImages.set("registry.example/held:1", "connection refused");
  const r = await applyWhileTime(["-f", manifest("held.yaml", pod("held", "registry.example/held:1")), "--wait", "--timeout", "1s"], 10_000, (n) => {
    if (n !== 2) return;
    // The image is there now; the container's configuration is what holds it next.
    api.rt.failingImages.clear();
    api.rt.scripts.set("app", { startThrows: new ConfigError("container has runAsNonRoot and image will run as root") });
  });
  api.rt.scripts.delete("app");
  assert.equal(r.code, 1);
  const lines = [...new Set(r.stderr.trimEnd().split("\n"))];
  assert.deepEqual(lines.slice(-3), [
    "pod/held ErrImagePull (0/1 ready): container app: ErrImagePull: connection refused",
    "pod/held CreateContainerConfigError (0/1 ready): container app: CreateContainerConfigError: container has runAsNonRoot and image will run as root",
    "error: timed out waiting for pod/held to be ready or to end: CreateContainerConfigError (0/1 ready): container app: CreateContainerConfigError: container has runAsNonRoot and image will run as root",
  ]);
});

test("--wait: a pod that was ready for an instant and has completed since is reported completed", async () => {
  // The container exits as the watch has sent it Running and ready, before the CLI looks again.
  api.onRequest = (q) => {
    if (q.query.watch === "true" && q.query.fieldSelector === "metadata.name=brief") api.rt.last("brief", "app").end(0);
  };
  const r = await apply(["-f", manifest("brief.yaml", pod("brief", "host", "  restartPolicy: Never\n")), "--wait", "--timeout", "10s"]);
  api.onRequest = undefined;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "pod/brief created\npod/brief completed\n");
});
