# tests.cmake: CTest registration: the conformance matrix per backend, plug-in adapters, the
# runner's own self-test and the spec cross-check. Included from the top-level CMakeLists.txt
# after every target exists. Timing tests read LOOPCONF_TIME_MULTIPLIER from the environment.

# One conformance run per built-in backend (the list loopconf_add_backend recorded), each with
# its JUnit report in the build dir.
get_property(_lc_backends GLOBAL PROPERTY LOOPCONF_BACKENDS)
foreach(backend ${_lc_backends})
  add_test(NAME conformance.${backend}
           COMMAND loopconf run --backend ${backend} -q
                   --junit ${PROJECT_BINARY_DIR}/conformance-${backend}.xml)
  set_tests_properties(conformance.${backend} PROPERTIES
                       LABELS "conformance;${backend}" TIMEOUT 1800)
  if(backend STREQUAL "tevent")
    loopconf_tevent_asan_workaround(conformance.tevent)
  endif()
endforeach()

# The semantic tier in the copy-stack task mode (LOOPCONF_STACK=copy, runtime.h) on the
# reference loop and one library backend: seconds each, and the ASan stage runs them too. The
# whole matrix in that mode: LOOPCONF_STACK=copy loopconf run --tier semantics.
foreach(backend reference libuv)
  if(backend IN_LIST _lc_backends)
    add_test(NAME conformance.semantics.copy.${backend}
             COMMAND loopconf run --backend ${backend} --tier semantics -q)
    set_tests_properties(conformance.semantics.copy.${backend} PROPERTIES
                         LABELS "conformance;${backend}" TIMEOUT 600
                         ENVIRONMENT LOOPCONF_STACK=copy)
  endif()
endforeach()

# The out-of-tree adapter example, loaded by path like any third-party backend.
if(TARGET example_poll_adapter)
  add_test(NAME conformance.example-poll
           COMMAND loopconf run --backend $<TARGET_FILE:example_poll_adapter> -q
                   --junit ${PROJECT_BINARY_DIR}/conformance-example-poll.xml)
  set_tests_properties(conformance.example-poll PROPERTIES
                       LABELS "conformance;plugin" TIMEOUT 1800)
endif()

# The runner's verdict machinery, reports, exit codes and input errors, proven on the
# selftest.* tests hosted by one built-in backend (the reference loop when there is one).
list(GET _lc_backends 0 _lc_selftest_backend)
if(_lc_selftest_backend)
  add_test(NAME runner.selftest
           COMMAND bash ${PROJECT_SOURCE_DIR}/harness/runner/selftest.sh
                   $<TARGET_FILE:loopconf> ${_lc_selftest_backend}
                   $<TARGET_FILE_DIR:lcfix_no_entry>)
  set_tests_properties(runner.selftest PROPERTIES LABELS runner TIMEOUT 300)
endif()

# No verdict without the backend: the whole suite on a backend whose run() always fails.
add_test(NAME runner.backend_fails
         COMMAND bash ${PROJECT_SOURCE_DIR}/harness/runner/backend_fails.sh
                 $<TARGET_FILE:loopconf> $<TARGET_FILE_DIR:lcfix_run_fails>)
set_tests_properties(runner.backend_fails PROPERTIES LABELS runner TIMEOUT 300)

# Every clause named by a test exists, every test named by spec/*.tsv claims its clause, and
# every clause has a test.
add_test(NAME spec.check COMMAND loopconf spec-check)
set_tests_properties(spec.check PROPERTIES LABELS spec TIMEOUT 60)

