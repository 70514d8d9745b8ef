#!/bin/sh
# probe.sh: the POSIX sh twin of `probe` (ecs-credential-probe), for images without Python.
#
# Diagnoses the ECS task role from inside a container with nothing but sh, the usual
# text tools (sed, tr, head, find, date) and curl or wget when present. Same check ids,
# text layout, JSON schema and exit codes as `probe`; what needs SigV4 (identity.*,
# sdk.identity) is skipped with the reason: run `probe` (the Python CLI or a sidecar) for it.
#
# usage: probe.sh [--json | --format text|json] [--output FILE] [--deadline SECONDS]
#                 [--only ID,..] [--skip ID,..] [--strict] [--no-color] [--sdk-root PATH]
#
# Exit codes: 0 no check failed, 1 a check failed (or warned with --strict), 2 bad usage.
# Plain POSIX sh: runs under dash and busybox ash. Never follows redirects, never uses a
# proxy, never prints the credentials id, a secret key, a token or a proxy password.

VERSION=0.1.0
NL='
'
MASK='****'
LC_ALL=C
export LC_ALL
set -f
umask 077

say() { printf 'probe.sh: %s\n' "$*" >&2; }
usage() {
    say "usage: probe.sh [--json | --format text|json] [--output FILE] [--deadline SECONDS] [--only ID,..] [--skip ID,..] [--strict] [--no-color] [--sdk-root PATH]"
    exit 2
}

is_true() { case $1 in 1|[Tt][Rr][Uu][Ee]|[Yy][Ee][Ss]|[Oo][Nn]) return 0 ;; esac; return 1; }

# --- options (PROBE_<NAME> defaults, as in `probe`) ---------------------------------
format=${PROBE_FORMAT:-text}
deadline=${PROBE_DEADLINE:-5}
output=${PROBE_OUTPUT:-}
only=${PROBE_ONLY:-}
skip_ids=${PROBE_SKIP:-}
strict=0; is_true "${PROBE_STRICT:-}" && strict=1
sdk_roots=${PROBE_SDK_ROOT:-}

while [ $# -gt 0 ]; do
    case $1 in
        --json) format=json; shift ;;
        --format) [ $# -ge 2 ] || usage; format=$2; shift 2 ;;
        --format=*) format=${1#*=}; shift ;;
        --output|-o) [ $# -ge 2 ] || usage; output=$2; shift 2 ;;
        --output=*) output=${1#*=}; shift ;;
        --deadline) [ $# -ge 2 ] || usage; deadline=$2; shift 2 ;;
        --deadline=*) deadline=${1#*=}; shift ;;
        --only) [ $# -ge 2 ] || usage; only=$2; shift 2 ;;
        --only=*) only=${1#*=}; shift ;;
        --skip) [ $# -ge 2 ] || usage; skip_ids=$2; shift 2 ;;
        --skip=*) skip_ids=${1#*=}; shift ;;
        --strict) strict=1; shift ;;
        --no-color) shift ;;
        --sdk-root) [ $# -ge 2 ] || usage; sdk_roots="$sdk_roots${sdk_roots:+:}$2"; shift 2 ;;
        --sdk-root=*) sdk_roots="$sdk_roots${sdk_roots:+:}${1#*=}"; shift ;;
        task) shift ;;
        -h|--help) usage ;;
        *) say "unknown argument $1"; usage ;;
    esac
done
case $format in text|json) ;; *) say "--format must be text or json, not '$format'"; exit 2 ;; esac
case $deadline in
    ''|*[!0-9.]*|*.*.*|.*|*.|?????????????*) say "--deadline needs a number of seconds, not '$deadline'"; exit 2 ;;
esac
# Helpers that return a value set R (or another named variable) instead of printing it:
# every $(...) costs a fork, and a run once spent most of its time forking.
strip0() {  # leading zeros off a digit string (sh arithmetic reads 010 as octal) -> R
    R=$1
    while :; do case $R in 0?*) R=${R#0} ;; *) break ;; esac; done
    R=${R:-0}
}
# The deadline in milliseconds (integer arithmetic only).
_dint=${deadline%%.*}
_dfrac=0
case $deadline in *.*) _dfrac=${deadline#*.}000; _dfrac=${_dfrac%"${_dfrac#???}"} ;; esac
case $deadline in *.*) strip0 "${_dint:-0}${_dfrac}" ;; *) strip0 "${_dint:-0}000" ;; esac
deadline_ms=$R
[ "$deadline_ms" -gt 0 ] || { say "--deadline must be more than 0"; exit 2; }

# --- clock -----------------------------------------------------------------------------
# Milliseconds on a monotonic clock -> NOW: /proc/uptime (centiseconds, no fork), else date.
now_ms() {
    if [ -r /proc/uptime ] && read -r _up _rest 2>/dev/null < /proc/uptime; then
        case $_up in
            *.??) strip0 "${_up%.*}${_up#*.}"; NOW=$((R * 10)); return ;;
        esac
    fi
    NOW=$(date +%s)000
}
now_ms; started_ms=$NOW
# One date for both the report's start and the wall clock; later wall-clock times are this
# plus the monotonic clock's progress (epoch_now), not one `date` per request.
_d=$(date -u '+%s %Y-%m-%dT%H:%M:%SZ')
started_epoch=${_d%% *}; started_at=${_d#* }
end_ms=$((started_ms + deadline_ms))
# Local work that reads many things (the process survey, the SDKs found) stops here: past the
# deadline by at most half a second, so the whole run ends within the deadline plus a little.
local_end=$((end_ms + 500))
epoch_now() { now_ms; R=$((started_epoch + (NOW - started_ms) / 1000)); }

secs() {  # $1 milliseconds -> R: seconds with three decimals, as curl, GNU wget and sleep take them
    _f=$(($1 % 1000))
    case $_f in ?) _f=00$_f ;; ??) _f=0$_f ;; esac
    R=$(($1 / 1000)).$_f
}

# --- scratch ----------------------------------------------------------------------------
T=$(mktemp -d 2>/dev/null) || { T=/tmp/probe-sh.$$; mkdir -m 700 "$T" 2>/dev/null || { say "cannot create a temporary folder"; exit 2; }; }
cleanup() { rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 2' INT TERM HUP

# --- strings -----------------------------------------------------------------------------
# Bytes that are awkward to write literally, from one printf (one fork, not one each).
_b=$(printf '\302 \001 \342 \015 \200 \237 \250 \251 \377 \002 x')
set -- $_b
C2=$1; SOH=$2; E2=$3; CR=$4; X80=$5; X9F=$6; XA8=$7; XA9=$8; XFF=$9; STX=${10}

# Time linear in the input, whatever it holds: an endpoint's answer may be 64 KiB, a variable
# 128 KiB, a token file 64 KiB. dash and busybox ash try every prefix or suffix for
# ${v#*pat}, ${v##*pat}, ${v#"$lit"} and ${v%"$lit"} (time quadratic in the distance), and a
# loop that takes one character off at a time is quadratic too. Linear in both: ${#v}, ${v#?},
# case against one run of literals, and field splitting on one character; ${v%%pat*} and
# ${v%pat*} are linear in dash and, in busybox ash, quadratic with a tiny constant (it measures
# the rest of the string at each position: milliseconds for 64 KiB). The helpers use those on
# text of any length, the quadratic forms only on text of at most SHORT characters, and sed or
# field splitting where a text may be larger (a process's environment, a file).
SHORT=256
# Strings from outside (endpoints, files, the environment) are shown at most this long.
SHOW_MAX=512
EFIELD_MAX=256

count_char() {  # $1 text, $2 one character that is not blank -> R: how often it occurs
    _cs=x; [ "$2" = x ] && _cs=y
    _oldifs=$IFS; IFS=$2
    set -- $_cs${1}$_cs
    IFS=$_oldifs
    R=$(($# - 1))
}

# What follows the first $2 in $1 -> R; status 1 when $2 is not there. $3 is a character of
# $2 that is not blank: the text is split on it (linear) instead of ${1#*"$2"} (quadratic).
after_first() {
    case $1 in *"$2"*) ;; *) R=''; return 1 ;; esac
    _af=${1%%"$2"*}
    if [ $((${#_af} + ${#2})) -le $SHORT ]; then R=${1#"$_af$2"}; return 0; fi
    count_char "$_af" "$3"; _afk=$R
    count_char "$2" "$3"; _afk=$((_afk + R))
    _afz=${2##*"$3"}  # the part of $2 after its last $3
    _afc=$3; _cs=x; [ "$3" = x ] && _cs=y
    _oldifs=$IFS; IFS=$_afc
    set -- ${1}$_cs
    IFS=$_oldifs
    [ "$_afk" -lt $# ] || { R=''; return 1; }
    shift "$_afk"
    IFS=$_afc; R="$*"; IFS=$_oldifs
    R=${R%"$_cs"}; R=${R#"$_afz"}
}
# What follows the last $2 (one character that is not blank) in $1 -> R ($1 when there is none).
after_last() {
    case $1 in *"$2"*) ;; *) R=$1; return ;; esac
    _cs=x; [ "$2" = x ] && _cs=y
    _oldifs=$IFS; IFS=$2
    set -- ${1}$_cs
    IFS=$_oldifs
    eval "R=\${$#}"
    R=${R%"$_cs"}
}

# Text from outside cut to $2 characters (default SHOW_MAX), "..." marking the cut -> R.
# Never in the middle of a UTF-8 character: trailing non-ASCII bytes go with the cut.
cap() {
    R=$1
    [ ${#R} -gt "${2:-$SHOW_MAX}" ] || return 0
    R=$(printf '%s' "$1" | head -c "${2:-$SHOW_MAX}" | sed "\$s/[$X80-$XFF]*\$//"; printf x); R="${R%x}..."
}

# One sed script per kind of escaping, written once into the scratch folder when first needed.
# Control characters of a single-line text; newlines are joined by the caller ($!s/$/\\n/ and
# tr -d '\n'), so each line of the input keeps its place.
ctl_script() {  # $1 tsafe|jesc -> the script's path in R
    R=$T/$1.sed
    [ -f "$R" ] && return 0
    if [ "$1" = jesc ]; then _e=u00; else _e=x; fi
    {
        [ "$1" = jesc ] && printf '%s\n' 's/\\/\\\\/g' 's/"/\\"/g'
        printf 's/\015/\\\\r/g\ns/\011/\\\\t/g\n'
        for _p in 001:01 002:02 003:03 004:04 005:05 006:06 007:07 010:08 013:0b 014:0c 016:0e 017:0f \
                  020:10 021:11 022:12 023:13 024:14 025:15 026:16 027:17 030:18 031:19 032:1a 033:1b \
                  034:1c 035:1d 036:1e 037:1f 177:7f; do
            printf 's/\'"${_p%:*}"'/\\\\'"$_e${_p#*:}"'/g\n'
        done
        if [ "$1" = tsafe ]; then
            for _p in 200:80 201:81 202:82 203:83 204:84 205:85 206:86 207:87 210:88 211:89 212:8a 213:8b \
                      214:8c 215:8d 216:8e 217:8f 220:90 221:91 222:92 223:93 224:94 225:95 226:96 227:97 \
                      230:98 231:99 232:9a 233:9b 234:9c 235:9d 236:9e 237:9f; do
                printf 's/'"$C2"'\'"${_p%:*}"'/\\\\u00'"${_p#*:}"'/g\n'
            done
            printf 's/'"$E2$X80$XA8"'/\\\\u2028/g\ns/'"$E2$X80$XA9"'/\\\\u2029/g\n'
        fi
        printf '%s\n' '$!s/$/\\n/'
    } > "$R"
}

# Control characters shown as escapes (\x1b, \n), kept on one line: for the terminal -> R.
tsafe() {
    case $1 in
        *[[:cntrl:]]*|*"$C2"[$X80-$X9F]*|*"$E2$X80"[$XA8$XA9]*) ;;
        *) R=$1; return ;;
    esac
    ctl_script tsafe
    R=$(printf '%sx' "$1" | sed -f "$R" | tr -d '\n'); R=${R%x}
}

replace_all() {  # $1 text, $2 needle, $3 replacement -> R
    case $1 in *"$2"*) ;; *) R=$1; return ;; esac
    if [ ${#1} -gt 1024 ] && [ ${#2} = 1 ] && case $2 in [[:space:]]) false ;; esac; then
        # Long text, one character: split on it, print the pieces with the replacement
        # between them (one process, linear).
        _rrep=$3; _rfmt=$3
        case $_rfmt in *[%\\]*) replace_all "$_rfmt" '\' '\\'; replace_all "$R" % %%; _rfmt=$R ;; esac
        _oldifs=$IFS; IFS=$2
        set -- ${1}x
        IFS=$_oldifs
        # shellcheck disable=SC2059
        R=$(printf "%s$_rfmt" "$@"; printf y); R=${R%y}; R=${R%"$_rrep"}; R=${R%x}
        return
    fi
    R=''
    _rest=$1
    while :; do
        case $_rest in
            *"$2"*) R="$R${_rest%%"$2"*}$3"; _rest=${_rest#*"$2"} ;;
            *) break ;;
        esac
    done
    R=$R$_rest
}

# A JSON string's content: quotes, backslashes and control characters escaped -> R.
jesc() {
    R=$1
    case $R in *[[:cntrl:]\\\"]*) ;; *) return ;; esac
    case $R in
        *[[:cntrl:]]*) ;;
        *) if [ ${#R} -le 1024 ]; then
               case $R in *\\*) replace_all "$R" '\' '\\' ;; esac
               case $R in *\"*) replace_all "$R" '"' '\"' ;; esac
               return
           fi ;;
    esac
    ctl_script jesc
    R=$(printf '%sx' "$1" | sed -f "$R" | tr -d '\n'); R=${R%x}
}

# Known secrets of this run (newline-separated); scrub() masks them wherever they appear.
SECRETS=''
add_secret() { [ ${#1} -ge 4 ] && SECRETS="$SECRETS$1$NL"; }

# Secret fields by name, as Python's redact: JSON, key=value, a repr, and XML elements.
_SN='[Ss][Ee][Cc][Rr][Ee][Tt]([Aa][Cc][Cc][Ee][Ss][Ss])?[Kk][Ee][Yy]|[Tt][Oo][Kk][Ee][Nn]|[Aa][Ww][Ss]_[Ss][Ee][Cc][Rr][Ee][Tt]_[Aa][Cc][Cc][Ee][Ss][Ss]_[Kk][Ee][Yy]'
_SX='[Ss][Ee][Cc][Rr][Ee][Tt]([Aa][Cc][Cc][Ee][Ss][Ss])?[Kk][Ee][Yy]|([Ss][Ee][Ss][Ss][Ii][Oo][Nn]|[Ss][Ee][Cc][Uu][Rr][Ii][Tt][Yy])?[Tt][Oo][Kk][Ee][Nn]|[Aa][Ww][Ss]_([Ss][Ee][Cc][Rr][Ee][Tt]_[Aa][Cc][Cc][Ee][Ss][Ss]_[Kk][Ee][Yy]|[Ss][Ee][Ss][Ss][Ii][Oo][Nn]_[Tt][Oo][Kk][Ee][Nn]|[Ss][Ee][Cc][Uu][Rr][Ii][Tt][Yy]_[Tt][Oo][Kk][Ee][Nn])'
_Q="[\"']"
_NV="[^\"'[:space:],}&<]"

# Text from outside (an endpoint's body, a command line, a variable) for the report -> R:
# cut to SHOW_MAX (or $2) characters, secrets masked by value and by name, the credentials id
# after /credentials/ or id=, a URL's password, access key ids to their last four.
scrub() {
    cap "$1" "${2:-}"; _t=$R
    _oldifs=$IFS; IFS=$NL
    for _sec in $SECRETS; do
        IFS=$_oldifs
        case $_t in *"$_sec"*) replace_all "$_t" "$_sec" "$MASK"; _t=$R ;; esac
    done
    IFS=$_oldifs
    case $_t in
        *[Cc][Rr][Ee][Dd][Ee][Nn][Tt][Ii][Aa][Ll][Ss]/*|*[Ii][Dd]=*|*A[KS]IA*|*ABIA*|*ACCA*|*[Ss][Ee][Cc][Rr][Ee][Tt]*|*[Tt][Oo][Kk][Ee][Nn]*|*@*)
            _t=$(printf '%sx' "$_t" | sed -E \
                -e 's#(/[Cc][Rr][Ee][Dd][Ee][Nn][Tt][Ii][Aa][Ll][Ss]/)[^[:space:]"'"'"'<>&/]+#\1****#g' \
                -e 's#([?&][Ii][Dd]=)[^[:space:]"'"'"'<>&/]+#\1****#g' \
                -e 's#([A-Za-z][A-Za-z0-9+.-]*://[^[:space:]/?@:"'"'"'<>]*:)[^[:space:]@"'"'"'<>]+@#\1****@#g' \
                -e 's#(<('"$_SX"')([[:space:]/][^>]*)?>)[^<]+#\1****#g' \
                -e 's#('"$_Q"'?('"$_SN"')'"$_Q"'?[[:space:]]*[:=][[:space:]]*'"$_Q"'?)'"$_NV"'+#\1****#g' \
                -e 's#(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{8,}([A-Z0-9]{4})#****\2#g')
            _t=${_t%x} ;;
    esac
    R=$_t
}

# A field an endpoint sent, for the report -> R: scrubbed, at most EFIELD_MAX characters,
# and every 8-character piece of a known secret masked too (a field that quotes a secret in
# part), as the Python probe's redact does.
efield() {
    scrub "$1" "$EFIELD_MAX"
    [ ${#R} -ge 8 ] && [ -n "$SECRETS" ] || return 0
    mask_pieces "$R"
}
# Runs of $1 covered by an 8-character piece of a secret -> R, each run as ****.
mask_pieces() {
    # First a quick pass: a piece of 8 characters holds one of the text's 4-character blocks
    # at a multiple of 4, so when no such block is in a secret, no piece is.
    _mt=$1
    while [ ${#_mt} -ge 4 ]; do
        _mr=${_mt#????}; _mb=${_mt%"$_mr"}
        case $SECRETS in *"$_mb"*) break ;; esac
        _mt=$_mr
    done
    [ ${#_mt} -ge 4 ] || { R=$1; return 0; }
    _mt=$1; _mo=''; _mlen=${#1}; _mi=0; _mcov=0; _mrun=0
    # The positions covered, as a string of 0/1 flags, one per character.
    _mflags=''
    while [ $((_mi + 8)) -le "$_mlen" ]; do
        _mw=${_mt#????????}; _mw=${_mt%"$_mw"}
        case $SECRETS in *"$_mw"*) _mcov=8 ;; esac
        if [ $_mcov -gt 0 ]; then _mflags=${_mflags}1; _mcov=$((_mcov - 1)); else _mflags=${_mflags}0; fi
        _mt=${_mt#?}; _mi=$((_mi + 1))
    done
    case $_mflags in *1*) ;; *) [ $_mcov = 0 ] && { R=$1; return; } ;; esac
    while [ "$_mi" -lt "$_mlen" ]; do
        if [ $_mcov -gt 0 ]; then _mflags=${_mflags}1; _mcov=$((_mcov - 1)); else _mflags=${_mflags}0; fi
        _mi=$((_mi + 1))
    done
    _mt=$1
    while [ -n "$_mt" ]; do
        _mr=${_mt#?}; _mc=${_mt%"$_mr"}; _mt=$_mr
        _mf=${_mflags%"${_mflags#?}"}; _mflags=${_mflags#?}
        if [ "$_mf" = 1 ]; then
            [ $_mrun = 1 ] || _mo=$_mo$MASK
            _mrun=1
        else
            _mo=$_mo$_mc; _mrun=0
        fi
    done
    R=$_mo
}

# An access key id -> R: its last four characters (none of one too long to be a key id).
mask_key_id() { if [ ${#1} -gt 4 ] && [ ${#1} -le 128 ]; then R=$MASK${1#"${1%????}"}; else R=$MASK; fi; }

# The first character of $1 -> R; empty when it is not ASCII (never half of a UTF-8 one).
first_char() {
    case $1 in [$X80-$XFF]*) R=''; return ;; esac
    # ${1%"${1#?}"} is quadratic in the length: printf (one process) for a long one.
    if [ ${#1} -le $SHORT ]; then R=${1%"${1#?}"}; else R=$(printf '%.1s' "$1"); fi
}
# The relative URI with every segment that is not a plain word masked (the id is a capability) -> R.
mask_relative_uri() {
    case $1 in
        //*) R=//$MASK; return ;;
        /*) ;;
        '') R=''; return ;;
        *) first_char "$1"; R=$R$MASK; return ;;
    esac
    _path=${1%%\?*}
    _query=''
    case $1 in *\?*) after_first "$1" '?' '?'; _query=$R ;; esac
    _out=''
    _oldifs=$IFS; IFS=/
    _first=1; _n=0
    for _seg in $_path; do
        IFS=$_oldifs
        _n=$((_n + 1))
        [ $_n -le 32 ] || { _out="$_out/..."; break; }
        [ $_first = 1 ] || _out="$_out/"
        _first=0
        case $_seg in
            ''|v1|v2|v3|v4|credentials|api|task|role|creds) _out="$_out$_seg" ;;
            *) _out="$_out$MASK" ;;
        esac
    done
    IFS=$_oldifs
    case $_path in */) _out="$_out/" ;; esac
    if [ -n "$_query" ]; then
        _q=''; _n=0
        IFS='&'
        for _p in $_query; do
            IFS=$_oldifs
            [ -n "$_p" ] || continue
            _n=$((_n + 1))
            [ $_n -le 32 ] || { _q="$_q&..."; break; }
            case $_p in *=*) _p="${_p%%=*}=$MASK" ;; *) _p=$MASK ;; esac
            _q="$_q${_q:+&}$_p"
        done
        IFS=$_oldifs
        [ -n "$_q" ] && _out="$_out?$_q"
    fi
    cap "$_out"
}

# A URL (proxy, FULL_URI) with its password and query values masked -> R.
mask_url() {
    _u=$1
    case $_u in
        *://*) _sch=${_u%%://*}://; after_first "$_u" :// :; _rest=$R ;;
        *) _sch=''; _rest=$_u ;;
    esac
    case $_rest in
        *@*)
            _ui=${_rest%@*}
            after_last "$_rest" @; _rest=$R
            case $_ui in *:*) _ui="${_ui%%:*}:$MASK" ;; esac
            _rest="$_ui@$_rest" ;;
    esac
    _rest=${_rest%%#*}
    case $_rest in
        *\?*)
            after_first "$_rest" '?' '?'; _q=$R; _rest=${_rest%%\?*}
            _qq=''; _n=0
            _oldifs=$IFS; IFS='&'
            for _p in $_q; do
                IFS=$_oldifs
                [ -n "$_p" ] || continue
                _n=$((_n + 1))
                [ $_n -le 32 ] || { _qq="$_qq&..."; break; }
                case $_p in *=*) _p="${_p%%=*}=$MASK" ;; esac
                _qq="$_qq${_qq:+&}$_p"
            done
            IFS=$_oldifs
            [ -n "$_qq" ] && _rest="$_rest?$_qq" ;;
    esac
    # The id after /credentials/ is a capability wherever the URL points (FULL_URI too).
    case $_rest in *[Cc][Rr][Ee][Dd][Ee][Nn][Tt][Ii][Aa][Ll][Ss]/*) scrub "$_sch$_rest" ;; *) cap "$_sch$_rest" ;; esac
}

# Lower case -> R; a fork only when there is an upper-case letter to change.
lower() { case $1 in *[A-Z]*) R=$(printf '%s' "$1" | tr 'A-Z' 'a-z') ;; *) R=$1 ;; esac; }
# Leading and trailing blanks off -> R (sed beyond SHORT characters: no per-character loop).
trim() {
    R=$1
    case $R in [[:space:]]*|*[[:space:]]) ;; *) return ;; esac
    if [ ${#R} -gt $SHORT ]; then
        R=$(printf '%s\n' "$1" | sed -e '1s/^[[:space:]]*//' -e '$s/[[:space:]]*$//'; printf x); R=${R%"$NL"x}
        return
    fi
    while :; do case $R in [[:space:]]*) R=${R#?} ;; *) break ;; esac; done
    while :; do case $R in *[[:space:]]) R=${R%?} ;; *) break ;; esac; done
}

