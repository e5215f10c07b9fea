// Every object the overlays and the fine-tuning Job (deploy/training) render, validated against the
// Kubernetes (and the Prometheus Operator and Gateway API) schemas; the Envoy Gateway policy, for
// which no published schema package exists, is checked by hand. kubectl renders; no cluster is
// needed.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
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
  "batch/v1/Job": ["kubernetes-models/batch/v1/Job", "Job"],
  "policy/v1/PodDisruptionBudget": ["kubernetes-models/policy/v1/PodDisruptionBudget", "PodDisruptionBudget"],
  "autoscaling/v2/HorizontalPodAutoscaler": ["kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler", "HorizontalPodAutoscaler"],
  "monitoring.coreos.com/v1/ServiceMonitor": ["@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor", "ServiceMonitor"],
  "gateway.networking.k8s.io/v1/Gateway": ["@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway", "Gateway"],
  "gateway.networking.k8s.io/v1/GRPCRoute": ["@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/GRPCRoute", "GRPCRoute"],
  "gateway.networking.k8s.io/v1/HTTPRoute": ["@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute", "HTTPRoute"],
};

// `dir` relative to deploy/, e.g. "overlays/cpu".
function render(dir) {
  const out = execFileSync("kubectl", ["kustomize", path.join(DEPLOY, dir)], { encoding: "utf8" });
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
    const docs = render(path.join("overlays", overlay));
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

// deploy/training: the Indexed Job of data-parallel `liger finetune` ranks, its headless Service,
// ConfigMap and ReadWriteMany volume. Beyond the schemas, what the rendezvous needs: ranks from
// the completion index, WORLD_SIZE equal to the number of pods, MASTER_ADDR naming pod 0 through
// the Service that is the pods' subdomain, one GPU per rank, and a failed rank failing the run.
function trainingObjects() {
  const docs = render("training");
  const one = (kind) => {
    const found = docs.filter((d) => d.kind === kind);
    assert.equal(found.length, 1, `deploy/training makes one ${kind}`);
    return found[0];
  };
  const job = one("Job");
  return { docs, job, service: one("Service"), pvc: one("PersistentVolumeClaim"),
    configMap: one("ConfigMap"), pod: job.spec.template.spec, container: job.spec.template.spec.containers[0] };
}

const envOf = (container) => Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));

test("training renders objects that validate", async () => {
  const { docs } = trainingObjects();
  assert.deepEqual(docs.map((d) => d.kind).sort(), ["ConfigMap", "Job", "PersistentVolumeClaim", "Service"]);
  for (const doc of docs) await validate(doc);
  for (const doc of docs) {
    assert.equal(doc.metadata.labels["app.kubernetes.io/name"], "liger");
    assert.equal(doc.metadata.labels["app.kubernetes.io/component"], "finetune");
  }
});

test("training is an Indexed Job of WORLD_SIZE ranks with one GPU each", () => {
  const { job, pod, container } = trainingObjects();
  const env = envOf(container);
  assert.equal(job.spec.completionMode, "Indexed");
  const worldSize = Number(env.WORLD_SIZE);
  assert.ok(Number.isInteger(worldSize) && worldSize > 1, `WORLD_SIZE=${env.WORLD_SIZE}`);
  assert.equal(job.spec.completions, worldSize, "completions == WORLD_SIZE");
  assert.equal(job.spec.parallelism, worldSize, "parallelism == WORLD_SIZE: every rank runs at once");
  // The rank is the completion index: a fixed RANK would give every pod the same one.
  assert.ok(!("RANK" in env), "RANK must be left to JOB_COMPLETION_INDEX");
  assert.equal(env.LOCAL_RANK ?? "0", "0", "one GPU per pod is cuda:0");
  assert.equal(pod.containers.length, 1);
  assert.equal(container.resources.limits["nvidia.com/gpu"], 1);
  assert.ok(container.args.includes("--device=cuda"), "ranks train on their GPU");
  assert.match(container.image, /^liger:cuda$/);
  assert.ok(pod.tolerations.some((t) => t.key === "nvidia.com/gpu"));
  // As the serving Deployment: non-root, read-only root file system, no capabilities.
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(container.securityContext.capabilities.drop, ["ALL"]);
});

test("training's MASTER_ADDR is pod 0 through the headless Service that is the pods' subdomain", () => {
  const { job, service, pod, container } = trainingObjects();
  const env = envOf(container);
  assert.equal(service.spec.clusterIP, "None", "headless: a DNS record per pod");
  assert.equal(service.spec.publishNotReadyAddresses, true, "ranks resolve rank 0 before it is ready");
  assert.equal(pod.subdomain, service.metadata.name);
  assert.equal(pod.hostname, undefined, "Indexed mode names pod i <job>-<i>");
  assert.equal(env.MASTER_ADDR, `${job.metadata.name}-0.${service.metadata.name}`);
  const port = Number(env.MASTER_PORT ?? 29500);
  assert.ok(service.spec.ports.some((p) => p.port === port && (p.targetPort ?? p.port) === port));
  assert.ok(container.ports.some((p) => p.containerPort === port));
  const labels = job.spec.template.metadata.labels;
  assert.ok(Object.keys(service.spec.selector).length > 0);
  for (const [key, value] of Object.entries(service.spec.selector)) {
    assert.equal(labels[key], value, `the Service selects the Job's pods (${key})`);
  }
  assert.ok(Number(env.LIGER_DIST_TIMEOUT_SECONDS ?? 600) >= 1);
});

