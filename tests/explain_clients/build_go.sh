#!/usr/bin/env bash
# Builds s3_denied.go against Debian's aws-sdk-go (golang-github-aws-aws-sdk-go-dev), offline, in
# module (vendor) mode, as tests/sdk_matrix/setup.sh builds its Go client. Usage: build_go.sh OUT
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="$1"
CACHE="${SDK_MATRIX_CACHE:-/var/cache/ecs-credential-probe/sdk-matrix}"
GOSRC=/usr/share/gocode/src
awsver="$(dpkg-query -W -f='${Version}' golang-github-aws-aws-sdk-go-dev | sed 's/-[^-]*$//')"
jmesver="$(dpkg-query -W -f='${Version}' golang-github-jmespath-go-jmespath-dev | sed 's/-[^-]*$//')"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
mkdir -p "$build/vendor/github.com/aws" "$build/vendor/github.com/jmespath"
cp "$HERE/s3_denied.go" "$build/main.go"
ln -s "$GOSRC/github.com/aws/aws-sdk-go" "$build/vendor/github.com/aws/aws-sdk-go"
ln -s "$GOSRC/github.com/jmespath/go-jmespath" "$build/vendor/github.com/jmespath/go-jmespath"
printf 'module example.com/s3denied\n\ngo 1.19\n\nrequire github.com/aws/aws-sdk-go v%s\nrequire github.com/jmespath/go-jmespath v%s // indirect\n' "$awsver" "$jmesver" >"$build/go.mod"
python3 - "$build" "$awsver" "$jmesver" <<'PY'
import os, sys
build, awsver, jmesver = sys.argv[1:]
out = []
for mod, ver in (("github.com/aws/aws-sdk-go", awsver), ("github.com/jmespath/go-jmespath", jmesver)):
    out += [f"# {mod} v{ver}", "## explicit"]
    root = os.path.join(build, "vendor", mod)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if d not in ("testdata", "example", "examples") and not d.startswith((".", "_")))
        if any(f.endswith(".go") and not f.endswith("_test.go") for f in filenames):
            out.append(os.path.relpath(dirpath, os.path.join(build, "vendor")).replace(os.sep, "/"))
with open(os.path.join(build, "vendor", "modules.txt"), "w") as fh:
    fh.write("\n".join(out) + "\n")
PY
mkdir -p "$(dirname "$OUT")"
(cd "$build" && GOFLAGS=-mod=vendor GOPROXY=off GOSUMDB=off GOTOOLCHAIN=local CGO_ENABLED=0 \
    GOCACHE="$CACHE/.gocache" GOPATH="$CACHE/.gopath" go build -trimpath -o "$OUT" .)
echo "$awsver"