# --- JSON (flat objects, first occurrence of a key) ---------------------------------------
# One JSON document on one line ($1) -> J_<key> for each key named in $2.. (a string; N:key
# for a number or true/false/null), JP_<key>=1 when it was there; status 0 when the document
# is one well-formed object (structure only: after removing the string literals, nothing but
# punctuation, numbers and true/false/null may remain). A single sed does it all, each lookup
# a regular expression over the line: time linear in the answer, and no more processes than
# the structure check alone.
json_load() {
    _jt=$1; shift
    _js=h; _ji=0
    for _jk in "$@"; do
        _ji=$((_ji + 1))
        case $_jk in
            N:*) _jk=${_jk#N:}; _jre='(-?[0-9][-0-9.eE+]*|true|false|null)' ;;
            *) _jre='"(([^"\\]|\\.)*)"' ;;
        esac
        unset "J_$_jk" "JP_$_jk"
        # The first "key": value, the line cut to its value; \\ \" \/ decoded (the other
        # escapes stay as written).
        _js="$_js${NL}t r$_ji$NL:r$_ji${NL}s/\"$_jk\"[[:space:]]*:[[:space:]]*$_jre.*/\\n\\1/${NL}t k$_ji${NL}b n$_ji$NL:k$_ji${NL}s/^.*\\n/$_jk=/${NL}s/\\\\([\"\\\\/])/\\1/g${NL}p$NL:n$_ji${NL}g"
    done
    _js="$_js${NL}s/\"([^\"\\\\]|\\\\.)*\"/S/g${NL}s/(true|false|null)/L/g${NL}s/-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?/N/g${NL}s/[[:space:]]//g${NL}s/^/=/${NL}p"
    _jo=$(sed -n -E "$_js" <<EOF
$_jt
EOF
)
    _left=''
    _oldifs=$IFS; IFS=$NL
    for _jl in $_jo; do
        IFS=$_oldifs
        case $_jl in
            =*) _left=${_jl#=} ;;
            *=*) _jk=${_jl%%=*}; eval "[ -n \"\${JP_$_jk-}\" ] || { J_$_jk=\${_jl#*=}; JP_$_jk=1; }" ;;
        esac
    done
    IFS=$_oldifs
    case $_jt in *[[:cntrl:]]*) return 1 ;; esac
    case $_left in \{*\}) ;; *) return 1 ;; esac
    case $_left in *[!]{}[,:SLN]*) return 1 ;; esac
    # Balanced braces and brackets, and every value follows a key or a separator.
    count_char "$_left" '{'; _o=$R; count_char "$_left" '}'; [ "$_o" -eq "$R" ] || return 1
    count_char "$_left" '['; _o=$R; count_char "$_left" ']'; [ "$_o" -eq "$R" ] || return 1
    case $_left in
        *[SLN][SLN{[]*|*,[]},]*|*:[]},:]*|*{[!S}]*|*[]}][SLN{[]*|*,:*|*[[{]:*|*[{,]S[!:]*) return 1 ;;
    esac
    return 0
}
# The value json_load found for $1 -> R; status 1 when it was not there.
jget() { eval "R=\${J_$1-}; [ -n \"\${JP_$1-}\" ]"; }

# --- environment dumps (NAME=value lines) ---------------------------------------------------
# The value of $2 in the dump $1 -> R (the first, status 1 when absent). Field splitting and a
# loop over the variables: linear, where ${1#*"$NL$2="} is quadratic in the dump's size.
env_get() {
    case "$NL$1" in *"$NL$2="*) ;; *) R=''; return 1 ;; esac
    _eg=$2=
    _oldifs=$IFS; IFS=$NL
    for _el in $1; do
        case $_el in "$_eg"*) IFS=$_oldifs; R=${_el#"$_eg"}; return 0 ;; esac
    done
    IFS=$_oldifs
    R=''; return 1
}

# --- epoch arithmetic (no date -d: it differs between GNU and busybox) ----------------
days_from_civil() {  # $1 y, $2 m, $3 d -> R
    _y=$1; _m=$2
    [ "$_m" -le 2 ] && _y=$((_y - 1))
    _era=$(( (_y >= 0 ? _y : _y - 399) / 400 ))
    _yoe=$((_y - _era * 400))
    _mp=$(( (_m + 9) % 12 ))
    _doy=$(( (153 * _mp + 2) / 5 + $3 - 1 ))
    _doe=$((_yoe * 365 + _yoe / 4 - _yoe / 100 + _doy))
    R=$((_era * 146097 + _doe - 719468))
}
# ISO 8601 (2017-01-11T02:34:23Z, with fractions or an offset) -> R: epoch seconds.
iso_epoch() {
    _x=$(sed -n -E 's/^[[:space:]]*([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(:([0-9]{2}))?(\.[0-9]+)?(Z|z|[+-][0-9]{2}:?[0-9]{2})?[[:space:]]*$/\1 \2 \3 \4 \5 \7 \9/p' <<EOF
$1
EOF
)
    [ -n "$_x" ] || return 1
    set -- $_x
    _yy=$1; _mo=${2#0}; _dd=${3#0}; _hh=${4#0}; _mi=${5#0}
    _ss=0; _tz=Z
    if [ $# -ge 7 ]; then _ss=${6#0}; _tz=$7; elif [ $# -eq 6 ]; then case $6 in [+-]*|Z|z) _tz=$6 ;; *) _ss=${6#0} ;; esac; fi
    [ "$_mo" -ge 1 ] && [ "$_mo" -le 12 ] && [ "$_dd" -ge 1 ] && [ "$_dd" -le 31 ] && [ "$_hh" -le 23 ] && [ "$_mi" -le 59 ] && [ "${_ss:-0}" -le 60 ] || return 1
    days_from_civil "$_yy" "$_mo" "$_dd"
    _e=$(( R * 86400 + _hh * 3600 + _mi * 60 + ${_ss:-0} ))
    case $_tz in
        [+-]*)
            case $_tz in *:*) _off=${_tz%%:*}${_tz#*:} ;; *) _off=$_tz ;; esac
            _oh=${_off#?}; _oh=${_oh%??}; _om=${_off#???}
            _os=$(( ${_oh#0} * 3600 + ${_om#0} * 60 ))
            case $_tz in +*) _e=$((_e - _os)) ;; -*) _e=$((_e + _os)) ;; esac ;;
    esac
    R=$_e
}
human() {  # seconds -> R: "N s" / "N min" / "N.N h", as the Python probe says it
    _s=$1; [ "$_s" -lt 0 ] && _s=$((-_s))
    if [ "$_s" -lt 120 ]; then R="$_s s"
    elif [ "$_s" -lt 7200 ]; then R="$(( (_s + 30) / 60 )) min"
    else _t=$(( (_s * 10 + 1800) / 3600 )); R="$((_t / 10)).$((_t % 10)) h"
    fi
}

# --- HTTP: one request, bounded, capped, direct, no redirects ------------------------------
MAX_BODY=65536
BB_WGET_T=''
# A program by its absolute path on PATH -> R (absolute directories only), else its bare name
# when the shell still runs it (an applet); status 1 when neither. By path because a
# "standalone" busybox ash (Debian's busybox-static) runs its own wget applet for the bare
# name even where GNU wget is installed, and busybox wget cannot be kept from following
# redirects.
find_prog() {
    _oldifs=$IFS; IFS=:
    for _d in $PATH; do
        IFS=$_oldifs
        case $_d in /*) ;; *) continue ;; esac
        if [ -f "$_d/$1" ] && [ -x "$_d/$1" ]; then R=$_d/$1; return 0; fi
    done
    IFS=$_oldifs
    R=$1
    command -v "$1" >/dev/null 2>&1
}
if find_prog curl; then
    CLIENT=curl; CURL=$R
elif find_prog wget; then
    WGET=$R
    # One call tells them apart: GNU's help starts "GNU Wget"; busybox's lists -T SEC when it
    # was built with a timeout.
    _wh=$("$WGET" --help 2>&1)
    case $_wh in
        *GNU\ Wget*) CLIENT=gnu-wget ;;
        *) CLIENT=busybox-wget; case $_wh in *'-T SEC'*) BB_WGET_T=1 ;; esac ;;
    esac
else
    CLIENT=''
fi

rd() {  # $1 file -> R: its first line; status 1 when the file is absent
    R=''
    [ -f "$1" ] || return 1
    IFS= read -r R < "$1" || :
    return 0
}

# http OUT URL TIMEOUT_MS [PUT] [HEADER_NAME HEADER_VALUE]
# Writes OUT.status (HTTP status or empty), OUT.body (at most MAX_BODY+1 bytes),
# OUT.error (why there is no answer), OUT.redirect (a redirect that was not followed),
# OUT.date (Date header), OUT.at (epoch seconds when it ended).
# Headers never go on a command line (every process in the container can read
# /proc/PID/cmdline): curl and GNU wget read them from a file in the private scratch folder.
# busybox wget cannot, and it follows redirects; fetch_credentials never gives it the token.
http() {
    _out=$1; _url=$2; _method=${4:-GET}; _hn=${5-}; _hv=${6-}
    now_ms; _ms=$((end_ms - NOW - 250)); [ "$_ms" -lt "$3" ] || _ms=$3
    true > "$_out.body"; true > "$_out.hdr"; true > "$_out.err"
    if [ "$_ms" -le 50 ]; then
        printf 'not sent: the deadline was reached' > "$_out.error"; epoch_now; printf '%s' "$R" > "$_out.at"; return
    fi
    secs "$_ms"; _s=$R
    mkfifo "$_out.fifo" 2>/dev/null || { printf 'cannot create a FIFO in %s' "$T" > "$_out.error"; return; }
    head -c $((MAX_BODY + 1)) < "$_out.fifo" > "$_out.body" &
    _hpid=$!
    case $CLIENT in
        curl)
            _m=''; [ "$_method" = PUT ] && _m='-X PUT'
            {
                printf 'header = "Accept: application/json"\n'
                [ -n "$_hn" ] && printf 'header = "%s: %s"\n' "$_hn" "$_hv"
            } > "$_out.cfg"
            "$CURL" -q -sS -K "$_out.cfg" --noproxy '*' --proto =http,https --max-redirs 0 \
                --max-time "$_s" --connect-timeout "$_s" $_m -D "$_out.hdr" -o - -- "$_url" \
                > "$_out.fifo" 2> "$_out.err" &
            ;;
        gnu-wget)
            # --config replaces /etc/wgetrc and ~/.wgetrc (no redirect or proxy setting of theirs
            # applies). By default GNU wget follows redirects and sends --header lines, the
            # Authorization header included, to the new host: --max-redirect=0.
            _m=''; [ "$_method" = PUT ] && _m='--method=PUT'
            {
                printf 'header = Accept: application/json\n'
                [ -n "$_hn" ] && printf 'header = %s: %s\n' "$_hn" "$_hv"
            } > "$_out.cfg"
            "$WGET" --config="$_out.cfg" -q -S -O - --tries=1 -T "$_s" --max-redirect=0 --no-proxy \
                --content-on-error $_m -- "$_url" \
                > "$_out.fifo" 2> "$_out.err" &
            ;;
        busybox-wget)
            _t=''; [ "$BB_WGET_T" = 1 ] && _t="-T $(( (_ms + 999) / 1000 ))"
            _h=''; [ -n "$_hn" ] && _h="$_hn: $_hv"
            "$WGET" -q -S -O - -Y off $_t --header 'Accept: application/json' ${_h:+--header "$_h"} "$_url" \
                > "$_out.fifo" 2> "$_out.err" &
            ;;
    esac
    _cpid=$!
    _wpid=''
    if [ "$CLIENT" != curl ]; then
        # The watchdog: wget's -T bounds each read, so a slow drip would never end; this ends
        # it at its budget. (curl's --max-time bounds the whole request by itself.) A sleep
        # without fractions fails at once and is retried in whole seconds.
        secs $((_ms + 200))
        (
            trap 'kill $_sp 2>/dev/null; exit 0' TERM
            sleep "$R" 2>/dev/null & _sp=$!
            wait $_sp || { sleep $(( ${R%.*} + 1 )) & _sp=$!; wait $_sp; }
            kill $_cpid 2>/dev/null && true > "$_out.killed"
        ) > /dev/null 2>&1 &
        _wpid=$!
    fi
    wait $_cpid
    _rc=$?
    [ -n "$_wpid" ] && { kill $_wpid 2>/dev/null; wait $_wpid 2>/dev/null; }
    wait $_hpid 2>/dev/null  # it ends at the client's EOF, with every byte written
    epoch_now; printf '%s' "$R" > "$_out.at"
    http_finish "$_out" "$_rc" "$_ms"
}

# What came back for OUT ($1; the client's exit status $2, the budget $3 ms): OUT.status,
# OUT.date, OUT.redirect, OUT.error.
http_finish() {
    _out=$1; _rc=$2; _ms=$3
    # The status line (the first answer: a redirect is reported, never followed) and Date,
    # from the first 64 lines: busybox wget has no limit of its own on an answer's headers (a
    # flood of them would be read for minutes).
    _sl=''; _date=''; _i=0
    case $CLIENT in
        curl)
            {
                IFS= read -r _sl
                while [ $_i -lt 64 ] && IFS= read -r _l; do
                    _i=$((_i + 1))
                    case $_l in [Dd][Aa][Tt][Ee]:*) _date=${_l#*:}; break ;; esac
                done
            } < "$_out.hdr" ;;
        *)
            while [ $_i -lt 64 ] && IFS= read -r _l; do
                _i=$((_i + 1))
                case $_l in
                    *HTTP/[0-9]*' '[0-9][0-9][0-9]*) [ -n "$_sl" ] || _sl=HTTP/${_l#*HTTP/} ;;
                    ' '*[Dd][Aa][Tt][Ee]:*) [ -n "$_date" ] || _date=${_l#*:} ;;
                esac
                [ -n "$_sl" ] && [ -n "$_date" ] && break
            done < "$_out.err" ;;
    esac
    _sl=${_sl%"$CR"}
    _st=${_sl#HTTP/* }; _st=${_st%% *}; _st=${_st%"$CR"}
    case $_st in [0-9][0-9][0-9]) ;; *) _st='' ;; esac
    if [ -n "$_st" ]; then
        printf '%s' "$_st" > "$_out.status"
        trim "${_date%"$CR"}"; printf '%s\n' "$R" > "$_out.date"
        case $_st in 3??) printf '%s' "$_st" > "$_out.redirect" ;; esac
    fi
    secs "$_ms"
    if [ -f "$_out.killed" ]; then
        if [ -z "$_st" ]; then printf 'timed out after %s s' "$R" > "$_out.error"
        elif [ "$(wc -c < "$_out.body")" -le "$MAX_BODY" ]; then printf 'timed out after %s s while reading the answer' "$R" > "$_out.error"
        fi
        return
    fi
    if [ -n "$_st" ]; then
        # Headers arrived, then the body broke off (curl's own --max-time, a reset).
        case $CLIENT:$_rc in
            curl:0) ;;
            *:1[2-9][0-9]|*:2[0-9][0-9]) printf 'timed out after %s s while reading the answer' "$R" > "$_out.error" ;;
            curl:28) printf 'timed out after %s s while reading the answer' "$R" > "$_out.error" ;;
            curl:*) [ "$(wc -c < "$_out.body")" -le "$MAX_BODY" ] && printf 'the answer broke off (curl exit %s)' "$_rc" > "$_out.error" ;;
        esac
        return
    fi
    _e=''; _i=0
    while [ $_i -lt 64 ] && IFS= read -r _l; do
        _i=$((_i + 1))
        case $_l in ' '*|'') ;; *) _e=$_l; break ;; esac
    done < "$_out.err"
    case $CLIENT:$_rc in
        curl:7|*:*[Cc]onnection\ refused*) _e='connection refused (nothing listens there)' ;;
        curl:28) _e="timed out after $R s" ;;
        curl:52) _e='the server closed the connection without answering' ;;
        curl:6) _e='could not resolve the host' ;;
    esac
    case $_e in *[Cc]onnection\ refused*) _e='connection refused (nothing listens there)' ;; esac
    [ -n "$_e" ] || _e="$CLIENT ended with status $_rc and no answer"
    scrub "$_e"; printf '%s' "$R" > "$_out.error"
}

# Requests queued by req and sent together by send. curl takes them all in one process
# (--parallel): starting curl costs more than a request to a local endpoint, so one start
# per job instead of one per request. wget gets one process per request, all at once.
REQ_Q=''
req() {  # OUT URL TIMEOUT_MS [METHOD] [HEADER_NAME HEADER_VALUE]; OUT is $T/<name>
    _n=${1##*/}
    REQ_Q="$REQ_Q $_n"
    eval "RQ_u_$_n=\$2; RQ_t_$_n=\$3; RQ_m_$_n=\${4:-GET}; RQ_hn_$_n=\${5-}; RQ_hv_$_n=\${6-}"
}
send() {
    _q=$REQ_Q; REQ_Q=''
    set -- $_q
    if [ $# -eq 1 ]; then
        eval "http \"\$T/\$1\" \"\$RQ_u_$1\" \"\$RQ_t_$1\" \"\$RQ_m_$1\" \"\$RQ_hn_$1\" \"\$RQ_hv_$1\""
    elif [ "$CLIENT" = curl ]; then
        curl_batch "$@"
    else
        for _n in "$@"; do
            eval "http \"\$T/\$_n\" \"\$RQ_u_$_n\" \"\$RQ_t_$_n\" \"\$RQ_m_$_n\" \"\$RQ_hn_$_n\" \"\$RQ_hv_$_n\"" &
        done
        wait
    fi
}
# Several queued requests in one curl. Each keeps its own budget (--max-time), body cap
# (a FIFO read by head), header file and exit status (-w %{exitcode}, curl 7.75+); a curl
# without --parallel (before 7.66) gets them one process each instead.
curl_batch() {
    _names=$*
    now_ms; _left=$((end_ms - NOW - 250))
    set -- -q -sS --parallel
    _sent=''
    for _n in $_names; do
        _out=$T/$_n
        eval "_url=\$RQ_u_$_n; _to=\$RQ_t_$_n; _method=\$RQ_m_$_n; _hn=\$RQ_hn_$_n; _hv=\$RQ_hv_$_n"
        _ms=$_left; [ "$_ms" -lt "$_to" ] || _ms=$_to
        true > "$_out.body"; true > "$_out.hdr"; true > "$_out.err"
        if [ "$_ms" -le 50 ]; then
            printf 'not sent: the deadline was reached' > "$_out.error"; epoch_now; printf '%s' "$R" > "$_out.at"; continue
        fi
        mkfifo "$_out.fifo" 2>/dev/null || { printf 'cannot create a FIFO in %s' "$T" > "$_out.error"; continue; }
        head -c $((MAX_BODY + 1)) < "$_out.fifo" > "$_out.body" &
        eval "RQ_hp_$_n=\$! RQ_ms_$_n=\$_ms"
        {
            printf 'header = "Accept: application/json"\n'
            [ -n "$_hn" ] && printf 'header = "%s: %s"\n' "$_hn" "$_hv"
        } > "$_out.cfg"
        secs "$_ms"
        [ -n "$_sent" ] && set -- "$@" --next -sS
        set -- "$@" -K "$_out.cfg" --noproxy '*' --proto =http,https --max-redirs 0 --max-time "$R" \
            --connect-timeout "$R" -D "$_out.hdr" -o "$_out.fifo" -w "$_n %{exitcode} %{errormsg}\n"
        [ "$_method" = PUT ] && set -- "$@" -X PUT
        set -- "$@" --url "$_url"
        _sent="$_sent $_n"
    done
    [ -n "$_sent" ] || return 0
    _first=${_sent# }; _first=${_first%% *}
    _w=$T/$_first.w
    "$CURL" "$@" > "$_w" 2> "$T/$_first.batch-err"
    _brc=$?
    for _n in $_sent; do
        # A transfer that never opened its output leaves head waiting for a writer: a
        # read-write open (never blocks on a FIFO) lets it see the end.
        true <> "$T/$_n.fifo"
        eval "wait \$RQ_hp_$_n"
        epoch_now; printf '%s' "$R" > "$T/$_n.at"
    done
    if [ "$_brc" = 2 ] && [ ! -s "$_w" ]; then
        # This curl knows no --parallel: one process per request.
        for _n in $_sent; do
            rm -f "$T/$_n.fifo" "$T/$_n.at"
            eval "http \"\$T/\$_n\" \"\$RQ_u_$_n\" \"\$RQ_t_$_n\" \"\$RQ_m_$_n\" \"\$RQ_hn_$_n\" \"\$RQ_hv_$_n\"" &
        done
        wait
        return 0
    fi
    while IFS=' ' read -r _n _rc _msg; do
        case " $_sent " in *" $_n "*) ;; *) continue ;; esac
        case $_rc in ''|*[!0-9]*) _rc=$_brc ;; esac  # before curl 7.75: no %{exitcode}
        eval "RQ_rc_$_n=\$_rc"
        [ -n "$_msg" ] && printf 'curl: (%s) %s\n' "$_rc" "$_msg" > "$T/$_n.err"
    done < "$_w"
    for _n in $_sent; do
        eval "_rc=\${RQ_rc_$_n-\$_brc}; _ms=\$RQ_ms_$_n"
        http_finish "$T/$_n" "$_rc" "$_ms"
    done
}

# --- environment ------------------------------------------------------------------------
REL=AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
FULL=AWS_CONTAINER_CREDENTIALS_FULL_URI
rel_set=0; [ "${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI+x}" = x ] && rel_set=1
full_set=0; [ "${AWS_CONTAINER_CREDENTIALS_FULL_URI+x}" = x ] && full_set=1
REL_V=${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI-}
FULL_V=${AWS_CONTAINER_CREDENTIALS_FULL_URI-}
# Secrets of this run: the id parts of the relative URI, keys, tokens, proxy passwords.
_oldifs=$IFS; IFS='/?&='; _n=0
for _seg in $REL_V; do
    IFS=$_oldifs
    case $_seg in ''|v1|v2|v3|v4|credentials|api|task|role|creds) ;; *) add_secret "$_seg"; _n=$((_n + 1)) ;; esac
    [ $_n -lt 16 ] || break
