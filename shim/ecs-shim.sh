#!/bin/sh
# ecs-shim.sh: the POSIX sh twin of `shim` (ecs-credential-probe), for images without Python.
#
# Writes the container's credential variables (present in this environment) into
# /etc/profile.d/ecs-credentials.sh and ~/.profile (and, with --environment-file,
# /etc/environment), so processes started later from a fresh environment (login shells of
# su -, sudo -i and sshd; cron jobs through pam_env) get the task role instead of silently
# falling back to the EC2 instance role; then execs COMMAND, which keeps PID 1.
#
# usage: ecs-shim.sh [--profile PATH ...] [--no-default-profiles] [--environment-file [PATH]]
#                    [--var NAME ...] [--wait SECONDS] [--strict] [--dry-run] [--] [COMMAND [ARG ...]]
#
# Plain POSIX sh: no bash-isms, no binutils. Needs mv and ls (chown and chmod to keep an
# existing profile's owner and mode; sed, where there is one, appends to an existing profile
# in one exec); --wait needs curl or wget (and cat, wc, tr, sleep, mktemp or mkdir).
#
# Laid out for the start's cost: the code a usual start runs comes first and the command is
# exec'd before the shell has read (parsed) the --dry-run and --wait code below it. Every
# fork and exec is counted (each exec here costs more than the shell's own work): no subshell
# for the umask, one command per changed file (mv, or sed -i appending to an existing profile,
# which keeps its mode and owner without the ls that would read them first; each in the
# background while the next file is prepared), ls only for a file whose mode must be known.

BEGIN='# >>> ecs-credential-probe shim >>>'
END='# <<< ecs-credential-probe shim <<<'
VARS='AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE ECS_CONTAINER_METADATA_URI ECS_CONTAINER_METADATA_URI_V4 ECS_AGENT_URI AWS_REGION AWS_DEFAULT_REGION AWS_EXECUTION_ENV'
PROFILE_D=/etc/profile.d/ecs-credentials.sh
NL='
'

# Messages keep the order of the files even though renames finish in the background.
say() {
    [ "$_ps" = "$_pn" ] || settle
    printf 'shim: %s\n' "$*" >&2
}
_pn=0  # renames started in the background
_ps=0  # ... of which settled (waited for, and said how they went)
set -f  # no pathname expansion of anything below

usage() {
    say "usage: shim [--profile PATH ...] [--no-default-profiles] [--environment-file [PATH]] [--var NAME ...] [--wait SECONDS] [--strict] [--dry-run] [--] [COMMAND [ARG ...]]"
    exit 2
}

profiles=''        # newline-separated extra profile paths
extra_vars=''
default_profiles=1
env_file=''
wait_s=''
wait_set=0
strict=0
dry_run=0

# A --var whose name looks like a secret's makes the files private (0600); any case, as the
# Python shim's secret_name.
secret_name() {
    case $1 in
        *[Ss][Ee][Cc][Rr][Ee][Tt]*|*[Tt][Oo][Kk][Ee][Nn]*|*[Pp][Aa][Ss][Ss][Ww][Oo][Rr][Dd]*|*[Pp][Aa][Ss][Ss][Ww][Dd]*) return 0 ;;
        *[Cc][Rr][Ee][Dd][Ee][Nn][Tt][Ii][Aa][Ll]*|*[Pp][Rr][Ii][Vv][Aa][Tt][Ee]*|*_[Kk][Ee][Yy]) return 0 ;;
    esac
    return 1
}

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
        --dry-run) dry_run=1; shift ;;
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
    case " $extra_vars " in *" $name "*) secret_name "$name" && private=1 ;; esac
done
mode=644
[ $private = 1 ] && mode=600

# --- rendering -----------------------------------------------------------------------
# Single quotes: no shell expands anything inside them; a ' becomes '\''. Sets _q.
sh_quote() {
    _rest=$1
    _q="'"
    while :; do
        case $_rest in
            *\'*) _q="$_q${_rest%%\'*}'\\''"; _rest=${_rest#*\'} ;;
            *) _q="$_q$_rest'"; break ;;
        esac
    done
}

