# Install rules for the files that belong to no target (example config,
# systemd unit, man page, docs) and CPack settings for the Debian package.
# Included once from the top-level CMakeLists.txt after every subdirectory,
# so it can see whether the monitor is built.
#
# The programs, the samples, the desktop file and the icon are installed by
# app/, samples/ and gui/. For the .deb configure with
# -DCMAKE_INSTALL_PREFIX=/usr (packaging/build-all does): the config then
# goes to /etc/sockjsproxy and the unit runs /usr/bin/sockjsproxy-cli.
include_guard(GLOBAL)

set(_sjp_resources "${PROJECT_SOURCE_DIR}/resources")
set(_sjp_packaging "${PROJECT_SOURCE_DIR}/packaging")

set(SOCKJSPROXY_CONFDIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}/sockjsproxy" CACHE PATH
    "Where the service's sockjsproxy.json is installed (/etc/sockjsproxy for prefix /usr)")
set(SOCKJSPROXY_SYSTEMD_UNITDIR "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" CACHE PATH
    "Where sockjsproxy.service is installed (empty: not installed)")
option(SOCKJSPROXY_INSTALL_SERVICE
    "Install the example config to SOCKJSPROXY_CONFDIR and the systemd unit" ${UNIX})

# The example configuration: always as a reference in share/, and as the
# service's config (a conffile in the .deb).
install(FILES "${_sjp_resources}/sockjsproxy.json"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/sockjsproxy")

if(SOCKJSPROXY_INSTALL_SERVICE AND UNIX AND NOT APPLE)
    install(FILES "${_sjp_resources}/sockjsproxy.json" DESTINATION "${SOCKJSPROXY_CONFDIR}")

    if(SOCKJSPROXY_SYSTEMD_UNITDIR)
        # The unit in resources/ names /usr/bin and /etc/sockjsproxy, as the
        # .deb installs them; another prefix gets its own paths.
        file(READ "${_sjp_resources}/sockjsproxy.service" _sjp_unit)
        string(REPLACE "/usr/bin/sockjsproxy-cli" "${CMAKE_INSTALL_FULL_BINDIR}/sockjsproxy-cli"
               _sjp_unit "${_sjp_unit}")
        string(REPLACE "/etc/sockjsproxy/" "${SOCKJSPROXY_CONFDIR}/" _sjp_unit "${_sjp_unit}")
        file(CONFIGURE OUTPUT "${PROJECT_BINARY_DIR}/packaging/sockjsproxy.service"
             CONTENT "${_sjp_unit}" @ONLY)
        set_property(DIRECTORY "${PROJECT_SOURCE_DIR}" APPEND PROPERTY
                     CMAKE_CONFIGURE_DEPENDS "${_sjp_resources}/sockjsproxy.service")
        install(FILES "${PROJECT_BINARY_DIR}/packaging/sockjsproxy.service"
                DESTINATION "${SOCKJSPROXY_SYSTEMD_UNITDIR}")
    endif()
endif()

# The man page, gzipped where gzip exists (Debian policy; man reads both).
if(UNIX)
    set(_sjp_man "${_sjp_resources}/sockjsproxy-cli.1")
    find_program(SOCKJSPROXY_GZIP gzip)
    mark_as_advanced(SOCKJSPROXY_GZIP)
    if(SOCKJSPROXY_GZIP)
        set(_sjp_man_gz "${PROJECT_BINARY_DIR}/packaging/sockjsproxy-cli.1.gz")
        add_custom_command(OUTPUT "${_sjp_man_gz}"
            COMMAND sh -c "\"$1\" -9 -n -c \"$2\" > \"$3\"" sh
                    "${SOCKJSPROXY_GZIP}" "${_sjp_man}" "${_sjp_man_gz}"
            DEPENDS "${_sjp_man}"
            COMMENT "Compressing sockjsproxy-cli.1"
            VERBATIM)
        add_custom_target(sockjsproxy_manpage ALL DEPENDS "${_sjp_man_gz}")
        install(FILES "${_sjp_man_gz}" DESTINATION "${CMAKE_INSTALL_MANDIR}/man1")
    else()
        install(FILES "${_sjp_man}" DESTINATION "${CMAKE_INSTALL_MANDIR}/man1")
    endif()
endif()

# Docs: the README and the licence statement (Debian's copyright format).
set(_sjp_docdir "${CMAKE_INSTALL_DATADIR}/doc/sockjsproxy")
install(FILES "${PROJECT_SOURCE_DIR}/README.md" DESTINATION "${_sjp_docdir}")
install(FILES "${_sjp_packaging}/deb/copyright" DESTINATION "${_sjp_docdir}")

# ---------------------------------------------------------------------------
# CPack: the Debian package (cpack -G DEB in the build directory).
# Runtime libraries come from Debian and are declared as dependencies, never
# bundled; dpkg-shlibdeps computes them from the ELF files when available.
set(CPACK_PACKAGE_NAME "sockjsproxy")
set(CPACK_PACKAGE_VENDOR "SockJSProxy")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_HOMEPAGE_URL "${PROJECT_HOMEPAGE_URL}")
set(SOCKJSPROXY_DEB_MAINTAINER "SockJSProxy developers <sockjsproxy@users.noreply.github.com>"
    CACHE STRING "Maintainer field of the .deb")