done
IFS=$_oldifs
add_secret "${AWS_SECRET_ACCESS_KEY-}"
add_secret "${AWS_SESSION_TOKEN-}"
add_secret "${AWS_SECURITY_TOKEN-}"
add_secret "${AWS_CONTAINER_AUTHORIZATION_TOKEN-}"
for _pv in "${HTTP_PROXY-}" "${http_proxy-}" "${HTTPS_PROXY-}" "${https_proxy-}" "${ALL_PROXY-}" "${all_proxy-}"; do
    case $_pv in *@*) ;; *) continue ;; esac
    case $_pv in *://*) after_first "$_pv" :// :; _pw=$R ;; *) _pw=$_pv ;; esac
    _pw=${_pw%@*}
    case $_pw in *:*) add_secret "${_pw#*:}" ;; esac
done

# Which URL the SDKs would request, and whether it may be requested (botocore's rule).
target_source=''; target_url=''; target_raw=''; target_host=''; target_refused=''
if [ $rel_set = 1 ]; then
    target_source=relative
    mask_relative_uri "$REL_V"; target_url="http://169.254.170.2$R"
    target_host=169.254.170.2
    case $REL_V in
        '') target_refused='it is empty' ;;
        //*|[!/]*)
            target_host=$MASK
            first_char "$REL_V"
            target_refused="appended to http://169.254.170.2 it would send the request to another host (starts with '$R')" ;;
        *)
            # A plain absolute path: /segments, optionally ?query, nothing else.
            _p=$REL_V; _q=''
            case $REL_V in *\?*) _p=${REL_V%%\?*}; after_first "$REL_V" '?' '?'; _q=$R ;; esac
            case $_p in
                *[!A-Za-z0-9._~%/-]*) target_refused="it is not a plain absolute path (it must start with a single '/' and contain only URL path and query characters)" ;;
            esac
            case $_q in
                *[!A-Za-z0-9._~%=\&-]*) target_refused="it is not a plain absolute path (it must start with a single '/' and contain only URL path and query characters)" ;;
            esac
            [ -z "$target_refused" ] && target_raw="http://169.254.170.2$REL_V" ;;
    esac
