# Makefile for postgres_extension (PGXS)

MODULE_big = postgres_extension
OBJS = \
	src/postgres_extension.o \
	src/hooks.o \
	src/store.o \
	src/tag.o \
	src/views.o \
	src/rules.o \
	src/watchdog.o \
	src/enforce.o \
	src/fingerprints.o \
	src/history.o \
	src/persist.o

EXTENSION = postgres_extension
DATA = src/postgres_extension--1.0.sql src/postgres_extension--1.0--1.1.sql
PGFILEDESC = "postgres_extension - transaction hold-time statistics"

# pg_regress runs its own server with the library and pg_stat_statements
# preloaded (test/regress.conf); the TAP tests under test/t start theirs.
REGRESS = counts tags tag_keys timing privileges percentiles nesting \
	$(NESTING_DEFERRED) $(FINGERPRINTS) upgrade
REGRESS_OPTS = --temp-config=$(CURDIR)/test/regress.conf \
	--temp-instance=./tmp_check
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter

# The hot path (hooks.c) adds a finished transaction to a dozen neighboring
# counters; GCC's straight-line vectorizer gathers those into vector
# operations that cost more instructions than they save (12 per
# transaction, test/bench/callgrind.sh).  Off for that file, where the
# compiler has the option.
SLP_OFF := $(shell $(CC) -fno-tree-slp-vectorize -E -x c /dev/null >/dev/null 2>&1 && echo -fno-tree-slp-vectorize)
src/hooks.o: CFLAGS += $(SLP_OFF)

PG_CONFIG ?= pg_config

# nesting_deferred runs a PL/pgSQL EXCEPTION block in a deferred trigger
# fired by COMMIT, which trips a core assertion in
# RollbackAndReleaseCurrentSubTransaction (the parent transaction is in
# TBLOCK_END), extension or not: it runs on servers built without
# --enable-cassert only.
ifeq (,$(findstring --enable-cassert,$(shell $(PG_CONFIG) --configure)))
NESTING_DEFERRED = nesting_deferred
endif

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Fingerprints are made of the core's query ids, which 14 introduced: on 13
# those of pg_stat_statements (planned statements only) are used, and
# fingerprints_13 checks them.
ifeq ($(MAJORVERSION),13)
FINGERPRINTS = fingerprints_13
else
FINGERPRINTS = fingerprints
endif

# PGXS tracks no header dependencies (unless the server was configured with
# --enable-depend): rebuild every object when one of our headers changes, so
# that no two objects disagree on a shared struct.
$(OBJS) $(OBJS:.o=.bc): $(wildcard src/*.h)
