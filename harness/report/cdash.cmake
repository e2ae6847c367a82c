# cdash.cmake: loopconf's CTest side on a CDash dashboard (issue 14), one submission per machine.
#
#   ctest -S harness/report/cdash.cmake -DLOOPCONF_CDASH_URL=https://my.cdash.org/submit.php?project=loopconf
#
# Configures, builds and tests a build directory and submits the configure output, the build
# warnings and every CTest result (conformance.<backend>, the self-tests, the oracle, the report
# tests) to CDash, under this machine's site and build name. The project has no CTestConfig.cmake
# and does not include(CTest): this script is the whole dashboard client. Without
# LOOPCONF_CDASH_URL nothing is submitted; the XML stays in <build>/Testing/.
#
# Settings, as -D<name>=<value> or environment variables of the same name:
#   LOOPCONF_CDASH_URL      the submit URL (CDash's submit.php?project=<name>); empty: no submission
#   LOOPCONF_BUILD_DIR      build directory (default: <source>/build-cdash; an existing one is reused)
#   LOOPCONF_SITE           site name (default: the host name)
#   LOOPCONF_BUILD_NAME     build name (default: <kernel release>-<build type>)
#   LOOPCONF_BUILD_TYPE     CMAKE_BUILD_TYPE (default RelWithDebInfo)
#   LOOPCONF_CMAKE_OPTIONS  more configure options, ';'-separated (e.g. -DLOOPCONF_BENCHMARKS=OFF)
#   LOOPCONF_TESTS          a ctest -R regular expression (default: every test)
#   LOOPCONF_JOBS           parallel build and test jobs (default 2)
#   LOOPCONF_MODEL          Experimental (default), Continuous or Nightly
cmake_minimum_required(VERSION 3.18)

foreach(v LOOPCONF_CDASH_URL LOOPCONF_BUILD_DIR LOOPCONF_SITE LOOPCONF_BUILD_NAME
          LOOPCONF_BUILD_TYPE LOOPCONF_CMAKE_OPTIONS LOOPCONF_TESTS LOOPCONF_JOBS LOOPCONF_MODEL)
  if(NOT DEFINED ${v} AND DEFINED ENV{${v}})
    set(${v} "$ENV{${v}}")
  endif()
endforeach()

get_filename_component(CTEST_SOURCE_DIRECTORY "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
if(NOT LOOPCONF_BUILD_DIR)
  set(LOOPCONF_BUILD_DIR "${CTEST_SOURCE_DIRECTORY}/build-cdash")
endif()
get_filename_component(CTEST_BINARY_DIRECTORY "${LOOPCONF_BUILD_DIR}" ABSOLUTE)
if(NOT LOOPCONF_BUILD_TYPE)
  set(LOOPCONF_BUILD_TYPE RelWithDebInfo)
endif()
if(NOT LOOPCONF_JOBS)
  set(LOOPCONF_JOBS 2)
endif()
if(NOT LOOPCONF_MODEL)
  set(LOOPCONF_MODEL Experimental)
endif()
if(NOT LOOPCONF_SITE)
  cmake_host_system_information(RESULT LOOPCONF_SITE QUERY HOSTNAME)
endif()
if(NOT LOOPCONF_BUILD_NAME)
  cmake_host_system_information(RESULT _os_release QUERY OS_RELEASE)
  set(LOOPCONF_BUILD_NAME "linux-${_os_release}-${LOOPCONF_BUILD_TYPE}")
endif()
set(CTEST_SITE "${LOOPCONF_SITE}")
set(CTEST_BUILD_NAME "${LOOPCONF_BUILD_NAME}")
set(CTEST_CMAKE_GENERATOR Ninja)
set(CTEST_BUILD_CONFIGURATION "${LOOPCONF_BUILD_TYPE}")
set(CTEST_BUILD_FLAGS "-j${LOOPCONF_JOBS}")
set(CTEST_CONFIGURE_COMMAND
    "\"${CMAKE_COMMAND}\" -S \"${CTEST_SOURCE_DIRECTORY}\" -B \"${CTEST_BINARY_DIRECTORY}\" -G Ninja -DCMAKE_BUILD_TYPE=${LOOPCONF_BUILD_TYPE}")
foreach(o IN LISTS LOOPCONF_CMAKE_OPTIONS)
  string(APPEND CTEST_CONFIGURE_COMMAND " \"${o}\"")
endforeach()

ctest_start(${LOOPCONF_MODEL})
ctest_configure(RETURN_VALUE configured)
if(NOT configured EQUAL 0)
  message(SEND_ERROR "cdash.cmake: configure failed (${configured})")
endif()
ctest_build(RETURN_VALUE built NUMBER_ERRORS build_errors)
if(LOOPCONF_TESTS)
  ctest_test(INCLUDE "${LOOPCONF_TESTS}" PARALLEL_LEVEL ${LOOPCONF_JOBS} RETURN_VALUE tested)
else()
  ctest_test(PARALLEL_LEVEL ${LOOPCONF_JOBS} RETURN_VALUE tested)
endif()
if(LOOPCONF_CDASH_URL)
  set(CTEST_SUBMIT_URL "${LOOPCONF_CDASH_URL}")
  ctest_submit(RETURN_VALUE submitted)
  if(NOT submitted EQUAL 0)
    message(SEND_ERROR "cdash.cmake: submission to ${LOOPCONF_CDASH_URL} failed")
  endif()
else()
  message(STATUS "cdash.cmake: no LOOPCONF_CDASH_URL, nothing submitted "
                 "(results in ${CTEST_BINARY_DIRECTORY}/Testing)")
endif()
if(NOT built EQUAL 0 OR build_errors GREATER 0 OR NOT tested EQUAL 0)
  message(SEND_ERROR "cdash.cmake: build or tests failed (see the dashboard or Testing/)")
endif()
