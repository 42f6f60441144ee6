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


{{/*
The AgentConfig built from .Values.agentConfig: rendered as an object
(templates/agentconfig.yaml) or, with agentConfig.bootstrap, into the
operator's bootstrap ConfigMap (templates/bootstrap-configmap.yaml).
*/}}
{{- define "srexpert.agentConfig" -}}
{{- $ac := .Values.agentConfig -}}
{{- if and $ac.token.value $ac.token.existingSecret.name }}
{{- fail "agentConfig.token: set either value or existingSecret.name, not both" }}
{{- end }}
{{- if not (or $ac.token.value $ac.token.existingSecret.name) }}
{{- fail "agentConfig.token: set value (--set agentConfig.token.value=...) or existingSecret.name" }}
{{- end }}
{{- if not $ac.clusterName }}
{{- fail "agentConfig.clusterName is required (--set agentConfig.clusterName=...)" }}
{{- end }}
apiVersion: agent.srexpert.io/v1alpha1
kind: AgentConfig
metadata:
  name: {{ $ac.name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "srexpert.agentConfigLabels" . | nindent 4 }}
spec:
  clusterName: {{ $ac.clusterName | quote }}
  backend:
    url: {{ $ac.backend.url | quote }}
    insecure: {{ $ac.backend.insecure }}
    {{- with $ac.backend.caBundle }}
    caBundle: |
      {{- . | trim | nindent 6 }}
    {{- end }}
    {{- if $ac.backend.proxy.url }}
    proxy:
      url: {{ $ac.backend.proxy.url | quote }}
      {{- with $ac.backend.proxy.noProxy }}
      noProxy:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
  token:
    secretRef:
      {{- if $ac.token.existingSecret.name }}
      name: {{ $ac.token.existingSecret.name }}
      key: {{ $ac.token.existingSecret.key | quote }}
      {{- else }}
      name: {{ include "srexpert.tokenSecretName" . }}
      key: token
      {{- end }}
  agent:
    {{- with $ac.agent.image }}
    image: {{ . | quote }}
    {{- end }}
    imagePullPolicy: {{ $ac.agent.imagePullPolicy }}
    {{- with $ac.agent.imagePullSecrets }}
    imagePullSecrets:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    resources:
      {{- toYaml $ac.agent.resources | nindent 6 }}
    nodeSelector:
      {{- toYaml $ac.agent.nodeSelector | nindent 6 }}
    tolerations:
      {{- toYaml $ac.agent.tolerations | nindent 6 }}
    {{- with $ac.agent.priorityClassName }}
    priorityClassName: {{ . }}
    {{- end }}
    {{- with $ac.agent.podLabels }}
    podLabels:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with $ac.agent.podAnnotations }}
    podAnnotations:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    logLevel: {{ $ac.agent.logLevel }}
  leaderElection:
    leaseDuration: {{ $ac.leaderElection.leaseDuration | quote }}
    renewDeadline: {{ $ac.leaderElection.renewDeadline | quote }}
    retryPeriod: {{ $ac.leaderElection.retryPeriod | quote }}
  tunnel:
    pingInterval: {{ $ac.tunnel.pingInterval | quote }}
    pongTimeout: {{ $ac.tunnel.pongTimeout | quote }}
    backoff:
      initial: {{ $ac.tunnel.backoff.initial | quote }}
      max: {{ $ac.tunnel.backoff.max | quote }}
      multiplier: {{ $ac.tunnel.backoff.multiplier | float64 }}
    maxMessageBytes: {{ $ac.tunnel.maxMessageBytes | int64 }}
  collection:
    events: {{ $ac.collection.events }}
    metrics: {{ $ac.collection.metrics }}
    {{- with $ac.collection.excludedNamespaces }}
    excludedNamespaces:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    metricsInterval: {{ $ac.collection.metricsInterval | quote }}
    eventsPerSecond: {{ $ac.collection.eventsPerSecond | float64 }}
    eventBurst: {{ $ac.collection.eventBurst | int64 }}
  stream:
    maxUnackedBytes: {{ $ac.stream.maxUnackedBytes | int64 }}
    maxUnackedMessages: {{ $ac.stream.maxUnackedMessages | int64 }}
    batchInterval: {{ $ac.stream.batchInterval | quote }}
  scans:
    enabled: {{ $ac.scans.enabled }}
    interval: {{ $ac.scans.interval | quote }}
    {{- /* Polaris' rule: a checks map that is set, even empty, runs only what it lists. */}}
    {{- if kindIs "map" $ac.scans.checks }}
    checks:
      {{- toYaml $ac.scans.checks | nindent 6 }}
    {{- end }}
    {{- with $ac.scans.exemptions }}
    exemptions:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- if $ac.scans.disallowExemptions }}
    disallowExemptions: true
    {{- end }}
    {{- if $ac.scans.disallowConfigExemptions }}
    disallowConfigExemptions: true
    {{- end }}
    {{- if $ac.scans.disallowAnnotationExemptions }}
    disallowAnnotationExemptions: true
    {{- end }}
    {{- with $ac.scans.customChecks }}
    customChecks:
      {{- toYaml . | nindent 6 }}
    {{- end }}
  actions:
    scale: {{ $ac.actions.scale }}
    restart: {{ $ac.actions.restart }}
    deletePods: {{ $ac.actions.deletePods }}
    nodes: {{ $ac.actions.nodes }}
    applyManifests: {{ $ac.actions.applyManifests }}
    helm: {{ $ac.actions.helm }}
    {{- with $ac.actions.namespaces }}
    namespaces:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- end -}}
