#!/bin/sh
# ecs-shim.sh: the POSIX sh twin of `shim` (ecs-credential-probe), for images without Python.
#
# Writes the container's credential variables (present in this environment) into
# /etc/profile.d/ecs-credentials.sh and ~/.profile, so processes started later with a
# fresh environment (cron, su -, sshd, login shells, ECS Exec) get the task role instead of
# silently falling back to the EC2 instance role; then execs COMMAND, which keeps PID 1.
#
# usage: ecs-shim.sh [--profile PATH ...] [--no-default-profiles] [--environment-file [PATH]]
#                    [--var NAME ...] [--wait SECONDS] [--strict] [--] [COMMAND [ARG ...]]
#
# Plain POSIX sh: no bash-isms, no binutils. Needs mv, ls and chown; --wait needs curl or wget
# (and cat, wc, tr, sleep, mktemp or mkdir).

BEGIN='# >>> ecs-credential-probe shim >>>'
END='# <<< ecs-credential-probe shim <<<'
VARS='AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE ECS_CONTAINER_METADATA_URI ECS_CONTAINER_METADATA_URI_V4 ECS_AGENT_URI AWS_REGION AWS_DEFAULT_REGION AWS_EXECUTION_ENV'
PROFILE_D=/etc/profile.d/ecs-credentials.sh
NL='
'

say() { printf 'shim: %s\n' "$*" >&2; }
set -f  # no pathname expansion of anything below

usage() {
    say "usage: shim [--profile PATH ...] [--no-default-profiles] [--environment-file [PATH]] [--var NAME ...] [--wait SECONDS] [--strict] [--] [COMMAND [ARG ...]]"
    exit 2
}

profiles=''        # newline-separated extra profile paths
extra_vars=''
default_profiles=1
env_file=''
wait_s=''
wait_set=0
strict=0

while [ $# -gt 0 ]; do
    case $1 in
        --profile) [ $# -ge 2 ] || usage; profiles="$profiles$2$NL"; shift 2 ;;
        --profile=*) profiles="$profiles${1#*=}$NL"; shift ;;
        --no-default-profiles) default_profiles=0; shift ;;
        --environment-file=*) env_file=${1#*=}; shift ;;
        --environment-file)
            shift
            case ${1-} in
                ''|-*) env_file=/etc/environment ;;
                *) env_file=$1; shift ;;
            esac ;;
        --var|--var=*)
            if [ "$1" = --var ]; then [ $# -ge 2 ] || usage; _v=$2; shift 2; else _v=${1#*=}; shift; fi
            case $_v in
                ''|[0-9]*|*[!A-Za-z0-9_]*) say "ignoring --var '$_v': not a variable name" ;;
                *) extra_vars="$extra_vars $_v" ;;
            esac ;;
        --wait) [ $# -ge 2 ] || usage; wait_s=$2; wait_set=1; shift 2 ;;
        --wait=*) wait_s=${1#*=}; wait_set=1; shift ;;
        --strict) strict=1; shift ;;
        -V|--version) echo "shim (ecs-credential-probe) 0.1.0"; exit 0 ;;
        -h|--help) usage ;;
        --) shift; break ;;
        -*) say "unknown option $1"; usage ;;
        *) break ;;
    esac
done

if [ "$wait_set" = 1 ]; then
    case $wait_s in
        ''|*[!0-9.]*|*.*.*|.*|*.) say "--wait needs a number of seconds, not '$wait_s'"; exit 2 ;;
    esac
fi

# --- which variables ---------------------------------------------------------------
names=''
private=0
for name in $VARS $extra_vars; do
    case " $names " in *" $name "*) continue ;; esac
    eval "present=\${$name+x}"
    [ "$present" = x ] || continue
    eval "value=\${$name}"
    case $value in
        *"$BEGIN"*|*"$END"*) say "not writing $name: its value contains the shim's block marker"; continue ;;
    esac
    names="$names $name"
    case " $extra_vars " in
        *" $name "*)
            case $name in
                *SECRET*|*secret*|*TOKEN*|*token*|*PASSWORD*|*password*|*PASSWD*|*passwd*|*CREDENTIAL*|*credential*|*PRIVATE*|*private*|*_KEY|*_key) private=1 ;;
            esac ;;
    esac
done
mode=644
[ $private = 1 ] && mode=600