test("training fails as a whole when a rank fails, and every rank shares one ReadWriteMany volume", () => {
  const { job, pod, pvc, configMap, container } = trainingObjects();
  assert.equal(pod.restartPolicy, "Never");
  assert.equal(job.spec.backoffLimit, 0);
  const rules = job.spec.podFailurePolicy.rules;
  assert.ok(rules.some((r) => r.action === "FailJob" && r.onExitCodes?.operator === "NotIn" &&
    r.onExitCodes.containerName === container.name && r.onExitCodes.values.join() === "0"),
  "a failed rank fails the Job");
  assert.ok(rules.some((r) => r.action === "FailJob" && r.onPodConditions?.some((c) => c.type === "DisruptionTarget")));
  assert.ok(rules.every((r) => r.action === "FailJob"), "no failure is retried inside the Job");
  assert.deepEqual(pvc.spec.accessModes, ["ReadWriteMany"]);
  const volume = pod.volumes.find((v) => v.persistentVolumeClaim?.claimName === pvc.metadata.name);
  assert.ok(volume, "the Job mounts the PVC");
  const mount = container.volumeMounts.find((m) => m.name === volume.name);
  assert.ok(mount && !mount.readOnly);
  assert.ok(container.envFrom.some((e) => e.configMapRef?.name === configMap.metadata.name));
  for (const key of ["LIGER_FINETUNE_MODEL", "LIGER_FINETUNE_DATA", "LIGER_FINETUNE_OUTPUT"]) {
    assert.ok(configMap.data[key].startsWith(`${mount.mountPath}/`), `${key} lies on the shared volume`);
  }
});

// The name of the checkpoint file and the resume directory, as core/train writes them.
function checkpointLayout() {
  const root = path.resolve(DEPLOY, "..");
  const file = /kCheckpointFileName\[\] = "([^"]+)"/.exec(
    fs.readFileSync(path.join(root, "core/train/training_checkpoint.cc"), "utf8"));
  const suffix = /std::string FineTuneResumeDir\([^)]*\)\s*\{[^}]*?\+\s*"([^"]+)"/.exec(
    fs.readFileSync(path.join(root, "core/train/fine_tune.cc"), "utf8"));
  assert.ok(file && suffix, "core/train names the checkpoint file and the resume directory");
  return { file: file[1], suffix: suffix[1] };
}

test("training's command passes --resume exactly when the output's resume directory holds a checkpoint", () => {
  const { container } = trainingObjects();
  assert.equal(container.command[0], "/bin/sh");
  const { file, suffix } = checkpointLayout();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "liger-training-command-"));
  try {
    // A stand-in for the image's liger: records its arguments.
    const bin = path.join(scratch, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, "liger"), '#!/bin/sh\nprintf "%s\\n" "$@" > "$LIGER_STUB_LOG"\n', { mode: 0o755 });
    const log = path.join(scratch, "liger.args");
    const output = path.join(scratch, "runs", "tuned");
    const run = (configuredOutput = output) => {
      fs.rmSync(log, { force: true });
      const stdout = execFileSync(container.command[0], [...container.command.slice(1), ...container.args], {
        encoding: "utf8",
        env: { PATH: `${bin}:/usr/bin:/bin`, LIGER_STUB_LOG: log, LIGER_FINETUNE_MODEL: "/m",
          LIGER_FINETUNE_DATA: "/d.jsonl", LIGER_FINETUNE_OUTPUT: configuredOutput },
      });
      return { stdout, args: fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : null };
    };

    // A first attempt: no checkpoint, the output's parent made.
    let { args } = run();
    assert.deepEqual(args, ["finetune", "--model=/m", "--data=/d.jsonl", `--output=${output}`, ...container.args]);
    assert.ok(fs.statSync(path.dirname(output)).isDirectory());
    // A crash before the first checkpoint leaves an empty resume directory: still a fresh start.
    fs.mkdirSync(output + suffix);
    assert.ok(!run().args.includes("--resume"));
    // A checkpoint: every rank resumes from it (a trailing slash in the path changes nothing).
    fs.writeFileSync(path.join(output + suffix, file), "");
    ({ args } = run(`${output}/`));
    assert.deepEqual(args,
      ["finetune", "--model=/m", "--data=/d.jsonl", `--output=${output}`, ...container.args, "--resume"]);
    // A published output: an earlier attempt finished; the rank exits 0 without training.
    fs.mkdirSync(output);
    const finished = run();
    assert.equal(finished.args, null);
    assert.match(finished.stdout, /nothing to do/);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
});