elif [ $full_set = 1 ]; then
    target_source=full
    mask_url "$FULL_V"; target_url=$R
    _sch=''; case $FULL_V in http://*) _sch=http ;; https://*) _sch=https ;; esac
    _hp=$FULL_V; case $_hp in *://*) after_first "$_hp" :// :; _hp=$R ;; esac
    case $_hp in *[/?#]*) _hp=${_hp%%[/?#]*} ;; esac
    case $_hp in *@*) after_last "$_hp" @; _hp=$R ;; esac
    case $_hp in
        \[*\]*) target_host=${_hp#\[}; target_host=${target_host%%\]*}; _port=${_hp##*\]}; _port=${_port#:} ;;
        *:*) target_host=${_hp%%:*}; after_first "$_hp" : :; _port=$R ;;
        *) target_host=$_hp; _port='' ;;
    esac
    case $_port in *[!0-9]*) target_refused='the URL does not parse (a bad port or bracket)' ;; esac
    if [ -z "$target_refused" ]; then
        if [ -z "$_sch" ] || [ -z "$target_host" ]; then
            target_refused='it is not an http:// or https:// URL with a host'
        elif [ "$_sch" = http ]; then
            case $target_host in
                169.254.170.2|169.254.170.23|fd00:ec2::23|localhost|::1) ;;
                127.*) case $target_host in *[!0-9.]*|*.*.*.*.*) target_refused=x ;; *.*.*.*) ;; *) target_refused=x ;; esac ;;
                *) target_refused=x ;;
            esac
            [ "$target_refused" = x ] && target_refused="the SDKs refuse plain http to '$target_host': only https, a loopback address or 169.254.170.2, 169.254.170.23, fd00:ec2::23, localhost are accepted"
        fi
    fi
    [ -z "$target_refused" ] && target_raw=$FULL_V
fi

# The authorization token (the file beats the variable, as in botocore); never printed.
token=''; token_source=''; token_problem=''
if [ "${AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE+x}" = x ]; then
    token_source=file
    # A regular file only (a FIFO would never end), and its first 64 KiB, as the Python probe.
    if [ -f "$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" ] && [ -r "$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" ]; then
        token=$(head -c 65536 -- "$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" 2>/dev/null; printf x); token=${token%x}
        add_secret "$token"
    else
        token_problem="cannot read $AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
    fi
elif [ "${AWS_CONTAINER_AUTHORIZATION_TOKEN+x}" = x ]; then
    token_source=variable
    token=$AWS_CONTAINER_AUTHORIZATION_TOKEN
fi
case $token in *"$NL"*|*"$CR"*) [ -n "$token_problem" ] || token_problem='the authorization token contains a line break, which is not a legal header value' ;; esac
case $token in *\"*|*\\*) [ -n "$token_problem" ] || token_problem='the authorization token holds a quote or a backslash, which probe.sh cannot pass to curl safely' ;; esac
token_source_in_use=relative
[ "$target_source" = full ] && [ -n "$token_source" ] && token_source_in_use=full

# --- PID 1 and the processes (/proc) -------------------------------------------------------
# One line per variable; a newline inside a value becomes \001 so each stays on one line.
read_environ() {  # $1 pid -> stdout; status 1 when unreadable
    [ -r "/proc/$1/environ" ] || return 1
    tr '\n\000' '\001\n' 2>/dev/null < "/proc/$1/environ"
}
# The lines of the dump $1 the process survey reads (the credentials and proxy variables)
# -> R, at most 64: one pass, so a process with thousands of variables costs one loop.
env_pick() {
    R=''; _ep=0
    _oldifs=$IFS; IFS=$NL
    for _el in $1; do
        case $_el in
            AWS_CONTAINER_CREDENTIALS_*=*|http_proxy=*|HTTP_PROXY=*|https_proxy=*|HTTPS_PROXY=*|all_proxy=*|ALL_PROXY=*|no_proxy=*|NO_PROXY=*|ftp_proxy=*|FTP_PROXY=*|REQUEST_METHOD=*)
                R="$R$_el$NL"; _ep=$((_ep + 1)); [ $_ep -lt 64 ] || break ;;
        esac
    done
    IFS=$_oldifs
}
pid1_env=''; pid1_readable=0; pid1_reason=''
# /proc/PID/environ checks ptrace access when it is opened. Not `: < file`: a redirection
# that fails on a special built-in (:) ends a POSIX shell (dash, busybox ash) at once.
can_open() { { true < "$1"; } 2>/dev/null; }
if [ ! -e /proc/1/environ ]; then
    pid1_reason='/proc is not mounted'
elif can_open /proc/1/environ; then
    pid1_env=$(read_environ 1) && pid1_readable=1
else
    pid1_reason='permission denied: run probe.sh as the same user as PID 1 (root)'
fi
[ $pid1_readable = 1 ] || pid1_env=''
pid1_has_var=0; pid1_rel=''; pid1_full=''; pid1_has_rel=0; pid1_has_full=0
if [ $pid1_readable = 1 ]; then
    env_get "$pid1_env" $REL && pid1_has_rel=1; pid1_rel=$R
    env_get "$pid1_env" $FULL && pid1_has_full=1; pid1_full=$R
    [ $pid1_has_rel = 1 ] || [ $pid1_has_full = 1 ] && pid1_has_var=1
    env_get "$pid1_env" AWS_REGION; pid1_region=$R
    [ -n "$pid1_region" ] || { env_get "$pid1_env" AWS_DEFAULT_REGION; pid1_region=$R; }
fi

# --- proxies: the strict rule (urllib's), used when no SDK information is at hand ---------
# proxy_route URL ENVDUMP -> sets r_host r_proxy (scheme proxy) r_any (scheme or ALL_PROXY)
# r_bypass (NO_PROXY names the host: every client goes direct) r_cidr (only a CIDR covers it)
proxy_route() {
    _url=$1; _envd=$2
    _scheme=${_url%%://*}
    _hp=$_url; case $_hp in *://*) after_first "$_hp" :// :; _hp=$R ;; esac
    case $_hp in *[/?#]*) _hp=${_hp%%[/?#]*} ;; esac
    case $_hp in *@*) after_last "$_hp" @; _hp=$R ;; esac
    case $_hp in \[*) r_host=${_hp#\[}; r_host=${r_host%%\]*} ;; *) r_host=${_hp%%:*} ;; esac
    _pget "${_scheme}_proxy"; r_proxy=$R
    env_get "$_envd" REQUEST_METHOD && [ "$_scheme" = http ] && r_proxy=''
    _pget all_proxy
    r_any=${r_proxy:-$R}
    _pget no_proxy; r_noproxy=$R
    r_bypass=0; r_cidr=0
    [ -n "$r_any" ] || { r_bypass=1; return; }
    lower "$r_host"; _hl=$R
    lower "$r_noproxy"; _npl=$R  # one tr for the whole list, not one per entry
    _oldifs=$IFS; IFS=', '; _i=0
    for _n in $_npl; do
        IFS=$_oldifs
        [ -n "$_n" ] || continue
        _i=$((_i + 1)); [ $_i -le 512 ] || break  # the first 512 entries
        [ "$_n" = '*' ] && { r_bypass=1; break; }
        _n=${_n#.}
        case $_hl in "$_n"|*".$_n") r_bypass=1; break ;; esac
        case $_n in */*) in_cidr "$r_host" "$_n" && r_cidr=1 ;; esac
    done
    IFS=$_oldifs
}
# A proxy variable of the dump in $_envd -> R: lower case wins; an empty lower-case variable
# removes the upper-case one.
_pget() {
    env_get "$_envd" "$1" && return 0
    case $1 in
        http_proxy) env_get "$_envd" HTTP_PROXY ;;
        https_proxy) env_get "$_envd" HTTPS_PROXY ;;
        all_proxy) env_get "$_envd" ALL_PROXY ;;
        no_proxy) env_get "$_envd" NO_PROXY ;;
        ftp_proxy) env_get "$_envd" FTP_PROXY ;;
        *) R='' ;;
    esac
    :
}
ip4_num() {  # dotted quad -> R: the integer; status 1 if not one
    case $1 in *[!0-9.]*|*..*|.*|*.) return 1 ;; esac
    _oldifs=$IFS; IFS=.; set -- $1; IFS=$_oldifs
    [ $# -eq 4 ] || return 1
    for _o in "$@"; do case $_o in 0?*) return 1 ;; ?|??|???) ;; *) return 1 ;; esac; [ "$_o" -le 255 ] || return 1; done
    R=$(( ($1 << 24) + ($2 << 16) + ($3 << 8) + $4 ))
}
in_cidr() {
    ip4_num "$1" || return 1; _h=$R
    ip4_num "${2%/*}" || return 1; _net=$R

    _bits=${2#*/}
    case $_bits in ''|*[!0-9]*) return 1 ;; esac
    [ "$_bits" -le 32 ] || return 1
    [ "$_bits" = 0 ] && return 0
    _shift=$((32 - _bits))
    [ $(( _h >> _shift )) = $(( _net >> _shift )) ]
}
self_env=$(read_environ $$) || self_env=$(env)
env_pick "$self_env"; self_env=$R

# --- results ------------------------------------------------------------------------------
ORDER='env.credentials-variable env.credentials-uri-safe env.shadowing-credentials env.region proxy.credentials-endpoint proxy.metadata-endpoints endpoint.credentials endpoint.credentials-expiry endpoint.clock-skew endpoint.task-metadata imds.instance-role identity.caller identity.task-role processes.credentials-variable processes.proxy sdk.versions sdk.identity shim.profile'

key_of() {  # check id -> K: a variable-name part (dots and dashes become _)
    K=''
    _rest=$1
    while :; do
        case $_rest in
            *[.-]*) K=$K${_rest%%[.-]*}_; _rest=${_rest#*[.-]} ;;
            *) K=$K$_rest; return ;;
        esac
    done
}
result() {  # id status title detail remedy (each bounded: rendering stays linear and short)
    key_of "$1"
    _rs=$2
    cap "$3" 2048; _rt=$R
    cap "${4-}" 8192; _rd=$R
    cap "${5-}" 8192; _rr=$R
    eval "S_$K=\$_rs; TI_$K=\$_rt; DE_$K=\$_rd; RE_$K=\$_rr"
}
# A skip's title says it did not run and why: "Not checked: <why>" -> R.
not_checked() {
    _head=${1%%'; '*}
    _head=${_head%%'. '*}
    _head=${_head%.}
    if [ ${#_head} -gt 90 ]; then
        _head=$(printf '%s' "$_head" | cut -c1-87 | sed "s/[$X80-$XFF]*\$//; s/ *\$//")...
    fi
    R="Not checked: $_head"
}
skip() { cap "$2" 8192; _sd=$R; not_checked "$_sd"; result "$1" skip "$R" "$_sd" ""; }

selected() {
    if [ -n "$only" ]; then case ",$only," in *",$1,"*) ;; *) return 1 ;; esac; fi
    if [ -n "$skip_ids" ]; then case ",$skip_ids," in *",$1,"*) return 1 ;; esac; fi
    return 0
}

R_TASK_ROLE='Set "taskRoleArn" in the task definition (the executionRoleArn is never given to the application); its trust policy must allow ecs-tasks.amazonaws.com to sts:AssumeRole.'
R_AGENT_RESTART='restart the agent: `sudo systemctl restart ecs` (Amazon Linux 2 and 2023) or `sudo stop ecs && sudo start ecs` (Amazon Linux AMI)'
R_AGENT_FLAGS="On EC2, /etc/ecs/ecs.config needs ECS_ENABLE_TASK_IAM_ROLE=true (and ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST=true for host network mode), without quotes; then $R_AGENT_RESTART."
R_SHIM='Start the container through the shim, which writes PID 1'"'"'s credential variables into /etc/profile.d/ecs-credentials.sh and ~/.profile (read by login shells: su -, sudo -i, sshd sessions) and, with --environment-file, into /etc/environment (read through pam_env by cron jobs on Debian and Ubuntu), then execs your command: ENTRYPOINT ["shim", "--environment-file", "--"] where the image has Python and the probe installed, or COPY shim/ecs-shim.sh /usr/local/bin/ecs-shim and ENTRYPOINT ["/usr/local/bin/ecs-shim", "--environment-file", "--"] where it has only sh. busybox crond reads neither: begin its jobs with `. /etc/profile`; `env -i sh -c` reads no file (make it `env -i sh -l -c`); under s6-overlay, start services with with-contenv.'
R_COPY="To see them by hand (as root): \`tr '\\0' '\\n' < /proc/1/environ | grep ^AWS_CONTAINER\`; copy the printed line into ~/.profile as \`export NAME=value\` with the literal value (in the affected shell the variable is empty: a reference to it writes nothing)."
R_NON_PID1="Not PID 1 (cron jobs, su -, sudo -i, sshd sessions, env -i, an init that clears the environment)? Such processes start without PID 1's variables. $R_SHIM $R_COPY"
R_NO_PROXY='Exclude the link-local endpoints from the proxy in the container'"'"'s environment: NO_PROXY=169.254.169.254,169.254.170.2,/var/run/docker.sock (and no_proxy with the same value; name the addresses explicitly, many clients ignore CIDR ranges such as 169.254.0.0/16).'
R_IPTABLES='On an AMI that is not ECS-optimized, add the agent'"'"'s rules: `sudo sysctl -w net.ipv4.conf.all.route_localnet=1`, `sudo iptables -t nat -A PREROUTING -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 127.0.0.1:51679`, `sudo iptables -t nat -A OUTPUT -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 51679`, and save the rules so they survive a reboot: `sudo iptables-save | sudo tee /etc/sysconfig/iptables && sudo systemctl enable --now iptables` (Amazon Linux; `sudo yum install -y iptables-services` first) or `sudo netfilter-persistent save` (Debian, Ubuntu) (`probe host` on the instance names only what is missing).'
R_BLOCK_IMDS='Block the instance role from tasks, per network mode: awsvpc tasks: ECS_AWSVPC_BLOCK_IMDS=true in /etc/ecs/ecs.config, then restart the agent: `sudo systemctl restart ecs` (Amazon Linux 2 and 2023) or `sudo stop ecs && sudo start ecs` (Amazon Linux AMI); bridge tasks: `sudo iptables --insert DOCKER-USER 1 --in-interface docker+ --destination 169.254.169.254/32 --jump DROP`, then save the rules so they survive a reboot: `sudo iptables-save | sudo tee /etc/sysconfig/iptables && sudo systemctl enable --now iptables` (Amazon Linux; `sudo yum install -y iptables-services` first) or `sudo netfilter-persistent save` (Debian, Ubuntu); host-mode tasks share the instance'"'"'s network, so no rule tells them from the host: give task roles to awsvpc or bridge tasks, or run host-mode containers as a user of their own ("user": "UID" in the container definition) and drop IMDS for that user: `sudo iptables --insert OUTPUT 1 --destination 169.254.169.254/32 --match owner --uid-owner UID --jump DROP` (the agent runs as root and keeps it), then save it the same way. And set AWS_EC2_METADATA_DISABLED=true in the container to stop the SDKs from falling back to it.'
NO_CLIENT='neither curl nor wget is in this image, so no endpoint can be asked; install one of them, or run `probe` (the Python CLI or a sidecar)'

# --- the network observations, concurrently, each bounded by the deadline ----------------
fetch_credentials() {
    [ -n "$target_raw" ] && [ -z "$token_problem" ] && [ -n "$CLIENT" ] || return 0
    if [ -n "$token" ] && [ "$CLIENT" = busybox-wget ]; then
        # busybox wget takes headers only on its command line (readable by every process in
        # the container) and follows redirects, sending every header to the new host.
        printf 'an authorization token must be sent and only busybox wget is here, which would show the token on its command line and send it on to any host a redirect names; install curl or GNU wget, or run `probe`' > "$T/cred.skip"
        return 0
    fi
    if [ -n "$token" ]; then
        req "$T/cred" "$target_raw" 2000 GET Authorization "$token"
    else
        req "$T/cred" "$target_raw" 2000
    fi
}
fetch_metadata() {
    [ -n "${ECS_CONTAINER_METADATA_URI_V4-}" ] && [ -n "$CLIENT" ] || return 0
    _base=${ECS_CONTAINER_METADATA_URI_V4%/}
    req "$T/mc" "$_base" 2000
    req "$T/mt" "$_base/task" 2000
}
# The credentials and task metadata requests, sent together (one curl).
fetch_task() {
    want endpoint.credentials endpoint.credentials-expiry && fetch_credentials
    want endpoint.task-metadata && fetch_metadata
    send
}

