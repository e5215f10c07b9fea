{{- define "liger.labels" -}}
app.kubernetes.io/name: liger
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "liger.selector" -}}
app.kubernetes.io/name: liger
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
