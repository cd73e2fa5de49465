{{/*
Medusa engine: the ports the shared guardrails ask for (Medusa's default 9000, PostgreSQL 5432) and
whether its set-up Job needs the internet: it does not, everything it runs is in the image.
*/}}
{{- define "store.medusa.webPort" -}}9000{{- end -}}
{{- define "store.medusa.databasePort" -}}5432{{- end -}}
{{- define "store.medusa.setupInternet" -}}false{{- end -}}
{{- /* Medusa schedules its own jobs in the web process: no cron component. */ -}}
{{- define "store.medusa.cron" -}}false{{- end -}}

{{/* uid/gid of the official node image's `node` user, which our Medusa image runs as. */}}
{{- define "store.medusa.uid" -}}1000{{- end -}}
{{/* uid/gid of the official postgres image's `postgres` user (Debian variant). */}}
{{- define "store.medusa.postgresUid" -}}999{{- end -}}

{{- define "store.medusa.webName" -}}{{ include "store.componentName" (list . "medusa") }}{{- end -}}
{{- define "store.medusa.postgresName" -}}{{ include "store.componentName" (list . "postgres") }}{{- end -}}

{{/*
Every origin the store answers on, the primary first (medusa-config.ts takes the first origin's
scheme for its cookies), for Medusa's CORS settings. Other hosts redirect to the primary before they
reach Medusa, so listing them only matters while a browser still holds a page from before a change.
*/}}
{{- define "store.medusa.origins" -}}
{{- $scheme := ternary "https" "http" .Values.tls.enabled -}}
{{- $origins := list -}}
{{- range prepend (include "store.ingressHosts" . | fromJsonArray) (include "store.primaryHost" .) | uniq -}}
{{- $origins = append $origins (printf "%s://%s" $scheme .) -}}
{{- end -}}
{{- join "," $origins -}}
{{- end -}}

{{/*
Environment of every Medusa process (server, migrations, set-up): the database URL (its password
from the generated Secret through Kubernetes' $(VAR) expansion), the JWT and cookie secrets, the
store's origins. HOME is /tmp: Medusa keeps its CLI settings and swc its binding cache there, and
the root filesystem is read-only.
*/}}
{{- define "store.medusa.env" -}}
{{- $secret := include "store.credentialsSecret" . -}}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: database-password
- name: DATABASE_URL
  value: {{ printf "postgres://%s:$(DATABASE_PASSWORD)@%s:%s/%s" .Values.medusa.postgres.user (include "store.medusa.postgresName" .) (include "store.medusa.databasePort" .) .Values.medusa.postgres.database | quote }}
- name: JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: jwt-secret
- name: COOKIE_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: cookie-secret
- name: STORE_ORIGINS
  value: {{ include "store.medusa.origins" . | quote }}
- name: NODE_ENV
  value: production
- name: MEDUSA_DISABLE_TELEMETRY
  value: "true"
- name: HOME
  value: /tmp
- name: WAIT_SECONDS
  value: {{ .Values.setup.waitSeconds | quote }}
{{- end -}}

{{/*
The keys of the generated credentials Secret.
*/}}
{{- define "store.medusa.secretKeys" -}}
{{- list "postgres-password" "database-password" "admin-password" "jwt-secret" "cookie-secret" | toJson -}}
{{- end -}}

{{/* The Service the store's Ingress sends its primary host to. */}}
{{- define "store.medusa.webService" -}}{{ include "store.medusa.webName" . }}{{- end -}}

{{/* Ingress annotations the engine needs on its primary host: none. */}}
{{- define "store.medusa.ingressAnnotations" -}}{}{{- end -}}
