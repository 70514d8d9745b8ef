#!/usr/bin/env bash
# Installs the real AWS SDKs the sdk-matrix tests (tests/test_sdk_matrix.py) run, each with a
# tiny "who am I" client, into $SDK_MATRIX_CACHE (default /var/cache/ecs-credential-probe/sdk-matrix):
#
#   js-v2-latest/   npm: aws-sdk 2.1693.0           (npm ci from the committed lockfile)
#   js-v2-2.4.6/    npm: aws-sdk 2.4.6              (before ECS credentials, 2.4.7)
#   js-v3/          npm: @aws-sdk/client-sts 3.1177.0 (credential-provider-node 3.972.99)
#   js-v2-2.62.0/, js-v2-2.63.0/  npm: aws-sdk 2.62.0 and 2.63.0 (the first that reads FULL_URI and
#                   AWS_CONTAINER_AUTHORIZATION_TOKEN), issue 21
#   js-v3-3.186.0/  npm: @aws-sdk/client-sts 3.186.0 (credential-provider-node 3.186.0; before
#                   credential-provider-http)
#   js-v3-3.423.0/  npm: @aws-sdk/client-sts 3.423.0 (credential-provider-node 3.423.0) beside
#                   @aws-sdk/credential-provider-http 3.422.0, its first release, which that chain
#                   does not use (no client-sts nor credential-provider-node 3.422.0 exists)
#   js-v3-3.503.1/  npm: @aws-sdk/client-sts 3.502.0 with credential-provider-node 3.503.1, the
#                   first whose chain has credential-provider-http (no client-sts 3.503.x exists;
#                   3.502.0 takes credential-provider-node as a peer, "*")
#   ../explain-js-v3/ npm: @aws-sdk/client-s3 3.1175.0 for tests/test_explain.py (its lockfile in tests/explain_clients/js-v3)
#   go-v1/whoami    Go aws-sdk-go 1.44.133 from Debian, built offline in module (vendor) mode
#   go-v2/whoami    Go aws-sdk-go-v2 from Debian (golang-github-aws-aws-sdk-go-v2-dev 1.17.1: config
#                   1.17.10, credentials 1.12.23), built the same way, each upstream module named
#                   at its own version (tests/sdk_matrix/govendor.py)
#   php-asyncaws/   AsyncAws core from Debian (php-async-aws-core 1.18.1, run with php-cli), copied
#                   as a root file system the probe can scan: usr/share/php/AsyncAws/Core and
#                   var/lib/dpkg/status (its stanza: the version)
#   py3-awscli-1.30.0/  pip --target: the AWS CLI v1 1.30.0, which pins botocore 1.32.0
#   py27-botocore-1.4.36/, py27-botocore-1.4.37/, py27-botocore-1.10.25/
#                   pip --target with Python 2.7, if there is one (1.10.25: the last before
#                   the container fetcher ignored proxies, and before web identity)
#   py3-botocore-1.31.85/, py3-botocore-1.32.0/  pip --target with the project's Python 3
#                   (.venv/bin/python, else python3): the last 1.31 release, and 1.32.0 (the first
#                   with the token file and the Pod Identity hosts)
#   Ruby aws-sdk-core 3.168.1, Go, aws-sdk-go(-v2) and AsyncAws come from Debian (apt-get);
#   botocore current is the one of the Python running the tests.
#
# Idempotent: what is there at the right version is kept (a warm run takes a second or two).
# Needs root for apt-get; everything else reaches only the npm registry and PyPI.
# Says what it does on stderr. A part that cannot be installed here (no Python 2.7 on a
# machine without pyenv; a Debian package the mirror does not have) is reported and skipped;
# the tests then skip (or fail in CI).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${SDK_MATRIX_CACHE:-/var/cache/ecs-credential-probe/sdk-matrix}"
SECONDS=0
say() { echo "sdk-matrix: $*" >&2; }
mkdir -p "$CACHE"

