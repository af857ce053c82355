// Validates the Kubernetes manifests of a kustomization directory:
//   node validate.mjs DIR        (npm ci first; npm test runs it on k8s/)
//
// 1. YAML: parse errors and duplicate keys.
// 2. Schema: every object against the Kubernetes API schema of its apiVersion and kind
//    (kubernetes-models), plus unknown fields, which those schemas let through but the API
//    server rejects (kubectl's default --validate=strict): a misspelt `readinesProbe` would
//    otherwise vanish silently.
// 3. Consistency between the objects, which no schema sees: selectors that select the pods,
//    probes and Services that name the container's port, the grace periods adding up.
// Exits 1 and prints one line per problem when anything is wrong.
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import YAML from "yaml";

const require = createRequire(import.meta.url);

// ------------------------------------------------------------------------------- loading --

export function loadDirectory(dir) {
  const errors = [];
  const objects = [];
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  for (const file of files) {
    const docs = YAML.parseAllDocuments(readFileSync(path.join(dir, file), "utf8"), {
      uniqueKeys: true,
      prettyErrors: true,
    });
    docs.forEach((doc, index) => {
      for (const e of doc.errors) errors.push(`${file}: ${e.message.split("\n")[0]}`);
      if (doc.errors.length === 0 && doc.contents !== null) {
        objects.push({ source: `${file}#${index}`, file, object: doc.toJS() });
      }
    });
  }
  return { files, objects, errors };
}

// ---------------------------------------------------------------------------- schemas --

// kubernetes-models/<group>/<version>/<Kind>; the core group's apiVersion is just "v1".
function modelModule(apiVersion, kind) {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

async function schemaErrors(object) {
  const { apiVersion, kind } = object;
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    return ["no apiVersion and kind"];
  }
  let model;
  try {
    model = (await import(modelModule(apiVersion, kind)))[kind];
  } catch {
    return [`no Kubernetes schema for ${apiVersion} ${kind}`];
  }
  const errors = [];
  try {
    new model(object).validate();
  } catch (e) {
    errors.push(e.message);
  }
  const declarations = require.resolve(modelModule(apiVersion, kind)).replace(/\.[cm]?js$/, ".d.ts");
  unknownFields(object, declarations, "", errors);
  return errors;
}

// The properties of each model come from its TypeScript declarations, which kubernetes-models
// generates from the same OpenAPI schemas as its validators:
//   import { IIoK8sApiCoreV1Probe } from "./Probe";
//   export interface IContainer { "livenessProbe"?: IIoK8sApiCoreV1Probe; ... }
// A property whose type is not an imported model (scalars, IntOrString, Quantity, maps) is a
// leaf and is not looked into.
const declarationCache = new Map();

function readDeclaration(file) {
  if (declarationCache.has(file)) return declarationCache.get(file);
  const text = readFileSync(file, "utf8");
  const imports = new Map();
  for (const m of text.matchAll(/import \{ (\w+) \} from "([^"]+)";/g)) imports.set(m[1], m[2]);
  const body = text.match(/export interface \w+(?: extends [\w, ]+)? \{([\s\S]*?)\n\}/);
  if (!body) throw new Error(`no interface in ${file}`);
  const properties = new Map();
  // Maps ("labels"?: {\n [key: string]: string;\n };) open a block: leaves too.
  for (const m of body[1].matchAll(/^ {4}"([^"]+)"\??: (.+?);?$/gm)) {
    const [, name, type] = m;
    const array = type.match(/^Array<(\w+)>$/);
    const typeName = array ? array[1] : type;
    let target = null;
    if (imports.has(typeName)) {
      const from = imports.get(typeName);
      const fromFile = from.startsWith(".")
        ? path.resolve(path.dirname(file), `${from}.d.ts`)
        : createRequire(file).resolve(from).replace(/\.[cm]?js$/, ".d.ts");
      // Type aliases (IntOrString, Quantity, Time) have no interface: leaves.
      if (/export interface /.test(readFileSync(fromFile, "utf8"))) target = fromFile;
    }
    properties.set(name, { array: Boolean(array), target });
  }
  const declaration = { properties };
  declarationCache.set(file, declaration);
  return declaration;
}

