// Namespaces, config maps, secrets and claims through a real daemon: one file with all of them
// and a pod that uses each (env, envFrom, configMap, secret, downwardAPI, projected and claim
// volumes), a configMap volume updated while its pod runs, a missing key that holds a container
// until the object has it, a claim whose data outlives its pod and the daemon, protected while
// in use, and a secret that never reaches a disk outside the tmpfs of its volume.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "./harness.ts";
import { containerStatus, getPod, startDaemon, stopDaemon, waitRunning, type Daemon } from "./daemon-helpers.ts";
import { e2eSkip } from "./harness.ts";
import { withCli, type Cli } from "./cli-helpers.ts";

const skip = e2eSkip();
const SECRET = "s3cr3t-value-42";

const objects = (greeting = "hello") => `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: shop}
data:
  greeting: ${greeting}
  app.conf: "mode=prod"
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: shop}
stringData:
  password: ${SECRET}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`;

const pod = `apiVersion: v1
kind: Pod
metadata: {name: app, namespace: shop, labels: {tier: web}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: busybox:local
    command: [sh, -c, 'echo "$GREETING $PASSWORD $CFG_greeting" >> /data/out; sleep 1000']
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: cfg, key: greeting}}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: creds, key: password}}
    envFrom:
    - prefix: CFG_
      configMapRef: {name: cfg}
    volumeMounts:
    - {name: config, mountPath: /etc/app}
    - {name: secret, mountPath: /etc/secret}
    - {name: info, mountPath: /etc/podinfo}
    - {name: all, mountPath: /etc/all}
    - {name: data, mountPath: /data}
  volumes:
  - name: config
    configMap: {name: cfg}
  - name: secret
    secret: {secretName: creds, defaultMode: 0400}
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
  - name: all
    projected:
      defaultMode: 0755
      sources:
      - configMap: {name: cfg, items: [{key: greeting, path: g}]}
      - secret: {name: creds}
  - name: data
    persistentVolumeClaim: {claimName: data}
`;

function waitRunningIn(d: Daemon, ns: string, pod: string): Promise<unknown> {
  return waitFor(`${ns}/${pod} running`, async () => containerStatus(await getPod(d, pod, ns), "c")?.state?.running);
}