# ---- Debian packages ---------------------------------------------------------------------
APT_PKGS=(nodejs npm golang-go golang-github-aws-aws-sdk-go-dev ruby ruby-aws-sdk-core)
missing=()
for p in "${APT_PKGS[@]}"; do
    if [ "$p" = nodejs ] || [ "$p" = npm ]; then
        # Node may come from elsewhere (NodeSource, nvm): any node >= 14 with npm will do.
        if command -v node >/dev/null && command -v npm >/dev/null; then continue; fi
    fi
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # An old or missing package list finds nothing: update first.
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    say "Debian packages present: ${APT_PKGS[*]}"
fi
# Issue 21: Go v2 and AsyncAws. Optional: a release without them (they are in Debian 12) skips
# those columns; tests/sdk_matrix/matrix.py says why.
OPT_PKGS=(golang-github-aws-aws-sdk-go-v2-dev php-cli php-async-aws-core)
missing=()
for p in "${OPT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    [ -n "$(apt-cache policy "${missing[0]}" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -v '(none)')" ] || apt-get update -qq
    have=()
    for p in "${missing[@]}"; do
        cand="$(apt-cache policy "$p" 2>/dev/null | sed -n 's/^ *Candidate: //p')"
        if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
            say "warning: the Debian mirror has no $p: its sdk-matrix column is skipped"
        else
            have+=("$p")
        fi
    done
    if [ ${#have[@]} -gt 0 ]; then
        say "apt-get install ${have[*]}"
        apt-get install -y -qq --no-install-recommends "${have[@]}" >/dev/null
    fi
else
    say "Debian packages present: ${OPT_PKGS[*]}"
fi

# ---- Node SDKs: npm ci from the committed lockfiles ----------------------------------------
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
    # Debian 12's own nodejs is 18; @aws-sdk/client-sts 3.1177 declares node >= 20.
    say "warning: node $(node --version) is older than the 20 that @aws-sdk 3.1177 declares"
fi
# npm_ci NAME DEST FILE...: copy the files (package.json and its lockfile first) to DEST and
# `npm ci` there, unless the stamp says these very files are installed.
npm_ci() {
    local name="$1" dest="$2"; shift 2
    local stamp="$dest/.installed" want
    want="$(cat "$@" | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$dest/node_modules" ]; then
        say "$name: up to date"
        return
    fi
    say "$name: npm ci"
    rm -rf "$dest"
    mkdir -p "$dest"
    cp "$@" "$dest/"
    (cd "$dest" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$want" >"$stamp"
}
for dir in js-v2-latest js-v2-2.4.6 js-v3 js-v2-2.62.0 js-v2-2.63.0 js-v3-3.186.0 js-v3-3.423.0 js-v3-3.503.1; do
    npm_ci "$dir" "$CACHE/$dir" "$HERE/$dir/package.json" "$HERE/$dir/package-lock.json" "$HERE/clients/whoami.js"
done

# The JavaScript v3 S3 client tests/test_explain.py runs (a real AccessDenied as apps log it).
npm_ci explain-js-v3 "$(dirname "$CACHE")/explain-js-v3" \
    "$HERE/../explain_clients/js-v3/package.json" "$HERE/../explain_clients/js-v3/package-lock.json"

# ---- Go aws-sdk-go v1 (Debian source), built offline --------------------------------------
# Module mode with a vendor/ folder made from the Debian source: the binary's build info then
# names github.com/aws/aws-sdk-go v1.44.133 exactly as a real application's would.
GOSRC=/usr/share/gocode/src
dest="$CACHE/go-v1"
stamp="$dest/.installed"
awsver="$(dpkg-query -W -f='${Version}' golang-github-aws-aws-sdk-go-dev | sed 's/-[^-]*$//')"
jmesver="$(dpkg-query -W -f='${Version}' golang-github-jmespath-go-jmespath-dev 2>/dev/null | sed 's/-[^-]*$//' || true)"
want="$( (cat "$HERE/clients/whoami.go"; echo "$awsver $jmesver"; go version) | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$dest/whoami" ]; then
    say "go-v1: up to date (aws-sdk-go $awsver)"
else
    say "go-v1: go build (aws-sdk-go $awsver, offline, vendor mode)"
    build="$(mktemp -d)"
    trap 'rm -rf "$build"' EXIT
    mkdir -p "$build/vendor/github.com/aws" "$build/vendor/github.com/jmespath"
    cp "$HERE/clients/whoami.go" "$build/main.go"
    ln -s "$GOSRC/github.com/aws/aws-sdk-go" "$build/vendor/github.com/aws/aws-sdk-go"
    ln -s "$GOSRC/github.com/jmespath/go-jmespath" "$build/vendor/github.com/jmespath/go-jmespath"
    {
        echo "module example.com/whoami"
        echo
        echo "go 1.19"
        echo
        echo "require github.com/aws/aws-sdk-go v$awsver"
        echo "require github.com/jmespath/go-jmespath v$jmesver // indirect"
    } >"$build/go.mod"
    python3 - "$build" "$awsver" "$jmesver" <<'PY'
import os, sys
build, awsver, jmesver = sys.argv[1:]
out = []
for mod, ver, explicit in (("github.com/aws/aws-sdk-go", awsver, True), ("github.com/jmespath/go-jmespath", jmesver, True)):
    out.append(f"# {mod} v{ver}")
    out.append("## explicit")
    root = os.path.join(build, "vendor", mod)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if d not in ("testdata", "example", "examples") and not d.startswith((".", "_")))
        if any(f.endswith(".go") and not f.endswith("_test.go") for f in filenames):
            rel = os.path.relpath(dirpath, os.path.join(build, "vendor"))
            out.append(rel.replace(os.sep, "/"))
