// The Helm chart without a helm binary (none is packaged for these machines): Chart.yaml and
// values.yaml parse, the values satisfy values.schema.json (and bad values do not), every
// .Values path a template reads exists, and the chart makes the same kinds as the Kustomize base.
// Not checked: rendering the templates (docs/deploy.md).
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import * as assert from "node:assert/strict";
import Ajv from "ajv";
import yaml from "js-yaml";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const CHART = path.join(ROOT, "helm/liger");
const read = (...parts) => fs.readFileSync(path.join(...parts), "utf8");
const templates = fs.readdirSync(path.join(CHART, "templates")).filter((f) => f.endsWith(".yaml"));

test("Chart.yaml describes a v2 application chart", () => {
  const chart = yaml.load(read(CHART, "Chart.yaml"));
  assert.equal(chart.apiVersion, "v2");
  assert.equal(chart.name, "liger");
  assert.match(chart.version, /^\d+\.\d+\.\d+$/);
});

test("values.yaml satisfies values.schema.json, and wrong values do not", () => {
  const validate = new Ajv({ allErrors: true }).compile(JSON.parse(read(CHART, "values.schema.json")));
  const values = yaml.load(read(CHART, "values.yaml"));
  assert.ok(validate(values), JSON.stringify(validate.errors));
  for (const bad of [{ device: "tpu" }, { dtype: "int8" }, { replicaCount: 0 }, { maxBatchSize: "64" },
    { service: { grpcPort: 70000 } }, { typo: true }]) {
    assert.ok(!validate({ ...values, ...bad }), `accepted ${JSON.stringify(bad)}`);
  }
});

test("every .Values path the templates read exists in values.yaml", () => {
  const values = yaml.load(read(CHART, "values.yaml"));
  for (const file of templates) {
    for (const [, dotted] of read(CHART, "templates", file).matchAll(/\.Values\.([A-Za-z0-9_.]+)/g)) {
      let node = values;
      for (const key of dotted.split(".")) {
        assert.ok(node && Object.prototype.hasOwnProperty.call(node, key), `${file}: .Values.${dotted}`);
        node = node[key];
      }
    }
  }
});

test("the chart makes the kinds of the Kustomize base", () => {
  const base = yaml.load(read(ROOT, "deploy/base/kustomization.yaml")).resources
    .map((f) => yaml.load(read(ROOT, "deploy/base", f)).kind).sort();
  const chart = templates.map((f) => /^kind: (\w+)/m.exec(read(CHART, "templates", f))[1]).sort();
  assert.deepEqual(chart, base);
});
