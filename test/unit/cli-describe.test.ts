// podd describe pod against the fake API: the whole page, aligned as kubectl's tabwriter does.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
process.env.TZ = "UTC";
import { describeMain } from "../../supervisor/cli/describe.ts";
import { capture, FakeApi, makeEvent, makePod } from "./fake-api.ts";

let api: FakeApi;
before(async () => {
  api = await FakeApi.start();
  const pod = makePod("web", { containers: ["nginx"], labels: { app: "web", tier: "front" } });
  pod.metadata.annotations = { note: "hello" };
  pod.spec.initContainers = [{ name: "setup", image: "host", command: ["sh", "-c", "true"] }];
  pod.spec.containers[0] = {
    name: "nginx",
    image: "host",
    command: ["/bin/server"],
    args: ["--port", "80"],
    ports: [{ containerPort: 80, protocol: "TCP" }],
    resources: { limits: { cpu: "500m", memory: "128Mi" }, requests: { cpu: "250m" } },
    env: [{ name: "MODE", value: "prod" }, { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
    volumeMounts: [{ name: "data", mountPath: "/data" }, { name: "conf", mountPath: "/etc/conf", readOnly: true }],
  };
  pod.spec.volumes = [{ name: "data", emptyDir: {} }, { name: "conf", hostPath: { path: "/srv/conf", type: "Directory" } }];
  pod.status.podIP = "10.88.0.4";
  pod.status.podIPs = [{ ip: "10.88.0.4" }];
  pod.status.qosClass = "Burstable";
  pod.status.initContainerStatuses = [
    { name: "setup", state: { terminated: { exitCode: 0, reason: "Completed", startedAt: "2026-11-22T05:00:00Z", finishedAt: "2026-11-22T05:00:01Z" } }, lastState: {}, ready: true, restartCount: 0, image: "host", imageID: "", containerID: "podd://aaa", started: false },
  ];
  const cs = pod.status.containerStatuses[0]!;
  cs.containerID = "podd://bbb";
  cs.restartCount = 1;
  cs.lastState = { terminated: { exitCode: 137, reason: "Error", startedAt: "2026-11-22T05:00:02Z", finishedAt: "2026-11-22T05:10:00Z" } };
  api.add(pod);
  api.events = [
    makeEvent("web", "Started", "Started container nginx", { agoMs: 20 * 60_000, container: "nginx" }),
    makeEvent("web", "BackOff", "Back-off restarting failed container nginx", { type: "Warning", agoMs: 60_000, firstAgoMs: 10 * 60_000, count: 4 }),
    makeEvent("other", "Started", "not about web"),
  ];
});
after(() => api.close());

test("describe pod: kubectl's page, events filtered to the pod and oldest first", async () => {
  const r = await capture((io) => describeMain(["pod", "web", "--socket", api.socket], io));
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.equal(
    r.stdout,
    `Name:         web
Namespace:    default
Node:         <none>
Start Time:   Sun, 22 Nov 2026 05:00:00 +0000
Labels:       app=web
              tier=front
Annotations:  note: hello
Status:       Running
IP:           10.88.0.4
IPs:
  IP:  10.88.0.4
Init Containers:
  setup:
    Container ID:  podd://aaa
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
    Container ID:  podd://bbb
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
      Started:      Sun, 22 Nov 2026 05:00:00 +0000
    Last State:     Terminated
      Reason:       Error
      Exit Code:    137
      Started:      Sun, 22 Nov 2026 05:00:02 +0000
      Finished:     Sun, 22 Nov 2026 05:10:00 +0000
    Ready:          True
    Restart Count:  1
    Limits:
      cpu:     500m
      memory:  128Mi
    Requests:
      cpu:  250m
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
  Type     Reason   Age                From  Message
  ----     ------   ----               ----  -------
  Normal   Started  20m                podd  Started container nginx
  Warning  BackOff  60s (x4 over 10m)  podd  Back-off restarting failed container nginx
`,
  );
  assert.deepEqual(api.paths().slice(-2), ["GET /api/v1/namespaces/default/pods/web", "GET /api/v1/namespaces/default/events"]);
});

test("describe pod of a missing pod: NotFound, exit 1", async () => {
  const r = await capture((io) => describeMain(["pod", "nope", "--socket", api.socket], io));
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error from server (NotFound): pods "nope" not found\n');
});
