# Sourced by the tools that write JSON from shell (mkbundle.sh, mkimage.sh).

# JSON string literal for one argument: quotes, backslashes and control
# characters escaped, everything else (UTF-8 included) passed through.
json_str() {
    local s=$1 out='' c i
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\n'/\\n}
    s=${s//$'\t'/\\t}
    s=${s//$'\r'/\\r}
    s=${s//$'\b'/\\b}
    s=${s//$'\f'/\\f}
    if [[ $s == *[$'\x01'-$'\x1f\x7f']* ]]; then
        for (( i = 0; i < ${#s}; i++ )); do
            c=${s:i:1}
            case $c in
                [$'\x01'-$'\x1f\x7f']) printf -v c '\\u%04x' "'$c" ;;
            esac
            out+=$c
        done
        s=$out
    fi
    printf '"%s"' "$s"
}

# The arguments as the inside of a JSON array: "a", "b".
json_list() {
    local a sep=''
    for a in "$@"; do
        printf '%s' "$sep"
        json_str "$a"
        sep=', '
    done
}
