# prestack - one entry point: build, deps, test, demo.
# `make V=1` for loud builds.

BUILD    ?= build
CLANG    ?= clang
CC       ?= gcc
BPFTOOL  ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
PY       := /usr/bin/python3

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I$(BUILD) -Ixdp -Ictl
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Wextra -Werror \
	      -Wno-unused-parameter -I$(BUILD) -Ixdp $(BPF_EXTRA)
LDLIBS   := -lbpf -lelf -lz

BPF_SRCS := xdp/prestack.bpf.c xdp/client_pass.bpf.c xdp/reflector.bpf.c xdp/poststack.bpf.c \
	    xdp/sidepath.bpf.c
BPF_OBJS := $(patsubst xdp/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS    := $(patsubst xdp/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPF_HDRS := $(wildcard xdp/*.h)

CTL_SRCS := $(wildcard ctl/*.c)
CTL_OBJS := $(patsubst ctl/%.c,$(BUILD)/ctl/%.o,$(CTL_SRCS))
CTL_HDRS := $(wildcard ctl/*.h)

UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%.o,$(UNIT_SRCS))
UNIT_HDRS := $(wildcard tests/unit/*.h)

.PHONY: where pktcost-ab all deps deps-paper paper paper-gen test test-unit test-live demo clean help fuzz install uninstall
.DELETE_ON_ERROR:
.SECONDARY: $(SKELS) $(BPF_OBJS) $(BUILD)/vmlinux.h $(BUILD)/tcr_harness.bpf.o $(BUILD)/tcr_harness.skel.h \
	$(BUILD)/fill_harness.bpf.o $(BUILD)/fill_harness.skel.h \
	$(BUILD)/reuse_harness.bpf.o $(BUILD)/reuse_harness.skel.h

all: $(BUILD)/prestack $(BUILD)/prestack.8 $(BPF_OBJS) $(BUILD)/test_prog $(BUILD)/pktcost $(BUILD)/fuzz/fuzz_parsers \
     $(BUILD)/mbx $(BUILD)/pipeload

help:
	@echo "make            build bpf objects, skeletons, build/prestack, build/test_prog"
	@echo "make deps       install the Debian packages prestack needs (no-op if present)"
	@echo "sudo make test  unit tests (BPF_PROG_TEST_RUN) and live tests in the netns testbed"
	@echo "sudo make demo  testbed up, attach, warm, real GETs answered at XDP, teardown"
	@echo "sudo make failures  live fault scenarios (middlebox) x modes -> results/failures-live.csv"
	@echo "sudo make campaign  randomized fault campaign, every reply judged -> results/campaign*.csv (CAMPAIGN_ARGS)"
	@echo "make fuzz       libFuzzer on the RESP and TCP option parsers (FUZZ_TIME=300 s)"
	@echo "sudo make bench  every benchmark (bench-quick: about a minute) -> results/bench-*"
	@echo "sudo make e2e    redis-benchmark + realistic workload per configuration -> results/bench-e2e*"
	@echo "sudo make e2e-sizing  the load generator's threads and pinning -> results/bench-e2e-sizing*"
	@echo "sudo make realistic        cache-shaped workload per mode -> results/bench-realistic.csv"
	@echo "sudo make realistic-autopipe  the same, auto-pipelining connections -> results/bench-realistic-autopipe.csv"
	@echo "sudo make bench-pipelined  pipelined GET/SET load (pipeload, redis-benchmark -P) per mode -> results/bench-pipelined*.csv"
	@echo "sudo make xdpfloor  the deployed XDP program's ns per packet against an empty XDP_PASS one, live -> results/bench-xdpfloor*.csv"
	@echo "sudo make coherence-window stale window of other-path writes, expiry, eviction -> results/coherence-window*.csv"
	@echo "sudo make coherence-cost  default attach vs --no-coherence, GET:SET 10:1 P1/P16 -> results/bench-coherence-cost*.csv"
	@echo "sudo make where  XDP vs XDP+TC vs post-stack: cost, e2e, faults -> results/where-to-answer.csv"
	@echo "sudo make pktcost-ab  per-path cost before/after the hit-path rework, per step -> results/bench-pktcost-{ab,steps}.csv"
	@echo "make paper      paper/prestack.pdf from results/ (LaTeX: make deps-paper installs it)"
	@echo "make paper-freshness  every CSV the paper reads newer than the code it measures? (stale list)"
	@echo "make install    prestack, prestack(8), the BPF object under \$$(DESTDIR)\$$(PREFIX) (/usr/local)"
	@echo "make uninstall  remove what make install put there"
	@echo "make clean      remove $(BUILD)/"

deps:
	$(Q)./scripts/deps.sh

deps-paper:
	$(Q)./scripts/deps.sh --paper

$(BUILD) $(BUILD)/ctl $(BUILD)/unit:
	$(Q)mkdir -p $@

$(BUILD)/vmlinux.h: | $(BUILD)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/%.bpf.o: xdp/%.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(BUILD)/ctl/%.o: ctl/%.c $(CTL_HDRS) xdp/prestack.h $(SKELS) | $(BUILD)/ctl
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/prestack: $(CTL_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lhiredis -lpcap

# the man page, generated from the tool's own tables of commands and options
$(BUILD)/prestack.8: $(BUILD)/prestack
	$(call msg,MAN,$@)
	$(Q)$< --man > $@.tmp && mv $@.tmp $@

# unit tests only: the TC ingress builder driven without data_meta,
# cache_store with an invalidation at each of its race points, and what a
# hash does with a deleted element
$(BUILD)/tcr_harness.bpf.o $(BUILD)/fill_harness.bpf.o $(BUILD)/reuse_harness.bpf.o: $(BUILD)/%.bpf.o: tests/unit/bpf/%.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/unit/%.o: tests/unit/%.c $(UNIT_HDRS) $(CTL_HDRS) xdp/prestack.h $(SKELS) $(BUILD)/tcr_harness.skel.h \
		$(BUILD)/fill_harness.skel.h $(BUILD)/reuse_harness.skel.h | $(BUILD)/unit
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit -c $< -o $@

$(BUILD)/test_prog: $(UNIT_OBJS) $(BUILD)/ctl/cachefmt.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# the fault-injecting middlebox of the --mbx testbed
$(BUILD)/mbx: experiments/mbx/mbx.c | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

# the pipelined load generator of bench-pipelined (hiredis's reply parser)
$(BUILD)/pipeload: experiments/bench/pipeload.c | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -pthread $< -o $@ -lhiredis -lm

# the XDP program's parsers built as user-space C for libFuzzer
FUZZ_TIME ?= 300
FUZZ_CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
	       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Itests/fuzz -Ixdp
$(BUILD)/fuzz/fuzz_parsers: tests/fuzz/fuzz_parsers.c tests/fuzz/bpf_user.h $(BPF_HDRS)
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $< -o $@

fuzz: $(BUILD)/fuzz/fuzz_parsers
	$(Q)./tests/fuzz/run.sh $(FUZZ_TIME)

test: all
	$(Q)./tests/run.sh

test-unit: all
	$(Q)./tests/run.sh unit

test-live: all
	$(Q)./tests/run.sh live

demo: deps all
	$(Q)./experiments/demo.sh

clean:
	$(Q)rm -rf $(BUILD)

# ---- install, as a distribution package would: PREFIX and DESTDIR honoured
PREFIX  ?= /usr/local
SBINDIR := $(PREFIX)/sbin
PSLIBDIR := $(PREFIX)/lib/prestack
MAN8DIR := $(PREFIX)/share/man/man8

# The BPF programs are embedded in the tool as a skeleton (bpftool gen
# skeleton): nothing is loaded from $(PSLIBDIR) at run time. prestack.bpf.o
# is installed there anyway, for inspection (bpftool btf dump, llvm-objdump).
install: $(BUILD)/prestack $(BUILD)/prestack.8 $(BUILD)/prestack.bpf.o
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -D -m 0755 $(BUILD)/prestack $(DESTDIR)$(SBINDIR)/prestack
	$(Q)install -D -m 0644 $(BUILD)/prestack.bpf.o $(DESTDIR)$(PSLIBDIR)/prestack.bpf.o
	$(Q)install -D -m 0644 $(BUILD)/prestack.8 $(DESTDIR)$(MAN8DIR)/prestack.8

uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(DESTDIR)$(SBINDIR)/prestack $(DESTDIR)$(MAN8DIR)/prestack.8 \
		$(DESTDIR)$(PSLIBDIR)/prestack.bpf.o
	$(Q)if [ -d $(DESTDIR)$(PSLIBDIR) ]; then rmdir $(DESTDIR)$(PSLIBDIR); fi

# the pcap suite: every pcaps/<scenario>.py writes <scenario>.pcap + .json
PCAP_GENS := $(filter-out pcaps/lib.py,$(wildcard pcaps/*.py))
.PHONY: pcaps
pcaps:
	$(Q)for g in $(PCAP_GENS); do (cd pcaps && $(PY) $$(basename $$g)) || exit 1; done
	@echo "  PCAPS    $(words $(PCAP_GENS)) scenarios in pcaps/"

# every scenario offline in every mode: results/failures-replay.{csv,png,pdf}
.PHONY: replay-suite
replay-suite: all
	$(Q)$(PY) experiments/replay_suite.py --live

# live failure scenarios through the middlebox, every mode:
# results/failures-live.{csv,png,pdf}, captures and mbx logs in results/failures/.
# A lost cell fails the run and leaves the CSV as it was; the cells measured
# are kept: `make failures FAILURES_ARGS=--resume` runs only the rest
.PHONY: failures
failures: all
	$(Q)$(PY) experiments/failures/run.py $(FAILURES_ARGS)

# the randomized fault campaign (experiments/campaign/run.py): seeded fault
# mixes through the middlebox, redis-py / hiredis / redis-benchmark clients,
# off/guarded/retrans on every seed, every reply judged ->
# results/campaign{,-summary}.csv. CAMPAIGN_ARGS: its options, e.g.
# --seeds 1-60 --cut, --resume after a lost cell, or --soak (connection
# churn into small flow and rtx tables -> results/campaign-soak*.csv)
.PHONY: campaign
campaign: all
	$(Q)$(PY) experiments/campaign/run.py $(CAMPAIGN_ARGS)

# the fast path on cache-shaped traffic, every mode next to Redis alone:
# results/bench-realistic.{csv,png,pdf}; realistic-autopipe: the same mix
# sent by auto-pipelining connections, without and with per-command
# answering (-cut), seeds AUTOPIPE_SEEDS, every reply checked (--check 0:
# a wrong, stale or failed reply fails the target) ->
# results/bench-realistic-autopipe.csv, replaced only when every seed ran
AUTOPIPE_SEEDS ?= 301 302 303 304 305
.PHONY: realistic realistic-autopipe coherence-window
realistic: all
	$(Q)$(PY) experiments/bench/realistic.py --modes redis,naive,guarded,retrans --ops 60000
	$(Q)$(PY) experiments/bench/plot_realtraffic.py
realistic-autopipe: all
	$(Q)mkdir -p $(BUILD)/partial && rm -f $(BUILD)/partial/bench-realistic-autopipe.csv
	$(Q)for s in $(AUTOPIPE_SEEDS); do \
		$(PY) experiments/bench/realistic.py --conn-mode autopipe --ops 60000 --check 0 \
			--modes redis,off,guarded,guarded-cut,retrans,retrans-cut --seed $$s \
			--out $(BUILD)/partial/bench-realistic-autopipe.csv || exit 1; \
	done
	$(Q)cp $(BUILD)/partial/bench-realistic-autopipe.csv results/bench-realistic-autopipe.csv

# how long a change XDP does not see (a write over loopback or another
# interface, an expiry, an eviction) is answered from the cache, >= 100,000
# rounds each: results/coherence-window{,-summary}.csv, coherence-window.{png,pdf}
coherence-window: all
	$(Q)$(PY) experiments/bench/coherence_window.py $(COHERENCE_ARGS)
	$(Q)$(PY) experiments/bench/plot_realtraffic.py

# what coherence costs: default attach against --no-coherence on GET:SET
# 10:1 at pipeline 1 and 16, interleaved repetitions:
# results/bench-coherence-cost{,-summary}.csv (vs_nocoh_median)
.PHONY: coherence-cost
coherence-cost: all
	$(Q)$(PY) experiments/bench/pipelined.py --configs redis,guarded,guarded-nocoh \
		--points mix-p1,mix-p16 --out bench-coherence-cost $(PIPELINED_ARGS)

# ---- benchmarks: never part of `make test` beyond a smoke run
$(BUILD)/bench:
	$(Q)mkdir -p $@

$(BUILD)/bench/%.o: experiments/bench/%.c $(UNIT_HDRS) $(CTL_HDRS) xdp/prestack.h $(SKELS) $(BUILD)/tcr_harness.skel.h | $(BUILD)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit -c $< -o $@

$(BUILD)/pktcost: $(BUILD)/bench/pktcost.o $(BUILD)/unit/env.o $(BUILD)/unit/pkt.o \
		  $(BUILD)/unit/realsock.o $(BUILD)/ctl/cachefmt.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# pktcost with the step clock of xdp/prof.h compiled in (a test build of
# its own, never attached): `build/prof/pktcost RUNS --cut-steps`
.PHONY: prof
prof:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/prof BPF_EXTRA=-DPS_PROF $(BUILD)/prof/pktcost

.PHONY: bench bench-quick
bench: all
	$(Q)./experiments/bench/run.sh
bench-quick: all
	$(Q)./experiments/bench/run.sh --quick

# end to end only: redis-benchmark and the realistic workload per
# configuration -> results/bench-e2e*.csv and plots (E2E_ARGS: e2e.py's
# options, e.g. --configs redis,guarded,poststack); e2e-sizing: the client's
# --threads and pinning -> results/bench-e2e-sizing*.csv
.PHONY: e2e e2e-quick e2e-sizing
e2e: all
	$(Q)$(PY) experiments/bench/e2e.py $(E2E_ARGS)
	$(Q)$(PY) experiments/bench/plot_e2e.py
e2e-quick: all
	$(Q)$(PY) experiments/bench/e2e.py --quick $(E2E_ARGS)
	$(Q)$(PY) experiments/bench/plot_e2e.py
e2e-sizing: all
	$(Q)$(PY) experiments/bench/e2e.py --sizing $(E2E_ARGS)
	$(Q)$(PY) experiments/bench/plot_e2e.py

# pipelined load of our own (build/pipeload: P requests in flight per
# connection) and redis-benchmark -P 16, Redis alone and
# off/guarded/guarded-nocoh/retrans interleaved ->
# results/bench-pipelined{,-summary}.csv (PIPELINED_ARGS: pipelined.py's
# options, e.g. --reps 3)
.PHONY: bench-pipelined
bench-pipelined: all
	$(Q)$(PY) experiments/bench/pipelined.py $(PIPELINED_ARGS)

# the deployed XDP program's mean time per packet against an empty
# XDP_PASS program on the same veth, redis-benchmark GETs of cached 64 B
# keys, interleaved repetitions -> results/bench-xdpfloor{,-summary}.csv
# (XDPFLOOR_ARGS: xdpfloor.py's options, e.g. --reps 3)
.PHONY: xdpfloor
xdpfloor: all
	$(Q)$(PY) experiments/bench/xdpfloor.py $(XDPFLOOR_ARGS)

# where to answer: XDP, XDP + TC ingress, post-stack, in one run
where: all
	$(Q)./experiments/where.sh

# per-path cost before/after the hit-path rework, and per step of a hit
pktcost-ab: all
	$(Q)/usr/bin/python3 experiments/bench/pktcost_ab.py

# ---- the paper: every number, table and ladder generated from results/
# (experiments/paper/gen.py -> $(BUILD)/paper/gen), LaTeX outputs in
# $(BUILD)/paper, the PDF copied to paper/prestack.pdf (not committed: it is
# rebuilt from the committed CSVs and captures)
PAPER_DIR := $(BUILD)/paper
PAPER_SRC := $(wildcard paper/*.tex) paper/refs.bib paper/ladders.json
paper-gen:
	$(Q)$(PY) experiments/paper/gen.py --out $(PAPER_DIR)/gen

# every CSV the paper reads against the last change to xdp/, ctl/ and its
# writers (gen.py WRITERS; kept stale only as gen.py HISTORICAL, said in the
# text): exit 1 with the stale list. Not part of `make test` yet
.PHONY: paper-freshness
paper-freshness:
	$(Q)$(PY) tests/paper_check.py --freshness

paper: paper-gen
	$(call msg,LATEX,paper/prestack.pdf)
	$(Q)command -v latexmk >/dev/null || { echo "paper: latexmk missing (make deps-paper)" >&2; exit 1; }
	$(Q)cd paper && TEXINPUTS=.:$(CURDIR)/:$(abspath $(PAPER_DIR))/: \
		latexmk -pdf -interaction=nonstopmode -halt-on-error -file-line-error \
		-outdir=$(abspath $(PAPER_DIR)) prestack.tex >$(abspath $(PAPER_DIR))/latexmk.log 2>&1 || \
		{ grep -A3 -E '^(!|.*:[0-9]+:)' $(abspath $(PAPER_DIR))/latexmk.log | head -30 >&2; \
		  echo "paper: LaTeX failed, log in $(PAPER_DIR)/latexmk.log" >&2; exit 1; }
	$(Q)cp $(PAPER_DIR)/prestack.pdf paper/prestack.pdf