# oracle (sem)
# The semantic traces of every built-in backend against CPython 3.11 asyncio twins.
find_package(Python3 3.11 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME oracle.semantics COMMAND ${Python3_EXECUTABLE}
           ${PROJECT_SOURCE_DIR}/harness/oracle/oracle.py --loopconf $<TARGET_FILE:loopconf>)
  set_tests_properties(oracle.semantics PROPERTIES LABELS oracle TIMEOUT 600)
  # The same traces with every spawned task on the shared stack (copy-stack mode), on the
  # reference loop (the asyncio twins run once; the mode must not change a trace).
  add_test(NAME oracle.semantics.copy COMMAND ${Python3_EXECUTABLE}
           ${PROJECT_SOURCE_DIR}/harness/oracle/oracle.py --loopconf $<TARGET_FILE:loopconf>
           --backend reference,libuv)
  set_tests_properties(oracle.semantics.copy PROPERTIES LABELS oracle TIMEOUT 600
                       ENVIRONMENT LOOPCONF_STACK=copy)
  if(TARGET example_poll_adapter) # the out-of-tree adapter, loaded by path
    add_test(NAME oracle.example-poll COMMAND ${Python3_EXECUTABLE}
             ${PROJECT_SOURCE_DIR}/harness/oracle/oracle.py --loopconf $<TARGET_FILE:loopconf>
             --backend $<TARGET_FILE:example_poll_adapter>)
    set_tests_properties(oracle.example-poll PROPERTIES LABELS "oracle;plugin" TIMEOUT 600)
  endif()
endif()

# Pinned characteristics in expectations files: match, change, missing key, malformed pins.
if(_lc_selftest_backend)
  add_test(NAME runner.selftest_pins
           COMMAND bash ${PROJECT_SOURCE_DIR}/harness/runner/selftest_pins.sh
                   $<TARGET_FILE:loopconf> ${_lc_selftest_backend})
  set_tests_properties(runner.selftest_pins PROPERTIES LABELS runner TIMEOUT 60)
endif()

# install (sdk): cmake --install to a temporary prefix, the example adapter built from a copy
# outside the tree with find_package(loopconf) (ci/loop-maintainer.sh) and with pkg-config,
# the installed loopconf run on it (loop tier) with its installed data.
if(TARGET example_poll_adapter)
  add_test(NAME install.sdk
           COMMAND bash ${PROJECT_SOURCE_DIR}/ci/selftest_install.sh ${PROJECT_BINARY_DIR}
                   ${PROJECT_SOURCE_DIR})
  set_tests_properties(install.sdk PROPERTIES LABELS "install;plugin" TIMEOUT 300)
endif()

# Expectations conditioned on the library version actually run ("version<1.48").
if(_lc_selftest_backend)
  add_test(NAME runner.selftest_version
           COMMAND bash ${PROJECT_SOURCE_DIR}/harness/runner/selftest_version.sh
                   $<TARGET_FILE:loopconf> ${_lc_selftest_backend})
  set_tests_properties(runner.selftest_version PROPERTIES LABELS runner TIMEOUT 60)
endif()

# CI formats (issue 15): prove(1) reads the TAP file, xmllint validates the JUnit file against
# our junit-10 schema, over PASS, FAIL, XFAIL, XPASS, SKIP, CRASH and TIMEOUT cells.
if(_lc_selftest_backend)
  add_test(NAME runner.ci_formats
           COMMAND bash ${PROJECT_SOURCE_DIR}/harness/runner/selftest_ci_formats.sh
                   $<TARGET_FILE:loopconf> ${_lc_selftest_backend}
                   ${PROJECT_SOURCE_DIR}/harness/runner/junit-10.xsd)
  set_tests_properties(runner.ci_formats PROPERTIES LABELS runner TIMEOUT 60)
endif()

# Containment and terminal safety (issue 15): setsid grandchildren killed, nohup kept, SIGQUIT
# leaves no temporary files, bad output options refused up front, a flooding cell bounded and
# cleaned in the text report, --unexpected / --clauses / --color and NO_COLOR.
if(_lc_selftest_backend)
  add_test(NAME runner.selftest_hardening
           COMMAND bash ${PROJECT_SOURCE_DIR}/harness/runner/selftest_hardening.sh
                   $<TARGET_FILE:loopconf> ${_lc_selftest_backend} ${PROJECT_SOURCE_DIR})
  set_tests_properties(runner.selftest_hardening PROPERTIES LABELS runner TIMEOUT 60)
endif()
