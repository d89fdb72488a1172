// Images as users have them, end to end through the daemon and `podd image`: pulled from a real
// registry (plain HTTP on 127.0.0.1, Basic auth over TLS with a CA of the test's, token auth),
// as OCI and Docker schema 2, from an index, with zstd layers; loaded from docker-archive and
// oci-archive files, bare and compressed; run with the image's Entrypoint, Cmd, Env,
// WorkingDir and User, its whiteouts and opaque directories honoured. Hostile input (a corrupt
// blob, an index without this platform, a truncated archive) is refused with nothing stored;
// two pods that need one image cause one download; a daemon killed during a pull completes it
// after its restart.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServer, type AddressInfo } from "node:net";
import { once } from "node:events";
import { busyboxRootfs, destroyEnv, e2eSkip, idmapSkip, makeEnv, podd, waitFor, type Env, type Ran } from "./harness.ts";
import { crashDaemon, getPod, startDaemon, stopDaemon, type Daemon } from "./daemon-helpers.ts";
import { registrySkip, startRegistry, type TestRegistry } from "../lib/registry.ts";
import { buildIndex, compressFile, largeImage, pushImage, readManifest, saveArchive, whiteoutImage, whiteoutImageContent, zstdImage, buildImage, type OciImage } from "../lib/images.ts";

const skip = e2eSkip() || registrySkip();

