# cmake-options.sh: sourced by main.sh and test.sh. Turns the LOOPCONF_WITH_* / LOOPCONF_BENCHMARKS
# environment variables that install-deps.sh reads into the matching -D options, so one set of
# switches selects both the packages and the build.
loopconf_cmake_options=()
for v in LOOPCONF_WITH_LIBUV LOOPCONF_WITH_LIBEV LOOPCONF_WITH_LIBEVENT LOOPCONF_WITH_GLIB \
         LOOPCONF_WITH_SDEVENT LOOPCONF_WITH_TEVENT LOOPCONF_BENCHMARKS LOOPCONF_HTTP; do
  if [ -n "${!v:-}" ]; then loopconf_cmake_options+=("-D$v=${!v}"); fi
done
