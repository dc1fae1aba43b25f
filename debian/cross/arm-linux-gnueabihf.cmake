# armhf (ARMv7 with hardware floating point: Raspberry Pi 2, 3, 4 and Zero 2 W with a 32-bit OS; not the
# ARMv6 Pi 1 and Zero): see debian-cross.cmake.
set(CLOUDLESS_CROSS_TRIPLET arm-linux-gnueabihf)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CLOUDLESS_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
# GCC's notes that std::pair and friends are passed differently since GCC 7.1 on ARM (-Wpsabi) concern
# mixing objects built by GCC 6 and 7; everything here comes from GCC 12 builds.
set(CMAKE_CXX_FLAGS_INIT "-Wno-psabi")