# The block, built once in a variable (no subshell, no trailing newline lost). $1: plain, or
# masked for --dry-run. Sets _out.
render_block() {
    _out="$BEGIN$NL"
    for name in $names; do
        eval "value=\${$name}"
        if [ "$1" = masked ]; then
            shown_value "$name" "$value"
            value=$_m
        fi
        sh_quote "$value"
        _out="${_out}export $name=$_q$NL"
    done
    _out="$_out$END$NL"
}

# pam_env (/etc/environment) has no escapes: plain values only. Sets _eblk (and _emasked, the
# same lines with values masked) and _enames; says which names are left out.
render_env_block() {
    _eblk="$BEGIN$NL"
    _emasked=$_eblk
    _enames=''
    for name in $names; do
        eval "value=\${$name}"
        case $value in
            *[!A-Za-z0-9_./:@%+,=~-]*) say "not writing $name to $env_file: pam_env cannot hold its value" ;;
            *)
                _eblk="$_eblk$name=$value$NL"
                if [ $dry_run = 1 ]; then  # shown_value is defined (read) only on that path
                    shown_value "$name" "$value"
                    _emasked="$_emasked$name=$_m$NL"
                fi
                _enames="$_enames $name" ;;
        esac
    done
    _eblk="$_eblk$END$NL"
    _emasked="$_emasked$END$NL"
}

HEADER="# Written by the ecs-credential-probe shim at container start from PID 1's environment,$NL# so login shells started from a fresh environment (su -, sudo -i, sshd sessions) get the$NL# task's credentials. Cron jobs read no profile: shim --environment-file writes them into$NL# /etc/environment (pam_env). Rewritten at every start: do not edit between the markers.$NL"


# --- files ---------------------------------------------------------------------------
# Each file is written to a temporary file in the same folder, created with noclobber (never
# opened through something planted there) under a umask that gives it its final mode, then
# renamed over the target: a reader sees the old file or the new one. No sync: the profiles
# are rewritten at every start, and a global sync at container start flushes every
# filesystem the container sees (seconds on a busy host). A file that already holds what
# would be written, with the mode and owner it would get, is left as it is: start-up cost is
# what matters here, and each mv is a fork and an exec.

# $1 file, $2 the block: one pass over the file. Sets _has_end (a BEGIN line with an END line
# after it: the block is replaced in place), _same (1: merging would not change a byte), _nb
# (BEGIN lines), and, when the whole file was read, _nonl (its last line has no newline) and
# _empty.
scan_merge() {
    _has_end=0
    _same=1
    _nb=0
    _inside=0
    _rest=''
    _nonl=0
    _empty=1
    while :; do
        if ! IFS= read -r _line; then
            [ -n "$_line" ] || break
            _same=0  # the last line has no newline: it gets one
            _nonl=1
        fi
        _empty=0
        if [ $_inside = 1 ]; then
            if [ "$_line" = "$END" ]; then
                _inside=0
                _has_end=1
                [ "$_rest" = "$END$NL" ] || _same=0
            else
                case $_rest in
                    "$_line$NL"*) _rest=${_rest#"$_line$NL"} ;;
                    *) _same=0; _rest='' ;;
                esac
            fi
        elif [ "$_line" = "$BEGIN" ]; then
            _nb=$((_nb + 1))
            if [ $_nb = 1 ]; then
                _inside=1
                _rest=${2#"$BEGIN$NL"}
            else
                _same=0  # a later block is dropped
            fi
        fi
        [ $_same = 0 ] && [ $_has_end = 1 ] && break
    done < "$1"
    [ $_has_end = 1 ] || _same=0
}

