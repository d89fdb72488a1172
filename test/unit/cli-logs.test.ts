// podd logs against the fake API: the query it sends, container choice and kubectl's errors.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { logsMain } from "../../supervisor/cli/logs.ts";
import { capture, FakeApi, makePod } from "./fake-api.ts";

let api: FakeApi;
before(async () => {
  api = await FakeApi.start();
  const two = makePod("two", { containers: ["a", "b"] });
  two.spec.initContainers = [{ name: "init", image: "host" }];
  api.add(makePod("one"), two);
  api.logs.set("default/one/app", "hello\nworld\n");
  api.logs.set("default/two/init", "prepared\n");
  api.logs.set("default/two/a", "from a\n");
  api.logs.set("default/two/b", "from b\nno newline at the end");
});
after(() => api.close());

const logs = (...argv: string[]) => capture((io) => logsMain([...argv, "--socket", api.socket], io));

test("logs of a one-container pod, with every query parameter kubectl sends", async () => {
  const r = await logs("one", "--tail", "5", "--timestamps", "--since", "90s", "-p");
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "hello\nworld\n");
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
  const two = api.pods.get("default/two")!;
  api.add({ ...two, metadata: { ...two.metadata, name: "annotated", annotations: { "kubectl.kubernetes.io/default-container": "b" } } });
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

test("-f follows (the daemon ends the stream when the container is gone)", async () => {
  const r = await logs("one", "-f");
  assert.equal(r.stdout, "hello\nworld\n");
  assert.equal(api.requests.at(-1)!.query.follow, "true");
});

test("a missing pod, an unknown container", async () => {
  const missing = await logs("nope");
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'Error from server (NotFound): pods "nope" not found\n');
  const unknown = await logs("one", "-c", "zzz");
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stderr, "error: container zzz is not valid for pod one\n");
});
