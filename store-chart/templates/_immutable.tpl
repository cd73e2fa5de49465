{{/*
Values that only apply when an object is first created. A change on upgrade would be refused by
the API server half-way through the release (StatefulSet volumeClaimTemplates are immutable) or
silently ignored (a database and user the image creates only on first start), so the chart refuses
it while rendering, against the live object (`lookup`; a first install or a client-side render has
nothing to compare and passes). The values as given are kept in annotations: the API server
rewrites quantities ("1024Mi" becomes "1Gi"), so the live spec alone would refuse an unchanged value.
*/}}

{{/*
store.assertUnchanged (dict "key" "mariadb.user" "was" <live value or ""> "now" <value> "how" <what to do>)
*/}}
{{- define "store.assertUnchanged" -}}
{{- if and .was (ne (toString .was) (toString .now)) -}}
{{- fail (printf "%s cannot change after install (it is %q, the upgrade asks for %q): %s" .key (toString .was) (toString .now) .how) -}}
{{- end -}}
{{- end -}}

{{/*
store.volumeAnnotations (dict "size" <size> "class" <storageClassName>): the values as given.
*/}}
{{- define "store.volumeAnnotations" -}}
storeplane.io/volume-size: {{ .size | quote }}
storeplane.io/storage-class: {{ .class | quote }}
{{- end -}}

{{/*
store.assertVolumeUnchanged (dict "key" "mariadb.persistence" "live" <live object or nil>
  "spec" <live claim spec> "size" <size> "class" <class>): refuses a new size or StorageClass.
Objects from chart versions without the annotations are compared with their live spec.
*/}}
{{- define "store.assertVolumeUnchanged" -}}
{{- if .live -}}
{{- $annotations := .live.metadata.annotations | default dict -}}
{{- $spec := .spec | default dict -}}
{{- $wasSize := index $annotations "storeplane.io/volume-size" | default (dig "resources" "requests" "storage" "" $spec) -}}
{{- $how := "volumes cannot be resized or moved by an upgrade; see docs/operations.md §6 \"Resizing a store's volume\" (expand the claim by hand where the StorageClass allows it, or back up and restore into a new store), then upgrade with the new value" -}}
{{- include "store.assertUnchanged" (dict "key" (printf "%s.size" .key) "was" $wasSize "now" .size "how" $how) -}}
{{- if hasKey $annotations "storeplane.io/storage-class" -}}
{{- $wasClass := index $annotations "storeplane.io/storage-class" -}}
{{- if ne $wasClass (toString .class) -}}
{{- fail (printf "%s.storageClassName cannot change after install (it is %q, the upgrade asks for %q): %s" .key $wasClass (toString .class) $how) -}}
{{- end -}}
{{- else if and .class (ne (toString .class) (toString (dig "storageClassName" "" $spec))) -}}
{{- fail (printf "%s.storageClassName cannot change after install (it is %q, the upgrade asks for %q): %s" .key (toString (dig "storageClassName" "" $spec)) (toString .class) $how) -}}
{{- end -}}
{{- end -}}
{{- end -}}
