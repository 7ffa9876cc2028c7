/* fuzz.h: the libFuzzer entry point every harness in tests/fuzz/ defines.
 *
 * Built two ways: with `make fuzz` (clang -fsanitize=fuzzer,address) as real
 * libFuzzer binaries, and in `make check` linked with fuzz-main.c, which runs
 * the harness over the seed corpus and every prefix of each seed.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
