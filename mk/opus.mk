# Opus (issue 16): the codec through libopus, in builds with cgo and the
# build tag "opus" (voip/codec/opus). `make test` builds without the tag
# and tests that Opus is negotiated away; these targets add the tag.
#
#   make test-opus    go vet, staticcheck and go test -race -tags opus of
#                     the codec, the media session and the Opus calls
#   make build-opus   bin/opus/phoned with Opus (the lab's opus cells run it)

.PHONY: test-opus build-opus opus-tools

opus-tools:
	$(call apt_install,libopus-dev pkg-config gcc libc6-dev)

test-opus: deps opus-tools $(STATICCHECK)
	$(GO) vet -tags opus ./voip/codec/... ./voip/media/ ./voip/sip/ ./firmware/daemon
	$(STATICCHECK) -tags opus ./voip/codec/... ./voip/media/
	CGO_ENABLED=1 $(GO) test -race -tags opus -count=1 ./voip/codec/... ./voip/media/
	CGO_ENABLED=1 $(GO) test -race -tags opus -count=1 -run 'Opus|ExtraDTMF' ./voip/sip/ ./firmware/daemon

build-opus: deps opus-tools
	CGO_ENABLED=1 $(GO) build -tags 'opus $(PHONED_TAGS)' -ldflags '-X $(PKG)/firmware/version.Version=$(VERSION) $(LINKNAME)' -o $(BIN)/opus/phoned ./firmware/cmd/phoned