# The mode string and owner (uid:gid) of an existing file, from `ls -ldn` (POSIX, one exec);
# sets _perm and _own. Asked once per file.
file_perm() {  # $1 path
    [ "$_perm_of" = "$1" ] && return 0
    _asked=$1
    if [ "$_pre_of" = "$1" ]; then
        _pre_of=''
        wait "$_pre_pid" || return 1
        IFS= read -r _meta < "$_pre_tmp" || return 1
    else
        _meta=$(ls -ldn -- "$1" 2>/dev/null) || return 1
    fi
    # shellcheck disable=SC2086  # split the ls line into its fields (set -f is on)
    set -- $_meta
    [ $# -ge 4 ] || return 1
    _perm=$1
    _own="$3:$4"
    _perm_of=$_asked
}

# The octal mode to keep (sets _keep) from _perm. With private=1 the mode loses its group
# and other bits, never gains any.
file_keep() {
    _p=$_perm
    _oct=0
    for _shift in 1 2 3; do
        _p=${_p#?}
        _t=${_p%"${_p#???}"}
        _d=0
        case $_t in r??) _d=4 ;; esac
        case $_t in ?w?) _d=$((_d + 2)) ;; esac
        case $_t in ??[xst]) _d=$((_d + 1)) ;; esac
        case $_shift:$_t in 1:??[sS]) _oct=$((_oct + 4000)) ;; 2:??[sS]) _oct=$((_oct + 2000)) ;; 3:??[tT]) _oct=$((_oct + 1000)) ;; esac
        [ $private = 1 ] && [ $_shift != 1 ] && _d=0
        case $_shift in 1) _oct=$((_oct + _d * 100)) ;; 2) _oct=$((_oct + _d * 10)) ;; 3) _oct=$((_oct + _d)) ;; esac
        _p=${_p#??}
    done
    _keep=$_oct
}

ours() {  # $1 path: owned by this process's user and group (test -O/-G; unknown: no)
    { [ -O "$1" ] && [ -G "$1" ]; } 2>/dev/null
}

# Whether the block can be appended to $1 by `sed -i` (one exec that writes a temporary file
# in the same folder with the file's mode and owner, and renames it over the file: the same
# atomic write as ours, without the ls that reads the mode first nor the mv). Only the plain
# case, where the result is byte for byte ours: a regular file of this user and group with
# lines, each ending in a newline, no marker line, no set-id or sticky bit (busybox sed drops
# them), the block not private (a private file may lose group or other access: ours decides).
# Needs scan_merge's verdict on $1.
appendable() {  # $1 path
    [ $_nb = 0 ] && [ $_nonl = 0 ] && [ $_empty = 0 ] && [ $private = 0 ] || return 1
    ours "$1" && [ ! -u "$1" ] && [ ! -g "$1" ] && [ ! -k "$1" ] || return 1
    [ -n "${_sed+x}" ] || { command -v sed >/dev/null 2>&1 && _sed=1 || _sed=''; }
    [ -n "$_sed" ]
}

# $1 file: whether it already is exactly $HEADER$_blk, a regular file (not a symlink) of mode
# $mode owned by this process's user and group, as writing it whole would make it.
whole_same() {
    [ ! -L "$1" ] && [ -f "$1" ] && ours "$1" || return 1
    _rest="$HEADER$_blk"
    _line=''
    while IFS= read -r _line; do
        case $_rest in
            "$_line$NL"*) _rest=${_rest#"$_line$NL"} ;;
            *) return 1 ;;
        esac
    done < "$1"
    [ -z "$_line" ] && [ -z "$_rest" ] || return 1
    file_perm "$1" || return 1
    case $mode:$_perm in 644:-rw-r--r--*|600:-rw-------*) return 0 ;; esac
    return 1
}

