"""Server-side apply through the official Python client's dynamic client
(python3-kubernetes): create, update, conflict (409 naming the manager) and
force. Usage: ssa_py.py KUBECONFIG. Prints one line per step; exit 0 when
all steps behaved."""
import json
import sys

from kubernetes import config, dynamic
from kubernetes.dynamic.exceptions import DynamicApiError

api = config.new_client_from_config(config_file=sys.argv[1])
dyn = dynamic.DynamicClient(api)
cms = dyn.resources.get(api_version="v1", kind="ConfigMap")


def body(v):
    # the client sends an apply patch only when given as text (YAML; JSON is YAML)
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "py-ssa", "namespace": "default"}, "data": {"k": v}})


dyn.server_side_apply(cms, body=body("1"), name="py-ssa", namespace="default", field_manager="py-a")
print("created", cms.get(name="py-ssa", namespace="default").data.k)
dyn.server_side_apply(cms, body=body("2"), name="py-ssa", namespace="default", field_manager="py-a")
got = cms.get(name="py-ssa", namespace="default")
print("updated", got.data.k, got.metadata.managedFields[0].manager)
try:
    dyn.server_side_apply(cms, body=body("3"), name="py-ssa", namespace="default", field_manager="py-b")
    print("no conflict")
    sys.exit(1)
except DynamicApiError as e:
    text = e.body.decode() if isinstance(e.body, bytes) else str(e.body)
    print("conflict", e.status, 'conflict with \\"py-a\\"' in text)
    if e.status != 409:
        sys.exit(1)
dyn.server_side_apply(cms, body=body("3"), name="py-ssa", namespace="default", field_manager="py-b", force_conflicts=True)
print("forced", cms.get(name="py-ssa", namespace="default").data.k)
