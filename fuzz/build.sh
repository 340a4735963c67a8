#!/bin/bash -eu
# SPDX-License-Identifier: GPL-2.0-only
# OSS-Fuzz: build the fuzzers with $CC $CFLAGS and $LIB_FUZZING_ENGINE into
# $OUT, with their seed corpora (<fuzzer>_seed_corpus.zip) and dictionaries.
# The library is built with meson into $WORK (instrumented by $CFLAGS); the
# fuzz targets are compiled and linked here, against the whole archive.
#
# Locally: CC=clang CFLAGS="-fsanitize=address,undefined,fuzzer-no-link" \
#   LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/out WORK=/tmp/work fuzz/build.sh
src=$(cd "$(dirname "$0")/.." && pwd)
: "${WORK:=$src/build-ossfuzz}"
: "${OUT:?OUT must name the output directory}"
mkdir -p "$OUT" "$WORK"

# meson takes $CC and $CFLAGS from the environment; OSS-Fuzz's flags are
# not ours to make warnings errors of.
if [ ! -f "$WORK/lib/build.ninja" ]; then
	meson setup "$WORK/lib" "$src" -Dtests=false -Dfuzz=false -Dwerror=false \
		-Dbuildtype=plain -Db_lundef=false
fi
ninja -C "$WORK/lib" libkvmmu.a

layers=""
for d in compat arch kvm mmu host hw check sched trace world; do
	layers="$layers -iquote $src/src/$d"
done
# shellcheck disable=SC2086
urcu=$(pkg-config --libs --static liburcu-memb)

build_fuzzer() {
	name=$1
	shift
	# shellcheck disable=SC2086
	$CC $CFLAGS -std=gnu11 -D_GNU_SOURCE -fno-strict-aliasing -I "$src/include" $layers \
		-iquote "$src/fuzz" "$@" -o "$OUT/$name" $LIB_FUZZING_ENGINE \
		-Wl,--whole-archive "$WORK/lib/libkvmmu.a" -Wl,--no-whole-archive $urcu -lpthread -lm
	if [ -d "$src/fuzz/corpus/$name" ]; then
		(cd "$src/fuzz/corpus/$name" && zip -q -j -r "$OUT/${name}_seed_corpus.zip" .)
	fi
	if [ -f "$src/fuzz/$name.dict" ]; then
		cp "$src/fuzz/$name.dict" "$OUT/$name.dict"
	fi
}

build_fuzzer fuzz_api_seq "$src/fuzz/fuzz_api_seq.c" "$src/fuzz/api_seq.c"
build_fuzzer fuzz_mutant_parse "$src/fuzz/fuzz_mutant_parse.c"