# What writing $1 comes to (as shim/profile.py plan_file): sets _action to unchanged, whole,
# new, replace or append, _b to its block and _n to the names in it. $2 whole|merge|env.
plan_one() {
    if [ "$2" = env ]; then _b=$_eblk; _n=$_enames; else _b=$_blk; _n=$names; fi
    _perm_of=''
    if [ "$2" = whole ]; then
        if whole_same "$1"; then _action=unchanged; else _action=whole; fi
        return
    fi
    if [ -L "$1" ] || [ ! -f "$1" ]; then
        _action=new
        return
    fi
    if [ "$2" = merge ] && [ "$_scan_of" = "$1" ]; then
        _scan_of=''  # scanned by prefetch_perm
    else
        scan_merge "$1" "$_b"
    fi
    if [ $_same = 1 ]; then
        # unchanged unless a private file must lose group or other access
        [ $private = 0 ] && { _action=unchanged; return; }
        if file_perm "$1"; then
            case $_perm in ????--[-S]--[-T]*) _action=unchanged; return ;; esac
        fi
    fi
    if [ $_has_end = 1 ]; then _action=replace; else _action=append; fi
}

# $1 file: its lines with our block ($_b) in place of the first one (or appended once); a
# BEGIN with no END after it is a stray line: only the marker goes. Needs _has_end (scan_merge).
emit_merged() {
    _inside=0
    _placed=0
    if [ "$_action" != new ]; then
        while IFS= read -r _line || [ -n "$_line" ]; do
            if [ $_inside = 1 ]; then
                [ "$_line" = "$END" ] && _inside=0
                continue
            fi
            if [ "$_line" = "$BEGIN" ]; then
                _inside=$_has_end
                if [ $_placed = 0 ] && [ $_has_end = 1 ]; then printf '%s' "$_b"; _placed=1; fi
                continue
            fi
            printf '%s\n' "$_line"
        done < "$1"
    fi
    [ $_placed = 1 ] || printf '%s' "$_b"
}

