{{/*
Names and labels shared by the templates.
*/}}

{{- define "srexpert.operatorName" -}}
{{- .Values.operator.name -}}
{{- end -}}

{{/* The operator image reference; the digest, when set, pins it. */}}
{{- define "srexpert.operatorImage" -}}
{{- $img := .Values.operator.image -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* Selector labels of the operator pods (immutable once installed). */}}
{{- define "srexpert.operatorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "srexpert.operatorName" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object the chart renders for the operator. */}}
{{- define "srexpert.operatorLabels" -}}
{{ include "srexpert.operatorSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: srexpert
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Labels of the AgentConfig and its token Secret. */}}
{{- define "srexpert.agentConfigLabels" -}}
app.kubernetes.io/name: srexpert-agent
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: agent
app.kubernetes.io/part-of: srexpert
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Name of the Secret the chart writes for an inline token. */}}
{{- define "srexpert.tokenSecretName" -}}
{{- printf "%s-registration" .Values.agentConfig.name -}}
{{- end -}}

{{/* Leader election is on when asked for, and always with more than one replica. */}}
{{- define "srexpert.leaderElect" -}}
{{- if or .Values.operator.leaderElect (gt (int .Values.operator.replicas) 1) -}}true{{- end -}}
{{- end -}}