# --- rendering -----------------------------------------------------------------------
# Single quotes: no shell expands anything inside them; a ' becomes '\''.
sh_quote() {
    _rest=$1
    printf "'"
    while :; do
        case $_rest in
            *\'*) printf '%s' "${_rest%%\'*}'\\''"; _rest=${_rest#*\'} ;;
            *) printf '%s' "$_rest"; break ;;
        esac
    done
    printf "'"
}

emit_block() {
    printf '%s\n' "$BEGIN"
    for name in $names; do
        eval "value=\${$name}"
        printf 'export %s=' "$name"
        sh_quote "$value"
        printf '\n'
    done
    printf '%s\n' "$END"
}

# pam_env (/etc/environment) has no escapes: plain values only.
emit_env_block() {
    printf '%s\n' "$BEGIN"
    for name in $names; do
        eval "value=\${$name}"
        case $value in
            *[!A-Za-z0-9_./:@%+,=~-]*) say "not writing $name to $env_file: pam_env cannot hold its value" ;;
            *) printf '%s=%s\n' "$name" "$value" ;;
        esac
    done
    printf '%s\n' "$END"
}

# Copy FILE with our block replaced in place (or appended once); never follows a symlink.
emit_merged() {  # $1 file, $2 block emitter
    _placed=0
    _inside=0
    _has_end=0
    if [ -f "$1" ] && [ ! -L "$1" ]; then
        # A BEGIN with no END after it is a stray line: only the marker goes.
        _seen_begin=0
        while IFS= read -r _line || [ -n "$_line" ]; do
            [ "$_line" = "$BEGIN" ] && _seen_begin=1
            if [ $_seen_begin = 1 ] && [ "$_line" = "$END" ]; then _has_end=1; break; fi
        done < "$1"
        while IFS= read -r _line || [ -n "$_line" ]; do
            if [ $_inside = 1 ]; then
                [ "$_line" = "$END" ] && _inside=0
                continue
            fi
            if [ "$_line" = "$BEGIN" ]; then
                _inside=$_has_end
                if [ $_placed = 0 ] && [ $_has_end = 1 ]; then "$2"; _placed=1; fi
                continue
            fi
            printf '%s\n' "$_line"
        done < "$1"
    fi
    [ $_placed = 1 ] || "$2"
}

# Each file goes to a temporary file in the same folder, created with noclobber (never
# opened through something planted there) under a umask that gives it its final mode;
# then one sync for all of them, then a rename over each target. Start-up cost is what
# matters here: this costs one fork, one sync and one mv per file, nothing else.
# The mode (octal) and owner (uid:gid) of an existing file, from `ls -ldn` (POSIX); sets
# _keep and _own. With private=1 the mode loses its group and other bits, never gains any.
file_meta() {  # $1 path
    _meta=$(ls -ldn -- "$1" 2>/dev/null) || return 1
    # shellcheck disable=SC2086  # split the ls line into its fields (set -f is on)
    set -- $_meta
    [ $# -ge 4 ] || return 1
    _own="$3:$4"
    _perm=$1
    _oct=0
    for _shift in 1 2 3; do
        _perm=${_perm#?}
        _t=${_perm%"${_perm#???}"}
        _d=0
        case $_t in r??) _d=4 ;; esac
        case $_t in ?w?) _d=$((_d + 2)) ;; esac
        case $_t in ??[xst]) _d=$((_d + 1)) ;; esac
        case $_shift:$_t in 1:??[sS]) _oct=$((_oct + 4000)) ;; 2:??[sS]) _oct=$((_oct + 2000)) ;; 3:??[tT]) _oct=$((_oct + 1000)) ;; esac
        [ $private = 1 ] && [ $_shift != 1 ] && _d=0
        case $_shift in 1) _oct=$((_oct + _d * 100)) ;; 2) _oct=$((_oct + _d * 10)) ;; 3) _oct=$((_oct + _d)) ;; esac
        _perm=${_perm#??}
    done
    _keep=$_oct
}

