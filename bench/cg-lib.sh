# bench/cg-lib.sh: the callgrind measurement of the bench/cg_*.c drivers,
# sourced by bench/callgrind.sh and bench/callgrind-signals.sh ($W: their
# scratch directory).

ir() {
    # ir FUNCTION CMD...: instructions collected inside FUNCTION
    LD_BIND_NOW=1 valgrind --tool=callgrind --toggle-collect="$1" \
        --callgrind-out-file="$W/cg.out" "${@:2}" > /dev/null 2> "$W/log" \
        || { cat "$W/log" >&2; exit 1; }
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$W/log"
}

per_req() {
    # per_req K FUNCTION CMD... (the last argument of CMD is N): the
    # instructions of one call, (Ir of 1 + K calls - Ir of 1) / K
    local k=$1 f=$2 a b
    shift 2
    a=$(ir "$f" "$@" 1)
    b=$(ir "$f" "$@" $((k + 1)))
    echo $(( (b - a) / k ))
}
