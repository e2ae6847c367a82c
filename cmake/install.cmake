# install.cmake: what `cmake --install` puts under the prefix (the loopconf SDK):
#   bin/                         loopconf and every other command (loopconf-bench, loopconf-http, ...)
#   lib/loopconf/backends/       the built-in backends, each with its lcb_<name>.expect
#   lib/cmake/loopconf/          loopconfConfig.cmake (+ version, loopconf_add_adapter)
#   lib/pkgconfig/loopconf.pc
#   include/loopconf/            the public headers (backend contract, clock, runtime)
#   share/loopconf/spec, oracle  data the commands find relative to their own location
#   share/loopconf/harness/      the Python scripts loopconf http and loopconf sweep run
#   share/doc/loopconf/          README, adapter guide, the CI recipe, the Dockerfile
# Paths are fixed (no GNUInstallDirs multiarch libdir): the commands look for
# <exe dir>/../lib/loopconf/backends and <exe dir>/../share/loopconf.
include(CMakePackageConfigHelpers)

foreach(_cmd loopconf loopconf-bench loopconf-http loopconf-http-server)
  if(TARGET ${_cmd})
    install(TARGETS ${_cmd} RUNTIME DESTINATION bin)
  endif()
endforeach()

get_property(_lc_install_backends GLOBAL PROPERTY LOOPCONF_BACKENDS)
foreach(_be ${_lc_install_backends})
  get_target_property(_expect lcb_${_be} LOOPCONF_EXPECT)
  install(TARGETS lcb_${_be} LIBRARY DESTINATION lib/loopconf/backends)
  install(FILES ${_expect} DESTINATION lib/loopconf/backends RENAME lcb_${_be}.expect)
endforeach()

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/loopconf DESTINATION include
        FILES_MATCHING PATTERN "*.h")
# The task runtime's header until it moves to include/loopconf/runtime.h (then the rule
# above installs it and this one finds nothing).
if(EXISTS ${PROJECT_SOURCE_DIR}/harness/runtime/lc_runtime.h)
  install(FILES ${PROJECT_SOURCE_DIR}/harness/runtime/lc_runtime.h DESTINATION include/loopconf)
endif()

install(DIRECTORY ${PROJECT_SOURCE_DIR}/spec/ DESTINATION share/loopconf/spec)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/harness/oracle/ DESTINATION share/loopconf/oracle
        PATTERN "__pycache__" EXCLUDE PATTERN "*.pyc" EXCLUDE)
# Scripts the commands run, found with lch_data_dir("harness/<dir>") as in the source tree.
if(TARGET loopconf-http)
  install(FILES ${PROJECT_SOURCE_DIR}/harness/http/lchttp_asyncio.py
          DESTINATION share/loopconf/harness/http)
endif()
if(TARGET lcsweep)
  install(FILES ${PROJECT_SOURCE_DIR}/harness/sweep/lcsweep.py
          DESTINATION share/loopconf/harness/sweep)
endif()
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/doc/loopconf)
install(FILES ${PROJECT_SOURCE_DIR}/adapters/README.md DESTINATION share/doc/loopconf
        RENAME adapters.md)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/ci/ DESTINATION share/doc/loopconf/ci
        PATTERN "*.sh" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
        GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
# The example adapter's sources: a starting point for a new adapter.
install(FILES ${PROJECT_SOURCE_DIR}/adapters/example/CMakeLists.txt
              ${PROJECT_SOURCE_DIR}/adapters/example/README.md
              ${PROJECT_SOURCE_DIR}/adapters/example/example_poll.c
              ${PROJECT_SOURCE_DIR}/adapters/example/example.expect
        DESTINATION share/loopconf/example)

configure_file(${CMAKE_CURRENT_LIST_DIR}/loopconfConfig.cmake.in
               ${PROJECT_BINARY_DIR}/sdk/loopconfConfig.cmake @ONLY)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/sdk/loopconfConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion
                                 ARCH_INDEPENDENT)
configure_file(${CMAKE_CURRENT_LIST_DIR}/loopconf.pc.in ${PROJECT_BINARY_DIR}/sdk/loopconf.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/sdk/loopconfConfig.cmake
              ${PROJECT_BINARY_DIR}/sdk/loopconfConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/loopconfAdapter.cmake
        DESTINATION lib/cmake/loopconf)
install(FILES ${PROJECT_BINARY_DIR}/sdk/loopconf.pc DESTINATION lib/pkgconfig)