fetch_imds() {
    [ -n "$CLIENT" ] || return 0
    case ${AWS_EC2_METADATA_DISABLED-} in [Tt][Rr][Uu][Ee]) return 0 ;; esac
    _ibase=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254/}
    _ibase=${_ibase%/}
    _itok=''
    # The IMDSv2 token and the role list without a token go out together: where IMDSv1 is
    # allowed the list is already there when the token arrives (two round trips, not three).
    [ "$CLIENT" != busybox-wget ] && req "$T/it" "$_ibase/latest/api/token" 1000 PUT X-aws-ec2-metadata-token-ttl-seconds 21600
    req "$T/ir1" "$_ibase/latest/meta-data/iam/security-credentials/" 1000
    send
    _irf=$T/ir1
    if [ "$CLIENT" != busybox-wget ]; then
        rd "$T/it.status"
        if [ "$R" = 200 ] && [ -s "$T/it.body" ]; then
            rd "$T/it.body"; _itok=${R%"$CR"}
            printf 2 > "$T/imds.version"
        elif rd "$T/it.error"; then
            case $R in *'timed out'*) ;; *) printf '%s' "$R" > "$T/imds.error"; return 0 ;; esac
        fi
    fi
    [ -f "$T/imds.version" ] || printf 1 > "$T/imds.version"
    if [ -n "$_itok" ]; then _ih=X-aws-ec2-metadata-token; else _ih=''; fi
    # IMDSv2 only (the list without a token was refused): ask again with the token.
    if [ -n "$_itok" ] && rd "$_irf.status" && [ "$R" != 200 ]; then
        http "$T/ir2" "$_ibase/latest/meta-data/iam/security-credentials/" 1000 GET $_ih "$_itok"
        _irf=$T/ir2
    fi
    rd "$_irf.status"
    if [ "$R" != 200 ]; then
        _st=$R
        if rd "$_irf.error"; then printf '%s' "$R" > "$T/imds.error"; else printf 'HTTP %s listing instance roles' "$_st" > "$T/imds.error"; fi
        return 0
    fi
    # The first line that is not blank, trimmed.
    _role=''
    while IFS= read -r _l || [ -n "$_l" ]; do
        case $_l in *[![:space:]]*) trim "${_l%"$CR"}"; _role=$R; break ;; esac
    done < "$_irf.body"
    [ -n "$_role" ] || { printf 'no instance role is attached' > "$T/imds.error"; return 0; }
    printf '%s' "$_role" > "$T/imds.role"
    case $_role in *[!A-Za-z0-9+=,.@_-]*) printf 'the instance role name is not a valid IAM name' > "$T/imds.error"; return 0 ;; esac
    req "$T/ic" "$_ibase/latest/meta-data/iam/security-credentials/$_role" 1000 GET $_ih ${_ih:+"$_itok"}
    req "$T/ii" "$_ibase/latest/meta-data/instance-id" 1000 GET $_ih ${_ih:+"$_itok"}
    send
}

# The SDK scan: the package formats sh can read, by path and file name.
scan_sdks() {
    _roots=${sdk_roots:-/}
    _oldifs=$IFS; IFS=:
    set --
    for _r in $_roots; do [ -n "$_r" ] && set -- "$@" "$_r"; done
    IFS=$_oldifs
    [ $# -gt 0 ] || set -- /
    printf '%s\n' "$@" > "$T/sdk.roots"
    find "$@" \( -path /proc -o -path /sys -o -path /dev -o -path "$T" \) -prune -o \
        \( -name 'botocore-*.dist-info' -o -name 'botocore-*.egg-info' -o -name 'boto3-*.dist-info' -o -name 'boto3-*.egg-info' \
           -o -name 'boto-*.dist-info' -o -name 'boto-*.egg-info' -o -name 'awscli-*.dist-info' -o -name 'awscli-*.egg-info' \
           -o -name 'aws-sdk-core-*.gemspec' -o -name 'aws-java-sdk-core-*.jar' -o -name 'aws-java-sdk-bundle-*.jar' \
           -o -name 'sdk-core-2.*.jar' -o -name 'bundle-2.*.jar' \
           -o \( -name package.json -type f \( -path '*/node_modules/aws-sdk/package.json' -o -path '*/node_modules/@aws-sdk/credential-provider-node/package.json' \) \) \
           -o \( -name installed.json -type f -path '*/vendor/composer/installed.json' \) \) -print 2>/dev/null > "$T/sdk.found.tmp" &
    printf '%s' $! > "$T/sdk.findpid"
    wait $!
    mv "$T/sdk.found.tmp" "$T/sdk.found"
}

# Each observation runs as its own bounded job; the run as a whole ends by the deadline.
run_job() {  # name function
    ( "$2" ) > /dev/null 2>&1 &
    eval "JOB_$1=\$!"
}
want() { for _w in "$@"; do selected "$_w" && return 0; done; return 1; }
want endpoint.credentials endpoint.credentials-expiry endpoint.task-metadata && run_job task fetch_task
want imds.instance-role && run_job imds fetch_imds
want sdk.versions && run_job sdk scan_sdks

# The SDK scan is the one job without a timeout of its own: stop it at the deadline.
if [ -n "${JOB_sdk-}" ]; then
    (
        trap 'kill $_sp 2>/dev/null; exit 0' TERM
        now_ms; _w=$((end_ms - NOW - 300)); [ $_w -gt 0 ] || _w=1
        secs $_w
        sleep "$R" 2>/dev/null & _sp=$!
        wait $_sp || { sleep $(( ${R%.*} + 1 )) & _sp=$!; wait $_sp; }
        rd "$T/sdk.findpid" && [ -n "$R" ] && kill "$R" 2>/dev/null && true > "$T/sdk.stopped"

    ) > /dev/null 2>&1 &
    JOB_sdkdog=$!
fi
for _j in task imds sdk; do
    eval "_p=\${JOB_$_j-}"
    [ -n "$_p" ] && wait "$_p" 2>/dev/null
done
[ -n "${JOB_sdkdog-}" ] && { kill "$JOB_sdkdog" 2>/dev/null; wait "$JOB_sdkdog" 2>/dev/null; }

# --- the answers that carry credentials, parsed once -------------------------------------
# Every secret they hold is known before any check puts an endpoint's words in the report.
cred_body=''; cred_jok=0; c_code=''; c_msg=''; c_missing=''; c_role=''; c_kid=''; c_exp=''; cred_exp_shown=''
if [ -f "$T/cred.body" ]; then
    # The body as one line; its size from the same read (an x keeps trailing blanks).
    cred_body=$(tr '\n\r\t' '   ' < "$T/cred.body"; printf x); cred_body=${cred_body%x}
    json_load "$cred_body" SecretAccessKey Token SessionToken code Code message Message AccessKeyId Expiration RoleArn && cred_jok=1
    # The answer's secrets are masked wherever they might be quoted.
    for _f in SecretAccessKey Token SessionToken; do jget "$_f" && add_secret "$R"; done
    jget code || jget Code; c_code=$R
    jget message || jget Message; c_msg=$R
    for _f in AccessKeyId SecretAccessKey Token Expiration; do
        jget "$_f" && [ -n "$R" ] || c_missing="$c_missing${c_missing:+, }$_f"
    done
    jget RoleArn; c_role=$R; jget AccessKeyId; c_kid=$R; jget Expiration; c_exp=$R
fi
ic_jok=0; i_code=Success; i_kid=''
if [ -f "$T/ic.body" ]; then
    _cb=$(tr '\n\r\t' '   ' < "$T/ic.body")
    json_load "$_cb" Code SecretAccessKey Token AccessKeyId && ic_jok=1
    for _f in SecretAccessKey Token; do jget "$_f" && add_secret "$R"; done
    jget Code && i_code=$R
    jget AccessKeyId; i_kid=$R
fi

# --- checks --------------------------------------------------------------------------------
# env.credentials-variable
missing="Neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set in this process (pid $$), so every SDK falls through to IMDS (the EC2 instance role)."
lost=''
if [ $rel_set = 0 ] && [ $full_set = 0 ] && [ $pid1_has_var = 1 ] && [ $$ != 1 ]; then
    lost="PID 1 has the credentials variable but this process (pid $$) does not: it was started without PID 1's environment (cron jobs, su -, sudo -i, sshd sessions, env -i or an init that clears the environment do that). The task role and the agent are fine."
fi
if [ $rel_set = 1 ]; then
    if [ -z "$REL_V" ]; then
        result env.credentials-variable fail "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is set but empty" \
            "The SDKs treat the variable as present and ask http://169.254.170.2 for nothing." \
            "Do not set the variable yourself; the ECS agent injects it when the task has a role. $R_TASK_ROLE"
    else
        _extra=''; [ $full_set = 1 ] && _extra=' (AWS_CONTAINER_CREDENTIALS_FULL_URI is also set; the relative URI wins)'
        mask_relative_uri "$REL_V"
        result env.credentials-variable pass "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is set" "value $R$_extra"
    fi
elif [ $full_set = 1 ]; then
    if [ -z "$FULL_V" ]; then
        result env.credentials-variable fail "AWS_CONTAINER_CREDENTIALS_FULL_URI is set but empty" \
            "The SDKs treat the variable as present and fail on an empty URL." \
            "Unset AWS_CONTAINER_CREDENTIALS_FULL_URI or give it the endpoint's URL."
    else
        mask_url "$FULL_V"
        result env.credentials-variable pass "AWS_CONTAINER_CREDENTIALS_FULL_URI is set" "value $R"
    fi
elif [ -n "$lost" ]; then
    result env.credentials-variable fail "This process is not PID 1 and lost the task's credentials variable: PID 1 has it" "$missing $lost" "$R_NON_PID1"
elif [ $pid1_readable = 1 ] || [ $$ = 1 ]; then
    result env.credentials-variable fail "The task has no task role: no process has the credentials variable, PID 1 included" \
        "$missing PID 1 lacks it too: the ECS agent injects it only into tasks whose definition has a taskRoleArn." "$R_TASK_ROLE $R_AGENT_FLAGS"
else
    result env.credentials-variable fail "No container credentials variable: the SDKs will use the EC2 instance role" \
        "$missing Whether PID 1 has it is unknown ($pid1_reason)." "$R_TASK_ROLE $R_NON_PID1 $R_AGENT_FLAGS"
fi

# env.credentials-uri-safe
if [ -z "$target_source" ]; then
    skip env.credentials-uri-safe "no credentials variable is set (see env.credentials-variable)"
else
    _name=$REL; [ "$target_source" = full ] && _name=$FULL
    if [ -n "$target_refused" ]; then
        if [ "$target_source" = relative ]; then
            _fix="Set $_name only through ECS (the agent injects /v2/credentials/<id>); remove any override in the image, task definition or entrypoint."
        else
            _fix="Point $_name at https://, a loopback address, 169.254.170.2 or 169.254.170.23."
        fi
        result env.credentials-uri-safe fail "$_name is unsafe and was not requested" "$target_url: $target_refused." "$_fix"
    else
        _d="requests go to $target_url"
        if [ "$target_source" = full ] && [ "${FULL_V#http://}" != "$FULL_V" ]; then
            case $target_host in 169.254.170.2|localhost|127.0.0.1) ;; *) _d="$_d (SDKs older than botocore 1.32.0 / November 2023 refuse this host)" ;; esac
        fi
        result env.credentials-uri-safe pass "$_name points at $target_host" "$_d"
    fi
fi

# env.shadowing-credentials: the sources that come before the container provider in the
# SDK chains (env keys, profiles and shared files, web identity, credential_process, boto).
profile=${AWS_PROFILE:-${AWS_DEFAULT_PROFILE:-default}}
home=${HOME:-/root}
creds_file=${AWS_SHARED_CREDENTIALS_FILE:-$home/.aws/credentials}
config_file=${AWS_CONFIG_FILE:-$home/.aws/config}
MAX_FILE=1048576  # the first MiB of a file is read, as the Python probe
# The "key=value" lines (key lower case, both trimmed) of section $2 of the INI file $1 -> R,
# at most 64; $2 may name two sections, |-separated. A regular file only, its first MiB, and
# the work in sed and grep, not in a shell loop over every line.
ini_keys() {
    R=''
    [ -f "$1" ] && [ -r "$1" ] || return 1
    _sep=$STX
    set -- "$1" "${2%%|*}" "${2#*|}"
    R=$(head -c $MAX_FILE -- "$1" 2>/dev/null | sed -n -E \
            -e "s/$CR\$//" \
            -e '/^\[[^]]*\]/{' -e 's/^\[([^]]*)\].*/\1/' -e 's/^[[:space:]]+//' -e 's/[[:space:]]+$//' -e 'h' -e 'd' -e '}' \
            -e '/^[#;]/d' -e '/=/!d' -e 'G' -e "s/^(.*)\n(.*)\$/$_sep\2$_sep\1/" -e 'p' |
        grep -F -e "$_sep$2$_sep" -e "$_sep$3$_sep" | head -n 64 | sed -E \
            -e "s/^$_sep[^$_sep]*$_sep//" -e 's/^[[:space:]]+//' -e 's/[[:space:]]+$//' -e 'h' -e 's/=.*//' -e 's/[[:space:]]+$//' \
            -e 'y/ABCDEFGHIJKLMNOPQRSTUVWXYZ/abcdefghijklmnopqrstuvwxyz/' -e 'G' -e 's/\n[^=]*=[[:space:]]*/=/')
}
ini_keys "$creds_file" "$profile"; creds_keys=$R
if [ "$profile" = default ]; then _sec='default|profile default'; else _sec="profile $profile"; fi
ini_keys "$config_file" "$_sec"; config_keys=$R
has_key() { case "$NL$1" in *"$NL$2="*) return 0 ;; esac; return 1; }
cred_keys_of() {  # the credential-bearing keys of a profile -> R, comma-separated
    R=''
    for _k in aws_access_key_id role_arn web_identity_token_file credential_process sso_session sso_start_url login_session; do
        has_key "$1" "$_k" && R="$R${R:+, }$_k"
    done
}
found=''
winner=''
add_found() { found="$found${found:+; }$1"; }
if [ -n "${AWS_ACCESS_KEY_ID-}" ] || [ -n "${AWS_SECRET_ACCESS_KEY-}" ]; then
    if [ -n "${AWS_ACCESS_KEY_ID-}" ]; then mask_key_id "$AWS_ACCESS_KEY_ID"; _kid=$R; else _kid='(empty)'; fi
    add_found "AWS_ACCESS_KEY_ID=$_kid in the environment"
    winner=env
fi
[ -n "${AWS_WEB_IDENTITY_TOKEN_FILE-}" ] && { add_found "AWS_WEB_IDENTITY_TOKEN_FILE in the environment"; [ -n "$winner" ] || winner=assume-role-with-web-identity; }
cred_keys_of "$creds_keys"; [ -n "$R" ] && add_found "$creds_file [$profile]: $R"
cred_keys_of "$config_keys"; [ -n "$R" ] && add_found "$config_file [$profile]: $R"
chained=0
case "$NL$config_keys" in *"${NL}credential_source=EcsContainer"*) chained=1 ;; esac
if [ -z "$winner" ]; then
    if has_key "$config_keys" role_arn || has_key "$creds_keys" role_arn; then winner=assume-role
    elif has_key "$config_keys" web_identity_token_file; then winner=assume-role-with-web-identity
    elif has_key "$config_keys" sso_session || has_key "$config_keys" sso_start_url; then winner=sso
    elif has_key "$creds_keys" aws_access_key_id; then winner=shared-credentials-file
    elif has_key "$config_keys" login_session; then winner=login
    elif has_key "$config_keys" credential_process || has_key "$creds_keys" credential_process; then winner=custom-process
    elif has_key "$config_keys" aws_access_key_id; then winner=config-file
    elif [ -n "${AWS_CREDENTIAL_FILE-}" ] && [ -f "$AWS_CREDENTIAL_FILE" ]; then winner=ec2-credentials-file
    fi
fi
for _b in /etc/boto.cfg "$home/.boto"; do
    [ -f "$_b" ] && { add_found "$_b exists"; [ -n "$winner" ] || winner=boto-config; }
done
case $winner in
    env) _where='Static keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY win' ;;
    assume-role) _where='A profile with role_arn (assume-role) wins' ;;
    assume-role-with-web-identity) _where='Web identity (AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN) wins' ;;
    sso) _where='An SSO profile wins' ;;
    shared-credentials-file) _where='Keys in the shared credentials file wins' ;;
    login) _where='A login session profile wins' ;;
    custom-process) _where='A credential_process in the config file wins' ;;
    config-file) _where='Keys in the config file wins' ;;
    ec2-credentials-file) _where='The file named by AWS_CREDENTIAL_FILE wins' ;;
    boto-config) _where='A boto config file (/etc/boto.cfg, ~/.boto) wins' ;;
