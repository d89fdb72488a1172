// What podd finds of the host's AppArmor, and how it reads the kernel's list of profiles.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { AppArmor, HOST_APPARMOR } from "../../supervisor/runtime/apparmor.ts";
import { CreateError } from "../../supervisor/runtime/launch.ts";

function host(t: { after(fn: () => void): void }, enabled: string | undefined, profiles: string | undefined) {
  const dir = mkdtempSync(join(tmpdir(), "podd-apparmor-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const paths = { ...HOST_APPARMOR, enabled: join(dir, "enabled"), profiles: join(dir, "profiles") };
  if (enabled !== undefined) writeFileSync(paths.enabled, enabled);
  if (profiles !== undefined) writeFileSync(paths.profiles, profiles);
  return paths;
}

test("a host without the LSM, with it off, or without its policy files cannot confine, and says why", (t) => {
  assert.deepEqual(AppArmor.probe(host(t, undefined, undefined)), { unavailable: "AppArmor is not enabled on the host" });
  assert.deepEqual(AppArmor.probe(host(t, "N\n", "")), { unavailable: "AppArmor is not enabled on the host" });
  const r = AppArmor.probe(host(t, "Y\n", undefined));
  assert.ok(!(r instanceof AppArmor) && /securityfs/.test(r.unavailable), JSON.stringify(r));
});

/** Whether apparmor_parser is here, which a usable AppArmor needs (its files in a dir removed at once). */
function parserSkip(): string | false {
  const dir = mkdtempSync(join(tmpdir(), "podd-apparmor-"));
  try {
    writeFileSync(join(dir, "enabled"), "Y");
    writeFileSync(join(dir, "profiles"), "");
    return AppArmor.probe({ ...HOST_APPARMOR, enabled: join(dir, "enabled"), profiles: join(dir, "profiles") }) instanceof AppArmor ? false : "apparmor_parser is not installed (apt-get install apparmor)";
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("the kernel's profiles are matched by whole name, whatever their mode; one not loaded holds the container", { skip: parserSkip() }, async (t) => {
  const aa = AppArmor.probe(host(t, "Y\n", "podd-default (enforce)\nmine (complain)\n/usr/bin/x (enforce)\nmine-2 (enforce)\n"));
  assert.ok(aa instanceof AppArmor);
  assert.equal(aa.loaded("mine"), true);
  assert.equal(aa.loaded("/usr/bin/x"), true);
  assert.equal(aa.loaded("min"), false);
  await aa.ready("mine");
  await assert.rejects(aa.ready("absent"), (err: unknown) => err instanceof CreateError && /"absent" is not loaded on this host/.test(err.message));
});
