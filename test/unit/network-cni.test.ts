// PodNetwork against fake CNI plugins (small node scripts in a temp dir), no root: ADD through
// the list in order with each result passed on, runtime arguments only for the plugins that
// declare them, the kubelet's CNI_ARGS; the intent before ADD and the libcni-format result
// after; DEL in reverse with the cached result; a failed ADD torn down again; a failed DEL
// keeping its records for a retry; a hanging plugin killed at the limit; records found again
// by a new PodNetwork; DEL with the list an attachment was made with; CHECK; the records a
// crash leaves and what a new daemon does with them; plugins that misbehave.
import assert from "node:assert/strict";
import { describe, it, test } from "node:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PodNetwork, argOf, resultIPs, type AttachmentRecord } from "../../supervisor/runtime/network/network.ts";
import { CniError, findPlugin, pluginConfig } from "../../supervisor/runtime/network/plugin.ts";

interface Call {
  type: string;
  cmd: string;
  id: string;
  args: string;
  prev: unknown;
  runtimeConfig: unknown;
  name: string;
  intents: string[];
  results: string[];
  pid: number;
  netns: string;
  ifName: string;
  cniPath: string;
  /** the configuration's own keys as the plugin got them */
  keys: string[];
  cniVersion: string;
  mtu: unknown;
}