esac
if [ "$winner" = assume-role ] && [ $chained = 1 ]; then
    result env.shadowing-credentials pass "The profile's role is assumed with the task role" \
        "profile '$profile' has role_arn with credential_source = EcsContainer: the chain builds on the task role"
elif [ -n "$winner" ]; then
    case $winner in
        env) _fix='Remove AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN from the task definition ("environment" and "secrets"), the image (ENV lines) and the entrypoint; static keys beat the task role in every SDK.' ;;
        assume-role-with-web-identity) _fix='Unset AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN in the task; they are for EKS, not ECS task roles.' ;;
        boto-config) _fix='Remove /etc/boto.cfg and ~/.boto from the image.' ;;
        ec2-credentials-file) _fix='Remove the file named by AWS_CREDENTIAL_FILE from the image.' ;;
        *)
            _files=''
            for _f in "$creds_file" "$config_file"; do [ -f "$_f" ] && _files="$_files${_files:+, }$_f"; done
            _fix="Remove the credentials of profile '$profile' from ${_files:-~/.aws/} in the image (or unset AWS_PROFILE / AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE); files baked into an image beat the task role." ;;
    esac
    result env.shadowing-credentials fail "$_where over the task role" \
        "The SDK chains stop at '$winner' before they reach the container provider. Found: $found." "$_fix"
else
    result env.shadowing-credentials pass "No credentials found earlier in the chain" \
        "no static keys, profile credentials, web identity or boto config (probe.sh reads the files; it does not run an SDK's chain)"
fi

# env.region
if [ -n "${AWS_REGION-}" ]; then
    result env.region pass "Region $AWS_REGION" "from AWS_REGION"
elif [ -n "${AWS_DEFAULT_REGION-}" ]; then
    result env.region pass "Region $AWS_DEFAULT_REGION" "from AWS_DEFAULT_REGION"
elif env_get "$config_keys" region && [ -n "$R" ]; then
    result env.region pass "Region $R" "from the config file profile"
elif [ -n "${pid1_region-}" ] && [ $$ != 1 ]; then
    result env.region warn "No region in this process, though PID 1 has one ($pid1_region)" \
        "AWS_REGION / AWS_DEFAULT_REGION are missing here but set in PID 1: this process was started without PID 1's environment, like the credentials variable (see env.credentials-variable)." "$R_SHIM"
else
    result env.region warn "No region is set" \
        "Neither AWS_REGION nor AWS_DEFAULT_REGION is set (the ECS agent sets both from version 1.104.0); SDK clients will fail with NoRegionError or use a global endpoint." \
        'Add "environment": [{"name": "AWS_REGION", "value": "<your region>"}] to the container definition, or update the ECS agent.'
fi

# proxy.credentials-endpoint: no SDK information in sh, so the strict rule: a proxy
# applies and NO_PROXY does not name the host (a CIDR is not enough).
if [ -z "$target_source" ] || { [ -z "$target_raw" ] && [ "$target_source" = relative ] && [ "$target_host" != 169.254.170.2 ]; }; then
    skip proxy.credentials-endpoint "no credentials URL to route (see env.credentials-variable)"
else
    _u=${target_raw:-http://$target_host/}
    proxy_route "$_u" "$self_env"
    _h=$r_host
    _fix=$R_NO_PROXY; case $_h in 169.254.170.2|169.254.169.254) ;; *) _fix="$_fix Add $_h too." ;; esac
    if [ -z "$r_any" ]; then
        result proxy.credentials-endpoint pass "No proxy applies to the credentials endpoint" "no HTTP_PROXY / ALL_PROXY is set"
    elif [ $r_bypass = 1 ]; then
        result proxy.credentials-endpoint pass "NO_PROXY bypasses the proxy for $_h" "NO_PROXY=$r_noproxy"
    else
        mask_url "${r_proxy:-$r_any}"; _px=$R
        if [ $r_cidr = 1 ]; then
            _d="NO_PROXY=$r_noproxy covers $_h only as a CIDR range: curl and Go honour it, but Python's urllib and wget do not and send the request to the proxy $_px."
        elif [ -z "$r_proxy" ]; then
            _d="Only ALL_PROXY ($_px) applies: curl and Python requests send requests to $_h through it; Go, botocore and urllib ignore ALL_PROXY."
        else
            if [ -n "$r_noproxy" ]; then _np="(NO_PROXY=$r_noproxy does not name $_h)"; else _np='(NO_PROXY is not set)'; fi
            _d="Requests to $_h go to the proxy $_px $_np in curl, wget, the Go SDKs and Python requests; the proxy cannot reach the task's endpoint, so they fail or get another answer."
        fi
        result proxy.credentials-endpoint fail "The credentials endpoint $_h would go through a proxy" \
            "$_d probe.sh does not model each SDK's proxy rules: run \`probe\` to know which SDK in the image honours them." "$_fix"
    fi
fi

# proxy.metadata-endpoints
_configured=0
for _pn in http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY ftp_proxy FTP_PROXY; do
    env_get "$self_env" "$_pn"; [ -n "$R" ] && _configured=1
done

_proxied=''
proxy_route "${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254/}" "$self_env"
[ -n "$r_any" ] && [ $r_bypass = 0 ] && _proxied="IMDS ($r_host)"
if [ -n "${ECS_CONTAINER_METADATA_URI_V4-}" ]; then
    proxy_route "$ECS_CONTAINER_METADATA_URI_V4" "$self_env"
    [ -n "$r_any" ] && [ $r_bypass = 0 ] && _proxied="$_proxied${_proxied:+, }task metadata v4 ($r_host)"
fi
if [ $_configured = 0 ]; then
    result proxy.metadata-endpoints pass "No proxy is configured" ""
elif [ -z "$_proxied" ]; then
    result proxy.metadata-endpoints pass "Metadata endpoints bypass the proxy" "NO_PROXY=$r_noproxy"
else
    result proxy.metadata-endpoints warn "Metadata endpoints would go through a proxy: $_proxied" \
        "botocore's and the Go SDKs' IMDS requests, and most HTTP clients, honour proxy variables; through a proxy they time out or reach the proxy's own metadata." "$R_NO_PROXY"
fi

# endpoint.credentials
if [ "$target_host" = 169.254.170.2 ]; then
    UNREACH_FIX="On Fargate this should not happen: report it. On EC2: $R_AGENT_FLAGS $R_IPTABLES"
else
    UNREACH_FIX="Check that the endpoint at $target_url runs and is reachable from this container."
fi
cred_ok=0
if [ -z "$target_source" ]; then
    skip endpoint.credentials "not requested: no credentials variable is set"
elif [ -z "$target_raw" ]; then
    skip endpoint.credentials "not requested: the URI is unsafe: $target_refused"
elif [ -n "$token_problem" ]; then
    if [ "$token_source" = file ]; then _w="the file $AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"; else _w=AWS_CONTAINER_AUTHORIZATION_TOKEN; fi
    result endpoint.credentials fail "The authorization token for the credentials endpoint cannot be used" \
        "$token_problem; the SDKs fail before sending the request." \
        "Fix $_w: it must be readable by this process and hold the token on one line, without a trailing newline."
elif [ -z "$CLIENT" ]; then
    skip endpoint.credentials "$NO_CLIENT"
elif [ -f "$T/cred.skip" ]; then
    rd "$T/cred.skip"; skip endpoint.credentials "$R"
elif [ ! -f "$T/cred.at" ]; then
    result endpoint.credentials fail "The credentials endpoint did not answer in time" "the run's deadline ($deadline s) ended first" "$UNREACH_FIX"
elif [ -f "$T/cred.error" ] && [ ! -f "$T/cred.status" ]; then
    result endpoint.credentials fail "The credentials endpoint is unreachable" \
        "GET $target_url: $(cat "$T/cred.error"). botocore raises CredentialRetrievalError here and does not fall back to the instance role." "$UNREACH_FIX"
else
    rd "$T/cred.status"; _st=$R
    _size=${#cred_body}
    if [ "$_st" != 200 ]; then
        _code=''; _msg=''; _meaning=''; _fix=''; _inferred=''
        if [ $cred_jok = 1 ]; then
            efield "$c_code" 64; _code=$R
            efield "$c_msg"; _msg=$R
        fi
        if [ -z "$_code" ] && [ "$CLIENT" = busybox-wget ] && [ "$_size" = 0 ]; then
            # busybox wget keeps no error body: the agent sends one code per status.
            case $_st in
                503) _code=CredentialsUninitialized ;;
                500) _code=InternalServerError ;;
                400) case $target_raw in */) _code=NoIdInRequest ;; *) _code=InvalidIdInRequest ;; esac ;;
            esac
            [ -n "$_code" ] && _inferred=' (inferred from the status: busybox wget keeps no error body)'
        fi
        case $_code in
            NoIdInRequest) _meaning='the URI carries no credentials id'
                _fix="Do not set AWS_CONTAINER_CREDENTIALS_RELATIVE_URI yourself; the agent injects it with the id when the task has a role. $R_TASK_ROLE" ;;
            InvalidIdInRequest) _meaning='the agent does not know this credentials id: the task stopped, or the variable was copied from another task (baked into an image, a saved profile or an old environment file)'
                _fix='Restart the task and do not copy the variable between tasks; if a profile file carries it, rewrite it at every container start (the shim does).' ;;
            CredentialsUninitialized) _meaning='the agent restarted and has not yet loaded this task'"'"'s credentials'
                _fix="Retry in a few seconds; if it persists, check /var/log/ecs/ecs-agent.log on the container instance and $R_AGENT_RESTART." ;;
            InternalServerError) _meaning='the agent failed while serving the credentials'
                _fix="Check /var/log/ecs/ecs-agent.log on the container instance and $R_AGENT_RESTART." ;;
        esac
        case $_st in
            429) _meaning='the agent'"'"'s rate limit for this task was hit (40 requests/s steady, 60 burst)'
                _fix='Create SDK clients once and reuse them (each new client fetches credentials); on EC2 the limit is ECS_TASK_METADATA_RPS_LIMIT in /etc/ecs/ecs.config.' ;;
            401|403) _meaning='the endpoint refused the Authorization header'
                _fix='Check AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (or AWS_CONTAINER_AUTHORIZATION_TOKEN): it must hold the token the endpoint expects (for EKS Pod Identity, the projected service account token).' ;;
            404) [ -z "$_code" ] && { _meaning='the agent does not serve this path'
                _fix='Let the agent set AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (/v2/credentials/<id>); do not build it yourself.'; } ;;
            3??) _meaning="a redirect, which the SDKs do not follow and probe.sh did not follow" ;;
        esac
        if [ -n "$_code" ]; then
            _b="$_code: $_msg$_inferred"
        else
            # The first 200 bytes, on one line (an XML or HTML error page too).
            _b=$(head -c 200 "$T/cred.body" | tr '\000\n\r\t' '    '; printf x); _b=${_b%x}
            trim "$_b"; efield "$R"; _b=$R
        fi
        _d="GET $target_url -> $_st${_b:+ $_b}"
        [ -n "$_meaning" ] && _d="$_d ($_meaning)"
        result endpoint.credentials fail "The credentials endpoint answered HTTP $_st${_code:+ $_code}" "$_d." "${_fix:-$UNREACH_FIX}"
    elif [ "$_size" -gt "$MAX_BODY" ]; then
        result endpoint.credentials fail "The credentials endpoint's answer is oversized" \
            "GET $target_url returned more than $MAX_BODY bytes; an agent answer is well under 2 KiB." \
            "Something other than the ECS agent answers on this address: $UNREACH_FIX"
    elif [ -f "$T/cred.error" ]; then
        result endpoint.credentials fail "The credentials endpoint is unreachable" \
            "GET $target_url: $(cat "$T/cred.error"). botocore raises CredentialRetrievalError here and does not fall back to the instance role." "$UNREACH_FIX"
    elif [ $cred_jok = 0 ]; then
        _ct=$(grep -i '^ *content-type:' "$T/cred.hdr" "$T/cred.err" 2>/dev/null | head -n 1 | sed 's/^[^:]*:[^:]*: *//' | tr -d '\r')
        efield "$_ct" 64; _ct=$R
        result endpoint.credentials fail "The credentials endpoint's answer is not usable JSON" \
            "GET $target_url -> 200 with content type ${_ct:-None}: not a complete JSON object." \
            "Something other than the ECS agent answers on this address (a proxy, a captive portal, a mock): $UNREACH_FIX"
    else
        _missing=$c_missing
        if [ -n "$_missing" ]; then
            result endpoint.credentials fail "The credentials endpoint's answer lacks $_missing" \
                "GET $target_url -> 200 but the JSON lacks $_missing; the SDKs reject it." \
                "Something other than the ECS agent answers on this address: $UNREACH_FIX"
        else
            cred_ok=1
            # Every field the endpoint sent is shown scrubbed: a RoleArn may quote the secrets.
            efield "$c_role"; role_arn=$R
            mask_key_id "$c_kid"; _kid=$R
            cred_exp=$c_exp; efield "$c_exp" 64; cred_exp_shown=$R
            result endpoint.credentials pass "The credentials endpoint serves ${role_arn:-(no RoleArn in the answer)}" \
                "GET $target_url -> 200, key $_kid, expires $cred_exp_shown"
        fi
    fi
fi

# endpoint.credentials-expiry
if [ $cred_ok = 0 ]; then
    skip endpoint.credentials-expiry "no credentials were served (see endpoint.credentials)"
elif ! iso_epoch "$cred_exp"; then
    result endpoint.credentials-expiry fail "The credentials' Expiration is unreadable" \
        "Expiration '$cred_exp_shown' is not an ISO 8601 time; the SDKs reject these credentials." \
        "Something other than the ECS agent answers on this address: $UNREACH_FIX"
else
    _exp=$R
    rd "$T/cred.at"; _left=$((_exp - R))
    human "$_left"
    if [ "$_left" -le 0 ]; then
        result endpoint.credentials-expiry fail "The served credentials are expired" \
            "Expiration $cred_exp_shown was $R before they arrived." \
            "The agent refreshes task credentials well before they expire: check the clock of this host (see endpoint.clock-skew) and /var/log/ecs/ecs-agent.log, then $R_AGENT_RESTART."
    elif [ "$_left" -lt 300 ]; then
        result endpoint.credentials-expiry warn "The served credentials expire within 5 minutes" \
            "Expiration $cred_exp_shown, $R from now; the agent normally serves credentials valid for hours." \
            "Check the agent's credential refresh on the container instance (/var/log/ecs/ecs-agent.log)."
    else
        result endpoint.credentials-expiry pass "Credentials valid for $R" "Expiration $cred_exp_shown"
    fi
fi

skip endpoint.clock-skew "probe.sh does not compare the local clock with the endpoint's Date header; run \`probe\` for it"

# endpoint.task-metadata
task_block=''
if [ -z "${ECS_CONTAINER_METADATA_URI_V4-}" ]; then
    skip endpoint.task-metadata "ECS_CONTAINER_METADATA_URI_V4 is not set (not in ECS, or an agent older than 1.39.0)"
elif [ -z "$CLIENT" ]; then
    skip endpoint.task-metadata "$NO_CLIENT"
elif [ ! -f "$T/mt.at" ]; then
    result endpoint.task-metadata warn "Task metadata v4 did not answer in time" "the run's deadline ($deadline s) ended first" ""
