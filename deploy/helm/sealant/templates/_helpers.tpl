{{/*
Name of every object of the release. The controller's Lease (sealant-controller) and public-key
ConfigMap (sealant-public-keys) have fixed names of their own, set by the controller.
*/}}
{{- define "sealant.fullname" -}}
{{- default "sealant-controller" .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels: the same as the Kustomize base, and never changed after the first install
(Deployment selectors are immutable).
*/}}
{{- define "sealant.selectorLabels" -}}
app.kubernetes.io/name: sealant-controller
{{- end -}}

{{/* Labels on every object. */}}
{{- define "sealant.labels" -}}
{{ include "sealant.selectorLabels" . }}
app.kubernetes.io/part-of: sealant
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.extraLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The image reference: repository:tag, or repository:tag@digest when a digest is pinned. */}}
{{- define "sealant.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if eq $tag "latest" -}}
{{- fail "image.tag must be a release tag, not \"latest\"" -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}
