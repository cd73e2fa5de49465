{{/*
Chart name, truncated to 63 characters because Kubernetes names and label values cannot be longer.
*/}}
{{- define "store.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fully qualified prefix for every object. One release per namespace, so the release name alone is
unique; it is truncated so that "<fullname>-<component>" suffixes still fit in 63 characters.
*/}}
{{- define "store.fullname" -}}
{{- .Release.Name | trunc 42 | trimSuffix "-" -}}
{{- end -}}

{{/*
Name of one component object: store.componentName (list $ "wordpress").
*/}}
{{- define "store.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "store.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The set-up Job's name: one Job per Helm revision (`<release>-setup-r<revision>`). A Job's pod
template is immutable, and a finished Job never runs again; a new name per revision makes every
install, upgrade and rollback run the (idempotent) set-up once, while Helm deletes the previous
revision's Job as an object no longer in the manifest. The prefix is cut, never the revision.
*/}}
{{- define "store.setupJobName" -}}
{{- $prefix := include "store.componentName" (list . "setup") | trunc 50 | trimSuffix "-" -}}
{{- printf "%s-r%d" $prefix (int .Release.Revision) -}}
{{- end -}}

{{/*
Chart label value: name-version, "+" is not allowed in label values.
*/}}
{{- define "store.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Standard labels on every object, so `kubectl get all -l app.kubernetes.io/instance=<release>` finds them.
Every value is quoted: a value built from data (a release named "1234", a hash "12e45") would
otherwise be read by YAML as a number, which the API server refuses for a label or annotation.
*/}}
{{- define "store.labels" -}}
helm.sh/chart: {{ include "store.chart" . | quote }}
{{ include "store.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
app.kubernetes.io/part-of: storeplane
storeplane.io/engine: {{ .Values.engine | quote }}
{{- end -}}

{{/*
Selector labels: stable across upgrades (selectors of Deployments and StatefulSets are immutable).
*/}}
{{- define "store.selectorLabels" -}}
app.kubernetes.io/name: {{ include "store.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{/*
Labels of one component: store.componentLabels (list $ "web"). The component names web, database,
setup and order-test are the contract the shared NetworkPolicies select on, for every engine.
*/}}
{{- define "store.componentLabels" -}}
{{ include "store.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 | quote }}
{{- end -}}

{{- define "store.componentSelectorLabels" -}}
{{ include "store.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 | quote }}
{{- end -}}

{{/*
Labels of a pod template: store.componentPodLabels (list $ "web"). Only labels that never change
with the chart version (no helm.sh/chart, no app.kubernetes.io/version): a chart bump must not
restart the database or the web pod when nothing in their spec changed.
*/}}
{{- define "store.componentPodLabels" -}}
{{ include "store.componentSelectorLabels" . }}
app.kubernetes.io/part-of: storeplane
storeplane.io/engine: {{ (index . 0).Values.engine | quote }}
{{- end -}}

{{/*
The store's primary host: `host` if given, else <release>.<baseDomain>.
*/}}
{{- define "store.host" -}}
{{- if .Values.host -}}
{{- .Values.host -}}
{{- else -}}
{{- printf "%s.%s" .Release.Name .Values.baseDomain -}}
{{- end -}}
{{- end -}}

{{/*
Every host the store answers on: its own host, then ingress.extraHosts, the linked domains the
platform has proven (JSON list).
*/}}
{{- define "store.ingressHosts" -}}
{{- prepend .Values.ingress.extraHosts (include "store.host" .) | uniq | toJson -}}
{{- end -}}

{{/*
The host the store is served at: primaryHost if set (it must be one of the store's hosts), else
the store's own host. Every other host redirects to it permanently (templates/redirect).
*/}}
{{- define "store.primaryHost" -}}
{{- $primary := .Values.primaryHost | default (include "store.host" .) -}}
{{- if not (has $primary (include "store.ingressHosts" . | fromJsonArray)) -}}
{{- fail (printf "primaryHost %q is not one of the store's hosts (host and ingress.extraHosts): add it to ingress.extraHosts first" $primary) -}}
{{- end -}}
{{- $primary -}}
{{- end -}}

{{/*
The hosts that redirect to the primary host (JSON list; empty when the store has one host).
*/}}
{{- define "store.redirectHosts" -}}
{{- without (include "store.ingressHosts" . | fromJsonArray) (include "store.primaryHost" .) | toJson -}}
{{- end -}}

{{/*
Per-host names: store.hostObjectName (list $ "web" host). The store's own host keeps the plain
"<release>-web" / "<release>-tls" (stable for stores made before linked domains); a linked domain
gets a suffix from its name's hash, so its Ingress and certificate keep their names whichever host
is primary, and cert-manager's Certificate stays owned by the same Ingress.
*/}}
{{- define "store.hostObjectName" -}}
{{- $root := index . 0 -}}
{{- $kind := index . 1 -}}
{{- $host := index . 2 -}}
{{- if eq $host (include "store.host" $root) -}}
{{- include "store.componentName" (list $root $kind) -}}
{{- else -}}
{{- include "store.componentName" (list $root (printf "%s-%s" $kind (sha256sum $host | trunc 10))) -}}
{{- end -}}
{{- end -}}

{{/*
cert-manager's HTTP-01 solvers while TLS is on: one pod and one Service per host of the Ingress,
in the store's namespace. The quota makes room for them (guardrails/resourcequota.yaml).
*/}}
{{- define "store.acmeSolverCount" -}}
{{- if and .Values.tls.enabled .Values.ingress.enabled -}}
{{- include "store.ingressHosts" . | fromJsonArray | len -}}
{{- else -}}
0
{{- end -}}
{{- end -}}

{{/*
Public base URL of the store, at its primary host; https only when TLS is enabled on the Ingress.
*/}}
{{- define "store.url" -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.tls.enabled) (include "store.primaryHost" .) -}}
{{- end -}}

{{/*
Store title shown in the shop: storeName, else the release name.
*/}}
{{- define "store.title" -}}
{{- .Values.storeName | default .Release.Name -}}
{{- end -}}

{{/*
Admin e-mail: admin.email, else admin@<host>.
*/}}
{{- define "store.adminEmail" -}}
{{- .Values.admin.email | default (printf "admin@%s" (include "store.host" .)) -}}
{{- end -}}

{{/*
Name of the Secret holding the generated credentials (kept across upgrades with lookup).
*/}}
{{- define "store.credentialsSecret" -}}
{{- include "store.componentName" (list . "credentials") -}}
{{- end -}}

{{/*
Engine dispatch: each engine defines store.<engine>.webPort, store.<engine>.databasePort,
store.<engine>.setupInternet, store.<engine>.webService and store.<engine>.ingressAnnotations (in
templates/<engine>/_<engine>.tpl), so the shared templates need no knowledge of any one engine.
*/}}
{{- define "store.webPort" -}}
{{- include "store.assertEngine" . -}}
{{- include (printf "store.%s.webPort" .Values.engine) . -}}
{{- end -}}

{{- define "store.webService" -}}
{{- include "store.assertEngine" . -}}
{{- include (printf "store.%s.webService" .Values.engine) . -}}
{{- end -}}

{{- define "store.engineIngressAnnotations" -}}
{{- include "store.assertEngine" . -}}
{{- include (printf "store.%s.ingressAnnotations" .Values.engine) . -}}
{{- end -}}

{{- define "store.databasePort" -}}
{{- include "store.assertEngine" . -}}
{{- include (printf "store.%s.databasePort" .Values.engine) . -}}
{{- end -}}

{{/*
"true" when the engine's set-up Job downloads from the internet (WooCommerce: plugin and theme
from wordpress.org); the setup NetworkPolicy opens 80/443 to the internet only then.
*/}}
{{- define "store.setupNeedsInternet" -}}
{{- include "store.assertEngine" . -}}
{{- include (printf "store.%s.setupInternet" .Values.engine) . -}}
{{- end -}}

{{/*
"true" when the engine runs a `cron` component (store.<engine>.cron): the database admits it.
*/}}
{{- define "store.hasCron" -}}
{{- include "store.assertEngine" . -}}
{{- include (printf "store.%s.cron" .Values.engine) . -}}
{{- end -}}

{{/*
The engines this chart version builds: Chart.yaml's `storeplane.io/engines` annotation, the one
list the platform reads too.
*/}}
{{- define "store.builtEngines" -}}
{{- index .Chart.Annotations "storeplane.io/engines" | splitList "," | toJson -}}
{{- end -}}

{{/*
Image reference "<repository>:<tag>", or "<repository>@<digest>" when a digest pins it harder.
*/}}
{{- define "store.image" -}}
{{- if .digest -}}
{{- printf "%s@%s" .repository .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}
{{- end -}}

{{/*
Container security context that passes Pod Security "restricted": non-root, no escalation, no
capabilities, RuntimeDefault seccomp. Pass a dict with uid, gid and readOnly.
*/}}
{{- define "store.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .gid }}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: {{ .readOnly }}
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Pod security context: numeric ids (no image here sets a numeric USER), fsGroup so the volume is
writable by that group, RuntimeDefault seccomp. Pass a dict with uid and gid.
*/}}
{{- define "store.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .gid }}
fsGroup: {{ .gid }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Fails rendering for an engine this chart version does not build, with a message the orchestrator
can show as is. Called by templates/engine-check.yaml and by every engine dispatch, because Helm
renders templates in name order and the first failure wins. The schema's enum names every engine
Storeplane knows; this list (Chart.yaml) is what this version builds.
*/}}
{{- define "store.assertEngine" -}}
{{- $built := include "store.builtEngines" . | fromJsonArray -}}
{{- if not (has .Values.engine $built) -}}
{{- fail (printf "engine %q is not available in store chart %s: it builds %s" .Values.engine .Chart.Version (join ", " $built)) -}}
{{- end -}}
{{- end -}}
