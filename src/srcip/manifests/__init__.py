"""Kubernetes manifests → :class:`srcip.model.objects.Cluster`.

Reads what users already have — ``kubectl apply`` YAML, ``kubectl get -o yaml|json`` dumps
(``kind: List``), kubeadm's ``kube-proxy`` ConfigMap — and converts each object once into the
model's typed, frozen objects, so the model never sees a dict. Validation follows the
apiserver (KP §16): a manifest it would refuse is refused here with a
:class:`srcip.errors.ManifestError` naming the file, document, object, field, value and fix.
What the apiserver would allocate (ClusterIPs, nodePorts, health-check ports) is allocated
deterministically. Kinds kube-proxy does not read are skipped and listed in
``Cluster.notes``.

Only this package imports lightkube's generated models (used as schemas) and YAML.
"""

from __future__ import annotations

from srcip.manifests.convert import convert_documents
from srcip.manifests.loader import collector_paused, load_cluster, read_documents

__all__ = ["collector_paused", "convert_documents", "load_cluster", "read_documents"]
