# cmake --install produces a package usable with
#   find_package(logbuf CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE logbuf::logbuf)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(LOGBUF_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/logbuf)

install(DIRECTORY include/ queue/include/ channel/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(LOGBUF_WITH_SPDLOG)
    install(DIRECTORY lib/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()

install(TARGETS logbuf logbuf_headers EXPORT logbufTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT logbufTargets NAMESPACE logbuf:: DESTINATION ${LOGBUF_INSTALL_CMAKEDIR})

configure_package_config_file(cmake/logbufConfig.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/logbufConfig.cmake
    INSTALL_DESTINATION ${LOGBUF_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/logbufConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/logbufConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/logbufConfigVersion.cmake
        DESTINATION ${LOGBUF_INSTALL_CMAKEDIR})
