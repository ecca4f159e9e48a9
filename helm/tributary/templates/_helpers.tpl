{{/*
Naming, labels and the pieces every workload shares. Every process runs the
same image (`tributary run <role>`) and reads the same TOML document, so the
per-role templates only differ in the role name and a few switches.
*/}}

{{- define "tributary.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tributary.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of one component's objects, e.g. `rel-tributary-orders`. */}}
{{- define "tributary.componentName" -}}
{{- printf "%s-%s" (include "tributary.fullname" .root | trunc 48 | trimSuffix "-") .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tributary.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Kubernetes recommended labels. */}}
{{- define "tributary.labels" -}}
helm.sh/chart: {{ include "tributary.chart" . }}
{{ include "tributary.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tributary
{{- end }}

{{- define "tributary.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tributary.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component: call with (dict "root" $ "component" "orders"). */}}
{{- define "tributary.componentLabels" -}}
{{ include "tributary.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "tributary.componentSelectorLabels" -}}
{{ include "tributary.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "tributary.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tributary.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tributary.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret holding the JWT signing secret and the admin password. */}}
{{- define "tributary.authSecretName" -}}
{{- default (printf "%s-auth" (include "tributary.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{- define "tributary.registryUrl" -}}
{{- if .Values.registry.enabled }}
{{- printf "http://%s:%d" (include "tributary.componentName" (dict "root" . "component" "registry")) (int .Values.registry.port) }}
{{- else }}
{{- .Values.registry.url }}
{{- end }}
{{- end }}

{{/* librdkafka properties implied by the connection values plus the user's passthrough map. */}}
{{- define "tributary.librdkafka" -}}
{{- $props := dict }}
{{- $k := .Values.kafka }}
{{- if and $k.sasl.enabled $k.tls.enabled }}
{{- $_ := set $props "security.protocol" "SASL_SSL" }}
{{- else if $k.sasl.enabled }}
{{- $_ := set $props "security.protocol" "SASL_PLAINTEXT" }}
{{- else if $k.tls.enabled }}
{{- $_ := set $props "security.protocol" "SSL" }}
{{- end }}
{{- if $k.sasl.enabled }}
{{- $_ := set $props "sasl.mechanism" $k.sasl.mechanism }}
{{- end }}
{{- if and $k.tls.enabled $k.tls.existingSecret }}
{{- $_ := set $props "ssl.ca.location" "/etc/tributary/kafka-tls/ca.crt" }}
{{- end }}
{{- range $key, $value := $k.librdkafka }}
{{- $_ := set $props $key (toString $value) }}
{{- end }}
{{- toJson $props }}
{{- end }}

{{/*
The librdkafka map as one figment inline dictionary for an environment
variable, with the SASL credentials expanded by Kubernetes from the
KAFKA_SASL_* variables defined before it. Configuration files cannot hold
secrets, and figment splits environment keys on dots, so the map travels whole.
*/}}
{{- define "tributary.librdkafkaEnvValue" -}}
{{- $props := include "tributary.librdkafka" . | fromJson }}
{{- $parts := list }}
{{- range $key, $value := $props }}
{{- $parts = append $parts (printf "%s=%s" ($key | quote) ($value | quote)) }}
{{- end }}
{{- $parts = append $parts "\"sasl.username\"=\"$(KAFKA_SASL_USERNAME)\"" }}
{{- $parts = append $parts "\"sasl.password\"=\"$(KAFKA_SASL_PASSWORD)\"" }}
{{- printf "{%s}" (join ", " $parts) }}
{{- end }}

{{/* The whole TOML document every process reads (secrets come from the environment). */}}
{{- define "tributary.configToml" -}}
{{- $lib := include "tributary.librdkafka" . | fromJson }}
{{- $v := .Values }}
{{- $r := $v.views.scylla.replication }}
{{- $replication := dict "strategy" "simple" "factor" (int $r.factor) }}
{{- if eq $r.strategy "network_topology" }}
{{- $dcs := dict }}
{{- range $dc, $n := $r.datacenters }}
{{- $_ := set $dcs $dc (int $n) }}
{{- end }}
{{- $replication = dict "strategy" "network_topology" "datacenters" $dcs }}
{{- end }}
{{- $scylla := dict "uri" $v.views.scylla.uri "keyspace_prefix" $v.views.scylla.keyspacePrefix "consistency" $v.views.scylla.consistency "replication" $replication }}
{{- if $v.views.scylla.auth.enabled }}
{{- $_ := set $scylla "username" $v.views.scylla.auth.username }}
{{- end }}
{{- $views := dict "backend" $v.views.backend "data_dir" "/var/lib/tributary" }}
{{- if eq $v.views.backend "scylla" }}
{{- $_ := set $views "scylla" $scylla }}
{{- end }}
{{- $bus := dict "bootstrap_servers" $v.kafka.bootstrapServers "registry_url" (include "tributary.registryUrl" .) "replication_factor" (int $v.kafka.replicationFactor) "librdkafka" $lib }}
{{- $service := merge (dict "http_listen" (printf "0.0.0.0:%d" (int $v.service.port)) "bus" $bus "views" $views) (deepCopy $v.service.config) }}
{{- $registry := merge (dict "listen" (printf "0.0.0.0:%d" (int $v.registry.port)) "bootstrap_servers" $v.kafka.bootstrapServers "topic" $v.registry.topic "topic_replication_factor" (int $v.kafka.replicationFactor) "librdkafka" $lib) (deepCopy $v.registry.config) }}
{{- $jwt := dict "issuer" $v.auth.issuer "audience" $v.auth.audience }}
{{- $svcUrl := printf "http://%s-%%s:%d" (include "tributary.fullname" . | trunc 48 | trimSuffix "-") (int $v.service.port) }}
{{- $upstreams := dict "users" (list (printf $svcUrl "users")) "orders" (list (printf $svcUrl "orders")) "inventory" (list (printf $svcUrl "inventory")) "analytics" (list (printf $svcUrl "analytics")) }}
{{- $doc := dict "service" $service }}
{{- if $v.registry.enabled }}
{{- $_ := set $doc "registry" $registry }}
{{- end }}
{{- $_ := set $doc "gateway" (merge (dict "jwt" $jwt "upstreams" $upstreams) (deepCopy $v.services.gateway.config)) }}
{{- $_ := set $doc "users" (merge (dict "jwt" $jwt "admin_email" $v.auth.adminEmail) (deepCopy $v.services.users.config)) }}
{{- $notifications := deepCopy $v.services.notifications.config }}
{{- if not (hasKey $notifications "channel") }}
{{- $_ := set $notifications "channel" (dict "kind" "log" "path" "/var/lib/tributary/notifications/delivered.jsonl") }}
{{- end }}
{{- $_ := set $doc "notifications" $notifications }}
{{- range $name := list "orders" "inventory" "payments" "analytics" }}
{{- $cfg := (get $v.services $name).config }}
{{- if $cfg }}
{{- $_ := set $doc $name (deepCopy $cfg) }}
{{- end }}
{{- end }}
{{- if $v.bridge.enabled }}
{{- $_ := set $doc "bridge" (deepCopy $v.bridge.config) }}
{{- end }}
{{- /* Values arrive as float64, so whole numbers would print as `3.0`,
which integer keys reject; serde reads an integer into a float key, so
printing whole numbers without the fraction is right for both. */}}
{{- regexReplaceAll "(?m)^(\\s*[A-Za-z0-9_\"]+ = -?[0-9]+)\\.0$" (toToml $doc) "${1}" }}
{{- end }}

{{/* Restricted pod security profile, shared by every pod of the chart. */}}
{{- define "tributary.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "tributary.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Environment every tributary process gets: secrets and telemetry. */}}
{{- define "tributary.commonEnv" -}}
- name: TRIBUTARY_CONFIG
  value: /etc/tributary/tributary.toml
- name: TRIBUTARY_LOG_JSON
  value: {{ .Values.logJson | quote }}
- name: RUST_LOG
  value: {{ .Values.rustLog | quote }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- if .Values.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.otel.endpoint | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "tributary-%s" .component | quote }}
{{- end }}
{{- if .Values.kafka.sasl.enabled }}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.usernameKey }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.passwordKey }}
- name: {{ ternary "TRIBUTARY__REGISTRY__LIBRDKAFKA" "TRIBUTARY__SERVICE__BUS__LIBRDKAFKA" (eq .component "registry") }}
  value: {{ include "tributary.librdkafkaEnvValue" . | quote }}
{{- end }}
{{- if and (eq .Values.views.backend "scylla") .Values.views.scylla.auth.enabled (ne .component "registry") }}
- name: TRIBUTARY__SERVICE__VIEWS__SCYLLA__PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.views.scylla.auth.existingSecret }}
      key: {{ .Values.views.scylla.auth.passwordKey }}
{{- end }}
{{- end }}
