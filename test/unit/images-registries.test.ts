// registries.yaml: the settings it gives each registry, the defaults a missing file means, and
// refusals that name the file, the line and the field.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { loadRegistrySettings, parseRegistrySettings, registrySettingsPath, settingsFor } from "../../supervisor/runtime/images/registries.ts";

const dir = mkdtempSync(join(tmpdir(), "podd-registries-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function refusal(text: string, message: RegExp): void {
  assert.throws(
    () => parseRegistrySettings(text, "/etc/podd/registries.yaml"),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, "Invalid");
      assert.match(err.message, message);
      return true;
    },
  );
}

test("the documented example gives mirrors in order, insecure and a CA path; other hosts get no settings", () => {
  const s = parseRegistrySettings(
    [
      "registries:",
      "  docker.io:",
      '    mirrors: [ "mirror.lan:5000", "https://other.lan", "http://[::1]:5001/" ]',
      "  registry.lan:5000:",
      "    insecure: true",
      "    ca: lan-ca.pem",
      "  quay.io:",
    ].join("\n"),
    "/etc/podd/registries.yaml",
  );
  assert.equal(s.file, "/etc/podd/registries.yaml");
  assert.deepEqual(settingsFor(s, "docker.io").mirrors, [{ host: "mirror.lan:5000" }, { host: "other.lan", scheme: "https" }, { host: "[::1]:5001", scheme: "http" }]);
  assert.equal(settingsFor(s, "docker.io").insecure, false);
  // Docker Hub's other names find the same settings.
  assert.equal(settingsFor(s, "registry-1.docker.io").mirrors.length, 3);
  assert.deepEqual(settingsFor(s, "registry.lan:5000"), { mirrors: [], insecure: true, ca: "/etc/podd/lan-ca.pem" });
  assert.deepEqual(settingsFor(s, "quay.io"), { mirrors: [], insecure: false });
  assert.deepEqual(settingsFor(s, "registry.lan"), { mirrors: [], insecure: false }, "another port is another registry");
});

test("an empty file, or registries: with nothing under it, means defaults", () => {
  assert.equal(parseRegistrySettings("", "f.yaml").hosts.size, 0);
  assert.equal(parseRegistrySettings("# nothing yet\n", "f.yaml").hosts.size, 0);
  assert.equal(parseRegistrySettings("registries:\n", "f.yaml").hosts.size, 0);
});

test("unknown keys are refused with the file, line, column and field", () => {
  refusal("registries:\n  docker.io:\n    mirror: [a.lan]\n", /^\/etc\/podd\/registries\.yaml:3:5: registries\["docker\.io"\]\.mirror: unknown field "mirror"; a registry has mirrors, insecure and ca$/);
  refusal("registry:\n  docker.io: {}\n", /^\/etc\/podd\/registries\.yaml:1:1: registry: unknown field "registry"; the file has the one key registries$/);
});

test("wrong values are refused by field", () => {
  refusal("registries:\n  r.lan:\n    insecure: yes\n", /:3:15: registries\["r\.lan"\]\.insecure: must be true or false$/);
  refusal("registries:\n  r.lan:\n    mirrors: m.lan\n", /:3:14: registries\["r\.lan"\]\.mirrors: must be a list of mirrors/);
  refusal("registries:\n  r.lan:\n    mirrors: [m.lan/v2/x]\n", /:3:15: registries\["r\.lan"\]\.mirrors\[0\]: "m\.lan\/v2\/x" is not a mirror: write host\[:port\]/);
  refusal("registries:\n  r.lan:\n    mirrors: [ftp://m.lan]\n", /registries\["r\.lan"\]\.mirrors\[0\]: "ftp:\/\/m\.lan" is not a mirror/);
  refusal("registries:\n  r.lan:\n    ca: 3\n", /registries\["r\.lan"\]\.ca: must be the path of a PEM file/);
  refusal("registries:\n  https://r.lan:\n    insecure: true\n", /:2:3: registries\["https:\/\/r\.lan"\]: "https:\/\/r\.lan" is not a registry host: .*without a scheme$/);
  refusal("registries:\n  docker.io: {}\n  index.docker.io: {}\n", /:3:3: registries\["index\.docker\.io"\]: index\.docker\.io is named twice$/);
  refusal("registries: [docker.io]\n", /:1:13: registries: must be a map from registry host to its settings$/);
  refusal("registries:\n  a.lan: {}\n  a.lan: {}\n", /^\/etc\/podd\/registries\.yaml:3:3: map keys must be unique/);
  refusal("registries: {\n", /^\/etc\/podd\/registries\.yaml:\d+:\d+: /);
});

test("a missing file means defaults, unless it was named and must exist; a present file is parsed", () => {
  assert.equal(loadRegistrySettings(undefined).hosts.size, 0);
  assert.equal(loadRegistrySettings(join(dir, "none.yaml")).hosts.size, 0);
  assert.throws(() => loadRegistrySettings(join(dir, "none.yaml"), { mustExist: true }), (err: Error & { code?: string }) => {
    assert.equal(err.code, "NotFound");
    assert.match(err.message, /^read registry settings .*none\.yaml: ENOENT/);
    return true;
  });
  const file = registrySettingsPath(dir);
  assert.equal(file, join(dir, "registries.yaml"));
  writeFileSync(file, "registries:\n  r.lan:\n    ca: certs/r.pem\n");
  assert.equal(settingsFor(loadRegistrySettings(file), "r.lan").ca, join(dir, "certs/r.pem"), "a relative ca is read from the file's directory");
});
