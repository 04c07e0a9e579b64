# The engine library: core (tensors, CPU kernels), autograd, and the CUDA backend or its stubs.
# Every .cpp of the engine folders belongs to the library: a new op family or module is
# picked up without editing this list.
file(GLOB MOD_ENGINE_SOURCES CONFIGURE_DEPENDS
    core/*.cpp core/cpu/*.cpp autograd/*.cpp nn/*.cpp models/*.cpp)
if(MOD_WITH_CUDA)
    file(GLOB MOD_CUDA_SOURCES CONFIGURE_DEPENDS cuda/*.cu)
    list(APPEND MOD_ENGINE_SOURCES ${MOD_CUDA_SOURCES})
else()
    list(APPEND MOD_ENGINE_SOURCES cuda/stubs.cpp)
endif()

add_library(llavamod ${MOD_ENGINE_SOURCES})
add_library(llavamod::llavamod ALIAS llavamod)
target_include_directories(llavamod PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}>
    $<INSTALL_INTERFACE:include/llavamod>
    $<INSTALL_INTERFACE:include>)
target_compile_features(llavamod PUBLIC cxx_std_17)
# Eigen and nlohmann-json are header-only and used in .cpp files only: users of the
# installed library never need them.
# dlopen: OpenBLAS is loaded at run time when installed (core/cpu/blas.h).
target_link_libraries(llavamod PUBLIC OpenMP::OpenMP_CXX ${CMAKE_DL_LIBS}
    PRIVATE $<BUILD_INTERFACE:Eigen3::Eigen> $<BUILD_INTERFACE:nlohmann_json::nlohmann_json>
            $<BUILD_INTERFACE:mod_warnings>)
if(MOD_WITH_CUDA)
    target_link_libraries(llavamod PUBLIC CUDA::cudart CUDA::cublas)
    target_compile_definitions(llavamod PUBLIC MOD_WITH_CUDA=1)
endif()
# GCC 12 warns inside its own AVX-512 intrinsic headers when Eigen's GEMM is inlined
# (a known false positive of -Wmaybe-uninitialized); keep it out of our clean build log.
set_source_files_properties(core/cpu/matmul.cpp core/cpu/attention.cpp PROPERTIES COMPILE_OPTIONS -Wno-maybe-uninitialized)
set_target_properties(llavamod PROPERTIES POSITION_INDEPENDENT_CODE ON)
