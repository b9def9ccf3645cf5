# Builds codearts_build_exporter the way its releases and images are built.
#
# This file is the one place that decides the version the binary reports
# (--version, the landing page and codearts_build_exporter_build_info): it
# sets github.com/prometheus/common/version through -ldflags. scripts/docker-build.sh
# builds the image's binary with `make build`, so the image reports the same.
#
#   make build     the static binary ./codearts_build_exporter
#   make test      everything CI runs (./test.sh)
#   make docker    the container image (scripts/docker-build.sh), tagged $(DOCKER_IMAGE):$(DOCKER_TAG)
#   make version   print the version information that would be built in
#
# VERSION is `git describe --tags --always --dirty` without a leading "v":
# "0.3.0" on a release tag, "0.3.0-4-g1a2b3c4" after it, and the short commit
# ("1a2b3c4", "1a2b3c4-dirty") where no tag exists yet. Outside a git checkout
# (a source tarball) it is "unknown" unless given: make build VERSION=0.3.0 REVISION=<sha>.

GO          ?= go
BIN         ?= codearts_build_exporter
CGO_ENABLED ?= 0
EXTRA_LDFLAGS ?=
DOCKER_IMAGE ?= codearts_build_exporter
DOCKER_TAG   ?= $(VERSION)

GIT_DESCRIBE := $(shell git describe --tags --always --dirty 2>/dev/null)
VERSION   ?= $(patsubst v%,%,$(or $(GIT_DESCRIBE),unknown))
REVISION  ?= $(or $(shell git rev-parse HEAD 2>/dev/null),unknown)
BRANCH    ?= $(or $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null),unknown)
BUILD_USER ?= $(shell id -un 2>/dev/null || echo unknown)@$(shell hostname 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell date -u +%Y%m%d-%H:%M:%S)
# Evaluate each once (a recursive variable would run git and date per use).
VERSION    := $(VERSION)
REVISION   := $(REVISION)
BRANCH     := $(BRANCH)
BUILD_USER := $(BUILD_USER)
BUILD_DATE := $(BUILD_DATE)

version_pkg := github.com/prometheus/common/version
LDFLAGS := -X $(version_pkg).Version=$(VERSION) \
	-X $(version_pkg).Revision=$(REVISION) \
	-X $(version_pkg).Branch=$(BRANCH) \
	-X $(version_pkg).BuildUser=$(BUILD_USER) \
	-X $(version_pkg).BuildDate=$(BUILD_DATE) \
	$(EXTRA_LDFLAGS)

.PHONY: all build test docker version clean

all: build

# Always runs: go's build cache makes it cheap, and the version may have changed.
build:
	CGO_ENABLED=$(CGO_ENABLED) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o '$(BIN)' .

test:
	./test.sh

docker:
	scripts/docker-build.sh '$(DOCKER_IMAGE):$(DOCKER_TAG)'

version:
	@echo 'VERSION=$(VERSION)'
	@echo 'REVISION=$(REVISION)'
	@echo 'BRANCH=$(BRANCH)'
	@echo 'BUILD_DATE=$(BUILD_DATE)'

clean:
	rm -f '$(BIN)'
