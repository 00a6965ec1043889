# `cmake --install build --prefix P` puts headers, libdemi and libdmtr, a CMake package
# (find_package(demi) -> demi::demi, demi::dmtr) and pkg-config files (demi.pc, dmtr.pc) under P,
# so a user's program links against demi in one line.
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/demi ${PROJECT_SOURCE_DIR}/include/dmtr
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(demi_install_targets demi)
if(TARGET dmtr)
  list(APPEND demi_install_targets dmtr)
endif()
install(TARGETS ${demi_install_targets} EXPORT demiTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT demiTargets NAMESPACE demi:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/demi)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/demiConfig.cmake.in
  ${PROJECT_BINARY_DIR}/demiConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/demi)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/demiConfigVersion.cmake COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/demiConfig.cmake ${PROJECT_BINARY_DIR}/demiConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/demi)

foreach(pc demi dmtr)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()