function setup(plugins: object[], timeoutMs = 5000, listExtra: object = {}) {
  const dir = mkdtempSync(join(tmpdir(), "podd-cni-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const stateDir = join(dir, "state", "attachments");
  const resultDir = join(dir, "run", "results");
  // One script for every type: it logs its call, then fails, hangs or answers as marker files
  // say. A marker named <what>-<type>-<command> (or hang-<type>, for every command) holds
  // nothing, for every call, or JSON: {"id": the one container it is for, "msg": the error's msg}.
  const script = `#!${process.execPath}
const fs = require("fs");
const type = require("path").basename(process.argv[1]);
const cmd = process.env.CNI_COMMAND;
const id = process.env.CNI_CONTAINERID;
const dir = ${JSON.stringify(dir)};
const ls = (d) => (fs.existsSync(d) ? fs.readdirSync(d).sort() : []);
const marker = (...names) => {
  for (const n of names) {
    if (!fs.existsSync(dir + "/" + n)) continue;
    const text = fs.readFileSync(dir + "/" + n, "utf8");
    const m = text ? JSON.parse(text) : {};
    if (!m.id || m.id === id) return m;
  }
  return undefined;
};
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const conf = JSON.parse(input);
  fs.appendFileSync(dir + "/calls", JSON.stringify({
    type, cmd, id, args: process.env.CNI_ARGS, prev: conf.prevResult ?? null, runtimeConfig: conf.runtimeConfig ?? null, name: conf.name,
    intents: ls(${JSON.stringify(stateDir)}), results: ls(${JSON.stringify(resultDir)}), pid: process.pid,
    netns: process.env.CNI_NETNS, ifName: process.env.CNI_IFNAME, cniPath: process.env.CNI_PATH,
    keys: Object.keys(conf).sort(), cniVersion: conf.cniVersion, mtu: conf.mtu ?? null,
  }) + "\\n");
  const fail = marker("fail-" + type + "-" + cmd);
  if (fail) {
    process.stdout.write(JSON.stringify({ cniVersion: "1.0.0", code: 7, msg: fail.msg ?? type + " refuses", details: "on purpose" }));
    process.exit(1);
  }
  if (marker("stderr-" + type + "-" + cmd)) {
    process.stderr.write("some noise\\niptables: No chain/target/match by that name.\\n");
    process.exit(2);
  }
  if (marker("hang-" + type, "hang-" + type + "-" + cmd)) return setInterval(() => {}, 1 << 30);
  if (marker("garbage-" + type + "-" + cmd)) return process.stdout.write("Hello from " + type);
  if (marker("flood-" + type + "-" + cmd)) return process.stdout.write("x".repeat(2 << 20));
  if (cmd !== "ADD") return;
  const ips = [{ address: "10.9.0.5/24", gateway: "10.9.0.1", interface: 1 }, { address: "10.9.0.1/24", interface: 0 }];
  if (marker("v6")) ips.push({ address: "fd00:9::5/64", interface: 1 });
  const prev = conf.prevResult ?? { cniVersion: "1.0.0", interfaces: [{ name: "podbr9", mac: "02:00:00:00:00:01" }, { name: process.env.CNI_IFNAME, mac: "02:00:00:00:00:02", sandbox: process.env.CNI_NETNS }], ips };
  process.stdout.write(JSON.stringify({ ...prev, seen: [...(prev.seen ?? []), type] }));
});
`;
  for (const t of ["first", "second", "third", "portmap"]) {
    writeFileSync(join(bin, t), script);
    chmodSync(join(bin, t), 0o755);
  }
  const conf = join(dir, "conf");
  mkdirSync(conf);
  writeFileSync(join(conf, "10-test.conflist"), JSON.stringify({ cniVersion: "1.0.0", name: "testnet", ...listExtra, plugins }));
  const opts = { confDir: conf, ownConfDir: false, binDirs: [join(dir, "nowhere"), bin], stateDir: join(dir, "state"), runDir: join(dir, "run"), timeoutMs, defaults: { bridge: "x", subnet: "10.9.0.0/16", leaseDir: join(dir, "leases") } };
  const calls = (): Call[] => (existsSync(join(dir, "calls")) ? readFileSync(join(dir, "calls"), "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : []);
  const records = () => ({
    intents: existsSync(stateDir) ? readdirSync(stateDir).sort() : [],
    results: existsSync(resultDir) ? readdirSync(resultDir).sort() : [],
  });
  const mark = (name: string, content: object | string = "") => writeFileSync(join(dir, name), typeof content === "string" ? content : JSON.stringify(content));
  const unmark = (name: string) => rmSync(join(dir, name));
  return { dir, bin, opts, calls, records, mark, unmark, stateDir, resultDir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const pod = { namespace: "ns", name: "web", uid: "uid-1" };
const three = [{ type: "first" }, { type: "second", capabilities: { portMappings: true } }, { type: "third", capabilities: { dns: true, bandwidth: true } }];

/** Polls cond until it holds; fails the test with what it waited for at the deadline. */
async function waitFor(what: string, cond: () => boolean, deadlineMs = 10_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`no ${what} within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const seen = (c: Call | undefined) => (c?.prev as { seen?: string[] } | null)?.seen ?? null;
const steps = (calls: Call[]) => calls.map((c) => `${c.cmd} ${c.type}`);
const podB = { namespace: "ns", name: "db", uid: "uid-2" };

// Each case has its own temp dir and plugins, so they run side by side: every plugin call is a
// Node start.
describe("PodNetwork against fake plugins", { concurrency: true }, () => {
  it("ADD runs the list in order, each plugin given the result before it; DEL runs it in reverse with the cached result", async () => {
    const t = setup(three);
    try {
      const net = new PodNetwork(t.opts);
      net.open();
      const rec = await net.attach({ pod, netns: "/run/netns/x", portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }], dns: { servers: ["192.0.2.53"], searches: [], options: [] } });
      const adds = t.calls();
      assert.deepEqual(adds.map((c) => `${c.cmd} ${c.type}`), ["ADD first", "ADD second", "ADD third"]);
      assert.equal(adds[0]!.prev, null);
      assert.deepEqual((adds[2]!.prev as { seen: string[] }).seen, ["first", "second"]);
      assert.deepEqual(adds.map((c) => c.runtimeConfig), [null, { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] }, { dns: { servers: ["192.0.2.53"], searches: [], options: [] } }]);
      assert.ok(adds.every((c) => c.name === "testnet"));
      assert.equal(adds[0]!.args, `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=${rec.containerId};K8S_POD_UID=uid-1`);
      assert.deepEqual(adds[0]!.intents, [`${rec.containerId}.json`], "the intent is on disk before the first plugin runs");
      assert.match(rec.containerId, /^[0-9a-f]{64}$/);
      assert.deepEqual(t.records(), { intents: [`${rec.containerId}.json`], results: [`testnet-${rec.containerId}-eth0`] });
      const cached = JSON.parse(readFileSync(join(t.dir, "run", "results", `testnet-${rec.containerId}-eth0`), "utf8"));
      assert.equal(cached.kind, "cniCacheV1");
      assert.equal(Buffer.from(cached.config, "base64").toString(), readFileSync(join(t.dir, "conf", "10-test.conflist"), "utf8"));
      assert.deepEqual(cached.result.seen, ["first", "second", "third"]);
      assert.equal(argOf(cached, "K8S_POD_UID"), "uid-1");
      assert.equal(net.completeOf("uid-1")?.containerId, rec.containerId);

      await net.detachPod("uid-1");
      const dels = t.calls().slice(3);
      assert.deepEqual(dels.map((c) => `${c.cmd} ${c.type}`), ["DEL third", "DEL second", "DEL first"]);
      assert.ok(dels.every((c) => (c.prev as { seen: string[] }).seen.length === 3), "DEL gets the final result");
      assert.deepEqual(t.records(), { intents: [], results: [] });
    } finally {
      t.cleanup();
    }
  });

  it("a failed ADD is torn down with what the plugins before it made; nothing is left; the error names the plugin and its message", async () => {
    const t = setup(three);
    try {
      writeFileSync(join(t.dir, "fail-third-ADD"), "");
      const net = new PodNetwork(t.opts);
      net.open();
      await assert.rejects(net.attach({ pod, netns: "/x", portMappings: [] }), (err: Error) => err.message === "CNI plugin third (ADD) failed: third refuses: on purpose" && (err as { cniCode?: number }).cniCode === 7);
      const dels = t.calls().filter((c) => c.cmd === "DEL");
      assert.deepEqual(dels.map((c) => c.type), ["third", "second", "first"]);
      assert.deepEqual((dels[0]!.prev as { seen: string[] }).seen, ["first", "second"], "DEL gets the result so far");
      assert.deepEqual(t.records(), { intents: [], results: [] });
      assert.deepEqual(net.all(), []);
    } finally {
      t.cleanup();
    }
  });

  it("a DEL that fails keeps both records, found again by a new PodNetwork, and a later DEL removes them", async () => {
    const t = setup(three);
    try {
      const net = new PodNetwork(t.opts);
      net.open();
      const rec = await net.attach({ pod, netns: "/x", portMappings: [] });
      writeFileSync(join(t.dir, "fail-first-DEL"), "");
      await assert.rejects(net.detachPod("uid-1"), /CNI plugin first \(DEL\) failed/);
      assert.equal(t.records().intents.length, 1);
      assert.equal(t.records().results.length, 1);
      // A daemon that starts now finds it, with its result, and releases what is not live.
      const again = new PodNetwork(t.opts);
      again.open();
      assert.equal(again.completeOf("uid-1")?.containerId, rec.containerId);
      rmSync(join(t.dir, "fail-first-DEL"));
      // The list changes meanwhile: DEL still runs the list the attachment was made with.
      writeFileSync(join(t.dir, "conf", "10-test.conflist"), JSON.stringify({ cniVersion: "1.0.0", name: "other", plugins: [{ type: "second" }] }));
      const errors: string[] = [];
      assert.equal(await again.releaseStale(() => false, (_r, e) => errors.push(e.message)), 1);
      assert.deepEqual(errors, []);
      assert.deepEqual(t.calls().filter((c) => c.cmd === "DEL").slice(-3).map((c) => `${c.type} ${c.name}`), ["third testnet", "second testnet", "first testnet"]);
      assert.deepEqual(t.records(), { intents: [], results: [] });
    } finally {
      t.cleanup();
    }
  });

  it("a plugin that hangs is killed at the limit; a missing plugin names the directories searched", async () => {
    const t = setup([{ type: "first" }], 300);
    try {
      writeFileSync(join(t.dir, "hang-first"), "");
      const net = new PodNetwork(t.opts);
      net.open();
      await assert.rejects(net.attach({ pod, netns: "/x", portMappings: [] }), /CNI plugin first \(ADD\): no answer within 0\.3 s; it was killed; tearing the attachment down again also failed: CNI plugin first \(DEL\): no answer within 0\.3 s/);
      // Still recorded: the next attempt, or the next daemon, tears it down.
      assert.equal(t.records().intents.length, 1);
      rmSync(join(t.dir, "hang-first"));
      // The next daemon, with a limit a plugin's Node start cannot reach on a loaded machine
      // (0.3 s can be: the DEL would then be killed too).
      const next = new PodNetwork({ ...t.opts, timeoutMs: 10_000 });
      next.open();
      await next.detachPod("uid-1");
      assert.deepEqual(t.records(), { intents: [], results: [] });
      writeFileSync(join(t.dir, "conf", "10-test.conflist"), JSON.stringify({ cniVersion: "1.0.0", name: "t", plugins: [{ type: "absent" }] }));
      await assert.rejects(net.attach({ pod, netns: "/x", portMappings: [] }), (err: Error) => err.message.includes(`CNI plugin "absent" not found in ${join(t.dir, "nowhere")}, ${join(t.dir, "bin")}`));
    } finally {
      t.cleanup();
    }
  });

  it("each plugin gets its own keys with the list's name and cniVersion, the sandbox's netns, eth0 and the plugin path; runtimeConfig only for what it declares and the pod asks", async () => {
    const t = setup([{ type: "first", mtu: 1400, name: "own-name", cniVersion: "0.3.1" }, { type: "second", capabilities: { portMappings: true } }, { type: "third", capabilities: { portMappings: false, dns: true } }]);
    try {
      const net = new PodNetwork(t.opts);
      net.open();
      const a = await net.attach({ pod, netns: "/run/netns/pod-a", portMappings: [] });
      const plain = t.calls();
      assert.deepEqual(steps(plain), ["ADD first", "ADD second", "ADD third"]);
      assert.deepEqual(plain[0]!.keys, ["cniVersion", "mtu", "name", "type"]);
      assert.deepEqual([plain[0]!.name, plain[0]!.cniVersion, plain[0]!.mtu], ["testnet", "1.0.0", 1400], "the list's name and version over the plugin's own");
      assert.deepEqual(plain[1]!.keys, ["capabilities", "cniVersion", "name", "prevResult", "type"], "no runtimeConfig when the pod asks for nothing");
      assert.ok(plain.every((c) => c.netns === "/run/netns/pod-a" && c.ifName === "eth0" && c.id === a.containerId));
      assert.ok(plain.every((c) => c.cniPath === `${join(t.dir, "nowhere")}:${t.bin}`));
      assert.deepEqual(plain.map((c) => c.intents), [[`${a.containerId}.json`], [`${a.containerId}.json`], [`${a.containerId}.json`]], "the intent is there for every ADD");
      assert.deepEqual(plain.map((c) => c.results), [[], [], []], "the result record is written once the last plugin has answered");

      const mappings = [{ hostPort: 8080, containerPort: 80, protocol: "tcp" as const }, { hostPort: 5353, containerPort: 53, protocol: "udp" as const, hostIP: "127.0.0.1" }];
      const dns = { servers: ["192.0.2.53"], searches: ["ns.example"], options: ["ndots:2"] };
      const b = await net.attach({ pod: podB, netns: "/run/netns/pod-b", portMappings: mappings, dns });
      const withArgs = t.calls().slice(3);
      assert.deepEqual(withArgs.map((c) => c.runtimeConfig), [null, { portMappings: mappings }, { dns }], "portMappings: false is not a capability");
      assert.equal(withArgs[0]!.args, `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=db;K8S_POD_INFRA_CONTAINER_ID=${b.containerId};K8S_POD_UID=uid-2`);
      assert.notEqual(a.containerId, b.containerId);
      assert.deepEqual(b.capabilityArgs, { portMappings: mappings, dns });
      assert.deepEqual(net.ofPod("uid-1").map((r) => r.containerId), [a.containerId]);
      assert.deepEqual(net.ofPod("uid-2").map((r) => r.containerId), [b.containerId]);
      assert.deepEqual(resultIPs(net.completeOf("uid-2")!.result!), ["10.9.0.5"], "the sandbox's address, not the bridge's");
    } finally {
      t.cleanup();
    }
  });

  it("while a plugin hangs in ADD the intent holds the result so far and there is no result record; a new PodNetwork takes it as cut short; at the limit the plugin is killed and the attachment torn down", async () => {
    // A limit that a plugin's Node start cannot reach even on a loaded machine: the test looks at
    // the records while the plugin hangs, before the limit.
    const t = setup(three, 4000);
    try {
      t.mark("hang-second-ADD");
      const net = new PodNetwork(t.opts);
      net.open();
      const started = Date.now();
      let settled = false;
      const outcome = net.attach({ pod, netns: "/x", portMappings: [] }).then(
        () => undefined,
        (err: Error) => err,
      );
      void outcome.finally(() => (settled = true));
      await waitFor("ADD of the second plugin", () => settled || t.calls().some((c) => c.type === "second"));
      assert.equal(settled, false, "the attach ended before the hanging plugin had started");
      const hung = t.calls().find((c) => c.type === "second")!;
      assert.deepEqual(t.records(), { intents: [`${hung.id}.json`], results: [] });
      const intent = JSON.parse(readFileSync(join(t.stateDir, `${hung.id}.json`), "utf8")) as AttachmentRecord;
      assert.deepEqual(intent.result?.seen, ["first"]);
      assert.equal("partial" in intent, false, "partial is not written: it is what open() derives");
      const restarted = new PodNetwork(t.opts);
      restarted.open();
      assert.deepEqual(restarted.unreadable, []);
      assert.equal(restarted.all().length, 1);
      assert.equal(restarted.all()[0]!.partial, true);
      assert.equal(restarted.completeOf("uid-1"), undefined, "an ADD cut short is not an attachment to adopt");

      const err = await outcome;
      assert.ok(err instanceof CniError, `a CniError, got ${String(err)}`);
      assert.equal(err.message, "CNI plugin second (ADD): no answer within 4 s; it was killed");
      assert.equal(err.cniCode, undefined);
      assert.ok(Date.now() - started >= 4000, "killed at the limit, not before");
      assert.throws(() => process.kill(hung.pid, 0), (e: NodeJS.ErrnoException) => e.code === "ESRCH", "the plugin is gone");
      const dels = t.calls().filter((c) => c.cmd === "DEL");
      assert.deepEqual(dels.map((c) => c.type), ["third", "second", "first"]);
      assert.ok(dels.every((c) => JSON.stringify(seen(c)) === '["first"]'), "DEL is given what the first plugin made");
      assert.deepEqual(t.records(), { intents: [], results: [] });
      assert.deepEqual(net.all(), []);
    } finally {
      t.cleanup();
    }
  });

  it("open() finds complete, cut-short and result-less records and reports unreadable ones; releaseStale DELs only what isLive rejects, and one failure holds none of the others", async () => {
    const t = setup([{ type: "first" }, { type: "second" }]);
    try {
      const net = new PodNetwork(t.opts);
      net.open();
      const podC = { namespace: "ns", name: "cache", uid: "uid-3" };
      const [a, b, c] = [await net.attach({ pod, netns: "/a", portMappings: [] }), await net.attach({ pod: podB, netns: "/b", portMappings: [] }), await net.attach({ pod: podC, netns: "/c", portMappings: [] })];
      // A reboot empties the run root: b's result record goes, its intent stays.
      rmSync(join(t.resultDir, `testnet-${b.containerId}-eth0`));
      // A crash before any plugin answered leaves an intent with no result at all.
      const dId = "d".repeat(64);
      const { result: _, ...bare } = JSON.parse(readFileSync(join(t.stateDir, `${a.containerId}.json`), "utf8")) as AttachmentRecord;
      const d: AttachmentRecord = { ...bare, containerId: dId, cniArgs: bare.cniArgs.map(([k, v]) => [k, k === "K8S_POD_UID" ? "uid-4" : k === "K8S_POD_INFRA_CONTAINER_ID" ? dId : v]) };
      writeFileSync(join(t.stateDir, `${dId}.json`), JSON.stringify(d));
      writeFileSync(join(t.stateDir, "bad.json"), '{"kind": "cniCacheV1", ');
      writeFileSync(join(t.stateDir, "other.json"), JSON.stringify({ kind: "somethingElse", containerId: "x" }));
      writeFileSync(join(t.stateDir, ".tmp.json"), "{");
      writeFileSync(join(t.stateDir, "notes.txt"), "{");

      const again = new PodNetwork(t.opts);
      again.open();
      assert.deepEqual(again.all().map((r) => r.containerId).sort(), [a.containerId, b.containerId, c.containerId, dId].sort());
      assert.deepEqual(
        [...again.unreadable].sort((x, y) => x.path.localeCompare(y.path)).map((u) => [u.path, /JSON/.test(u.error) ? "JSON" : u.error]),
        [
          [join(t.stateDir, "bad.json"), "JSON"],
          [join(t.stateDir, "other.json"), "not an attachment record"],
        ],
      );
      assert.deepEqual(again.completeOf("uid-1")?.result?.seen, ["first", "second"]);
      assert.equal(again.completeOf("uid-2"), undefined);
      assert.deepEqual(again.ofPod("uid-2")[0]?.result?.seen, ["first"], "what the intent holds: the result before the last plugin");
      assert.equal(again.ofPod("uid-4")[0]?.result, undefined);

      t.mark("fail-first-DEL", { id: c.containerId });
      const before = t.calls().length;
      const errors: [string, string][] = [];
      const released = await again.releaseStale(
        (r) => argOf(r, "K8S_POD_UID") === "uid-1",
        (r, err) => errors.push([r.containerId, err.message]),
      );
      assert.equal(released, 2);
      assert.deepEqual(errors, [[c.containerId, "CNI plugin first (DEL) failed: first refuses: on purpose"]]);
      const dels = t.calls().slice(before);
      assert.ok(dels.every((x) => x.cmd === "DEL"));
      assert.equal(dels.filter((x) => x.id === a.containerId).length, 0, "the live pod's attachment is not touched");
      assert.deepEqual(steps(dels.filter((x) => x.id === b.containerId)), ["DEL second", "DEL first"]);
      assert.ok(dels.filter((x) => x.id === b.containerId).every((x) => JSON.stringify(seen(x)) === '["first"]'));
      assert.deepEqual(dels.filter((x) => x.id === dId).map((x) => x.prev), [null, null], "no result: no prevResult");
      assert.deepEqual(steps(dels.filter((x) => x.id === c.containerId)), ["DEL second", "DEL first"]);
      assert.deepEqual(again.all().map((r) => r.containerId).sort(), [a.containerId, c.containerId].sort());
      assert.deepEqual(t.records(), {
        intents: [".tmp.json", `${a.containerId}.json`, `${c.containerId}.json`, "bad.json", "notes.txt", "other.json"].sort(),
        results: [`testnet-${a.containerId}-eth0`, `testnet-${c.containerId}-eth0`].sort(),
      });
    } finally {
      t.cleanup();
    }
  });

  it("check(): CHECK through the list in order with the cached result, the first failure's message, and a pod with nothing on record", async () => {
    const t = setup(three);
    try {
      const net = new PodNetwork(t.opts);
      net.open();
      assert.equal(await net.check("uid-1"), "the pod has no network attachment on record");
      const rec = await net.attach({ pod, netns: "/x", portMappings: [] });
      assert.equal(await net.check("uid-1"), undefined);
      const checks = t.calls().slice(3);
      assert.deepEqual(steps(checks), ["CHECK first", "CHECK second", "CHECK third"]);
      assert.ok(checks.every((c) => JSON.stringify(seen(c)) === '["first","second","third"]' && c.id === rec.containerId));
      t.mark("fail-second-CHECK");
      assert.equal(await net.check("uid-1"), "CNI plugin second (CHECK) failed: second refuses: on purpose");
      assert.deepEqual(steps(t.calls().slice(6)), ["CHECK first", "CHECK second"], "the plugins after the failure are not asked");
      // A CHECK is only a question: the attachment stays as it was.
      assert.equal(net.completeOf("uid-1")?.containerId, rec.containerId);
      assert.equal(t.records().intents.length, 1);
    } finally {
      t.cleanup();
    }
  });

  it("check() asks no plugin for a 0.3.1 list, nor for a list with disableCheck", async () => {
    const t = setup([{ type: "first" }], 5000, { cniVersion: "0.3.1" });
    try {
      const net = new PodNetwork(t.opts);
      net.open();
      await net.attach({ pod, netns: "/x", portMappings: [] });
      const list = (extra: object) => writeFileSync(join(t.opts.confDir, "10-test.conflist"), JSON.stringify({ cniVersion: "1.0.0", name: "testnet", plugins: [{ type: "first" }], ...extra }));
      list({ disableCheck: true });
      await net.attach({ pod: podB, netns: "/x", portMappings: [] });
      list({});
      await net.attach({ pod: { namespace: "ns", name: "c", uid: "uid-3" }, netns: "/x", portMappings: [] });
      assert.equal(await net.check("uid-1"), undefined);
      assert.equal(await net.check("uid-2"), undefined);
      assert.deepEqual(t.calls().filter((c) => c.cmd === "CHECK"), []);
      // Control: the same plugin in a 1.0.0 list is asked.
      assert.equal(await net.check("uid-3"), undefined);
      assert.deepEqual(steps(t.calls().filter((c) => c.cmd === "CHECK")), ["CHECK first"]);
    } finally {
      t.cleanup();
    }
  });

  it("portmap's IPv6 CHECK failure is no failure for a pod with IPv4 only, but is one for a pod with an IPv6 address", async () => {
    const t = setup([{ type: "first" }, { type: "portmap", capabilities: { portMappings: true } }]);
    try {
      const net = new PodNetwork(t.opts);
      net.open();
      const ports = [{ hostPort: 8080, containerPort: 80, protocol: "tcp" as const }];
      await net.attach({ pod, netns: "/x", portMappings: ports });
      t.mark("v6");
      await net.attach({ pod: podB, netns: "/y", portMappings: ports });
      assert.deepEqual(resultIPs(net.completeOf("uid-2")!.result!), ["10.9.0.5", "fd00:9::5"]);
      t.mark("fail-portmap-CHECK", { msg: "could not check ipv6 dnat: chain CNI-HOSTPORT-DNAT not found" });
      assert.equal(await net.check("uid-1"), undefined);
      assert.equal(await net.check("uid-2"), "CNI plugin portmap (CHECK) failed: could not check ipv6 dnat: chain CNI-HOSTPORT-DNAT not found: on purpose");
      // Any other portmap failure counts for an IPv4-only pod.
      t.mark("fail-portmap-CHECK", { msg: "could not check ipv4 dnat: chain CNI-HOSTPORT-DNAT not found" });
      assert.equal(await net.check("uid-1"), "CNI plugin portmap (CHECK) failed: could not check ipv4 dnat: chain CNI-HOSTPORT-DNAT not found: on purpose");
    } finally {
      t.cleanup();
    }
  });

  it("a plugin whose output is no CNI result, or that prints more than 1 MiB, fails the ADD, which is torn down", async () => {
    const t = setup([{ type: "first" }, { type: "second" }]);
    try {
      const net = new PodNetwork(t.opts);
      net.open();
      t.mark("garbage-second-ADD");
      await assert.rejects(net.attach({ pod, netns: "/x", portMappings: [] }), (err: Error) => err instanceof CniError && err.message === 'CNI plugin second (ADD): its output is not a CNI result: "Hello from second"');
      assert.deepEqual(steps(t.calls()), ["ADD first", "ADD second", "DEL second", "DEL first"]);
      assert.deepEqual(t.records(), { intents: [], results: [] });
      t.unmark("garbage-second-ADD");
      t.mark("flood-first-ADD");
      await assert.rejects(net.attach({ pod, netns: "/x", portMappings: [] }), (err: Error) => err instanceof CniError && err.message === `CNI plugin first (ADD): ${join(t.bin, "first")}: printed more than 1048576 bytes; it was killed`);
      assert.deepEqual(steps(t.calls().slice(4)), ["ADD first", "DEL second", "DEL first"]);
      assert.deepEqual(t.calls().slice(5).map((c) => c.prev), [null, null], "nothing made: nothing to give DEL");
      assert.deepEqual(t.records(), { intents: [], results: [] });
    } finally {
      t.cleanup();
    }
  });

  it("a plugin that fails without an error object: its last stderr line is the message, with no CNI code", async () => {
    const t = setup([{ type: "first" }]);
    try {
      t.mark("stderr-first-ADD");
      const net = new PodNetwork(t.opts);
      net.open();
      await assert.rejects(net.attach({ pod, netns: "/x", portMappings: [] }), (err: Error) => err instanceof CniError && err.cniCode === undefined && err.message === "CNI plugin first (ADD) failed: iptables: No chain/target/match by that name.");
      assert.deepEqual(steps(t.calls()), ["ADD first", "DEL first"]);
      assert.deepEqual(t.records(), { intents: [], results: [] });
    } finally {
      t.cleanup();
    }
  });

  it("a failed ADD whose DEL fails too says both, keeps the records with what was made, and a later detach removes them", async () => {
    const t = setup([{ type: "first" }, { type: "second" }]);
    try {
      t.mark("fail-second-ADD");
      t.mark("fail-first-DEL");
      const net = new PodNetwork(t.opts);
      net.open();
      await assert.rejects(
        net.attach({ pod, netns: "/x", portMappings: [] }),
        (err: Error) => err.message === "CNI plugin second (ADD) failed: second refuses: on purpose; tearing the attachment down again also failed: CNI plugin first (DEL) failed: first refuses: on purpose" && err.cause instanceof CniError,
      );
      const [kept] = net.ofPod("uid-1");
      assert.equal(kept?.partial, true);
      assert.deepEqual(kept?.result?.seen, ["first"]);
      assert.equal(net.completeOf("uid-1"), undefined);
      assert.deepEqual(t.records(), { intents: [`${kept!.containerId}.json`], results: [] });
      t.unmark("fail-first-DEL");
      await net.detachPod("uid-1");
      assert.deepEqual(steps(t.calls().slice(4)), ["DEL second", "DEL first"]);
      assert.ok(t.calls().slice(4).every((c) => JSON.stringify(seen(c)) === '["first"]'));
      assert.deepEqual(t.records(), { intents: [], results: [] });
      assert.deepEqual(net.all(), []);
    } finally {
      t.cleanup();
    }
  });

  it("each attach reads the list afresh, and each attachment is torn down with its own", async () => {
    const t = setup([{ type: "first" }]);
    try {
      const net = new PodNetwork(t.opts);
      net.open();
      const a = await net.attach({ pod, netns: "/x", portMappings: [] });
      writeFileSync(join(t.opts.confDir, "10-test.conflist"), JSON.stringify({ cniVersion: "0.4.0", name: "other", plugins: [{ type: "second" }, { type: "third" }] }));
      const b = await net.attach({ pod: podB, netns: "/y", portMappings: [] });
      assert.deepEqual(t.calls().slice(1).map((c) => `${c.cmd} ${c.type} ${c.name} ${c.cniVersion}`), ["ADD second other 0.4.0", "ADD third other 0.4.0"]);
      assert.deepEqual(t.records().results, [`other-${b.containerId}-eth0`, `testnet-${a.containerId}-eth0`].sort());
      await net.detachPod("uid-1");
      await net.detachPod("uid-2");
      assert.deepEqual(t.calls().slice(3).map((c) => `${c.cmd} ${c.type} ${c.name} ${c.cniVersion}`), ["DEL first testnet 1.0.0", "DEL third other 0.4.0", "DEL second other 0.4.0"]);
      assert.deepEqual(t.records(), { intents: [], results: [] });
    } finally {
      t.cleanup();
    }
  });
});

test("findPlugin: the first directory with an executable of that name; a missing one names every directory", () => {
  const dir = mkdtempSync(join(tmpdir(), "podd-cni-bin-"));
  try {
    const [one, two] = [join(dir, "one"), join(dir, "two")];
    mkdirSync(one);
    mkdirSync(two);
    const put = (d: string, name: string, mode: number) => {
      writeFileSync(join(d, name), "#!/bin/sh\n");
      chmodSync(join(d, name), mode);
    };
    put(one, "bridge", 0o755);
    put(two, "bridge", 0o755);
    put(two, "portmap", 0o755);
    put(one, "tuning", 0o644);
    put(two, "tuning", 0o755);
    assert.equal(findPlugin([one, two], "bridge"), join(one, "bridge"));
    assert.equal(findPlugin([two, one], "bridge"), join(two, "bridge"));
    assert.equal(findPlugin([join(dir, "absent"), one, two], "portmap"), join(two, "portmap"));
    assert.equal(findPlugin([one, two], "tuning"), join(two, "tuning"), "one that is not executable is passed over");
    assert.throws(
      () => findPlugin([one, two], "firewall"),
      (err: Error) => err instanceof CniError && err.message === `CNI plugin "firewall" not found in ${one}, ${two}; install containernetworking-plugins, name its directory with --cni-bin-dir, or run pods without a network with --pod-network none`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("pluginConfig: the plugin's keys, the list's name and version, runtimeConfig from the declared capabilities that have a value, prevResult when there is one", () => {
  const list = { name: "net", cniVersion: "1.0.0" };
  const args = { portMappings: [{ hostPort: 1, containerPort: 2, protocol: "tcp" }], dns: { servers: ["192.0.2.1"] } };
  assert.deepEqual(pluginConfig(list, { type: "bridge", name: "mine", bridge: "br0" }, args, undefined), { type: "bridge", name: "net", cniVersion: "1.0.0", bridge: "br0" });
  assert.deepEqual(pluginConfig(list, { type: "portmap", capabilities: { portMappings: true, bandwidth: true, dns: false } }, args, { ips: [] }), {
    type: "portmap",
    capabilities: { portMappings: true, bandwidth: true, dns: false },
    name: "net",
    cniVersion: "1.0.0",
    runtimeConfig: { portMappings: args.portMappings },
    prevResult: { ips: [] },
  });
  assert.equal("runtimeConfig" in pluginConfig(list, { type: "portmap", capabilities: { portMappings: true } }, {}, undefined), false);
});

test("resultIPs: the sandbox's addresses and those of no interface, without prefix length, IPv4 first; argOf", () => {
  const result = {
    interfaces: [{ name: "br0" }, { name: "eth0", sandbox: "/run/netns/x" }, { name: "veth1" }],
    ips: [{ address: "fd00::5/64", interface: 1 }, { address: "10.0.0.1/24", interface: 0 }, { address: "10.0.0.5/24", interface: 1 }, { address: "192.0.2.9/32" }, { address: "10.0.0.7/24", interface: 2 }, { interface: 1 }],
  };
  assert.deepEqual(resultIPs(result), ["10.0.0.5", "192.0.2.9", "fd00::5"]);
  assert.deepEqual(resultIPs({}), []);
  assert.deepEqual(resultIPs({ ips: "10.0.0.5" }), []);
  const r = { cniArgs: [["IgnoreUnknown", "1"], ["K8S_POD_UID", "u"]] as [string, string][] };
  assert.equal(argOf(r, "K8S_POD_UID"), "u");
  assert.equal(argOf(r, "K8S_POD_NAME"), undefined);
});
