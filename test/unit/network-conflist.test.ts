// CNI network configuration lists: what parseConfList accepts (a .conflist, a single .conf
// turned into a list of one) and what it refuses, always with the file's path and the reason;
// which files of a directory count and in what order; podd's default network written into its
// own empty directory, never into a user's.
import assert from "node:assert/strict";
import { test } from "node:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PoddError } from "../../supervisor/base/errors.ts";
import {
  CNI_VERSION,
  confFiles,
  DEFAULT_CONFLIST_NAME,
  defaultConfList,
  firstConfList,
  hasCheck,
  loadConfList,
  parseConfList,
} from "../../supervisor/runtime/network/conflist.ts";
import { withTempDir } from "../lib/temp-dir.ts";

const json = (v: unknown) => Buffer.from(JSON.stringify(v));


/** The error parseConfList throws for bytes, which must be a PoddError naming the source. */
function refusal(bytes: Buffer, source = "/etc/cni/net.d/10-x.conflist"): PoddError {
  try {
    parseConfList(bytes, source);
  } catch (err) {
    assert.ok(err instanceof PoddError, `a PoddError, got ${String(err)}`);
    assert.equal(err.code, "Invalid");
    assert.equal(err.path, source);
    assert.ok(err.message.startsWith(`CNI configuration ${source}: `), err.message);
    return err;
  }
  assert.fail(`${bytes.toString().slice(0, 80)} was accepted`);
}

test("a .conflist is read as it is: name, version, plugins in order, the bytes and the path kept", () => {
  const bytes = json({
    cniVersion: "1.0.0",
    name: "lab.net-1",
    plugins: [{ type: "bridge", bridge: "br9", ipam: { type: "host-local" } }, { type: "portmap", capabilities: { portMappings: true } }],
  });
  const list = parseConfList(bytes, "/c/10-lab.conflist");
  assert.equal(list.name, "lab.net-1");
  assert.equal(list.cniVersion, "1.0.0");
  assert.deepEqual(list.plugins, [{ type: "bridge", bridge: "br9", ipam: { type: "host-local" } }, { type: "portmap", capabilities: { portMappings: true } }]);
  assert.equal(list.disableCheck, false);
  assert.equal(list.bytes, bytes);
  assert.equal(list.source, "/c/10-lab.conflist");
  assert.equal(parseConfList(json({ cniVersion: "0.4.0", name: "n", disableCheck: true, plugins: [{ type: "bridge" }] }), "x").disableCheck, true);
});

test("a single-plugin .conf becomes a list of one, without the list's own keys in the plugin", () => {
  const list = parseConfList(json({ cniVersion: "0.3.1", name: "mynet", type: "bridge", bridge: "cni0", ipam: { type: "host-local", subnet: "10.22.0.0/16" } }), "/c/10-mynet.conf");
  assert.equal(list.name, "mynet");
  assert.equal(list.cniVersion, "0.3.1");
  assert.deepEqual(list.plugins, [{ type: "bridge", bridge: "cni0", ipam: { type: "host-local", subnet: "10.22.0.0/16" } }]);
});

test("every version from 0.3.0 to 1.0.0 is accepted; CHECK exists from 0.4.0 on", () => {
  for (const v of ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]) assert.equal(parseConfList(json({ cniVersion: v, name: "n", plugins: [{ type: "bridge" }] }), "x").cniVersion, v);
  assert.equal(CNI_VERSION, "1.0.0");
  assert.deepEqual(
    ["0.3.0", "0.3.1", "0.4.0", "1.0.0"].map((cniVersion) => hasCheck({ cniVersion })),
    [false, false, true, true],
  );
});

