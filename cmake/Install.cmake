# Installation layout and the Debian package (CPack). Included at the end of the top-level CMakeLists.txt.
#
#   <prefix>/bin/hcbridge, hcrelay                    (install(TARGETS) in src/CMakeLists.txt)
#   <prefix>/lib/systemd/system/hcbridge.service, hcbridge@.service, hcrelay.service
#   <prefix>/share/doc/hcbridge/README.md, *.md from docs/, examples/hcbridge.example.json
#   /etc/hcbridge/hcbridge.json.example               (absolute: /etc whatever the prefix)
#
#   DESTDIR=/tmp/stage cmake --install build --prefix /usr
#   cpack -G DEB --config build/CPackConfig.cmake -B /tmp/pkg   # -> hcbridge_<version>_<arch>.deb, prefix /usr
#
# The units in systemd/ name /usr/bin/...; they are installed with the paths of the actual install prefix, so a
# /usr/local install gets ExecStart=/usr/local/bin/hcbridge (systemd also reads /usr/local/lib/systemd/system).

set(HCB_SYSTEMD_UNITS
  ${PROJECT_SOURCE_DIR}/systemd/hcbridge.service
  ${PROJECT_SOURCE_DIR}/systemd/hcbridge@.service
  ${PROJECT_SOURCE_DIR}/systemd/hcrelay.service)

# At install time (when the prefix is final: --prefix, or /usr inside cpack), rewrite /usr/bin/ and
# /usr/share/doc/ in the units to the real prefix, then install the rewritten copies (DESTDIR honoured, listed in
# install_manifest.txt).
install(CODE "
  set(_hcb_units \"${HCB_SYSTEMD_UNITS}\")
  set(_hcb_stage \"${CMAKE_CURRENT_BINARY_DIR}/systemd-install\")
  file(MAKE_DIRECTORY \"\${_hcb_stage}\")
  set(_hcb_staged)
  foreach(_unit IN LISTS _hcb_units)
    get_filename_component(_name \"\${_unit}\" NAME)
    file(READ \"\${_unit}\" _text)
    string(REPLACE \"/usr/bin/\" \"\${CMAKE_INSTALL_PREFIX}/bin/\" _text \"\${_text}\")
    string(REPLACE \"/usr/share/doc/\" \"\${CMAKE_INSTALL_PREFIX}/share/doc/\" _text \"\${_text}\")
    file(WRITE \"\${_hcb_stage}/\${_name}\" \"\${_text}\")
    list(APPEND _hcb_staged \"\${_hcb_stage}/\${_name}\")
  endforeach()
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ FILES \${_hcb_staged})
")

install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/doc/hcbridge)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION share/doc/hcbridge FILES_MATCHING PATTERN "*.md")
install(FILES ${PROJECT_SOURCE_DIR}/config/hcbridge.example.json DESTINATION share/doc/hcbridge/examples)
# Not hcbridge.json itself: the package must not ship a config that starts forwarding (or overwrite the admin's).
install(FILES ${PROJECT_SOURCE_DIR}/config/hcbridge.example.json DESTINATION /etc/hcbridge RENAME hcbridge.json.example
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# ---- Debian package ----
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "hcbridge")
set(CPACK_PACKAGE_VENDOR "hcbridge")
set(CPACK_PACKAGE_CONTACT "hcbridge maintainers <hcbridge@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "TCP port forwarding through Azure Relay Hybrid Connections, plus a local relay")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_INSTALL_PREFIX "/usr")  # with CPACK_SET_DESTDIR, this is the prefix inside the package
# Install with DESTDIR into the staging tree, so the absolute /etc destination lands inside the package.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "hcbridge forwards TCP ports through Azure Relay Hybrid Connections, wire-compatible
 with Microsoft's azbridge; hcrelay is a local Hybrid Connections relay. Ships systemd units hcbridge.service,
 hcbridge@.service (one tunnel per /etc/hcbridge/NAME.json) and hcrelay.service; none is enabled on install.")
# What `ldd` + `dpkg -S` and dpkg-shlibdeps report for the two binaries on Debian 12 (libcrypto.so.3 is in libssl3;
# libspdlog1.10 provides libspdlog1.10-fmt9, the ABI the binaries were built against).
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6 (>= 2.34), libgcc-s1 (>= 3.0), libstdc++6 (>= 11), libssl3 (>= 3.0.0), libfmt9 (>= 9.1.0+ds1), libspdlog1.10 (>= 1:1.10.0), libspdlog1.10-fmt9")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")

# Maintainer scripts: tell a running systemd about new/removed units; stop the services on removal. Nothing is
# enabled or started on install.
set(_hcb_deb_dir ${CMAKE_CURRENT_BINARY_DIR}/deb-scripts)
file(WRITE ${_hcb_deb_dir}/postinst "#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
exit 0
")
file(WRITE ${_hcb_deb_dir}/prerm "#!/bin/sh
set -e
if [ \"$1\" = remove ] && [ -d /run/systemd/system ]; then
  systemctl stop hcbridge.service 'hcbridge@*.service' hcrelay.service >/dev/null 2>&1 || true
fi
exit 0
")
file(WRITE ${_hcb_deb_dir}/postrm "#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
exit 0
")
file(CHMOD ${_hcb_deb_dir}/postinst ${_hcb_deb_dir}/prerm ${_hcb_deb_dir}/postrm
     PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${_hcb_deb_dir}/postinst;${_hcb_deb_dir}/prerm;${_hcb_deb_dir}/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
