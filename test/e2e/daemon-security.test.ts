// The API socket and the roots: the socket is 0600 root:root (0660 with --group), a non-root
// client gets EACCES (and, as a control, one in the --group gets in), names that could leave a
// root are rejected with 422 before anything is created, and a container sees neither the
// socket nor podd's roots.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { destroyEnv, e2eSkip, importBusybox, leftovers, makeEnv, waitFor, type Env } from "./harness.ts";
import { containerStatus, desiredFiles, getPod, podManifest, podPath, putPod, startDaemon, stopDaemon, waitGone, type Daemon } from "./daemon-helpers.ts";

const skip = e2eSkip();
const nothing = { mounts: [], cgroups: [], processes: [], pins: [] };

/** GET /healthz on socket as uid/gid 65534 (nobody/nogroup) with no supplementary groups. */
function asNobody(socket: string): string {
  const script = `require("http").get({socketPath: ${JSON.stringify(socket)}, path: "/healthz"}, (r) => console.log("status " + r.statusCode)).on("error", (e) => console.log(e.code))`;
  const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

/** An env whose roots are under base (a host-root container gets a private /tmp). */
function makeEnvUnder(base: string): Env {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = base;
  try {
    return makeEnv();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}

describe("daemon security", { skip, timeout: 120_000 }, () => {
  const envs: Env[] = [];
  const daemons: (Daemon | undefined)[] = [];
  after(async () => {
    for (const d of daemons) await stopDaemon(d, "SIGKILL");
    for (const e of envs) destroyEnv(e);
  });

  test("the socket is 0600 root-only; with --group 0660 and the group gets in", async () => {
    const env = makeEnv();
    envs.push(env);
    // A socket directory nobody can traverse, so that the socket's own mode is what decides.
    chmodSync(env.dir, 0o711);
    const pub = join(env.dir, "pub");
    mkdirSync(pub, { mode: 0o755 });
    chmodSync(pub, 0o755);
    const socket = join(pub, "podd.sock");

    let d = await startDaemon(env, [], socket);
    daemons.push(d);
    const st = statSync(socket);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, 0);
    assert.equal(st.gid, 0);
    assert.equal(asNobody(socket), "EACCES");
    await stopDaemon(d);

    d = await startDaemon(env, ["--group", "65534"], socket);
    daemons.push(d);
    const st2 = statSync(socket);
    assert.equal(st2.mode & 0o777, 0o660);
    assert.equal(st2.uid, 0);
    assert.equal(st2.gid, 65534);
    // Control: a client in the group is let in, so the EACCES above was the socket's mode.
    assert.equal(asNobody(socket), "status 200");
    await stopDaemon(d);
  });

  test("names and namespaces that could leave a root are rejected with 422, nothing created", async () => {
    const env = makeEnv();
    envs.push(env);
    await importBusybox(env);
    const d = await startDaemon(env);
    daemons.push(d);
    const spec = { containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }] };
    const attempts: [string, string, unknown][] = [
      ["PUT", podPath(encodeURIComponent("../x")), podManifest("../x", spec)],
      ["PUT", podPath(encodeURIComponent("a/b")), podManifest("a/b", spec)],
      ["POST", "/api/v1/namespaces/default/pods", podManifest("..", spec)],
      ["POST", "/api/v1/namespaces/default/pods", podManifest("../../../etc/x", spec)],
      ["POST", `/api/v1/namespaces/${encodeURIComponent("../x")}/pods`, podManifest("ok", spec, { namespace: "../x" })],
      ["PUT", podPath("ok", encodeURIComponent("a/b")), podManifest("ok", spec, { namespace: "a/b" })],
      ["POST", "/api/v1/namespaces/default/pods", podManifest("ok", { containers: [{ name: "../c", image: "busybox:local", command: ["true"] }] })],
    ];
    for (const [method, path, body] of attempts) {
      const r = await d.request(method, path, body);
      assert.equal(r.status, 422, `${method} ${path}: ${r.status} ${r.text}`);
      assert.equal(r.json.reason, "Invalid", r.text);
    }
    assert.deepEqual((await d.request("GET", "/api/v1/pods")).json.items, []);
    assert.deepEqual(desiredFiles(env), []);
    assert.deepEqual(leftovers(env), nothing);
    assert.ok(!existsSync(join(env.state, "x")) && !existsSync(join(env.dir, "x")) && !existsSync("/etc/x.json"));
    // Control: the same request with a good name is accepted.
    const ok = await putPod(d, podManifest("ok", spec));
    assert.equal(ok.status, 201, ok.text);
    assert.equal((await d.request("DELETE", `${podPath("ok")}?gracePeriodSeconds=0`)).status, 200);
    await waitGone(d, "ok");
    assert.deepEqual(leftovers(env), nothing);
    await stopDaemon(d);
  });

  test("a host-root container sees neither the socket nor podd's roots", async () => {
    // Roots outside /tmp: the container's private /tmp would hide them anyway.
    const env = makeEnvUnder("/var/lib");
    envs.push(env);
    const d = await startDaemon(env);
    daemons.push(d);
    const script = [
      `for r in ${env.state} ${env.run} ${env.log}; do echo "root $r=[$(ls -A $r 2>&1 | tr '\\n' ' ')]"; done`,
      `test -e ${d.socket} && echo socket=visible || echo socket=absent`,
    ].join("; ");
    const r = await putPod(d, podManifest("probe", { restartPolicy: "Never", containers: [{ name: "c", image: "host", command: ["sh", "-c", script.replace(/\$/g, "$$$$")] }] }));
    assert.equal(r.status, 201, r.text);
    await waitFor("probe finished", async () => containerStatus(await getPod(d, "probe"), "c")?.state?.terminated);
    const out = (await d.request("GET", `${podPath("probe")}/log`)).text.split("\n");
    for (const root of [env.state, env.run, env.log]) assert.ok(out.includes(`root ${root}=[]`), `${root} seen inside:\n${out.join("\n")}`);
    assert.ok(out.includes("socket=absent"), out.join("\n"));
    // Control: the host sees them.
    assert.ok(existsSync(d.socket));
    assert.notDeepEqual(readdirSync(env.run), []);
    assert.equal((await d.request("DELETE", `${podPath("probe")}?gracePeriodSeconds=0`)).status, 200);
    await waitGone(d, "probe");
    assert.deepEqual(leftovers(env), nothing);
    await stopDaemon(d);
  });
});
