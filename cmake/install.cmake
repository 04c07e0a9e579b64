# `cmake --install` puts the engine library, its headers and a CMake package config under
# the prefix, so another project can `find_package(llavamod)` and link llavamod::llavamod.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS llavamod EXPORT llavamodTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES llavamod.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/llavamod)
foreach(dir core core/cpu autograd cuda nn models)
    file(GLOB headers ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*.h)
    install(FILES ${headers} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/llavamod/${dir})
endforeach()

set(MOD_CONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/llavamod)
install(EXPORT llavamodTargets NAMESPACE llavamod:: DESTINATION ${MOD_CONFIG_DIR})
configure_package_config_file(cmake/llavamodConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/llavamodConfig.cmake
    INSTALL_DESTINATION ${MOD_CONFIG_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/llavamodConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/llavamodConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/llavamodConfigVersion.cmake
    DESTINATION ${MOD_CONFIG_DIR})
