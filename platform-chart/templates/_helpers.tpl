{{/*
Chart name, truncated to 63 characters because Kubernetes names and label values cannot be longer.
*/}}
{{- define "storeplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fully qualified prefix of every object. Truncated to 40 so "<fullname>-<component>" suffixes such as
"-store-manager" still fit in 63 characters.
*/}}
{{- define "storeplane.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Name of one component object: storeplane.componentName (list $ "api").
*/}}
{{- define "storeplane.componentName" -}}
{{- printf "%s-%s" (include "storeplane.fullname" (index . 0)) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Chart label value: name-version ("+" is not allowed in label values).
*/}}
{{- define "storeplane.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Standard labels on every object.
*/}}
{{- define "storeplane.labels" -}}
helm.sh/chart: {{ include "storeplane.chart" . }}
{{ include "storeplane.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: storeplane
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Selector labels: stable across upgrades (Deployment and StatefulSet selectors are immutable).
*/}}
{{- define "storeplane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "storeplane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
Labels of one component: storeplane.componentLabels (list $ "api"). The component names api, worker
and postgresql are what the NetworkPolicies select on.
*/}}
{{- define "storeplane.componentLabels" -}}
{{ include "storeplane.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "storeplane.componentSelectorLabels" -}}
{{ include "storeplane.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/*
Labels of a pod template: no chart or app version, so a chart bump that changes nothing in the pod
does not restart it (the bundled PostgreSQL above all). The image tag says which version runs.
*/}}
{{- define "storeplane.podLabels" -}}
{{ include "storeplane.componentSelectorLabels" . }}
app.kubernetes.io/part-of: storeplane
{{- with (index . 0).Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
An image reference: repository:tag, or repository@digest when a digest pins it.
Call with (dict "image" .Values.image "default" .Chart.AppVersion).
*/}}
{{- define "storeplane.imageRef" -}}
{{- $image := .image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .default $image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
True ("true") when the database is PostgreSQL (bundled or external), the only database several
processes may share.
*/}}
{{- define "storeplane.sharedDatabase" -}}
{{- if ne .Values.database.type "sqlite" -}}true{{- end -}}
{{- end -}}

{{/*
The provisioner's ServiceAccount: it runs Helm and talks to the Kubernetes API (workers, and the API
which reads Helm history and pings the cluster for /readyz).
*/}}
{{- define "storeplane.serviceAccountName" -}}
{{- include "storeplane.componentName" (list . "provisioner") -}}
{{- end -}}

{{/*
Kubernetes username of the provisioner, as admission sees it in request.userInfo.username.
*/}}
{{- define "storeplane.provisionerUser" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "storeplane.serviceAccountName" .) -}}
{{- end -}}

{{/*
Names of cluster-scoped objects carry the release namespace too, so two installations of the chart
(other namespaces, same release name) never share a ClusterRole or policy.
*/}}
{{- define "storeplane.clusterName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s-%s" $root.Release.Namespace (include "storeplane.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Store namespaces are "store-<store id>" (app/db/stores.py): not a value, because the admission policy
would refuse every namespace the application names differently.
*/}}
{{- define "storeplane.storeNamespacePrefix" -}}store-{{- end -}}

{{- define "storeplane.storeManagerRole" -}}
{{- include "storeplane.clusterName" (list . "store-manager") -}}
{{- end -}}

{{/*
The Secret holding the session key and the first admin's password: auth.existingSecret, else the
one the chart generates.
*/}}
{{- define "storeplane.secretName" -}}
{{- default (include "storeplane.componentName" (list . "secrets")) .Values.auth.existingSecret -}}
{{- end -}}

{{/*
The bundled PostgreSQL's Secret (keys password, database-url): postgresql.existingSecret, else the
generated one.
*/}}
{{- define "storeplane.postgresqlSecretName" -}}
{{- default (include "storeplane.postgresqlName" .) .Values.postgresql.existingSecret -}}
{{- end -}}

{{- define "storeplane.postgresqlName" -}}
{{- include "storeplane.componentName" (list . "postgresql") -}}
{{- end -}}

{{/*
The Secret and key holding the database URL (PostgreSQL only).
*/}}
{{- define "storeplane.databaseUrlSecret" -}}
{{- if eq .Values.database.type "external" -}}
{{- .Values.database.external.existingSecret -}}
{{- else -}}
{{- include "storeplane.postgresqlSecretName" . -}}
{{- end -}}
{{- end -}}

{{- define "storeplane.databaseUrlKey" -}}
{{- if eq .Values.database.type "external" -}}
{{- .Values.database.external.urlKey -}}
{{- else -}}
database-url
{{- end -}}
{{- end -}}

{{/*
Hardened container securityContext (Pod Security "restricted" and more).
*/}}
{{- define "storeplane.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Pod securityContext of Storeplane pods: the image's non-root user (uid 10001).
*/}}
{{- define "storeplane.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}


{{/*
A memory quantity in whole MiB ("768Mi", "1Gi", "1.5G", "800M"), for the sizing checks in
validate.yaml. Quantities the schema allows but that make no sense for memory are refused here.
*/}}
{{- define "storeplane.mebibytes" -}}
{{- $quantity := toString . -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $quantity -}}
{{- $unit := trimPrefix $number $quantity -}}
{{- $perMiB := dict "" (divf 1 1048576) "Ki" (divf 1 1024) "Mi" 1.0 "Gi" 1024.0 "Ti" 1048576.0 "k" (divf 1000 1048576) "M" (divf 1000000 1048576) "G" (divf 1000000000 1048576) "T" (divf 1000000000000 1048576) -}}
{{- if not (hasKey $perMiB $unit) -}}
{{- fail (printf "memory %q: give it in Mi or Gi (e.g. 768Mi)" $quantity) -}}
{{- end -}}
{{- mulf (float64 $number) (get $perMiB $unit) | floor | int -}}
{{- end -}}

{{/*
The most API pods there can be at once: the HPA's maximum or the fixed count.
*/}}
{{- define "storeplane.maxApiPods" -}}
{{- if .Values.api.autoscaling.enabled -}}{{ .Values.api.autoscaling.maxReplicas }}{{- else -}}{{ .Values.api.replicas }}{{- end -}}
{{- end -}}

{{/*
The memory rule of Storeplane processes, in MiB: one Python process (API or worker) and one helm
process installing or upgrading a store. Measured on the simulated cluster (README, "Memory");
validate.yaml refuses limits below process + concurrency × helm.
*/}}
{{- define "storeplane.memoryRule" -}}
processMiB: 200
helmMiB: 100
{{- end -}}
