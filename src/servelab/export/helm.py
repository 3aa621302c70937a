"""A small Helm chart for one engine server (Chart.yaml, values.yaml, templates/).

The chart is generated per recipe: values carry the engine's arguments and the secure
defaults; templates stay plain (toYaml, if, quote) so they read like the k8s export.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from servelab import __version__
from servelab.export.container import ContainerSpec, Mount, container_spec
from servelab.export.kubernetes import (
    API_KEY_SECRET_KEY,
    PROBE_PERIOD_S,
    api_key_secret,
    container_security,
    escape_expansion,
    pod_security,
    server_uid,
    startup_budget,
)
from servelab.export.options import ExportOptions
from servelab.export.sizing import hub_env, image_notes, resources_for, sizing_notes
from servelab.export.yamltext import dump
from servelab.recipe import Recipe

_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


@dataclass
class ChartFlavour:
    """What differs between a plain Helm chart and an appliance's app chart."""

    name: str  # chart and object names
    object_name: str  # template expression (or literal) for object names
    volume_source: Callable[[Mount, str], str]  # YAML lines of a volume's source, indented
    secret_name: str  # the Secret holding the API key
    extra_values: dict[str, Any]


def value_key(mount: Mount) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", mount.name) or "data"


def split_image(image: str) -> tuple[str, str]:
    """repository, tag ("latest" when the image names none)."""
    repository, _, tag = image.rpartition(":")
    if not repository or "/" in tag:
        return image, "latest"
    return repository, tag


def chart_values(spec: ContainerSpec, opts: ExportOptions, secret_name: str) -> dict[str, Any]:
    repository, tag = split_image(spec.image)
    uid = server_uid(spec, opts)
    return {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"},
        "args": escape_expansion(spec.args),
        "containerPort": spec.port,
        "apiKey": {
            "env": spec.api_key_env,
            "secretName": secret_name,
            "secretKey": API_KEY_SECRET_KEY,
        },
        "env": [
            {
                "name": name,
                "valueFrom": {
                    "secretKeyRef": {
                        "name": secret_name,
                        "key": name.lower().replace("_", "-"),
                        "optional": True,
                    }
                },
            }
            for name in hub_env(spec)
        ]
        + [{"name": key, "value": value} for key, value in spec.env.items()],
        "gpus": spec.gpus,
        "resources": {"requests": resources_for(opts, 0).get("requests", {})},
        "sharedMemory": {"enabled": spec.shared_memory, "sizeLimit": opts.shm_size},
        "persistence": {
            value_key(m): {
                "mountPath": m.path,
                "readOnly": m.read_only,
                "size": opts.cache_size,
                "storageClass": opts.storage_class or "",
            }
            for m in spec.mounts
        },
        "service": {"type": "ClusterIP", "port": spec.port},
        "probes": {
            "periodSeconds": PROBE_PERIOD_S,
            "startupFailureThreshold": -(-startup_budget(spec, opts) // PROBE_PERIOD_S),
        },
        "podSecurityContext": pod_security(uid),
        "securityContext": container_security(uid is not None),
        "nodeSelector": {},
        "tolerations": [],
    }


def chart_yaml(name: str, recipe: Recipe, spec: ContainerSpec) -> dict[str, Any]:
    version = recipe.version if _SEMVER.match(recipe.version) else "0.1.0"
    return {
        "apiVersion": "v2",
        "name": name,
        "description": recipe.description or f"{recipe.name} served by {recipe.engine.name}",
        "type": "application",
        "version": version,
        "appVersion": split_image(spec.image)[1],
    }


def _labels(name: str, indent: int) -> str:
    pad = " " * indent
    return (
        f"{pad}app.kubernetes.io/name: {{{{ .Chart.Name }}}}\n"
        f"{pad}app.kubernetes.io/instance: {name}\n"
    )


def _probe(kind: str, health: str, failures: str, period: str) -> str:
    return (
        f"          {kind}:\n"
        f"            httpGet:\n"
        f"              path: {health}\n"
        f"              port: http\n"
        f"            periodSeconds: {period}\n"
        f"            timeoutSeconds: 5\n"
        f"            failureThreshold: {failures}\n"
    )


def deployment_template(spec: ContainerSpec, flavour: ChartFlavour) -> str:
    name = flavour.object_name
    mounts = "".join(
        f"            - name: {m.name}\n"
        f"              mountPath: {{{{ .Values.persistence.{value_key(m)}.mountPath }}}}\n"
        f"              readOnly: {{{{ .Values.persistence.{value_key(m)}.readOnly }}}}\n"
        for m in spec.mounts
    )
    volumes = "".join(
        f"        - name: {m.name}\n" + flavour.volume_source(m, name) for m in spec.mounts
    )
    period = "{{ .Values.probes.periodSeconds }}"
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        f"  name: {name}\n  labels:\n{_labels(name, 4)}"
        "spec:\n  replicas: 1\n  strategy:\n    type: Recreate\n"
        f"  selector:\n    matchLabels:\n{_labels(name, 6)}"
        f"  template:\n    metadata:\n      labels:\n{_labels(name, 8)}"
        "    spec:\n      automountServiceAccountToken: false\n      enableServiceLinks: false\n"
        "      securityContext:\n        {{- toYaml .Values.podSecurityContext | nindent 8 }}\n"
        "      nodeSelector:\n        {{- toYaml .Values.nodeSelector | nindent 8 }}\n"
        "      tolerations:\n        {{- toYaml .Values.tolerations | nindent 8 }}\n"
        "      containers:\n        - name: server\n"
        '          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"\n'
        "          imagePullPolicy: {{ .Values.image.pullPolicy }}\n"
        "          args:\n            {{- toYaml .Values.args | nindent 12 }}\n"
        "          ports:\n            - name: http\n"
        "              containerPort: {{ .Values.containerPort }}\n              protocol: TCP\n"
        "          env:\n            - name: {{ .Values.apiKey.env }}\n"
        "              valueFrom:\n                secretKeyRef:\n"
        "                  name: {{ .Values.apiKey.secretName }}\n"
        "                  key: {{ .Values.apiKey.secretKey }}\n"
        "            {{- if .Values.env }}\n"
        "            {{- toYaml .Values.env | nindent 12 }}\n"
        "            {{- end }}\n"
        "          resources:\n            requests:\n"
        "              {{- toYaml .Values.resources.requests | nindent 14 }}\n"
        "            {{- if .Values.gpus }}\n"
        "            limits:\n              nvidia.com/gpu: {{ .Values.gpus }}\n"
        "            {{- end }}\n"
        f"          volumeMounts:\n{mounts}"
        "            {{- if .Values.sharedMemory.enabled }}\n"
        "            - name: dshm\n              mountPath: /dev/shm\n"
        "            {{- end }}\n"
        + _probe(
            "startupProbe", spec.health_path, "{{ .Values.probes.startupFailureThreshold }}", period
        )
        + _probe("readinessProbe", spec.health_path, "3", period)
        + _probe("livenessProbe", spec.health_path, "6", "30")
        + "          securityContext:\n"
        "            {{- toYaml .Values.securityContext | nindent 12 }}\n"
        f"      volumes:\n{volumes}"
        "        {{- if .Values.sharedMemory.enabled }}\n"
        "        - name: dshm\n          emptyDir:\n            medium: Memory\n"
        "            sizeLimit: {{ .Values.sharedMemory.sizeLimit }}\n"
        "        {{- end }}\n"
    )