async function exec(c: Cli, ns: string, name: string, cmd: string): Promise<string> {
  const r = await c.run("exec", ["-n", ns, name, "--", "sh", "-c", cmd]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** Every regular file under dir whose bytes contain needle. */
function filesHolding(dir: string, needle: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && readFileSync(p).includes(needle)) out.push(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

describe("namespaces, config maps, secrets and claims", { skip, timeout: 180_000 }, () => {
  test("one file with a namespace, a config map, a secret, a claim and a pod that uses them all", () =>
    withCli(async (c) => {
      const r = await c.apply("all.yaml", `${objects()}---\n${pod}`);
      assert.equal(r.code, 0, r.stderr);
      // dependency order, whatever the file's
      assert.equal(r.stdout, "namespace/shop created\nconfigmap/cfg created\nsecret/creds created\npersistentvolumeclaim/data created\npod/app created\n");
      await waitRunningIn(c.d, "shop", "app");
      assert.equal(await exec(c, "shop", "app", "cat /data/out"), `hello ${SECRET} hello\n`);
      assert.equal(await exec(c, "shop", "app", "cat /etc/app/app.conf; echo; cat /etc/all/g; echo; cat /etc/all/password"), `mode=prod\nhello\n${SECRET}`);
      assert.equal(await exec(c, "shop", "app", "cat /etc/podinfo/labels; echo; cat /etc/podinfo/name"), 'tier="web"\napp');
      assert.equal(await exec(c, "shop", "app", "stat -L -c %a /etc/secret/password"), "400\n");
      // A projected (tmpfs) volume is not noexec: its 0755 file runs (as a script without #!).
      const ran = await c.run("exec", ["-n", "shop", "app", "--", "sh", "-c", "/etc/all/g"]);
      assert.equal(ran.code, 127, ran.stderr);
      assert.match(ran.stderr, /hello: not found/);
      // read-only, whatever the mount says
      const w = await c.run("exec", ["-n", "shop", "app", "--", "sh", "-c", "echo x > /etc/app/new"]);
      assert.notEqual(w.code, 0);

      const cms = await c.run("get", ["configmaps", "-n", "shop"]);
      assert.match(cms.stdout, /^NAME\s+DATA\s+AGE\ncfg\s+2\s+\S+\n$/);
      const secrets = await c.run("get", ["secrets", "-n", "shop"]);
      assert.match(secrets.stdout, /^NAME\s+TYPE\s+DATA\s+AGE\ncreds\s+Opaque\s+1\s+\S+\n$/);
      const claims = await c.run("get", ["pvc", "-n", "shop"]);
      assert.match(claims.stdout, /data\s+Bound\s+pvc-\S+\s+1Gi\s+RWO\s+local-path\s+<unset>\s+\S+\n$/);
      const both = await c.run("get", ["cm,secret", "-n", "shop"]);
      assert.match(both.stdout, /^NAME\s+DATA\s+AGE\nconfigmap\/cfg\s+2\s+\S+\n\nNAME\s+TYPE\s+DATA\s+AGE\nsecret\/creds\s+Opaque\s+1\s+\S+\n$/);
      const nss = await c.run("get", ["namespaces"]);
      assert.match(nss.stdout, /^NAME\s+STATUS\s+AGE\ndefault\s+Active\s+\S+\nshop\s+Active\s+\S+\n$/);
      const described = await c.run("describe", ["secret", "creds", "-n", "shop"]);
      assert.match(described.stdout, /password:\s+15 bytes/);
      assert.ok(!described.stdout.includes(SECRET) && !described.stdout.includes(Buffer.from(SECRET).toString("base64")));
      const api = await c.d.request("GET", "/api/v1/namespaces/shop/configmaps/cfg");
      assert.equal(api.status, 200);
      assert.equal(api.json.data.greeting, "hello");

      // The secret's value is nowhere on disk: not in the state root (stored as base64), the
      // log root, or the container's writable layer; only in the tmpfs of its volumes.
      assert.deepEqual([c.env.state, c.env.log].flatMap((d) => filesHolding(d, SECRET)).filter((p) => !p.startsWith(join(c.env.state, "claims"))), []);
      const secretVolume = readdirSync(join(c.env.run, "pods")).map((p) => join(c.env.run, "pods", p, "volumes", "secret"))[0]!;
      assert.ok(statSync(secretVolume).dev !== statSync(join(secretVolume, "..")).dev, "the secret volume is a mount of its own");
      assert.ok(!readFileSync(join(c.env.log, "daemon.log"), { flag: "a+" }).includes(SECRET));
      assert.ok(!(await c.run("describe", ["pod", "app", "-n", "shop"])).stdout.includes(SECRET));
    }));

  test("a configMap volume follows its ConfigMap while the pod runs; a missing key holds the container until it is there", () =>
    withCli(async (c) => {
      const cm = (data: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: live}\ndata: {${data}}\n`;
      assert.equal((await c.apply("cm.yaml", cm("color: red"))).code, 0);
      const reader = `apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: busybox:local
    command: [sleep, "1000"]
    env:
    - {name: SIZE, valueFrom: {configMapKeyRef: {name: live, key: size}}}
    volumeMounts: [{name: v, mountPath: /etc/live}]
  volumes: [{name: v, configMap: {name: live}}]
`;
      assert.equal((await c.apply("reader.yaml", reader)).code, 0);
      const held = await waitFor("the container held for the missing key", async () => {
        const w = (await getPod(c.d, "reader"))?.status?.containerStatuses?.[0]?.state?.waiting;
        return w?.reason === "CreateContainerConfigError" ? w : undefined;
      });
      assert.equal(held.message, "couldn't find key size in ConfigMap default/live");
      // The key appears: the container starts at once (not at a retry), and sees both keys.
      assert.equal((await c.apply("cm.yaml", cm("color: red, size: large"))).stdout, "configmap/live configured\n");
      await waitRunning(c.d, "reader", "c");
      assert.equal(await exec(c, "default", "reader", "echo $SIZE; cat /etc/live/color"), "large\nred");
      assert.equal((await c.apply("cm.yaml", cm("color: blue, size: large"))).code, 0);
      await waitFor("the volume updated", async () => (await exec(c, "default", "reader", "cat /etc/live/color")) === "blue" || undefined);
      // the env of a running container stays as it started, as in Kubernetes
      assert.equal(await exec(c, "default", "reader", "echo $SIZE"), "large\n");
    }));

  test("a claim's data outlives its pod and the daemon; deleting it waits for its pod, then removes its directory", () =>
    withCli(async (c) => {
      const claim = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: keep}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Mi}}}\n";
      const writer = (name: string) =>
        `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers: [{name: c, image: busybox:local, command: [sh, -c, "echo ${name} >> /data/log; sleep 1000"], volumeMounts: [{name: d, mountPath: /data}]}]\n  volumes: [{name: d, persistentVolumeClaim: {claimName: keep}}]\n`;
      assert.equal((await c.apply("claim.yaml", claim)).code, 0);
      const pending = await c.run("get", ["pvc", "keep"]);
      assert.match(pending.stdout, /keep\s+Pending\s/);
      assert.equal((await c.apply("one.yaml", writer("one"))).code, 0);
      await waitRunning(c.d, "one", "c");
      assert.equal((await c.run("delete", ["pod", "one"])).code, 0);
      // a daemon restart in between
      await stopDaemon(c.d, "SIGKILL");
      const d2 = await startDaemon(c.env, [], c.d.socket);
      try {
        assert.equal((await c.apply("two.yaml", writer("two"))).code, 0);
        await waitRunning(d2, "two", "c");
        assert.equal(await exec(c, "default", "two", "cat /data/log"), "one\ntwo\n");
        const claimDir = join(c.env.state, "claims", readdirSync(join(c.env.state, "claims"))[0]!);
        // In use: the delete leaves it Terminating, and it goes with the pod.
        const del = await c.run("delete", ["pvc", "keep", "--wait=false"]);
        assert.equal(del.code, 0, del.stderr);
        const terminating = await c.d.request("GET", "/api/v1/namespaces/default/persistentvolumeclaims/keep");
        assert.ok(terminating.json.metadata.deletionTimestamp);
        assert.deepEqual(terminating.json.metadata.finalizers, ["kubernetes.io/pvc-protection"]);
        assert.ok(existsSync(claimDir));
        // The pod that held it before keeps it: its container restarts with the claim.
        await exec(c, "default", "two", "kill $(pidof sleep)");
        await waitFor("two restarted", async () => {
          const st = containerStatus(await getPod(d2, "two"), "c");
          return st?.restartCount === 1 && st.state.running !== undefined ? st : undefined;
        });
        assert.equal(await exec(c, "default", "two", "cat /data/log"), "one\ntwo\ntwo\n");
        assert.equal((await c.run("delete", ["pod", "two"])).code, 0);
        await waitFor("the claim gone", async () => (await c.d.request("GET", "/api/v1/namespaces/default/persistentvolumeclaims/keep")).status === 404 || undefined);
        assert.ok(!existsSync(claimDir), "reclaim policy Delete removes the directory");
      } finally {
        await stopDaemon(d2, "SIGKILL");
      }
    }));

  test("with --encryption-provider-config, a stored secret is encrypted: neither its value nor its base64 is on disk", async () => {
    const keys = mkdtempSync(join(tmpdir(), "podd-e2e-keys-"));
    try {
      const keyFile = join(keys, "encryption.yaml");
      const key = Buffer.alloc(32, 9).toString("base64");
      writeFileSync(
        keyFile,
        `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n      - aesgcm: {keys: [{name: key1, secret: ${key}}]}\n      - identity: {}\n`,
        { mode: 0o600 },
      );
      await withCli(async (c) => {
        const r = await c.apply("secret.yaml", `apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {password: ${SECRET}}\n`);
        assert.equal(r.code, 0, r.stderr);
        const file = join(c.env.state, "objects", "secrets", "default", "creds.json");
        const stored = readFileSync(file);
        assert.ok(stored.subarray(0, 23).equals(Buffer.from("k8s:enc:aesgcm:v1:key1:")), stored.subarray(0, 40).toString());
        assert.equal(statSync(file).mode & 0o777, 0o600);
        const b64 = Buffer.from(SECRET).toString("base64");
        assert.deepEqual([c.env.state, c.env.log].flatMap((d) => [...filesHolding(d, SECRET), ...filesHolding(d, b64)]), []);
        const api = await c.d.request("GET", "/api/v1/namespaces/default/secrets/creds");
        assert.equal(Buffer.from(api.json.data.password, "base64").toString(), SECRET);
      }, ["--encryption-provider-config", keyFile]);
    } finally {
      rmSync(keys, { recursive: true, force: true });
    }
  });

  test("deleting a namespace takes what is in it; the default namespace cannot be deleted", () =>
    withCli(async (c) => {
      assert.equal((await c.apply("all.yaml", objects())).code, 0);
      const refused = await c.run("delete", ["namespace", "default"]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /namespaces "default" is forbidden: this namespace may not be deleted/);
      const del = await c.run("delete", ["namespace", "shop"]);
      assert.equal(del.code, 0, del.stderr);
      assert.equal(del.stdout, 'namespace "shop" deleted\n');
      for (const r of ["configmaps", "secrets", "persistentvolumeclaims"]) {
        assert.deepEqual((await c.d.request("GET", `/api/v1/namespaces/shop/${r}`)).json.items, []);
      }
      // The namespace of a URL is checked as a manifest's: no object, no namespace made of it.
      const dotted = await c.d.request("POST", "/api/v1/namespaces/a.b/configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" }, data: {} });
      assert.equal(dotted.status, 422, JSON.stringify(dotted.json));
      assert.match(dotted.json.message, /metadata\.namespace: Invalid value: "a\.b"/);
      assert.equal((await c.d.request("GET", "/api/v1/namespaces/a.b")).status, 404);
      assert.deepEqual(readdirSync(join(c.env.state, "objects", "secrets")).flatMap((ns) => readdirSync(join(c.env.state, "objects", "secrets", ns))), []);
    }));
});