# A new, empty temporary file in $1's folder, created with noclobber (never opened through
# something planted there) under the umask; sets _tmp.
new_tmp() {  # $1 path
    case $1 in */*) _dir=${1%/*} ;; *) _dir=. ;; esac
    [ -n "$_dir" ] || _dir=/
    # A fresh name: noclobber still opens an existing FIFO, which would block the start.
    _tries=0
    while :; do
        _seq=$((_seq + 1))
        _tmp="$_dir/.ecs-shim-$$-$_seq"
        [ -e "$_tmp" ] || [ -L "$_tmp" ] || break
        _tries=$((_tries + 1))
        [ $_tries -lt 100 ] || return 1
    done
    set -C
    true 2>/dev/null > "$_tmp" || { set +C; return 1; }
    set +C
    [ -f "$_tmp" ] && [ ! -L "$_tmp" ]
}

write_tmp() {  # $1 path, $2 whole|merge|env; sets _tmp
    if [ "$_pre_of" = "$1" ]; then
        _tmp=$_pre_tmp  # prefetch_perm's (ls writes its line there first)
    else
        new_tmp "$1" || return 1
    fi
    if [ "$2" = whole ]; then
        printf '%s' "$HEADER$_b" > "$_tmp" || { rm -f "$_tmp"; return 1; }
        return 0
    fi
    # An existing file keeps its owner and mode (never made wider); if it cannot keep its
    # owner, it is not replaced. chown and chmod run only when they would change something.
    if [ "$_action" != new ]; then
        file_perm "$1" || { rm -f "$_tmp"; return 1; }
        file_keep
    fi
    emit_merged "$1" > "$_tmp" || { rm -f "$_tmp"; return 1; }
    if [ "$_action" != new ]; then
        if ! ours "$1"; then
            chown "$_own" "$_tmp" 2>/dev/null || { rm -f "$_tmp"; return 1; }
            _chmod=1  # chown clears the set-id bits
        else
            _chmod=0
        fi
        if [ $_chmod = 1 ] || [ "$_keep" != $mode ]; then
            chmod "$_keep" "$_tmp" 2>/dev/null || { rm -f "$_tmp"; return 1; }
        fi
    fi
}

# Whether a rename to the same directory entry as $1 (the same folder, by inode, and the
# same name) is still pending: it is settled first, so that $1 is planned from what that
# rename leaves, as when every rename finished before the next file (--profile given twice,
# or spelled two ways).
same_entry_pending() {  # $1 path
    _i=$_ps
    while [ "$_i" -lt "$_pn" ]; do
        _i=$((_i + 1))
        eval "_o=\$_pf$_i"
        if [ "${_o##*/}" = "${1##*/}" ]; then
            case $_o in */*) _od=${_o%/*} ;; *) _od=. ;; esac
            case $1 in */*) _nd=${1%/*} ;; *) _nd=. ;; esac
            [ "${_od:-/}" -ef "${_nd:-/}" ] && return 0
        fi
    done
    return 1
}

write_one() {  # $1 path, $2 whole|merge|env
    same_entry_pending "$1" && settle
    plan_one "$1" "$2"
    if [ $_action = unchanged ]; then
        [ $report = 1 ] && say "unchanged $1:${_n:- no variables}"
        return 0
    fi
    if [ $_action = append ] && { [ "$_app_of" = "$1" ] || appendable "$1"; }; then
        # In the background, as mv below; the block reaches sed on its standard input. dash
        # and busybox write a short here-document into a pipe themselves (no fork: 0.4 ms less
        # than printf in a pipeline); bash before 5.1, zsh and ksh write one to a temporary
        # file (a read-only /tmp would fail it), and dash and busybox fork a writer for a long
        # one (a zombie for the command to inherit): those take the pipeline, whose whole
        # job `wait` on sed's pid waits for.
        if [ -z "${BASH_VERSION-}${ZSH_VERSION-}${KSH_VERSION-}" ] && [ ${#_b} -le 1000 ]; then
            _bb=${_b%"$NL"}
            sed -i -e '$r /dev/stdin' -- "$1" 2>/dev/null <<EOF &
$_bb
EOF
        else
            printf '%s' "$_b" | sed -i -e '$r /dev/stdin' -- "$1" 2>/dev/null &
        fi
        pending "$!" '' "$1"
        return 0
    fi
    if ! write_tmp "$1" "$2"; then
        say "cannot write $1"
        _fail=1
        return 1
    fi
    # mv would move the file INTO a directory and call it success.
    if [ -d "$1" ] && [ ! -L "$1" ]; then
        rm -f "$_tmp"; say "cannot write $1: Is a directory"; _fail=1; return 1
    fi
    # The rename runs in the background while the next file is prepared (each mv is a fork
    # and an exec, a millisecond or two of the start); settle waits for it and tells how it went.
    mv -f "$_tmp" "$1" 2>/dev/null &
    pending "$!" "$_tmp" "$1"
    return 0
}

# A write started in the background, for settle: $1 its pid, $2 the temporary file to remove if
# it fails ('' for none), $3 the target; the names written are _n's.
pending() {
    _pn=$((_pn + 1))
    eval "_pp$_pn=\$1 _pt$_pn=\$2 _pf$_pn=\$3 _pm$_pn=\$_n"
}

# Wait for the renames started in the background, in the order they were started, and say
# how each went (as write_one said it when it waited for each mv). Sets _fail on a failure.
settle() {
    while [ "$_ps" -lt "$_pn" ]; do
        _ps=$((_ps + 1))
        eval "_sp=\$_pp$_ps _st=\$_pt$_ps _sf=\$_pf$_ps _sn=\$_pm$_ps"
        if wait "$_sp"; then
            [ $report = 1 ] && printf 'shim: %s\n' "wrote $_sf:${_sn:- no variables}" >&2
        else
            [ -z "$_st" ] || rm -f "$_st"
            printf 'shim: %s\n' "cannot write $_sf" >&2
            _fail=1
        fi
    done
}

# Every file the command line asks for, in order (as shim/__main__.py targets); $1 is the
# function to run on each: write_one or show_one (--dry-run).
each_target() {
    if [ $default_profiles = 1 ]; then
        if [ -d /etc/profile.d ]; then
            "$1" "$PROFILE_D" whole
        else
            [ "$1" = show_one ] && printf '%s\n' "would not write $PROFILE_D: /etc/profile.d does not exist"
        fi
        if [ -n "${HOME-}" ]; then
            "$1" "$HOME/.profile" merge
        else
            say "HOME is not set: ~/.profile not written"
            _fail=1
        fi
    fi
    _old_ifs=$IFS
    IFS=$NL
    for _path in $profiles; do
        IFS=$_old_ifs
        [ -n "$_path" ] && "$1" "$_path" merge
    done
    IFS=$_old_ifs
    if [ -n "$env_file" ]; then
        render_env_block
        "$1" "$env_file" env
    fi
}

# ~/.profile keeps its mode and owner, and the shell has no stat: ls (an exec) reads them.
# Started in the background before /etc/profile.d's file is written, it runs while the shell
# works; its line goes to the temporary file, which file_perm reads before the merged text
# replaces it. Only for a file that will change (a file left as it is needs no mode).
prefetch_perm() {  # $1 a merge target
    [ ! -L "$1" ] && [ -f "$1" ] || return 0
    scan_merge "$1" "$_blk"
    _scan_of=$1
    [ $_same = 0 ] || return 0
    if [ $_has_end = 0 ] && appendable "$1"; then
        _app_of=$1  # sed appends the block: no mode to know (write_one takes this verdict)
        return 0
    fi
    new_tmp "$1" || return 0
    ls -ldn -- "$1" > "$_tmp" 2>/dev/null &
    _pre_pid=$! _pre_of=$1 _pre_tmp=$_tmp
}
_pre_of=''
_scan_of=''
_app_of=''

# The umask this shell was started with, to give back to COMMAND: from /proc (the shell
# reads it itself: no fork), else from `umask` (a command substitution: a fork).
saved_umask() {  # sets _umask_was
    _umask_was=''
    while IFS=': 	' read -r _k _v; do
        case $_k in
            Umask) _umask_was=$_v; break ;;
            State) break ;;  # Umask would have come before it: a kernel older than 4.7
        esac
    done < /proc/self/status 2>/dev/null
    case $_umask_was in
        0[0-7][0-7][0-7]) ;;
        *) _umask_was=$(umask) ;;
    esac
}

# Every file, under the umask that gives a new file its mode ($1); sets _fail (1: a file
# could not be written). The umask is given back before COMMAND starts.
write_all() {
    saved_umask
    umask "$1"
    _fail=0
    _seq=0
    [ $default_profiles = 1 ] && [ -n "${HOME-}" ] && prefetch_perm "$HOME/.profile"
    each_target write_one
    settle
    if [ -n "$_pre_of" ]; then  # not used after all (the file changed under us): no zombie left
        wait "$_pre_pid"
        rm -f "$_pre_tmp"
    fi
    umask "$_umask_was"
}

# --- exec ----------------------------------------------------------------------------
start_command() {  # "$@": COMMAND; exec'd, keeping this process's PID
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
}

render_block plain
_blk=$_out
report=0
[ $# -gt 0 ] || report=1

if [ $dry_run = 0 ]; then
    umask_for=022
    [ $mode = 600 ] && umask_for=077
    write_all $umask_for
    [ $_fail = 1 ] && [ $strict = 1 ] && exit 1
    # Without --wait the start ends here: the shell never reads the rest of this file.
    [ -n "$wait_s" ] || start_command "$@"
fi

# --- masking (--dry-run): as the probe masks (probe/redact.py, probe.sh), as shim/mask.py --
MASK='****'
mask_relative_uri() {  # sets _m
    case $1 in
        //*) _m="//$MASK"; return ;;
        /*) ;;
        '') _m=''; return ;;
        [ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@._~%:+=-]*) _m="${1%"${1#?}"}$MASK"; return ;;
        *) _m=$MASK; return ;;
    esac
    _path=${1%%\?*}
    _m=''
    _oldifs=$IFS; IFS=/
    _first=1
    for _seg in $_path; do
        IFS=$_oldifs
        [ $_first = 1 ] || _m="$_m/"
        _first=0
        case $_seg in
            ''|[Vv][1234]|[Cc][Rr][Ee][Dd][Ee][Nn][Tt][Ii][Aa][Ll][Ss]|[Aa][Pp][Ii]|[Tt][Aa][Ss][Kk]|[Rr][Oo][Ll][Ee]|[Cc][Rr][Ee][Dd][Ss]) _m="$_m$_seg" ;;
            *) _m="$_m$MASK" ;;
        esac
    done
    IFS=$_oldifs
    case $_path in */) _m="$_m/" ;; esac
    case $1 in
        *\?*)
            _qq=''
            IFS='&'
            for _p in ${1#*\?}; do
                IFS=$_oldifs
                [ -n "$_p" ] || continue
                case $_p in *=*) _p="${_p%%=*}=$MASK" ;; *) _p=$MASK ;; esac
                _qq="$_qq${_qq:+&}$_p"
            done
            IFS=$_oldifs
            [ -n "$_qq" ] && _m="$_m?$_qq" ;;
    esac
}

