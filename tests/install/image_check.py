#!/usr/bin/env python3
"""image_check.py ARCHIVE DIR: unpacks an OCI archive (index -> manifest ->
config and layers) into DIR/rootfs and prints the image config as JSON on
stdout, so tests/install/run can check it and chroot into the filesystem."""
import json
import os
import sys
import tarfile


def blob(root, digest):
    algo, hexd = digest.split(":", 1)
    return os.path.join(root, "blobs", algo, hexd)


def main():
    archive, out = sys.argv[1], sys.argv[2]
    oci = os.path.join(out, "oci")
    rootfs = os.path.join(out, "rootfs")
    os.makedirs(oci, exist_ok=True)
    os.makedirs(rootfs, exist_ok=True)
    with tarfile.open(archive) as t:
        t.extractall(oci)
    layout = json.load(open(os.path.join(oci, "oci-layout")))
    if layout.get("imageLayoutVersion") != "1.0.0":
        sys.exit("not an OCI layout: %s" % layout)
    index = json.load(open(os.path.join(oci, "index.json")))
    manifest = json.load(open(blob(oci, index["manifests"][0]["digest"])))
    config = json.load(open(blob(oci, manifest["config"]["digest"])))
    for layer in manifest["layers"]:
        with tarfile.open(blob(oci, layer["digest"])) as t:
            t.extractall(rootfs, numeric_owner=True)
    config["_manifestMediaType"] = manifest.get("mediaType", index["manifests"][0].get("mediaType"))
    config["_refName"] = index["manifests"][0].get("annotations", {}).get("org.opencontainers.image.ref.name")
    json.dump(config, sys.stdout)


if __name__ == "__main__":
    main()
