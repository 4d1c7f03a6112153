{{- define "kubekms.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kubekms.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kubekms.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubekms.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "kubekms.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "kubekms.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "kubekms.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kubekms.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kubekms.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* true when ServiceMonitor/PrometheusRule may be rendered (monitoring.prometheusOperator auto|always|never) */}}
{{- define "kubekms.prometheusOperator" -}}
{{- $mode := .Values.monitoring.prometheusOperator -}}
{{- if or (eq $mode "always") (and (eq $mode "auto") (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1")) -}}
true
{{- end -}}
{{- end -}}

{{/* The operator's rules (docs/operator.md, RBAC). No access to Secrets. */}}
{{- define "kubekms.operatorRules" -}}
- apiGroups: [kubekms.io]
  resources: [kmskeys, kmsaliases, kmsgrants]
  verbs: [get, list, watch, patch, create] # create: the Secrets key mirror only
- apiGroups: [kubekms.io]
  resources: [kmskeys/status, kmsaliases/status, kmsgrants/status]
  verbs: [get, patch]
- apiGroups: [kubekms.io]
  resources: [kmskeys/finalizers, kmsaliases/finalizers, kmsgrants/finalizers]
  verbs: [update]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [""]
  resources: [namespaces]
  resourceNames: [{{ .Release.Namespace | quote }}]
  verbs: [get] # its own namespace exists (the release namespace), so it is never created
{{- end -}}