def service_template(flavour: ChartFlavour) -> str:
    name = flavour.object_name
    return (
        "apiVersion: v1\nkind: Service\nmetadata:\n"
        f"  name: {name}\n  labels:\n{_labels(name, 4)}"
        "spec:\n  type: {{ .Values.service.type }}\n"
        f"  selector:\n{_labels(name, 4)}"
        "  ports:\n    - name: http\n      port: {{ .Values.service.port }}\n"
        "      targetPort: http\n      protocol: TCP\n"
    )


def pvc_source(mount: Mount, name: str) -> str:
    return (
        f"          persistentVolumeClaim:\n            claimName: {name}-{mount.name}\n"
        f"            readOnly: {{{{ .Values.persistence.{value_key(mount)}.readOnly }}}}\n"
    )


def pvc_template(spec: ContainerSpec, flavour: ChartFlavour) -> str:
    name = flavour.object_name
    documents = []
    for mount in spec.mounts:
        key = f".Values.persistence.{value_key(mount)}"
        documents.append(
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n"
            f"  name: {name}-{mount.name}\n  labels:\n{_labels(name, 4)}"
            "spec:\n  accessModes:\n    - ReadWriteOnce\n"
            f"  {{{{- if {key}.storageClass }}}}\n"
            f"  storageClassName: {{{{ {key}.storageClass }}}}\n  {{{{- end }}}}\n"
            f"  resources:\n    requests:\n      storage: {{{{ {key}.size }}}}\n"
        )
    return "---\n".join(documents)


def notes_text(spec: ContainerSpec, name: str) -> str:
    return (
        f"{{{{ .Chart.Name }}}} serves its model on port {spec.port} inside the cluster "
        "(Service type ClusterIP).\n"
        "The API key is read from the Secret named in values apiKey.secretName; create it "
        "before installing:\n"
        "  kubectl create secret generic {{ .Values.apiKey.secretName }} "
        f'--from-literal={API_KEY_SECRET_KEY}="$SERVELAB_API_KEY"\n'
        f"Reach it with: kubectl port-forward svc/{name} {spec.port}:{spec.port}\n"
    )


def chart_files(
    recipe: Recipe,
    opts: ExportOptions,
    flavour: ChartFlavour | None = None,
    spec: ContainerSpec | None = None,
) -> dict[str, str]:
    """Relative path → text of every file in the chart."""
    spec = spec or container_spec(recipe)
    flavour = flavour or ChartFlavour(
        name=spec.app,
        object_name="{{ .Release.Name }}",
        volume_source=pvc_source,
        secret_name=api_key_secret(spec.app),
        extra_values={},
    )
    values = chart_values(spec, opts, flavour.secret_name) | flavour.extra_values
    header = (
        f"# servelab {__version__}: {recipe.name} {recipe.version} "
        f"(recipe hash {recipe.hash}). The API key is never written here.\n"
    ) + "".join(f"# {line}\n" for line in sizing_notes(opts) + image_notes(spec))
    files = {
        "Chart.yaml": dump(chart_yaml(flavour.name, recipe, spec)),
        "values.yaml": header + dump(values),
        "templates/deployment.yaml": deployment_template(spec, flavour),
        "templates/service.yaml": service_template(flavour),
        "templates/NOTES.txt": notes_text(spec, flavour.object_name),
    }
    if spec.mounts and flavour.volume_source is pvc_source:
        files["templates/pvc.yaml"] = pvc_template(spec, flavour)
    return files
