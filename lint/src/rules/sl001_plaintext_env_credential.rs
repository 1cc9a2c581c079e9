//! SL001 `plaintext-env-credential`: Plaintext credential in a container's env.

use crate::codes::{Code, Rule, Severity};

pub const RULE: Rule = Rule {
    code: Code::SL001,
    id: "SL001",
    name: "plaintext-env-credential",
    summary: "Plaintext credential in a container's env",
    severity: Severity::High,
    doc: r#"## What it does
Checks the `env` of every container, init container and ephemeral container of every workload
(Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob's
jobTemplate, PodTemplate, and any custom resource with a pod template) for variables whose name is
credential-like (`DB_PASSWORD`, `apiKey`, `client-secret`) and whose `value` is a literal.

## Why is this bad
The value is readable by anyone who can read the repository, the manifest in the cluster
(`kubectl get pod -o yaml`), or the audit log. It cannot be rotated without a commit and it stays
in git history after it is removed.

## Example
```yaml
env:
  - name: DB_PASSWORD
    value: "supersecret123"
```

## Use instead
```yaml
env:
  - name: DB_PASSWORD
    valueFrom:
      secretKeyRef:
        name: db-credentials
        key: password
```
and commit the Secret sealed: `sealant seal < db-credentials.yaml > db-credentials.sealed.yaml`.
"#,
};
