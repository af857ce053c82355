// Shows that deploy/validate.mjs catches what it claims to: each case below breaks a copy of
// the manifests in one way, and the validator must report exactly that. The unbroken copy must
// pass, so that every rejection is due to the break.
//   node validate_negative.mjs K8S_DIR    (next to validate.mjs and its node_modules)
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import { validateDirectory } from "./validate.mjs";

// Rewrites document `index` of `file` through `edit`, which changes the object in place.
function editObject(dir, file, index, edit) {
  const target = path.join(dir, file);
  const docs = YAML.parseAllDocuments(readFileSync(target, "utf8")).map((d) => d.toJS());
  edit(docs[index]);
  writeFileSync(target, docs.map((d) => YAML.stringify(d)).join("---\n"));
}
const container = (d) => d.spec.template.spec.containers[0];

const cases = [
  ["misspelt field", "unknown field", (dir) =>
    editObject(dir, "deployment.yaml", 0, (d) => {
      container(d).readinesProbe = container(d).readinessProbe;
      delete container(d).readinessProbe;
    })],
  ["wrong type in the schema", "must be integer", (dir) =>
    editObject(dir, "deployment.yaml", 0, (d) => { container(d).livenessProbe.grpc.port = "grpc"; })],
  ["unknown kind", "no Kubernetes schema for apps/v1 Deploymnet", (dir) =>
    editObject(dir, "deployment.yaml", 0, (d) => { d.kind = "Deploymnet"; })],
  ["duplicate key", "Map keys must be unique", (dir) =>
    appendFileSync(path.join(dir, "pdb.yaml"), "kind: PodDisruptionBudget\n")],
  ["probe on another port", "readinessProbe port 50052 is not a container port", (dir) =>
    editObject(dir, "deployment.yaml", 0, (d) => { container(d).readinessProbe.grpc.port = 50052; })],
  ["Service selecting nothing", "service.yaml#1: selector does not select", (dir) =>
    editObject(dir, "service.yaml", 1, (d) => { d.spec.selector["app.kubernetes.io/name"] = "other"; })],
  ["Service to a missing port", "targetPort http is not a port", (dir) =>
    editObject(dir, "service.yaml", 0, (d) => { d.spec.ports[0].targetPort = "http"; })],
  ["no headless Service", "expected a headless Service", (dir) =>
    editObject(dir, "service.yaml", 0, (d) => { delete d.spec.clusterIP; })],
  ["metrics on an undeclared port", "--metrics_listen port 9091 is not a container port", (dir) =>
    editObject(dir, "deployment.yaml", 0, (d) => {
      container(d).args = container(d).args.map((a) =>
        a.startsWith("--metrics_listen=") ? "--metrics_listen=0.0.0.0:9091" : a);
    })],
  ["scrape annotation on another port", "prometheus.io/port 9091 is not the --metrics_listen port", (dir) =>
    editObject(dir, "deployment.yaml", 0, (d) => {
      d.spec.template.metadata.annotations["prometheus.io/port"] = "9091";
    })],
  ["grace shorter than the drain", "must be below terminationGracePeriodSeconds 20s", (dir) =>
    editObject(dir, "deployment.yaml", 0, (d) => { d.spec.template.spec.terminationGracePeriodSeconds = 20; })],
  ["writable root", "root filesystem must be read-only", (dir) =>
    editObject(dir, "deployment.yaml", 0, (d) => { container(d).securityContext.readOnlyRootFilesystem = false; })],
  ["no memory limit", "resources.limits.memory must be set", (dir) =>
    editObject(dir, "deployment.yaml", 0, (d) => { delete container(d).resources.limits.memory; })],
  ["PDB selecting nothing", "pdb.yaml#0: selector does not select", (dir) =>
    editObject(dir, "pdb.yaml", 0, (d) => { d.spec.selector.matchLabels["app.kubernetes.io/component"] = "x"; })],
  ["HPA scaling something else", "scaleTargetRef does not name the Deployment", (dir) =>
    editObject(dir, "hpa.yaml", 0, (d) => { d.spec.scaleTargetRef.name = "actserve-old"; })],
  ["file outside the kustomization", "extra.yaml: not in kustomization.yaml", (dir) =>
    writeFileSync(path.join(dir, "extra.yaml"), readFileSync(path.join(dir, "pdb.yaml")))],
];

const source = process.argv[2];
let failures = 0;
async function run(name, expected, mutate) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "actserve-k8s-"));
  try {
    cpSync(source, dir, { recursive: true });
    mutate?.(dir);
    const { errors } = await validateDirectory(dir);
    const ok = expected === null ? errors.length === 0 : errors.some((e) => e.includes(expected));
    console.log(`${ok ? "ok  " : "FAIL"} ${name}${ok ? "" : `: expected ${expected ?? "no error"}, got ${JSON.stringify(errors)}`}`);
    if (!ok) failures++;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await run("unchanged manifests pass", null, null);
for (const [name, expected, mutate] of cases) await run(name, expected, mutate);
process.exit(failures === 0 ? 0 : 1);
