# test_timeouts.cmake: every CTest TIMEOUT scales with the one slow-machine multiplier.
#
# LOOPCONF_TEST_TIME_MULTIPLIER (default: $LOOPCONF_TIME_MULTIPLIER at configure time, else 1)
# multiplies the TIMEOUT of every test, wherever it is declared: set_tests_properties is
# wrapped here (before any add_subdirectory), so test files keep writing the limit for an idle
# machine and scripts/test.sh configures the ASan and TSan stages with the multiplier their
# cells run under. Cells' own limits follow LOOPCONF_TIME_MULTIPLIER at run time.
include_guard(GLOBAL)

if(DEFINED ENV{LOOPCONF_TIME_MULTIPLIER} AND NOT "$ENV{LOOPCONF_TIME_MULTIPLIER}" STREQUAL "")
  set(_lc_default_mult "$ENV{LOOPCONF_TIME_MULTIPLIER}")
else()
  set(_lc_default_mult 1)
endif()
set(LOOPCONF_TEST_TIME_MULTIPLIER "${_lc_default_mult}" CACHE STRING
    "Multiplier for every CTest TIMEOUT (>= 1; scripts/test.sh sets it per stage)")
if(NOT LOOPCONF_TEST_TIME_MULTIPLIER MATCHES "^[0-9]+(\\.[0-9]+)?$" OR
   LOOPCONF_TEST_TIME_MULTIPLIER LESS 1)
  message(FATAL_ERROR "LOOPCONF_TEST_TIME_MULTIPLIER must be a number >= 1, got "
                      "'${LOOPCONF_TEST_TIME_MULTIPLIER}'")
endif()

# TIMEOUT seconds * multiplier, rounded up (math() is integer-only: scale by 1000).
function(loopconf_scaled_timeout out seconds)
  string(REGEX MATCH "^([0-9]+)(\\.([0-9]*))?$" _m "${LOOPCONF_TEST_TIME_MULTIPLIER}")
  set(_int "${CMAKE_MATCH_1}")
  string(SUBSTRING "${CMAKE_MATCH_3}000" 0 3 _frac)
  math(EXPR _milli "${_int} * 1000 + 1${_frac} - 1000")
  math(EXPR _scaled "(${seconds} * ${_milli} + 999) / 1000")
  set(${out} ${_scaled} PARENT_SCOPE)
endfunction()

# Arguments are walked one by one (ARGV<n>), not as ${ARGN}, so a quoted list such as
# LABELS "conformance;libuv" stays one argument; the call is re-made with each one quoted.
function(set_tests_properties)
  set(_code "_set_tests_properties(")
  set(_scale_next FALSE)
  math(EXPR _last "${ARGC} - 1")
  foreach(_n RANGE 0 ${_last})
    set(_a "${ARGV${_n}}")
    if(_scale_next AND _a MATCHES "^[0-9]+$")
      loopconf_scaled_timeout(_a ${_a})
    endif()
    set(_scale_next FALSE)
    if(_a STREQUAL "TIMEOUT")
      set(_scale_next TRUE)
    endif()
    string(APPEND _code " [==[${_a}]==]")
  endforeach()
  string(APPEND _code ")")
  cmake_language(EVAL CODE "${_code}")
endfunction()
