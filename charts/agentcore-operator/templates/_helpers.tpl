{{- define "agentcore-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "agentcore-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "agentcore-operator.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "agentcore-operator.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "agentcore-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "agentcore-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "agentcore-operator.labels" -}}
{{ include "agentcore-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* repository@digest when a digest is set, else repository:tag (tag defaults to the appVersion). */}}
{{- define "agentcore-operator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "agentcore-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "agentcore-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The rules the operator needs in watched namespaces (manager/permissions.py, scope "watched"). */}}
{{- define "agentcore-operator.watchedRules" -}}
- apiGroups: ["agentcore.dev"]
  resources: ["codeinterpretersessions"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["agentcore.dev"]
  resources: ["codeinterpretersessionpools"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["agentcore.dev"]
  resources: ["codeinterpreters"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["agentcore.dev"]
  resources: ["codeinterpretersessions/status", "codeinterpreters/status", "codeinterpretersessionpools/status"]
  verbs: ["get", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "create", "update", "patch"]
{{- end -}}