else
    _problems=''
    m_family=''; m_revision=''; m_cluster=''; m_arn=''; m_launch=''; m_az=''; m_name=''; m_netmode=''
    for _part in mc:container mt:task; do
        _f=$T/${_part%%:*}; _n=${_part#*:}
        if [ -f "$_f.error" ] && [ ! -f "$_f.status" ]; then rd "$_f.error"; _problems="$_problems${_problems:+; }$_n: $R"
        elif rd "$_f.status"; [ "$R" != 200 ]; then efield "$R" 16; _problems="$_problems${_problems:+; }$_n: HTTP $R"
        else
            _body=$(tr '\n\r\t' '   ' < "$_f.body"; printf x); _body=${_body%x}
            if [ "$_n" = task ]; then
                json_load "$_body" Family Revision N:Revision Cluster TaskARN LaunchType AvailabilityZone; _ok=$?
                # The fields are the endpoint's words: each shown scrubbed and capped.
                jget Family; efield "$R"; m_family=$R
                jget Revision; efield "$R"; m_revision=$R
                jget Cluster; efield "$R"; m_cluster=$R
                jget TaskARN; efield "$R"; m_arn=$R
                jget LaunchType; efield "$R"; m_launch=$R
                jget AvailabilityZone; efield "$R"; m_az=$R
            else
                json_load "$_body" Name NetworkMode; _ok=$?
                jget Name; efield "$R"; m_name=$R
                jget NetworkMode; efield "$R"; m_netmode=$R
            fi
            if [ ${#_body} -gt "$MAX_BODY" ] || [ $_ok != 0 ]; then _problems="$_problems${_problems:+; }$_n: not usable JSON"; fi
        fi
    done
    if [ -n "$_problems" ]; then
        mask_url "$ECS_CONTAINER_METADATA_URI_V4"; _mu=$R
        scrub "$_problems"
        result endpoint.task-metadata warn "Task metadata v4 is unreachable or unusable" \
            "$_mu: $R" \
            "The agent serves task metadata next to the credentials: $R_AGENT_FLAGS"
    else
        result endpoint.task-metadata pass "Task ${m_family:-None}:${m_revision:-None} in cluster ${m_cluster:-None}" \
            "launch type ${m_launch:-None}, network mode ${m_netmode:-None}, container ${m_name:-None}"
        task_block=1
    fi
fi

# imds.instance-role
case ${AWS_EC2_METADATA_DISABLED-} in [Tt][Rr][Uu][Ee]) imds_off=1 ;; *) imds_off=0 ;; esac
mask_url "${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254/}"; imds_ep=$R
if [ $imds_off = 1 ]; then
    skip imds.instance-role "AWS_EC2_METADATA_DISABLED=true: the SDKs never ask IMDS"
elif [ -z "$CLIENT" ]; then
    skip imds.instance-role "$NO_CLIENT"
elif [ -f "$T/imds.error" ]; then
    rd "$T/imds.error"; scrub "$R"
    result imds.instance-role pass "The instance role is out of reach" "IMDS at $imds_ep: $R"
elif [ ! -f "$T/ic.at" ]; then
    result imds.instance-role pass "IMDS did not answer in time" "the run's deadline ($deadline s) ended first"
else
    rd "$T/imds.role"; efield "$R"; _role=$R
    rd "$T/ic.status"; _ics=$R
    if [ "$_ics" = 200 ] && [ $ic_jok = 1 ] && [ -n "$i_kid" ] && [ "$i_code" = Success ]; then
        _inst=''
        # The instance id is short: the first line, at most 64 characters.
        if rd "$T/ii.status" && [ "$R" = 200 ]; then
            rd "$T/ii.body"; efield "${R%"$CR"}" 64; _inst=$R
        fi
        rd "$T/imds.version"
        result imds.instance-role warn "The instance role $_role is reachable from this container" \
            "IMDSv$R at $imds_ep serves its credentials${_inst:+ (instance $_inst)}; an SDK that misses the task role silently uses it." \
            "$R_BLOCK_IMDS"
    else
        _why='no credentials served'
        [ -f "$T/ic.error" ] && [ ! -f "$T/ic.status" ] && { rd "$T/ic.error"; _why=$R; }
        scrub "$_why"
        result imds.instance-role pass "The instance role is out of reach" "IMDS at $imds_ep: $R"
    fi

fi

NO_SIGV4='probe.sh cannot sign requests (no SigV4 in sh), so it cannot ask STS who the credentials are; run `probe` (the Python CLI, or `probe watch` in a sidecar) for the STS answer'
skip identity.caller "$NO_SIGV4"
skip identity.task-role "$NO_SIGV4"

# processes.credentials-variable and processes.proxy, from /proc.
who() {  # pid -> R: "pid N (its command line, scrubbed)"
    _c=$(head -c 300 "/proc/$1/cmdline" 2>/dev/null | tr '\000' ' ' | sed 's/ *$//'; printf x); _c=${_c%x}
    scrub "$_c"; R="pid $1 ($R)"
}
if [ ! -d /proc/self ]; then
    skip processes.credentials-variable "/proc is not mounted: the process survey cannot run"
    skip processes.proxy "/proc is not mounted: the process survey cannot run"
else
    set +f; set -- /proc/[0-9]*; set -f
    n_procs=0; lacking=''; n_lacking=0; other=''; n_other=0; unread=0; unsurveyed=0
    px_bad=''; n_px_bad=0; px_ign=''; n_px_ign=0; px_with=0
    env_pick "$pid1_env"; pid1_pick=$R
    _left=$#
    for _pd in "$@"; do
        _pid=${_pd#/proc/}
        # Stopped at the deadline: what is left is counted, not read.
        now_ms; [ "$NOW" -lt "$local_end" ] || { unsurveyed=$_left; break; }
        _left=$((_left - 1))
        # Kernel threads and zombies have no environment to judge: /proc/PID/stat says which
        # (its state, and the PF_KTHREAD flag), one short line where the command line may be
        # megabytes long (a Java class path).
        _st=''; IFS= read -r _st 2>/dev/null < "/proc/$_pid/stat" || [ -n "$_st" ] || continue
        _oldifs=$IFS; IFS=' '; set -- ${_st##*") "}; IFS=$_oldifs
        _fl=${7-0}; case $_fl in ''|*[!0-9]*) _fl=0 ;; esac
        case ${1-} in Z|X|x) continue ;; esac
        [ $((_fl & 2097152)) = 0 ] || continue
        if [ "$_pid" = $$ ]; then _e=$self_env
        elif [ "$_pid" = 1 ] && [ $pid1_readable = 1 ]; then _e=$pid1_pick
        elif ! can_open "/proc/$_pid/environ" || ! _e=$(read_environ "$_pid"); then
            [ "$_pid" = 1 ] || unread=$((unread + 1)); continue
        else
            env_pick "$_e"; _e=$R
        fi
        if [ "$_pid" != 1 ]; then
            n_procs=$((n_procs + 1))
            _hr=0; _hf=0
            env_get "$_e" $REL && _hr=1; _r=$R
            env_get "$_e" $FULL && _hf=1; _fv=$R
            _mark=''; [ "$_pid" = $$ ] && _mark=' (this probe)'
            if [ $_hr = 0 ] && [ $_hf = 0 ]; then
                n_lacking=$((n_lacking + 1))
                [ $n_lacking -le 8 ] && { who "$_pid"; lacking="$lacking${lacking:+; }$R$_mark lacks it"; }
            elif [ $pid1_readable = 1 ] && { [ "$_hr:$_r" != "$pid1_has_rel:$pid1_rel" ] || [ "$_hf:$_fv" != "$pid1_has_full:$pid1_full" ]; }; then
                n_other=$((n_other + 1))
                [ $n_other -le 8 ] && { who "$_pid"; other="$other${other:+; }$R has another value"; }
            fi
        fi
        # Its own proxy variables (the probe's own are proxy.credentials-endpoint's to judge).
        [ "$_pid" = $$ ] && continue
        _u=http://169.254.170.2/
        env_get "$_e" $REL; case $R in /*) _u="http://169.254.170.2$R" ;; esac
        proxy_route "$_u" "$_e"
        [ -n "$r_any" ] || continue
        px_with=$((px_with + 1))
        [ $r_bypass = 1 ] && continue
        _prog=$(head -c 200 "/proc/$_pid/cmdline" 2>/dev/null | tr '\000' '\n' | head -n 1); _prog=${_prog##*/}
        env_get "$_e" no_proxy || env_get "$_e" NO_PROXY || R='(unset)'; _np=$R
        who "$_pid"; _who=$R
        mask_url "${r_proxy:-$r_any}"
        _line="$_who: $R, NO_PROXY=${_np:-(unset)}"
        case $_prog in
            node|node[0-9]*|nodejs)
                n_px_ign=$((n_px_ign + 1)); [ $n_px_ign -le 8 ] && px_ign="$px_ign${px_ign:+; }$_who (Node's http module reads no proxy variables)" ;;

            curl|wget|busybox|python*|java|ruby*|php*|dotnet|go|perl*|aws|*.jar)
                n_px_bad=$((n_px_bad + 1)); [ $n_px_bad -le 8 ] && px_bad="$px_bad${px_bad:+; }$_line ($_prog may honour it)" ;;
        esac
    done
    _note=''; [ $unread -gt 0 ] && { _note=" $unread process"; [ $unread -ne 1 ] && _note="${_note}es"; _note="$_note could not be read: permission denied."; }
    [ $unsurveyed -gt 0 ] && _note="$_note $unsurveyed more were not read: the run's deadline ($deadline s) ended first."
    if [ $pid1_readable = 0 ] && [ $$ != 1 ]; then
        skip processes.credentials-variable "PID 1's environment cannot be read: $pid1_reason"
    elif [ $pid1_has_var = 0 ]; then
        skip processes.credentials-variable "PID 1 itself lacks the credentials variable: see env.credentials-variable"
    elif [ $((n_lacking + n_other)) -gt 0 ]; then
        _lines="$lacking${lacking:+${other:+; }}$other"
        result processes.credentials-variable fail "$((n_lacking + n_other)) of $n_procs processes lack PID 1's credentials variable" \
            "$_lines. Their SDKs fall back to the instance role (or use stale credentials).$_note" "$R_NON_PID1"
    else
        result processes.credentials-variable pass "All $((n_procs + 1)) readable processes have the credentials variable" "${_note# }"
    fi
    if [ $n_px_bad -gt 0 ]; then
        _t="$n_px_bad process would"; [ $n_px_bad -ne 1 ] && _t="$n_px_bad processes would"
        result processes.proxy fail "$_t send the credentials host through a proxy" \
            "$px_bad. curl, the Go SDKs and Python requests honour these variables; botocore, the JavaScript SDKs and Ruby's do not." "$R_NO_PROXY"
    elif [ $n_px_ign -gt 0 ]; then
        _t="$n_px_ign process has proxy variables that would cover the credentials host, but its SDK or program ignores them"
        [ $n_px_ign -ne 1 ] && _t="$n_px_ign processes have proxy variables that would cover the credentials host, but their SDK or program ignores them"
        result processes.proxy warn "$_t" "$px_ign. Another client run there (curl, wget, a Go SDK) may go through the proxy." "$R_NO_PROXY"
    else
        _d=''; [ $px_with -gt 0 ] && _d="$px_with with proxy variables, all bypassing it or running no AWS client."
        _d=$_d$_note; result processes.proxy pass "No process sends the credentials host through a proxy" "${_d# }"
    fi
fi

# sdk.versions: by file and folder names and package.json / installed.json.
vlt() {  # $1 < $2 as dotted versions (numeric parts; a suffix such as -rc1 is dropped)
    _a=${1%%[!0-9.]*}; _b=${2%%[!0-9.]*}
    while [ -n "$_a$_b" ]; do
        _x=${_a%%.*}; _y=${_b%%.*}
        case $_a in *.*) _a=${_a#*.} ;; *) _a='' ;; esac
        case $_b in *.*) _b=${_b#*.} ;; *) _b='' ;; esac
        strip0 "$_x"; _x=${R#0}; strip0 "$_y"; _y=${R#0}
        [ "${#_x}" -lt "${#_y}" ] && return 0
        [ "${#_x}" -gt "${#_y}" ] && return 1
        [ "${_x:-0}" -lt "${_y:-0}" ] 2>/dev/null && return 0
        [ "${_x:-0}" = "${_y:-0}" ] || return 1
    done
    return 1
}
# A path the scan found -> R: "key|title|version|min_relative|min_full", empty when it is
# not an SDK. Names alone need no process; package.json and installed.json are read as
# regular files only, capped, and parsed by sed in one pass.
sdk_entry() {
    R=''
    _p=$1; _b=${_p##*/}; _b=${_b%.dist-info}; _b=${_b%.egg-info}
    case $_b in
        botocore-*) _v=${_b#botocore-}; R="botocore|botocore|${_v%%-*}|1.4.37|1.32.0" ;;
        boto3-*) _v=${_b#boto3-}; R="boto3|boto3|${_v%%-*}|1.4.0|1.34.41" ;;
        boto-*) _v=${_b#boto-}; R="boto|boto 2|${_v%%-*}|never|never" ;;
        awscli-2*) _v=${_b#awscli-}; R="awscli-v2|AWS CLI v2|${_v%%-*}|0|2.15.0" ;;
        awscli-*) _v=${_b#awscli-}; R="awscli-v1|AWS CLI v1|${_v%%-*}|1.10.47|1.30.0" ;;
        aws-sdk-core-*.gemspec) _v=${_b#aws-sdk-core-}; R="ruby|AWS SDK for Ruby (aws-sdk-core)|${_v%.gemspec}|2.3.22|3.188.0" ;;
        aws-java-sdk-core-*.jar) _v=${_b#aws-java-sdk-core-}; R="java-v1|AWS SDK for Java 1.x|${_v%.jar}|1.11.16|1.12.746" ;;
        aws-java-sdk-bundle-*.jar) _v=${_b#aws-java-sdk-bundle-}; R="java-v1|AWS SDK for Java 1.x|${_v%.jar}|1.11.16|1.12.746" ;;
        sdk-core-2.*.jar) _v=${_b#sdk-core-}; R="java-v2|AWS SDK for Java 2.x|${_v%.jar}|0|2.21.30" ;;
        bundle-2.*.jar) _v=${_b#bundle-}; R="java-v2|AWS SDK for Java 2.x|${_v%.jar}|0|2.21.30" ;;
        package.json)
            [ -f "$_p" ] || return 0
            _j=$(head -c 65536 -- "$_p" 2>/dev/null | tr '\n\r\t' '   ')
            json_load "$_j" version; jget version; _v=$R
            case $_p in
                */@aws-sdk/credential-provider-node/package.json) R="js-v3|AWS SDK for JavaScript v3|$_v|0|3.503.1" ;;
                *) R="js-v2|AWS SDK for JavaScript v2 (aws-sdk)|$_v|2.4.7|2.1550.0" ;;
            esac ;;
        installed.json)
            [ -f "$_p" ] || return 0
            # The first "version" after the first "aws/aws-sdk-php": "=VERSION", or nothing
            # when the package is not there.
            _v=$(head -c 4000000 -- "$_p" 2>/dev/null | tr '\n\r\t' '   ' | sed -n -E \
                -e "s/\"aws\\/aws-sdk-php\"/$SOH/" -e 't a' -e 'd' -e ':a' -e "s/^[^$SOH]*$SOH//" \
                -e "s/\"version\"[[:space:]]*:[[:space:]]*\"([^\"]*)\".*/$SOH\\1/" -e 't b' -e 's/.*/=/' -e 'p' -e 'd' \
                -e ':b' -e "s/^.*$SOH/=/" -e 'p')
            [ -n "$_v" ] || return 0
            _v=${_v#=}
            R="php|AWS SDK for PHP|${_v#v}|3.18.28|3.287.1" ;;
    esac
}
if [ ! -f "$T/sdk.found" ] && [ ! -f "$T/sdk.stopped" ]; then
    skip sdk.versions "the SDK scan did not run"
