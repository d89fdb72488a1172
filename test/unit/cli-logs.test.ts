// podd logs against the daemon over the fake runtime: the query it sends, container choice,
// what the daemon's log endpoint answers and kubectl's errors.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { logsMain } from "../../supervisor/cli/logs.ts";
import { rfc3339Millis } from "../../supervisor/base/time.ts";
import { capture, NOW } from "./cli-capture.ts";
import { FakeDaemon, until } from "./fake-daemon.ts";

const two = (name: string, annotations = "{}") => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, annotations: ${annotations}}
spec:
  initContainers: [{name: init, image: host}]
  containers: [{name: a, image: host}, {name: b, image: host}]
`;

let api: FakeDaemon;
before(async () => {
  api = await FakeDaemon.start(NOW);
  api.rt.scripts.set("init", { runsForMs: 10 });
  await api.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: one}\nspec: {containers: [{name: app, image: host}]}\n");
  // one's first run logs and fails; it is restarted at once, and its logs are the previous run's.
  api.rt.writeLog("one", "app", "hello\nworld\n");
  api.rt.last("one", "app").end(1);
  await api.apply(two("two"));
  await api.apply(two("annotated", '{"kubectl.kubernetes.io/default-container": b}'));
  api.rt.writeLog("two", "init", "prepared\n");
  await api.advance(10);
  api.rt.writeLog("two", "a", "from a\n");
  api.rt.writeLog("two", "b", "from b\nno newline at the end");
});
after(() => api.close());

const logs = (...argv: string[]) => capture((io) => logsMain([...argv, "--socket", api.socket], io));

test("logs of a one-container pod, with every query parameter kubectl sends", async () => {
  const r = await logs("one", "--tail", "5", "--timestamps", "--since", "90s", "-p");
  assert.equal(r.code, 0);
  const at = rfc3339Millis(NOW);
  assert.equal(r.stdout, `${at} hello\n${at} world\n`);
  const req = api.requests.at(-1)!;
  assert.equal(req.path, "/api/v1/namespaces/default/pods/one/log");
  assert.deepEqual(req.query, { container: "app", previous: "true", tailLines: "5", timestamps: "true", sinceSeconds: "90" });
});

test("a pod with several containers and no -c: the first app container, with kubectl's note", async () => {
  const r = await logs("two");
  assert.equal(r.code, 0);
  assert.equal(r.stderr, 'Defaulted container "a" out of: a, b, init (init)\n');
  assert.equal(api.requests.at(-1)!.query.container, "a");
});

test("the default-container annotation picks the container without a note", async () => {
  const r = await logs("annotated");
  assert.equal(r.code, 0);
  assert.equal(r.stderr, "");
  assert.equal(api.requests.at(-1)!.query.container, "b");
});

test("-c picks a container; a last line without newline still ends with one", async () => {
  const r = await logs("two", "-c", "b");
  assert.equal(r.stdout, "from b\nno newline at the end\n");
  assert.equal(api.requests.at(-1)!.query.container, "b");
});

test("--all-containers --prefix: init containers first, each line prefixed [pod/x/c]", async () => {
  const r = await logs("two", "--all-containers", "--prefix");
  assert.equal(r.stdout, "[pod/two/init] prepared\n[pod/two/a] from a\n[pod/two/b] from b\n[pod/two/b] no newline at the end\n");
});

test("-f follows the running container until it ends", async () => {
  const following = logs("two", "-c", "a", "-f");
  await until("the follow request", () => api.requests.some((r) => r.path.endsWith("/two/log") && r.query.follow === "true"));
  await api.advance(0);
  api.rt.last("two", "a").end(0);
  const r = await following;
  assert.equal(r.stdout, "from a\n");
  assert.equal(r.code, 0);
});

test("a missing pod, an unknown container", async () => {
  const missing = await logs("nope");
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'Error from server (NotFound): pods "nope" not found\n');
  const unknown = await logs("one", "-c", "zzz");
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stderr, "error: container zzz is not valid for pod one\n");
});
