# syntax=docker/dockerfile:1
# liger as a container: a Debian build stage, then a slim runtime with the binary, the Debian
# libraries it links (nothing else) and the embedded model, running as a non-root user.
#
#   docker build -t liger .
#   docker run -p 50051:50051 -p 8080:8080 -p 9090:9090 liger
#
# CUDA: the CPU build links Debian's LibTorch 1.13; a GPU image builds against PyTorch's LibTorch
# instead, from a base image that has it (docs/deploy.md):
#   docker build --build-arg BUILD_BASE=<image with CUDA + PyTorch> \
#     --build-arg RUNTIME_BASE=<the same or its runtime flavour> --build-arg LIGER_CUDA=ON -t liger:cuda .
ARG BUILD_BASE=debian:bookworm
ARG RUNTIME_BASE=debian:bookworm-slim

FROM ${BUILD_BASE} AS build
ARG LIGER_CUDA=OFF
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -q && apt-get install -y -q --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libtorch-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      libabsl-dev libspdlog-dev nlohmann-json3-dev libsentencepiece-dev libre2-dev \
      libcpp-httplib-dev libopenblas0-pthread \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cli cli
COPY clients clients
COPY core core
COPY proto proto
COPY service service
RUN cmake -S . -B /build -G Ninja -DLIGER_BUILD_TESTS=OFF -DLIGER_BUILD_BENCH=OFF \
      -DLIGER_CUDA=${LIGER_CUDA} \
    && cmake --build /build --target liger \
    && strip /build/liger

FROM ${RUNTIME_BASE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
# The shared libraries `ldd liger` resolves, by their Debian packages (tests/deploy checks this
# list against ldd); libtorch1.13 brings its own dependencies.
RUN apt-get update -q && apt-get install -y -q --no-install-recommends \
      libtorch1.13 libopenblas0-pthread libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 \
      libspdlog1.10 libfmt9 libsentencepiece0 libre2-9 libcpp-httplib0.11 libc-ares2 \
      libssl3 zlib1g libstdc++6 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/liger --create-home liger
COPY --from=build /build/liger /usr/local/bin/liger
COPY models/llama3-tiny /opt/liger/models/llama3-tiny
USER 10001
WORKDIR /var/lib/liger
# gRPC (LigerService, health, reflection), the OpenAI-compatible HTTP API, Prometheus metrics.
EXPOSE 50051 8080 9090
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["liger", "health", "--server", "127.0.0.1:50051", "--timeout-seconds", "4"]
ENTRYPOINT ["liger", "serve"]
CMD ["--model", "/opt/liger/models/llama3-tiny", "--host", "0.0.0.0", "--port", "50051", \
     "--http-port", "8080", "--metrics-port", "9090", "--jobs-dir", "/var/lib/liger/jobs"]