else
    sdk_roots_shown=''
    while IFS= read -r _l; do sdk_roots_shown="$sdk_roots_shown${sdk_roots_shown:+, }$_l"; done < "$T/sdk.roots"
    sdk_fail=''; n_sdk_fail=0; sdk_warn=''; n_sdk_warn=0; sdk_fine=''; n_sdk_fine=0; first_fail=''
    if [ "$token_source_in_use" = full ]; then _what='AWS_CONTAINER_CREDENTIALS_FULL_URI with a token file'; else _what='the ECS task role (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)'; fi
    _list=$T/sdk.found; [ -f "$_list" ] || _list=$T/sdk.found.tmp
    # At most 16 SDKs of each kind are named; reading them stops at the run's deadline.
    while IFS= read -r _p; do
        [ -n "$_p" ] || continue
        now_ms; [ "$NOW" -lt "$local_end" ] || { true > "$T/sdk.stopped"; break; }
        sdk_entry "$_p"; _ent=$R
        [ -n "$_ent" ] || continue
        _oldifs=$IFS; IFS='|'; set -- $_ent; IFS=$_oldifs
        _key=$1; _title=$2; _v=$3; _minr=$4; _minf=$5
        [ ${#_v} -le 64 ] || _v=''  # not a version
        _need=$_minr; [ "$token_source_in_use" = full ] && _need=$_minf
        scrub "$_p"; _ps=$R
        if [ "$_key" = boto ]; then
            n_sdk_fail=$((n_sdk_fail + 1)); [ $n_sdk_fail -le 16 ] && sdk_fail="$sdk_fail${sdk_fail:+; }$_title at $_ps never supports container credentials"
        elif [ -z "$_v" ]; then
            n_sdk_warn=$((n_sdk_warn + 1)); [ $n_sdk_warn -le 16 ] && sdk_warn="$sdk_warn${sdk_warn:+; }$_title at $_ps: version unreadable"
        elif [ "$_need" != 0 ] && vlt "$_v" "$_need"; then
            n_sdk_fail=$((n_sdk_fail + 1)); [ $n_sdk_fail -le 16 ] && sdk_fail="$sdk_fail${sdk_fail:+; }$_title $_v at $_ps is older than $_need, the first to support $_what"
            [ -n "$first_fail" ] || first_fail="$_title|$_need|${_p%/*}"
        else
            n_sdk_fine=$((n_sdk_fine + 1)); [ $n_sdk_fine -le 16 ] && sdk_fine="$sdk_fine${sdk_fine:+; }$_title $_v"
        fi
    done < "$_list"
    _partial=''; [ -f "$T/sdk.stopped" ] && _partial=" The scan stopped early (the run's deadline of $deadline s)."
    _usage=' (probe.sh cannot tell which process uses an SDK: every SDK found counts)'
    if [ $n_sdk_fail -gt 0 ]; then
        _t="$n_sdk_fail AWS SDK in use is too old for the credentials source"; [ $n_sdk_fail -ne 1 ] && _t="$n_sdk_fail AWS SDKs in use are too old for the credentials source"
        _fix='Upgrade these SDKs (and the application'"'"'s lock files) to at least the versions named; boto 2 must be replaced by boto3. Old SDKs ignore the container credentials and use the EC2 instance role.'
        if [ -n "$first_fail" ]; then
            _oldifs=$IFS; IFS='|'; set -- $first_fail; IFS=$_oldifs
            scrub "$3"; _fix="Upgrade $1 in $R to $2 or later (and the application's lock file). $_fix"
        fi
        result sdk.versions fail "$_t" "$sdk_fail.${sdk_warn:+ Also: $sdk_warn.}$_partial$_usage" "$_fix"
    elif [ $n_sdk_warn -gt 0 ] || [ -n "$_partial" ]; then
        if [ $n_sdk_warn -gt 0 ]; then _t="AWS SDKs found; $n_sdk_warn with an unreadable version"; else _t='AWS SDKs support the credentials source: scan incomplete'; fi
        result sdk.versions warn "$_t" "${sdk_warn}${sdk_warn:+${sdk_fine:+; }}$sdk_fine.$_partial" \
            'Check these SDKs'"'"' versions by hand, or run `probe sdk` with a longer --deadline.'
    elif [ $n_sdk_fine -gt 0 ]; then
        _t="$n_sdk_fine AWS SDK new enough"; [ $n_sdk_fine -ne 1 ] && _t="$n_sdk_fine AWS SDKs new enough"
        result sdk.versions pass "$_t" "$sdk_fine (under $sdk_roots_shown)"
    else
        skip sdk.versions "no AWS SDK found (under $sdk_roots_shown)"
    fi
fi
skip sdk.identity "probe.sh has no per-SDK behaviour model and no STS answer (no SigV4 in sh); run \`probe\` (the Python CLI, or \`probe watch\` in a sidecar) for what each SDK gets"

# shim.profile: a block written by the shim must hold PID 1's values.
SHIM_BEGIN='# >>> ecs-credential-probe shim >>>'
SHIM_END='# <<< ecs-credential-probe shim <<<'
SHIM_VARS='AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE ECS_CONTAINER_METADATA_URI ECS_CONTAINER_METADATA_URI_V4 ECS_AGENT_URI AWS_REGION AWS_DEFAULT_REGION AWS_EXECUTION_ENV'
shim_files=''; n_shim=0; shim_problems=''; n_shim_problems=0; shim_names=''
shim_problem() { n_shim_problems=$((n_shim_problems + 1)); [ $n_shim_problems -le 16 ] && shim_problems="$shim_problems${shim_problems:+; }$1"; }
for _sf in /etc/profile.d/ecs-credentials.sh "$home/.profile" /etc/environment; do
    [ -f "$_sf" ] && [ ! -L "$_sf" ] && [ -r "$_sf" ] || continue
    # The block between the markers, from the file's first MiB (a regular file only).
    _block=$(head -c $MAX_FILE -- "$_sf" 2>/dev/null | sed -n "\\|^$SHIM_BEGIN\$|,\\|^$SHIM_END\$|p"; printf x); _block=${_block%x}
    [ -n "$_block" ] || continue
    _block="$NL$_block"
    scrub "$_sf"; _sfs=$R
    n_shim=$((n_shim + 1)); shim_files="$shim_files${shim_files:+, }$_sfs"
    [ $pid1_readable = 1 ] || continue
    _plain=0; [ "$_sf" = /etc/environment ] && _plain=1
    _names=$(printf '%s' "$_block" | sed -n -E 's/^(export )?([A-Za-z_][A-Za-z0-9_]*)=.*/\2/p')
    _i=0
    for _n in $_names; do
        _i=$((_i + 1)); [ $_i -le 64 ] || break  # the first 64 variables
        case " $shim_names " in *" $_n "*) ;; *) shim_names="$shim_names $_n" ;; esac
        if ! env_get "$pid1_env" "$_n"; then
            shim_problem "$_sfs: $_n is not in PID 1's environment"; continue
        fi
        _pv=$R
        case $_pv in *"$SOH"*) replace_all "$_pv" "$SOH" "$NL"; _pv=$R ;; esac
        if [ $_plain = 1 ]; then _want="$NL$_n=$_pv$NL"
        else
            # As the shim writes it: single-quoted, a quote inside as '\''.
            replace_all "$_pv" "'" "'\\''"; _want="${NL}export $_n='$R'$NL"
        fi
        case $_block in *"$_want"*) ;; *) shim_problem "$_sfs: $_n differs from PID 1's value" ;; esac
    done
    for _n in $SHIM_VARS; do
        env_get "$pid1_env" "$_n" || continue
        _pv=$R
        case "$NL$_names$NL" in *"$NL$_n$NL"*) continue ;; esac
        if [ $_plain = 1 ]; then case $_pv in *[!A-Za-z0-9_./:@%+,=~-]*) continue ;; esac; fi
        shim_problem "$_sfs: lacks $_n, which PID 1 has"
    done
done
if [ $n_shim = 0 ]; then
    skip shim.profile "no profile written by the shim was found (the shim is not in use)"
elif [ $pid1_readable = 0 ]; then
    skip shim.profile "cannot read /proc/1/environ: run the probe as the same user as PID 1 (root) to compare"
elif [ -n "$shim_problems" ]; then
    result shim.profile fail "A shim profile disagrees with PID 1's environment" \
        "$shim_problems. Login shells, cron and su - would get stale or missing credentials." \
        'Run the shim as the container'"'"'s ENTRYPOINT so it rewrites the profiles at every start (ENTRYPOINT ["shim", "--"] or ["/usr/local/bin/ecs-shim", "--"]); never bake /etc/profile.d/ecs-credentials.sh or a ~/.profile block into the image, and do not edit between the markers.'
else
    _t="Shim profiles match PID 1 ($n_shim file)"; [ $n_shim -ne 1 ] && _t="Shim profiles match PID 1 ($n_shim files)"
    _nm=''; for _n in $shim_names; do _nm="$_nm${_nm:+, }$_n"; done
    result shim.profile pass "$_t" "$shim_files: $_nm"
fi

# --- selection, verdict, cause -----------------------------------------------------------
n_pass=0; n_warn=0; n_fail=0; n_skip=0; n_error=0; n_notsel=0
for _id in $ORDER; do
    key_of "$_id"
    if ! selected "$_id"; then
        eval "S_$K=skip; TI_$K='Not checked: not selected'; DE_$K='not selected (--only / --skip)'; RE_$K=''"
        n_notsel=$((n_notsel + 1))
    fi
    eval "_s=\${S_$K-error}"
    if [ "$_s" = error ]; then eval "TI_$K='probe.sh did not produce this check'; DE_$K=''; RE_$K=''; S_$K=error"; fi
    eval "n_$_s=\$((n_$_s + 1))"
done
if [ $((n_fail + n_error)) -gt 0 ]; then verdict=fail; elif [ $n_warn -gt 0 ]; then verdict=warn; else verdict=pass; fi

# The order of causes, upstream first (probe/causes.py).
CAUSES="env.credentials-variable|PID 1's environment
env.credentials-uri-safe|PID 1's environment
processes.credentials-variable|this process's environment
shim.profile|this process's environment
env.region|this process's environment
proxy.credentials-endpoint|network
processes.proxy|network
endpoint.credentials|network
endpoint.credentials-expiry|network
endpoint.clock-skew|network
env.shadowing-credentials|precedence
sdk.identity|the SDK
sdk.versions|the SDK
identity.caller|the identity STS returns
identity.task-role|the identity STS returns
imds.instance-role|exposure
proxy.metadata-endpoints|exposure
endpoint.task-metadata|exposure"
cause_id=''; cause_layer=''
_oldifs=$IFS; IFS=$NL
for _c in $CAUSES; do
    IFS=$_oldifs
    _id=${_c%%|*}; key_of "$_id"
    eval "_s=\$S_$K"
    case $_s in fail|error) cause_id=$_id; cause_layer=${_c#*|}; break ;; esac
done
IFS=$_oldifs
if [ -n "$cause_id" ]; then
    key_of "$cause_id"; eval "summary=\$TI_$K; cause_remedy=\$RE_$K"
elif [ $n_warn -gt 0 ]; then
    for _id in $ORDER; do key_of "$_id"; eval "_s=\$S_$K"; [ "$_s" = warn ] && { eval "summary=\$TI_$K"; break; }; done
else
    summary="All $n_pass checks that ran passed"
fi
now_ms; duration_ms=$((NOW - started_ms))

# --- render ------------------------------------------------------------------------------
WIDTH=100
wrap() {  # $1 label, $2 text, $3 indent: word-wrapped like Python's textwrap
    _pad=''; _i=0; while [ $_i -lt "$3" ]; do _pad="$_pad "; _i=$((_i + 1)); done
    _lab=$1
    _sub=''; _i=0; while [ $_i -lt ${#_lab} ]; do _sub="$_sub "; _i=$((_i + 1)); done
    _line="$_pad$_lab"; _empty=1
    _oldifs=$IFS; IFS=' '
    for _w in $2; do
        IFS=$_oldifs
        if [ $_empty = 1 ]; then _line="$_line$_w"; _empty=0
        elif [ $(( ${#_line} + 1 + ${#_w} )) -le $WIDTH ]; then _line="$_line $_w"
        else printf '%s\n' "$_line"; _line="$_pad$_sub$_w"
        fi
    done
    IFS=$_oldifs
    printf '%s\n' "$_line"
}

render_text() {
    printf 'ecs-credential-probe %s · task · %s · %s ms\n' "$VERSION" "$started_at" "$duration_ms"
    printf 'Identity: unknown (no credentials were confirmed by STS)\n'
    if [ -n "$task_block" ]; then
        _bits=''
        [ -n "$m_cluster" ] && _bits="cluster $m_cluster"
        [ -n "$m_arn" ] && _bits="$_bits${_bits:+ · }task ${m_arn##*/}"
        trim "$m_launch $m_netmode"; _lt=$R
        [ -n "$_lt" ] && _bits="$_bits${_bits:+ · }$_lt"
        [ -n "$m_name" ] && _bits="$_bits${_bits:+ · }container $m_name"
        [ -n "$m_az" ] && _bits="$_bits${_bits:+ · }$m_az"
        tsafe "$_bits"; printf 'Task:     %s\n' "$R"
    fi
    if [ -n "$cause_id" ]; then
        tsafe "$summary"; printf '\nCause:    %s (%s)\n' "$R" "$cause_id"
        [ -n "$cause_remedy" ] && { tsafe "$cause_remedy"; wrap 'fix: ' "$R" 10; }
    fi
    printf '\n'
    for _id in $ORDER; do
        key_of "$_id"
        eval "_s=\$S_$K; _ti=\$TI_$K; _de=\$DE_$K; _re=\$RE_$K"
        case $_de in 'not selected'*) continue ;; esac
        case $_s in pass) _m=PASS ;; warn) _m=WARN ;; fail) _m=FAIL ;; skip) _m=skip ;; *) _m='ERR!' ;; esac
        tsafe "$_ti"; printf '[%s] %-32s %s\n' "$_m" "$_id" "$R"
        _said=0
        if [ "$_s" = skip ]; then
            # The title already says the detail (a skip's title is "Not checked: <detail>").
            _dd=${_de%"${_de##*[![:space:]]}"}; _dd=${_dd%.}
            case $_ti in *"$_dd") _said=1 ;; esac
        fi
        [ -n "$_de" ] && [ $_said = 0 ] && [ "$_s" != pass ] && { tsafe "$_de"; wrap '' "$R" 8; }
        case $_s in fail|error|warn) [ -n "$_re" ] && { tsafe "$_re"; wrap 'fix: ' "$R" 8; } ;; esac
    done
    if [ $n_notsel -eq 1 ]; then printf '       (1 check not selected)\n'; elif [ $n_notsel -gt 1 ]; then printf '       (%s checks not selected)\n' "$n_notsel"; fi
    _tally=''
    for _s in pass warn fail skip error; do
        eval "_n=\$n_$_s"
        [ "$_n" -gt 0 ] && _tally="$_tally${_tally:+, }$_n $_s"
    done
    case $verdict in pass) _v=PASS ;; warn) _v=WARN ;; *) _v=FAIL ;; esac
    printf '\nVerdict: %s (%s)\n' "$_v" "$_tally"
    tsafe "$summary"; printf '%s\n' "$R"
}

jstr() { jesc "$1"; printf '"%s"' "$R"; }
jnull() { if [ -n "$1" ]; then jstr "$1"; else printf 'null'; fi; }
render_json() {
    printf '{"schema": "ecs-credential-probe/report/v1", "tool": {"name": "ecs-credential-probe", "version": "%s", "implementation": "probe.sh"}, ' "$VERSION"
    printf '"mode": "task", "started_at": "%s", "duration_ms": %s, "verdict": "%s", "summary": ' \
        "$started_at" "$duration_ms" "$verdict"
    jstr "$summary"; printf ', "identity": null, '
    if [ -n "$task_block" ]; then
        printf '"task": {"task_arn": '; jnull "$m_arn"
        printf ', "cluster": '; jnull "$m_cluster"
        printf ', "launch_type": '; jnull "$m_launch"
        printf ', "network_mode": '; jnull "$m_netmode"
        printf ', "container_name": '; jnull "$m_name"
        printf ', "availability_zone": '; jnull "$m_az"
        printf '}, '
    else
        printf '"task": null, '
    fi
    if [ -n "$cause_id" ]; then
        printf '"cause": {"check": "%s", "layer": ' "$cause_id"; jstr "$cause_layer"
        printf ', "summary": '; jstr "$summary"
        printf ', "remedy": '; jstr "$cause_remedy"
        printf '}, '
    else
        printf '"cause": null, '
    fi
    printf '"checks": ['
    _sep=''
    for _id in $ORDER; do
        key_of "$_id"
        eval "_s=\$S_$K; _ti=\$TI_$K; _de=\$DE_$K; _re=\$RE_$K"
        printf '%s\n  {"id": "%s", "status": "%s", "title": ' "$_sep" "$_id" "$_s"
        jstr "$_ti"; printf ', "detail": '; jstr "$_de"; printf ', "remedy": '; jstr "$_re"
        printf ', "data": {}, "duration_ms": 0}'
        _sep=','
    done
    printf '\n], "sdks": []}\n'
}

if [ "$format" = json ]; then render_json > "$T/report"; else render_text > "$T/report"; fi
if [ -n "$output" ]; then
    cat "$T/report" > "$output" 2>/dev/null || { say "cannot write $output"; exit 2; }
else
    cat "$T/report"
fi
if [ "$verdict" = fail ] || { [ $strict = 1 ] && [ "$verdict" = warn ]; }; then exit 1; fi
exit 0
