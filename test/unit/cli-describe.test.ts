// podd describe pod against the daemon over the fake runtime: the whole page of a pod whose
// init container completed and whose app container was restarted once, aligned as kubectl's
// tabwriter does, with the events the daemon recorded of it.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
process.env.TZ = "UTC";
import { describeMain } from "../../supervisor/cli/describe.ts";
import { capture, NOW } from "./cli-capture.ts";
import { FakeDaemon, podYaml } from "./fake-daemon.ts";

const MIN = 60_000;
let api: FakeDaemon;
before(async () => {
  // Applied 30 minutes ago: setup runs for a second, nginx for ten minutes, is killed (137) and
  // restarted at once; another pod's events must not show.
  api = await FakeDaemon.start(NOW - 30 * MIN);
  api.rt.scripts.set("setup", { runsForMs: 1000 });
  api.rt.scripts.set("nginx", { runsForMs: 10 * MIN - 1000, exitCode: 137 });
  await api.apply(`apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web, tier: front}
  annotations: {note: hello}
spec:
  initContainers:
  - {name: setup, image: host, command: [sh, -c, "true"]}
  containers:
  - name: nginx
    image: host
    command: [/bin/server]
    args: [--port, "80"]
    ports: [{containerPort: 80, protocol: TCP}]
    resources: {limits: {cpu: 500m, memory: 128Mi}, requests: {cpu: 250m}}
    env: [{name: MODE, value: prod}, {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
    volumeMounts: [{name: data, mountPath: /data}, {name: conf, mountPath: /etc/conf, readOnly: true}]
  volumes: [{name: data, emptyDir: {}}, {name: conf, hostPath: {path: /srv/conf, type: Directory}}]
---
${podYaml("other")}`);
  await api.advance(1000);
  api.rt.scripts.delete("nginx");
  await api.advance(30 * MIN - 1000);
});
after(() => api.close());

/** A container's ID as the daemon reports it (a random one per run). */
function id(name: string): string {
  const p = api.daemon.get("default", "web")!;
  const s = [...(p.status.initContainerStatuses ?? []), ...p.status.containerStatuses].find((c) => c.name === name)!;
  return s.containerID!.slice("podd://".length);
}

test("describe pod: kubectl's page, events filtered to the pod and oldest first", async () => {
  const r = await capture((io) => describeMain(["pod", "web", "--socket", api.socket], io));
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.equal(
    r.stdout,
    `Name:         web
Namespace:    default
Node:         fake-node/192.0.2.10
Start Time:   Sun, 22 Nov 2026 05:00:00 +0000
Labels:       app=web
              tier=front
Annotations:  note: hello
Status:       Running
IP:           10.87.0.2
IPs:
  IP:  10.87.0.2
Init Containers:
  setup:
    Container ID:  podd://${id("setup")}
    Image:         host
    Image ID:      
    Port:          <none>
    Host Port:     <none>
    Command:
      sh
      -c
      true
    State:          Terminated
      Reason:       Completed
      Exit Code:    0
      Started:      Sun, 22 Nov 2026 05:00:00 +0000
      Finished:     Sun, 22 Nov 2026 05:00:01 +0000
    Ready:          True
    Restart Count:  0
    Environment:    <none>
    Mounts:         <none>
Containers:
  nginx:
    Container ID:  podd://${id("nginx")}
    Image:         host
    Image ID:      
    Port:          80/TCP
    Host Port:     0/TCP
    Command:
      /bin/server
    Args:
      --port
      80
    State:          Running
      Started:      Sun, 22 Nov 2026 05:10:00 +0000
    Last State:     Terminated
      Reason:       Error
      Exit Code:    137
      Started:      Sun, 22 Nov 2026 05:00:01 +0000
      Finished:     Sun, 22 Nov 2026 05:10:00 +0000
    Ready:          True
    Restart Count:  1
    Limits:
      cpu:     500m
      memory:  128Mi
    Requests:
      cpu:     250m
      memory:  128Mi
    Environment:
      MODE:  prod
      POD:   web (v1:metadata.name)
    Mounts:
      /data from data (rw)
      /etc/conf from conf (ro)
Conditions:
  Type                        Status
  PodReadyToStartContainers   True 
  Initialized                 True 
  Ready                       True 
  ContainersReady             True 
  PodScheduled                True 
Volumes:
  data:
    Type:       EmptyDir (a temporary directory that shares a pod's lifetime)
    Medium:     
    SizeLimit:  <unset>
  conf:
    Type:          HostPath (bare host directory volume)
    Path:          /srv/conf
    HostPathType:  Directory
QoS Class:         Burstable
Node-Selectors:    <none>
Tolerations:       <none>
Events:
  Type     Reason     Age                From  Message
  ----     ------     ----               ----  -------
  Normal   Created    30m                podd  Created container setup
  Normal   Started    30m                podd  Started container setup
  Normal   Completed  29m                podd  Container setup exited with code 0
  Warning  Error      20m                podd  Container nginx exited with code 137
  Normal   Created    20m (x2 over 29m)  podd  Created container nginx
  Normal   Started    20m (x2 over 29m)  podd  Started container nginx
`,
  );
  assert.deepEqual(api.paths().slice(-2), ["GET /api/v1/namespaces/default/pods/web", "GET /api/v1/namespaces/default/events"]);
});

test("describe pod of a missing pod: NotFound, exit 1", async () => {
  const r = await capture((io) => describeMain(["pod", "nope", "--socket", api.socket], io));
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error from server (NotFound): pods "nope" not found\n');
});