set(CPACK_PACKAGE_CONTACT "${SOCKJSPROXY_DEB_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR "DEB")
set(CPACK_SOURCE_GENERATOR "TGZ")
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/" "/node_modules/")

set(CPACK_DEBIAN_PACKAGE_NAME "sockjsproxy")
set(CPACK_DEBIAN_FILE_NAME "DEB-DEFAULT")
set(CPACK_DEBIAN_PACKAGE_RELEASE "1")
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_COMPRESSION_TYPE "xz")
# CPack puts CPACK_PACKAGE_DESCRIPTION_SUMMARY first and indents the rest.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"SockJSProxy puts a SockJS front on any backend that speaks ZeroMQ.
Browsers connect with sockjs-client over WebSocket or its HTTP fallbacks
(xhr-streaming, xhr-polling, eventsource, htmlfile, jsonp); the backend
sees connect, message and disconnect events on a PUSH/PULL socket pair
and never has to implement SockJS.

This package contains sockjsproxy-cli (with a systemd unit, not enabled
by default), the Qt monitor sockjsproxy-monitor, a C++ echo backend and
the samples (a browser page and Python backends, which need python3-zmq).")

find_program(SOCKJSPROXY_DPKG_SHLIBDEPS dpkg-shlibdeps)
mark_as_advanced(SOCKJSPROXY_DPKG_SHLIBDEPS)
set(_sjp_deb_depends "")
if(SOCKJSPROXY_DPKG_SHLIBDEPS)
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
    list(APPEND _sjp_deb_depends "libc6 (>= 2.34)" "libstdc++6 (>= 12)" "libgcc-s1"
         "libqt6core6 (>= 6.4.2)" "libqt6network6 (>= 6.4.2)"
         "libqt6websockets6 (>= 6.4.2)" "libzmq5 (>= 4.3.4)")
    if(TARGET sockjsproxy-monitor)
        list(APPEND _sjp_deb_depends "libqt6gui6 (>= 6.4.2)" "libqt6widgets6 (>= 6.4.2)")
    endif()
endif()
if(TARGET sockjsproxy-monitor)
    # Loaded at run time, so dpkg-shlibdeps cannot see it: the xcb and
    # offscreen platform plugins the monitor needs to open a window.
    list(APPEND _sjp_deb_depends "qt6-qpa-plugins")
endif()
list(JOIN _sjp_deb_depends ", " CPACK_DEBIAN_PACKAGE_DEPENDS)
# python3-zmq runs the sample backends; libqt6svg6 draws the monitor's
# icon from its SVG (PNG renderings are built in).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3, python3-zmq")
if(TARGET sockjsproxy-monitor)
    string(APPEND CPACK_DEBIAN_PACKAGE_RECOMMENDS ", libqt6svg6")
endif()

# Maintainer scripts and the conffile list.
set(_sjp_control "${PROJECT_BINARY_DIR}/packaging/deb-control")
file(MAKE_DIRECTORY "${_sjp_control}")
set(_sjp_conffiles "")
if(SOCKJSPROXY_INSTALL_SERVICE AND UNIX AND NOT APPLE)
    string(APPEND _sjp_conffiles "${SOCKJSPROXY_CONFDIR}/sockjsproxy.json\n")
endif()
file(CONFIGURE OUTPUT "${_sjp_control}/conffiles" CONTENT "${_sjp_conffiles}" @ONLY)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${_sjp_control}/conffiles")
foreach(_sjp_script IN ITEMS postinst prerm postrm)
    configure_file("${_sjp_packaging}/deb/${_sjp_script}" "${_sjp_control}/${_sjp_script}" COPYONLY)
    list(APPEND CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${_sjp_control}/${_sjp_script}")
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
