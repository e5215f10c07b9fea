// Every object the overlays render, validated against the Kubernetes (and the Prometheus Operator
// and Gateway API) schemas; the Envoy Gateway policy, for which no published schema package
// exists, is checked by hand. kubectl renders; no cluster is needed.
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import * as assert from "node:assert/strict";
import yaml from "js-yaml";

const DEPLOY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

// apiVersion/kind -> module path and export of its model class.
const MODELS = {
  "v1/ConfigMap": ["kubernetes-models/v1/ConfigMap", "ConfigMap"],
  "v1/Service": ["kubernetes-models/v1/Service", "Service"],
  "v1/PersistentVolumeClaim": ["kubernetes-models/v1/PersistentVolumeClaim", "PersistentVolumeClaim"],
  "apps/v1/Deployment": ["kubernetes-models/apps/v1/Deployment", "Deployment"],
  "policy/v1/PodDisruptionBudget": ["kubernetes-models/policy/v1/PodDisruptionBudget", "PodDisruptionBudget"],
  "autoscaling/v2/HorizontalPodAutoscaler": ["kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler", "HorizontalPodAutoscaler"],
  "monitoring.coreos.com/v1/ServiceMonitor": ["@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor", "ServiceMonitor"],
  "gateway.networking.k8s.io/v1/Gateway": ["@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway", "Gateway"],
  "gateway.networking.k8s.io/v1/GRPCRoute": ["@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/GRPCRoute", "GRPCRoute"],
  "gateway.networking.k8s.io/v1/HTTPRoute": ["@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute", "HTTPRoute"],
};

function render(overlay) {
  const out = execFileSync("kubectl", ["kustomize", path.join(DEPLOY, "overlays", overlay)], { encoding: "utf8" });
  return yaml.loadAll(out).filter(Boolean);
}

async function validate(doc) {
  const key = `${doc.apiVersion}/${doc.kind}`;
  if (key === "gateway.envoyproxy.io/v1alpha1/BackendTrafficPolicy") {
    assert.equal(doc.spec.loadBalancer.type, "ConsistentHash");
    assert.equal(doc.spec.loadBalancer.consistentHash.header.name, "x-liger-session");
    return;
  }
  assert.ok(MODELS[key], `no schema for ${key}`);
  const [module, name] = MODELS[key];
  const Model = (await import(module))[name];
  new Model(doc).validate();  // throws with the schema violation
}

for (const overlay of ["cpu", "gpu", "gateway"]) {
  test(`overlay ${overlay} renders objects that validate`, async () => {
    const docs = render(overlay);
    const kinds = docs.map((d) => d.kind).sort();
    for (const kind of ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "PersistentVolumeClaim",
      "PodDisruptionBudget", "Service", "ServiceMonitor"]) {
      assert.ok(kinds.includes(kind), `${overlay} lacks a ${kind}`);
    }
    for (const doc of docs) await validate(doc);
    const deployment = docs.find((d) => d.kind === "Deployment");
    const container = deployment.spec.template.spec.containers[0];
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      assert.equal(container[probe].grpc.port, 50051, `${probe} uses gRPC health`);
    }
    const service = docs.find((d) => d.kind === "Service");
    assert.deepEqual(service.spec.ports.map((p) => p.port).sort(), [50051, 8080, 9090].sort());
    if (overlay === "gpu") assert.equal(container.resources.limits["nvidia.com/gpu"], 1);
  });
}
