#!/bin/bash
# Completes dp-launch, dp-inspect and dp-codegen command lines with dp.bash ($1) and
# checks the candidates: options, plugin names, the places of a plugin.
set -u
source "$1"
codegen_dir=$(cd "$(dirname "$1")/../../sdk/template" && pwd)
fail=0
check() {   # check "WORDS..." EXPECTED-CANDIDATE
    local line=$1 want=$2
    read -r -a COMP_WORDS <<< "$line"
    [[ $line == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    case ${COMP_WORDS[0]} in
        dp-launch) _dp_launch ;;
        dp-inspect) _dp_inspect ;;
        dp-codegen) _dp_codegen ;;
    esac
    if ! printf '%s\n' "${COMPREPLY[@]}" | grep -qx -- "$want"; then
        echo "not offered for '$line': $want (got: ${COMPREPLY[*]})"
        fail=1
    fi
}
check "dp-launch --log-j" "--log-json"
check "dp-launch localhost:0 ec" "echo"
check "dp-launch -v localhost:0 echo echo_" "echo_named"
check "dp-launch localhost:0 echo mesh" "mesh_pinger"
check "dp-inspect ec" "echo"
check "dp-inspect --js" "--json"
check "dp-codegen --gen" "--generate-c-code"
check "dp-codegen --generate-c-code counter $codegen_dir/cou" "$codegen_dir/counter.json"
exit $fail
