{{/*
The ingress controller's pods as NetworkPolicy peers, from networkPolicy.ingressController.peers
(a list, so an environment's values replace it whole). Used by the web, ACME-solver and
order-test policies.
*/}}
{{- define "store.ingressControllerPeers" -}}
{{- range .Values.networkPolicy.ingressController.peers }}
- namespaceSelector:
    matchLabels:
      {{- toYaml .namespaceSelector | nindent 6 }}
  {{- with .podSelector }}
  podSelector:
    matchLabels:
      {{- toYaml . | nindent 6 }}
  {{- end }}
{{- end }}
{{- end -}}