test("refusals name the file and say what is wrong", () => {
  const ok = { cniVersion: "1.0.0", name: "n", plugins: [{ type: "bridge" }] };
  const table: { name: string; bytes: Buffer; reason: RegExp }[] = [
    { name: "not JSON", bytes: Buffer.from('{"cniVersion": "1.0.0",'), reason: /: not JSON: / },
    { name: "a JSON array", bytes: json([ok]), reason: /: not a JSON object$/ },
    { name: "JSON null", bytes: Buffer.from("null"), reason: /: not a JSON object$/ },
    { name: "no name", bytes: json({ ...ok, name: undefined }), reason: /: "name" must be a network name of letters, digits, '_', '\.' and '-', got undefined$/ },
    { name: "a name with a slash", bytes: json({ ...ok, name: "../etc" }), reason: /: "name" must be a network name .*, got "\.\.\/etc"$/ },
    { name: "a name with a space", bytes: json({ ...ok, name: "my net" }), reason: /"name" must be a network name/ },
    { name: "a name that starts with '-'", bytes: json({ ...ok, name: "-net" }), reason: /"name" must be a network name/ },
    { name: "no cniVersion", bytes: json({ ...ok, cniVersion: undefined }), reason: /: "cniVersion" is missing$/ },
    { name: "cniVersion 0.2.0", bytes: json({ ...ok, cniVersion: "0.2.0" }), reason: /: cniVersion 0\.2\.0 is not one podd speaks \(0\.3\.0 up to 1\.0\.0\)$/ },
    { name: "cniVersion 1.1.0", bytes: json({ ...ok, cniVersion: "1.1.0" }), reason: /: cniVersion 1\.1\.0 is not one podd speaks/ },
    { name: "an empty plugin list", bytes: json({ ...ok, plugins: [] }), reason: /: "plugins" must be a non-empty list$/ },
    { name: "plugins not a list", bytes: json({ ...ok, plugins: { type: "bridge" } }), reason: /: "plugins" must be a non-empty list$/ },
    { name: "a plugin that is not an object", bytes: json({ ...ok, plugins: [{ type: "bridge" }, "portmap"] }), reason: /: plugins\[1\]: not a JSON object$/ },
    { name: "a plugin without a type", bytes: json({ ...ok, plugins: [{ bridge: "br0" }] }), reason: /: plugins\[0\]: "type" must name a plugin executable, got undefined$/ },
    { name: "a plugin type that is a path", bytes: json({ ...ok, plugins: [{ type: "bridge" }, { type: "../../../usr/bin/evil" }] }), reason: /: plugins\[1\]: "type" must name a plugin executable, got "\.\.\/\.\.\/\.\.\/usr\/bin\/evil"$/ },
    { name: "an absolute plugin type", bytes: json({ ...ok, plugins: [{ type: "/bin/sh" }] }), reason: /: plugins\[0\]: "type" must name a plugin executable, got "\/bin\/sh"$/ },
    { name: "a plugin type '..'", bytes: json({ ...ok, plugins: [{ type: ".." }] }), reason: /"type" must name a plugin executable, got "\.\."$/ },
    { name: "a single .conf whose type is a path", bytes: json({ cniVersion: "1.0.0", name: "n", type: "x/y" }), reason: /: "type" must name a plugin executable, got "x\/y"$/ },
    { name: "capabilities a list", bytes: json({ ...ok, plugins: [{ type: "portmap", capabilities: ["portMappings"] }] }), reason: /: plugins\[0\]: "capabilities" must be an object$/ },
    { name: "capabilities null", bytes: json({ ...ok, plugins: [{ type: "portmap", capabilities: null }] }), reason: /: plugins\[0\]: "capabilities" must be an object$/ },
    { name: "capabilities a string", bytes: json({ ...ok, plugins: [{ type: "portmap", capabilities: "portMappings" }] }), reason: /"capabilities" must be an object$/ },
    { name: "disableCheck a string", bytes: json({ ...ok, disableCheck: "true" }), reason: /: "disableCheck" must be true or false$/ },
  ];
  for (const t of table) assert.match(refusal(t.bytes).message, t.reason, t.name);
});

test("a file over 1 MiB is refused before it is parsed; one just under is read", () => {
  const list = (padding: number) => {
    const head = Buffer.from(JSON.stringify({ cniVersion: "1.0.0", name: "n", plugins: [{ type: "bridge", pad: "" }] }));
    // The padding goes inside the pad string, so that the bytes stay a valid list of their length.
    const cut = head.indexOf('""') + 1;
    return Buffer.concat([head.subarray(0, cut), Buffer.alloc(padding, "a"), head.subarray(cut)]);
  };
  const base = list(0).length;
  const under = list((1 << 20) - base);
  assert.equal(under.length, 1 << 20);
  assert.equal(parseConfList(under, "x").name, "n");
  const over = list((1 << 20) - base + 1);
  assert.match(refusal(over).message, /: larger than 1048576 bytes$/);
  // Refused for its size, not for its content: garbage of that size says the same.
  assert.match(refusal(Buffer.alloc((1 << 20) + 1, "{")).message, /: larger than 1048576 bytes$/);
});

test("confFiles: .conf, .conflist and .json by name; hidden files and other extensions left out; a missing directory has none", () => {
  withTempDir("conflist", (dir) => {
    for (const n of ["20-b.conf", "10-a.conflist", "30-c.json", ".05-hidden.conflist", "README", "15-x.conflist.bak", "16-y.yaml", "05-z.CONF", "99-last.conflist"]) writeFileSync(join(dir, n), "{}");
    assert.deepEqual(confFiles(dir), ["10-a.conflist", "20-b.conf", "30-c.json", "99-last.conflist"].map((n) => join(dir, n)));
    assert.deepEqual(confFiles(join(dir, "absent")), []);
    // A path that is a file, not a directory, is an error to report, not an empty directory.
    assert.throws(() => confFiles(join(dir, "README")), (err: Error) => err instanceof PoddError && err.message.startsWith(`read CNI configuration directory ${join(dir, "README")}: `));
  });
});

