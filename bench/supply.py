"""Supply-chain benchmark driver (see bench/supply.sh). Loopback only: the simulator and a
docker-registry started here on a free port."""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
PREFIX = "bench"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def request(method: str, url: str, body: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, dict(r.headers), r.read()


def digest(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


class Registry:
    def __init__(self, work: Path):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{s.getsockname()[1]}"
        s.close()
        cfg = work / "registry.yml"
        cfg.write_text(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {work / 'reg'}\nhttp:\n  addr: {self.host}\n")
        self.proc = subprocess.Popen([os.environ.get("CORTADO_DOCKER_REGISTRY", "/usr/bin/docker-registry"), "serve", str(cfg)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                if request("GET", f"http://{self.host}/v2/")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("docker-registry did not start")

    def blob(self, repo: str, b: bytes) -> str:
        d = digest(b)
        _, h, _ = request("POST", f"http://{self.host}/v2/{repo}/blobs/uploads/")
        loc = h["Location"]
        loc = loc if loc.startswith("http") else f"http://{self.host}{loc}"
        request("PUT", f"{loc}{'&' if '?' in loc else '?'}digest={d}", b, {"content-type": "application/octet-stream"})
        return d

    def manifest(self, repo: str, ref: str, m: dict) -> str:
        b = json.dumps(m).encode()
        request("PUT", f"http://{self.host}/v2/{repo}/manifests/{ref}", b, {"content-type": OCI_MANIFEST})
        return digest(b)

    def image(self, repo: str, seed: str) -> str:
        cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"seed": seed}}}).encode()
        layer = f"layer {seed}".encode()
        return self.manifest(repo, "v1", {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                          "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": self.blob(repo, cfg), "size": len(cfg)},
                                          "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": self.blob(repo, layer), "size": len(layer)}]})

    def sign(self, repo: str, d: str, key) -> None:
        payload = json.dumps({"critical": {"identity": {"docker-reference": f"{self.host}/{repo}"}, "image": {"docker-manifest-digest": d},
                                           "type": "cosign container image signature"}, "optional": None}).encode()
        sig = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
        self.manifest(repo, d.replace(":", "-") + ".sig", {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": self.blob(repo, b"{}"), "size": 2},
                      "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": self.blob(repo, payload), "size": len(payload),
                                  "annotations": {"dev.cosignproject.cosign/signature": sig}}]})


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cortado", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--images", type=int, default=4)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp())
    sim = subprocess.Popen([sys.executable, str(ROOT / "tests/sim/launcher.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    reg = None
    try:
        line = sim.stdout.readline()
        assert line.startswith("READY "), line
        url = line.split()[1]
        env = dict(os.environ, AWS_ENDPOINT_URL=url, AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION, AWS_ACCESS_KEY_ID="bench",
                   AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true", NO_COLOR="1", HOME=str(work))
        request("POST", f"{url}/_cortado/seed", json.dumps({"region": REGION, "prefix": PREFIX}).encode(), {"content-type": "application/json"})
        reg = Registry(work)
        key = ec.generate_private_key(ec.SECP256R1())
        proj = work / "p"
        proj.mkdir()
        (proj / "keys").mkdir()
        (proj / "keys/release.pub").write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        subprocess.run([a.cortado, "init", "--cluster", PREFIX, "--service", PREFIX], cwd=proj, env=env, check=True, capture_output=True)
        td = json.loads((proj / "ecs-task-def.json").read_text())
        base = td["containerDefinitions"][0]
        containers = []
        for i in range(a.images):
            repo = f"shop/app{i}"
            reg.sign(repo, reg.image(repo, f"s{i}"), key)
            containers.append(dict(base, name=f"app{i}", image=f"{reg.host}/{repo}:v1", essential=(i == 0)))
        td["containerDefinitions"] = containers
        (proj / "ecs-task-def.json").write_text(json.dumps(td, indent=2))
        plain = (proj / "cortado.yml").read_text()
        gate = (f"plugins:\n  - name: image-signature\n    enforcement: hard-mandatory\n    preopens: [keys]\n    grants:\n"
                f"      - {{action: \"registry:Read\", resource: \"{reg.host}/shop/*\"}}\n    config:\n      keys: [keys/release.pub]\n      images: [\"127.0.0.1:*/shop/**\"]\n")
        setups = {"baseline (tags)": plain, "pin_image_digests": plain + "pin_image_digests: true\n",
                  "pin + image-signature gate": plain + "pin_image_digests: true\n" + gate}
        cache = work / "components"
        results = {}
        for name, cfg in setups.items():
            (proj / "cortado.yml").write_text(cfg)
            times = {"cold": [], "cached": []}
            for _ in range(a.runs):
                shutil.rmtree(cache, ignore_errors=True)
                for kind in ("cold", "cached"):
                    t0 = time.monotonic()
                    out = subprocess.run([a.cortado, "deploy", "--dry-run"], cwd=proj, env=dict(env, CORTADO_CACHE_DIR=str(cache)), capture_output=True, text=True)
                    times[kind].append(time.monotonic() - t0)
                    if out.returncode != 0:
                        print(f"{name}: deploy --dry-run failed:\n{out.stderr}", file=sys.stderr)
                        return 1
            results[name] = {k: statistics.median(v) for k, v in times.items()}
        print(f"cortado deploy --dry-run, {a.images} images on a loopback registry, median of {a.runs} runs:")
        for name, r in results.items():
            print(f"  {name:28} cold {r['cold'] * 1000:7.0f} ms   cached {r['cached'] * 1000:7.0f} ms")
        b, p, g = (results[k] for k in setups)
        print(f"  per image, cached: pinning +{(p['cached'] - b['cached']) * 1000 / a.images:.1f} ms, signature verification +{(g['cached'] - p['cached']) * 1000 / a.images:.1f} ms")
        print(f"  cold (an empty compiled-plugin cache): the gate adds {(g['cold'] - p['cold']) * 1000:.0f} ms once, mostly compiling image-signature; "
              f"pinning cold +{(p['cold'] - b['cold']) * 1000 / a.images:.1f} ms per image")
        return 0
    finally:
        if reg:
            reg.proc.kill()
        sim.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
