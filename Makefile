# annal - build, test, fuzz. `make` builds build/annal and build/libannal.a;
# `make test` runs every test (SANITIZE=1: ASan + UBSan build in build-san/);
# `make fuzz FUZZ_SECONDS=N` runs the libFuzzer targets with clang-14.

CC      ?= gcc
SANITIZE ?= 0
ifeq ($(SANITIZE),1)
B       := build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT     := -O1
else
B       := build
SANFLAGS :=
OPT     := -O2
endif

CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -pthread $(SANFLAGS) -I.
LDLIBS  := -lmicrohttpd -llmdb -lzstd -lcrypto -lpthread
LDFLAGS += $(SANFLAGS) -pthread

LIB_SRC  := $(wildcard store/*.c index/*.c api/*.c)
CLI_SRC  := $(wildcard tools/*.c)
TEST_SRC := $(wildcard tests/test_*.c)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
BENCH_SRC := $(wildcard tools/bench/*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(B)/tests/%)
REPLAYS  := $(FUZZ_SRC:fuzz/fuzz_%.c=$(B)/fuzz/replay_%)
BENCHES  := $(BENCH_SRC:tools/bench/%.c=$(B)/bench/%)

.PHONY: all deps test fuzz bench run clean
all: deps $(B)/annal $(B)/libannal.a

deps:
	@tools/install-deps.sh

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(B)/libannal.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/annal: $(CLI_OBJ) $(B)/libannal.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(B)/libannal.a $(LDLIBS) -ljansson

$(B)/tests/%: $(B)/tests/%.o $(B)/libannal.a
	$(CC) $(LDFLAGS) -o $@ $< $(TEST_OBJ) $(B)/libannal.a $(LDLIBS) -ljansson

# test_gen runs the generator in-process: it also links the CLI's gen objects.
$(B)/tests/test_gen: TEST_OBJ = $(B)/tools/gen.o $(B)/tools/gen_data.o
$(B)/tests/test_gen: $(B)/tools/gen.o $(B)/tools/gen_data.o
$(B)/tests/test_index: TEST_OBJ = $(B)/tools/gen.o $(B)/tools/gen_data.o
$(B)/tests/test_index: $(B)/tools/gen.o $(B)/tools/gen_data.o

$(B)/fuzz/replay_%: $(B)/fuzz/fuzz_%.o $(B)/fuzz/replay.o $(B)/libannal.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -ljansson

$(B)/bench/%: $(B)/tools/bench/%.o $(B)/libannal.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BENCH_OBJ) $(B)/libannal.a $(LDLIBS)
$(B)/bench/bench_index: BENCH_OBJ = $(B)/tools/gen.o $(B)/tools/gen_data.o
$(B)/bench/bench_index: $(B)/tools/gen.o $(B)/tools/gen_data.o
$(B)/bench/bench_db: BENCH_OBJ = $(B)/tools/gen.o $(B)/tools/gen_data.o
$(B)/bench/bench_db: $(B)/tools/gen.o $(B)/tools/gen_data.o
$(B)/bench/bench_http: BENCH_OBJ = $(B)/tools/gen.o $(B)/tools/gen_data.o
$(B)/bench/bench_http: $(B)/tools/gen.o $(B)/tools/gen_data.o

# Tests find the binary and the fuzz corpora through these variables.
test: deps $(B)/annal $(TESTS) $(REPLAYS)
	@ANNAL_BIN=$(abspath $(B)/annal) FUZZ_DIR=$(abspath fuzz) tests/run.sh $(TESTS) $(REPLAYS)

bench: deps $(B)/annal $(BENCHES)
	@tools/bench/run.sh $(B)

# libFuzzer targets: clang-14, sanitizers on, corpora in fuzz/corpus/<target>.
FUZZ_SECONDS ?= 30
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -I. -fsanitize=fuzzer-no-link,address,undefined
fuzz: 
	@WANT_CLANG=1 tools/install-deps.sh
	@mkdir -p build-fuzz
	@for f in $(FUZZ_SRC); do \
	  t=$$(basename $$f .c | sed 's/^fuzz_//'); \
	  clang-14 $(FUZZ_CFLAGS) -fsanitize=fuzzer $$f $(LIB_SRC) -o build-fuzz/$$t $(LDLIBS) -ljansson || exit 1; \
	  mkdir -p build-fuzz/corpus-$$t; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
	  build-fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 build-fuzz/corpus-$$t fuzz/corpus/$$t || exit 1; \
	done

DEMO_DIR ?= demo-data
run: all
	@tools/run-demo.sh $(B)/annal $(DEMO_DIR)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(B) -name '*.d' 2>/dev/null)
.SECONDARY:
