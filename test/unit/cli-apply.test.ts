// podd apply against the fake API: local validation first, the PUTs, the daemon's verdicts,
// --dry-run=client without a daemon, starting a daemon when none runs, and --wait.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { applyMain, type ApplyDeps } from "../../supervisor/cli/apply.ts";
import type { ApiPod } from "../../supervisor/api/client.ts";
import { capture, FakeApi, makePod } from "./fake-api.ts";

const dir = mkdtempSync(join(tmpdir(), "podd-apply-"));
function manifest(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
const pod = (name: string, image = "host") => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n  containers:\n  - name: c\n    image: ${image}\n`;
const noDaemon: ApplyDeps = {
  startDaemon: () => Promise.reject(new Error("the test did not expect a daemon to be started")),
};

let api: FakeApi;
before(async () => {
  api = await FakeApi.start();
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
  return api.close();
});

const apply = (argv: string[], deps = noDaemon, tty = false) => capture((io) => applyMain([...argv, "--socket", api.socket], io, deps), { tty });

test("apply PUTs each defaulted pod and prints the daemon's verdict", async () => {
  const file = manifest("two.yaml", pod("a") + "---\n" + pod("b"));
  const before = api.requests.length;
  const r = await apply(["-f", file]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "pod/a created\npod/b created\n");
  const puts = api.requests.slice(before).filter((q) => q.method === "PUT");
  assert.deepEqual(puts.map((q) => q.path), ["/api/v1/namespaces/default/pods/a", "/api/v1/namespaces/default/pods/b"]);
  const body = puts[0]!.body as ApiPod;
  assert.equal(body.kind, "Pod");
  assert.equal(body.metadata.namespace, "default");
  assert.equal(body.spec.containers[0]!.image, "host");
  assert.equal(body.spec.restartPolicy, "Always", "the body is the defaulted pod");

  assert.equal((await apply(["-f", file])).stdout, "pod/a unchanged\npod/b unchanged\n");
  assert.equal((await apply(["-f", manifest("a2.yaml", pod("a", "other"))])).stdout, "pod/a configured\n");
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
  const r = await apply(["-f", manifest("inv.yaml", pod("invalid"))]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error from server (Invalid): Pod "invalid" is invalid: spec.containers[0].image: Required value\n* spec.containers[0].image: Required value\n');
});

test("--dry-run=client validates and needs no daemon", async () => {
  const r = await capture((io) => applyMain(["-f", manifest("dry.yaml", pod("dry")), "--dry-run=client", "--socket", join(dir, "none.sock")], io, noDaemon));
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "pod/dry created (dry run)\n");
});

test("with no daemon, apply starts one, says where its log and state are, waits for /healthz", async () => {
  const late = new FakeApi();
  let started = 0;
  const deps: ApplyDeps = {
    async startDaemon(socket, place) {
      assert.equal(socket, late.socket);
      assert.equal(place.root, "/tmp/state");
      assert.equal(place["cgroup-parent"], "podd-x");
      started++;
      await late.listen();
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
  // The watch sends the pod as applied (ContainerCreating), then its change.
  api.onPodWatch = (p, emit) => {
    const done = p.metadata.name === "w-fail" ? makePod(p.metadata.name, { phase: "Failed", ready: false }) : makePod(p.metadata.name);
    if (p.metadata.name === "w-fail") {
      done.status.containerStatuses[0]!.state = { terminated: { exitCode: 3, reason: "Error", startedAt: "2026-11-22T05:00:00Z", finishedAt: "2026-11-22T05:00:01Z" } };
    }
    setTimeout(() => emit("MODIFIED", { ...p, status: done.status }), 20);
  };
  try {
    const ok = await apply(["-f", manifest("w.yaml", pod("w-ok")), "--wait"]);
    assert.equal(ok.code, 0);
    assert.equal(ok.stdout, "pod/w-ok created\npod/w-ok ready\n");
    assert.equal(ok.stderr, "pod/w-ok ContainerCreating (0/1 ready)\n");
    const bad = await apply(["-f", manifest("wf.yaml", pod("w-fail")), "--wait", "--timeout", "10s"]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, "pod/w-fail created\npod/w-fail failed: Error\n");
  } finally {
    api.onPodWatch = undefined;
  }
  assert.ok(api.paths().includes("GET /api/v1/namespaces/default/pods?watch=true&fieldSelector=metadata.name%3Dw-ok"), api.paths().join("\n"));
});

test("--wait: a pod deleted while waited for ends the wait with exit 1", async () => {
  api.onPodWatch = (p, emit) => setTimeout(() => emit("DELETED", p), 20);
  try {
    const r = await apply(["-f", manifest("gone.yaml", pod("gone")), "--wait", "--timeout", "10s"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /pod\/gone was deleted while waiting for it/);
  } finally {
    api.onPodWatch = undefined;
  }
});

const dropWatches = [
  { how: "ends the watch (a restart)", name: "ended", drop: () => api.endWatches() },
  { how: "is killed mid-stream", name: "cut", drop: () => api.cutWatches() },
];
for (const { how, name, drop } of dropWatches) {
  test(`--wait watches again when the daemon ${how}, and still reports the pod`, async () => {
    let watches = 0;
    api.onPodWatch = (p, emit) => {
      watches++;
      if (watches === 1) setTimeout(drop, 20);
      else setTimeout(() => emit("MODIFIED", { ...p, status: makePod(p.metadata.name).status }), 20);
    };
    try {
      const r = await apply(["-f", manifest(`${name}.yaml`, pod(name)), "--wait", "--timeout", "10s"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `pod/${name} created\npod/${name} ready\n`);
      assert.equal(watches, 2);
    } finally {
      api.onPodWatch = undefined;
    }
  });
}

test("--wait: a daemon that comes back without the pod ends the wait at once, not at --timeout", async () => {
  let watches = 0;
  api.onPodWatch = (p) => {
    watches++;
    setTimeout(() => {
      api.pods.delete(`${p.metadata.namespace}/${p.metadata.name}`);
      api.cutWatches();
    }, 20);
  };
  try {
    const lost = await apply(["-f", manifest("lost.yaml", pod("lost")), "--wait", "--timeout", "10s"]);
    assert.equal(lost.code, 1);
    assert.match(lost.stderr, /pod\/lost was deleted while waiting for it/);
    assert.equal(watches, 1);
  } finally {
    api.onPodWatch = undefined;
  }
});

test("--wait gives up at --timeout and says where each pod stood", async () => {
  const r = await apply(["-f", manifest("slow.yaml", pod("slow")), "--wait", "--timeout", "300ms"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error: timed out waiting for pod\/slow to be ready or to end: ContainerCreating \(0\/1 ready\)\n$/);
});

test("--wait shows at once why a pod is held, with the container's message, as it changes", async () => {
  const held = (reason: string, message: string) => {
    const p = makePod("held", { ready: false });
    p.status.containerStatuses[0]!.state = { waiting: { reason, message } };
    return p.status;
  };
  api.onPodWatch = (p, emit) => {
    setTimeout(() => emit("MODIFIED", { ...p, status: held("ErrImageNeverPull", 'Container image "nope:1" is not present with pull policy of Never') }), 10);
    setTimeout(() => emit("MODIFIED", { ...p, status: held("CreateContainerConfigError", "container has runAsNonRoot and image will run as root") }), 30);
  };
  try {
    const r = await apply(["-f", manifest("held.yaml", pod("held")), "--wait", "--timeout", "400ms"]);
    assert.equal(r.code, 1);
    const lines = r.stderr.trimEnd().split("\n");
    assert.deepEqual(lines.slice(1), [
      'pod/held ErrImageNeverPull (0/1 ready): container app: ErrImageNeverPull: Container image "nope:1" is not present with pull policy of Never',
      "pod/held CreateContainerConfigError (0/1 ready): container app: CreateContainerConfigError: container has runAsNonRoot and image will run as root",
      "error: timed out waiting for pod/held to be ready or to end: CreateContainerConfigError (0/1 ready): container app: CreateContainerConfigError: container has runAsNonRoot and image will run as root",
    ]);
  } finally {
    api.onPodWatch = undefined;
  }
});

test("--wait: a pod that was ready for an instant and has completed since is reported completed", async () => {
  api.onPodWatch = (p, emit) => {
    const done = makePod(p.metadata.name, { phase: "Succeeded", ready: false });
    // What a GET answers by the time the ready event is read: the pod has ended.
    setTimeout(() => {
      api.add({ ...p, status: done.status });
      emit("MODIFIED", { ...p, status: makePod(p.metadata.name).status });
    }, 10);
  };
  try {
    const r = await apply(["-f", manifest("brief.yaml", pod("brief")), "--wait", "--timeout", "10s"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "pod/brief created\npod/brief completed\n");
  } finally {
    api.onPodWatch = undefined;
  }
});
