{{/*
What API and worker pods share: settings, secret files, writable directories, the migration init
container. Kept here so both Deployments stay identical where they must.
*/}}

{{/*
Environment of every Storeplane container: the ConfigMap, plus the database URL from its Secret.
*/}}
{{- define "storeplane.appEnv" -}}
envFrom:
  - configMapRef:
      name: {{ include "storeplane.componentName" (list . "config") }}
{{- if include "storeplane.sharedDatabase" . }}
env:
  - name: STOREPLANE_DATABASE_URL
    valueFrom:
      secretKeyRef:
        name: {{ include "storeplane.databaseUrlSecret" . }}
        key: {{ include "storeplane.databaseUrlKey" . }}
{{- end }}
{{- end -}}

{{- define "storeplane.appVolumeMounts" -}}
volumeMounts:
  - name: secrets
    mountPath: /etc/storeplane/secrets
    readOnly: true
  - name: data
    mountPath: /var/lib/storeplane
  - name: tmp
    mountPath: /tmp
{{- if .Values.stores.values }}
  - name: store-values
    mountPath: /etc/storeplane/stores
    readOnly: true
{{- end }}
{{- end -}}

{{/*
Volumes; `data` is the SQLite PVC on SQLite (API pod only), else an emptyDir.
*/}}
{{- define "storeplane.appVolumes" -}}
- name: secrets
  secret:
    secretName: {{ include "storeplane.secretName" . }}
    defaultMode: 0400
- name: tmp
  emptyDir: {}
{{- if include "storeplane.sharedDatabase" . }}
- name: data
  emptyDir: {}
{{- else }}
- name: data
  persistentVolumeClaim:
    claimName: {{ include "storeplane.componentName" (list . "data") }}
{{- end }}
{{- if .Values.stores.values }}
- name: store-values
  configMap:
    name: {{ include "storeplane.componentName" (list . "store-values") }}
{{- end }}
{{- end -}}

{{/*
Pod annotations that roll the pods when their settings or generated secrets change.
*/}}
{{- define "storeplane.checksums" -}}
checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if .Values.stores.values }}
checksum/store-values: {{ include (print $.Template.BasePath "/configmap-store-values.yaml") . | sha256sum }}
{{- end }}
{{- end -}}

{{/*
The migration init container: `python -m app migrate` before the process starts, in every API and
worker pod. An init container rather than a pre-install hook Job because with the bundled PostgreSQL
the database is part of the release and does not exist yet when a pre-install hook runs (so it waits
for the database, up to migrate.waitSeconds); concurrent runs are serialised by a PostgreSQL
advisory lock (migrations/env.py) and are no-ops at head. After a rollback an older image finds a
newer schema: it runs on it if the schema declares itself compatible, else fails with the reason
(app/db/migrate.py).
*/}}
{{- define "storeplane.migrateInitContainer" -}}
- name: migrate
  image: {{ include "storeplane.imageRef" (dict "image" .Values.image "default" .Chart.AppVersion) }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: ["python", "-m", "app", "migrate", "--wait-seconds", {{ .Values.migrate.waitSeconds | quote }}]
  securityContext:
    {{- include "storeplane.containerSecurityContext" . | nindent 4 }}
  {{- include "storeplane.appEnv" . | nindent 2 }}
  {{- include "storeplane.appVolumeMounts" . | nindent 2 }}
  resources:
    {{- toYaml .Values.migrate.resources | nindent 4 }}
{{- end -}}