test("firstConfList: the first file by name, even when a later one would parse; none in an empty directory", () => {
  withTempDir("conflist", (dir) => {
    assert.equal(firstConfList(dir), undefined);
    writeFileSync(join(dir, "20-good.conflist"), JSON.stringify({ cniVersion: "1.0.0", name: "good", plugins: [{ type: "bridge" }] }));
    assert.equal(firstConfList(dir)?.name, "good");
    writeFileSync(join(dir, "10-first.conf"), JSON.stringify({ cniVersion: "0.4.0", name: "first", type: "macvlan" }));
    const first = firstConfList(dir);
    assert.equal(first?.name, "first");
    assert.equal(first?.source, join(dir, "10-first.conf"));
    // The first file decides: a broken one is reported, not skipped for the next.
    writeFileSync(join(dir, "00-broken.conflist"), "{");
    assert.throws(() => firstConfList(dir), new RegExp(`^PoddError: CNI configuration ${join(dir, "00-broken.conflist").replace(/[.]/g, "\\.")}: not JSON`));
  });
});

const defaults = (leaseDir: string) => ({ bridge: "podd9", subnet: "10.123.0.0/16", leaseDir });

test("podd's own empty directory gets the default network written, and the written file is the list returned", () => {
  withTempDir("conflist", (dir) => {
    const own = join(dir, "etc", "cni", "net.d");
    const leases = join(dir, "state", "cni", "networks");
    const list = loadConfList(own, true, defaults(leases));
    const path = join(own, DEFAULT_CONFLIST_NAME);
    assert.equal(DEFAULT_CONFLIST_NAME, "10-podd.conflist");
    assert.deepEqual(readdirSync(own), ["10-podd.conflist"], "nothing but the list (no temp file left)");
    assert.equal(statSync(path).mode & 0o777, 0o644);
    assert.equal(list.source, path);
    assert.deepEqual(list.bytes, readFileSync(path));
    assert.equal(readFileSync(path, "utf8"), defaultConfList(defaults(leases)));

    assert.equal(list.name, "podd");
    assert.equal(list.cniVersion, "1.0.0");
    assert.deepEqual(list.plugins.map((p) => p.type), ["bridge", "portmap", "firewall", "tuning"]);
    const [bridge, portmap] = list.plugins as unknown as [Record<string, unknown>, Record<string, unknown>];
    assert.equal(bridge.bridge, "podd9");
    assert.equal(bridge.isGateway, true);
    assert.equal(bridge.ipMasq, true);
    assert.equal(bridge.hairpinMode, true);
    assert.deepEqual(bridge.ipam, { type: "host-local", ranges: [[{ subnet: "10.123.0.0/16" }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: leases });
    assert.equal(portmap.snat, true);
    assert.deepEqual(portmap.capabilities, { portMappings: true });
    assert.equal(hasCheck(list), true);

    // Read again, not written again: a user's edit of the default stays.
    writeFileSync(path, JSON.stringify({ cniVersion: "1.0.0", name: "edited", plugins: [{ type: "bridge" }] }));
    assert.equal(loadConfList(own, true, defaults(leases)).name, "edited");
  });
});

test("a user's empty directory is an error that says what to do, and nothing is written there", () => {
  withTempDir("conflist", (dir) => {
    const user = join(dir, "net.d");
    mkdirSync(user);
    writeFileSync(join(user, "notes.txt"), "not a list");
    assert.throws(
      () => loadConfList(user, false, defaults(join(dir, "leases"))),
      (err: Error) =>
        err instanceof PoddError &&
        err.code === "NotFound" &&
        err.path === user &&
        err.message === `no CNI network configuration (*.conflist, *.conf, *.json) in ${user}; add one, or leave --cni-conf-dir out for podd's own network`,
    );
    assert.deepEqual(readdirSync(user), ["notes.txt"]);
    // Nor is a missing directory made.
    assert.throws(() => loadConfList(join(dir, "absent"), false, defaults(join(dir, "leases"))), /no CNI network configuration/);
    assert.equal(existsSync(join(dir, "absent")), false);
  });
});

test("in podd's own directory an existing list wins over the default, which is then not written", () => {
  withTempDir("conflist", (dir) => {
    writeFileSync(join(dir, "50-mine.conf"), JSON.stringify({ cniVersion: "0.4.0", name: "mine", type: "ptp" }));
    const list = loadConfList(dir, true, defaults(join(dir, "leases")));
    assert.equal(list.name, "mine");
    assert.deepEqual(list.plugins, [{ type: "ptp" }]);
    assert.deepEqual(readdirSync(dir), ["50-mine.conf"]);
  });
});
