# The two commands a new user needs are in README.md: `go run ./cmd/lianxin`
# and `make test`.

.PHONY: test deps build vet fmt bench load fuzz directory prompts

# Installs what the suite needs when missing, then runs it with the race detector.
# All the packages (./...), the slowest named first: go test starts the
# packages' tests in the order given, -p at a time, so the longest are not
# left to start last.
SLOWEST = ./cmd/lianxin ./queue ./sip ./deploy

test: deps
	go vet ./...
	go test -race -count=1 -timeout 40m $(SLOWEST) ./...

deps:
	./scripts/install-test-deps.sh

build:
	go build -o lianxin ./cmd/lianxin

fmt:
	gofmt -l -w .

# Redis time per contact lifecycle on a real redis-server.
bench: deps
	go test ./queue -run '^$$' -bench ContactLifecycle -benchtime 20000x

# Routing end to end: 1,000 desks on websockets, 2,000 contacts/s.
load: deps
	go run ./cmd/lianxin-load -agents 1000 -contacts 20000 -rate 2000

# Every fuzz target for FUZZTIME each (CI runs only their corpora); a
# failing input is kept in its package's testdata/fuzz.
FUZZTIME ?= 1m
fuzz:
	./scripts/fuzz-all.sh $(FUZZTIME)

# Regenerates configs/hotlines.csv and configs/mailboxes.csv.
directory:
	go run ./cmd/gendirectory

# Regenerates the embedded voice prompts, configs/prompts/*.wav, from
# configs/prompts/SCRIPT.tsv and configs/hotlines.csv (espeak-ng and sox).
prompts:
	./scripts/gen-prompts.sh