with open(os.path.join(build, "vendor", "modules.txt"), "w") as fh:
    fh.write("\n".join(out) + "\n")
PY
    mkdir -p "$dest"
    (cd "$build" && GOFLAGS=-mod=vendor GOPROXY=off GOSUMDB=off GOTOOLCHAIN=local CGO_ENABLED=0 \
        GOCACHE="$CACHE/.gocache" GOPATH="$CACHE/.gopath" go build -trimpath -o "$dest/whoami" .)
    echo "$want" >"$stamp"
    rm -rf "$build"
    trap - EXIT
fi

# ---- Go aws-sdk-go-v2 (Debian source), built offline -----------------------------------------
# Debian ships the whole tree without its submodules' go.mod files; govendor.py names each
# upstream module (config, credentials, service/sts, ...) at the version its
# go_module_metadata.go says, so the binary's build info is what a real application's would be.
dest="$CACHE/go-v2"
V2SRC="$GOSRC/github.com/aws/aws-sdk-go-v2"
if ! dpkg-query -W -f='${Status}' golang-github-aws-aws-sdk-go-v2-dev 2>/dev/null | grep -q "install ok installed"; then
    say "go-v2: golang-github-aws-aws-sdk-go-v2-dev not installed: skipped"
    rm -rf "$dest"
else
    v2ver="$(dpkg-query -W -f='${Version}' golang-github-aws-aws-sdk-go-v2-dev | sed 's/-[^-]*$//')"
    smithyver="$(dpkg-query -W -f='${Version}' golang-github-aws-smithy-go-dev | sed 's/-[^-]*$//')"
    stamp="$dest/.installed"
    want="$( (cat "$HERE/clients/whoami_v2.go" "$HERE/govendor.py"; echo "$v2ver $smithyver $jmesver"; go version) | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$dest/whoami" ]; then
        say "go-v2: up to date (aws-sdk-go-v2 $v2ver)"
    else
        say "go-v2: go build (aws-sdk-go-v2 $v2ver, offline, vendor mode)"
        build="$(mktemp -d)"
        trap 'rm -rf "$build"' EXIT
        cp "$HERE/clients/whoami_v2.go" "$build/main.go"
        python3 "$HERE/govendor.py" "$build" \
            "github.com/aws/aws-sdk-go-v2=$V2SRC" \
            "github.com/aws/smithy-go=$GOSRC/github.com/aws/smithy-go@$smithyver" \
            "github.com/jmespath/go-jmespath=$GOSRC/github.com/jmespath/go-jmespath@$jmesver"
        rm -rf "$dest"
        mkdir -p "$dest"
        (cd "$build" && GOFLAGS=-mod=vendor GOPROXY=off GOSUMDB=off GOTOOLCHAIN=local CGO_ENABLED=0 \
            GOCACHE="$CACHE/.gocache" GOPATH="$CACHE/.gopath" go build -trimpath -o "$dest/whoami" .)
        go version -m "$dest/whoami" | grep -E 'aws-sdk-go-v2/(config|credentials)\s' | sed 's/^/sdk-matrix: go-v2: /' >&2
        echo "$want" >"$stamp"
        rm -rf "$build"
        trap - EXIT
    fi
