// Validate CRD objects offline against the schemas that @kubernetes-models generates from the
// projects' published API types (KEDA keda.sh/v1alpha1, Prometheus Operator monitoring.coreos.com/v1).
// Input (stdin): a JSON array of {file, doc}. Output: one line per object; exit 1 if any fails.
// Checked: types, enums, patterns, required fields. Not checked: unknown fields (these schemas allow
// them; the API server would prune them), which scripts/check-deploy's own checks partly cover.
// Run by scripts/check-deploy from .cache/check-deploy/npm (where `npm ci` installed the packages).
import { readFileSync } from "node:fs";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const MODELS = {
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

const items = JSON.parse(readFileSync(0, "utf8"));
let failed = 0;
for (const { file, doc } of items) {
  const key = `${doc.apiVersion}/${doc.kind}`;
  const name = `${file}: ${doc.kind}/${doc.metadata?.name}`;
  const Model = MODELS[key];
  if (!Model) {
    console.log(`FAIL ${name}: no offline schema for ${key}`);
    failed++;
    continue;
  }
  try {
    new Model(doc).validate();
    console.log(`ok   ${name} (${key})`);
  } catch (e) {
    console.log(`FAIL ${name}: ${String(e.message).split("\n").join("; ")}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
