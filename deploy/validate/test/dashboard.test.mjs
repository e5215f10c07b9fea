// Every metric the Grafana dashboard queries is one a live `liger serve` exports on /metrics.
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import * as assert from "node:assert/strict";

import { startLigerServe } from "../../../tests/support/liger_serve.mjs";

const DEPLOY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

// Metric names in a PromQL expression: liger_* identifiers, histogram series reduced to their family.
function metricNames(expr) {
  return [...expr.matchAll(/\bliger_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ""));
}

test("the dashboard queries only metrics the server exports", async () => {
  const dashboard = JSON.parse(fs.readFileSync(path.join(DEPLOY, "grafana/liger-dashboard.json"), "utf8"));
  const queried = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricNames(t.expr))));
  assert.ok(queried.size >= 10, `only ${queried.size} metrics queried`);
  const { server, address } = await startLigerServe(["--metrics-port", "0"], "metrics on ");
  try {
    const text = await (await fetch(`http://${address}/metrics`)).text();
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const missing = [...queried].filter((name) => !exported.has(name));
    assert.deepEqual(missing, [], "dashboard metrics the server does not export");
  } finally {
    server.kill("SIGTERM");
  }
});
