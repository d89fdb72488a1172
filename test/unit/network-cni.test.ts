// PodNetwork against fake CNI plugins (small node scripts in a temp dir), no root: ADD through
// the list in order with each result passed on, runtime arguments only for the plugins that
// declare them, the kubelet's CNI_ARGS; the intent before ADD and the libcni-format result
// after; DEL in reverse with the cached result; a failed ADD torn down again; a failed DEL
// keeping its records for a retry; a hanging plugin killed at the limit; records found again
// by a new PodNetwork; DEL with the list an attachment was made with.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PodNetwork, argOf } from "../../supervisor/runtime/network/network.ts";

interface Call {
  type: string;
  cmd: string;
  id: string;
  args: string;
  prev: unknown;
  runtimeConfig: unknown;
  name: string;
  intents: string[];
}

function setup(plugins: object[], timeoutMs = 5000) {
  const dir = mkdtempSync(join(tmpdir(), "podd-cni-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  // One script for every type: it logs its call, then fails, hangs or answers as marker files say.
  const script = `#!${process.execPath}
const fs = require("fs");
const type = require("path").basename(process.argv[1]);
const cmd = process.env.CNI_COMMAND;
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const conf = JSON.parse(input);
  const intents = fs.existsSync(${JSON.stringify(join(dir, "state", "attachments"))}) ? fs.readdirSync(${JSON.stringify(join(dir, "state", "attachments"))}) : [];
  fs.appendFileSync(${JSON.stringify(join(dir, "calls"))}, JSON.stringify({ type, cmd, id: process.env.CNI_CONTAINERID, args: process.env.CNI_ARGS, prev: conf.prevResult ?? null, runtimeConfig: conf.runtimeConfig ?? null, name: conf.name, intents }) + "\\n");
  if (fs.existsSync(${JSON.stringify(dir)} + "/fail-" + type + "-" + cmd)) {
    process.stdout.write(JSON.stringify({ cniVersion: "1.0.0", code: 7, msg: type + " refuses", details: "on purpose" }));
    process.exit(1);
  }
  if (fs.existsSync(${JSON.stringify(dir)} + "/hang-" + type)) return setInterval(() => {}, 1 << 30);
  if (cmd !== "ADD") return;
  const prev = conf.prevResult ?? { cniVersion: "1.0.0", interfaces: [{ name: "eth0", sandbox: process.env.CNI_NETNS }], ips: [{ address: "10.9.0.5/24", interface: 0 }] };
  process.stdout.write(JSON.stringify({ ...prev, seen: [...(prev.seen ?? []), type] }));
});
`;
  for (const t of ["first", "second", "third"]) {
    writeFileSync(join(bin, t), script);
    chmodSync(join(bin, t), 0o755);
  }
  const conf = join(dir, "conf");
  mkdirSync(conf);
  writeFileSync(join(conf, "10-test.conflist"), JSON.stringify({ cniVersion: "1.0.0", name: "testnet", plugins }));
  const opts = { confDir: conf, ownConfDir: false, binDirs: [join(dir, "nowhere"), bin], stateDir: join(dir, "state"), runDir: join(dir, "run"), timeoutMs, defaults: { bridge: "x", subnet: "10.9.0.0/16", leaseDir: join(dir, "leases") } };
  const calls = (): Call[] => (existsSync(join(dir, "calls")) ? readFileSync(join(dir, "calls"), "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : []);
  const records = () => ({
    intents: existsSync(join(dir, "state", "attachments")) ? readdirSync(join(dir, "state", "attachments")) : [],
    results: existsSync(join(dir, "run", "results")) ? readdirSync(join(dir, "run", "results")) : [],
  });
  return { dir, opts, calls, records, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const pod = { namespace: "ns", name: "web", uid: "uid-1" };
const three = [{ type: "first" }, { type: "second", capabilities: { portMappings: true } }, { type: "third", capabilities: { dns: true, bandwidth: true } }];

test("ADD runs the list in order, each plugin given the result before it; DEL runs it in reverse with the cached result", async () => {
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

test("a failed ADD is torn down with what the plugins before it made; nothing is left; the error names the plugin and its message", async () => {
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

test("a DEL that fails keeps both records, found again by a new PodNetwork, and a later DEL removes them", async () => {
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

test("a plugin that hangs is killed at the limit; a missing plugin names the directories searched", async () => {
  const t = setup([{ type: "first" }], 300);
  try {
    writeFileSync(join(t.dir, "hang-first"), "");
    const net = new PodNetwork(t.opts);
    net.open();
    await assert.rejects(net.attach({ pod, netns: "/x", portMappings: [] }), /CNI plugin first \(ADD\): no answer within 0\.3 s; it was killed; tearing the attachment down again also failed: CNI plugin first \(DEL\): no answer within 0\.3 s/);
    // Still recorded: the next attempt, or the next daemon, tears it down.
    assert.equal(t.records().intents.length, 1);
    rmSync(join(t.dir, "hang-first"));
    await net.detachPod("uid-1");
    assert.deepEqual(t.records(), { intents: [], results: [] });
    writeFileSync(join(t.dir, "conf", "10-test.conflist"), JSON.stringify({ cniVersion: "1.0.0", name: "t", plugins: [{ type: "absent" }] }));
    await assert.rejects(net.attach({ pod, netns: "/x", portMappings: [] }), (err: Error) => err.message.includes(`CNI plugin "absent" not found in ${join(t.dir, "nowhere")}, ${join(t.dir, "bin")}`));
  } finally {
    t.cleanup();
  }
});
