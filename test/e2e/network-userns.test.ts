// hostUsers: false on podd's own network, in a network namespace the test makes: the pod's
// network namespace belongs to its user namespace, the CNI plugins (as the host's root) still
// give it its address, and the daemon's probes reach it on a privileged port its root bound.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { destroyEnv, e2eSkip, idmapSkip, importBusybox, networkEnv, waitFor } from "./harness.ts";
import { getPod, putPod, startDaemon, stopDaemon, type Daemon } from "./daemon-helpers.ts";

const skip = e2eSkip() || idmapSkip();

describe("hostUsers: false on a pod network", { skip, timeout: 180_000 }, () => {
  test("on podd's network: the pod's network namespace, its user namespace's, gets its address, and a probe from the daemon reaches it", async () => {
    const env = networkEnv();
    let d: Daemon | undefined;
    try {
      await importBusybox(env);
      d = await startDaemon(env, [], undefined, env.hostNs);
      const web = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "web", namespace: "default" },
        spec: {
          hostUsers: false,
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: "c",
              image: "busybox:local",
              // Port 80 as the pod's root: NET_BIND_SERVICE in the pod's own network namespace.
              command: ["sh", "-c", "mkdir -p /tmp/www && echo ok > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www"],
              readinessProbe: { httpGet: { port: 80 }, periodSeconds: 1 },
            },
          ],
        },
      };
      assert.equal((await putPod(d, web)).status, 201);
      const ready = await waitFor("web ready", async () => ((await getPod(d!, "web"))?.status?.containerStatuses?.[0]?.ready ? await getPod(d!, "web") : undefined), 60_000).catch(async (err: Error) => {
        const events = (await d!.request("GET", "/api/v1/namespaces/default/events")).json.items.map((e: { reason: string; message: string }) => `${e.reason}: ${e.message}`);
        throw new Error(`${err.message}\n${JSON.stringify((await getPod(d!, "web"))?.status)}\n${events.join("\n")}`);
      });
      assert.match(ready.status.podIP, /^10\.87\./);
    } finally {
      await stopDaemon(d, "SIGKILL");
      destroyEnv(env);
    }
  });
});