function unknownFields(value, file, where, errors) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return;
  const { properties } = readDeclaration(file);
  for (const [key, child] of Object.entries(value)) {
    const property = properties.get(key);
    if (!property) {
      errors.push(`${where}/${key}: unknown field`);
      continue;
    }
    if (!property.target) continue;
    const items = property.array && Array.isArray(child) ? child : [child];
    items.forEach((item, i) =>
      unknownFields(item, property.target, property.array ? `${where}/${key}/${i}` : `${where}/${key}`, errors));
  }
}

// ------------------------------------------------------------------------ consistency --

function selects(matchLabels, labels) {
  return Object.entries(matchLabels ?? {}).every(([k, v]) => labels?.[k] === v);
}

function durationSeconds(text) {
  const m = /^(\d+)s$/.exec(text ?? "");
  return m ? Number(m[1]) : null;
}

// Every check returns problems as strings; `manifests` are the loaded objects.
export function consistencyErrors(manifests) {
  const errors = [];
  const of = (kind) => manifests.filter(({ object }) => object.kind === kind);
  const deployments = of("Deployment");
  if (deployments.length !== 1) return [`expected one Deployment, found ${deployments.length}`];
  const { object: deployment, source: deploymentSource } = deployments[0];
  const podSpec = deployment.spec.template.spec;
  const podLabels = deployment.spec.template.metadata?.labels ?? {};
  const problem = (source, text) => errors.push(`${source}: ${text}`);

  if (!selects(deployment.spec.selector.matchLabels, podLabels) ||
      Object.keys(deployment.spec.selector.matchLabels ?? {}).length === 0) {
    problem(deploymentSource, "selector does not select the pod template's labels");
  }
  if (deployment.spec.replicas !== 3) problem(deploymentSource, "replicas must be 3");

  const pod = podSpec.securityContext ?? {};
  if (pod.runAsNonRoot !== true) problem(deploymentSource, "pod must set runAsNonRoot");
  const ports = new Map();
  for (const container of podSpec.containers) {
    const at = `${deploymentSource} container ${container.name}`;
    for (const p of container.ports ?? []) ports.set(p.name, p.containerPort);
    const containerPorts = (container.ports ?? []).map((p) => p.containerPort);
    for (const kind of ["readinessProbe", "livenessProbe"]) {
      const port = container[kind]?.grpc?.port;
      if (port === undefined) problem(at, `${kind} must be a gRPC probe`);
      else if (!containerPorts.includes(port)) problem(at, `${kind} port ${port} is not a container port`);
    }
    for (const bound of ["requests", "limits"]) {
      for (const resource of ["cpu", "memory"]) {
        if (container.resources?.[bound]?.[resource] === undefined) {
          problem(at, `resources.${bound}.${resource} must be set`);
        }
      }
    }
    const security = container.securityContext ?? {};
    if (security.readOnlyRootFilesystem !== true) problem(at, "root filesystem must be read-only");
    if (security.allowPrivilegeEscalation !== false) problem(at, "must forbid privilege escalation");
    if (!(security.capabilities?.drop ?? []).includes("ALL")) problem(at, "must drop ALL capabilities");

    // Prometheus finds the metrics by the pod's prometheus.io/port annotation: it must be the
    // port the server serves them on, and a declared container port.
    const metricsArg = (container.args ?? []).find((a) => a.startsWith("--metrics_listen="));
    if (metricsArg !== undefined) {
      const metricsPort = Number(metricsArg.slice(metricsArg.lastIndexOf(":") + 1));
      if (!containerPorts.includes(metricsPort)) {
        problem(at, `--metrics_listen port ${metricsPort} is not a container port`);
      }
      const annotated = deployment.spec.template.metadata?.annotations?.["prometheus.io/port"];
      if (annotated !== undefined && Number(annotated) !== metricsPort) {
        problem(at, `prometheus.io/port ${annotated} is not the --metrics_listen port ${metricsPort}`);
      }
    }

    // The kubelet sends SIGKILL terminationGracePeriodSeconds after it starts stopping the pod,
    // preStop included; the server must have finished draining by then.
    const graceArg = (container.args ?? []).find((a) => a.startsWith("--shutdown_grace="));
    const serverGrace = durationSeconds(graceArg?.slice("--shutdown_grace=".length));
    if (serverGrace === null) {
      problem(at, "args must set --shutdown_grace=<N>s");
    } else {
      const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
      const podGrace = podSpec.terminationGracePeriodSeconds ?? 30;
      if (preStop + serverGrace >= podGrace) {
        problem(at, `preStop ${preStop}s + --shutdown_grace ${serverGrace}s must be below ` +
                    `terminationGracePeriodSeconds ${podGrace}s`);
      }
    }
  }

  const services = of("Service");
  if (!services.some(({ object }) => object.spec.clusterIP === "None")) {
    errors.push("expected a headless Service (clusterIP: None) for client-side balancing");
  }
  if (!services.some(({ object }) => object.spec.clusterIP !== "None")) {
    errors.push("expected a Service with a cluster IP");
  }
  for (const { object, source } of services) {
    if (!selects(object.spec.selector, podLabels) || Object.keys(object.spec.selector ?? {}).length === 0) {
      problem(source, "selector does not select the Deployment's pods");
    }
    for (const p of object.spec.ports ?? []) {
      const target = p.targetPort ?? p.port;
      const known = typeof target === "string" ? ports.has(target) : [...ports.values()].includes(target);
      if (!known) problem(source, `targetPort ${target} is not a port of the pods`);
    }
  }

  for (const { object, source } of of("PodDisruptionBudget")) {
    if (!selects(object.spec.selector?.matchLabels, podLabels)) {
      problem(source, "selector does not select the Deployment's pods");
    }
  }
  if (of("PodDisruptionBudget").length !== 1) errors.push("expected one PodDisruptionBudget");

  const hpas = of("HorizontalPodAutoscaler");
  if (hpas.length !== 1) errors.push("expected one HorizontalPodAutoscaler");
  for (const { object, source } of hpas) {
    const ref = object.spec.scaleTargetRef;
    if (ref.kind !== "Deployment" || ref.name !== deployment.metadata.name || ref.apiVersion !== deployment.apiVersion) {
      problem(source, "scaleTargetRef does not name the Deployment");
    }
    if ((object.spec.minReplicas ?? 1) < 2) problem(source, "minReplicas below 2 defeats the PodDisruptionBudget");
  }
  return errors;
}