mask_url() {  # sets _m
    case $1 in
        *://*) _sch=${1%%://*}://; _m=${1#*://} ;;
        *) _sch=''; _m=$1 ;;
    esac
    case $_m in
        *@*)
            _ui=${_m%@*}
            _m=${_m##*@}
            case $_ui in *:*) _ui="${_ui%%:*}:$MASK" ;; esac
            _m="$_ui@$_m" ;;
    esac
    _m=${_m%%#*}
    case $_m in
        *\?*)
            _qs=${_m#*\?}; _m=${_m%%\?*}
            _qq=''
            _oldifs=$IFS; IFS='&'
            for _p in $_qs; do
                IFS=$_oldifs
                [ -n "$_p" ] || continue
                case $_p in *=*) _p="${_p%%=*}=$MASK" ;; esac
                _qq="$_qq${_qq:+&}$_p"
            done
            IFS=$_oldifs
            [ -n "$_qq" ] && _m="$_m?$_qq" ;;
    esac
    _m="$_sch$_m"
}

shown_value() {  # $1 name, $2 value; sets _m to what --dry-run shows
    case $1 in
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) mask_relative_uri "$2"; return ;;
        AWS_CONTAINER_CREDENTIALS_FULL_URI|ECS_CONTAINER_METADATA_URI|ECS_CONTAINER_METADATA_URI_V4|ECS_AGENT_URI) mask_url "$2"; return ;;
    esac
    case " $extra_vars " in
        *" $1 "*) if secret_name "$1"; then _m=$MASK; return; fi ;;
    esac
    case $2 in
        *://*) mask_url "$2" ;;
        *) _m=$2 ;;
    esac
}

show_one() {  # $1 path, $2 whole|merge|env: what --dry-run prints for it
    plan_one "$1" "$2"
    if [ $private = 1 ]; then _kept='owner kept; group and others lose access'; else _kept='owner and mode kept'; fi
    case $_action in
        whole) printf '%s\n' "would write $1 (the whole file, mode 0$mode):" ;;
        new) printf '%s\n' "would create $1 with the block (mode 0$mode):" ;;
        replace) printf '%s\n' "would replace the block in $1 ($_kept):" ;;
        append) printf '%s\n' "would add the block to $1 ($_kept):" ;;
        unchanged) printf '%s\n' "would leave $1 as it is (up to date):" ;;
    esac
    if [ "$2" = env ]; then printf '%s' "$_emasked"; else printf '%s' "$_masked"; fi
}

if [ $dry_run = 1 ]; then
    render_block masked
    _masked=$_out
    _fail=0
    each_target show_one
    [ "$wait_set" = 1 ] && printf '%s\n' "would wait up to $wait_s s for the credentials endpoint"
    if [ $# -gt 0 ]; then
        printf '%s\n' "dry run: nothing written; not started: $1"
    else
        printf '%s\n' "dry run: nothing written"
    fi
    exit 0
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

start_command "$@"
