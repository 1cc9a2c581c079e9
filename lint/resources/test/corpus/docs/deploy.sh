#!/bin/sh
set -eu
export KUBECONFIG=/etc/kube/config
curl -H "Authorization: Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJjaS1ib3QiLCJleHAiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMTIz" https://api.corp.io/deploy # LEAK
helm upgrade shop ./chart --set image.tag="$TAG" --set db.password="$DB_PASSWORD"