fi

# ---- AsyncAws (Debian php-async-aws-core) as a root file system ------------------------------
# The client runs the copy (include_path: the copy first, then /usr/share/php for Symfony and
# PSR), so what the probe scans under this root is what ran.
dest="$CACHE/php-asyncaws"
if ! dpkg-query -W -f='${Status}' php-async-aws-core 2>/dev/null | grep -q "install ok installed" || ! command -v php >/dev/null; then
    say "php-asyncaws: php-async-aws-core or php-cli not installed: skipped"
    rm -rf "$dest"
else
    asyncver="$(dpkg-query -W -f='${Version}' php-async-aws-core)"
    want="$( (cat "$HERE/clients/whoami.php"; echo "$asyncver"; php -r 'echo PHP_VERSION;') | sha256sum | cut -d' ' -f1)"
    if [ -f "$dest/.installed" ] && [ "$(cat "$dest/.installed")" = "$want" ]; then
        say "php-asyncaws: up to date (php-async-aws-core $asyncver)"
    else
        say "php-asyncaws: copy of php-async-aws-core $asyncver"
        rm -rf "$dest"
        mkdir -p "$dest/usr/share/php/AsyncAws" "$dest/var/lib/dpkg"
        cp -a /usr/share/php/AsyncAws/Core "$dest/usr/share/php/AsyncAws/Core"
        { dpkg-query -s php-async-aws-core; echo; } >"$dest/var/lib/dpkg/status"
        php -d include_path="$dest/usr/share/php:/usr/share/php" -r 'require "AsyncAws/Core/autoload.php";
            $f = (new ReflectionClass(AsyncAws\Core\Sts\StsClient::class))->getFileName();
            if (strpos($f, $argv[1]) !== 0) { fwrite(STDERR, "loads $f, not the copy\n"); exit(1); }
            fwrite(STDERR, "sdk-matrix: php-asyncaws: loads from the copy (PHP " . PHP_VERSION . ")\n");' "$dest/"
        echo "$want" >"$dest/.installed"
    fi
fi

# ---- Ruby aws-sdk-core (Debian) -------------------------------------------------------------
ruby -e 'require "aws-sdk-core"; warn "sdk-matrix: ruby: aws-sdk-core #{Aws::CORE_GEM_VERSION} loads"' ||
    { say "ruby: aws-sdk-core does not load"; exit 1; }

# ---- botocore 1.4.x on Python 2.7 ----------------------------------------------------------
PY27=""
for c in "${SDK_MATRIX_PY27:-}" /root/.pyenv/versions/2.7.18/bin/python "$(command -v python2.7 || true)"; do
    if [ -n "$c" ] && [ -x "$c" ]; then PY27="$c"; break; fi
done
if [ -z "$PY27" ]; then
    for c in /root/.pyenv/versions/2.7*/bin/python; do [ -x "$c" ] && PY27="$c" && break; done
fi
if [ -z "$PY27" ]; then
    say "py27: no Python 2.7 here (Debian 12 has none; pyenv install 2.7.18 gives one): botocore 1.4.x skipped"
