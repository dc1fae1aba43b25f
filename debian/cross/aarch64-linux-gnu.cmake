# arm64 (Raspberry Pi 3, 4, 5 and Zero 2 W with a 64-bit OS): see debian-cross.cmake.
set(CLOUDLESS_CROSS_TRIPLET aarch64-linux-gnu)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CLOUDLESS_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
