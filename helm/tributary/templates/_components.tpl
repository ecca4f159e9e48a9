{{/*
The workloads of a release as a list of dicts: name, port, the values block
with replicas/resources, whether the role consumes from Kafka (and may
autoscale on lag), and whether it is reached from outside the release.
*/}}
{{- define "tributary.components" -}}
{{- $out := list }}
{{- if .Values.registry.enabled }}
{{- $out = append $out (dict "name" "registry" "port" (int .Values.registry.port) "values" .Values.registry "consumer" false) }}
{{- end }}
{{- range $name := list "gateway" "users" "orders" "inventory" "payments" "notifications" "analytics" }}
{{- $consumer := has $name (list "orders" "inventory" "payments" "notifications" "analytics") }}
{{- $out = append $out (dict "name" $name "port" (int $.Values.service.port) "values" (get $.Values.services $name) "consumer" $consumer) }}
{{- end }}
{{- if .Values.bridge.enabled }}
{{- $out = append $out (dict "name" "bridge" "port" (int .Values.service.port) "values" .Values.bridge "consumer" false) }}
{{- end }}
{{- toJson (dict "items" $out) }}
{{- end }}

{{/* Highest replica count autoscaling may reach: never above the partition count. */}}
{{- define "tributary.maxReplicas" -}}
{{- $max := int .Values.autoscaling.maxReplicas }}
{{- $partitions := int .Values.topics.partitions }}
{{- if gt $max $partitions }}{{ $partitions }}{{ else }}{{ $max }}{{ end }}
{{- end }}
