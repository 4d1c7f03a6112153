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

{{/* The AWS API (aws.*): refuses values that would not serve, with a message naming the value. */}}
{{- define "kubekms.aws.validate" -}}
{{- if .Values.aws.enabled -}}
{{- if ne (int .Values.operator.replicas) 1 -}}
{{- fail "aws.enabled: needs operator.replicas 1 (each operator pod serves the AWS API from its own keystore, so a second pod would answer for other keys; docs/install.md#the-aws-api)" -}}
{{- end -}}
{{- if not (or .Values.aws.credentials.existingSecret .Values.aws.webIdentity.enabled) -}}
{{- fail "aws.credentials.existingSecret: required with aws.enabled unless aws.webIdentity.enabled (a Secret holding the credentials file of docs/aws-api.md#credentials; there is no anonymous access)" -}}
{{- end -}}
{{- $tls := .Values.aws.tls -}}
{{- if and $tls.existingSecret $tls.certManager.issuerRef.name -}}
{{- fail "aws.tls: give either existingSecret or certManager.issuerRef.name, not both" -}}
{{- end -}}
{{- if not (or $tls.existingSecret $tls.certManager.issuerRef.name) -}}
{{- fail "aws.tls: required with aws.enabled: existingSecret (a kubernetes.io/tls Secret) or certManager.issuerRef.name (a cert-manager Issuer); the AWS API serves HTTPS only" -}}
{{- end -}}
{{- if and $tls.certManager.issuerRef.name (not (.Capabilities.APIVersions.Has "cert-manager.io/v1")) -}}
{{- fail "aws.tls.certManager: the cluster does not serve cert-manager.io/v1 (install cert-manager, or give aws.tls.existingSecret; with helm template: --api-versions cert-manager.io/v1)" -}}
{{- end -}}
{{- if and .Values.aws.networkPolicy.enabled (not .Values.aws.networkPolicy.allowedClients) -}}
{{- fail "aws.networkPolicy.allowedClients: name who may connect to the AWS API (NetworkPolicy peers: namespaceSelector, podSelector, ipBlock), or set aws.networkPolicy.enabled=false" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the AWS API's certificate: the given one, or the one the Certificate writes. */}}
{{- define "kubekms.aws.tlsSecret" -}}
{{- default (printf "%s-aws-tls" (include "kubekms.fullname" .)) .Values.aws.tls.existingSecret -}}
{{- end -}}

{{/* The in-cluster DNS names of the AWS API Service. */}}
{{- define "kubekms.aws.dnsNames" -}}
{{- $svc := printf "%s-aws" (include "kubekms.fullname" .) -}}
{{- $ns := .Release.Namespace -}}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson -}}
{{- end -}}
