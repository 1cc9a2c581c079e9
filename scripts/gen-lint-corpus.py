#!/usr/bin/env python3
"""Generates a deterministic corpus of Kubernetes manifests for benchmarking `sealant lint`.

usage: gen-lint-corpus.py DIR [FILES]   (default 50,000 files, about 100 MB)

The mix is what a GitOps repository holds: Deployments and StatefulSets with long env lists
(mostly secretKeyRef, some literals), Services, Ingresses, ConfigMaps with embedded config,
SealedSecrets with long ciphertext, Helm values and a few committed Secrets. About 1% of the
files carry a leak.
"""
import base64
import os
import random
import sys

rng = random.Random(42)


def word():
    return rng.choice(["api", "web", "db", "cache", "queue", "auth", "billing", "search",
                       "worker", "gateway", "users", "orders", "reports", "mail"])


def rand(n):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(n))


# What each plain setting holds in a real manifest. (Until corpus v2 these were random strings of
# 4 to 24 letters and digits, which the lint now reports, rightly, as secrets by their shape: a
# quarter of them were 20 characters or longer.)
SETTINGS = {
    "LOG_LEVEL": lambda: rng.choice(["info", "debug", "warn", "error"]),
    "PORT": lambda: str(rng.randint(1024, 65535)),
    "DB_HOST": lambda: f"{word()}-db.{word()}.svc.cluster.local",
    "FEATURE_X": lambda: rng.choice(["true", "false", "enabled", "canary"]),
    "TIMEOUT": lambda: f"{rng.randint(1, 120)}s",
    "REGION": lambda: rng.choice(["eu-west-1", "us-east-1", "ap-southeast-2", "europe-west4"]),
    "CACHE_TTL": lambda: str(rng.randint(10, 86400)),
    "WORKERS": lambda: str(rng.randint(1, 64)),
    "TRACING_ENDPOINT": lambda: f"http://otel-collector.{word()}:4317",
    "JAVA_OPTS": lambda: f"-Xms{rng.randint(1, 4)}g -Xmx{rng.randint(4, 8)}g -XX:+UseG1GC",
}


def env_block(leak):
    lines = []
    for i in range(rng.randint(8, 22)):
        setting = rng.choice(list(SETTINGS))
        name = f"{setting}_{i}"
        lines.append(f"            - name: {name}\n              value: \"{SETTINGS[setting]()}\"")
        if i % 4 == 0:
            secret = rng.choice(["DB_PASSWORD", "API_TOKEN", "CLIENT_SECRET", "REDIS_PASSWORD"])
            lines.append(f"            - name: {secret}_{i}\n              valueFrom:\n                secretKeyRef:\n"
                         f"                  name: {word()}-credentials\n                  key: {secret.lower()}")
    if leak:
        lines.append(f"            - name: DB_PASSWORD\n              value: \"{rand(16)}\"")
        # A leak no name gives away: found by the value's shape.
        lines.append(f"            - name: UPSTREAM_SEED\n              value: \"{rand(32)}\"")
    return "\n".join(lines)


def deployment(i, leak):
    n = f"{word()}-{i}"
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {n}
  namespace: {word()}
  labels:
    app.kubernetes.io/name: {n}
    app.kubernetes.io/part-of: shop
  annotations:
    deployment.kubernetes.io/revision: "{rng.randint(1, 90)}"
spec:
  replicas: {rng.randint(1, 5)}
  selector:
    matchLabels:
      app.kubernetes.io/name: {n}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {n}
    spec:
      serviceAccountName: {n}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
      containers:
        - name: app
          image: registry.corp.internal/{n}:{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}
          args: ["--port=8080", "--log-format=json", "--config=/etc/app/config.yaml"]
          ports:
            - containerPort: 8080
          env:
{env_block(leak)}
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: 500m, memory: 512Mi}}
          volumeMounts:
            - name: config
              mountPath: /etc/app
      volumes:
        - name: config
          configMap:
            name: {n}-config
---
apiVersion: v1
kind: Service
metadata:
  name: {n}
spec:
  selector:
    app.kubernetes.io/name: {n}
  ports:
    - port: 80
      targetPort: 8080
"""


def configmap(i, leak):
    n = f"{word()}-{i}-config"
    props = "\n".join(f"    {word()}.{word()}.setting{j}={rand(12)}" for j in range(40))
    leak_line = f"\n    spring.datasource.password={rand(14)}" if leak else ""
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: {n}
data:
  LOG_LEVEL: info
  DB_HOST: postgres.{word()}.svc.cluster.local
  application.properties: |
{props}{leak_line}
"""


def sealed(i, leak):
    data = "\n".join(f"    {word()}{j}: " + base64.b64encode(bytes([1]) + os.urandom(0) + bytes(rng.getrandbits(8) for _ in range(180))).decode()
                     for j in range(8))
    doc = f"""apiVersion: sealant.dev/v1alpha1
kind: SealedSecret
metadata:
  name: {word()}-{i}
  namespace: {word()}
spec:
  encryptedData:
{data}
"""
    if leak:
        doc += f"""---
apiVersion: v1
kind: Secret
metadata:
  name: leaked-{i}
data:
  password: {base64.b64encode(rand(12).encode()).decode()}
"""
    return doc


def values(i, leak):
    body = "\n".join(f"{word()}{j}:\n  enabled: true\n  replicas: {j}\n  image: {word()}:{j}\n  existingSecret: {word()}-secret"
                     for j in range(25))
    if leak:
        body += f"\nredis:\n  password: {rand(14)}\n"
    return body + "\n"


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
    kinds = [(deployment, 0.45), (configmap, 0.25), (sealed, 0.2), (values, 0.1)]
    total = 0
    for i in range(count):
        r = rng.random()
        acc = 0.0
        for fn, weight in kinds:
            acc += weight
            if r <= acc:
                break
        leak = rng.random() < 0.01
        d = os.path.join(out, f"team{i % 50:02d}", f"app{i % 20:02d}")
        os.makedirs(d, exist_ok=True)
        name = "values.yaml" if fn is values else f"{fn.__name__}-{i}.yaml"
        if fn is values:
            d = os.path.join(d, f"chart{i % 5}")
            os.makedirs(d, exist_ok=True)
            name = f"values-{i}.yaml"
        text = fn(i, leak)
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
        total += len(text)
    print(f"generated {count} files, {total / 1e6:.1f} MB in {out}")


if __name__ == "__main__":
    main()