write_tmp() {  # $1 path, $2 emitter, $3 whole|merge; sets _tmp
    case $1 in */*) _dir=${1%/*} ;; *) _dir=. ;; esac
    [ -n "$_dir" ] || _dir=/
    _seq=$((_seq + 1))
    _tmp="$_dir/.ecs-shim-$$-$_seq"
    # Remove first: noclobber still opens an existing FIFO, which would block the start.
    rm -f "$_tmp" 2>/dev/null
    set -C
    true 2>/dev/null > "$_tmp" || { set +C; return 1; }
    set +C
    [ -f "$_tmp" ] && [ ! -L "$_tmp" ] || return 1
    if [ "$3" = whole ]; then
        {
            printf '%s\n' "# Written by the ecs-credential-probe shim at container start from PID 1's environment,"
            printf '%s\n' "# so login shells, cron, su - and ECS Exec sessions get the task's credentials."
            printf '%s\n' "# Rewritten at every start: do not edit between the markers."
            "$2"
        } > "$_tmp" || { rm -f "$_tmp"; return 1; }
    else
        # An existing file keeps its owner and mode (never made wider); if it cannot keep
        # its owner, it is not replaced.
        _own=''
        if [ -f "$1" ] && [ ! -L "$1" ]; then
            file_meta "$1" || { rm -f "$_tmp"; return 1; }
        fi
        emit_merged "$1" "$2" > "$_tmp" || { rm -f "$_tmp"; return 1; }
        if [ -n "$_own" ]; then
            chown "$_own" "$_tmp" 2>/dev/null && chmod "$_keep" "$_tmp" 2>/dev/null || { rm -f "$_tmp"; return 1; }
        fi
    fi
}

write_all() {  # in a subshell (it changes umask and "$@"); exit status 1 if a file failed
    umask "$1"
    set --
    _fail=0
    _queue() {  # $1 path, $2 emitter, $3 whole|merge
        if write_tmp "$1" "$2" "$3"; then
            _pairs="$_pairs$_tmp$NL$1$NL"
        else
            say "cannot write $1"
            _fail=1
        fi
    }
    _pairs=''
    _seq=0
    if [ $default_profiles = 1 ]; then
        [ -d /etc/profile.d ] && _queue "$PROFILE_D" emit_block whole
        if [ -n "${HOME-}" ]; then
            _queue "$HOME/.profile" emit_block merge
        else
            say "HOME is not set: ~/.profile not written"
            _fail=1
        fi
    fi
    _old_ifs=$IFS
    IFS=$NL
    for _path in $profiles; do
        IFS=$_old_ifs
        [ -n "$_path" ] && _queue "$_path" emit_block merge
    done
    IFS=$_old_ifs
    [ -n "$env_file" ] && _queue "$env_file" emit_env_block merge
    [ -n "$_pairs" ] || exit $_fail
    IFS=$NL
    # shellcheck disable=SC2086  # one temporary path per line, by construction
    set -- $_pairs
    IFS=$_old_ifs
    _tmps=''
    _i=1
    for _p in "$@"; do
        [ $((_i % 2)) = 1 ] && _tmps="$_tmps $_p"
        _i=$((_i + 1))
    done
    # shellcheck disable=SC2086
    sync $_tmps 2>/dev/null
    while [ $# -ge 2 ]; do
        # mv would move the file INTO a directory and call it success.
        if [ -d "$2" ] && [ ! -L "$2" ]; then
            rm -f "$1"; say "cannot write $2: Is a directory"; _fail=1
        else
            mv -f "$1" "$2" 2>/dev/null || { rm -f "$1"; say "cannot write $2"; _fail=1; }
        fi
        shift 2
    done
    exit $_fail
}

umask_for=022
[ $mode = 600 ] && umask_for=077
problems=0
( write_all $umask_for ) || problems=1

if [ $problems = 1 ] && [ $strict = 1 ]; then
    exit 1
fi

# --- --wait --------------------------------------------------------------------------
credentials_url() {
    if [ "${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI+x}" = x ]; then
        case $AWS_CONTAINER_CREDENTIALS_RELATIVE_URI in
            //*|*[!A-Za-z0-9._~%/?=\&-]*) return 1 ;;
            /*) printf '%s' "http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"; return 0 ;;
            *) return 1 ;;
        esac
    fi
    _full=${AWS_CONTAINER_CREDENTIALS_FULL_URI-}
    case $_full in
        https://?*) printf '%s' "$_full"; return 0 ;;
        http://*) ;;
        *) return 1 ;;
    esac
    # botocore's rule for plain http: loopback or the known link-local hosts only, so the
    # token is never sent in the clear to a host the SDKs refuse.
    _hostport=${_full#http://}
    _hostport=${_hostport%%/*}
    case $_hostport in *@*) return 1 ;; esac
    case $_hostport in
        \[::1\]|\[::1\]:*|\[fd00:ec2::23\]|\[fd00:ec2::23\]:*) printf '%s' "$_full"; return 0 ;;
    esac
    _host=${_hostport%%:*}
    case ${_hostport#"$_host"} in
        :|:*[!0-9]*) return 1 ;;  # a port that is not a number
    esac
    case $_host in
        169.254.170.2|169.254.170.23|localhost|127.*) ;;
        *) return 1 ;;
    esac
    case $_host in
        127.*.*.*) case $_host in *[!0-9.]*) return 1 ;; esac ;;
        127.*) return 1 ;;
    esac
    printf '%s' "$_full"
}

# curl's config quoting: inside "...", a backslash escapes the next character.
curl_quote() {  # sets _q
    _r=$1
    _q=''
    while :; do
        case $_r in
            *[\\\"]*)
                _pre=${_r%%[\\\"]*}
                _r=${_r#"$_pre"}
                _c=${_r%"${_r#?}"}
                _q="$_q$_pre\\$_c"
                _r=${_r#?} ;;
            *) _q="$_q$_r"; break ;;
        esac
    done
}

# One request in the background (its pid in $!), the body to $_w/body (at most 64 KiB: the
# file size limit stops a client that writes more: EFBIG), never through a proxy, never following
# a redirect. Each client is exec'd by its subshell, so $! is the client itself.
fetch_bg() {  # $1 url
    rm -f "$_w/body" "$_w/code" "$_w/head"
    case $client in
        curl)
            if [ -n "$token" ]; then
                # The header goes through curl's config on stdin (a here-document): a
                # command line is readable by every process in the container (/proc/PID/cmdline).
                curl_quote "Authorization: $token"
                ( ulimit -f 128; trap "" XFSZ; exec curl -fsS --noproxy '*' --proto =http,https --max-redirs 0 -m 1 --max-filesize 65536 -w '%{http_code}' -o "$_w/body" -K - "$1" >"$_w/code" 2>/dev/null <<EOF
header = "$_q"
EOF
                ) &
            else
                ( ulimit -f 128; trap "" XFSZ; exec curl -fsS --noproxy '*' --proto =http,https --max-redirs 0 -m 1 --max-filesize 65536 -w '%{http_code}' -o "$_w/body" "$1" >"$_w/code" 2>/dev/null ) &
            fi ;;
        gnu-wget)
            ( ulimit -f 128; trap "" XFSZ; exec wget -q -O "$_w/body" -Y off -T 1 --tries=1 --max-redirect=0 "$1" 2>/dev/null ) & ;;
        *)
            # busybox wget: no option stops it following a redirect (it is never given the
            # token); -S shows each status line and an answer reached through a 3xx is refused.
            # Some builds crash on -T: the loop's own bound covers every build.
            # shellcheck disable=SC2086  # $wget_t: empty or "-T 1"
            ( ulimit -f 128; trap "" XFSZ; exec wget -q -S -O "$_w/body" -Y off $wget_t "$1" 2>"$_w/head" ) & ;;
    esac
}

served() {  # $1 the request's exit status; 0 if it served usable credentials
    [ "$1" = 0 ] && [ -f "$_w/body" ] || return 1
    case $client in
        curl) [ "$(cat "$_w/code" 2>/dev/null)" = 200 ] || return 1 ;;
        wget) case $(cat "$_w/head" 2>/dev/null) in *'HTTP/'*' 3'[0-9][0-9]*) return 1 ;; esac ;;
    esac
    body=$(cat "$_w/body" 2>/dev/null)
    case $body in *'"AccessKeyId"'*) ;; *) return 1 ;; esac
    case $body in *'"SecretAccessKey"'*) ;; *) return 1 ;; esac
    case $body in *'"Token"'*) ;; *) return 1 ;; esac
    case $body in *'"Expiration"'*) ;; *) return 1 ;; esac
}

# The attempts, run in the background: ask, wait half a second, ask again. A watchdog bounds
# the whole wait: after $wait_s seconds it sends TERM, whatever the client is doing (silent,
# dripping or never-closing endpoints, a wget without a total timeout), and the trap kills
# the client being waited for ($! is always the current one).
attempts() {  # $1 url
    trap 'kill $! 2>/dev/null; exit 1' TERM
    while :; do
        fetch_bg "$1"
        wait $!
        served $? && exit 0
        sleep 0.5 2>/dev/null &
        wait $! || { sleep 1 & wait $!; }
    done
}

wait_for_credentials() {
    url=$(credentials_url) || { say "--wait: no usable credentials variable; not waiting"; return 1; }
    wget_t=''
    if command -v curl >/dev/null 2>&1; then
        client=curl
    elif command -v wget >/dev/null 2>&1; then
        _help=$(wget --help 2>&1 </dev/null)
        case $_help in
            *--max-redirect*) client=gnu-wget ;;
            *) client=wget
               case $_help in *'-T SEC'*) wget_t='-T 1' ;; esac ;;
        esac
    else
        say "--wait: neither curl nor wget is in the image; not waiting"
        return 1
    fi
    token=${AWS_CONTAINER_AUTHORIZATION_TOKEN-}
    _tf=${AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE-}
    if [ -n "$_tf" ]; then
        if [ -f "$_tf" ] && [ -r "$_tf" ]; then
            _size=$(wc -c < "$_tf" 2>/dev/null) || _size=0
            if [ "$_size" -gt 65536 ]; then
                say "--wait: $_tf is larger than 65536 bytes, not an authorization token; not waiting"
                return 1
            fi
            # The shell would drop NUL bytes silently: count them first.
            if [ "$(tr -d '\000' < "$_tf" | wc -c)" -ne "$_size" ]; then
                token=$(printf '\001')  # refused below, with the other control characters
            else
                token=$(cat -- "$_tf" 2>/dev/null) || say "--wait: cannot read $_tf"
            fi
        else
            say "--wait: cannot read $_tf"
        fi
    fi
    # A control character would end curl's config line (or a header line) and start one of
    # its own; botocore refuses CR and LF, the shim every control character.
    case $token in
        *[[:cntrl:]]*)
            say "--wait: the authorization token holds a control character (CR, LF, NUL, ...), which no HTTP header can carry; not waiting"
            return 1 ;;
    esac
    if [ -n "$token" ] && [ $client != curl ]; then
        say "--wait: an authorization token needs curl (wget would show it on its command line); not waiting"
        return 1
    fi
    # A private folder for the answers (they hold credentials).
    _w=$(umask 077; mktemp -d "${TMPDIR:-/tmp}/.ecs-shim-wait.XXXXXX" 2>/dev/null) || _w=''
    if [ -z "$_w" ]; then
        _w="${TMPDIR:-/tmp}/.ecs-shim-wait.$$"
        ( umask 077; mkdir "$_w" 2>/dev/null ) || { say "--wait: cannot create a private folder in ${TMPDIR:-/tmp}; not waiting"; return 1; }
    fi
    _whole=${wait_s%%.*}
    _whole=${_whole#"${_whole%%[!0]*}"}
    attempts "$url" &
    _loop=$!
    (
        trap 'kill $! 2>/dev/null; exit 0' TERM
        # Fractions of a second where sleep takes them (GNU, busybox), whole seconds elsewhere.
        sleep "$wait_s" 2>/dev/null &
        wait $! || { sleep $(( ${_whole:-0} + 1 )) & wait $!; }
        kill -TERM "$_loop" 2>/dev/null
    ) &
    _dog=$!
    wait "$_loop"
    _rc=$?
    kill -TERM "$_dog" 2>/dev/null
    wait "$_dog" 2>/dev/null
    rm -rf "$_w"
    [ "$_rc" = 0 ] && return 0
    say "--wait: no credentials after $wait_s s"
    return 1
}

if [ -n "$wait_s" ]; then
    if ! wait_for_credentials; then
        [ $strict = 1 ] && exit 1
        say "starting anyway"
    fi
fi

# --- exec ----------------------------------------------------------------------------
[ $# -gt 0 ] || exit 0
case $1 in
    '') say "'': command not found (the command name is empty)"; exit 127 ;;
    */*)
        if [ ! -e "$1" ]; then say "$1: command not found"; exit 127; fi
        if [ -d "$1" ] || [ ! -x "$1" ]; then say "$1: permission denied (not executable)"; exit 126; fi ;;
    *)
        if ! command -v -- "$1" >/dev/null 2>&1; then
            # A file of that name on PATH that cannot be run is 126, as in bash and the Python shim.
            _old_ifs=$IFS; IFS=:
            for _d in $PATH; do
                IFS=$_old_ifs
                if [ -f "${_d:-.}/$1" ]; then say "$1: permission denied (not executable)"; exit 126; fi
            done
            IFS=$_old_ifs
            say "$1: command not found"; exit 127
        fi ;;
esac
exec "$@"
