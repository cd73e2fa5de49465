{{/*
WooCommerce engine: ports the shared guardrails ask for. Apache listens on 8080 because it runs as
www-data (33) and an unprivileged user cannot bind :80.
*/}}
{{- define "store.woocommerce.webPort" -}}8080{{- end -}}
{{- define "store.woocommerce.databasePort" -}}3306{{- end -}}
{{- /* The setup Job downloads WooCommerce and the theme from wordpress.org (or a mirror). */ -}}
{{- define "store.woocommerce.setupInternet" -}}true{{- end -}}
{{- /* WP-Cron runs as a CronJob (component `cron`) unless turned off. */ -}}
{{- define "store.woocommerce.cron" -}}{{ if .Values.cron.enabled }}true{{ else }}false{{ end }}{{- end -}}

{{/*
Environment both WordPress and WP-CLI need: wp-config.php (written by the web image's entrypoint
from wp-config-docker.php) reads the database settings and the salts from the environment on every
load, so the setup Job and the cron runs must carry the same variables. Extra PHP per caller comes
in as "extra". DISABLE_WP_CRON: WordPress would trigger cron with an HTTP call to its own public
URL, which cannot work from inside the pod; the cron CronJob runs due events instead.
*/}}
{{- define "store.woocommerce.wpEnv" -}}
{{- $root := index . 0 -}}
{{- $extra := index . 1 -}}
{{- $secret := include "store.credentialsSecret" $root -}}
- name: WORDPRESS_DB_HOST
  value: {{ include "store.componentName" (list $root "mariadb") | quote }}
- name: WORDPRESS_DB_NAME
  value: {{ $root.Values.mariadb.database | quote }}
- name: WORDPRESS_DB_USER
  value: {{ $root.Values.mariadb.user | quote }}
- name: WORDPRESS_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: mariadb-password
{{- range $key := list "AUTH_KEY" "SECURE_AUTH_KEY" "LOGGED_IN_KEY" "NONCE_KEY" "AUTH_SALT" "SECURE_AUTH_SALT" "LOGGED_IN_SALT" "NONCE_SALT" }}
- name: WORDPRESS_{{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key | lower | replace "_" "-" }}
{{- end }}
- name: WORDPRESS_CONFIG_EXTRA
  value: |
    define('WP_HOME', {{ include "store.url" $root | squote }});
    define('WP_SITEURL', {{ include "store.url" $root | squote }});
    define('FS_METHOD', 'direct');
    define('WP_MEMORY_LIMIT', '256M');
    define('AUTOMATIC_UPDATER_DISABLED', true);
    define('WP_AUTO_UPDATE_CORE', false);
    define('DISABLE_WP_CRON', true);
    {{- with $extra }}
    {{- . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/*
The keys of the generated credentials Secret. Salts are WordPress's cookie and nonce keys.
*/}}
{{- define "store.woocommerce.secretKeys" -}}
{{- list "mariadb-root-password" "mariadb-password" "admin-password" "auth-key" "secure-auth-key" "logged-in-key" "nonce-key" "auth-salt" "secure-auth-salt" "logged-in-salt" "nonce-salt" | toJson -}}
{{- end -}}

{{/* The Service the store's Ingress sends its primary host to. */}}
{{- define "store.woocommerce.webService" -}}{{ include "store.componentName" (list . "wordpress") }}{{- end -}}

{{/*
Ingress annotations the engine needs (JSON map): ingress-nginx refuses bodies above 1m by default,
so let uploads PHP accepts through (unless the environment set the annotation itself).
*/}}
{{- define "store.woocommerce.ingressAnnotations" -}}
{{- $bodySize := "nginx.ingress.kubernetes.io/proxy-body-size" -}}
{{- if and (eq .Values.ingress.className "nginx") (not (hasKey .Values.ingress.annotations $bodySize)) -}}
{{- dict $bodySize (.Values.wordpress.uploadMaxSize | lower) | toJson -}}
{{- else -}}
{}
{{- end -}}
{{- end -}}
