# bash completion for dp-launch, dp-node, dp-inspect and dp-codegen (libdp)
# SPDX-License-Identifier: LGPL-2.1-or-later

# plugin names on the plugin path (DP_PLUGIN_PATH, the installed plugin
# directory), without .so, and .so files under the current word
_dp_plugins()
{
    local cur=$1 dir f
    local IFS=:
    for dir in $DP_PLUGIN_PATH $(pkg-config --variable=plugindir libdp-1.0 2>/dev/null); do
        for f in "$dir"/*.so; do
            [ -e "$f" ] || continue
            f=${f##*/}
            COMPREPLY+=($(compgen -W "${f%.so}" -- "$cur"))
        done
    done
    IFS=$' \t\n'
    COMPREPLY+=($(compgen -f -X '!*.so' -- "$cur"))
    compopt -o filenames 2>/dev/null
}

# the places a plugin lists (dp-inspect --json)
_dp_places()
{
    local plugin=$1 cur=$2 places
    places=$(dp-inspect --json "$plugin" 2>/dev/null | sed -n 's/^ *"symbol" : "\(.*\)",\{0,1\}$/\1/p')
    COMPREPLY+=($(compgen -W "$places" -- "$cur"))
}

_dp_launch()
{
    local cur prev words cword
    _init_completion 2>/dev/null || { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
    COMPREPLY=()
    case $prev in
        --tls) COMPREPLY=($(compgen -W "auto on off" -- "$cur")); return ;;
        --plugin-dir|-P) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --rmpi|--node-path|--cookie-file|--ssh-identity|--ssh-known-hosts|--ssh-config|--hosts|-H)
            COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
        --message|-m|--named|-n|--attach|-a|--signature|-s|--ready-timeout|--rmpi-timeout) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--message --named --thunk --isolate --connect --attach --no-wait --tls
            --local --ssh --node-path --plugin-dir --cookie-file --signature --no-stdin
            --ready-timeout --rmpi --rmpi-timeout --accept-new-host-key --ssh-identity --ssh-known-hosts --ssh-config
            --hosts --list --log-json --events-json --verbose --version --help" -- "$cur"))
        return
    fi
    # positional: HOST:PORT PLUGIN SYMBOL
    local i n=0 args=()
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --message|-m|--named|-n|--attach|-a|--signature|-s|--ready-timeout|--rmpi-timeout|--rmpi|--plugin-dir|-P|\
            --node-path|--cookie-file|--ssh-identity|--ssh-known-hosts|--ssh-config|--hosts|-H) ((i++)) ;;
            --tls) ((i++)) ;;
            -*) ;;
            *) args+=("${words[i]}"); ((n++)) ;;
        esac
    done
    case $n in
        0) COMPREPLY=($(compgen -W "localhost:0" -- "$cur")) ;;
        1) _dp_plugins "$cur" ;;
        2) _dp_places "${args[1]}" "$cur" ;;
    esac
}

_dp_inspect()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $prev in
        --plugin-dir|-L) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--json --plugin-dir --version --help" -- "$cur"))
        return
    fi
    _dp_plugins "$cur"
}

_dp_node()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $prev in
        --plugin-dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    esac
    if [[ $cur == -* ]]; then
        local opts
        opts=$(dp-node --help-all 2>/dev/null | sed -n 's/^ *\(-[a-zA-Z], \)\{0,1\}\(--[a-z-]*\).*/\2/p')
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    fi
}

_dp_codegen()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $prev in
        --output-directory) COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
        --generate-c-code) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--generate-c-code --output-directory --help" -- "$cur"))
        return
    fi
    # the description: a .json file
    COMPREPLY=($(compgen -f -X '!*.json' -- "$cur") $(compgen -d -- "$cur"))
    compopt -o filenames 2>/dev/null
}

complete -F _dp_launch dp-launch
complete -F _dp_inspect dp-inspect
complete -F _dp_node dp-node
complete -F _dp_codegen dp-codegen