else
    echo "$PY27" >"$CACHE/py27-python"
    for ver in 1.4.36 1.4.37 1.10.25; do
        dest="$CACHE/py27-botocore-$ver"
        if [ -f "$dest/.installed" ] && [ "$(cat "$dest/.installed")" = "$ver $PY27" ]; then
            say "py27-botocore-$ver: up to date"
            continue
        fi
        say "py27-botocore-$ver: pip install --target with $PY27"
        rm -rf "$dest"
        "$PY27" -m pip install -q --disable-pip-version-check --no-warn-script-location \
            --target "$dest" "botocore==$ver" >&2
        echo "$ver $PY27" >"$dest/.installed"
    done
fi

# ---- botocore 1.31 on Python 3 -----------------------------------------------------------------
# Run by the tests with the Python that runs them (PYTHONPATH = the target), so installed with
# the project's own Python: pip picks the dependencies (urllib3 < 2.1) for that version.
PY3="${SDK_MATRIX_PY3:-}"
if [ -z "$PY3" ]; then
    if [ -x "$HERE/../../.venv/bin/python" ]; then PY3="$(cd "$HERE/../.." && pwd)/.venv/bin/python"; else PY3="$(command -v python3)"; fi
fi
for ver in 1.31.85 1.32.0; do
    dest="$CACHE/py3-botocore-$ver"
    pyver="$("$PY3" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    if [ -f "$dest/.installed" ] && [ "$(cat "$dest/.installed")" = "$ver $pyver" ]; then
        say "py3-botocore-$ver: up to date (Python $pyver)"
        continue
    fi
    say "py3-botocore-$ver: pip install --target with $PY3 (Python $pyver)"
    rm -rf "$dest"
    "$PY3" -m pip install -q --disable-pip-version-check --no-warn-script-location --no-compile \
        --target "$dest" "botocore==$ver" >&2
    # (pip's complaints above are about the venv's own boto3/botocore, not the target.)
    # It must load on this Python (botocore 1.31 predates 3.12's removals) from the target.
    "$PY3" -I -B -c 'import sys; sys.path.insert(0, sys.argv[1]); import botocore.session, botocore
assert botocore.__file__.startswith(sys.argv[1]), botocore.__file__
botocore.session.get_session().create_client("sts", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
sys.stderr.write("sdk-matrix: py3-botocore: botocore %s loads on Python %s\n" % (botocore.__version__, sys.version.split()[0]))' "$dest"
    echo "$ver $pyver" >"$dest/.installed"
done

# ---- the AWS CLI v1 on Python 3 --------------------------------------------------------------
# awscli 1.30.0 pins botocore 1.32.0 (its first release with the token file and the Pod Identity
# hosts); run as `aws sts get-caller-identity` (the target's bin/aws with the same Python).
for ver in 1.30.0; do
    dest="$CACHE/py3-awscli-$ver"
    pyver="$("$PY3" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    if [ -f "$dest/.installed" ] && [ "$(cat "$dest/.installed")" = "$ver $pyver" ]; then
        say "py3-awscli-$ver: up to date (Python $pyver)"
        continue
    fi
    say "py3-awscli-$ver: pip install --target with $PY3 (Python $pyver)"
    rm -rf "$dest"
    "$PY3" -m pip install -q --disable-pip-version-check --no-warn-script-location --no-compile \
        --target "$dest" "awscli==$ver" >&2
    PYTHONPATH="$dest" "$PY3" -B "$dest/bin/aws" --version >&2
    "$PY3" -I -B -c 'import sys; sys.path.insert(0, sys.argv[1]); import awscli, botocore
assert awscli.__file__.startswith(sys.argv[1]) and botocore.__file__.startswith(sys.argv[1])
sys.stderr.write("sdk-matrix: py3-awscli: awscli %s with botocore %s\n" % (awscli.__version__, botocore.__version__))' "$dest"
    echo "$ver $pyver" >"$dest/.installed"
done

say "ready in $CACHE (${SECONDS} s)"
