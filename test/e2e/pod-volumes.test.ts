// Volumes: emptyDir (on disk under the state root, or a tmpfs with medium Memory), hostPath
// with every type and its checks, and volumeMounts with readOnly and subPath. The containers
// use the host's root (mount points under its private /run) so that no image is needed; every
// hostPath lies in the test's own directory.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { once } from "node:events";
import { join } from "node:path";
import { e2eSkip, podd, waitFor, writeManifest, type Env } from "./harness.ts";
import { allSeen, assertNothingLeft, inEnv, runManifest, runPods, said, shCommand, valuesOf, watchNamespaces } from "./pod-helpers.ts";

const skip = e2eSkip();

function podStateDir(env: Env, pod: string): string | undefined {
  const pods = join(env.state, "pods");
  const d = existsSync(pods) ? readdirSync(pods).find((p) => p.split("_")[1] === pod) : undefined;
  return d && join(pods, d);
}

function mknod(path: string, kind: "c" | "b", major: number, minor: number): void {
  const r = spawnSync("mknod", [path, kind, String(major), String(minor)], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
}

describe("volumes", { skip }, () => {
  test("emptyDir: shared by the pod's containers, kept across a restart, removed with the pod", () =>
    inEnv(async (env) => {
      const file = writeManifest(env, "shared.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: shared}
spec:
  restartPolicy: OnFailure
  volumes: [{name: data, emptyDir: {}}]
  containers:
    - name: writer
      image: host
      volumeMounts: [{name: data, mountPath: /run/data}]
      command: ${shCommand(`
        if [ -e /run/data/count ]; then echo "restart saw=$(cat /run/data/count)"; touch /run/data/done; exit 0; fi
        echo first-run > /run/data/count
        until [ -e /run/data/go ]; do sleep 0.01; done
        exit 1
      `)}
    - name: reader
      image: host
      volumeMounts: [{name: data, mountPath: /run/data}]
      command: ${shCommand(`until [ -e /run/data/done ]; do sleep 0.01; done; echo "reader saw=$(cat /run/data/count)"`)}
`);
      const watch = watchNamespaces(env);
      const run = podd(["run", "-f", file, ...env.flags]);
      try {
        // on the host: a directory under the pod's state dir
        const dir = await waitFor("the emptyDir on disk", () => {
          const p = podStateDir(env, "shared");
          // the shell creates the file before it writes to it: wait for the whole line
          const count = p && join(p, "volumes", "data", "count");
          return count && existsSync(count) && readFileSync(count, "utf8") === "first-run\n" && join(p, "volumes", "data");
        });
        assert.equal(readFileSync(join(dir, "count"), "utf8"), "first-run\n");
        writeFileSync(join(dir, "go"), "");
      } finally {
        watch.stop();
      }
      const r = await run;
      assert.equal(r.code, 0, said(r));
      assert.equal(valuesOf(r, "shared", "writer").get("restart saw"), "first-run");
      assert.equal(valuesOf(r, "shared", "reader").get("reader saw"), "first-run");
      assert.equal(podStateDir(env, "shared"), undefined, "the emptyDir goes with the pod");
      assertNothingLeft(env, allSeen(watch));
    }));

  test("emptyDir medium Memory: a tmpfs of sizeLimit; writing past it fails with ENOSPC", () =>
    inEnv(async (env) => {
      const r = await runManifest(env, "mem.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: mem}
spec:
  restartPolicy: Never
  volumes: [{name: mem, emptyDir: {medium: Memory, sizeLimit: 1Mi}}]
  containers:
    - name: c
      image: host
      volumeMounts: [{name: mem, mountPath: /run/mem}]
      command: ${shCommand(`
        echo "fs=$(stat -f -c %T /run/mem)"
        echo "size=$(df -k /run/mem | tail -1 | tr -s ' ' | cut -d' ' -f2)"
        head -c 512K /dev/zero > /run/mem/half && echo "half=ok"
        out=$(head -c 2M /dev/zero 2>&1 > /run/mem/too-much) && echo "too-much=ok" || echo "too-much=$out"
      `)}
`);
      assert.equal(r.code, 0, said(r));
      const v = valuesOf(r, "mem", "c");
      assert.equal(v.get("fs"), "tmpfs");
      assert.equal(v.get("size"), "1024");
      assert.equal(v.get("half"), "ok", "control: a write within the limit succeeds");
      assert.match(v.get("too-much") ?? "", /No space left on device/);
      assertNothingLeft(env, r.namespaces);
    }));

  test("hostPath of every type, readOnly and subPath", () =>
    inEnv(async (env) => {
      const hp = join(env.dir, "hp");
      mkdirSync(join(hp, "plain"), { recursive: true });
      writeFileSync(join(hp, "plain", "hello"), "plain-hello\n");
      mkdirSync(join(hp, "dir", "sub"), { recursive: true });
      writeFileSync(join(hp, "dir", "top.txt"), "top\n");
      writeFileSync(join(hp, "dir", "sub", "f.txt"), "in-sub\n");
      writeFileSync(join(hp, "file"), "a-file\n");
      mknod(join(hp, "null"), "c", 1, 3);
      mknod(join(hp, "blk"), "b", 7, 200);
      const server = createServer();
      server.listen(join(hp, "sock"));
      await once(server, "listening");
      try {
        const vol = (name: string, path: string, type: string) => `    - {name: ${name}, hostPath: {path: ${path}, type: "${type}"}}`;
        const r = await runManifest(env, "hp.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: hp}
spec:
  restartPolicy: Never
  volumes:
${vol("plain", join(hp, "plain"), "")}
${vol("dir-create", join(hp, "new-dir"), "DirectoryOrCreate")}
${vol("dir", join(hp, "dir"), "Directory")}
${vol("file-create", join(hp, "new-parent", "new-file"), "FileOrCreate")}
${vol("file", join(hp, "file"), "File")}
${vol("sock", join(hp, "sock"), "Socket")}
${vol("chr", join(hp, "null"), "CharDevice")}
${vol("blk", join(hp, "blk"), "BlockDevice")}
  containers:
    - name: c
      image: host
      volumeMounts:
        - {name: plain, mountPath: /run/v/plain}
        - {name: dir-create, mountPath: /run/v/dir-create}
        - {name: dir, mountPath: /run/v/dir}
        - {name: file-create, mountPath: /run/v/file-create}
        - {name: file, mountPath: /run/v/file}
        - {name: sock, mountPath: /run/v/sock}
        - {name: chr, mountPath: /run/v/chr}
        - {name: blk, mountPath: /run/v/blk}
        - {name: dir, mountPath: /run/v/dir-ro, readOnly: true}
        - {name: dir, mountPath: /run/v/sub, subPath: sub}
        - {name: dir, mountPath: /run/v/sub-file, subPath: sub/f.txt}
      command: ${shCommand(`
        cd /run/v
        echo "plain=$(cat plain/hello)"
        echo from-pod > dir-create/made && echo "dir-create=written"
        echo "dir=$(cat dir/top.txt)"
        echo from-pod > file-create && echo "file-create=written"
        echo "file=$(cat file)"
        [ -S sock ] && echo "sock=socket"
        [ -c chr ] && echo x > chr && echo "chr=char device, writable"
        [ -b blk ] && echo "blk=block device"
        out=$(touch dir-ro/probe 2>&1) && echo "dir-ro=writable" || echo "dir-ro=$out"
        echo "dir-ro-read=$(cat dir-ro/top.txt)"
        echo "sub=$(ls sub)"
        echo "sub-file=$(cat sub-file)"
        touch dir/from-pod-rw && echo "dir-rw=writable"
      `)}
`);
        assert.equal(r.code, 0, said(r));
        const v = valuesOf(r, "hp", "c");
        assert.equal(v.get("plain"), "plain-hello");
        assert.equal(v.get("dir-create"), "written");
        assert.equal(readFileSync(join(hp, "new-dir", "made"), "utf8"), "from-pod\n", "DirectoryOrCreate made the host dir");
        assert.equal(v.get("dir"), "top");
        assert.equal(v.get("file-create"), "written");
        assert.equal(readFileSync(join(hp, "new-parent", "new-file"), "utf8"), "from-pod\n", "FileOrCreate made the host file");
        assert.equal(v.get("file"), "a-file");
        assert.equal(v.get("sock"), "socket");
        assert.equal(v.get("chr"), "char device, writable");
        assert.equal(v.get("blk"), "block device");
        assert.match(v.get("dir-ro") ?? "", /Read-only file system/);
        assert.equal(v.get("dir-ro-read"), "top");
        assert.equal(v.get("dir-rw"), "writable", "control: the same volume without readOnly is writable");
        assert.ok(existsSync(join(hp, "dir", "from-pod-rw")));
        assert.ok(!existsSync(join(hp, "dir", "probe")));
        assert.equal(v.get("sub"), "f.txt", "subPath shows only the subdirectory");
        assert.equal(v.get("sub-file"), "in-sub");
        // every use of the host's files is reported, once per volume
        assert.equal(r.stderr.match(/pod\/hp HostPathMounted/g)?.length, 8, r.stderr);
        // hostPaths are the host's: they stay
        assert.ok(existsSync(join(hp, "new-dir")) && existsSync(join(hp, "plain", "hello")));
        assertNothingLeft(env, r.namespaces);
      } finally {
        server.close();
      }
    }));

  test("a failing hostPath check holds the container and emits FailedMount", () =>
    inEnv(async (env) => {
      const hp = join(env.dir, "hp");
      mkdirSync(join(hp, "a-dir"), { recursive: true });
      writeFileSync(join(hp, "a-file"), "");
      mknod(join(hp, "chr"), "c", 1, 3);
      const cases: [string, string, string, string][] = [
        ["not-dir", join(hp, "a-file"), "Directory", "is not a directory"],
        ["missing-dir", join(hp, "nothing"), "Directory", "does not exist"],
        ["not-file", join(hp, "a-dir"), "File", "is not a file"],
        ["missing-file", join(hp, "nothing"), "File", "does not exist"],
        ["not-sock", join(hp, "a-file"), "Socket", "is not a socket"],
        ["not-chr", join(hp, "a-file"), "CharDevice", "is not a character device"],
        ["not-blk", join(hp, "chr"), "BlockDevice", "is not a block device"],
      ];
      const files = cases.map(([name, path, type]) =>
        writeManifest(env, `${name}.yaml`, `
apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  restartPolicy: Never
  volumes:
    # a Memory emptyDir, set up before the failing check, must not be left mounted
    - {name: m, emptyDir: {medium: Memory}}
    - {name: v, hostPath: {path: ${path}, type: ${type}}}
  containers:
    - name: c
      image: host
      command: ["true"]
      volumeMounts: [{name: v, mountPath: /run/v}]
`),
      );
      const r = await runPods(env, files, ["-o", "json", "--timeout", "3s"]);
      assert.equal(r.code, 124, said(r));
      type Item = { metadata: { name: string }; status: { phase: string; message?: string; containerStatuses: { state: { waiting?: { reason: string } } }[] } };
      const items = (JSON.parse(r.stdout) as { items: Item[] }).items;
      for (const [name, path, , message] of cases) {
        const text = `hostPath type check failed: ${path} ${message}`;
        const item = items.find((i) => i.metadata.name === name)!;
        // stopped for good (--timeout) before it could start: Failed, as the kubelet ends a deleted pod
        assert.equal(item.status.phase, "Failed", name);
        assert.equal(item.status.containerStatuses[0]!.state.waiting?.reason, "ContainerCreating", name);
        assert.equal(item.status.message, text, name);
        assert.match(r.stderr, new RegExp(`pod/${name}( container/c)? FailedMount: ${text}\\n`), name);
      }
      assert.doesNotMatch(r.stderr, /Started/, "no container started");
      assert.ok(!existsSync(join(hp, "nothing")), "a failed check creates nothing");
      assertNothingLeft(env, r.namespaces);
    }));
});
