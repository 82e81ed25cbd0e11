# Sourced by fetch-kernel.sh and build-kernel.sh (after they define die):
# sets cache to the directory where downloaded packages and built kernels are
# kept: $COCOON_CACHE_DIR, else /var/cache/cocoon, else (a non-root developer
# cannot write /var/cache) ~/.cache/cocoon. An explicit setting is respected
# as given.
cache=${COCOON_CACHE_DIR:-/var/cache/cocoon}
if ! { mkdir -p -- "$cache" 2>/dev/null && [[ -w $cache ]]; }; then
    [[ -z ${COCOON_CACHE_DIR:-} && -n ${HOME:-} ]] ||
        die "cache dir $cache is not writable; set COCOON_CACHE_DIR to a writable directory"
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/cocoon
    mkdir -p -- "$cache" && [[ -w $cache ]] ||
        die "neither /var/cache/cocoon nor $cache is writable; set COCOON_CACHE_DIR"
fi
