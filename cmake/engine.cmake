# The engine library: core (tensors, CPU kernels), autograd, and the CUDA backend or its stubs.
set(MOD_ENGINE_SOURCES
    core/allocator.cpp
    core/device.cpp
    core/dtype.cpp
    core/print.cpp
    core/random.cpp
    core/shape.cpp
    core/storage.cpp
    core/tensor.cpp
    core/cpu/attention.cpp
    core/cpu/conv.cpp
    core/cpu/copy.cpp
    core/cpu/elementwise.cpp
    core/cpu/index.cpp
    core/cpu/loss.cpp
    core/cpu/matmul.cpp
    core/cpu/norm.cpp
    core/cpu/reduce.cpp
    core/cpu/softmax.cpp
    autograd/attention.cpp
    autograd/conv.cpp
    autograd/elementwise.cpp
    autograd/engine.cpp
    autograd/grad_mode.cpp
    autograd/gradcheck.cpp
    autograd/index.cpp
    autograd/loss.cpp
    autograd/matmul.cpp
    autograd/node.cpp
    autograd/norm.cpp
    autograd/reduce.cpp
    autograd/softmax.cpp
    autograd/view.cpp
)
if(MOD_WITH_CUDA)
    list(APPEND MOD_ENGINE_SOURCES cuda/memory.cu)
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
# Eigen is header-only and used in .cpp files only: users of the installed library never need it.
target_link_libraries(llavamod PUBLIC OpenMP::OpenMP_CXX PRIVATE $<BUILD_INTERFACE:Eigen3::Eigen> $<BUILD_INTERFACE:mod_warnings>)
if(MOD_WITH_CUDA)
    target_link_libraries(llavamod PUBLIC CUDA::cudart)
    target_compile_definitions(llavamod PUBLIC MOD_WITH_CUDA=1)
endif()
# GCC 12 warns inside its own AVX-512 intrinsic headers when Eigen's GEMM is inlined
# (a known false positive of -Wmaybe-uninitialized); keep it out of our clean build log.
set_source_files_properties(core/cpu/matmul.cpp core/cpu/attention.cpp PROPERTIES COMPILE_OPTIONS -Wno-maybe-uninitialized)
set_target_properties(llavamod PROPERTIES POSITION_INDEPENDENT_CODE ON)