// Every manifest file listed in kustomization.yaml, and nothing listed that is missing.
function kustomizationErrors(files, manifests) {
  const kustomization = manifests.find(({ object }) => object.kind === "Kustomization");
  if (!kustomization) return ["no kustomization.yaml"];
  const listed = kustomization.object.resources ?? [];
  const errors = [];
  for (const file of files) {
    if (file !== kustomization.file && !listed.includes(file)) errors.push(`${file}: not in kustomization.yaml resources`);
  }
  for (const file of listed) {
    if (!files.includes(file)) errors.push(`kustomization.yaml: resource ${file} does not exist`);
  }
  return errors;
}

export async function validateDirectory(dir) {
  const { files, objects, errors } = loadDirectory(dir);
  const manifests = objects.filter(({ object }) => object.kind !== "Kustomization");
  for (const { source, object } of manifests) {
    for (const e of await schemaErrors(object)) errors.push(`${source} ${object.kind}: ${e}`);
  }
  if (errors.length === 0) errors.push(...consistencyErrors(manifests));
  errors.push(...kustomizationErrors(files, objects));
  return { errors, manifests };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const dir = process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), "k8s");
  const { errors, manifests } = await validateDirectory(dir);
  for (const e of errors) console.error(`error: ${e}`);
  if (errors.length > 0) process.exit(1);
  console.log(`${dir}: ${manifests.length} objects valid: ` +
              manifests.map(({ object }) => `${object.kind}/${object.metadata.name}`).join(", "));
}
