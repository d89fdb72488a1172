// podd delete against the daemon over the fake runtime: the DELETE it sends, waiting until the
// pod is gone, selectors read by the server.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { deleteMain } from "../../supervisor/cli/delete.ts";
import { capture, NOW } from "./cli-capture.ts";
import { FakeDaemon, podYaml, until } from "./fake-daemon.ts";

let api: FakeDaemon;
before(async () => {
  api = await FakeDaemon.start(NOW);
});
after(() => api.close());

const del = (...argv: string[]) => capture((io) => deleteMain([...argv, "--socket", api.socket], io));

test("delete pod waits until GET says NotFound, then prints kubectl's line", async () => {
  api.rt.scripts.set("slow", { ignoresStop: true });
  await api.apply(podYaml("a", { containers: ["slow"] }));
  const deleting = del("pod", "a", "--grace-period", "5");
  await until("the CLI to poll for the pod", () => api.paths().includes("GET /api/v1/namespaces/default/pods/a"));
  assert.ok(api.podKeys().includes("default/a"), "still there in its grace period");
  await api.advance(5_000);
  const r = await deleting;
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'pod "a" deleted\n');
  const paths = api.paths().filter((p) => p.includes("/pods/a"));
  assert.equal(paths[0], "DELETE /api/v1/namespaces/default/pods/a?gracePeriodSeconds=5");
  assert.ok(paths.slice(1).every((p) => p === "GET /api/v1/namespaces/default/pods/a") && paths.length >= 2, paths.join("\n"));
  assert.equal(api.podKeys().includes("default/a"), false);
  api.rt.scripts.delete("slow");
});

test("--now is a grace period of 1; --wait=false returns after the DELETE", async () => {
  await api.apply(podYaml("b", { namespace: "ns1" }));
  const before = api.requests.length;
  const r = await del("pod/b", "-n", "ns1", "--now", "--wait=false");
  assert.equal(r.stdout, 'pod "b" deleted\n');
  assert.deepEqual(api.paths().slice(before), ["DELETE /api/v1/namespaces/ns1/pods/b?gracePeriodSeconds=1"]);
});

test("no grace period flag sends none (the pod's own applies)", async () => {
  await api.apply(podYaml("c"));
  const before = api.requests.length;
  await del("pods", "c", "--wait=false");
  assert.deepEqual(api.paths().slice(before), ["DELETE /api/v1/namespaces/default/pods/c"]);
});

test("a missing pod: kubectl's NotFound, exit 1, the others still deleted", async () => {
  await api.apply(podYaml("d"));
  const r = await del("pod", "nope", "d");
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error from server (NotFound): pods "nope" not found\n');
  assert.equal(r.stdout, 'pod "d" deleted\n');
});

test("delete -f deletes the pods a manifest names", async () => {
  const dir = mkdtempSync(join(tmpdir(), "podd-delete-"));
  const file = join(dir, "pod.yaml");
  writeFileSync(file, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: e\nspec:\n  containers:\n  - name: c\n    image: host\n");
  await api.apply(podYaml("e", { containers: ["c"] }));
  try {
    const r = await del("-f", file);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'pod "e" deleted\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bad flags are local errors", async () => {
  assert.equal((await del("pod", "x", "--now", "--grace-period", "3")).stderr, "error: --now and --grace-period cannot be specified together\n");
  assert.equal((await del("pod")).code, 2);
});

test("pods --all deletes every pod of the namespace; -l those with the labels; -A every namespace", async () => {
  await api.apply([podYaml("s1", { namespace: "sel", labels: { app: "web" } }), podYaml("s2", { namespace: "sel", labels: { app: "db" } }), podYaml("s3", { namespace: "sel2", labels: { app: "web" } })].join("---\n"));
  const byLabel = await del("pods", "-l", "app=web", "-n", "sel");
  assert.equal(byLabel.code, 0, byLabel.stderr);
  assert.equal(byLabel.stdout, 'pod "s1" deleted\n');
  assert.deepEqual(api.podKeys().filter((k) => k.startsWith("sel")).sort(), ["sel/s2", "sel2/s3"]);
  const all = await del("pods", "--all", "-n", "sel");
  assert.equal(all.stdout, 'pod "s2" deleted\n');
  const none = await del("pods", "--all", "-n", "sel");
  assert.equal(none.code, 0);
  assert.equal(none.stdout, "No resources found\n");
  await api.apply(podYaml("s4", { namespace: "sel", labels: { app: "web" } }));
  const everywhere = await del("pods", "-A", "-l", "app in (web)");
  assert.equal(everywhere.code, 0, everywhere.stderr);
  assert.match(everywhere.stdout, /pod "s3" deleted\n/);
  assert.match(everywhere.stdout, /pod "s4" deleted\n/);
  assert.deepEqual(api.podKeys().filter((k) => k.startsWith("sel")), []);
});

test("-l reads selectors as the API server does: notin takes pods without the key; a broken one deletes nothing", async () => {
  await api.apply([podYaml("n1", { namespace: "nsel", labels: { app: "web" } }), podYaml("n2", { namespace: "nsel", labels: { app: "db" } }), podYaml("n3", { namespace: "nsel" })].join("---\n"));
  const broken = await del("pods", "-l", "app in (web", "-n", "nsel");
  assert.equal(broken.code, 2);
  assert.equal(broken.stderr, "error: unable to parse requirement: found '', expected: ',' or ')'\n");
  assert.equal(api.podKeys().filter((k) => k.startsWith("nsel/")).length, 3);
  const notin = await del("pods", "-l", "app notin (web)", "-n", "nsel");
  assert.equal(notin.code, 0, notin.stderr);
  assert.deepEqual(api.podKeys().filter((k) => k.startsWith("nsel/")), ["nsel/n1"]);
});

test("--all and -l take no names and no -f; -A needs one of them", async () => {
  assert.equal((await del("pods", "x", "--all")).stderr, "error: name cannot be provided when --all is specified\n");
  assert.equal((await del("pods", "x", "-l", "a=b")).stderr, "error: name cannot be provided when a selector is specified\n");
  assert.equal((await del("pods", "x", "-A")).code, 2);
  assert.equal((await del("--all")).code, 2);
  assert.equal((await del("pods", "--all", "-l", "a=b")).stderr, "error: cannot set --all and --selector at the same time\n");
});
