# shellcheck shell=bash
# parse_options.sh: turn --name value options into settings of the sourcing
# script's variables.
#
# Usage, inside a script:
#   foo_bar=3                  # every option is a variable with a default
#   use_gpu=false              # a true/false default makes a boolean option
#   help_message="Usage: $0 [options] <in> <out>"   # optional
#   . utils/parse_options.sh
#   # "$@" now holds only the non-option arguments.
#
# Forms: --foo-bar VALUE, --foo_bar VALUE, --foo-bar=VALUE.
# Parsing stops at "--" (which is dropped) or at the first argument that does
# not start with "--".
# --config FILE  reads FILE, lines of name=value (blank lines and # comments
#                allowed; values are literal words or quoted strings, with no
#                expansion; nothing in the file is executed). All config files
#                are applied first, in order, then the other options, so the
#                command line always wins.
# --help, -h     prints $help_message to stderr and exits 0.
# Any error is reported on stderr and exits 1 (from the caller's shell, as
# this file is sourced). Nothing is assigned until every option and config
# line has been checked.

_po_die() {
  echo "parse_options.sh: $*" >&2
  exit 1
}

# _po_declared NAME: succeeds if NAME is a variable set by the caller.
_po_declared() {
  [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*$ && $1 != _po_* && -n ${!1+x} ]]
}

# _po_bool_ok NAME VALUE: fails if NAME holds true/false and VALUE does not.
_po_bool_ok() {
  case ${!1} in
    true | false) [[ $2 == true || $2 == false ]] ;;
  esac
}

# Pass 1: read the command-line options, checking each one.
_po_configs=() # config files, in command-line order
_po_names=()   # name/value pairs to assign, config files' first
_po_values=()
_po_cli_names=()
_po_cli_values=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --) shift; break ;;
    --help | -h)
      if [[ -n ${help_message:-} ]]; then
        echo "$help_message" >&2
      else
        echo "Usage: $0 [--name value ...] [args]  (options set the script's variables of the same name)" >&2
      fi
      exit 0
      ;;
    --*) ;;
    *) break ;;
  esac

  _po_opt=${1%%=*} # the option as typed, without any "=VALUE"
  _po_name=${_po_opt#--}
  _po_name=${_po_name//-/_}
  if [[ $_po_name != config ]] && ! _po_declared "$_po_name"; then
    _po_die "unknown option $_po_opt"
  fi
  if [[ $1 == *=* ]]; then
    _po_val=${1#*=}
    shift
  elif [[ $# -ge 2 ]]; then
    _po_val=$2
    shift 2
  else
    _po_die "option $_po_opt needs a value"
  fi

  if [[ $_po_name == config ]]; then
    _po_configs+=("$_po_val")
  elif ! _po_bool_ok "$_po_name" "$_po_val"; then
    _po_die "option $_po_opt takes true or false, not '$_po_val'"
  else
    _po_cli_names+=("$_po_name")
    _po_cli_values+=("$_po_val")
  fi
done

# Pass 2: read the config files. A value is 'single quoted', "double quoted"
# or a bare word, optionally followed by " # comment". Whatever would make
# bash expand or run something ($, `, \, ~, ;, |, ...) is refused, so an
# accepted line means here just what it would mean to bash.
_po_re_line='^([A-Za-z_][A-Za-z0-9_]*)=(.*)$'
_po_re_sq="^'([^']*)'[[:space:]]*(#.*)?\$"
_po_re_dq='^"([^"$`\]*)"[[:space:]]*(#.*)?$'
_po_re_bare='^([^[:space:]"'"'"'$`\~;&|<>()]*)[[:space:]]*(#.*)?$'
for _po_file in "${_po_configs[@]}"; do
  [[ -f $_po_file && -r $_po_file ]] || _po_die "config file $_po_file not found"
  _po_lineno=0
  while IFS= read -r _po_line || [[ -n $_po_line ]]; do
    _po_lineno=$((_po_lineno + 1))
    _po_where="config file $_po_file, line $_po_lineno"
    # Trim surrounding whitespace, then skip blank and comment lines.
    _po_line=${_po_line#"${_po_line%%[![:space:]]*}"}
    _po_line=${_po_line%"${_po_line##*[![:space:]]}"}
    if [[ -z $_po_line || $_po_line == '#'* ]]; then
      continue
    fi

    [[ $_po_line =~ $_po_re_line ]] || _po_die "$_po_where: expected name=value, got: $_po_line"
    _po_name=${BASH_REMATCH[1]}
    _po_val=${BASH_REMATCH[2]}
    if [[ $_po_val =~ $_po_re_sq || $_po_val =~ $_po_re_dq || $_po_val =~ $_po_re_bare ]]; then
      _po_val=${BASH_REMATCH[1]}
    else
      _po_die "$_po_where: unsupported value for $_po_name (only plain or quoted literals): $_po_val"
    fi

    _po_declared "$_po_name" || _po_die "$_po_where: unknown variable '$_po_name'"
    _po_bool_ok "$_po_name" "$_po_val" ||
      _po_die "$_po_where: $_po_name takes true or false, not '$_po_val'"
    _po_names+=("$_po_name")
    _po_values+=("$_po_val")
  done <"$_po_file"
done

# Pass 3: assign, config files first so that the command line wins.
_po_names+=("${_po_cli_names[@]}")
_po_values+=("${_po_cli_values[@]}")
for ((_po_i = 0; _po_i < ${#_po_names[@]}; _po_i++)); do
  printf -v "${_po_names[_po_i]}" '%s' "${_po_values[_po_i]}"
done

unset -v _po_configs _po_names _po_values _po_cli_names _po_cli_values \
  _po_opt _po_name _po_val _po_file _po_lineno _po_line _po_where _po_i \
  _po_re_line _po_re_dq _po_re_sq _po_re_bare
unset -f _po_die _po_declared _po_bool_ok