function ok(r: Ran, what: string): Ran {
  assert.equal(r.code, 0, `${what}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** What the image's own command prints: uid, working dir, env, and what the layers left. */
const probe = [
  "echo uid=$(id -u) gid=$(id -g) cwd=$(pwd) from_image=$FROM_IMAGE override=$OVERRIDE",
  ...whiteoutImageContent.absent.map((p) => `[ -e ${p} ] && echo present ${p} || echo absent ${p}`),
  ...Object.keys(whiteoutImageContent.present).map((p) => `echo content ${p} $(cat ${p})`),
].join("; ");

function imageDirs(env: Env): { layers: string[]; records: string[]; tmp: string[] } {
  const ls = (d: string) => (existsSync(d) ? readdirSync(d).filter((f) => !f.startsWith(".")) : []);
  const base = join(env.state, "images");
  return { layers: ls(join(base, "layers")), records: ls(join(base, "images")), tmp: ls(join(base, "tmp")) };
}

describe("images from registries and archives", { skip }, () => {
  let env: Env;
  let plain: TestRegistry;
  let layout: string;
  let app: OciImage;
  let daemon: Daemon | undefined;
  const cli = (args: string[]) => podd([...args, "--socket", daemon!.socket]);
  /** The pod once it has ended (Succeeded or Failed). */
  const ended = (pod: string) =>
    waitFor(`${pod} to end`, async () => {
      const p = await getPod(daemon!, pod);
      return ["Succeeded", "Failed"].includes(p?.status?.phase) ? p : undefined;
    }, 60_000);

  before(async () => {
    env = makeEnv();
    layout = join(env.dir, "layout");
    plain = await startRegistry({ auth: "none" });
    app = await whiteoutImage(layout, "app", { copy: busyboxRootfs(env.dir) }, {
      entrypoint: ["/bin/sh", "-c"],
      cmd: [probe],
      env: ["PATH=/bin", "FROM_IMAGE=yes", "OVERRIDE=image"],
      workingDir: "/etc",
      user: "nobody",
    });
    await pushImage(app, plain, "test/app:1");
    await pushImage(app, plain, "test/app:v2s2", { format: "v2s2" });
    daemon = await startDaemon(env);
  });
  after(async () => {
    await stopDaemon(daemon, "SIGKILL");
    await plain?.stop();
    if (env) destroyEnv(env);
  });

  test("pull, ls, pull again (nothing fetched), inspect", async () => {
    const name = `${plain.host}/test/app:1`;
    const first = ok(await cli(["image", "pull", name]), "pull");
    assert.match(first.stdout, new RegExp(`^pulled ${plain.host.replace(/\./g, "\\.")}/test/app:1 \\([0-9a-f]{12}, [\\d.]+ [kM]B\\): fetched [\\d.]+ [kM]B in [\\d.]+s\\n$`));
    const again = ok(await cli(["image", "pull", name]), "pull again");
    assert.match(again.stdout, /fetched \d+ B in/, "a second pull fetches the manifest only");
    const list = JSON.parse(ok(await cli(["image", "ls", "-o", "json"]), "ls").stdout) as { name: string; id: string }[];
    assert.ok(list.some((i) => i.name === name));
    const table = ok(await cli(["image", "ls"]), "ls").stdout;
    assert.match(table, new RegExp(`^REPOSITORY\\s+TAG\\s+IMAGE ID\\s+CREATED\\s+SIZE\\n(.*\\n)*${plain.host.replace(/\./g, "\\.")}/test/app\\s+1\\s+[0-9a-f]{12}\\s+\\S+ ago\\s+[\\d.]+ [kM]B\\n`, "m"));
    const [detail] = JSON.parse(ok(await cli(["image", "inspect", name]), "inspect").stdout) as { config: { config: { Entrypoint: string[] } }; layers: unknown[] }[];
    assert.deepEqual(detail!.config.config.Entrypoint, ["/bin/sh", "-c"]);
    assert.equal(detail!.layers.length, 3);
    assert.deepEqual(imageDirs(env).tmp, [], "nothing half-done is left");
  });

  test("a pod runs the image's command as its user, in its working dir, with its env under the pod's, through its whiteouts", async () => {
    for (const tag of ["1", "v2s2"]) {
      const pod = `run-${tag}`;
      const manifest = join(env.dir, `${pod}.yaml`);
      writeFileSync(manifest, `apiVersion: v1
kind: Pod
metadata: {name: ${pod}}
spec:
  restartPolicy: Never
  containers:
    - name: probe
      image: ${plain.host}/test/app:${tag}
      env: [{name: OVERRIDE, value: pod}]
`);
      ok(await cli(["apply", "-f", manifest]), "apply");
      const p = await ended(pod);
      const logs = ok(await cli(["logs", pod]), "logs").stdout;
      assert.equal(p.status.phase, "Succeeded", logs);
      assert.match(logs, /^uid=65534 gid=65534 cwd=\/etc from_image=yes override=pod$/m);
      for (const a of whiteoutImageContent.absent) assert.match(logs, new RegExp(`^absent ${a}$`, "m"));
      for (const [path, content] of Object.entries(whiteoutImageContent.present)) assert.match(logs, new RegExp(`^content ${path} ${content.trim()}$`, "m"));
      const cs = p.status.containerStatuses[0];
      assert.match(cs.imageID, new RegExp(`^${plain.host.replace(/\./g, "\\.")}/test/app@sha256:[0-9a-f]{64}$`));
      const events = ok(await cli(["describe", "pod", pod]), "describe").stdout;
      assert.match(events, new RegExp(`(Successfully pulled image|already present on machine)`));
    }
  });

  test("an image volume: the image's files, read-only, in a container of another image; subPath of one refused", async () => {
    const manifest = join(env.dir, "imagevol.yaml");
    writeFileSync(manifest, `apiVersion: v1
kind: Pod
metadata: {name: imagevol}
spec:
  restartPolicy: Never
  volumes: [{name: tools, image: {reference: "${plain.host}/test/app:1"}}]
  containers:
    - name: c
      image: "${plain.host}/test/app:v2s2"
      command: ["/bin/sh", "-c", "cat /tools/etc/kept /tools/etc/added; [ -e /tools/etc/removed ] && echo whiteout-ignored; touch /tools/x 2>/dev/null && echo writable || echo read-only"]
      volumeMounts: [{name: tools, mountPath: /tools}]
`);
    ok(await cli(["apply", "-f", manifest]), "apply");
    await ended("imagevol");
    assert.equal(ok(await cli(["logs", "imagevol"]), "logs").stdout, "kept\nadded\nread-only\n");
    const refused = await cli(["image", "rm", `${plain.host}/test/app:1`]);
    assert.match(refused.stderr, /in use by a container/, "an image a volume names is in use");
    ok(await cli(["delete", "pod", "imagevol"]), "delete");
    assert.equal(readFileSync("/proc/self/mountinfo", "utf8").includes("imagevol"), false, "the volume's mount goes with the pod");
    // With ids of its own: the layers are idmapped (those the root shares with it once), so the
    // image's files are root's inside, as on disk.
    if (!idmapSkip()) {
      const userns = join(env.dir, "imagevol-userns.yaml");
      writeFileSync(userns, readFileSync(manifest, "utf8").replace("name: imagevol}", "name: imagevol-userns}").replace("restartPolicy: Never", "restartPolicy: Never\n  hostUsers: false").replace('command: ["/bin/sh", "-c", "', 'command: ["/bin/sh", "-c", "stat -c %u:%g /tools/etc/kept; '));
      ok(await cli(["apply", "-f", userns]), "apply");
      const p = await ended("imagevol-userns");
      const logs = ok(await cli(["logs", "imagevol-userns"]), "logs").stdout;
      assert.equal(p.status.phase, "Succeeded", logs);
      assert.equal(logs, "0:0\nkept\nadded\nread-only\n");
      ok(await cli(["delete", "pod", "imagevol-userns"]), "delete");
    }
    const sub = join(env.dir, "imagevol-sub.yaml");
    writeFileSync(sub, readFileSync(manifest, "utf8").replace("mountPath: /tools}", "mountPath: /tools, subPath: etc}"));
    const r = await cli(["apply", "-f", sub]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /volumeMounts\[0\]\.subPath: Forbidden: podd does not mount a subPath of an image volume/);
  });

  test("a missing image: ErrImagePull, then ImagePullBackOff, as the kubelet reports them", async () => {
    const manifest = join(env.dir, "missing.yaml");
    writeFileSync(manifest, `apiVersion: v1
kind: Pod
metadata: {name: missing}
spec:
  containers: [{name: c, image: "${plain.host}/test/nothing:1", command: ["true"]}]
`);
    ok(await cli(["apply", "-f", manifest]), "apply");
    const reasons = new Set<string>();
    await waitFor("ImagePullBackOff", async () => {
      const w = (await getPod(daemon!, "missing"))?.status?.containerStatuses?.[0]?.state?.waiting;
      if (w?.reason) reasons.add(w.reason);
      return w?.reason === "ImagePullBackOff";
    }, 30_000);
    const events = ok(await cli(["describe", "pod", "missing"]), "describe").stdout;
    assert.match(events, /Pulling image ".*test\/nothing:1"/);
    assert.match(events, /Failed to pull image ".*test\/nothing:1": .*manifest unknown/);
    assert.match(events, /Back-off pulling image/);
    ok(await cli(["delete", "pod", "missing", "--grace-period", "0"]), "delete");
  });

  test("two pods that need one image at once cause one download", async () => {
    const shared = await buildImage(layout, "shared", { layers: [{ copy: busyboxRootfs(env.dir) }, { files: { "/shared": "yes\n" } }] });
    await pushImage(shared, plain, "test/shared:1");
    const before = await plain.countRequests("GET", /^\/v2\/test\/shared\/blobs\//);
    const files = ["a", "b"].map((n) => {
      const f = join(env.dir, `shared-${n}.yaml`);
      writeFileSync(f, `apiVersion: v1
kind: Pod
metadata: {name: shared-${n}}
spec:
  restartPolicy: Never
  containers: [{name: c, image: "${plain.host}/test/shared:1", command: ["cat", "/shared"]}]
`);
      return f;
    });
    ok(await cli(["apply", "-f", files[0]!, "-f", files[1]!]), "apply both");
    for (const n of ["a", "b"]) assert.equal((await ended(`shared-${n}`)).status.phase, "Succeeded");
    // a config and two layers, each fetched once
    assert.equal((await plain.countRequests("GET", /^\/v2\/test\/shared\/blobs\//)) - before, 3);
    // in use: refused; once the pods are gone: removed, and its layers with it
    const refused = await cli(["image", "rm", `${plain.host}/test/shared:1`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /in use by a container/);
    for (const n of ["a", "b"]) ok(await cli(["delete", "pod", `shared-${n}`]), "delete");
    const layersBefore = imageDirs(env).layers.length;
    ok(await cli(["image", "rm", `${plain.host}/test/shared:1`]), "rm");
    assert.equal(imageDirs(env).layers.length, layersBefore - 2, "the layers only this image had go");
  });

  test("an index gives this machine's manifest; one without it is refused by name; zstd layers unpack", async () => {
    const { arm64 } = { arm64: await buildImage(layout, "arm-only", { layers: [{ files: { "/x": "x\n" } }], platform: { os: "linux", architecture: "arm64" } }) };
    const index = buildIndex(layout, "multi", [
      { image: app, platform: { os: "linux", architecture: "amd64" } },
      { image: arm64, platform: { os: "linux", architecture: "arm64" } },
    ]);
    await pushImage(index, plain, "test/multi:1", { all: true });
    const armIndex = buildIndex(layout, "armonly-index", [{ image: arm64, platform: { os: "linux", architecture: "arm64" } }]);
    await pushImage(armIndex, plain, "test/armonly:1", { all: true });
    if (process.arch === "x64") ok(await cli(["image", "pull", `${plain.host}/test/multi:1`]), "pull index");
    const refused = await cli(["image", "pull", `${plain.host}/test/armonly:1`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /no image for linux\/amd64 in the manifest list \(it has linux\/arm64\)/);
    const z = await zstdImage(app, "zstd");
    assert.match(JSON.stringify(readManifest(z).manifest.layers), /tar\+zstd/);
    await pushImage(z, plain, "test/app:zstd");
    ok(await cli(["image", "pull", `${plain.host}/test/app:zstd`]), "pull zstd");
  });

  test("archives load: docker-archive and oci-archive, bare, gzip and zstd; a truncated one is refused, nothing stored", async () => {
    const docker = await saveArchive(app, join(env.dir, "app-docker.tar"), "docker-archive", { name: "loaded/docker:1" });
    const oci = await saveArchive(app, join(env.dir, "app-oci.tar"), "oci-archive", { name: "loaded/oci:1" });
    for (const file of [docker, await compressFile(docker, "gzip"), oci, await compressFile(oci, "zstd")]) {
      const r = ok(await cli(["image", "load", "-i", file]), `load ${file}`);
      assert.match(r.stdout, /^Loaded image: loaded\/(docker|oci):1\n$/);
    }
    // dropped into the import directory, an archive is loaded by the daemon on its own
    const dropped = await saveArchive(app, join(env.dir, "dropped.tar"), "docker-archive", { name: "dropped/app:1" });
    copyFileSync(dropped, join(env.state, "image-import", "dropped.tar"));
    await waitFor("the dropped archive to be loaded", async () => ok(await cli(["image", "ls"]), "ls").stdout.includes("docker.io/dropped/app"), 30_000);
    const before = imageDirs(env);
    const broken = join(env.dir, "broken.tar");
    writeFileSync(broken, readFileSync(docker));
    truncateSync(broken, Math.floor(statSync(broken).size / 2));
    const r = await cli(["image", "load", "-i", broken]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /truncated|refused/);
    assert.deepEqual(imageDirs(env), { ...before, tmp: [] });
  });

  test("a blob whose digest does not match is refused, nothing stored", async () => {
    const badLayout = join(env.dir, "bad-layout");
    const bad = await buildImage(badLayout, "bad:1", { layers: [{ files: { "/bad": "original\n" } }] });
    // The layer blob's content is replaced under its old name: its digest no longer matches.
    const layer = readManifest(bad).manifest.layers[0]!;
    writeFileSync(join(badLayout, "blobs", "sha256", layer.digest.slice(7)), Buffer.alloc(layer.size, 1));
    const before = imageDirs(env);
    const r = await cli(["image", "load", badLayout]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /content has digest sha256:[0-9a-f]{64}, not sha256:|gzip|refused/);
    assert.deepEqual(imageDirs(env), { ...before, tmp: [] });
  });

  test("a daemon killed during a pull leaves no half image; after its restart the pull completes", async () => {
    const big = await largeImage(layout, "big", { sizeBytes: 40 * 1024 * 1024, base: { copy: busyboxRootfs(env.dir) } });
    await pushImage(big, plain, "test/big:1");
    const name = `${plain.host}/test/big:1`;
    const pull = cli(["image", "pull", name]);
    await waitFor("a layer being unpacked", () => imageDirs(env).tmp.length > 0, 60_000);
    await crashDaemon(daemon!);
    await pull;
    assert.equal(imageDirs(env).records.some((r) => readFileSync(join(env.state, "images", "images", r), "utf8").includes("test/big")), false, "no record of a half image");
    daemon = await startDaemon(env);
    assert.deepEqual(imageDirs(env).tmp, [], "the restarted daemon drops what the killed one left");
    ok(await cli(["image", "pull", name]), "pull after restart");
    assert.deepEqual(imageDirs(env).tmp, []);
  });
});

describe("a pull that hangs", { skip }, () => {
  test("does not hold a pod's stop: podd run --timeout ends, and leaves nothing", async () => {
    // A registry that accepts connections and never answers: the client's own idle timeout is 30 s.
    const server = createServer(() => {}).listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    const env = makeEnv();
    try {
      const manifest = join(env.dir, "hang.yaml");
      writeFileSync(manifest, `apiVersion: v1
kind: Pod
metadata: {name: hang}
spec:
  restartPolicy: Never
  containers: [{name: c, image: "127.0.0.1:${port}/x:1", command: ["true"]}]
`);
      const r = await podd(["run", "-f", manifest, ...env.flags, "--timeout", "2s"], { timeoutMs: 20_000 });
      assert.equal(r.code, 124, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, /container\/c Pulling/);
      assert.equal(readFileSync("/proc/self/mountinfo", "utf8").includes(env.dir), false, "nothing of the pod stays mounted");
      assert.deepEqual(imageDirs(env).tmp, []);
    } finally {
      server.close();
      destroyEnv(env);
    }
  });
});

/** Pushes a busybox image as team/a:1 with the registry's own credentials; the registries file that trusts its CA. */
async function pushTeamImage(env: Env, reg: TestRegistry): Promise<string> {
  const img = await buildImage(join(env.dir, "layout"), "a", { layers: [{ copy: busyboxRootfs(env.dir) }] });
  await pushImage(img, reg, "team/a:1", { creds: "registry" });
  const registries = join(env.dir, "registries.yaml");
  writeFileSync(registries, `registries:\n  "${reg.host}":\n    ca: ${reg.caFile}\n`);
  return registries;
}

describe("registries with credentials", { skip }, () => {
  for (const auth of ["basic", "token"] as const) {
    test(`${auth} auth: the auth file's credentials and the registries file's CA; a wrong password is refused`, async () => {
      const env = makeEnv();
      const reg = await startRegistry({ auth });
      let d: Daemon | undefined;
      try {
        const registries = await pushTeamImage(env, reg);
        const authfile = (password: string) => {
          const f = join(env.dir, `auth-${password.length}.json`);
          writeFileSync(f, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${reg.user}:${password}`).toString("base64") } } }), { mode: 0o600 });
          return f;
        };
        const name = `${reg.host}/team/a:1`;
        const wrong = await podd(["image", "pull", name, "--root", env.state, "--registries", registries, "--authfile", authfile("wrong")]);
        assert.notEqual(wrong.code, 0);
        assert.match(wrong.stderr, /unauthorized|authentication/i);
        // podd login checks the credentials before it keeps them
        const loginFile = join(env.dir, "login.json");
        const bad = await podd(["login", reg.host, "-u", reg.user, "-p", "wrong", "--registries", registries, "--authfile", loginFile]);
        assert.notEqual(bad.code, 0);
        assert.equal(existsSync(loginFile), false, "refused credentials are not kept");
        const good = ok(await podd(["login", reg.host, "-u", reg.user, "--password-stdin", "--registries", registries, "--authfile", loginFile], { input: `${reg.password}\n` }), "login");
        assert.match(good.stdout, /^Login Succeeded/);
        assert.equal(statSync(loginFile).mode & 0o777, 0o600);
        ok(await podd(["image", "pull", name, "--root", env.state, "--registries", registries, "--authfile", loginFile]), "pull with the login's credentials");
        ok(await podd(["image", "rm", name, "--root", env.state]), "rm");
        d = await startDaemon(env, ["--registries", registries, "--authfile", authfile(reg.password)]);
        ok(await podd(["image", "pull", name, "--socket", d.socket]), "pull");
        if (auth === "token") {
          const issued = reg.tokensIssued;
          ok(await podd(["image", "pull", name, "--socket", d.socket]), "pull again");
          assert.equal(reg.tokensIssued, issued, "the token of the first pull is used again");
        }
      } finally {
        await stopDaemon(d, "SIGKILL");
        await reg.stop();
        destroyEnv(env);
      }
    });
  }

  test("imagePullSecrets: a pod's dockerconfigjson secret gives its pulls' credentials, and lends them to no other pod", async () => {
    const env = makeEnv();
    const reg = await startRegistry({ auth: "token" });
    let d: Daemon | undefined;
    try {
      const registries = await pushTeamImage(env, reg);
      // The daemon itself has no credentials at all.
      d = await startDaemon(env, ["--registries", registries, "--authfile", join(env.dir, "none.json")]);
      const daemonOf = d;
      const name = `${reg.host}/team/a:1`;
      const pod = (pod: string, secret?: string) =>
        JSON.stringify({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: pod },
          spec: {
            restartPolicy: "Never",
            containers: [{ name: "c", image: name, imagePullPolicy: "Always", command: ["true"] }],
            ...(secret ? { imagePullSecrets: [{ name: secret }] } : {}),
          },
        });
      const waiting = (p: string) =>
        waitFor(`${p} refused its pull`, async () => {
          const w = (await getPod(daemonOf, p))?.status?.containerStatuses?.[0]?.state?.waiting;
          return w?.reason === "ErrImagePull" || w?.reason === "ImagePullBackOff" ? w : undefined;
        }, 60_000);
      const applyText = async (file: string, yaml: string) => {
        writeFileSync(join(env.dir, file), yaml);
        return ok(await podd(["apply", "-f", join(env.dir, file), "--socket", daemonOf.socket]), `apply ${file}`);
      };
      await applyText("anonymous.yaml", pod("anonymous"));
      assert.match((await waiting("anonymous")).message, /unauthorized|authentication/i);
      // A secret of the kind `podd create secret docker-registry` makes, and a pod that names it.
      const dockerconfig = JSON.stringify({ auths: { [reg.host]: { username: reg.user, password: reg.password, auth: Buffer.from(`${reg.user}:${reg.password}`).toString("base64") } } });
      const secret = JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "regcred" }, type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": Buffer.from(dockerconfig).toString("base64") } });
      await applyText("with-secret.yaml", `${secret}\n---\n${pod("with-secret", "regcred")}`);
      const done = await waitFor("with-secret to end", async () => {
        const p = await getPod(daemonOf, "with-secret");
        return ["Succeeded", "Failed"].includes(p?.status?.phase) ? p : undefined;
      }, 60_000);
      assert.equal(done.status.phase, "Succeeded", JSON.stringify(done.status));
      // The token the secret's pull got is not handed to a pod without the secret.
      await applyText("anonymous-again.yaml", pod("anonymous-again"));
      assert.match((await waiting("anonymous-again")).message, /unauthorized|authentication/i);
      // A pod naming a secret that is not there is warned of, and pulls without it.
      await applyText("missing.yaml", pod("missing", "nosuch"));
      await waiting("missing");
      const events = await podd(["events", "--socket", daemonOf.socket]);
      assert.match(events.stdout, /FailedToRetrieveImagePullSecret\s.*Unable to retrieve some image pull secrets \(nosuch\)/);
      assert.ok(!events.stdout.includes(reg.password));
    } finally {
      await stopDaemon(d, "SIGKILL");
      await reg.stop();
      destroyEnv(env);
    }
  });
});
